//! Body transforms in the test host (ABI 1.5): `transform_add` collects them on the
//! transaction, [`MockTxn::run_body`] runs them over a body given as chunks, by the rules every
//! host applies (`hookyard_abi::rules::transform`): priority order, switches and thresholds,
//! in-place changes, rewrite output under the buffer limit, pending chunks resumed from any
//! thread, CLOSE last.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use hookyard_abi::rules::transform::{self as rules, Answer, Body, Kind};
use hookyard_abi::{self as abi, hy_chunk};

use super::{DEADLINE, MockTxn, lock};

/// Tells a `hy_transform *` of this host from a transaction or a session.
const TRANSFORM_TAG: u32 = 0x7846_524d;

/// The output a rewrite may hold between two chunks, as the proxy's default.
pub(crate) const BUFFER_LIMIT: usize = 1 << 20;

/// A transform; `hy_transform *` points at it.
#[repr(C)]
pub(crate) struct MockTransform {
    tag: u32,
    pub(crate) body: Body,
    pub(crate) kind: Kind,
    pub(crate) cont: usize,
    pub(crate) priority: i32,
    pub(crate) plugin: String,
    pub(crate) state: Mutex<XfState>,
    resumed: Condvar,
}

#[derive(Default)]
pub(crate) struct XfState {
    out: Vec<u8>,
    ended: bool,
    failed: bool,
    /// A chunk is pending, and its resume's answer once it came.
    pending: bool,
    resume: Option<Answer>,
}

impl std::fmt::Debug for MockTransform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockTransform").field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

impl MockTransform {
    pub(crate) fn new(body: Body, kind: Kind, cont: usize, priority: i32, plugin: String) -> Self {
        MockTransform {
            tag: TRANSFORM_TAG,
            body,
            kind,
            cont,
            priority,
            plugin,
            state: Mutex::new(XfState::default()),
            resumed: Condvar::new(),
        }
    }

    /// Recognises a `hy_transform *` this host made.
    ///
    /// # Safety
    ///
    /// `ptr` is null or points to a transform, a transaction or a session of this host.
    pub(crate) unsafe fn from_ptr<'a>(ptr: *mut abi::hy_transform) -> Option<&'a MockTransform> {
        // SAFETY: per the contract, the first field is readable.
        (!ptr.is_null() && unsafe { ptr.cast::<u32>().read() } == TRANSFORM_TAG)
            .then(|| unsafe { &*ptr.cast::<MockTransform>() })
    }

    fn ptr(&self) -> *mut abi::hy_transform {
        (&raw const *self).cast_mut().cast()
    }

    /// `transform_write`.
    pub(crate) fn write(&self, data: &[u8]) -> bool {
        let mut state = lock(&self.state);
        let checked = rules::transform_write(
            self.kind,
            state.ended,
            state.out.len(),
            data.len(),
            BUFFER_LIMIT,
        );
        match checked {
            Ok(()) => {
                state.out.extend_from_slice(data);
                true
            }
            Err(rules::Write::Overflow) => {
                state.failed = true;
                false
            }
            Err(rules::Write::Refused) => false,
        }
    }

    /// `transform_end`.
    pub(crate) fn end(&self) -> bool {
        let mut state = lock(&self.state);
        let ok = rules::transform_end(self.kind, state.ended).is_ok();
        state.ended |= ok;
        ok
    }

    /// `transform_resume`.
    pub(crate) fn resume(&self, result: i32) -> bool {
        let mut state = lock(&self.state);
        let pending = state.pending && state.resume.is_none();
        let Ok(answer) = rules::transform_resume(result, pending) else { return false };
        state.resume = Some(answer);
        self.resumed.notify_all();
        true
    }

    /// Runs the handler on one chunk; what it let through (`None`: it failed).
    fn chunk(&self, txn: &MockTxn, data: &[u8], end: bool) -> Option<Vec<u8>> {
        let mut bytes = data.to_vec();
        let mut chunk = hy_chunk {
            transform: self.ptr(),
            data: bytes.as_mut_ptr().cast(),
            len: bytes.len(),
            end: i32::from(end),
        };
        lock(&self.state).pending = true;
        let event = abi::HY_EVENT_TRANSFORM_CHUNK;
        let answer = txn
            .state
            .invoke(self.cont, event, (&raw mut chunk).cast())
            .map_or(Answer::Continue, rules::chunk_answer);
        let mut state = lock(&self.state);
        let answer = match answer {
            Answer::Pending => {
                let deadline = Instant::now() + DEADLINE;
                while state.resume.is_none() {
                    let left = deadline
                        .checked_duration_since(Instant::now())
                        .expect("a pending chunk was never resumed");
                    state = self.resumed.wait_timeout(state, left).unwrap().0;
                }
                state.resume.take().unwrap_or(Answer::Error)
            }
            other => other,
        };
        state.pending = false;
        state.resume = None;
        if answer == Answer::Error || state.failed {
            return None;
        }
        if end {
            state.ended = true;
        }
        Some(match self.kind {
            Kind::Rewrite => std::mem::take(&mut state.out),
            Kind::Inspect => data.to_vec(),
            Kind::LengthPreserving => bytes,
        })
    }

    fn close(&self, txn: &MockTxn) {
        txn.state.invoke(self.cont, abi::HY_EVENT_TRANSFORM_CLOSE, self.ptr().cast());
    }
}

impl MockTxn {
    /// Runs the transforms plugins added on `body` over `chunks` (each a chunk as the proxy
    /// would give it, the last one marked the end): the body the origin (request) or the client
    /// (response) gets, or `Err` naming the plugin whose transform failed. Every transform gets
    /// its CLOSE, those switched off or under the threshold only that.
    pub(crate) fn run_body(&self, body: Body, chunks: &[&[u8]]) -> Result<Vec<u8>, String> {
        let (mine, threshold, disabled) = {
            let mut data = self.data();
            data.started[body as usize] = true;
            let all = std::mem::take(&mut data.transforms);
            let (mine, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|t| t.body == body);
            data.transforms = rest;
            let ssn = lock(&self.ssn.data);
            let controls = [&data.control, &ssn.control];
            let threshold = controls
                .iter()
                .find_map(|c| c.thresholds.get(&abi::HY_HOOK_ANY).copied())
                .or_else(|| lock(&self.state.global_thresholds).get(&abi::HY_HOOK_ANY).copied());
            let disabled: Vec<String> =
                controls.iter().flat_map(|c| c.disabled.iter().cloned()).collect();
            (mine, threshold, disabled)
        };
        let (mut run, skipped): (Vec<_>, Vec<_>) = mine.into_iter().partition(|t| {
            rules::transform_runs(!disabled.contains(&t.plugin), t.priority, threshold)
        });
        for t in &skipped {
            t.close(self);
        }
        run.sort_by_key(|t| std::cmp::Reverse(t.priority));
        let mut input: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
        if input.is_empty() {
            input.push(Vec::new());
        }
        let mut failed = None;
        for t in &run {
            if failed.is_some() {
                break;
            }
            let mut output = Vec::new();
            let last = input.len() - 1;
            for (i, chunk) in input.iter().enumerate() {
                match t.chunk(self, chunk, i == last) {
                    Some(out) => output.push(out),
                    None => {
                        failed = Some(t.plugin.clone());
                        break;
                    }
                }
                if lock(&t.state).ended {
                    break;
                }
            }
            input = output;
            if input.is_empty() {
                input.push(Vec::new());
            }
        }
        for t in &run {
            t.close(self);
        }
        match failed {
            Some(plugin) => Err(format!("the body transform of {plugin} failed")),
            None => Ok(input.concat()),
        }
    }
}
