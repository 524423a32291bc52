//! Dispatch: which callback runs next on a hook, across the three levels, and what its outcome
//! means for the rest.

use std::sync::Arc;

use smallvec::SmallVec;
use tracing::debug;

use crate::canary::Arms;
use crate::control::Control;
use crate::id::HookId;
use crate::order;
use crate::priority::{Priorities, Priority};
use crate::table::{CallbackId, Entry, HookList, order_key};

/// What a callback tells the dispatcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Go on with the next callback.
    Continue,
    /// Stop: the remaining callbacks of the hook are skipped and the transaction answers with an
    /// error (on cleanup hooks the error is ignored and every callback runs).
    Error,
    /// The callback resumes the dispatch later, possibly from another thread, with
    /// [`Dispatch::resume`].
    Pending,
}

/// Where a dispatch stands after [`Dispatch::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Every callback ran (`Continue`), or one failed (`Error`).
    Done(Outcome),
    /// A callback holds the dispatch; call [`Dispatch::resume`], then [`Dispatch::run`] again.
    Pending,
}

/// The session- and transaction-level part of what a dispatch sees.
pub struct Local<'t, H: ?Sized> {
    /// The session's callbacks.
    pub session: Option<&'t crate::Hooks<H>>,
    /// The transaction's callbacks.
    pub txn: Option<&'t crate::Hooks<H>>,
    /// The session's control.
    pub session_control: Option<&'t Control>,
    /// The transaction's control.
    pub txn_control: Option<&'t Control>,
    /// The canary sides chosen: callbacks of a side not chosen are skipped (cleanup hooks too).
    pub arms: Arms,
}

impl<H: ?Sized> Default for Local<'_, H> {
    fn default() -> Self {
        Local {
            session: None,
            txn: None,
            session_control: None,
            txn_control: None,
            arms: Arms::default(),
        }
    }
}

impl<H: ?Sized> Local<'_, H> {
    /// Whether `plugin` runs for this transaction as far as its switches go: the transaction's
    /// say over the session's, on when neither switched it (for what is not a hook callback,
    /// such as a body transform).
    pub fn plugin_enabled(&self, plugin: crate::PluginId) -> bool {
        [self.txn_control, self.session_control]
            .into_iter()
            .flatten()
            .find_map(|c| c.plugin_state(plugin))
            .unwrap_or(true)
    }

    /// Whether the session and the transaction take no part in dispatching the hook at `at`:
    /// neither has callbacks on it, and neither changed anything about dispatch.
    #[inline]
    fn inert(&self, at: usize) -> bool {
        let no_callbacks = |hooks: Option<&crate::Hooks<H>>| {
            hooks.and_then(|t| t.list_at(at)).is_none_or(|list| list.entries.is_empty())
        };
        let untouched = |control: Option<&Control>| control.is_none_or(Control::is_pristine);
        no_callbacks(self.session)
            && no_callbacks(self.txn)
            && untouched(self.session_control)
            && untouched(self.txn_control)
    }

    /// The threshold for every hook set by the transaction, else by its session; `None` when
    /// neither set one (the configured one then applies).
    pub fn general_threshold(&self) -> Option<crate::Priority> {
        [self.txn_control, self.session_control]
            .into_iter()
            .flatten()
            .find_map(|c| c.threshold(None))
    }
}

/// The callback a dispatch picked.
#[derive(Debug)]
pub enum Next<'g, 't, H: ?Sized> {
    /// A global callback, borrowed from the configuration's table.
    Global(&'g Entry<H>),
    /// A session or transaction callback.
    Local(&'t Entry<H>),
}

impl<H: ?Sized> Next<'_, '_, H> {
    /// The picked registration.
    pub fn entry(&self) -> &Entry<H> {
        match self {
            Next::Global(e) => e,
            Next::Local(e) => e,
        }
    }
}

/// The state of one dispatch of one hook: which callbacks already ran, and how it ends.
///
/// Small and allocation-free, so a transaction can keep it while a callback holds the dispatch.
///
/// Order: higher priority first; at equal priority global, then session, then transaction
/// callbacks, each level in registration order. A callback added while the dispatch runs runs in
/// it when it sorts after the current position, unless its level had already passed its last
/// callback when it was added (ATS's rule: a level that was empty, or is still running, sees
/// additions; an exhausted one does not).
#[derive(Clone, Debug)]
pub struct Dispatch {
    hook: HookId,
    /// `hook.index()`, kept: it is needed at every step.
    hook_index: usize,
    /// The order key of the last callback passed (run or skipped).
    last: Option<u64>,
    cursors: [usize; 3],
    /// The list version each cursor was computed for.
    versions: [Option<u32>; 3],
    /// A level that passed its last callback: additions after this sequence number are ignored.
    closed: [Option<u32>; 3],
    failed: bool,
    pending: bool,
    done: bool,
    /// What the controls implied when last looked at, and their stamps then.
    derived: Option<Derived>,
    /// The scanning path's sorted snapshot of the callbacks still to come.
    scan: Option<Scan>,
    /// Ordering constraints were in force at some step: the ordered path is kept to the end.
    ordered: bool,
}

/// The callbacks still to come, sorted, and what they were computed from.
#[derive(Clone, Debug)]
struct Scan {
    versions: [Option<u32>; 3],
    stamps: [Option<(usize, u32)>; 2],
    /// (order key, level, index in the level's list).
    order: SmallVec<[(u64, u8, u32); 8]>,
    next: usize,
    /// The callbacks this dispatch passed (ran, skipped, or added where they wait for the next
    /// dispatch): a priority change can sort one after the position again, and none runs twice.
    passed: SmallVec<[CallbackId; 8]>,
    /// Per level, the largest registration number when the snapshot was taken: callbacks above
    /// it were added since.
    known: [Option<u32>; 3],
    /// Whether `order` was arranged by ordering constraints.
    ordered: bool,
}

/// A callback the ordered path arranges: order key, level, index in the level's list, plugin,
/// registration.
type Candidate = (u64, u8, u32, crate::PluginId, CallbackId);

/// The thresholds and switches the controls imply, kept while the controls do not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Derived {
    stamps: [Option<(usize, u32)>; 2],
    threshold: Option<Priority>,
    switches: bool,
    overrides: bool,
    ordered: bool,
}

/// The thresholds and switches in force for one step.
struct Filter<'a> {
    hook: HookId,
    session: Option<&'a Control>,
    txn: Option<&'a Control>,
    threshold: Option<Priority>,
    switches: bool,
    overrides: bool,
    /// Ordering constraints apply on the hook.
    ordered: bool,
}

impl<'a> Filter<'a> {
    #[inline]
    fn new(
        hook: HookId,
        priorities: &Priorities,
        session: Option<&'a Control>,
        txn: Option<&'a Control>,
        cache: &mut Option<Derived>,
    ) -> Self {
        let stamps = [session.map(Control::stamp), txn.map(Control::stamp)];
        let derived = match *cache {
            Some(derived) if derived.stamps == stamps => derived,
            // The common case: no session or transaction changed anything.
            _ if [session, txn].into_iter().flatten().all(Control::is_empty) => {
                let derived = Derived {
                    stamps,
                    threshold: priorities.threshold(hook),
                    switches: false,
                    overrides: false,
                    ordered: priorities.orders().applies(hook),
                };
                *cache = Some(derived);
                derived
            }
            _ => {
                let derived = Derived {
                    stamps,
                    threshold: txn
                        .and_then(|c| c.threshold_for(hook))
                        .or_else(|| session.and_then(|c| c.threshold_for(hook)))
                        .or_else(|| priorities.threshold(hook)),
                    switches: [session, txn].into_iter().flatten().any(|c| !c.switches_nothing()),
                    overrides: [session, txn].into_iter().flatten().any(Control::has_priorities),
                    ordered: priorities.orders().applies(hook)
                        || [session, txn].into_iter().flatten().any(|c| c.orders_on(hook)),
                };
                *cache = Some(derived);
                derived
            }
        };
        let Derived { threshold, switches, overrides, ordered, .. } = derived;
        Filter { hook, session, txn, threshold, switches, overrides, ordered }
    }

    /// The callback's priority after per-session and per-transaction changes.
    fn priority<H: ?Sized>(&self, entry: &Entry<H>) -> Priority {
        if !self.overrides {
            return entry.priority();
        }
        self.txn
            .and_then(|c| c.priority_of(entry.id()))
            .or_else(|| self.session.and_then(|c| c.priority_of(entry.id())))
            .unwrap_or(entry.priority())
    }

    fn key<H: ?Sized>(&self, entry: &Entry<H>) -> u64 {
        if !self.overrides {
            return entry.key();
        }
        order_key(self.priority(entry), entry.level(), entry.seq())
    }

    /// Whether the callback was removed for this session or transaction (never on cleanup
    /// hooks, which run every callback).
    fn removed<H: ?Sized>(&self, entry: &Entry<H>) -> bool {
        !self.hook.is_cleanup()
            && self.switches
            && [self.session, self.txn].into_iter().flatten().any(|c| c.is_removed(entry.id()))
    }

    /// Whether the callback runs (cleanup hooks run everything).
    #[inline]
    fn runs<H: ?Sized>(&self, entry: &Entry<H>) -> bool {
        if self.hook.is_cleanup() {
            return true;
        }
        if self.switches {
            let controls = [self.txn, self.session];
            if controls.into_iter().flatten().any(|c| c.callback_off(entry.id())) {
                return false;
            }
            let state = controls.into_iter().flatten().find_map(|c| c.plugin_state(entry.plugin()));
            if state == Some(false) {
                return false;
            }
        }
        self.threshold.is_none_or(|t| self.priority(entry) >= t)
    }
}

impl Dispatch {
    /// A dispatch of `hook` that has run nothing yet.
    pub fn new(hook: HookId) -> Dispatch {
        Dispatch {
            hook,
            hook_index: hook.index(),
            last: None,
            cursors: [0; 3],
            versions: [None; 3],
            closed: [None; 3],
            failed: false,
            pending: false,
            done: false,
            derived: None,
            scan: None,
            ordered: false,
        }
    }

    /// The hook being dispatched.
    pub fn hook(&self) -> HookId {
        self.hook
    }

    /// Whether a callback holds the dispatch.
    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// Picks the next callback to run, skipping those switched off or below the threshold.
    #[inline]
    pub fn next<'g, 't, H: ?Sized>(
        &mut self,
        global: Option<&'g crate::Hooks<H>>,
        priorities: &Priorities,
        local: &Local<'t, H>,
    ) -> Option<Next<'g, 't, H>> {
        let (hook, at) = (self.hook, self.hook_index);
        let global_list = global.and_then(|t| t.list_at(at));
        let session_list = local.session.and_then(|t| t.list_at(at));
        let txn_list = local.txn.and_then(|t| t.list_at(at));
        let lists: [Option<&HookList<H>>; 3] = [global_list, session_list, txn_list];
        if self.cursors_exhausted(&lists, local) {
            return None;
        }
        let filter = Filter::new(
            hook,
            priorities,
            local.session_control,
            local.txn_control,
            &mut self.derived,
        );
        loop {
            let (level, index) = if self.ordered || filter.ordered {
                self.ordered = true;
                self.step_by_order(&lists, &filter, priorities)
            } else if filter.overrides {
                self.step_by_scan(&lists, &filter)
            } else {
                self.step_by_cursor(&lists)
            }?;
            let entry = &lists[level]?.entries[index];
            if local.arms.runs(entry.arm()) && filter.runs(entry) {
                return Some(match level {
                    0 => Next::Global(&global_list?.entries[index]),
                    1 => Next::Local(&session_list?.entries[index]),
                    _ => Next::Local(&txn_list?.entries[index]),
                });
            }
        }
    }

    /// Whether the cursor path, still the one the unchanged controls call for, is at the end of
    /// every list, none of which changed since: the last call of a dispatch ends here without
    /// working anything out again.
    #[inline]
    fn cursors_exhausted<H: ?Sized>(
        &self,
        lists: &[Option<&HookList<H>>; 3],
        local: &Local<'_, H>,
    ) -> bool {
        let Some(derived) = self.derived else { return false };
        // Cheapest first: mid-dispatch, a list with callbacks left ends the check.
        !self.ordered
            && !derived.ordered
            && !derived.overrides
            && lists.iter().enumerate().all(|(level, list)| {
                list.is_none_or(|list| {
                    self.versions[level] == Some(list.version)
                        && self.cursors[level] >= list.entries.len()
                })
            })
            && derived.stamps
                == [
                    local.session_control.map(Control::stamp),
                    local.txn_control.map(Control::stamp),
                ]
    }

    /// The fast path: every level's list is in dispatch order, so the next callback is the
    /// smallest of three cursor heads.
    #[inline]
    fn step_by_cursor<H: ?Sized>(
        &mut self,
        lists: &[Option<&HookList<H>>; 3],
    ) -> Option<(usize, usize)> {
        let mut best: Option<(usize, usize, u64)> = None;
        for (level, list) in lists.iter().enumerate() {
            let Some(list) = list else { continue };
            if self.versions[level] != Some(list.version) {
                self.cursors[level] = match self.last {
                    None => 0,
                    Some(last) => list.entries.partition_point(|e| e.key() <= last),
                };
                self.versions[level] = Some(list.version);
            }
            let entries = &list.entries;
            let mut cursor = self.cursors[level];
            if let Some(bound) = self.closed[level] {
                while cursor < entries.len() && entries[cursor].seq() > bound {
                    cursor += 1;
                }
                self.cursors[level] = cursor;
            }
            if let Some(entry) = entries.get(cursor)
                && best.is_none_or(|(_, _, key)| entry.key() < key)
            {
                best = Some((level, cursor, entry.key()));
            }
        }
        let (level, index, key) = best?;
        self.cursors[level] = index + 1;
        self.last = Some(key);
        if let Some(list) = lists[level]
            && index + 1 == list.entries.len()
        {
            self.close(level, list);
        }
        Some((level, index))
    }

    /// The path with per-transaction priority changes: the lists are no longer in dispatch
    /// order, so the remaining callbacks are sorted once into a snapshot, rebuilt only when a
    /// list or a control changes.
    fn step_by_scan<H: ?Sized>(
        &mut self,
        lists: &[Option<&HookList<H>>; 3],
        filter: &Filter<'_>,
    ) -> Option<(usize, usize)> {
        let versions = lists.map(|l| l.map(|l| l.version));
        let stamps = [filter.session.map(Control::stamp), filter.txn.map(Control::stamp)];
        let stale = self.scan.as_ref().is_none_or(|s| s.versions != versions || s.stamps != stamps);
        if stale {
            self.scan = Some(self.snapshot(lists, filter, versions, stamps));
        }
        let scan = self.scan.as_mut()?;
        let (key, level, index) = *scan.order.get(scan.next)?;
        scan.next += 1;
        if let Some(entry) = lists[usize::from(level)].and_then(|l| l.entries.get(index as usize)) {
            scan.passed.push(entry.id());
        }
        let level_left = scan.order[scan.next..].iter().any(|(_, l, _)| *l == level);
        let (level, index) = (usize::from(level), index as usize);
        // A callback moved before the position runs now without moving the position back.
        self.last = Some(self.last.map_or(key, |last| last.max(key)));
        // The cursors were not kept up to date: recompute them if the cursor path resumes.
        self.versions = [None; 3];
        if !level_left && let Some(list) = lists[level] {
            self.close(level, list);
        }
        Some((level, index))
    }

    /// The path with ordering constraints in force: every callback not yet passed is arranged
    /// (constraints first, then priority order) into a snapshot, rebuilt only when a list or a
    /// control changes. A callback the arrangement puts before one already passed is passed too,
    /// as a callback added behind the current position is on the other paths.
    fn step_by_order<H: ?Sized>(
        &mut self,
        lists: &[Option<&HookList<H>>; 3],
        filter: &Filter<'_>,
        priorities: &Priorities,
    ) -> Option<(usize, usize)> {
        let versions = lists.map(|l| l.map(|l| l.version));
        let stamps = [filter.session.map(Control::stamp), filter.txn.map(Control::stamp)];
        let current = self.scan.as_mut().filter(|s| s.ordered);
        let fresh = current.is_none();
        if current.is_none_or(|s| s.versions != versions || s.stamps != stamps) {
            // From the scan path its own record of what passed; from the cursor path, what sorts
            // up to `last` by the registered keys.
            let previous = self.scan.take();
            let from_cursor = previous.is_none();
            let known = lists.map(|l| l.and_then(|l| l.entries.iter().map(Entry::seq).max()));
            let mut passed = previous.map(|scan| scan.passed).unwrap_or_default();
            let mut candidates: SmallVec<[Candidate; 8]> = SmallVec::new();
            for (level, list) in lists.iter().enumerate() {
                let Some(list) = list else { continue };
                for (index, entry) in list.entries.iter().enumerate() {
                    let open = self.closed[level].is_none_or(|bound| entry.seq() <= bound);
                    if open && !filter.removed(entry) {
                        let key = filter.key(entry);
                        candidates.push((
                            key,
                            level as u8,
                            index as u32,
                            entry.plugin(),
                            entry.id(),
                        ));
                    }
                }
            }
            if fresh
                && from_cursor
                && let Some(last) = self.last
            {
                passed.extend(candidates.iter().filter(|c| c.0 <= last).map(|c| c.4));
            }
            let edges = order::edges(self.hook, priorities, filter.session, filter.txn);
            order::arrange(&mut candidates, |c| c.0, |c| c.3, &edges);
            let behind =
                candidates.iter().rposition(|c| passed.contains(&c.4)).map_or(0, |p| p + 1);
            for c in &candidates[..behind] {
                if !passed.contains(&c.4) {
                    passed.push(c.4);
                }
            }
            let order = candidates[behind..].iter().map(|c| (c.0, c.1, c.2)).collect();
            self.scan =
                Some(Scan { versions, stamps, order, next: 0, passed, known, ordered: true });
        }
        let scan = self.scan.as_mut()?;
        let (key, level, index) = *scan.order.get(scan.next)?;
        scan.next += 1;
        let level_left = scan.order[scan.next..].iter().any(|(_, l, _)| *l == level);
        let (level, index) = (usize::from(level), index as usize);
        if let Some(entry) = lists[level].and_then(|l| l.entries.get(index)) {
            scan.passed.push(entry.id());
        }
        self.last = Some(key);
        self.versions = [None; 3];
        if !level_left && let Some(list) = lists[level] {
            self.close(level, list);
        }
        Some((level, index))
    }

    /// Sorts the callbacks still to come. A callback runs at most once per dispatch; one that
    /// was there when the last snapshot was taken (or the cursor path ran) and has not passed
    /// still runs when a priority change moved it before the position, while one added since
    /// runs only if it sorts after the position (ATS's rule for additions).
    fn snapshot<H: ?Sized>(
        &mut self,
        lists: &[Option<&HookList<H>>; 3],
        filter: &Filter<'_>,
        versions: [Option<u32>; 3],
        stamps: [Option<(usize, u32)>; 2],
    ) -> Scan {
        let now = lists.map(|l| l.and_then(|l| l.entries.iter().map(Entry::seq).max()));
        let (mut passed, known) = match self.scan.take() {
            Some(scan) => (scan.passed, scan.known),
            // From the cursor path, which used the registered keys: it passed those up to
            // `last`, and everything there now was there for it.
            None => {
                let passed = lists
                    .iter()
                    .flatten()
                    .flat_map(|list| list.entries.iter())
                    .filter(|e| self.last.is_some_and(|last| e.key() <= last))
                    .map(Entry::id)
                    .collect();
                (passed, now)
            }
        };
        let mut order: SmallVec<[(u64, u8, u32); 8]> = SmallVec::new();
        for (level, list) in lists.iter().enumerate() {
            let Some(list) = list else { continue };
            for (index, entry) in list.entries.iter().enumerate() {
                let open = self.closed[level].is_none_or(|bound| entry.seq() <= bound);
                if !open || filter.removed(entry) || passed.contains(&entry.id()) {
                    continue;
                }
                let key = filter.key(entry);
                let added = known[level].is_none_or(|bound| entry.seq() > bound);
                if !added || self.last.is_none_or(|last| key > last) {
                    order.push((key, level as u8, index as u32));
                } else {
                    // Sorts before the position: waits for the next dispatch.
                    passed.push(entry.id());
                }
            }
        }
        order.sort_unstable_by_key(|(key, _, _)| *key);
        Scan { versions, stamps, order, next: 0, passed, known: now, ordered: false }
    }

    fn close<H: ?Sized>(&mut self, level: usize, list: &HookList<H>) {
        let bound = list.entries.iter().map(Entry::seq).max().unwrap_or(0);
        self.closed[level] = Some(bound);
    }

    /// Records a callback's outcome. Returns the dispatch's end when the outcome ends it.
    pub fn record(&mut self, outcome: Outcome) -> Option<Progress> {
        match outcome {
            Outcome::Continue => None,
            Outcome::Pending => {
                self.pending = true;
                Some(Progress::Pending)
            }
            Outcome::Error if self.hook.is_cleanup() => {
                debug!(hook = %self.hook, "error outcome on a cleanup hook ignored");
                None
            }
            Outcome::Error => {
                self.failed = true;
                self.done = true;
                Some(Progress::Done(Outcome::Error))
            }
        }
    }

    /// Resumes a pending dispatch with the outcome the holding callback reached (`Continue` or
    /// `Error`); then call [`Dispatch::run`] to go on.
    pub fn resume(&mut self, outcome: Outcome) {
        self.pending = false;
        let _ = self.record(if outcome == Outcome::Pending { Outcome::Continue } else { outcome });
    }

    /// Runs callbacks until the hook is done or one holds the dispatch.
    ///
    /// `local` gives the session and transaction parts from the target; `call` runs one
    /// callback's handler on the target (inside the callback's context). A callback whose plugin
    /// was retired for good is skipped and counts as [`Priorities::dropped_outcome`]. Global callbacks are borrowed; session and transaction
    /// ones are cloned (one reference count) so `call` can have the target mutably.
    pub fn run<T: ?Sized, H: ?Sized>(
        &mut self,
        global: Option<&crate::Hooks<H>>,
        priorities: &Priorities,
        target: &mut T,
        local: impl Fn(&T) -> Local<'_, H>,
        mut call: impl FnMut(&H, HookId, &mut T) -> Outcome,
    ) -> Progress {
        if self.pending {
            return Progress::Pending;
        }
        if self.done {
            return Progress::Done(if self.failed { Outcome::Error } else { Outcome::Continue });
        }
        let hook = self.hook;
        if let Some(progress) = self.run_global(global, priorities, target, &local, &mut call) {
            return progress;
        }
        loop {
            enum Picked<'g, H: ?Sized> {
                Global(&'g Entry<H>),
                Local(Arc<hookyard_context::Continuation<H>>),
            }
            let picked = {
                let local = local(target);
                match self.next(global, priorities, &local) {
                    None => break,
                    Some(Next::Global(entry)) => Picked::Global(entry),
                    Some(Next::Local(entry)) => Picked::Local(Arc::clone(entry.callback())),
                }
            };
            let result = match &picked {
                Picked::Global(entry) => entry.callback().call(|h| call(h, hook, target)),
                Picked::Local(callback) => callback.call(|h| call(h, hook, target)),
            };
            if let Some(progress) = self.record(ran(result, hook, priorities)) {
                return progress;
            }
        }
        self.finish()
    }

    /// The common case, without the general path's bookkeeping: the hook's callbacks are
    /// global only, no threshold or ordering constraint applies to it, and neither the session
    /// nor the transaction changed anything about dispatch. Runs the global callbacks in order
    /// while that holds; `None` hands the rest to the general path, at the same position, as
    /// soon as it does not (a callback added one at another level, or changed a control).
    #[inline]
    fn run_global<T: ?Sized, H: ?Sized>(
        &mut self,
        global: Option<&crate::Hooks<H>>,
        priorities: &Priorities,
        target: &mut T,
        local: &impl Fn(&T) -> Local<'_, H>,
        call: &mut impl FnMut(&H, HookId, &mut T) -> Outcome,
    ) -> Option<Progress> {
        let (hook, at) = (self.hook, self.hook_index);
        let list = global.and_then(|t| t.list_at(at))?;
        if self.ordered
            || self.scan.is_some()
            || self.closed[0].is_some()
            || priorities.threshold(hook).is_some()
            || priorities.orders().applies(hook)
        {
            return None;
        }
        if self.versions[0] != Some(list.version) {
            self.cursors[0] = match self.last {
                None => 0,
                Some(last) => list.entries.partition_point(|e| e.key() <= last),
            };
            self.versions[0] = Some(list.version);
        }
        loop {
            let arms = {
                let local = local(target);
                if !local.inert(at) {
                    return None;
                }
                local.arms
            };
            let cursor = self.cursors[0];
            let Some(entry) = list.entries.get(cursor) else {
                return Some(self.finish());
            };
            self.cursors[0] = cursor + 1;
            self.last = Some(entry.key());
            if cursor + 1 == list.entries.len() {
                self.close(0, list);
            }
            if !arms.runs(entry.arm()) {
                continue;
            }
            let result = entry.callback().call(|h| call(h, hook, target));
            if let Some(progress) = self.record(ran(result, hook, priorities)) {
                return Some(progress);
            }
        }
    }

    /// Every callback ran: the dispatch's end.
    fn finish(&mut self) -> Progress {
        self.done = true;
        Progress::Done(if self.failed { Outcome::Error } else { Outcome::Continue })
    }
}

/// A callback's outcome; a callback of a retired plugin counts as
/// [`Priorities::dropped_outcome`].
fn ran<E: std::fmt::Display>(
    result: Result<Outcome, E>,
    hook: HookId,
    priorities: &Priorities,
) -> Outcome {
    result.unwrap_or_else(|dropped| {
        debug!(hook = %hook, error = %dropped, "callback of a retired plugin skipped");
        priorities.dropped_outcome()
    })
}
