//! Body transforms (`transform_add`): the state behind a `hy_transform *` ([`Shared`]), the
//! transforms a transaction collects until its body starts, and the [`Stage`] through which its
//! caller runs one transform over a body: chunks in ([`Stage::feed`]), output out
//! ([`Stage::poll_output`]).
//!
//! A stage calls the plugin on the caller's thread, one chunk at a time, and asks for the next
//! input only when everything the transform let through was taken: the caller's reading is the
//! back-pressure. What a rewrite transform writes from another thread (while a chunk is pending)
//! is queued up to the buffer limit the caller sets.
//!
//! Lifetime: the plugin's `hy_transform *` is the address of a [`Shared`] kept by an `Arc`. The
//! transaction's list holds one until the body starts, then the stage does; a stage dropped while
//! a chunk is pending leaves its `Arc` to the `transform_resume` that must come, which delivers
//! CLOSE and drops it. Host functions called from another thread (allowed while a chunk is
//! pending) take an `Arc` of their own for the call.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use hookyard_abi::rules::transform::{self as rules, Answer, Body, Kind, Write};
use hookyard_abi::{self as abi, hy_chunk, hy_transform};
use hookyard_hooks::Priority;
use tracing::warn;

use crate::cont::Callback;

/// Tells a transform pointer from a transaction's or session's.
pub(crate) const TRANSFORM_TAG: u32 = 0x6879_7866;

/// A transform as the plugin's `hy_transform *` sees it.
#[repr(C)]
pub(crate) struct Shared {
    /// First, as in the transaction and session states.
    tag: u32,
    pub(crate) kind: Kind,
    pub(crate) body: Body,
    pub(crate) priority: Priority,
    cont: Arc<Callback>,
    inner: Mutex<Inner>,
}

/// What changes as the body flows.
#[derive(Default)]
struct Inner {
    /// Output not taken yet, and its bytes.
    out: VecDeque<Bytes>,
    queued: usize,
    /// The output limit (set when the body starts).
    limit: usize,
    /// The transform's output is complete (the end chunk went, or `transform_end`).
    ended: bool,
    /// The end chunk was fed.
    input_ended: bool,
    /// A chunk the plugin holds (answered PENDING).
    held: Option<Held>,
    /// The CHUNK handler runs now: a resume from another thread may come before it returns
    /// PENDING.
    calling: bool,
    /// Such a resume's answer, applied when the handler returns.
    early: Option<Answer>,
    /// Why the transform failed.
    failed: Option<String>,
    /// The stage's task, woken when a resume or a write from another thread came.
    waker: Option<Waker>,
    /// The stage went while a chunk was pending: the resume closes.
    orphaned: bool,
    /// CLOSE was delivered (or is being).
    closed: bool,
}

/// A chunk handed to the plugin: its bytes and the `hy_chunk` it points into.
struct Held {
    data: Data,
    chunk: Box<hy_chunk>,
}

// SAFETY: the raw pointers of `chunk` point into `data` (or at the `Shared`), which move with it.
unsafe impl Send for Held {}

enum Data {
    Shared(Bytes),
    Owned(BytesMut),
}

impl Data {
    fn freeze(self) -> Bytes {
        match self {
            Data::Shared(b) => b,
            Data::Owned(b) => b.freeze(),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn ptr(&self) -> *mut hy_transform {
        std::ptr::from_ref(self).cast_mut().cast()
    }

    /// The plugin's name, for logs.
    pub(crate) fn plugin_name(&self) -> &str {
        &self.cont.handler().plugin().name
    }

    /// Calls the handler with `event`; `None` when it could not run (a retired plugin's, or a
    /// destroyed continuation: treated as done with the chunk).
    fn fire(&self, event: abi::hy_event, edata: *mut c_void) -> Option<i32> {
        self.cont.invoke(|h| h.fire_event(event, edata)).ok().flatten()
    }

    /// Delivers CLOSE, once.
    fn close(&self) {
        {
            let mut inner = self.lock();
            if inner.closed {
                return;
            }
            inner.closed = true;
        }
        self.fire(abi::HY_EVENT_TRANSFORM_CLOSE, self.ptr().cast());
    }

    /// Applies the answer to the chunk `held` (the handler's, or a resume's).
    fn answer(&self, inner: &mut Inner, held: Held, answer: Answer) {
        let end = held.chunk.end != 0;
        match answer {
            Answer::Pending => inner.held = Some(held),
            Answer::Error => {
                inner.failed.get_or_insert_with(|| "the transform answered an error".to_owned());
            }
            Answer::Continue => {
                if self.kind != Kind::Rewrite {
                    let data = held.data.freeze();
                    if !data.is_empty() {
                        inner.queued += data.len();
                        inner.out.push_back(data);
                    }
                }
                if end {
                    inner.ended = true;
                }
            }
        }
    }
}

/// The `Shared` behind a plugin's `hy_transform *`, with an `Arc` of its own for the call.
///
/// # Safety
///
/// `ptr` is null, or a pointer of another kind this host lent (a transaction, a session: they
/// start with their tag), or a live transform of this host (its CHUNK handler runs, or a chunk
/// is pending).
pub(crate) unsafe fn shared(ptr: *mut hy_transform) -> Option<Arc<Shared>> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: every kind of handle starts with its `u32` tag (contract).
    if unsafe { ptr.cast::<u32>().read() } != TRANSFORM_TAG {
        return None;
    }
    let ptr: *const Shared = ptr.cast_const().cast();
    // SAFETY: a live transform, kept by an `Arc` (contract); one more count for the call.
    unsafe {
        Arc::increment_strong_count(ptr);
        Some(Arc::from_raw(ptr))
    }
}

/// A new transform of `cont` on `body`, for `transform_add`.
pub(crate) fn new(cont: Arc<Callback>, body: Body, kind: Kind, priority: Priority) -> Arc<Shared> {
    Arc::new(Shared {
        tag: TRANSFORM_TAG,
        kind,
        body,
        priority,
        cont,
        inner: Mutex::new(Inner::default()),
    })
}

/// `transform_write` on `shared`.
pub(crate) fn write(shared: &Shared, data: &[u8]) -> abi::hy_return {
    let waker;
    {
        let mut inner = shared.lock();
        match rules::transform_write(
            shared.kind,
            inner.ended,
            inner.queued,
            data.len(),
            inner.limit,
        ) {
            Ok(()) => {}
            Err(Write::Refused) => return abi::HY_ERROR,
            Err(Write::Overflow) => {
                let limit = inner.limit;
                warn!(plugin = %shared.plugin_name(), limit,
                    "a body transform wrote past its buffer limit; the transaction fails");
                inner
                    .failed
                    .get_or_insert_with(|| format!("past the buffer limit of {limit} bytes"));
                waker = inner.waker.take();
                drop(inner);
                wake(waker);
                return abi::HY_ERROR;
            }
        }
        if !data.is_empty() {
            inner.queued += data.len();
            inner.out.push_back(Bytes::copy_from_slice(data));
        }
        waker = inner.waker.take();
    }
    wake(waker);
    abi::HY_SUCCESS
}

/// `transform_end` on `shared`.
pub(crate) fn end(shared: &Shared) -> abi::hy_return {
    let waker;
    {
        let mut inner = shared.lock();
        if rules::transform_end(shared.kind, inner.ended).is_err() {
            return abi::HY_ERROR;
        }
        inner.ended = true;
        waker = inner.waker.take();
    }
    wake(waker);
    abi::HY_SUCCESS
}

/// `transform_resume` on `shared` (an `Arc` the call took, so the transform outlives it).
pub(crate) fn resume(shared: &Arc<Shared>, result: abi::hy_hook_result) -> abi::hy_return {
    let (waker, orphaned) = {
        let mut inner = shared.lock();
        let early = inner.calling && inner.early.is_none();
        let answer = match rules::transform_resume(result, inner.held.is_some() || early) {
            Ok(answer) => answer,
            Err(code) => return code,
        };
        let Some(held) = inner.held.take() else {
            // The handler has not returned its PENDING yet: `feed` applies this then.
            inner.early = Some(answer);
            return abi::HY_SUCCESS;
        };
        shared.answer(&mut inner, held, answer);
        (inner.waker.take(), inner.orphaned)
    };
    wake(waker);
    if orphaned {
        shared.close();
        // SAFETY: the count the dropped stage left for this resume (`Stage::drop`).
        unsafe { Arc::decrement_strong_count(Arc::as_ptr(shared)) };
    }
    abi::HY_SUCCESS
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// A transform a transaction collected, for one of its bodies; CLOSE is delivered if it is
/// dropped before its body started (the transaction ended first).
pub(crate) struct Registered(pub(crate) Arc<Shared>);

impl Drop for Registered {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What a [`Stage`] has for the reader.
#[derive(Debug)]
pub enum Output {
    /// Bytes of the transform's output.
    Data(Bytes),
    /// Nothing now: feed it the next chunk.
    NeedInput,
    /// The output is complete.
    End,
    /// The transform failed (why, for the log); the body fails.
    Failed(String),
}

/// One transform running over one body.
pub struct Stage {
    shared: Arc<Shared>,
    /// The input's end was seen, or the transaction gave up on the body.
    done: bool,
}

impl std::fmt::Debug for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stage").field("plugin", &self.shared.plugin_name()).finish()
    }
}

impl Stage {
    pub(crate) fn start(registered: Registered, limit: usize) -> Stage {
        let registered = std::mem::ManuallyDrop::new(registered);
        // SAFETY: read out of a `ManuallyDrop` that is not used again: its `Drop` (CLOSE) does
        // not run; the stage delivers CLOSE instead.
        let shared = unsafe { std::ptr::read(&registered.0) };
        shared.lock().limit = limit;
        Stage { shared, done: false }
    }

    /// The plugin that added it.
    pub fn plugin_name(&self) -> &str {
        self.shared.plugin_name()
    }

    /// Whether the plugin holds one of its chunks now (answered PENDING, not resumed yet).
    pub fn is_holding(&self) -> bool {
        self.shared.lock().held.is_some()
    }

    /// Whether the body keeps its length through this stage.
    pub fn keeps_length(&self) -> bool {
        self.shared.kind.keeps_length()
    }

    /// What the stage has for the reader; `Pending` while the plugin holds a chunk (the task is
    /// woken when that changes).
    pub fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<Output> {
        let mut inner = self.shared.lock();
        if let Some(why) = &inner.failed {
            return Poll::Ready(Output::Failed(why.clone()));
        }
        if let Some(data) = inner.out.pop_front() {
            inner.queued -= data.len();
            return Poll::Ready(Output::Data(data));
        }
        if inner.ended {
            drop(inner);
            // Done: CLOSE now (the rest of the input is not read).
            self.finish();
            return Poll::Ready(Output::End);
        }
        if inner.held.is_some() || inner.input_ended {
            inner.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Output::NeedInput)
    }

    /// Hands the plugin the next chunk (after [`Output::NeedInput`]); `end` marks the body's
    /// last. An inspect transform's chunk goes on as it is (the same `Bytes`); a
    /// length-preserving one's is changed in place (copied first when shared).
    pub fn feed(&mut self, chunk: Bytes, end: bool) {
        let mut data = match self.shared.kind {
            Kind::LengthPreserving => Data::Owned(
                chunk.try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..])),
            ),
            Kind::Inspect | Kind::Rewrite => Data::Shared(chunk),
        };
        let (ptr, len) = match &mut data {
            Data::Shared(b) => (b.as_ptr().cast_mut(), b.len()),
            Data::Owned(b) => (b.as_mut_ptr(), b.len()),
        };
        let mut chunk = Box::new(hy_chunk {
            transform: self.shared.ptr(),
            data: ptr.cast(),
            len,
            end: i32::from(end),
        });
        let edata: *mut hy_chunk = &mut *chunk;
        {
            let mut inner = self.shared.lock();
            inner.input_ended |= end;
            inner.calling = true;
        }
        let mut answer = self
            .shared
            .fire(abi::HY_EVENT_TRANSFORM_CHUNK, edata.cast())
            .map_or(Answer::Continue, rules::chunk_answer);
        let mut inner = self.shared.lock();
        inner.calling = false;
        match (answer, inner.early.take()) {
            (Answer::Pending, Some(early)) => answer = early,
            (_, Some(_)) => warn!(plugin = %self.shared.plugin_name(),
                "a transform_resume came for a chunk its handler did not answer PENDING"),
            _ => {}
        }
        if answer == Answer::Error {
            warn!(plugin = %self.shared.plugin_name(), "a body transform failed");
        }
        self.shared.answer(&mut inner, Held { data, chunk }, answer);
        if end && answer != Answer::Pending {
            drop(inner);
            self.finish();
        }
    }

    /// The body's input failed or the transaction gave up on it: the transform gets its CLOSE
    /// (after a pending chunk's resume).
    pub fn abort(&mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let mut inner = self.shared.lock();
        if inner.held.is_some() {
            inner.orphaned = true;
            drop(inner);
            // The resume that must come closes and drops this count.
            std::mem::forget(self.shared.clone());
            return;
        }
        drop(inner);
        self.shared.close();
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.finish();
    }
}
