//! Rule look-up at scale.
//!
//! - `find/exact_100k`: `Rules::find`, the look-up alone, for one of 100,000 exact-host `map`
//!   rules (with a host-less fallback and regex rules after them in the file, which must not be
//!   scanned). Goal: ≤ 200 ns median.
//! - `remap/exact_100k`: `Rules::remap`, the same look-up plus the URL rewrite.
//! - `remap/regex_hit`: a request only a regex rule (the last in the file) matches.
//! - `parse/100k`: parsing the 100,000-rule file.
//!
//! Run: `cargo bench -p hookyard-remap --bench lookup` (or `cargo xtask bench`).
//!
//! Baseline (2026-11-22, the 2-core development machine, criterion medians):
//!
//! | benchmark          | median |
//! |--------------------|--------|
//! | find/exact_100k    | 168 ns |
//! | remap/exact_100k   | 292 ns |
//! | remap/regex_hit    | 2.7 µs |
//! | parse/100k         | 330 ms |
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]

use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use hookyard_remap::{Remap, Request, Rules};

const HOSTS: usize = 100_000;

fn config() -> String {
    let mut text = String::with_capacity(HOSTS * 64);
    for i in 0..HOSTS {
        writeln!(text, "map http://host{i}.example.com/ http://origin{}.internal:8080/", i % 97)
            .unwrap();
    }
    text.push_str("map / http://fallback/\n");
    for i in 0..20 {
        writeln!(text, "regex_map http://r{i}-([a-z]+).regex.com/ http://$1.backend/").unwrap();
    }
    text
}

fn request(host: &str) -> Request<'_> {
    Request {
        scheme: "http",
        host,
        port: None,
        path: "some/path/index.html",
        query: Some("a=1"),
        recv_port: Some(80),
        http10: false,
    }
}

fn bench(c: &mut Criterion) {
    let text = config();
    let rules = Rules::parse(Path::new("remap.config"), &text).unwrap();
    let hosts: Vec<String> =
        (0..1024).map(|i| format!("host{}.example.com", (i * 7919) % HOSTS)).collect();
    let mut next = 0;
    c.bench_function("remap/exact_100k", |b| {
        b.iter(|| {
            next = (next + 1) % hosts.len();
            let remap = rules.remap(black_box(&request(&hosts[next])));
            assert!(matches!(remap, Remap::Map { .. }));
            black_box(remap);
        });
    });
    c.bench_function("find/exact_100k", |b| {
        b.iter(|| {
            next = (next + 1) % hosts.len();
            black_box(rules.find(black_box(&request(&hosts[next]))).unwrap());
        });
    });
    c.bench_function("remap/regex_hit", |b| {
        b.iter(|| black_box(rules.remap(black_box(&request("r19-abc.regex.com")))));
    });
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.bench_function("100k", |b| {
        b.iter(|| Rules::parse(Path::new("remap.config"), black_box(&text)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
