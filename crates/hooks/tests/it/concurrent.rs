//! Many transactions dispatched from two threads over one global table, while one transaction's
//! control keeps changing.

use std::sync::{Arc, Barrier, Mutex};

use hookyard_hooks::{Caller, HookId, Outcome, Progress};

use crate::support::{Txn, World, reg};

const TXNS: usize = 5_000;
const HOOK: HookId = HookId::ReadRequestHdr;

#[test]
fn dispatch_from_two_threads_while_a_transactions_overrides_change() {
    let mut world =
        World::new("priorities:\n  plugins:\n    - { name: p0, priority: 3, max_priority: 3 }\n");
    let labels = ["p0", "p1", "p2", "p3"];
    for label in labels {
        reg(&mut world.global, &world.priorities, HOOK, label, label, None);
    }
    let world = Arc::new(world);
    let shared: Arc<Mutex<Txn>> = Arc::new(Mutex::new(world.txn()));
    let p1 = world.priorities.plugin("p1");
    let barrier = Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..2 {
            let (world, shared, barrier) = (&world, &shared, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..TXNS {
                    let mut txn = world.txn();
                    assert_eq!(world.dispatch(HOOK, &mut txn), Progress::Done(Outcome::Continue));
                    assert_eq!(txn.log, labels);
                    if i % 10 == 0 {
                        let mut shared = shared.lock().unwrap();
                        shared.log.clear();
                        world.dispatch(HOOK, &mut shared);
                        let with = shared.log == labels;
                        let without = shared.log == ["p0", "p2", "p3"];
                        assert!(with || without, "{:?}", shared.log);
                    }
                }
            });
        }
        let (world, shared, barrier) = (&world, &shared, &barrier);
        s.spawn(move || {
            barrier.wait();
            for i in 0..TXNS {
                let mut txn = shared.lock().unwrap();
                txn.control
                    .set_plugin_enabled(p1, i % 2 == 0, &Caller::OPERATOR, &world.priorities)
                    .unwrap();
            }
        });
    });
    for label in labels {
        let context =
            world.global.entries(HOOK).iter().find(|e| e.callback().context().name() == label);
        assert_eq!(context.unwrap().callback().context().snapshot().live_continuations, 1);
    }
}
