//! `cargo xtask bench`'s instruction counts (issues 17 and 22): how many instructions each proxy
//! runs per request, counted by valgrind's callgrind. Unlike req/s and CPU time, which the two
//! cores shared with wrk and the origin blur from run to run, a count changes only with the code
//! (and the libraries it runs on), so it measures what a change to the code did.
//!
//! Each contender runs alone under callgrind, with one worker (hookyard `workers: 1`, nginx one
//! process with `master_process off`), in front of one nginx origin, which is not counted. wrk
//! warms it up (1 s); then callgrind's counters are zeroed (`callgrind_control --zero`), wrk
//! loads it (`-t1 -c8`, the run's duration), and the counters are dumped
//! (`callgrind_control --dump`). A contender's count is its process's instructions, every
//! thread, between the zero and the dump, over the requests wrk completed meanwhile. It is
//! counted twice: with wrk's requests, which have one field (`Host`), and with the dozen more a
//! browser sends ([`BROWSER`]), where a proxy's cost per field shows.
//!
//! The contenders: hookyard with no plugin on its rule (`plain`), with the C `add_header` remap
//! plugin (`native`), with the proxy-wasm `request_header` filter (`wasm`), with the global
//! plugin `txn_hooks` (eight callbacks per transaction, `8hooks`), nginx `proxy_pass`, and the
//! floor (`bench-floor`, a bare forwarder: see [`floor`]). The report gives each count, its
//! ratio to nginx's, and what each plugin adds over plain; wasm's addition over native's is
//! issue 22's ratio counted in instructions.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::procs::{self, Server};
use super::wrk::{self, Load};
use super::{Options, floor, hookyard, install, nginx, wasm};

/// wrk's load while counting: the proxy runs some 50 times slower under callgrind, and a few
/// connections keep it busy.
const CONNECTIONS: u32 = 8;

/// The fields a browser sends with a page request besides `Host`, as wrk's Lua sets them.
const BROWSER: &str = r#"-- written by cargo xtask bench: the fields a browser sends with a page request
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
wrk.headers["Cookie"] = "session=abcdef0123456789; theme=dark; _ga=GA1.2.123456789.1700000000"
wrk.headers["Referer"] = "http://127.0.0.1/index.html"
wrk.headers["Sec-Fetch-Dest"] = "document"
wrk.headers["Sec-Fetch-Mode"] = "navigate"
wrk.headers["Sec-Fetch-Site"] = "same-origin"
wrk.headers["Sec-Fetch-User"] = "?1"
wrk.headers["Upgrade-Insecure-Requests"] = "1"
wrk.headers["Cache-Control"] = "max-age=0"
"#;

/// One contender's count.
#[derive(Debug, PartialEq)]
pub(crate) struct Count {
    pub(crate) name: &'static str,
    /// Requests wrk completed while counting.
    pub(crate) requests: u64,
    /// Instructions of every thread of the process meanwhile.
    pub(crate) instructions: u64,
}

impl Count {
    fn per_request(&self) -> f64 {
        if self.requests == 0 { f64::NAN } else { self.instructions as f64 / self.requests as f64 }
    }
}

/// `cargo xtask bench`'s instruction counts, in `dir`.
pub(crate) fn compare(root: &Path, o: &Options, dir: &Path) -> Result<()> {
    let installed = install::ensure()?;
    if let Some((_, why)) = installed.unavailable.iter().find(|(p, _)| *p == "instructions") {
        bail!("valgrind is needed to count instructions: {why}");
    }
    let binary = hookyard::build(root)?;
    let native = hookyard::compile_plugin(root, dir, "add_header")?;
    let hooks = hookyard::compile_plugin(root, dir, "txn_hooks")?;
    // Without the wasm32 target the other counts still stand.
    let filter = wasm::build_filter(root).map_err(|e| format!("{e:#}"));
    let floor_binary = floor::build(root);
    let settle = Duration::from_secs(120);
    let limit = (o.wrk.duration + settle) * 7 + Duration::from_secs(60);
    let (origin_server, origin) =
        nginx::start_origin(&dir.join("origin"), limit, Duration::from_secs(20))?;
    let scripts = [dir.join("report.lua"), dir.join("browser.lua")];
    std::fs::write(&scripts[0], wrk::SCRIPT)?;
    std::fs::write(&scripts[1], format!("{BROWSER}{}", wrk::SCRIPT))?;
    let native_param = "X-Bench:hookyard";
    let wasm_param = "X-Bench=hookyard";
    let (mut counts, mut browser) = (Vec::new(), Vec::new());
    let mut unavailable = Vec::new();
    let hookyards: [(&'static str, Plugin<'_>); 4] = [
        ("plain", Plugin::None),
        ("native", Plugin::Rule(&native, native_param)),
        (
            "wasm",
            match &filter {
                Ok(filter) => Plugin::Rule(filter, wasm_param),
                Err(why) => Plugin::Missing(why),
            },
        ),
        ("8hooks", Plugin::Global(&hooks)),
    ];
    for (name, plugin) in hookyards {
        if let Plugin::Missing(why) = plugin {
            unavailable.push((name, format!("the wasm filter did not build: {why}")));
            continue;
        }
        let side = dir.join(name);
        let counted = hookyard_side(&binary, &side, origin.port(), plugin, limit)
            .and_then(|(server, addr)| count(name, server, addr, &side, o, &scripts));
        match counted {
            Ok([one, dozen]) => {
                counts.push(one);
                browser.push(dozen);
            }
            Err(e) => unavailable.push((name, format!("{e:#}"))),
        }
    }
    let side = dir.join("nginx");
    match nginx_side(&side, origin.port(), limit)
        .and_then(|(server, addr)| count("nginx", server, addr, &side, o, &scripts))
    {
        Ok([one, dozen]) => {
            counts.push(one);
            browser.push(dozen);
        }
        Err(e) => unavailable.push(("nginx", format!("{e:#}"))),
    }
    let side = dir.join("floor");
    match floor_binary
        .and_then(|binary| floor_side(&binary, &side, origin.port(), limit))
        .and_then(|(server, addr)| count("floor", server, addr, &side, o, &scripts))
    {
        Ok([one, dozen]) => {
            counts.push(one);
            browser.push(dozen);
        }
        Err(e) => unavailable.push(("floor", format!("{e:#}"))),
    }
    drop(origin_server);
    println!("{}", table(&counts, "wrk's requests (1 field)", o.wrk.duration));
    println!("{}", table(&browser, "a browser's requests (13 fields)", o.wrk.duration));
    for (name, why) in &unavailable {
        println!("  {name}: not counted: {why}");
    }
    if counts.is_empty() {
        bail!("no contender could be counted");
    }
    Ok(())
}

/// The plugin of a hookyard contender.
#[derive(Clone, Copy)]
enum Plugin<'a> {
    None,
    /// A remap plugin on the rule, with its one parameter.
    Rule(&'a Path, &'a str),
    /// A global plugin (`plugin.yaml`).
    Global(&'a Path),
    /// One that could not be built, and why.
    Missing(&'a str),
}

/// The valgrind command that counts `program`'s instructions into `dir/callgrind.out`.
fn callgrind(dir: &Path, program: &Path) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", dir.join("callgrind.out").display()))
        .arg(program);
    cmd
}

/// Starts a hookyard of one worker with `plugin` in `dir`, under callgrind.
fn hookyard_side(
    binary: &Path,
    dir: &Path,
    origin: u16,
    plugin: Plugin<'_>,
    limit: Duration,
) -> Result<(Server, SocketAddr)> {
    std::fs::create_dir_all(dir.join("run"))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    std::fs::write(dir.join("hookyard.yaml"), format!("{}workers: 1\n", hookyard::settings(dir)))?;
    let from = format!("http://{addr}/");
    let rule = match plugin {
        Plugin::Rule(path, param) => hookyard::rule(&from, origin, Some((path, &[param]))),
        _ => hookyard::rule(&from, origin, None),
    };
    std::fs::write(dir.join("remap.config"), rule)?;
    if let Plugin::Global(path) = plugin {
        std::fs::write(
            dir.join("plugin.yaml"),
            format!("plugins:\n  - path: {}\n", path.display()),
        )?;
    }
    let mut cmd = callgrind(dir, binary);
    cmd.arg("run").arg("--config").arg(dir).arg("--listen").arg(addr.to_string());
    let mut server =
        Server::start("hookyard under callgrind", &cmd, limit, &dir.join("stdout.log"))?;
    server.wait_ready(addr, &addr.to_string(), Duration::from_secs(120))?;
    Ok((server, addr))
}

/// Starts nginx `proxy_pass` (the load comparison's configuration) as one process in `dir`,
/// under callgrind.
fn nginx_side(dir: &Path, origin: u16, limit: Duration) -> Result<(Server, SocketAddr)> {
    std::fs::create_dir_all(dir.join("tmp"))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    let conf = nginx::single_process(&nginx::proxy_conf(dir, addr.port(), origin));
    std::fs::write(dir.join("nginx.conf"), conf)?;
    let plain = nginx::command(&install::nginx(), dir);
    let mut cmd = callgrind(dir, &install::nginx());
    cmd.args(plain.get_args());
    let mut server = Server::start("nginx under callgrind", &cmd, limit, &dir.join("stdout.log"))?;
    server.wait_ready(addr, &addr.to_string(), Duration::from_secs(120))?;
    Ok((server, addr))
}

/// Starts `bench-floor` with one worker in `dir`, under callgrind.
fn floor_side(
    binary: &Path,
    dir: &Path,
    origin: u16,
    limit: Duration,
) -> Result<(Server, SocketAddr)> {
    std::fs::create_dir_all(dir)?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    let plain = floor::command(binary, addr, origin, Some(1));
    let mut cmd = callgrind(dir, binary);
    cmd.args(plain.get_args());
    let mut server =
        Server::start("bench-floor under callgrind", &cmd, limit, &dir.join("stdout.log"))?;
    server.wait_ready(addr, &addr.to_string(), Duration::from_secs(120))?;
    Ok((server, addr))
}

/// Warms `server` up, then for each of `scripts` (wrk's plain requests, a browser's) zeroes
/// its counters, loads it, and reads its count from the dump.
fn count(
    name: &'static str,
    server: Server,
    addr: SocketAddr,
    dir: &Path,
    o: &Options,
    scripts: &[PathBuf; 2],
) -> Result<[Count; 2]> {
    let pid = callgrind_pid(server.group())?;
    let url = format!("http://{addr}/");
    let warm = Load { threads: 1, connections: CONNECTIONS, duration: Duration::from_secs(1) };
    wrk::run(&warm, &scripts[0], &url)?;
    let load = Load { duration: o.wrk.duration, ..warm };
    let mut counts = Vec::new();
    for (at, script) in scripts.iter().enumerate() {
        control(pid, "--zero")?;
        let sample = wrk::run(&load, script, &url)?;
        control(pid, "--dump")?;
        if sample.errors() > 0 {
            bail!("{} of {} requests failed", sample.errors(), sample.requests);
        }
        // Dumps are numbered from 1.
        let dump = dir.join(format!("callgrind.out.{}", at + 1));
        let instructions = summary(&wait_for(&dump, Duration::from_secs(30))?)
            .with_context(|| format!("in {}", dump.display()))?;
        eprintln!(
            "xtask bench: {name}: {} requests, {instructions} instructions ({})",
            sample.requests,
            script.display()
        );
        counts.push(Count { name, requests: sample.requests, instructions });
    }
    drop(server);
    let [one, dozen] = <[Count; 2]>::try_from(counts).expect("one count per script");
    Ok([one, dozen])
}

/// The process under callgrind in process group `group`: valgrind itself (its `timeout`
/// wrapper has the same arguments after its own).
fn callgrind_pid(group: u32) -> Result<u32> {
    procs::group_pids(group)
        .into_iter()
        .find(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| is_callgrind(&c)))
        .context("no callgrind process in the server's group")
}

/// Whether a `/proc/PID/cmdline` (NUL-separated) is valgrind's (`valgrind`, or Debian's
/// `valgrind.bin` which its `valgrind` script runs), running callgrind.
fn is_callgrind(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&b| b == 0);
    let program = args.next().and_then(|p| p.rsplit(|&b| b == b'/').next());
    program.is_some_and(|p| p.starts_with(b"valgrind")) && args.any(|a| a == b"--tool=callgrind")
}

/// Runs `callgrind_control ARG PID`, which answers `OK.` when callgrind did it (and exits 0
/// either way).
fn control(pid: u32, arg: &str) -> Result<()> {
    let out = Command::new("timeout")
        .args(["-k", "5", "60", "callgrind_control", arg, &pid.to_string()])
        .output()
        .context("cannot run callgrind_control")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("OK.") {
        bail!(
            "callgrind_control {arg} {pid} failed: {}{}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The text of `path` once it is whole (callgrind writes a dump's `totals:` last).
fn wait_for(path: &Path, within: Duration) -> Result<String> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.lines().any(|l| l.starts_with("totals:"))
        {
            return Ok(text);
        }
        if Instant::now() > deadline {
            bail!("no whole dump at {} within {within:?}", path.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The instructions a callgrind dump counted: its `summary:` line (`totals:` in older ones).
pub(crate) fn summary(dump: &str) -> Result<u64> {
    let line = dump
        .lines()
        .find_map(|l| l.strip_prefix("summary:"))
        .or_else(|| dump.lines().find_map(|l| l.strip_prefix("totals:")))
        .context("the dump has no `summary:` line")?;
    let first = line.split_whitespace().next().context("an empty `summary:` line")?;
    first.parse().with_context(|| format!("`summary: {first}` is not a count"))
}

/// The report: each contender's instructions per request and ratio to nginx's; each plugin's
/// addition over plain; wasm's addition over native's.
pub(crate) fn table(counts: &[Count], requests: &str, duration: Duration) -> String {
    let of = |name: &str| counts.iter().find(|c| c.name == name).map(Count::per_request);
    let mut out = format!(
        "instructions per request, {requests} (callgrind, one worker, wrk -t1 -c{CONNECTIONS} \
         for {} s)\n",
        duration.as_secs()
    );
    for c in counts {
        out.push_str(&format!("  {:<7} {:>8.0}", c.name, c.per_request()));
        if let Some(nginx) = of("nginx").filter(|_| c.name != "nginx") {
            out.push_str(&format!("  {:.2}x nginx", c.per_request() / nginx));
        }
        if let Some(plain) = of("plain").filter(|_| !matches!(c.name, "plain" | "nginx" | "floor"))
        {
            out.push_str(&format!("  {:+.0} over plain", c.per_request() - plain));
        }
        out.push('\n');
    }
    if let (Some(plain), Some(native), Some(wasm)) = (of("plain"), of("native"), of("wasm")) {
        out.push_str(&format!(
            "  wasm filter over native filter: {:.2} (goal <= 1.3)\n",
            (wasm - plain) / (native - plain)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_sends_twelve_fields_besides_host() {
        let fields: Vec<&str> =
            BROWSER.lines().filter_map(|l| l.strip_prefix("wrk.headers[\"")).collect();
        assert_eq!(fields.len(), 12, "{fields:?}");
        assert!(!BROWSER.to_ascii_lowercase().contains("[\"host\"]"));
    }

    #[test]
    fn valgrind_is_told_from_its_wrapper() {
        assert!(is_callgrind(b"valgrind\0--tool=callgrind\0/bin/hookyard\0run\0"));
        assert!(is_callgrind(b"/usr/bin/valgrind.bin\0--tool=callgrind\0nginx\0"));
        assert!(!is_callgrind(b"timeout\0-k\x005\0valgrind\0--tool=callgrind\0nginx\0"));
        assert!(!is_callgrind(b"/opt/valgrind/timeout\0--tool=callgrind\0nginx\0"));
        assert!(!is_callgrind(b"valgrind\0--tool=memcheck\0nginx\0"));
        assert!(!is_callgrind(b""));
    }

    #[test]
    fn a_dump_gives_its_summary() {
        let dump = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\n\
                    events: Ir\nsummary: 117845177\n\nfn=(1) main\n5 10\ntotals: 117845177\n";
        assert_eq!(summary(dump).unwrap(), 117_845_177);
        assert_eq!(summary("events: Ir\ntotals: 42\n").unwrap(), 42);
        assert!(summary("events: Ir\n").is_err());
        assert!(summary("summary: lots\n").is_err());
    }

    #[test]
    fn the_table_gives_ratios_to_nginx_and_additions_over_plain() {
        let count = |name, instructions| Count { name, requests: 1000, instructions };
        let counts = [
            count("plain", 24_000_000),
            count("native", 29_000_000),
            count("wasm", 34_000_000),
            count("nginx", 18_000_000),
        ];
        let report = table(&counts, "wrk's", Duration::from_secs(10));
        assert!(report.starts_with("instructions per request, wrk's (callgrind"), "{report}");
        assert!(report.contains("wrk -t1 -c8 for 10 s"), "{report}");
        assert!(report.contains("plain      24000  1.33x nginx\n"), "{report}");
        assert!(report.contains("native     29000  1.61x nginx  +5000 over plain\n"), "{report}");
        assert!(report.contains("nginx      18000\n"), "{report}");
        assert!(report.contains("wasm filter over native filter: 2.00 (goal <= 1.3)"), "{report}");
    }

    #[test]
    fn without_nginx_or_plain_there_is_no_ratio() {
        let counts = [Count { name: "wasm", requests: 10, instructions: 300 }];
        let report = table(&counts, "a browser's", Duration::from_secs(2));
        assert!(report.ends_with("  wasm          30\n"), "{report}");
        let none = [Count { name: "plain", requests: 0, instructions: 5 }];
        assert!(table(&none, "wrk's", Duration::from_secs(2)).contains("plain        NaN"));
    }
}
