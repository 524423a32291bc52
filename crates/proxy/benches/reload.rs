//! Reload latency as an operator sees it: `ServerHandle::reload`, what SIGHUP and
//! `hookyard ctl reload` run, on a configuration directory with 10,000 remap rules and 10 remap
//! plugins. One reload reads and parses every file, builds the remap generation (each plugin file
//! checked and its loaded version reused, one instance per `@plugin=`) and swaps it in.
//!
//! - `reload/10k_rules_10_plugins`: 10,000 rules, each with one of the 10 plugins (10,000 plugin
//!   instances per generation). Goal: ≤ 50 ms median (issue 9).
//! - `reload/10k_rules_10_with_plugins`: the same rules, only 10 of them with a plugin.
//! - `reload/10k_rules_no_plugins`: the same rules without plugins.
//! - `parse/remap_10k`: `Rules::parse` of the first file alone, for comparison.
//!
//! The plugins are the `versioned` C test plugin compiled as versions 1 to 10 (ten files, loaded
//! once when the server starts). Each measured reload is followed, untimed, by
//! `settle_plugins`: the previous generation's instances are torn down on a background thread
//! that a reload does not wait for, and letting it finish keeps the iterations alike.
//!
//! Run: `cargo bench -p hookyard-proxy --bench reload` (or `cargo xtask bench`).
//!
//! Baseline (2026-11-22, the 2-core development machine, criterion medians; the first case is
//! bimodal, see docs/benchmarks.md "Reload latency"):
//!
//! | benchmark                          | median, idle machine | runs after load |
//! |------------------------------------|----------------------|-----------------|
//! | reload/10k_rules_10_plugins        | 21–26 ms             | up to 41 ms     |
//! | reload/10k_rules_10_with_plugins   | 7–8 ms               |                 |
//! | reload/10k_rules_no_plugins        | 7–8 ms               |                 |
//! | parse/remap_10k                    | 9–11 ms              |                 |
//!
//! Before each plugin file was checked once per load (each `@plugin=` checked it again), the
//! first case took 61 ms.
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hookyard_proxy::{AdminSocket, Server, ServerConfig, ServerHandle};
use hookyard_remap::Rules;
use tempfile::TempDir;

#[path = "../src/allocator.rs"]
mod allocator;

/// The binary's allocator (`src/main.rs`), so the numbers are the ones `hookyard` gives: with
/// the system allocator, freeing the replaced generation and building the next one spend most of
/// a reload in malloc and free.
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

const RULES: usize = 10_000;
const PLUGINS: usize = 10;

/// `remap.config`: `RULES` map rules; `with_plugin(i)` says which carry a plugin.
fn remap_config(with_plugin: impl Fn(usize) -> bool) -> String {
    let mut text = String::with_capacity(RULES * 96);
    for i in 0..RULES {
        write!(text, "map http://host{i}.example.com/ http://origin{}.internal:8080/", i % 97)
            .unwrap();
        if with_plugin(i) {
            write!(text, " @plugin=versioned{}.so @pparam=rule-{i}", i % PLUGINS + 1).unwrap();
        }
        text.push('\n');
    }
    text
}

/// A configuration directory with the plugins and `remap`, and a server started on it.
fn server(remap: &str) -> (TempDir, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for version in 1..=PLUGINS {
        let built = hookyard_fixtures::versioned(u32::try_from(version).unwrap());
        std::fs::copy(built, plugins.join(format!("versioned{version}.so"))).unwrap();
    }
    let yaml = format!(
        "runtime_dir: {}\nplugin_dirs: [{}]\n",
        dir.path().join("run").display(),
        plugins.display()
    );
    std::fs::write(dir.path().join("hookyard.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join("remap.config"), remap).unwrap();
    let handle = Server::start(ServerConfig {
        config_dir: Some(dir.path().to_owned()),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: Vec::new(),
        admin: AdminSocket::Off,
        metrics: None,
        workers: Some(1),
    })
    .unwrap();
    (dir, handle)
}

/// Times `iters` reloads, each followed (untimed) by the teardown of the generation it replaced.
fn reloads(handle: &ServerHandle, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        let report = handle.reload();
        total += start.elapsed();
        assert!(report.ok, "{:?}", report.problems);
        black_box(&report);
        handle.settle_plugins();
    }
    total
}

/// Where one reload's time goes, from its own report (after a few, so the allocator is warm).
fn breakdown(name: &str, handle: &ServerHandle) {
    let mut report = handle.reload();
    for _ in 0..5 {
        handle.settle_plugins();
        report = handle.reload();
    }
    assert!(report.ok, "{:?}", report.problems);
    let files: Vec<String> = report
        .files
        .iter()
        .map(|f| {
            let file = f.file.file_name().unwrap_or_default().to_string_lossy();
            format!("{file} {:.1} ms", f.micros as f64 / 1000.0)
        })
        .collect();
    eprintln!(
        "{name}: one reload {:.1} ms: {}; plugins {:.1} ms ({} plugin versions, all reused: {})",
        report.millis,
        files.join(", "),
        report.plugin_millis,
        report.plugins.len(),
        report.plugins.iter().all(|p| p.status == "reused"),
    );
    handle.settle_plugins();
}

/// A bench case: its name, and which rules carry a plugin.
type Case = (&'static str, fn(usize) -> bool);

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("reload");
    group.sample_size(20).measurement_time(Duration::from_secs(10));
    let cases: [Case; 3] = [
        ("10k_rules_10_plugins", |_| true),
        ("10k_rules_10_with_plugins", |i| i < PLUGINS),
        ("10k_rules_no_plugins", |_| false),
    ];
    for (name, with_plugin) in cases {
        let (_dir, handle) = server(&remap_config(with_plugin));
        breakdown(name, &handle);
        group.bench_function(name, |b| b.iter_custom(|iters| reloads(&handle, iters)));
        handle.shutdown();
        handle.wait();
    }
    group.finish();

    let text = remap_config(|_| true);
    let mut group = c.benchmark_group("parse");
    group.sample_size(20);
    group.bench_function("remap_10k", |b| {
        b.iter(|| black_box(Rules::parse(Path::new("remap.config"), black_box(&text)).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
