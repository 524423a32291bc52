//! Cost of dispatching a hook, per callback (callback bodies do nothing but count).
//!
//! - `dispatch/N`: N global callbacks of N plugins, no per-transaction control.
//! - `dispatch_overrides/N`: the same with a per-transaction control that switches one other
//!   plugin off and changes one callback's priority (the scanning path).
//!
//! Each iteration is one whole dispatch; divide the median by N for the per-callback cost.
//!
//! Run: `cargo bench -p hookyard-hooks --bench dispatch` (or `cargo xtask bench`).
//!
//! - `floor/8`: the same 8 callbacks called in a plain loop, each in its context: the cost the
//!   dispatcher cannot go below (admit check, context switch, indirect call).
//!
//! Baseline (2026-11-22, the 2-core development machine, quiet, criterion medians):
//!
//! | N  | dispatch | per callback | dispatch_overrides | per callback |
//! |----|----------|--------------|--------------------|--------------|
//! | 1  | 35 ns    | 35 ns        | 78 ns              | 78 ns        |
//! | 4  | 74 ns    | 19 ns        | 194 ns             | 48 ns        |
//! | 8  | 156 ns   | 19 ns        | 342 ns             | 43 ns        |
//! | 32 | 435 ns   | 14 ns        | 1458 ns            | 46 ns        |
//!
//! `floor/8`: 36 ns, 4.5 ns per callback. The goal of 3 ns per callback is below that floor.
//!
//! With the global-only path (2026-12-03, same machine, quiet; `floor/8` measured 14.6 ns
//! in the same run, 1.8 ns per callback):
//!
//! | N  | dispatch | per callback |
//! |----|----------|--------------|
//! | 1  | 11.5 ns  | 11.5 ns      |
//! | 4  | 24.2 ns  | 6.1 ns       |
//! | 8  | 37.9 ns  | 4.7 ns       |
//! | 32 | 131 ns   | 4.1 ns       |
//!
//! `dispatch_overrides` is unchanged (it takes the general path).
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hookyard_context::{Context, Continuation};
use hookyard_hooks::{
    Caller, Control, Dispatch, HookId, Hooks, Level, Local, Outcome, Priorities, Priority, Tables,
};

type Handler = dyn Fn(&mut u64) -> Outcome + Send + Sync;

struct Txn {
    control: Control,
    ran: u64,
}

const HOOK: HookId = HookId::ReadRequestHdr;

fn setup(n: usize, overrides: bool, priorities: &Priorities) -> (Hooks<Handler>, Txn) {
    let mut global: Hooks<Handler> = Hooks::new(Level::Global);
    for i in 0..n {
        let callback = Context::builtin(format!("p{i}")).run(|| {
            Arc::new(Continuation::new(|ran: &mut u64| {
                *ran += 1;
                Outcome::Continue
            })) as Arc<Continuation<Handler>>
        });
        global.add(HOOK, callback, Some(Priority(-(i as i32))), priorities).unwrap();
    }
    let mut txn = Txn { control: Control::default(), ran: 0 };
    if overrides {
        let other = priorities.plugin("not-registered");
        txn.control.set_plugin_enabled(other, false, &Caller::OPERATOR, priorities).unwrap();
        let last = global.entries(HOOK).last().unwrap().id();
        let tables = Tables { global: Some(&global), session: None, txn: None };
        txn.control
            .set_callback_priority(&tables, None, HOOK, last, Priority(-1000), &Caller::OPERATOR)
            .unwrap();
    }
    (global, txn)
}

fn local(txn: &Txn) -> Local<'_, Handler> {
    Local { txn_control: Some(&txn.control), ..Local::default() }
}

fn dispatch(c: &mut Criterion) {
    let priorities = Priorities::default();
    for (group, overrides) in [("dispatch", false), ("dispatch_overrides", true)] {
        let mut g = c.benchmark_group(group);
        for n in [1usize, 4, 8, 32] {
            let (global, mut txn) = setup(n, overrides, &priorities);
            g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    let progress = Dispatch::new(black_box(HOOK)).run(
                        Some(&global),
                        &priorities,
                        &mut txn,
                        local,
                        |handler, _, txn| handler(&mut txn.ran),
                    );
                    black_box(progress)
                });
            });
        }
        g.finish();
    }
}

/// The floor: the same callbacks called in a plain loop, each in its context, no dispatcher.
fn floor(c: &mut Criterion) {
    let priorities = Priorities::default();
    let (global, mut txn) = setup(8, false, &priorities);
    c.bench_function("floor/8", |b| {
        b.iter(|| {
            for entry in global.entries(HOOK) {
                let outcome = entry.callback().call(|handler| handler(&mut txn.ran)).unwrap();
                black_box(outcome);
            }
        });
    });
}

criterion_group!(benches, dispatch, floor);
criterion_main!(benches);
