//! A cheap clock for stamps that need milliseconds, not nanoseconds: a client connection's
//! last activity and the start of its request head, an origin connection's return to its pool.
//!
//! It reads the kernel's coarse monotonic clock (`coarsetime`), which the kernel sets once per
//! tick: a read is a few loads from the vDSO page, about a tenth of a precise read's cost on the
//! bench machine (2 ns against 22), where the clock source must be read and scaled. A
//! connection stamps its activity at every read and write, several times per transaction;
//! nginx likewise reads the time once per turn of its event loop, not at each use.
//!
//! Both ends of a span read this way may each lag by up to a tick, so the span is known to
//! within [`TICK`]; a timeout counted from a stamp takes the shortest span it may have been, so
//! that it does not end early. (The kernel advances the clock on one CPU's tick: on a busy
//! virtual machine whose host holds that CPU back, the clock can lag longer, and such a timeout
//! may then end early by the difference, a few milliseconds against timeouts of seconds.)
//! Durations reported to users (transactions, plugin callbacks) keep precise reads.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The longest a tick of the coarse clock may be: 10 ms, Linux's with `HZ=100` (the common
/// kernels tick every 4 ms or less).
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// A moment on the coarse clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(coarsetime::Instant);

impl Stamp {
    /// Now, as of the clock's last tick.
    pub(crate) fn now() -> Stamp {
        // Without the crate's cache of the latest reading: a store every worker would share.
        Stamp(coarsetime::Instant::now_without_cache_update())
    }

    /// The time from this stamp to `later` as the clock reads it (zero if `later` is earlier).
    pub(crate) fn until(self, later: Stamp) -> Duration {
        later.0.duration_since(self.0).into()
    }
}

/// Milliseconds on the coarse clock since its first reading in this process.
fn millis() -> u64 {
    static START: OnceLock<Stamp> = OnceLock::new();
    let start = *START.get_or_init(Stamp::now);
    u64::try_from(start.until(Stamp::now()).as_millis()).unwrap_or(u64::MAX)
}

/// A warning's rate: whether one is due now, the first at once, then at most one per period,
/// whichever thread asks.
#[derive(Debug, Default)]
pub(crate) struct Quiet {
    /// Until when (milliseconds of [`millis`]) none is due.
    until: AtomicU64,
}

impl Quiet {
    /// Whether a warning is due now; if so, none is for `every` after.
    pub(crate) fn due(&self, every: Duration) -> bool {
        let now = millis();
        let until = self.until.load(Ordering::Relaxed);
        let next = now.saturating_add(u64::try_from(every.as_millis()).unwrap_or(u64::MAX));
        now >= until
            && self
                .until
                .compare_exchange(until, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// How far the coarse clock may lag in tests (here and of stamps taken on it) and they still
/// hold: far more than a tick, for a loaded test machine.
#[cfg(test)]
pub(crate) const SLACK: Duration = Duration::from_millis(250);

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_span_on_the_coarse_clock_reads_as_the_precise_one() {
        let wait = Duration::from_millis(300);
        let (precise, coarse) = (Instant::now(), Stamp::now());
        std::thread::sleep(wait);
        let read = coarse.until(Stamp::now());
        let took = precise.elapsed();
        assert!(read + SLACK >= wait && read <= took + SLACK, "{read:?} read, {took:?} taken");
    }

    #[test]
    fn a_warning_is_due_at_first_then_once_per_period() {
        let quiet = Quiet::default();
        assert!(quiet.due(SLACK));
        assert!(!quiet.due(SLACK));
        std::thread::sleep(SLACK * 3);
        assert!(quiet.due(SLACK));
        assert!(!quiet.due(SLACK));
    }

    #[test]
    fn a_stamp_before_another_reads_as_no_time_from_it() {
        let earlier = Stamp::now();
        std::thread::sleep(SLACK * 2);
        let later = Stamp::now();
        assert!(later > earlier);
        assert_eq!(later.until(earlier), Duration::ZERO);
        assert!(earlier.until(later) >= SLACK);
    }
}
