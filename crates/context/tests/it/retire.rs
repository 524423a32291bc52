//! Retirement: draining continuations keep running; force-retired ones drop their events.

use std::collections::VecDeque;
use std::time::Duration;

use hookyard_context::{Context, ContextState, Continuation, EventDropped};

type Recorder = Continuation<Box<dyn Fn(u32)>>;

/// A stand-in for the proxy's event scheduler: continuations with the events due for them.
struct Scheduler<'a> {
    queue: VecDeque<(&'a Recorder, u32)>,
}

impl Scheduler<'_> {
    fn run(&mut self) -> (usize, usize) {
        let (mut dispatched, mut dropped) = (0, 0);
        while let Some((cont, event)) = self.queue.pop_front() {
            match cont.invoke(|handler| handler(event)) {
                Ok(()) => dispatched += 1,
                Err(EventDropped { .. }) => dropped += 1,
            }
        }
        (dispatched, dropped)
    }
}

fn recording(seen: &std::rc::Rc<std::cell::RefCell<Vec<u32>>>) -> Box<dyn Fn(u32)> {
    let seen = seen.clone();
    Box::new(move |event| seen.borrow_mut().push(event))
}

#[test]
fn a_retired_context_drains_and_a_force_retired_one_drops_scheduled_events() {
    let plugin = Context::builtin("p");
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let cont = Continuation::in_context(&plugin, recording(&seen));

    plugin.retire(None);
    assert_eq!(plugin.state(), ContextState::Retired { drain_deadline: None });
    let mut scheduler = Scheduler { queue: VecDeque::from([(&cont, 1), (&cont, 2)]) };
    assert_eq!(scheduler.run(), (2, 0), "a draining context still runs its continuations");

    scheduler.queue.extend([(&cont, 3), (&cont, 4)]);
    plugin.force_retire();
    assert_eq!(scheduler.run(), (0, 2));
    assert_eq!(*seen.borrow(), [1, 2], "no event reached the handler after the force-retire");
    let info = plugin.snapshot();
    assert_eq!(info.state, ContextState::ForceRetired);
    assert_eq!(info.dropped_events, 2);
    assert_eq!(info.invocations, 2);
    let err = cont.invoke(|h| h(5)).unwrap_err();
    assert_eq!(err.to_string(), "event dropped: plugin p is retired");
}

#[test]
fn events_after_the_drain_deadline_are_dropped() {
    let plugin = Context::builtin("p");
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let cont = Continuation::in_context(&plugin, recording(&seen));
    plugin.retire(Some(Duration::ZERO));
    assert!(matches!(plugin.state(), ContextState::Retired { drain_deadline: Some(_) }));
    assert!(cont.invoke(|h| h(1)).is_err());
    assert_eq!(plugin.state(), ContextState::ForceRetired, "the passed deadline force-retires");
    assert!(seen.borrow().is_empty());
    assert_eq!(plugin.snapshot().dropped_events, 1);

    let later = Context::builtin("later");
    let cont = Continuation::in_context(&later, recording(&seen));
    later.retire(Some(Duration::from_secs(3600)));
    cont.invoke(|h| h(7)).unwrap();
    assert_eq!(*seen.borrow(), [7], "before the deadline events are still dispatched");
}

#[test]
fn the_core_context_is_never_retired() {
    let core = Context::core();
    core.retire(Some(Duration::ZERO));
    core.force_retire();
    assert_eq!(core.state(), ContextState::Active);
    let cont = Continuation::new(|| 1);
    assert_eq!(cont.invoke(|h| h()).unwrap(), 1);
}

/// Plugin code that is not a continuation asks the context itself: admitted while active and
/// draining, refused (and counted) once retired for good; the core always admits.
#[test]
fn admits_follows_the_retirement_and_counts_refusals() {
    let plugin = Context::builtin("p");
    assert!(plugin.admits());
    plugin.retire(Some(Duration::from_secs(3600)));
    assert!(plugin.admits(), "draining");
    plugin.force_retire();
    assert!(!plugin.admits());
    assert!(!plugin.admits());
    assert_eq!(plugin.snapshot().dropped_events, 2);
    let core = Context::core();
    core.force_retire();
    assert!(core.admits(), "the core is never retired");
}
