//! Concurrent loads and releases of one plugin: nothing leaks, nothing unloads twice.

use std::sync::Barrier;

use hookyard_dso::ReloadMode;

use crate::support::{AddFn, CPlugin, Sandbox, compiled};

const THREADS: usize = 2;
const ROUNDS: usize = 2_000;

#[test]
fn two_threads_loading_and_releasing_the_same_plugin_leave_nothing_behind() {
    for mode in [ReloadMode::Dynamic, ReloadMode::Static] {
        let sandbox = Sandbox::new();
        let loader = crate::support::loader(&sandbox, mode);
        sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
        let barrier = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    barrier.wait();
                    for _ in 0..ROUNDS {
                        let lib = loader.load("plugin.so".as_ref()).unwrap();
                        // SAFETY: version.c defines `int hy_test_add(int, int)`.
                        let add = unsafe { lib.symbol::<AddFn>("hy_test_add") }.unwrap();
                        assert_eq!(add(2, 3), 5);
                    }
                });
            }
        });
        loader.flush_unloads();
        let stats = loader.stats();
        assert_eq!(stats.loaded + stats.reused, (THREADS * ROUNDS) as u64, "{mode:?}: {stats:?}");
        assert_eq!(
            stats.unloaded, stats.loaded,
            "{mode:?}: every loaded version unloaded once: {stats:?}"
        );
        assert_eq!((stats.failed, stats.pinned), (0, 0), "{mode:?}: {stats:?}");
        assert!(loader.snapshot().is_empty(), "{mode:?}: registry empty at the end");
        assert!(sandbox.version_dirs().is_empty(), "{mode:?}: no copy left");
    }
}
