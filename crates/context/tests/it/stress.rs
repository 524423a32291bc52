//! Many continuations of several contexts created, invoked and destroyed on two threads.

use std::sync::Barrier;

use hookyard_context::{Context, Continuation};
use hookyard_dso::{Loader, LoaderConfig};
use hookyard_fixtures::{CPlugin, Sandbox, c_plugin};

const ROUNDS: u64 = 200_000;

#[test]
fn counts_return_to_zero_and_every_version_unloads_after_concurrent_use() {
    let sandbox = Sandbox::new();
    let loader =
        Loader::new(LoaderConfig::new(sandbox.runtime()).search_dir(sandbox.plugins())).unwrap();
    let contexts: Vec<Context> = (1..=3)
        .map(|v| {
            let name = format!("p{v}.so");
            sandbox.install(&c_plugin(CPlugin::Version(v)), &name);
            Context::plugin(name.as_str(), loader.load(name.as_ref()).unwrap())
        })
        .collect();
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        for thread in 0..2u64 {
            let (contexts, barrier) = (&contexts, &barrier);
            s.spawn(move || {
                barrier.wait();
                let mut kept = Vec::new();
                for i in 0..ROUNDS {
                    let context = &contexts[((i + thread) % 3) as usize];
                    let cont = context.run(|| Continuation::new(move |x: u64| x + i));
                    // A continuation created inside the handler inherits the same context.
                    let child = cont.invoke(|h| Continuation::new(h(1))).unwrap();
                    assert_eq!(&child.context(), context);
                    if i % 7 == 0 {
                        kept.push(child);
                    }
                    if kept.len() > 64 {
                        kept.clear();
                    }
                }
            });
        }
    });
    let mut invocations = 0;
    for context in &contexts {
        let info = context.snapshot();
        assert_eq!(info.live_continuations, 0, "{info:?}");
        invocations += info.invocations;
    }
    assert_eq!(invocations, 2 * ROUNDS);
    assert!(Context::current().is_core());

    // Nothing leaked a reference: dropping the contexts unloads every version.
    drop(contexts);
    loader.flush_unloads();
    assert_eq!(loader.stats().unloaded, 3);
    assert!(loader.snapshot().is_empty());
}
