//! Reservation, look-ups and global slots used from several threads at once.

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};

use hookyard_userargs::{Error, Glb, Kind, Registry, Txn};

const THREADS: usize = 4;
const ROUNDS: usize = 200;

#[test]
fn threads_reserving_the_same_names_get_one_index_each() {
    let names: Vec<String> = (0..12).map(|n| format!("plugin-{n}")).collect();
    for _ in 0..ROUNDS {
        let registry = Registry::new();
        let barrier = Barrier::new(THREADS);
        let seen: Vec<BTreeMap<String, i32>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let (registry, barrier, names) = (&registry, &barrier, &names);
                    scope.spawn(move || {
                        barrier.wait();
                        // Each thread walks the names from another starting point.
                        (0..names.len())
                            .map(|n| &names[(n + thread * 3) % names.len()])
                            .map(|name| {
                                (name.clone(), registry.reserve::<Txn>(name, "").unwrap().raw())
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for other in &seen[1..] {
            assert_eq!(other, &seen[0], "every thread got the same index for every name");
        }
        let mut indices: Vec<i32> = seen[0].values().copied().collect();
        indices.sort_unstable();
        assert_eq!(indices, (1000..1012).collect::<Vec<_>>(), "one slot per name, densely");
        assert_eq!(registry.reserved(Kind::Transaction), names.len());
    }
}

#[test]
fn racing_past_the_capacity_hands_out_exactly_the_capacity() {
    const PER_THREAD: usize = 10;
    for _ in 0..ROUNDS {
        let registry = Registry::new();
        let barrier = Barrier::new(THREADS);
        let results: Vec<Result<i32, Error>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let (registry, barrier) = (&registry, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        (0..PER_THREAD)
                            .map(|n| {
                                registry.reserve_raw(
                                    Kind::Transaction,
                                    &format!("{thread}-{n}"),
                                    "",
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let mut granted: Vec<i32> =
            results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
        granted.sort_unstable();
        assert_eq!(granted, (1000..1016).collect::<Vec<_>>());
        let refused = results.iter().filter(|r| matches!(r, Err(Error::Full { .. }))).count();
        assert_eq!(refused, THREADS * PER_THREAD - 16);
        assert_eq!(registry.reserved(Kind::Transaction), 16);
    }
}

#[test]
fn look_ups_during_reservation_see_only_complete_entries() {
    let registry = Registry::new();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..THREADS - 1 {
            scope.spawn(|| {
                // Runs until the writer is done; every entry it sees is whole and consistent.
                while !done.load(Ordering::Acquire) {
                    let reserved = registry.reserved(Kind::Global);
                    for slot in 0..reserved {
                        let index = 4000 + i32::try_from(slot).unwrap();
                        let entry = registry.describe_raw(Kind::Global, index).unwrap();
                        assert_eq!(entry.name(), format!("g{slot}"));
                        assert_eq!(entry.description(), format!("slot {slot}"));
                        let (found, _) = registry.find::<Glb>(entry.name()).unwrap();
                        assert_eq!(found.raw(), index);
                    }
                }
            });
        }
        scope.spawn(|| {
            for slot in 0..128 {
                registry.reserve::<Glb>(&format!("g{slot}"), &format!("slot {slot}")).unwrap();
            }
            done.store(true, Ordering::Release);
        });
    });
    assert_eq!(registry.reserved(Kind::Global), 128);
}

#[test]
fn global_readers_see_only_values_that_were_written() {
    const WRITES: usize = 20_000;
    let registry = Registry::new();
    let index = registry.reserve::<Glb>("shared", "").unwrap();
    let global = registry.global();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut seen = 0_usize;
            while !done.load(Ordering::Acquire) {
                let addr = global.get_ptr(index);
                assert!(addr == 0 || (addr.is_multiple_of(16) && addr <= 16 * WRITES), "{addr:#x}");
                if let Some(value) = global.get::<usize>(index) {
                    assert!(*value < WRITES, "{value}");
                }
                seen += usize::from(addr != 0);
            }
            seen
        });
        scope.spawn(|| {
            for n in 0..WRITES {
                if n % 2 == 0 {
                    global.set_ptr(index, 16 * (n + 1)).unwrap();
                } else {
                    global.set(index, n).unwrap();
                }
            }
            done.store(true, Ordering::Release);
        });
        reader.join().unwrap()
    });
    global.set_ptr(index, 0x10).unwrap();
    assert_eq!(global.get_ptr(index), 0x10);
}
