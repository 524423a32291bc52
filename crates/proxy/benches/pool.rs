//! Host selection over 100 hosts (issue 19's goal: at most 100 ns): a transaction's first try
//! on a strategy of 100 equal hosts in one group, by policy.
//!
//! - `select/rr_strict`: the next round-robin turn (one relaxed atomic add), host up;
//! - `select/consistent_hash`: a bisection of the 16 000-point ring for a precomputed key hash;
//! - `select/consistent_hash_key`: the same with the path hashed first, as a transaction does;
//! - `select/consistent_hash_10_down`: with 10 of the 100 hosts marked down, skipped on the ring;
//! - `select/first_live` and `select/latched`: the first host, up.
//!
//! Run: `cargo bench -p hookyard-proxy --bench pool` (CI only builds it; a quick check that it
//! runs: `cargo bench -p hookyard-proxy --bench pool -- --test`).
//!
//! Measured: not yet on the shared development machine (benchmarks are run by `cargo xtask
//! bench` only); the selection code does no allocation and takes no lock, see `pool.rs`.
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hookyard_proxy::benching::Selector;

/// `strategies.yaml` with strategy `s` by `policy` over 100 hosts 10.0.0.1:8000..8099.
fn hundred(policy: &str) -> String {
    let mut yaml =
        format!("strategies:\n  - strategy: s\n    policy: {policy}\n    groups:\n      - [");
    for i in 0..100 {
        let _ =
            write!(yaml, "{{host: 10.0.0.1, protocol: [{{scheme: http, port: {}}}]}},", 8000 + i);
    }
    yaml.push_str("]\n");
    yaml
}

fn select(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    for policy in ["rr_strict", "consistent_hash", "first_live", "latched"] {
        let selector = Selector::new(&hundred(policy)).unwrap();
        let hash = Selector::path_hash("/objects/12345");
        group.bench_function(policy, |b| b.iter(|| selector.select(black_box(hash))));
    }
    let selector = Selector::new(&hundred("consistent_hash")).unwrap();
    group.bench_function("consistent_hash_key", |b| {
        b.iter(|| selector.select(Selector::path_hash(black_box("/objects/12345"))));
    });
    for i in 0..10 {
        selector.mark_down(&format!("10.0.0.1:{}", 8000 + i * 10)).unwrap();
    }
    let hashes: Vec<u64> = (0..64).map(|i| Selector::path_hash(&format!("/o/{i}"))).collect();
    let mut next = 0;
    group.bench_function("consistent_hash_10_down", |b| {
        b.iter(|| {
            next = (next + 1) % hashes.len();
            selector.select(black_box(hashes[next]))
        });
    });
    group.finish();
}

criterion_group!(benches, select);
criterion_main!(benches);
