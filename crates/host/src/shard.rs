//! Values split over threads, as ATS keeps its statistics per thread: a counter that every
//! worker updates on every call would otherwise move its cache line between cores at each
//! update. A thread updates the shard it got on first use (threads past the shard count share
//! one), and a read adds the shards up.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// At most this many shards, whatever the machine.
const MAX_SHARDS: usize = 32;

/// How many shards each sharded value has: twice the machine's parallelism (threads other than
/// the workers update some too), as a power of two, at most [`MAX_SHARDS`].
fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (2 * cores).next_power_of_two().min(MAX_SHARDS)
    })
}

/// The calling thread's shard, given in the order threads first update a sharded value.
#[inline]
fn index() -> usize {
    /// Not given yet.
    const NONE: usize = usize::MAX;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        // Constant-initialised: read without a lazy-initialisation check.
        static INDEX: Cell<usize> = const { Cell::new(NONE) };
    }
    INDEX.with(|index| match index.get() {
        NONE => {
            let given = NEXT.fetch_add(1, Ordering::Relaxed) & (count() - 1);
            index.set(given);
            given
        }
        given => given,
    })
}

/// One shard, on cache lines of its own.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// A value of type `T` per shard.
#[derive(Debug)]
pub(crate) struct Sharded<T>(Box<[Padded<T>]>);

impl<T: Default> Default for Sharded<T> {
    fn default() -> Sharded<T> {
        Sharded((0..count()).map(|_| Padded::default()).collect())
    }
}

impl<T> Sharded<T> {
    /// The calling thread's shard.
    #[inline]
    pub(crate) fn mine(&self) -> &T {
        &self.0[index()].0
    }

    /// The first shard, for what one place must hold (a gauge that is set).
    pub(crate) fn first(&self) -> &T {
        &self.0[0].0
    }

    /// Every shard, to add them up.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map(|shard| &shard.0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    #[test]
    fn updates_from_many_threads_add_up() {
        let counter: Sharded<AtomicU64> = Sharded::default();
        std::thread::scope(|s| {
            for _ in 0..3 * MAX_SHARDS {
                s.spawn(|| {
                    for _ in 0..100 {
                        counter.mine().fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        let total: u64 = counter.iter().map(|n| n.load(Ordering::Relaxed)).sum();
        assert_eq!(total, 3 * MAX_SHARDS as u64 * 100);
    }

    #[test]
    fn a_thread_keeps_its_shard() {
        let counter: Sharded<AtomicU64> = Sharded::default();
        counter.mine().fetch_add(1, Ordering::Relaxed);
        counter.mine().fetch_add(1, Ordering::Relaxed);
        assert_eq!(counter.iter().filter(|n| n.load(Ordering::Relaxed) == 2).count(), 1);
    }
}
