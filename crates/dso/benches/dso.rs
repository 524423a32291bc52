//! Costs of loading plugins and of calling into them.
//!
//! - `load/new_version`: resolve, stat, copy into a new runtime directory, `dlopen`, resolve one
//!   symbol (the unload happens afterwards, outside the measurement).
//! - `load/reuse`: a load answered by the live version (resolve, stat, registry look-up).
//! - `call/through_symbol` vs `call/direct`: an `extern "C"` add through a resolved [`Symbol`]
//!   against the same function compiled into the benchmark.
//!
//! Run: `cargo bench -p hookyard-dso --bench dso` (or `cargo xtask bench` for every crate).
//!
//! Baseline (2026-11-22, the 2-core development machine, criterion medians):
//!
//! | benchmark            | median   |
//! |----------------------|----------|
//! | load/new_version     | 171 µs   |
//! | load/reuse           | 4.3 µs   |
//! | call/through_symbol  | 2.6 ns   |
//! | call/direct          | 1.8 ns   |
//!
//! [`Symbol`]: hookyard_dso::Symbol

#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

use hookyard_dso::{Loader, LoaderConfig};
use hookyard_fixtures::{AddFn, CPlugin, Sandbox, c_plugin};

fn loader(sandbox: &Sandbox) -> Loader {
    Loader::new(LoaderConfig::new(sandbox.runtime()).search_dir(sandbox.plugins())).unwrap()
}

#[inline(never)]
extern "C" fn local_add(a: i32, b: i32) -> i32 {
    a + b
}

fn load(c: &mut Criterion) {
    let sandbox = Sandbox::new();
    let loader = loader(&sandbox);
    sandbox.install(&c_plugin(CPlugin::Version(1)), "plugin.so");
    let mut group = c.benchmark_group("load");

    group.bench_function("new_version", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let lib = loader.load("plugin.so".as_ref()).unwrap();
                // SAFETY: version.c defines `int hy_test_add(int, int)`.
                let add = unsafe { lib.symbol::<AddFn>("hy_test_add") }.unwrap();
                total += started.elapsed();
                drop((add, lib));
                loader.flush_unloads();
            }
            total
        });
    });

    let held = loader.load("plugin.so".as_ref()).unwrap();
    group.bench_function("reuse", |b| {
        b.iter(|| loader.load(black_box("plugin.so".as_ref())).unwrap());
    });
    drop(held);
    group.finish();
}

fn call(c: &mut Criterion) {
    let sandbox = Sandbox::new();
    let loader = loader(&sandbox);
    sandbox.install(&c_plugin(CPlugin::Version(1)), "plugin.so");
    let lib = loader.load("plugin.so".as_ref()).unwrap();
    // SAFETY: version.c defines `int hy_test_add(int, int)`.
    let add = unsafe { lib.symbol::<AddFn>("hy_test_add") }.unwrap();
    let direct: AddFn = local_add;

    let mut group = c.benchmark_group("call");
    group.bench_function("through_symbol", |b| b.iter(|| add(black_box(20), black_box(22))));
    group.bench_function("direct", |b| b.iter(|| black_box(direct)(black_box(20), black_box(22))));
    group.finish();
}

criterion_group!(benches, load, call);
criterion_main!(benches);
