//! Costs of context tracking on the hot path.
//!
//! - `scope/enter_leave`: running a closure in a plugin context (enter, restore).
//! - `continuation/create_destroy`: creating a continuation in the current plugin context and
//!   destroying it (goal ≤ 20 ns uncontended).
//! - `continuation/create_destroy_contended`: the same on two threads at once, one context.
//! - `continuation/invoke`: invoking a continuation (enter, count, time, leave).
//!
//! Run: `cargo bench -p hookyard-context --bench context` (or `cargo xtask bench`).
//!
//! Baseline (2026-11-22, the 2-core development machine, criterion medians):
//!
//! | benchmark                                    | median |
//! |----------------------------------------------|--------|
//! | scope/enter_leave                            | 3.4 ns |
//! | continuation/create_destroy                  | 17.5 ns|
//! | continuation/create_destroy_contended        | 39.5 ns|
//! | continuation/invoke                          | 75 ns  |
//!
//! `invoke` is dominated by the two clock reads that time the handler.
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hookyard_context::{Context, Continuation};

fn scope(c: &mut Criterion) {
    let plugin = Context::builtin("bench");
    c.bench_function("scope/enter_leave", |b| {
        b.iter(|| {
            black_box(&plugin).run(|| black_box(1));
        });
    });
}

fn continuation(c: &mut Criterion) {
    let plugin = Context::builtin("bench");
    c.bench_function("continuation/create_destroy", |b| {
        plugin.run(|| b.iter(|| drop(black_box(Continuation::new(black_box(7u64))))));
    });

    c.bench_function("continuation/create_destroy_contended", |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(2);
            let run = |barrier: &Barrier| {
                plugin.run(|| {
                    barrier.wait();
                    let started = Instant::now();
                    for _ in 0..iters {
                        drop(black_box(Continuation::new(black_box(7u64))));
                    }
                    started.elapsed()
                })
            };
            std::thread::scope(|s| {
                let other = s.spawn(|| run(&barrier));
                let mine = run(&barrier);
                let theirs: Duration = other.join().unwrap();
                mine.max(theirs)
            })
        });
    });

    let cont = Continuation::in_context(&plugin, |x: u64| x + 1);
    c.bench_function("continuation/invoke", |b| {
        b.iter(|| cont.invoke(|h| h(black_box(1))).unwrap());
    });
}

criterion_group!(benches, scope, continuation);
criterion_main!(benches);
