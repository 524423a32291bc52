//! Costs of user arg slots on the transaction hot path, and of reserving at init.
//!
//! - `txn/get_ptr`, `txn/set_ptr`: read and write an address in a transaction's [`Slots`].
//! - `txn/get_typed`, `txn/set_typed`: read a typed value; replace one (allocates its box).
//! - `txn/check_raw`: turn a C plugin's raw index into a typed one ([`Registry::index`]).
//! - `global/get_ptr`: read an address from the shared global table.
//! - `reserve/existing`: reserve a name already reserved (what every reload does).
//!
//! Run: `cargo bench -p hookyard-userargs --bench userargs` (or `cargo xtask bench` for every
//! crate). The baseline below came from
//! `cargo bench -p hookyard-userargs -- --warm-up-time 1 --measurement-time 3`.
//!
//! Baseline (2026-11-22, the 2-core development machine, criterion medians):
//!
//! | benchmark         | median   |
//! |-------------------|----------|
//! | txn/get_ptr       | 1.4 ns   |
//! | txn/set_ptr       | 2.9 ns   |
//! | txn/get_typed     | 3.5 ns   |
//! | txn/set_typed     | 21 ns    |
//! | txn/check_raw     | 3.9 ns   |
//! | global/get_ptr    | 1.8 ns   |
//! | reserve/existing  | 43 ns    |
//!
//! [`Slots`]: hookyard_userargs::Slots
//! [`Registry::index`]: hookyard_userargs::Registry::index

#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hookyard_userargs::{Glb, Kind, Registry, Slots, Txn};

/// A registry with every transaction slot taken, like a busy production configuration.
fn full_registry() -> Registry {
    let registry = Registry::new();
    for n in 0..Kind::Transaction.default_capacity() {
        registry.reserve::<Txn>(&format!("plugin-{n}"), "bench").unwrap();
    }
    registry
}

fn txn(c: &mut Criterion) {
    let registry = full_registry();
    let index = registry.find::<Txn>("plugin-7").unwrap().0;
    let mut slots = Slots::<Txn>::new();
    slots.set_ptr(index, 0x7f00_0000_1000);
    let mut group = c.benchmark_group("txn");

    group.bench_function("get_ptr", |b| b.iter(|| black_box(&slots).get_ptr(black_box(index))));
    group.bench_function("set_ptr", |b| {
        let mut addr = 0x1000_usize;
        b.iter(|| {
            addr = addr.wrapping_add(8) | 8;
            black_box(&mut slots).set_ptr(black_box(index), addr);
        });
    });

    let typed = registry.find::<Txn>("plugin-8").unwrap().0;
    slots.set(typed, 42_u64);
    group.bench_function("get_typed", |b| {
        b.iter(|| black_box(&slots).get::<u64>(black_box(typed)).copied());
    });
    group.bench_function("set_typed", |b| {
        let mut n = 0_u64;
        b.iter(|| {
            n += 1;
            black_box(&mut slots).set(black_box(typed), n);
        });
    });

    group.bench_function("check_raw", |b| b.iter(|| registry.index::<Txn>(black_box(1007))));
    group.finish();
}

fn global(c: &mut Criterion) {
    let registry = Registry::new();
    let index = registry.reserve::<Glb>("config", "bench").unwrap();
    registry.global().set_ptr(index, 0x7f00_0000_2000).unwrap();
    let mut group = c.benchmark_group("global");
    group.bench_function("get_ptr", |b| {
        b.iter(|| registry.global().get_ptr(black_box(index)));
    });
    group.finish();
}

fn reserve(c: &mut Criterion) {
    let registry = full_registry();
    let mut group = c.benchmark_group("reserve");
    group.bench_function("existing", |b| {
        b.iter(|| registry.reserve::<Txn>(black_box("plugin-11"), black_box("bench")).unwrap());
    });
    group.finish();
}

criterion_group!(benches, txn, global, reserve);
criterion_main!(benches);
