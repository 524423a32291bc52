//! Continuations belong to the context that created them, at any depth.

use hookyard_context::{Context, Continuation};

type Leaf = Continuation<()>;
type MakeLeaf = Box<dyn Fn() -> Leaf>;
type MakeMaker = Box<dyn Fn() -> Continuation<MakeLeaf>>;

#[test]
fn continuations_created_three_levels_deep_inherit_the_plugin() {
    let plugin = Context::builtin("p");
    let level1: Continuation<MakeMaker> = plugin.run(|| {
        let make_maker: MakeMaker = Box::new(|| {
            let make_leaf: MakeLeaf = Box::new(|| Continuation::new(()));
            Continuation::new(make_leaf)
        });
        Continuation::new(make_maker)
    });
    assert!(Context::current().is_core(), "the scope ended");
    let level2 = level1.invoke(|make| make()).unwrap();
    let level3 = level2.invoke(|make| make()).unwrap();
    for context in [level1.context(), level2.context(), level3.context()] {
        assert_eq!(context, plugin);
    }
    let info = plugin.snapshot();
    assert_eq!((info.live_continuations, info.invocations), (3, 2));
    drop((level1, level2, level3));
    assert_eq!(plugin.snapshot().live_continuations, 0);
}

#[test]
fn the_core_creates_outside_any_scope_and_plugins_inside() {
    let plugin = Context::builtin("p");
    let by_core = Continuation::new(());
    assert!(by_core.context().is_core());
    assert_eq!(by_core.context(), Context::core());
    let by_plugin = plugin.run(|| Continuation::new(()));
    assert_eq!(by_plugin.context(), plugin);
    assert_ne!(by_plugin.context(), by_core.context());

    // A core continuation invoked from plugin code runs in the core context.
    let core_handler = Continuation::new(|| Continuation::new(()));
    let created = plugin.run(|| core_handler.invoke(|make| make()).unwrap());
    assert!(created.context().is_core());
    assert_eq!(Context::core().snapshot().name, "core");
}

#[test]
fn each_continuation_is_acquired_and_released_exactly_once() {
    let a = Context::builtin("a");
    let b = Context::builtin("b");
    let mut kept = Vec::new();
    for i in 0..10 {
        let context = if i % 2 == 0 { &a } else { &b };
        kept.push(Continuation::in_context(context, i));
    }
    assert_eq!(a.snapshot().live_continuations, 5);
    assert_eq!(b.snapshot().live_continuations, 5);
    kept.truncate(3);
    assert_eq!(a.snapshot().live_continuations, 2);
    assert_eq!(b.snapshot().live_continuations, 1);
    drop(kept);
    for context in [&a, &b] {
        assert_eq!(context.snapshot().live_continuations, 0);
    }
    // Handles to the context are not continuations.
    let handles = vec![a.clone(), a.clone(), Continuation::in_context(&a, ()).context()];
    assert_eq!(a.snapshot().live_continuations, 0);
    drop(handles);
}

#[test]
fn invocations_are_counted_and_timed() {
    let plugin = Context::builtin("p");
    let mut cont = Continuation::in_context(&plugin, 0u32);
    for _ in 0..5 {
        cont.invoke_mut(|n| {
            *n += 1;
            assert_eq!(Context::current(), plugin);
            std::hint::black_box((0..1000u64).sum::<u64>());
        })
        .unwrap();
    }
    assert_eq!(*cont.handler(), 5);
    let info = plugin.snapshot();
    assert_eq!(info.invocations, 5);
    assert!(!info.time_in_plugin.is_zero());
}
