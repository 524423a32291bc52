//! Running one hook over a transaction or a session to its end, waiting on pending callbacks;
//! and freeing a transaction's or session's state that a pending plugin may still hold.

use std::ptr::NonNull;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use hookyard_hooks::{Arms, Control, Dispatch, HookId, Hooks, Local, Outcome, Progress};
use tracing::{debug, warn};

use crate::cont::{CCont, scheduler};
use crate::global::GlobalHooks;
use crate::pending::{Ended, Resume};
use crate::ssn::{SsnData, SsnState};

/// How long a state whose pending wait expired, or that was abandoned and not resumed within
/// the pending limit, is kept for a late resume to be refused (rather than to find it freed).
const LATE_RESUME_GRACE: Duration = Duration::from_secs(60);

/// What a hook dispatch targets: a transaction or a session.
pub(crate) trait Target {
    fn resume(&self) -> &Arc<Resume>;
    /// The session whose callbacks and control take part: the transaction's, or the session
    /// itself. It outlives the target (a transaction holds a strong reference to it).
    fn session(&self) -> Option<&SsnState>;
    /// The transaction's own callbacks and control; `None` for a session.
    fn own(&self) -> Option<(&Hooks<CCont>, &Control)>;
    /// The canary sides its dispatches on `global` run.
    fn arms(&self, global: &GlobalHooks) -> Arms;
    /// A callback's pending wait expired.
    ///
    /// # Safety
    ///
    /// `this` is valid, and no callback of its holds it (the wait ended).
    unsafe fn expired(this: NonNull<Self>);
    /// Frees the state (what its box owned).
    ///
    /// # Safety
    ///
    /// `this` is what its box owned (leaked), given up by it, and used by nobody else.
    unsafe fn free(this: NonNull<Self>);
}

/// A state pointer a dispatch future carries across its waits.
pub(crate) struct Ptr<T>(pub(crate) NonNull<T>);

// SAFETY: a transaction's state is used by one task, or by the one plugin holding a pending
// hook while that task waits (see the crate's ownership notes); a session's is `Sync`.
unsafe impl<T> Send for Ptr<T> {}

impl<T> Ptr<T> {
    /// The pointer (a method, so that closures capture the whole `Ptr`, which is `Send`).
    fn raw(&self) -> *mut T {
        self.0.as_ptr()
    }

    /// As [`Ptr::raw`].
    fn non_null(&self) -> NonNull<T> {
        self.0
    }
}

/// One run of a dispatch between waits: the target, and its session's data, locked while
/// callbacks are picked and unlocked while one runs; not locked at all while the session has
/// neither callbacks nor a changed control (nothing of it takes part).
struct Step<'s, T> {
    target: &'s Ptr<T>,
    session: Option<&'s SsnState>,
    data: Option<MutexGuard<'s, SsnData>>,
    arms: Arms,
}

impl<T: Target> Step<'_, T> {
    /// What decides the next callback: the session's parts (locked) and the transaction's.
    fn local(&self) -> Local<'_, CCont> {
        // SAFETY: the target is valid for the dispatch (`dispatch`'s contract) and no plugin
        // code runs while callbacks are picked, so nothing changes it under this borrow.
        let own = unsafe { (*self.target.raw()).own() };
        let data = self.data.as_deref();
        Local {
            session: data.map(|d| &d.hooks),
            txn: own.map(|(hooks, _)| hooks),
            session_control: data.map(|d| &d.control),
            txn_control: own.map(|(_, control)| control),
            arms: self.arms,
        }
    }
}

/// Runs `hook` on `target` (a raw pointer the caller owns) to its end, waiting on pending
/// callbacks. Callbacks get the pointer as `edata`; no reference into the target is held while
/// one runs, nor the session's lock.
///
/// # Safety
///
/// `target` is valid until this future completes or is dropped, and used by nobody else while
/// it runs except by the plugin holding a pending hook (a session's state: only through shared
/// references).
pub(crate) async unsafe fn dispatch<T: Target>(
    target: Ptr<T>,
    global: &GlobalHooks,
    hook: HookId,
) -> Outcome {
    let mut dispatch = Dispatch::new(hook);
    // SAFETY: per the contract.
    match unsafe { run_now(&target, global, &mut dispatch) } {
        Some(outcome) => outcome,
        // SAFETY: per the contract.
        None => unsafe { wait(target, global, dispatch).await },
    }
}

/// Runs `dispatch` on `target` as far as it goes without waiting: its outcome, or `None` when
/// a callback holds it pending (then [`wait`] goes on with it). Most dispatches end here, with
/// no future to build or move.
///
/// # Safety
///
/// As [`dispatch`], for the duration of this call.
pub(crate) unsafe fn run_now<T: Target>(
    target: &Ptr<T>,
    global: &GlobalHooks,
    dispatch: &mut Dispatch,
) -> Option<Outcome> {
    let table = global.table.load();
    // SAFETY: per the contract. No reference into the target is held while plugins run: the
    // resume state is an allocation of its own, kept by the target's `Arc` (never replaced) as
    // long as the target, and the session is not the target's memory and outlives it.
    let (resume, session, arms) = unsafe {
        let target = &*target.raw();
        (&*Arc::as_ptr(target.resume()), target.session(), target.arms(global))
    };
    let data = session.filter(|s| s.takes_part()).map(SsnState::lock);
    let mut step = Step { target, session, data, arms };
    let progress = dispatch.run(
        Some(&**table),
        &global.priorities,
        &mut step,
        Step::local,
        |handler, hook, step| {
            // Unlocked while plugin code runs: it may call host functions on its session.
            step.data = None;
            resume.arm(handler.plugin().id);
            let edata = step.target.raw().cast();
            let outcome = handler.fire_hook(hook, edata, global.slow_callback);
            let outcome = match resume.ended(outcome == Outcome::Pending) {
                Ended::Answered => outcome,
                Ended::Early(outcome) => outcome,
                Ended::Pending => Outcome::Pending,
            };
            step.data = step.session.filter(|s| s.takes_part()).map(SsnState::lock);
            outcome
        },
    );
    match progress {
        Progress::Done(outcome) => Some(outcome),
        Progress::Pending => None,
    }
}

/// Waits for the callback holding `dispatch` pending, then runs the dispatch on, as often as
/// callbacks hold it, to its end.
///
/// # Safety
///
/// As [`dispatch`].
pub(crate) async unsafe fn wait<T: Target>(
    target: Ptr<T>,
    global: &GlobalHooks,
    mut dispatch: Dispatch,
) -> Outcome {
    // SAFETY: per the contract; the `Arc` is not the target's memory.
    let resume = unsafe { (*target.raw()).resume().clone() };
    let hook = dispatch.hook();
    loop {
        match resume.wait(global.hook_pending).await {
            Some(outcome) => dispatch.resume(outcome),
            None => {
                warn!(%hook, limit = ?global.hook_pending,
                    "a hook callback stayed pending past timeouts.hook_pending");
                // SAFETY: as above; the wait ended, so no callback holds it now.
                unsafe { T::expired(target.0) };
                dispatch.resume(Outcome::Error);
            }
        }
        // SAFETY: per the contract.
        if let Some(outcome) = unsafe { run_now(&target, global, &mut dispatch) } {
            return outcome;
        }
    }
}

/// Frees a transaction's or session's state as its box drops, unless a plugin holds it on a
/// pending hook: then the resume that must come frees it, or, when none comes within the
/// pending limit and [`LATE_RESUME_GRACE`], the host does. A state whose wait expired once is
/// freed after that grace too (a late resume must find it to be refused).
///
/// # Safety
///
/// `state` is what its box owned (see [`Target::free`]), and the box gives it up now.
pub(crate) unsafe fn release<T: Target + 'static>(state: NonNull<T>) {
    // SAFETY: owned by the dropping box; the resume state says whether a plugin still holds it.
    let resume = unsafe { state.as_ref() }.resume().clone();
    let state = Ptr(state);
    if resume.abandon() {
        debug!("a transaction or session ended while a hook was pending; its resume frees it");
        free_later(state, resume.limit() + LATE_RESUME_GRACE, move || resume.reclaim());
    } else if resume.ever_expired() {
        free_later(state, LATE_RESUME_GRACE, || true);
    } else {
        // SAFETY: per the contract; freed once, here.
        unsafe { T::free(state.0) };
    }
}

/// Frees `state` after `delay` on the scheduler thread if `still_ours` then says so.
fn free_later<T: Target + 'static>(
    state: Ptr<T>,
    delay: Duration,
    still_ours: impl FnOnce() -> bool + Send + 'static,
) {
    let Some(scheduler) = scheduler() else {
        warn!("no scheduler thread: a transaction or session state is leaked");
        return;
    };
    scheduler.spawn(async move {
        tokio::time::sleep(delay).await;
        if still_ours() {
            // SAFETY: abandoned by its box; `still_ours` took it back from the plugin (or no
            // plugin holds it), so nobody else frees or uses it.
            unsafe { T::free(state.non_null()) };
        }
    });
}

/// Frees a transaction or session abandoned while pending, from its resume.
///
/// # Safety
///
/// `state` was abandoned by its box and is used by nobody else.
pub(crate) unsafe fn free_abandoned<T: Target>(state: NonNull<T>) {
    // SAFETY: per the contract.
    unsafe { T::free(state) };
}
