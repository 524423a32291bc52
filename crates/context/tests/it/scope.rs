//! The current context is set for a closure and restored after it, also when plugin code panics.

use std::panic::{AssertUnwindSafe, catch_unwind};

use hookyard_context::{Context, Continuation};

#[test]
fn contexts_nest_and_restore() {
    let a = Context::builtin("a");
    let b = Context::builtin("b");
    assert!(Context::current().is_core());
    a.run(|| {
        assert_eq!(Context::current(), a);
        b.run(|| {
            assert_eq!(Context::current(), b);
            Context::core().run(|| assert!(Context::current().is_core()));
            assert_eq!(Context::current(), b);
        });
        assert_eq!(Context::current(), a);
    });
    assert!(Context::current().is_core());
}

#[test]
fn the_previous_context_is_restored_after_a_panicking_handler() {
    let outer = Context::builtin("outer");
    let failing = Context::builtin("failing");
    outer.run(|| {
        let cont = Continuation::in_context(&failing, ());
        let result = catch_unwind(AssertUnwindSafe(|| {
            cont.invoke(|()| {
                assert_eq!(Context::current(), failing);
                panic!("plugin bug");
            })
        }));
        assert!(result.is_err());
        assert_eq!(Context::current(), outer, "the guard restored the context on unwind");
        assert_eq!(failing.snapshot().invocations, 1, "the failed invocation is counted");

        let result = catch_unwind(AssertUnwindSafe(|| failing.run(|| panic!("plugin bug in run"))));
        assert!(result.is_err());
        assert_eq!(Context::current(), outer);
    });
    assert!(Context::current().is_core());
}

#[test]
fn a_continuation_created_in_a_context_keeps_it_after_every_handle_is_gone() {
    let cont = {
        let short_lived = Context::builtin("short-lived");
        short_lived.run(|| Continuation::new(()))
    };
    assert_eq!(cont.context().name(), "short-lived");
    assert_eq!(cont.context().snapshot().live_continuations, 1);
    assert!(Context::current().is_core());
}

#[test]
fn current_contexts_on_two_threads_do_not_see_each_other() {
    let a = Context::builtin("a");
    let b = Context::builtin("b");
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        for context in [&a, &b] {
            let barrier = &barrier;
            s.spawn(move || {
                for _ in 0..1_000 {
                    context.run(|| {
                        // Both threads are inside their contexts here.
                        barrier.wait();
                        assert_eq!(&Context::current(), context);
                    });
                    barrier.wait();
                    assert!(Context::current().is_core());
                }
            });
        }
    });
}
