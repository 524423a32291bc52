//! Callbacks added while a hook is being dispatched, as ATS's `HttpHookState` orders them
//! (`src/api/HttpHookState.cc`): a callback added to a level that was empty when the dispatch
//! began runs in it, one added to a level already past its last callback does not, and a later
//! level always sees additions. ATS ignores a second `TSHttpTxnHookAdd` of the same
//! continuation, but not a second session add.

use hookyard_hooks::{HookId, Outcome, Priority, Progress};

use crate::support::{World, logging, with_handler};

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
