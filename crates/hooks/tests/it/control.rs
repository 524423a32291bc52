//! Inspection and manipulation of a transaction's callbacks, limited by the caller's ceiling.

use hookyard_hooks::{CallbackInfo, Error, HookId, Level, Priority, Tables, callbacks};

use crate::support::{World, local, reg};

const CONFIG: &str = "\
priorities:
  plugins:
    - { name: boss, max_priority: 100, priority: 50 }
    - { name: mid, max_priority: 50, priority: 40 }
    - { name: low, max_priority: 10, priority: 10 }
";

fn names(list: &[CallbackInfo]) -> Vec<(String, i32, Level, bool)> {
    list.iter().map(|c| (c.plugin_name.clone(), c.priority.0, c.level, c.enabled)).collect()
}

#[test]
fn inspection_lists_the_callbacks_in_dispatch_order_with_their_state() {
    let mut world = World::new(CONFIG);
    let mut txn = world.txn();
    let hook = HookId::ReadRequestHdr;
    reg(&mut world.global, &world.priorities, hook, "low", "low", None);
    reg(&mut txn.txn, &world.priorities, hook, "boss", "boss", None);
    reg(&mut txn.session, &world.priorities, hook, "mid", "mid", None);
    let low = world.priorities.plugin("low");
    let mid_caller = world.priorities.caller(world.priorities.plugin("mid"));
    txn.control.set_plugin_enabled(low, false, &mid_caller, &world.priorities).unwrap();

    let list = callbacks(hook, Some(&world.global), &world.priorities, &local(&txn));
    assert_eq!(
        names(&list),
        [
            ("boss".to_owned(), 50, Level::Transaction, true),
            ("mid".to_owned(), 40, Level::Session, true),
            ("low".to_owned(), 10, Level::Global, false),
        ]
    );
}

#[test]
fn manipulation_is_allowed_below_the_callers_ceiling_and_refused_above() {
    let mut world = World::new(CONFIG);
    let mut txn = world.txn();
    let hook = HookId::PreRemap;
    reg(&mut world.global, &world.priorities, hook, "boss", "boss", None);
    reg(&mut world.global, &world.priorities, hook, "mid", "mid", None);
    reg(&mut world.global, &world.priorities, hook, "low", "low", None);
    let ids: Vec<_> = world.global.entries(hook).iter().map(|e| e.id()).collect();
    let (boss_cb, mid_cb, low_cb) = (ids[0], ids[1], ids[2]);
    let mid = world.priorities.caller(world.priorities.plugin("mid"));
    let tables = Tables { global: Some(&world.global), session: None, txn: None };

    // Below the ceiling (50): allowed.
    txn.control.set_callback_enabled(&tables, None, hook, low_cb, false, &mid).unwrap();
    txn.control.set_callback_priority(&tables, None, hook, low_cb, Priority(45), &mid).unwrap();
    // At or above the ceiling: refused, typed.
    assert_eq!(
        txn.control.set_callback_enabled(&tables, None, hook, boss_cb, false, &mid),
        Err(Error::NotPermitted {
            what: format!("callback {}", boss_cb.get()),
            priority: Priority(50),
            ceiling: Priority(50)
        })
    );
    txn.control.remove_callback(&tables, None, hook, mid_cb, &mid).unwrap();
    // Raising something past one's own ceiling is refused.
    assert_eq!(
        txn.control.set_callback_priority(&tables, None, hook, low_cb, Priority(51), &mid),
        Err(Error::AboveOwnCeiling { value: Priority(51), ceiling: Priority(50) })
    );
    assert_eq!(
        txn.control.set_threshold(None, Some(Priority(60)), &mid),
        Err(Error::AboveOwnCeiling { value: Priority(60), ceiling: Priority(50) })
    );
    // Switching off a whole plugin that outranks the caller is refused; itself is fine.
    let boss = world.priorities.plugin("boss");
    assert!(matches!(
        txn.control.set_plugin_enabled(boss, false, &mid, &world.priorities),
        Err(Error::NotPermitted { .. })
    ));
    txn.control.set_plugin_enabled(mid.plugin, true, &mid, &world.priorities).unwrap();
    // An unknown callback is named.
    let absent = world.global.entries(hook)[0].id();
    assert_eq!(
        txn.control.set_callback_enabled(&tables, None, HookId::PostRemap, absent, false, &mid),
        Err(Error::UnknownCallback(absent))
    );

    world.dispatch(hook, &mut txn);
    assert_eq!(txn.log, ["boss"], "mid removed itself; low switched off");
    let listed = callbacks(hook, Some(&world.global), &world.priorities, &local(&txn));
    assert_eq!(
        names(&listed),
        [
            ("boss".to_owned(), 50, Level::Global, true),
            ("low".to_owned(), 45, Level::Global, false)
        ],
        "a removed callback is not listed; a moved one shows its new priority"
    );
}
