//! Pending hooks: which plugin's callback a transaction (or session) waits on, and the one
//! resume that ends the wait.
//!
//! Rules, for every host (the ABI's `txn_resume` / `ssn_resume` contract):
//! - Only the plugin version whose callback answered PENDING may resume, and only once. Any
//!   other resume — a second one, one from another plugin, one when nothing is pending, one
//!   after the wait expired — is refused (`HY_ERROR`) and changes nothing.
//! - A resume may arrive from another thread while the callback that will answer PENDING still
//!   runs (the plugin started a thread that was quick): it is kept and ends the wait at once. A
//!   resume from inside the callback itself is refused: nothing is pending yet.
//! - A wait longer than `timeouts.hook_pending` expires: the dispatch goes on as if the callback
//!   failed, and a late resume is refused.
//!
//! One word holds the state, the owner (the [`PluginState`] id of the callback's plugin) and the
//! result, so that checking the owner and changing the state is one compare-and-swap: two
//! resumes racing each other (the callback-versus-timeout race of plugins) cannot both win.
//!
//! [`PluginState`]: super::PluginState

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hookyard_abi as abi;
use hookyard_hooks::Outcome;
use tokio::sync::Notify;

/// Nothing pending, no callback running.
const IDLE: u64 = 0;
/// A callback of the owner runs now.
const RUNNING: u64 = 1;
/// The owner resumed while its callback still ran.
const EARLY: u64 = 2;
/// The callback answered PENDING; the dispatch waits.
const PENDING: u64 = 3;
/// The owner resumed; the dispatch has not taken the result yet.
const RESUMED: u64 = 4;
/// The transaction or session was dropped while pending: the owner's resume frees it.
const ABANDONED: u64 = 5;

const STATE_BITS: u64 = 0b111;
/// Set with EARLY and RESUMED when the result is `HY_HOOK_ERROR`.
const ERROR_BIT: u64 = 0b1000;
const OWNER_SHIFT: u32 = 8;

fn state(word: u64) -> u64 {
    word & STATE_BITS
}

fn owner(word: u64) -> u64 {
    word >> OWNER_SHIFT
}

fn word(owner: u64, state: u64) -> u64 {
    (owner << OWNER_SHIFT) | state
}

fn outcome(word: u64) -> Outcome {
    if word & ERROR_BIT != 0 { Outcome::Error } else { Outcome::Continue }
}

thread_local! {
    /// The state whose callback runs on this thread now, if any.
    static IN_CALLBACK: Cell<*const Resume> = const { Cell::new(std::ptr::null()) };
}

/// What a resume did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resumed {
    /// Refused: nothing of the caller's is pending (or it was resumed already).
    Refused,
    /// The waiting dispatch goes on (or will, when its callback returns).
    Done,
    /// The transaction or session had been abandoned: the caller now owns and frees it.
    Abandoned,
}

/// How a callback that ran ended, as far as pending goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Not pending.
    Answered,
    /// Answered PENDING, and its resume came already (while it ran): this outcome.
    Early(Outcome),
    /// Answered PENDING: wait for the resume.
    Pending,
}

/// The pending state of one transaction or session.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    word: AtomicU64,
    notify: Notify,
    /// A wait of this transaction or session expired: a late resume may still come, so its
    /// state is freed only after a grace period.
    expired: AtomicU64,
    /// The limit of the last wait, in milliseconds.
    limit_ms: AtomicU64,
}

impl Resume {
    /// A callback of plugin `owner` is about to run.
    #[inline]
    pub(crate) fn arm(&self, owner: u64) {
        IN_CALLBACK.set(self);
        self.word.store(word(owner, RUNNING), Ordering::Release);
    }

    /// The callback armed with [`Resume::arm`] returned; `pending`: it answered PENDING.
    #[inline]
    pub(crate) fn ended(&self, pending: bool) -> Ended {
        IN_CALLBACK.set(std::ptr::null());
        let current = self.word.load(Ordering::Acquire);
        if pending && state(current) == RUNNING {
            let next = word(owner(current), PENDING);
            match self.word.compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ended::Pending,
                // Only the owner's resume can have changed it: EARLY.
                Err(now) => {
                    self.word.store(IDLE, Ordering::Release);
                    return Ended::Early(outcome(now));
                }
            }
        }
        let before = self.word.swap(IDLE, Ordering::AcqRel);
        match (pending, state(before)) {
            (true, EARLY) => Ended::Early(outcome(before)),
            (false, EARLY) => {
                tracing::debug!("a callback resumed its transaction and did not answer PENDING");
                Ended::Answered
            }
            _ => Ended::Answered,
        }
    }

    /// A resume by plugin `caller` (`None`: the caller could not be told; then only the
    /// once-only rule applies) with the ABI result `result`.
    pub(crate) fn resume(&self, caller: Option<u64>, result: i32) -> Resumed {
        if std::ptr::eq(IN_CALLBACK.get(), self) {
            return Resumed::Refused;
        }
        let error = if result == abi::HY_HOOK_ERROR { ERROR_BIT } else { 0 };
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            if caller.is_some_and(|c| c != owner(current)) {
                return Resumed::Refused;
            }
            let next = match state(current) {
                RUNNING => word(owner(current), EARLY) | error,
                PENDING => word(owner(current), RESUMED) | error,
                ABANDONED => IDLE,
                _ => return Resumed::Refused,
            };
            match self.word.compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) if state(current) == ABANDONED => return Resumed::Abandoned,
                Ok(_) => {
                    if state(current) == PENDING {
                        self.notify.notify_one();
                    }
                    return Resumed::Done;
                }
                Err(now) => current = now,
            }
        }
    }

    /// Waits for the resume of a pending callback, at most `limit`; `None` when it expired (a
    /// late resume is then refused).
    pub(crate) async fn wait(&self, limit: Duration) -> Option<Outcome> {
        self.limit_ms.store(limit.as_millis() as u64, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let current = self.word.load(Ordering::Acquire);
            match state(current) {
                RESUMED => {
                    self.word.store(IDLE, Ordering::Release);
                    return Some(outcome(current));
                }
                PENDING => {}
                // Nothing else happens to a pending word while its dispatch waits.
                _ => return Some(Outcome::Error),
            }
            // A permit left by a resume whose result was taken without waiting wakes this
            // early: the loop looks again.
            if tokio::time::timeout_at(deadline, self.notify.notified()).await.is_err()
                && self.expire()
            {
                return None;
            }
        }
    }

    /// Ends a pending wait without its resume; `false` when the resume came first.
    pub(crate) fn expire(&self) -> bool {
        let current = self.word.load(Ordering::Acquire);
        if state(current) != PENDING {
            return false;
        }
        let expired =
            self.word.compare_exchange(current, IDLE, Ordering::AcqRel, Ordering::Acquire).is_ok();
        if expired {
            self.expired.fetch_add(1, Ordering::Relaxed);
        }
        expired
    }

    /// The transaction or session is dropped: `true` when a callback still holds it pending
    /// (then its owner's resume frees it, or [`Resume::reclaim`] does).
    pub(crate) fn abandon(&self) -> bool {
        let current = self.word.load(Ordering::Acquire);
        state(current) == PENDING
            && self
                .word
                .compare_exchange(
                    current,
                    word(owner(current), ABANDONED),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// Takes an abandoned state back from its owner, who did not resume in time: `true` when
    /// the caller now frees it (the owner's resume did not come first).
    pub(crate) fn reclaim(&self) -> bool {
        let current = self.word.load(Ordering::Acquire);
        state(current) == ABANDONED
            && self
                .word
                .compare_exchange(current, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// The limit of the last wait (what an abandoned state's owner has to resume it).
    pub(crate) fn limit(&self) -> Duration {
        Duration::from_millis(self.limit_ms.load(Ordering::Relaxed))
    }

    /// Whether a wait of this state ever expired (a late resume may still come).
    pub(crate) fn ever_expired(&self) -> bool {
        self.expired.load(Ordering::Relaxed) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Option<u64> = Some(1);
    const B: Option<u64> = Some(2);
    const CONTINUE: i32 = abi::HY_HOOK_CONTINUE;

    #[test]
    fn only_the_owner_resumes_and_only_once() {
        let r = Resume::default();
        assert_eq!(r.resume(A, CONTINUE), Resumed::Refused, "nothing pending");
        r.arm(1);
        assert_eq!(r.ended(true), Ended::Pending);
        assert_eq!(r.resume(B, CONTINUE), Resumed::Refused, "another plugin");
        assert_eq!(r.resume(A, abi::HY_HOOK_ERROR), Resumed::Done);
        assert_eq!(r.resume(A, CONTINUE), Resumed::Refused, "a second resume");
        assert_eq!(r.resume(None, CONTINUE), Resumed::Refused, "an unknown caller, too");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let waited = runtime.block_on(r.wait(Duration::from_secs(5)));
        assert_eq!(waited, Some(Outcome::Error));
        assert_eq!(r.resume(A, CONTINUE), Resumed::Refused, "taken: idle again");
    }

    #[test]
    fn a_resume_while_the_callback_runs_ends_the_wait_at_once() {
        let r = std::sync::Arc::new(Resume::default());
        r.arm(1);
        assert_eq!(r.resume(A, CONTINUE), Resumed::Refused, "from the callback itself");
        let other = r.clone();
        let from_another_thread = std::thread::spawn(move || {
            [other.resume(B, CONTINUE), other.resume(A, CONTINUE), other.resume(A, CONTINUE)]
        });
        assert_eq!(
            from_another_thread.join().unwrap(),
            [Resumed::Refused, Resumed::Done, Resumed::Refused]
        );
        assert_eq!(r.ended(true), Ended::Early(Outcome::Continue));
        r.arm(2);
        assert_eq!(r.ended(false), Ended::Answered);
        assert_eq!(r.resume(B, CONTINUE), Resumed::Refused, "not pending");
    }

    #[test]
    fn an_expired_wait_refuses_the_late_resume() {
        let r = Resume::default();
        r.arm(1);
        assert_eq!(r.ended(true), Ended::Pending);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        assert_eq!(runtime.block_on(r.wait(Duration::from_millis(10))), None);
        assert!(r.ever_expired());
        assert_eq!(r.resume(A, CONTINUE), Resumed::Refused);
    }

    #[test]
    fn an_abandoned_state_goes_to_exactly_one_of_resume_and_reclaim() {
        let r = Resume::default();
        r.arm(1);
        r.ended(true);
        assert!(r.abandon());
        assert_eq!(r.resume(B, CONTINUE), Resumed::Refused);
        assert_eq!(r.resume(A, CONTINUE), Resumed::Abandoned);
        assert!(!r.reclaim(), "the resume took it");

        let r = Resume::default();
        r.arm(1);
        r.ended(true);
        assert!(r.abandon());
        assert!(r.reclaim());
        assert_eq!(r.resume(A, CONTINUE), Resumed::Refused, "reclaimed: the resume is late");
    }

    #[test]
    fn racing_resumes_of_the_owner_win_once() {
        for _ in 0..200 {
            let r = std::sync::Arc::new(Resume::default());
            r.arm(1);
            assert_eq!(r.ended(true), Ended::Pending);
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let r = r.clone();
                    std::thread::spawn(move || r.resume(A, CONTINUE))
                })
                .collect();
            let done = threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .filter(|r| *r == Resumed::Done)
                .count();
            assert_eq!(done, 1);
        }
    }
}
