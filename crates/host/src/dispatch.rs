//! Running one hook over a transaction or a session to its end, waiting on pending callbacks;
//! and freeing a transaction's or session's state that a pending plugin may still hold.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use hookyard_hooks::{Dispatch, HookId, Local, Outcome, Progress};
use tracing::{debug, warn};

use crate::cont::{CCont, scheduler};
use crate::global::GlobalHooks;
use crate::pending::{Ended, Resume};

/// How long a state whose pending wait expired, or that was abandoned and not resumed within
/// the pending limit, is kept for a late resume to be refused (rather than to find it freed).
const LATE_RESUME_GRACE: Duration = Duration::from_secs(60);

/// What a hook dispatch targets: a transaction or a session.
pub(crate) trait Target {
    fn resume(&self) -> &Arc<Resume>;
    fn local(&self) -> Local<'_, CCont>;
    fn edata(&mut self) -> *mut c_void;
    /// A callback's pending wait expired.
    fn expired(&mut self);
}

/// A state pointer a dispatch future carries across its waits.
pub(crate) struct Ptr<T>(pub(crate) NonNull<T>);

// SAFETY: the states are used by one task, or by the one plugin holding a pending hook while
// that task waits (see the module's ownership notes).
unsafe impl<T> Send for Ptr<T> {}

impl<T> Ptr<T> {
    /// The pointer (a method, so that closures capture the whole `Ptr`, which is `Send`).
    fn raw(&self) -> *mut T {
        self.0.as_ptr()
    }
}

/// Runs `hook` on `target` (a raw pointer the caller owns) to its end, waiting on pending
/// callbacks.
///
/// # Safety
///
/// `target` is valid until this future completes or is dropped, and used by nobody else while
/// it runs except by the plugin holding a pending hook.
pub(crate) async unsafe fn dispatch<T: Target>(
    target: Ptr<T>,
    global: &GlobalHooks,
    hook: HookId,
) -> Outcome {
    let table = global.table.load_full();
    // SAFETY: per the contract; the `Arc` is cloned so that no reference into the target is
    // held while the plugin may use it.
    let resume = unsafe { (*target.0.as_ptr()).resume().clone() };
    let mut dispatch = Dispatch::new(hook);
    loop {
        // SAFETY: per the contract; no reference outlives this statement.
        let progress = unsafe {
            let target = &mut *target.0.as_ptr();
            dispatch.run(
                Some(&*table),
                &global.priorities,
                target,
                |t| t.local(),
                |handler, hook, t| {
                    resume.arm(handler.plugin().id);
                    let outcome = handler.fire_hook(hook, t.edata(), global.slow_callback);
                    match resume.ended(outcome == Outcome::Pending) {
                        Ended::Answered => outcome,
                        Ended::Early(outcome) => outcome,
                        Ended::Pending => Outcome::Pending,
                    }
                },
            )
        };
        match progress {
            Progress::Done(outcome) => return outcome,
            Progress::Pending => match resume.wait(global.hook_pending).await {
                Some(outcome) => dispatch.resume(outcome),
                None => {
                    warn!(%hook, limit = ?global.hook_pending,
                        "a hook callback stayed pending past timeouts.hook_pending");
                    // SAFETY: as above.
                    unsafe { (*target.0.as_ptr()).expired() };
                    dispatch.resume(Outcome::Error);
                }
            },
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
/// `state` was made by `Box::leak`, and its owning box drops now.
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
        drop(unsafe { Box::from_raw(state.0.as_ptr()) });
    }
}

/// Frees `state` after `delay` on the scheduler thread if `still_ours` then says so.
fn free_later<T: 'static>(
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
            drop(unsafe { Box::from_raw(state.raw()) });
        }
    });
}

/// Frees a transaction or session abandoned while pending, from its resume.
///
/// # Safety
///
/// `state` was abandoned by its box and is used by nobody else.
pub(crate) unsafe fn free_abandoned<T>(state: *mut T) {
    // SAFETY: per the contract.
    drop(unsafe { Box::from_raw(state) });
}
