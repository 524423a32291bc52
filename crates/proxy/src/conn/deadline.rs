//! A transaction's deadlines (`timeouts.transaction_active`, `timeouts.origin_response`) and
//! the phases they bound ([`Bounded`]).
//!
//! On an HTTP/1 connection the connection's driver (`server/worker.rs`) keeps them, on the one
//! timer it already has for the connection's own timeouts: it finds a deadline passed, marks it
//! so, and polls the connection, whose bounded phase then ends. Its timer is moved only for a
//! deadline earlier than the one it is set for (normally `timeouts.header_read` ahead at most).
//! A tokio timer per phase instead registers in the runtime's timer wheel and leaves it again,
//! twice per request: about a thousand instructions, 4 % of a plain request's, for deadlines
//! that almost never pass.
//!
//! An HTTP/2 stream runs on a task of its own, which no driver polls: its phases keep tokio
//! timers.

use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::time::Sleep;

/// A bounded phase of a transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    /// From the request head to the response head (`timeouts.transaction_active`).
    Transaction,
    /// From sending a request to an origin to its response head (`timeouts.origin_response`).
    OriginResponse,
}

const PHASES: usize = 2;

/// The deadlines of a connection's running HTTP/1 transaction, one per [`Phase`] (a connection
/// runs one transaction at a time).
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    /// Per phase, nanoseconds past [`base`] (0: none).
    at: [AtomicU64; PHASES],
    /// Per phase, whether the driver found its deadline passed.
    passed: [AtomicBool; PHASES],
}

impl Deadlines {
    /// Sets `phase`'s deadline (and forgets an earlier one's passing).
    fn arm(&self, phase: Phase, at: Instant) {
        self.passed[phase as usize].store(false, Ordering::Relaxed);
        self.at[phase as usize].store(nanos(at), Ordering::Relaxed);
    }

    /// Clears `phase`'s deadline.
    fn disarm(&self, phase: Phase) {
        self.at[phase as usize].store(0, Ordering::Relaxed);
        self.passed[phase as usize].store(false, Ordering::Relaxed);
    }

    /// Whether the driver found `phase`'s deadline passed.
    fn has_passed(&self, phase: Phase) -> bool {
        self.passed[phase as usize].load(Ordering::Relaxed)
    }

    /// The earliest deadline set, in nanoseconds past [`base`] (`u64::MAX`: none).
    fn next_nanos(&self) -> u64 {
        let at = self.at.iter().map(|at| at.load(Ordering::Relaxed));
        at.filter(|&at| at != 0).min().unwrap_or(u64::MAX)
    }

    /// The earliest deadline set, if one is.
    pub(crate) fn next(&self) -> Option<Instant> {
        match self.next_nanos() {
            u64::MAX => None,
            at => Some(base() + Duration::from_nanos(at)),
        }
    }

    /// Whether a deadline earlier than `at` is set.
    pub(crate) fn any_before(&self, at: Moment) -> bool {
        self.next_nanos() < at.0
    }

    /// Marks every deadline at or before `now` passed, and clears it.
    pub(crate) fn pass(&self, now: Instant) {
        let now = nanos(now);
        for (at, passed) in self.at.iter().zip(&self.passed) {
            let deadline = at.load(Ordering::Relaxed);
            if deadline != 0 && deadline <= now {
                at.store(0, Ordering::Relaxed);
                passed.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// The moment deadlines are counted from: the first asked for in the process.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// A moment as deadlines are kept: converted once, compared at every wake.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Moment(u64);

impl From<Instant> for Moment {
    fn from(at: Instant) -> Moment {
        Moment(nanos(at))
    }
}

/// `at` in nanoseconds past [`base`], at least 1 (a moment before it is as passed as one at it).
fn nanos(at: Instant) -> u64 {
    let past = at.saturating_duration_since(base()).as_nanos();
    u64::try_from(past).unwrap_or(u64::MAX - 1).max(1)
}

/// A phase's deadline passed first.
#[derive(Debug)]
pub(crate) struct Expired;

/// A phase of a transaction, ended with [`Expired`] at its deadline if it has not ended by then.
pub(crate) struct Bounded<'a, F> {
    phase: Pin<&'a mut F>,
    by: By<'a>,
}

/// What ends a bounded phase at its deadline.
enum By<'a> {
    /// The connection's driver (HTTP/1).
    Driver(&'a Deadlines, Phase),
    /// A timer of its own (HTTP/2).
    Timer(Pin<Box<Sleep>>),
}

impl<'a, F: Future> Bounded<'a, F> {
    /// `phase` (of kind `kind`) bounded by `at`: by the connection's driver through `driver`
    /// (an HTTP/1 connection's deadlines), or by a timer of its own without.
    pub(crate) fn new(
        phase: Pin<&'a mut F>,
        kind: Phase,
        at: Instant,
        driver: Option<&'a Deadlines>,
    ) -> Bounded<'a, F> {
        let by = match driver {
            Some(deadlines) => {
                deadlines.arm(kind, at);
                By::Driver(deadlines, kind)
            }
            None => By::Timer(Box::pin(tokio::time::sleep_until(at.into()))),
        };
        Bounded { phase, by }
    }
}

impl<F: Future> Future for Bounded<'_, F> {
    type Output = Result<F::Output, Expired>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(output) = this.phase.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match &mut this.by {
            By::Driver(deadlines, kind) if deadlines.has_passed(*kind) => Poll::Ready(Err(Expired)),
            By::Driver(..) => Poll::Pending,
            By::Timer(sleep) => sleep.as_mut().poll(cx).map(|()| Err(Expired)),
        }
    }
}

impl<F> Drop for Bounded<'_, F> {
    fn drop(&mut self) {
        if let By::Driver(deadlines, kind) = self.by {
            deadlines.disarm(kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::{pending, ready};

    use super::*;

    #[test]
    fn the_driver_passes_what_is_due_and_keeps_the_rest() {
        let d = Deadlines::default();
        let now = Instant::now();
        assert_eq!(d.next(), None);
        assert!(!d.any_before((now + Duration::from_secs(3600)).into()));
        d.arm(Phase::Transaction, now + Duration::from_secs(900));
        d.arm(Phase::OriginResponse, now + Duration::from_millis(250));
        let next = d.next().expect("two are set");
        assert_eq!(next, now + Duration::from_millis(250));
        assert!(d.any_before((now + Duration::from_secs(1)).into()));
        assert!(!d.any_before((now + Duration::from_millis(100)).into()));

        d.pass(now + Duration::from_millis(249));
        assert!(!d.has_passed(Phase::OriginResponse));
        d.pass(now + Duration::from_millis(250));
        assert!(d.has_passed(Phase::OriginResponse));
        assert!(!d.has_passed(Phase::Transaction));
        // Passed and cleared: the transaction's deadline is the next.
        assert!(d.next().is_some_and(|n| n > now + Duration::from_secs(899)));

        // Armed again (the next try of an origin): no longer passed.
        d.arm(Phase::OriginResponse, now + Duration::from_secs(1));
        assert!(!d.has_passed(Phase::OriginResponse));
        d.disarm(Phase::Transaction);
        d.disarm(Phase::OriginResponse);
        assert_eq!(d.next(), None);
        // A deadline already behind is passed at once.
        d.arm(Phase::Transaction, now - Duration::from_secs(1));
        d.pass(now);
        assert!(d.has_passed(Phase::Transaction));
    }

    #[tokio::test]
    async fn a_phase_ends_when_its_deadline_is_marked_passed_and_disarms_when_dropped() {
        let d = Deadlines::default();
        let now = Instant::now();
        let mut never = pending::<()>();
        let mut phase = Bounded::new(
            Pin::new(&mut never),
            Phase::OriginResponse,
            now + Duration::from_secs(60),
            Some(&d),
        );
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(Pin::new(&mut phase).poll(&mut cx).is_pending());
        assert!(d.next().is_some());
        d.pass(now + Duration::from_secs(60));
        assert!(matches!(Pin::new(&mut phase).poll(&mut cx), Poll::Ready(Err(Expired))));
        drop(phase);
        assert!(!d.has_passed(Phase::OriginResponse));

        // A phase that ends first wins, and leaves no deadline behind.
        let mut done = ready(7);
        let at = now + Duration::from_secs(60);
        let phase = Bounded::new(Pin::new(&mut done), Phase::Transaction, at, Some(&d));
        assert!(matches!(phase.await, Ok(7)));
        assert_eq!(d.next(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_driver_a_timer_of_its_own_ends_the_phase() {
        let mut never = pending::<()>();
        let at = Instant::now() + Duration::from_secs(60);
        let phase = Bounded::new(Pin::new(&mut never), Phase::OriginResponse, at, None);
        assert!(matches!(phase.await, Err(Expired)));
    }
}
