//! Outcomes: an error stops a hook (not a cleanup hook); pending resumes from another thread; a
//! retired plugin's callback is dropped as the configuration says.

use std::sync::Arc;
use std::sync::mpsc;

use hookyard_context::Context;
use hookyard_hooks::{
    Dispatch, HookId, Hooks, Level, Outcome, Priorities, PriorityConfig, Progress,
};

use crate::support::{World, logging, with_handler};

#[test]
fn an_error_skips_the_remaining_callbacks() {
    let mut world = World::new("");
    let hook = HookId::ReadRequestHdr;
    for (label, outcome) in
        [("a", Outcome::Continue), ("b", Outcome::Error), ("c", Outcome::Continue)]
    {
        world.global.add(hook, logging("p", label, outcome), None, &world.priorities).unwrap();
    }
    let mut txn = world.txn();
    assert_eq!(world.dispatch(hook, &mut txn), Progress::Done(Outcome::Error));
    assert_eq!(txn.log, ["a", "b"]);
}

#[test]
fn an_error_on_a_cleanup_hook_is_ignored_and_every_callback_runs() {
    let mut world = World::new("");
    for hook in [HookId::TxnClose, HookId::SsnClose] {
        for (label, outcome) in [("a", Outcome::Error), ("b", Outcome::Continue)] {
            world.global.add(hook, logging("p", label, outcome), None, &world.priorities).unwrap();
        }
        let mut txn = world.txn();
        assert_eq!(world.dispatch(hook, &mut txn), Progress::Done(Outcome::Continue), "{hook}");
        assert_eq!(txn.log, ["a", "b"], "{hook}");
    }
}

#[test]
fn a_pending_callback_resumes_the_dispatch_from_another_thread() {
    let mut world = World::new("");
    let hook = HookId::PostRemap;
    let (resume_tx, resume_rx) = mpsc::channel::<Outcome>();
    world
        .global
        .add(hook, logging("p", "before", Outcome::Continue), None, &world.priorities)
        .unwrap();
    let holder = with_handler("slow-auth", move |txn| {
        txn.log.push("holder".into());
        // Hand the decision to another thread, as a plugin waiting on I/O would.
        let tx = resume_tx.clone();
        std::thread::spawn(move || tx.send(Outcome::Continue).unwrap());
        Outcome::Pending
    });
    world.global.add(hook, holder, None, &world.priorities).unwrap();
    world
        .global
        .add(hook, logging("p", "after", Outcome::Continue), None, &world.priorities)
        .unwrap();

    let mut txn = world.txn();
    let mut dispatch = Dispatch::new(hook);
    assert_eq!(world.resume(&mut dispatch, &mut txn), Progress::Pending);
    assert!(dispatch.is_pending());
    assert_eq!(txn.log, ["before", "holder"]);
    assert_eq!(world.resume(&mut dispatch, &mut txn), Progress::Pending, "still held");

    let outcome = resume_rx.recv().unwrap();
    dispatch.resume(outcome);
    assert_eq!(world.resume(&mut dispatch, &mut txn), Progress::Done(Outcome::Continue));
    assert_eq!(txn.log, ["before", "holder", "after"]);
}

#[test]
fn a_pending_callback_may_resume_with_an_error() {
    let mut world = World::new("");
    let hook = HookId::ReadRequestHdr;
    world
        .global
        .add(hook, logging("p", "holder", Outcome::Pending), None, &world.priorities)
        .unwrap();
    world
        .global
        .add(hook, logging("p", "after", Outcome::Continue), None, &world.priorities)
        .unwrap();
    let mut txn = world.txn();
    let mut dispatch = Dispatch::new(hook);
    assert_eq!(world.resume(&mut dispatch, &mut txn), Progress::Pending);
    dispatch.resume(Outcome::Error);
    assert_eq!(world.resume(&mut dispatch, &mut txn), Progress::Done(Outcome::Error));
    assert_eq!(txn.log, ["holder"]);
}

#[test]
fn callbacks_run_in_their_plugins_context_and_retired_plugins_are_skipped() {
    let mut world = World::new("");
    let hook = HookId::SendRequestHdr;
    let seen = with_handler("observer", |txn| {
        txn.log.push(Context::current().name().to_owned());
        Outcome::Continue
    });
    let retired = logging("gone", "gone", Outcome::Continue);
    retired.context().force_retire();
    world.global.add(hook, seen, None, &world.priorities).unwrap();
    world.global.add(hook, retired, None, &world.priorities).unwrap();
    let mut txn = world.txn();
    assert_eq!(world.dispatch(hook, &mut txn), Progress::Done(Outcome::Continue));
    assert_eq!(txn.log, ["observer"]);
    assert!(Context::current().is_core());
}

/// With `dropped_hook: error` a retired plugin's dropped callback fails the hook like an error
/// answer would, and is counted; on a cleanup hook every callback still runs.
#[test]
fn a_dropped_callback_counts_as_the_configured_outcome() {
    let config = PriorityConfig::default();
    let priorities = Arc::new(Priorities::new(&config).with_dropped_outcome(Outcome::Error));
    assert_eq!(priorities.dropped_outcome(), Outcome::Error);
    let mut world = World { priorities, global: Hooks::new(Level::Global) };
    let retired = logging("gone", "gone", Outcome::Continue);
    let context = retired.context();
    context.force_retire();
    for hook in [HookId::ReadRequestHdr, HookId::TxnClose] {
        world.global.add(hook, retired.clone(), None, &world.priorities).unwrap();
        world
            .global
            .add(hook, logging("p", "after", Outcome::Continue), None, &world.priorities)
            .unwrap();
    }
    let mut txn = world.txn();
    assert_eq!(world.dispatch(HookId::ReadRequestHdr, &mut txn), Progress::Done(Outcome::Error));
    assert!(txn.log.is_empty(), "the error stopped the hook: {:?}", txn.log);
    assert_eq!(world.dispatch(HookId::TxnClose, &mut txn), Progress::Done(Outcome::Continue));
    assert_eq!(txn.log, ["after"], "a cleanup hook goes on");
    assert_eq!(context.snapshot().dropped_events, 2);
    let pending = Priorities::default().with_dropped_outcome(Outcome::Pending);
    assert_eq!(pending.dropped_outcome(), Outcome::Continue, "a dropped callback never holds");
}
