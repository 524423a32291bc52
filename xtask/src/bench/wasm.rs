//! `cargo xtask bench`'s WebAssembly part (issue 22): the per-request cost of a proxy-wasm
//! header filter (`plugins/wasm/request_header`, written with the proxy-wasm Rust SDK) against
//! the same job done by a native plugin (`plugins/c/add_header.c`): both add one field to the
//! request the origin gets, and nothing else. Each runs on a `map` rule of its own hookyard,
//! beside a hookyard without plugin, all in front of one nginx origin, in alternating rounds.
//!
//! The cost of a filter per request is `1/rps(with) - 1/rps(plain)` (seconds of the whole
//! proxy per request); the report gives both costs and their ratio (goal: wasm at most 1.3x
//! native), unless the native cost is within the plain proxy's spread between rounds, where
//! that ratio would be noise; and the same from each server's CPU time.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};

use super::procs::{self, Server};
use super::wrk::{self, Side};
use super::{Options, hookyard, install, nginx};

/// The field both filters add.
const FIELD: (&str, &str) = ("X-Bench", "hookyard");

/// Builds the example filters for wasm32-unknown-unknown; the request header filter's path.
pub(crate) fn build_filter(root: &Path) -> Result<PathBuf> {
    let target = root.join("target/wasm-plugins");
    let mut cmd = crate::cargo_cmd();
    cmd.current_dir(root.join("plugins/wasm"))
        .args(["build", "--release", "--locked", "--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(&target);
    crate::status(cmd)?;
    Ok(target.join("wasm32-unknown-unknown/release/request_header.wasm"))
}

/// Starts a hookyard in `dir` on a free port with one rule to `origin` running `plugin`.
fn start(
    binary: &Path,
    dir: &Path,
    origin: u16,
    plugin: Option<(&Path, &[&str])>,
    limit: Duration,
) -> Result<(Server, SocketAddr)> {
    std::fs::create_dir_all(dir.join("run"))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    std::fs::write(dir.join("hookyard.yaml"), hookyard::settings(dir))?;
    let from = format!("http://{addr}/");
    std::fs::write(dir.join("remap.config"), hookyard::rule(&from, origin, plugin))?;
    let ready = Duration::from_secs(20);
    let server = hookyard::serve(binary, dir, addr, limit, ready, "stdout.log")?;
    Ok((server, addr))
}

/// `cargo xtask bench`'s wasm part, in `dir`.
pub(crate) fn compare(root: &Path, o: &Options, dir: &Path) -> Result<()> {
    let installed = install::ensure()?;
    if let Some((_, why)) = installed.unavailable.iter().find(|(p, _)| *p == "nginx") {
        bail!("nginx is needed as the origin of the wasm comparison: {why}");
    }
    let binary = hookyard::build(root)?;
    let filter = build_filter(root)?;
    let native = hookyard::compile_plugin(root, dir, "add_header")?;
    let limit =
        (o.wrk.duration + Duration::from_secs(10)) * 3 * (o.rounds + 1) + Duration::from_secs(120);
    let (origin_server, origin) =
        nginx::start_origin(&dir.join("origin"), limit, Duration::from_secs(20))?;
    let native_param = format!("{}:{}", FIELD.0, FIELD.1);
    let wasm_param = format!("{}={}", FIELD.0, FIELD.1);
    let (plain_server, plain) = start(&binary, &dir.join("plain"), origin.port(), None, limit)?;
    let (native_server, native_addr) = start(
        &binary,
        &dir.join("native"),
        origin.port(),
        Some((&native, &[native_param.as_str()])),
        limit,
    )?;
    let (wasm_server, wasm_addr) = start(
        &binary,
        &dir.join("wasm"),
        origin.port(),
        Some((&filter, &[wasm_param.as_str()])),
        limit,
    )?;
    let script = dir.join("report.lua");
    std::fs::write(&script, wrk::SCRIPT)?;
    let mut sides = [
        Side::new("plain", plain).in_group(plain_server.group()),
        Side::new("native", native_addr).in_group(native_server.group()),
        Side::new("wasm", wasm_addr).in_group(wasm_server.group()),
    ];
    wrk::rotate(&o.wrk, o.warmup, o.rounds, &script, "wasm", &mut sides)?;
    drop((wasm_server, native_server, plain_server, origin_server));
    println!("{}", table(&sides));
    Ok(())
}

/// The report: each side's median throughput, each filter's cost per request, the ratio.
fn table(sides: &[Side]) -> String {
    let rps: Vec<f64> = sides.iter().map(Side::median_rps).collect();
    let plain = rps[0];
    let cost = |rps: f64| if rps > 0.0 && plain > 0.0 { 1e6 / rps - 1e6 / plain } else { f64::NAN };
    let mut out = String::from("wasm header filter against the native one (median of rounds)\n");
    for (side, rps) in sides.iter().zip(&rps) {
        out.push_str(&format!("  {:<7} {:>9.0} req/s\n", side.name, rps));
    }
    let (native, wasm) = (cost(rps[1]), cost(rps[2]));
    out.push_str(&format!("  cost per request: native {native:.2} us, wasm {wasm:.2} us, "));
    let spread = spread_us(&sides[0]);
    out.push_str(&ratio(wasm, native, spread));
    out.push_str(if native > spread { " (goal <= 1.3)\n" } else { "; see the cpu lines\n" });
    // The same from the servers' own CPU time per request, which the shared machine's other
    // work (wrk, the origin) does not blur.
    if let Some([native, wasm]) = over_plain(sides, "cpu", |s| s.cpu_us, &mut out) {
        // What a request costs the whole proxy with each filter: the filters' cost in
        // proportion to the rest of the work.
        out.push_str(&format!(
            "  cpu per request, whole proxy: native {native:.2} us, wasm {wasm:.2} us, ratio {:.2}\n",
            wasm / native
        ));
    }
    // The same in user space alone: the kernel's work per request (loopback TCP) is alike for
    // all three and varies between rounds more than the filters' costs do.
    over_plain(sides, "user cpu", |s| s.user_us, &mut out);
    out
}

/// Writes the filters' costs over the plain proxy in the CPU time per request `time` reads of
/// each sample (`what` names it), with their ratio; the native and wasm proxies' own medians,
/// when all three sides measured it.
fn over_plain(
    sides: &[Side],
    what: &str,
    time: fn(&wrk::Sample) -> Option<f64>,
    out: &mut String,
) -> Option<[f64; 2]> {
    let medians: Vec<Option<f64>> = sides.iter().map(|s| s.median_time_us(time)).collect();
    let [Some(plain), Some(native), Some(wasm)] = medians[..] else { return None };
    let (native_cost, wasm_cost) = (native - plain, wasm - plain);
    out.push_str(&format!(
        "  {what} per request over plain ({plain:.2} us): native {native_cost:.2} us, wasm \
         {wasm_cost:.2} us, "
    ));
    out.push_str(&ratio(wasm_cost, native_cost, cpu_spread_us(&sides[0], time)));
    out.push('\n');
    Some([native, wasm])
}

/// wasm's cost over native's, unless native's is no larger than `spread`, the plain proxy's
/// own between rounds: the ratio would be noise (a native filter of a few hundred
/// instructions often is).
fn ratio(wasm: f64, native: f64, spread: f64) -> String {
    if native > spread {
        format!("ratio {:.2}", wasm / native)
    } else {
        format!(
            "ratio not measured: native's cost is within the plain proxy's spread between \
             rounds ({spread:.2} us)"
        )
    }
}

/// How far apart `side`'s rounds are in the CPU time `time` reads of a sample, in
/// microseconds per request (0 with one round or none measured).
fn cpu_spread_us(side: &Side, time: fn(&wrk::Sample) -> Option<f64>) -> f64 {
    let cpu = side.samples.iter().filter_map(time);
    let (low, high) = cpu.fold((f64::MAX, 0.0_f64), |(lo, hi), c| (lo.min(c), hi.max(c)));
    if high > 0.0 { high - low } else { 0.0 }
}

/// How far apart `side`'s rounds are, in microseconds per request (0 with one round).
fn spread_us(side: &Side) -> f64 {
    let rps = side.samples.iter().map(|s| s.rps).filter(|r| *r > 0.0);
    let (low, high) = rps.fold((f64::MAX, 0.0_f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
    if high > 0.0 { 1e6 / low - 1e6 / high } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(name: &'static str, rps: &[f64]) -> Side {
        let samples = rps
            .iter()
            .map(|r| wrk::Sample {
                requests: 1,
                rps: *r,
                p50_us: 0.0,
                p99_us: 0.0,
                status_errors: 0,
                socket_errors: 0,
                cpu_us: None,
                user_us: None,
            })
            .collect();
        Side { name, addr: SocketAddr::from(([127, 0, 0, 1], 1)), group: None, samples }
    }

    #[test]
    fn the_ratio_is_of_costs_over_the_plain_proxy() {
        // 1e6/40000 - 1e6/50000 = 5 us; 1e6/37037 - 20 = 7 us.
        let sides =
            [side("plain", &[50000.0]), side("native", &[40000.0]), side("wasm", &[37037.037])];
        let report = table(&sides);
        assert!(report.contains("native 5.00 us, wasm 7.00 us, ratio 1.40"), "{report}");
    }

    #[test]
    fn a_cost_within_the_plain_rounds_spread_gets_no_ratio() {
        // Plain's rounds 1e6/50000 = 20 us and 1e6/48000 = 20.83 us apart; native costs 0.26.
        let sides = [
            side("plain", &[50000.0, 48000.0, 49000.0]),
            side("native", &[48400.0]),
            side("wasm", &[45000.0]),
        ];
        let report = table(&sides);
        assert!(report.contains("ratio not measured"), "{report}");
        assert!(report.contains("spread between rounds (0.83 us)"), "{report}");
    }

    #[test]
    fn cpu_time_gives_the_filters_cost_and_the_whole_proxys() {
        let mut sides =
            [side("plain", &[50000.0]), side("native", &[40000.0]), side("wasm", &[37037.0])];
        for (side, (cpu, user)) in sides.iter_mut().zip([(10.0, 3.0), (12.0, 3.4), (13.0, 4.4)]) {
            side.samples[0].cpu_us = Some(cpu);
            side.samples[0].user_us = Some(user);
        }
        let report = table(&sides);
        assert!(report.contains("native 2.00 us, wasm 3.00 us, ratio 1.50"), "{report}");
        assert!(
            report.contains("whole proxy: native 12.00 us, wasm 13.00 us, ratio 1.08"),
            "{report}"
        );
        assert!(
            report.contains(
                "user cpu per request over plain (3.00 us): native 0.40 us, wasm 1.40 us, ratio 3.50"
            ),
            "{report}"
        );
    }

    #[test]
    fn a_cpu_cost_within_the_plain_rounds_spread_gets_no_ratio() {
        let mut sides = [
            side("plain", &[50000.0, 50000.0]),
            side("native", &[40000.0]),
            side("wasm", &[37037.0]),
        ];
        for (sample, cpu) in sides[0].samples.iter_mut().zip([13.5, 14.0]) {
            sample.cpu_us = Some(cpu);
        }
        sides[1].samples[0].cpu_us = Some(13.6);
        sides[2].samples[0].cpu_us = Some(15.5);
        let report = table(&sides);
        let line = report.lines().find(|l| l.contains("cpu per request over plain")).unwrap();
        assert!(line.contains("ratio not measured"), "{report}");
        assert!(line.contains("spread between rounds (0.50 us)"), "{report}");
    }
}
