//! `cargo xtask bench`: the criterion micro-benchmarks of every crate, then the load comparison
//! of issue 9: hookyard, nginx `proxy_pass` and Apache Traffic Server 9.2 in front of the same
//! origin, driven by the same wrk settings, several rounds in alternating order, beside the
//! floor ([`floor`]: a bare forwarder, what the machine's network work alone allows).
//!
//! Then the gzip comparison of issue 18 (`gzip`): hookyard's `gzip` example plugin against
//! nginx's `gzip on` at the same level, with compressed sizes and ratios side by side.
//!
//! Then the WebAssembly comparison of issue 22 (`wasm`): the proxy-wasm header filter against
//! the same field added by a native plugin, each beside a hookyard without plugin.
//!
//! Then the instruction counts of issues 17 and 22 (`instructions`): hookyard without plugin,
//! with the native and the wasm filter, with eight global callbacks, nginx and the floor, each
//! counted under valgrind's callgrind per request.
//!
//! Everything runs on 127.0.0.1, from a directory of its own under the system temp directory
//! (configurations, pid files, logs, runtime directories), with ports the kernel picked. Every
//! server is bounded in time and torn down at the end, on errors too ([`procs`]). A contender
//! that cannot be set up or started here is reported unavailable with the reason, and the
//! others go on. See docs/benchmarks.md.

mod ats;
mod floor;
mod gzip;
mod hookyard;
mod install;
mod instructions;
mod nginx;
mod pools;
mod procs;
mod report;
mod tls;
mod wasm;
mod wrk;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::json;

use procs::Server;
pub(crate) use procs::stop_group;
use report::Proxy;

const HELP: &str = "\
usage: cargo xtask bench [options] [cargo bench args] [-- criterion args]

  --quick            a short smoke run: 1 round of 2 s, 1 s warm-up; criterion with --quick
  --rounds N         rounds, each running every proxy once, in rotating order (3)
  --duration SECS    wrk's -d per proxy per round (10)
  --warmup SECS      one discarded wrk run per proxy before the rounds (2)
  --connections N    wrk's -c (32)
  --threads N        wrk's -t (1)
  --no-micro         skip the criterion benchmarks
  --no-load          skip the load comparison
  --no-tls           skip the TLS comparison (handshakes/s with openssl s_time, HTTP/2 with h2load)
  --no-gzip          skip the gzip comparison (the gzip example plugin against nginx `gzip on`)
  --no-wasm          skip the wasm comparison (the proxy-wasm header filter against a native one)
  --no-pools         skip the pool comparison (a three-host round-robin strategy against one origin)
  --no-instructions  skip the instruction counts (callgrind: hookyard's rules and nginx, per request)
  --keep             keep the bench directory (configs, logs) even when all went well
Anything else goes to `cargo bench --workspace`.
";

/// The task's options.
#[derive(Debug)]
struct Options {
    micro: bool,
    load: bool,
    tls: bool,
    gzip: bool,
    wasm: bool,
    pools: bool,
    instructions: bool,
    quick: bool,
    keep: bool,
    rounds: u32,
    warmup: Duration,
    wrk: wrk::Load,
    cargo: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let (mut rounds, mut duration, mut warmup, mut connections, mut threads) =
        (None, None, None, None, None);
    let mut o = Options {
        micro: true,
        load: true,
        tls: true,
        gzip: true,
        wasm: true,
        pools: true,
        instructions: true,
        quick: false,
        keep: false,
        rounds: 3,
        warmup: Duration::ZERO,
        wrk: wrk::Load { threads: 1, connections: 32, duration: Duration::ZERO },
        cargo: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64> {
            let v = it.next().with_context(|| format!("{name} needs a value"))?;
            let n = v.strip_suffix('s').unwrap_or(v);
            n.parse().with_context(|| format!("{name}: `{v}` is not a whole number"))
        };
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--keep" => o.keep = true,
            "--no-micro" => o.micro = false,
            "--no-load" => o.load = false,
            "--no-tls" => o.tls = false,
            "--no-gzip" => o.gzip = false,
            "--no-wasm" => o.wasm = false,
            "--no-pools" => o.pools = false,
            "--no-instructions" => o.instructions = false,
            "--rounds" => rounds = Some(value(arg)?),
            "--duration" => duration = Some(value(arg)?),
            "--warmup" => warmup = Some(value(arg)?),
            "--connections" => connections = Some(value(arg)?),
            "--threads" => threads = Some(value(arg)?),
            "--" => {
                o.cargo.push(arg.clone());
                o.cargo.extend(it.by_ref().cloned());
            }
            _ => o.cargo.push(arg.clone()),
        }
    }
    let (d_rounds, d_duration, d_warmup) = if o.quick { (1, 2, 1) } else { (3, 10, 2) };
    o.rounds = u32::try_from(rounds.unwrap_or(d_rounds))?;
    o.wrk.duration = Duration::from_secs(duration.unwrap_or(d_duration));
    o.warmup = Duration::from_secs(warmup.unwrap_or(d_warmup));
    o.wrk.connections = u32::try_from(connections.unwrap_or(32))?;
    o.wrk.threads = u32::try_from(threads.unwrap_or(1))?;
    if o.rounds == 0 || o.wrk.duration.is_zero() || o.wrk.connections == 0 || o.wrk.threads == 0 {
        bail!("--rounds, --duration, --connections and --threads must be at least 1");
    }
    if o.wrk.connections < o.wrk.threads {
        bail!("wrk needs at least one connection per thread");
    }
    Ok(o)
}

/// The cargo arguments of the criterion run: `--quick` benches only the bench targets (the
/// libraries' libtest harness does not know criterion's `--quick`) and passes `--quick` on.
fn micro_args(o: &Options) -> Vec<String> {
    let mut args: Vec<String> = vec!["bench".into(), "--workspace".into()];
    if !o.quick {
        args.extend(o.cargo.iter().cloned());
        return args;
    }
    args.extend(["--bench".into(), "*".into()]);
    args.extend(o.cargo.iter().cloned());
    if !o.cargo.iter().any(|a| a == "--") {
        args.push("--".into());
    }
    args.push("--quick".into());
    args
}

/// `cargo xtask bench`.
pub(crate) fn task(root: &Path, args: &[String]) -> Result<()> {
    if args.iter().take_while(|a| *a != "--").any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return Ok(());
    }
    let o = parse_args(args)?;
    if o.micro {
        let mut cmd = crate::cargo_cmd();
        cmd.args(micro_args(&o));
        crate::status(cmd).context("the criterion benchmarks failed")?;
    }
    if o.load {
        load(root, &o)?;
    }
    if o.tls {
        tls_load(root, &o)?;
    }
    if o.gzip {
        in_own_dir(root, &o, "gzip", "gzip comparison", gzip::compare)?;
    }
    if o.wasm {
        in_own_dir(root, &o, "wasm", "wasm comparison", wasm::compare)?;
    }
    if o.pools {
        in_own_dir(root, &o, "pools", "pool comparison", pools::compare)?;
    }
    if o.instructions {
        in_own_dir(root, &o, "instructions", "instruction counts", instructions::compare)?;
    }
    Ok(())
}

/// Runs one comparison (`what`, its directory named `hookyard-bench-NAME-PID` under the temp
/// directory) in a fresh directory, kept when it failed or with `--keep`.
fn in_own_dir(
    root: &Path,
    o: &Options,
    name: &str,
    what: &str,
    compare: fn(&Path, &Options, &Path) -> Result<()>,
) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("hookyard-bench-{name}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!("xtask bench: {what} in {}", dir.display());
    let outcome = compare(root, o, &dir);
    if outcome.is_ok() && !o.keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("xtask bench: configurations and logs kept in {}", dir.display());
    }
    outcome
}

/// A contender while it is being set up.
struct Contender {
    name: &'static str,
    setup: String,
    addr: SocketAddr,
    /// `None` once it is unavailable.
    server: Option<Server>,
    samples: Result<Vec<wrk::Sample>, String>,
}

impl Contender {
    fn new(name: &'static str, setup: String, port: u16) -> Contender {
        Contender {
            name,
            setup,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            server: None,
            samples: Ok(Vec::new()),
        }
    }

    fn fail(&mut self, reason: String) {
        eprintln!("xtask bench: {} unavailable: {reason}", self.name);
        self.server = None;
        self.samples = Err(reason);
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

fn load(root: &Path, o: &Options) -> Result<()> {
    let installed = install::ensure()?;
    let started = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let dir = std::env::temp_dir().join(format!("hookyard-bench-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    eprintln!("xtask bench: load comparison in {}", dir.display());
    // Kept when anything went wrong: the logs say why.
    let outcome = run_load(root, o, &dir, installed, started);
    match &outcome {
        Ok(true) if !o.keep => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        _ => eprintln!("xtask bench: configurations and logs kept in {}", dir.display()),
    }
    outcome.map(drop)
}

/// The TLS comparison, in a directory of its own (kept when it failed, or with `--keep`).
fn tls_load(root: &Path, o: &Options) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("hookyard-bench-tls-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    eprintln!("xtask bench: TLS comparison in {}", dir.display());
    let outcome = tls::compare(root, o, &dir);
    if outcome.is_ok() && !o.keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("xtask bench: configurations and logs kept in {}", dir.display());
    }
    outcome
}

/// Returns whether every contender was measured.
fn run_load(
    root: &Path,
    o: &Options,
    dir: &Path,
    installed: install::Installed,
    started: u64,
) -> Result<bool> {
    let load_before = loadavg();
    let script = dir.join("report.lua");
    std::fs::write(&script, wrk::SCRIPT)?;
    let targets = 6;
    let limit = o.warmup * targets
        + (o.wrk.duration + Duration::from_secs(5)) * targets * o.rounds
        + Duration::from_secs(180);
    let ready = Duration::from_secs(20);
    // Built before any server starts: each server's life is bounded from its own start, and a
    // build can take minutes.
    let binary = hookyard::build(root).map_err(|e| format!("cannot build hookyard: {e:#}"));
    let floor_binary = floor::build(root).map_err(|e| format!("cannot build bench-floor: {e:#}"));

    // The origin: without it, nothing to compare.
    let (server, origin_addr) = nginx::start_origin(&dir.join("origin"), limit, ready)?;
    let origin_port = origin_addr.port();
    let mut origin = Contender::new(
        "origin",
        "nginx, 1 worker, `return 200` with a 37-byte body; measured alone for reference".into(),
        origin_port,
    );
    origin.server = Some(server);

    // hookyard.
    let mut hy = Contender::new("hookyard", String::new(), procs::free_port()?);
    let mut plugin = (false, None);
    match start_hookyard(root, dir, &hy, binary.as_deref(), origin_port, limit, ready) {
        Ok((server, setup)) => {
            plugin = (setup.plugin, setup.note.clone());
            hy.setup = if setup.plugin {
                "release build, default workers (one per core, pinned: worker_cpu_affinity: auto), one map rule with @plugin=add_header.so @pparam=X-Bench:hookyard".into()
            } else {
                "release build, default workers (one per core, pinned: worker_cpu_affinity: auto), one map rule WITHOUT plugin (the proxy refused it)".into()
            };
            hy.server = Some(server);
        }
        Err(err) => hy.fail(format!("{err:#}")),
    }
    if let Some(note) = &plugin.1 {
        eprintln!("xtask bench: hookyard runs without its plugin: {note}");
    }

    // hookyard with a global plugin of eight hook callbacks per transaction, no remap plugin.
    let mut hooks = Contender::new(
        "hy-8hooks",
        "release build, default workers pinned (worker_cpu_affinity: auto), one map rule without plugin, and the global plugin txn_hooks.so: one continuation on 8 hooks of every transaction".into(),
        procs::free_port()?,
    );
    match start_hooks(root, dir, &hooks, binary.as_deref(), origin_port, limit, ready) {
        Ok(server) => hooks.server = Some(server),
        Err(err) => hooks.fail(format!("{err:#}")),
    }

    // nginx proxy_pass.
    let mut ngx = Contender::new(
        "nginx",
        "worker_processes auto, worker_cpu_affinity auto, proxy_pass to an upstream with keepalive 64, HTTP/1.1, no access log".into(),
        procs::free_port()?,
    );
    let ngx_dir = dir.join("nginx");
    let start = (|| -> Result<Server> {
        std::fs::create_dir_all(ngx_dir.join("tmp"))?;
        std::fs::write(
            ngx_dir.join("nginx.conf"),
            nginx::proxy_conf(&ngx_dir, ngx.addr.port(), origin_port),
        )?;
        let mut s = Server::start(
            "nginx",
            &nginx::command(&install::nginx(), &ngx_dir),
            limit,
            &ngx_dir.join("stdout.log"),
        )?;
        s.wait_ready(ngx.addr, &ngx.addr.to_string(), ready)?;
        Ok(s)
    })();
    match start {
        Ok(s) => ngx.server = Some(s),
        Err(err) => ngx.fail(format!("{err:#}")),
    }

    // ATS.
    let mut ats = Contender::new(
        "ats",
        "traffic_server 9.2 alone, TS_RUNROOT in the bench dir, cache and logging off, default threads, map rule with a null remap plugin".into(),
        procs::free_port()?,
    );
    if let Some((_, why)) = installed.unavailable.iter().find(|(p, _)| *p == "ats") {
        ats.fail(why.clone());
    } else {
        let ats_dir = dir.join("ats");
        let start = (|| -> Result<Server> {
            ats::prepare(&ats_dir, ats.addr.port(), origin_port)?;
            let mut s = Server::start(
                "traffic_server",
                &ats::command(&install::traffic_server(), &ats_dir),
                limit,
                &ats_dir.join("log/stdout.log"),
            )?;
            s.wait_ready(ats.addr, &ats.addr.to_string(), ready).map_err(|e| {
                let diags = ats_dir.join("log/diags.log");
                anyhow::anyhow!("{e:#}\n(see also {})", diags.display())
            })?;
            Ok(s)
        })();
        match start {
            Ok(s) => ats.server = Some(s),
            Err(err) => ats.fail(format!("{err:#}")),
        }
    }

    // The floor: what the machine's network work alone allows.
    let mut bare = Contender::new(
        "floor",
        "bench-floor (xtask/floor): a bare HTTP/1 forwarder on tokio, one worker per core pinned, kept-alive origin connections, one field added; no rule, check, log, metric or timeout".into(),
        procs::free_port()?,
    );
    let start = floor_binary.map_err(|e| anyhow::anyhow!("{e}")).and_then(|binary| {
        let command = floor::command(&binary, bare.addr, origin_port, None);
        let mut s = Server::start("bench-floor", &command, limit, &dir.join("floor.log"))?;
        s.wait_ready(bare.addr, &bare.addr.to_string(), ready)?;
        Ok(s)
    });
    match start {
        Ok(s) => bare.server = Some(s),
        Err(err) => bare.fail(format!("{err:#}")),
    }

    let mut all = [hy, hooks, ngx, ats, bare, origin];
    verify(&mut all, plugin.0);

    // Warm-up, then the rounds, each starting one contender later than the last.
    for c in all.iter_mut().filter(|c| c.server.is_some()) {
        if o.warmup.is_zero() {
            break;
        }
        let warm = wrk::Load { duration: o.warmup, ..o.wrk.clone() };
        eprintln!("xtask bench: warm-up {} ({}s)", c.name, o.warmup.as_secs());
        if let Err(err) = wrk::run(&warm, &script, &c.url()) {
            c.fail(format!("warm-up: {err:#}"));
        }
    }
    let n = all.len();
    for round in 0..o.rounds as usize {
        for i in 0..n {
            let c = &mut all[(round + i) % n];
            let Some(server) = c.server.as_mut() else { continue };
            if let Err(err) = server.wait_ready(c.addr, &c.addr.to_string(), Duration::from_secs(2))
            {
                c.fail(format!("round {}: no longer serving: {err:#}", round + 1));
                continue;
            }
            let group = Some(server.group());
            match wrk::run_measured(&o.wrk, &script, &c.url(), group) {
                Ok(sample) => {
                    eprintln!(
                        "xtask bench: round {}/{} {:<9} {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  cpu {:.1} us/req  errors {}",
                        round + 1,
                        o.rounds,
                        c.name,
                        sample.rps,
                        sample.p50_us / 1e3,
                        sample.p99_us / 1e3,
                        sample.cpu_us.unwrap_or(f64::NAN),
                        sample.errors()
                    );
                    if let Ok(samples) = c.samples.as_mut() {
                        samples.push(sample);
                    }
                }
                Err(err) => c.fail(format!("round {}: {err:#}", round + 1)),
            }
        }
    }
    let load_after = loadavg();
    // Tear everything down before writing anything.
    for c in &mut all {
        c.server = None;
    }

    let run = report::Run {
        date: report::utc(started),
        machine: json!({
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "cpu": cpu_model(),
            "kernel": read_trim("/proc/sys/kernel/osrelease"),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        }),
        settings: json!({
            "wrk": format!("wrk -t{} -c{} -d{}s --latency", o.wrk.threads, o.wrk.connections, o.wrk.duration.as_secs()),
            "threads": o.wrk.threads,
            "connections": o.wrk.connections,
            "duration_s": o.wrk.duration.as_secs(),
            "warmup_s": o.warmup.as_secs(),
            "rounds": o.rounds,
            "quick": o.quick,
        }),
        versions: json!({
            "hookyard": git_describe(root),
            "nginx": nginx_version(),
            "trafficserver": install::version("trafficserver"),
            "wrk": install::version("wrk"),
        }),
        hookyard_plugin: plugin.0,
        hookyard_plugin_note: plugin.1,
        proxies: all
            .into_iter()
            .map(|c| Proxy { name: c.name.to_owned(), setup: c.setup, samples: c.samples })
            .collect(),
    };
    let out = root.join("target").join("bench");
    std::fs::create_dir_all(&out)?;
    let json_path = out.join("load.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report::json(&run))? + "\n")?;
    let svg_path = out.join("load.svg");
    std::fs::write(&svg_path, report::svg(&run))?;
    println!();
    println!(
        "load comparison, {} ({}, {} round(s), medians):",
        run.date,
        run.settings["wrk"].as_str().unwrap_or_default(),
        o.rounds
    );
    print!("{}", report::table(&run));
    println!("written: {} and {}", json_path.display(), svg_path.display());
    if run.proxies.iter().take(4).all(|p| p.samples.is_err()) {
        bail!("no proxy could be measured");
    }
    Ok(run.proxies.iter().all(|p| p.samples.is_ok()))
}

fn start_hookyard(
    root: &Path,
    dir: &Path,
    hy: &Contender,
    binary: Result<&Path, &String>,
    origin: u16,
    limit: Duration,
    ready: Duration,
) -> Result<(Server, hookyard::Setup)> {
    let binary = binary.map_err(|e| anyhow::anyhow!("{e}"))?;
    let hy_dir = dir.join("hookyard");
    std::fs::create_dir_all(&hy_dir)?;
    let setup = hookyard::prepare(root, binary, &hy_dir, hy.addr.port(), origin)?;
    let server = hookyard::serve(binary, &hy_dir, hy.addr, limit, ready, "stderr.log")?;
    Ok((server, setup))
}

/// hookyard with the global plugin `txn_hooks` (eight callbacks per transaction) and a rule
/// without plugin.
fn start_hooks(
    root: &Path,
    dir: &Path,
    hooks: &Contender,
    binary: Result<&Path, &String>,
    origin: u16,
    limit: Duration,
    ready: Duration,
) -> Result<Server> {
    let binary = binary.map_err(|e| anyhow::anyhow!("{e}"))?;
    let hy_dir = dir.join("hy-8hooks");
    std::fs::create_dir_all(hy_dir.join("run"))?;
    std::fs::write(hy_dir.join("hookyard.yaml"), hookyard::settings(&hy_dir))?;
    let plugin = hookyard::compile_plugin(root, &hy_dir, "txn_hooks")?;
    std::fs::write(
        hy_dir.join("plugin.yaml"),
        format!("plugins:\n  - path: {}\n", plugin.display()),
    )?;
    let from = format!("http://127.0.0.1:{}/", hooks.addr.port());
    std::fs::write(hy_dir.join("remap.config"), hookyard::rule(&from, origin, None))?;
    hookyard::serve(binary, &hy_dir, hooks.addr, limit, ready, "stderr.log")
}

/// Every contender serves the origin's body; hookyard's plugin, when it runs, is seen by the
/// origin. A contender that fails this is not measured.
fn verify(all: &mut [Contender], plugin: bool) {
    for c in all.iter_mut().filter(|c| c.server.is_some()) {
        let response = match procs::get(c.addr, &c.addr.to_string()) {
            Ok(r) => r,
            Err(err) => {
                c.fail(format!("check request failed: {err:#}"));
                continue;
            }
        };
        if !response.starts_with("HTTP/1.1 200") || !response.ends_with(nginx::BODY) {
            let first = response.lines().next().unwrap_or_default().to_owned();
            c.fail(format!("check request: not the origin's 200 and body ({first})"));
            continue;
        }
        let seen = procs::header(&response, nginx::REFLECT);
        if c.name == "hookyard" && plugin && seen != Some("hookyard") {
            c.fail(format!("add_header did not reach the origin ({}: {seen:?})", nginx::REFLECT));
        }
    }
}

/// Builds `bin` of `package` in release and returns its path. Honours `CARGO_TARGET_DIR`
/// (relative to the workspace root, where cargo runs).
fn build_release(root: &Path, package: &str, bin: &str) -> Result<PathBuf> {
    let mut cmd = crate::cargo_cmd();
    cmd.args(["build", "--release", "--locked", "--package", package, "--bin", bin]);
    crate::status(cmd)?;
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let binary = target.join("release").join(bin);
    if !binary.is_file() {
        bail!("the build succeeded but {} is not there", binary.display());
    }
    Ok(binary)
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned()).unwrap_or_default()
}

fn loadavg() -> String {
    read_trim("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn cpu_model() -> String {
    read_trim("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default()
}

fn nginx_version() -> String {
    Command::new(install::nginx())
        .arg("-v")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .trim_start_matches("nginx version: ")
                .to_owned()
        })
        .unwrap_or_default()
}

fn git_describe(root: &Path) -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown (not a git checkout)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn defaults_and_quick() {
        let o = parse_args(&[]).expect("parses");
        assert_eq!((o.rounds, o.wrk.duration.as_secs(), o.warmup.as_secs()), (3, 10, 2));
        assert_eq!((o.wrk.threads, o.wrk.connections), (1, 32));
        assert!(o.micro && o.load && o.tls && o.instructions && !o.quick);
        let q = parse_args(&args("--quick --rounds 2")).expect("parses");
        assert_eq!((q.rounds, q.wrk.duration.as_secs(), q.warmup.as_secs()), (2, 2, 1));
    }

    #[test]
    fn options_and_passthrough() {
        let o = parse_args(&args("--no-micro --no-tls --no-instructions --duration 5s -p hookyard-remap --connections 64 -- --save-baseline x --rounds"))
            .expect("parses");
        assert!(!o.micro && !o.tls && !o.instructions && o.load);
        assert_eq!((o.wrk.duration.as_secs(), o.wrk.connections, o.rounds), (5, 64, 3));
        assert_eq!(o.cargo, args("-p hookyard-remap -- --save-baseline x --rounds"));
        assert!(parse_args(&args("--rounds")).is_err());
        assert!(parse_args(&args("--rounds zero")).is_err());
        assert!(parse_args(&args("--rounds 0")).is_err());
        assert!(parse_args(&args("--threads 4 --connections 2")).is_err());
    }

    #[test]
    fn criterion_args() {
        let o = parse_args(&args("-p hookyard-dso")).expect("parses");
        assert_eq!(micro_args(&o), args("bench --workspace -p hookyard-dso"));
        let q = parse_args(&args("--quick")).expect("parses");
        assert_eq!(micro_args(&q), args("bench --workspace --bench * -- --quick"));
        let q = parse_args(&args("--quick -- --noplot")).expect("parses");
        assert_eq!(micro_args(&q), args("bench --workspace --bench * -- --noplot --quick"));
    }
}
