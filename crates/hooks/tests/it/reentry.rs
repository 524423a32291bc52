//! Callbacks added while a hook is being dispatched, as ATS's `HttpHookState` orders them
//! (`src/api/HttpHookState.cc`): a callback added to a level that was empty when the dispatch
//! began runs in it, one added to a level already past its last callback does not, and a later
//! level always sees additions. ATS ignores a second `TSHttpTxnHookAdd` of the same
//! continuation, but not a second session add. And callbacks whose priority changes while the
//! hook is dispatched: none runs twice, none still to come is skipped.

use hookyard_hooks::{Caller, HookId, Outcome, Priority, Progress, Tables};

use crate::support::{Txn, World, logging, with_handler};

const HOOK: HookId = HookId::PreRemap;

#[test]
fn a_session_callback_adding_a_transaction_callback_sees_it_run_in_the_same_dispatch() {
    let world = World::new("");
    let mut txn = world.txn();
    let adder = with_handler("s", |txn| {
        txn.log.push("session".into());
        let added = logging("t", "txn-added", Outcome::Continue);
        let priorities = txn.priorities.clone();
        txn.txn.add(HOOK, added, None, &priorities).unwrap();
        Outcome::Continue
    });
    txn.session.add(HOOK, adder, None, &world.priorities).unwrap();
    assert_eq!(world.dispatch(HOOK, &mut txn), Progress::Done(Outcome::Continue));
    assert_eq!(txn.log, ["session", "txn-added"], "the initially empty level sees it");
}

#[test]
fn the_last_callback_of_a_level_adding_to_it_does_not_see_the_addition_run() {
    let world = World::new("");
    let mut txn = world.txn();
    let adder = with_handler("t", |txn| {
        txn.log.push("last".into());
        let priorities = txn.priorities.clone();
        txn.txn.add(HOOK, logging("t", "too-late", Outcome::Continue), None, &priorities).unwrap();
        Outcome::Continue
    });
    txn.txn.add(HOOK, adder, None, &world.priorities).unwrap();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["last"], "the level was exhausted when the addition came");
    assert_eq!(txn.txn.entries(HOOK).len(), 2, "it is registered for the next dispatch");
}

#[test]
fn a_callback_that_is_not_last_adding_to_its_level_sees_the_addition_run() {
    let world = World::new("");
    let mut txn = world.txn();
    let adder = with_handler("t", |txn| {
        txn.log.push("first".into());
        let priorities = txn.priorities.clone();
        txn.txn.add(HOOK, logging("t", "added", Outcome::Continue), None, &priorities).unwrap();
        Outcome::Continue
    });
    txn.txn.add(HOOK, adder, None, &world.priorities).unwrap();
    txn.txn.add(HOOK, logging("t", "second", Outcome::Continue), None, &world.priorities).unwrap();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["first", "second", "added"]);
}

#[test]
fn an_addition_that_sorts_before_the_current_position_waits_for_the_next_dispatch() {
    let world = World::new("priorities:\n  default: { priority: 0, max_priority: 100 }\n");
    let mut txn = world.txn();
    let adder = with_handler("s", |txn| {
        txn.log.push("session".into());
        let priorities = txn.priorities.clone();
        let early = logging("t", "would-have-been-first", Outcome::Continue);
        txn.txn.add(HOOK, early, Some(Priority(50)), &priorities).unwrap();
        Outcome::Continue
    });
    txn.session.add(HOOK, adder, None, &world.priorities).unwrap();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["session"]);
    txn.log.clear();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["would-have-been-first", "session"]);
}

#[test]
fn duplicate_adds_are_ignored_at_transaction_level_only() {
    let world = World::new("");
    let mut txn = world.txn();
    let once = logging("t", "txn", Outcome::Continue);
    let first = txn.txn.add(HOOK, once.clone(), None, &world.priorities).unwrap();
    let second = txn.txn.add(HOOK, once, None, &world.priorities).unwrap();
    assert_eq!(first, second, "the second add returns the first registration");
    let twice = logging("s", "ssn", Outcome::Continue);
    txn.session.add(HOOK, twice.clone(), None, &world.priorities).unwrap();
    txn.session.add(HOOK, twice, None, &world.priorities).unwrap();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["ssn", "ssn", "txn"], "a txn add runs once, session adds twice");
}

/// Gives `plugin`'s transaction callback on [`HOOK`] the priority `to` for the transaction.
fn move_callback(txn: &mut Txn, plugin: &str, to: i32) {
    let plugin = txn.priorities.plugin(plugin);
    let id = txn.txn.entries(HOOK).iter().find(|e| e.plugin() == plugin).unwrap().id();
    let tables = Tables { global: None, session: Some(&txn.session), txn: Some(&txn.txn) };
    let op = Caller::OPERATOR;
    txn.control.set_callback_priority(&tables, None, HOOK, id, Priority(to), &op).unwrap();
}

/// Three transaction callbacks `a` (30), `b` (20, running `b`) and `c` (10).
fn three(world: &World, b: impl Fn(&mut Txn) + Send + Sync + 'static) -> Txn {
    let mut txn = world.txn();
    let p = &world.priorities;
    txn.txn.add(HOOK, logging("a", "a", Outcome::Continue), Some(Priority(30)), p).unwrap();
    let middle = with_handler("b", move |txn| {
        txn.log.push("b".into());
        b(txn);
        Outcome::Continue
    });
    txn.txn.add(HOOK, middle, Some(Priority(20)), p).unwrap();
    txn.txn.add(HOOK, logging("c", "c", Outcome::Continue), Some(Priority(10)), p).unwrap();
    txn
}

const ROOM: &str = "priorities:\n  default: { priority: 0, max_priority: 100 }\n";

#[test]
fn a_callback_that_ran_and_is_moved_after_the_position_does_not_run_again() {
    let world = World::new(ROOM);
    let mut txn = three(&world, |txn| move_callback(txn, "b", 5));
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["a", "b", "c"]);
}

#[test]
fn a_callback_still_to_come_moved_before_the_position_still_runs() {
    let world = World::new(ROOM);
    let mut txn = three(&world, |txn| move_callback(txn, "c", 50));
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["a", "b", "c"]);
    txn.log.clear();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["c", "a", "b"], "and runs first in later dispatches");
}

#[test]
fn an_addition_before_the_position_waits_also_while_priorities_change() {
    let world = World::new(ROOM);
    let mut txn = world.txn();
    let p = &world.priorities;
    let first = with_handler("a", |txn| {
        txn.log.push("a".into());
        move_callback(txn, "c", 15);
        Outcome::Continue
    });
    txn.txn.add(HOOK, first, Some(Priority(30)), p).unwrap();
    let adder = with_handler("b", |txn| {
        txn.log.push("b".into());
        let priorities = txn.priorities.clone();
        let early = logging("d", "d", Outcome::Continue);
        txn.txn.add(HOOK, early, Some(Priority(50)), &priorities).unwrap();
        Outcome::Continue
    });
    txn.txn.add(HOOK, adder, Some(Priority(20)), p).unwrap();
    txn.txn.add(HOOK, logging("c", "c", Outcome::Continue), Some(Priority(10)), p).unwrap();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["a", "b", "c"]);
}

/// A world whose plugins may take priorities up to 100, with global callbacks `g1` (priority
/// 10, running `first`) and `g2` (priority 0) on [`HOOK`].
fn two_global(first: impl Fn(&mut Txn) + Send + Sync + 'static) -> World {
    let mut world = World::new("priorities:\n  default: { priority: 0, max_priority: 100 }\n");
    let g1 = with_handler("g1", move |txn| {
        txn.log.push("g1".into());
        first(txn);
        Outcome::Continue
    });
    let priorities = world.priorities.clone();
    world.global.add(HOOK, g1, Some(Priority(10)), &priorities).unwrap();
    let g2 = logging("g2", "g2", Outcome::Continue);
    world.global.add(HOOK, g2, Some(Priority(0)), &priorities).unwrap();
    world
}

#[test]
fn a_global_callback_adding_a_transaction_callback_sees_it_run_in_priority_order() {
    let world = two_global(|txn| {
        let priorities = txn.priorities.clone();
        let added = logging("t", "txn-added", Outcome::Continue);
        txn.txn.add(HOOK, added, Some(Priority(5)), &priorities).unwrap();
    });
    let mut txn = world.txn();
    assert_eq!(world.dispatch(HOOK, &mut txn), Progress::Done(Outcome::Continue));
    assert_eq!(txn.log, ["g1", "txn-added", "g2"]);
}

#[test]
fn a_global_callback_switching_a_later_plugin_off_skips_it_in_the_same_dispatch() {
    let world = two_global(|txn| {
        let priorities = txn.priorities.clone();
        let g2 = priorities.plugin("g2");
        txn.control.set_plugin_enabled(g2, false, &Caller::OPERATOR, &priorities).unwrap();
    });
    let mut txn = world.txn();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["g1"]);
}

#[test]
fn a_global_callback_raising_the_threshold_skips_what_falls_below_it() {
    let world = two_global(|txn| {
        txn.control.set_threshold(None, Some(Priority(5)), &Caller::OPERATOR).unwrap();
    });
    let mut txn = world.txn();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["g1"]);
    txn.log.clear();
    world.dispatch(HOOK, &mut txn);
    assert_eq!(txn.log, ["g1"], "the threshold holds for the next dispatch too");
}
