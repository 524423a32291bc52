//! `cargo xtask soak [--minutes N]`: a local soak, not run in CI. The release `hookyard` serves
//! a steady load while a remap plugin is swapped between two versions and the configuration
//! reloaded every few hundred milliseconds; the proxy's resident memory and open file
//! descriptors are sampled from `/proc` every few seconds. They should stay flat.
//!
//! Everything runs on 127.0.0.1, from `<target dir>/soak/run/`: an origin and the load
//! generator (threads of this process, plain `std` sockets), the proxy (under coreutils
//! `timeout`, in its own process group, stopped at the end on every way out), and the
//! `versioned` C test plugin compiled as versions 1 and 2, installed by rename. Reloads go
//! through the control socket. The samples and totals are written to
//! `<target dir>/soak/soak.json`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

const HELP: &str = "\
usage: cargo xtask soak [options]

  --minutes N        how long the load and the reloads run (10)
  --connections N    load generator connections, each one request at a time (8)
  --reload-ms N      time between plugin swaps + reloads (300)
  --sample-secs N    time between RSS/fd samples (5)
  --rules N          remap rules besides the plugin's, parsed on every reload (1000)
Writes <target dir>/soak/soak.json; fails if a request or a reload failed.
";

#[derive(Debug)]
struct Options {
    minutes: u64,
    connections: usize,
    reload: Duration,
    sample: Duration,
    rules: usize,
}

fn parse_args(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        minutes: 10,
        connections: 8,
        reload: Duration::from_millis(300),
        sample: Duration::from_secs(5),
        rules: 1000,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64> {
            let v = it.next().with_context(|| format!("{name} needs a value"))?;
            v.parse().with_context(|| format!("{name}: `{v}` is not a whole number"))
        };
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--minutes" => o.minutes = value(arg)?,
            "--connections" => o.connections = usize::try_from(value(arg)?)?,
            "--reload-ms" => o.reload = Duration::from_millis(value(arg)?),
            "--sample-secs" => o.sample = Duration::from_secs(value(arg)?),
            "--rules" => o.rules = usize::try_from(value(arg)?)?,
            other => bail!("unknown option `{other}`\n{HELP}"),
        }
    }
    if o.minutes == 0 || o.connections == 0 || o.reload.is_zero() || o.sample.is_zero() {
        bail!("--minutes, --connections, --reload-ms and --sample-secs must be at least 1");
    }
    Ok(Some(o))
}

/// `cargo xtask soak`.
pub(crate) fn task(root: &Path, args: &[String]) -> Result<()> {
    let Some(o) = parse_args(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let binary = build(root)?;
    let out = crate::fuzz::target_dir(root).join("soak");
    let dir = out.join("run");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    for sub in ["plugins", "build", "run"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let versions = [compile(root, &dir, 1)?, compile(root, &dir, 2)?];
    install(&dir, &versions[0])?;

    let origin = origin()?;
    let port = free_port()?;
    let proxy_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let host = proxy_addr.to_string();
    let admin = dir.join("admin.sock");
    std::fs::write(
        dir.join("hookyard.yaml"),
        format!(
            "# written by cargo xtask soak\nruntime_dir: {}\nplugin_dirs: [{}]\nadmin: {}\n",
            dir.join("run").display(),
            dir.join("plugins").display(),
            admin.display()
        ),
    )?;
    let mut remap = format!("map http://{host}/ http://{origin}/ @plugin=versioned.so\n");
    for i in 0..o.rules {
        remap.push_str(&format!("map http://filler{i}.soak.test/ http://{origin}/filler/\n"));
    }
    std::fs::write(dir.join("remap.config"), remap)?;

    let limit = Duration::from_secs(o.minutes * 60 + 300);
    let mut proxy = Proxy::start(&binary, &dir, proxy_addr, limit)?;
    eprintln!("xtask soak: hookyard (pid {}) on {proxy_addr}, origin on {origin}", proxy.pid);
    wait_ready(&proxy_addr, &host, &proxy)?;

    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let reloads = Arc::new(Reloads::default());
    let first = sample(&proxy, &dir, Duration::ZERO, &load, &reloads);
    eprintln!("xtask soak: {}", first.line());
    let mut samples = vec![first];

    let mut threads = Vec::new();
    for _ in 0..o.connections {
        let (load, stop, host) = (load.clone(), stop.clone(), host.clone());
        threads.push(thread::spawn(move || client(proxy_addr, &host, &stop, &load)));
    }
    let reloader = {
        let (reloads, stop, dir, admin) = (reloads.clone(), stop.clone(), dir.clone(), admin);
        let period = o.reload;
        thread::spawn(move || reload_loop(&dir, &admin, &versions, period, &stop, &reloads))
    };

    let start = Instant::now();
    let end = start + Duration::from_secs(o.minutes * 60);
    eprintln!(
        "xtask soak: {} min of load ({} connections) with a plugin swap + reload every {} ms",
        o.minutes,
        o.connections,
        o.reload.as_millis()
    );
    let mut next = start + o.sample;
    while Instant::now() < end {
        let now = Instant::now();
        if now < next {
            thread::sleep((next - now).min(end - now));
            continue;
        }
        next += o.sample;
        let s = sample(&proxy, &dir, start.elapsed(), &load, &reloads);
        eprintln!("xtask soak: {}", s.line());
        samples.push(s);
        if proxy.exited() {
            bail!("hookyard exited during the soak; see {}", dir.join("hookyard.log").display());
        }
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    let _ = reloader.join();
    // Let the last generation's predecessors drain and unload before the final sample.
    thread::sleep(Duration::from_secs(3));
    let last = sample(&proxy, &dir, start.elapsed(), &load, &reloads);
    eprintln!("xtask soak: after the load: {}", last.line());
    samples.push(last);
    let plugins = ctl(&dir.join("admin.sock"), "plugins").unwrap_or(Value::Null);
    drop(proxy);

    let report = report(&o, started_at, &samples, &load, &reloads, plugins);
    std::fs::create_dir_all(&out)?;
    let path = out.join("soak.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    print_summary(&report);
    println!("written: {}", path.display());
    let errors = report["requests"]["errors"].as_u64().unwrap_or(0);
    let failed = report["reloads"]["failed"].as_u64().unwrap_or(0);
    if errors > 0 || failed > 0 {
        bail!("{errors} failed requests, {failed} failed reloads");
    }
    Ok(())
}

/// Builds `hookyard` in release; returns its path.
fn build(root: &Path) -> Result<PathBuf> {
    let mut cmd = crate::cargo_cmd();
    cmd.args([
        "build",
        "--release",
        "--locked",
        "--package",
        "hookyard-proxy",
        "--bin",
        "hookyard",
    ]);
    crate::status(cmd).context("cannot build hookyard")?;
    let binary = crate::fuzz::target_dir(root).join("release").join("hookyard");
    if !binary.is_file() {
        bail!("the build succeeded but {} is not there", binary.display());
    }
    Ok(binary)
}

/// `crates/fixtures/c/versioned.c` as version `version`: it sets `X-Plugin-Version: N`.
fn compile(root: &Path, dir: &Path, version: u32) -> Result<PathBuf> {
    let out = dir.join("build").join(format!("versioned{version}.so"));
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()));
    cc.args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I"])
        .arg(root.join("crates/abi/include"))
        .arg(format!("-DPLUGIN_VERSION={version}"))
        .arg("-o")
        .arg(&out)
        .arg(root.join("crates/fixtures/c/versioned.c"));
    crate::status(cc)?;
    Ok(out)
}

/// Installs `from` as `plugins/versioned.so` the way deployment tools do: copy beside, rename.
fn install(dir: &Path, from: &Path) -> Result<()> {
    let staging = dir.join("plugins").join(".versioned.so.tmp");
    std::fs::copy(from, &staging)?;
    std::fs::rename(&staging, dir.join("plugins").join("versioned.so"))?;
    Ok(())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The proxy: coreutils `timeout` leading a process group, `hookyard` its child.
struct Proxy {
    child: Child,
    /// hookyard's own pid (the child of `timeout`).
    pid: u32,
}

impl Proxy {
    fn start(binary: &Path, dir: &Path, addr: SocketAddr, limit: Duration) -> Result<Proxy> {
        let log = std::fs::File::create(dir.join("hookyard.log"))?;
        let child = Command::new("timeout")
            .args(["-k", "5", &limit.as_secs().to_string()])
            .arg(binary)
            .arg("run")
            .arg("--config")
            .arg(dir)
            .arg("--listen")
            .arg(addr.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("cannot start hookyard under timeout")?;
        let mut proxy = Proxy { pid: 0, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while proxy.pid == 0 {
            let children = format!("/proc/{0}/task/{0}/children", proxy.child.id());
            let found = std::fs::read_to_string(children).unwrap_or_default();
            match found.split_whitespace().next().and_then(|p| p.parse().ok()) {
                Some(pid) => proxy.pid = pid,
                None if Instant::now() > deadline => bail!("hookyard did not start"),
                None => thread::sleep(Duration::from_millis(20)),
            }
        }
        Ok(proxy)
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        crate::bench::stop_group(&mut self.child, Duration::from_secs(10));
    }
}

fn wait_ready(addr: &SocketAddr, host: &str, proxy: &Proxy) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        let attempt = TcpStream::connect(addr).map_err(anyhow::Error::from).and_then(|s| {
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            let mut conn = BufReader::new(s);
            request(&mut conn, host)
        });
        match attempt {
            Ok(r) if r.status == 200 && r.version.is_some() => return Ok(()),
            Ok(r) => last = format!("status {}, version {:?}", r.status, r.version),
            Err(e) => last = format!("{e:#}"),
        }
        thread::sleep(Duration::from_millis(100));
    }
    bail!("hookyard (pid {}) was not ready within 20 s (last: {last})", proxy.pid)
}

// --- The origin -----------------------------------------------------------------------------

/// An origin on its own threads (one per connection, keep-alive): answers 200 with the
/// `X-Plugin-Version` it received echoed as `X-Saw-Version`.
fn origin() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve_origin(stream));
        }
    });
    Ok(addr)
}

fn serve_origin(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else { return };
    let mut conn = BufReader::new(stream);
    loop {
        let Ok(head) = read_head(&mut conn) else { return };
        let version = header(&head, "x-plugin-version").unwrap_or("none").to_owned();
        if let Some(length) = header(&head, "content-length").and_then(|l| l.parse::<u64>().ok())
            && std::io::copy(&mut (&mut conn).take(length), &mut std::io::sink()).is_err()
        {
            return;
        }
        let body = "soak ok\n";
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Saw-Version: {version}\r\n\r\n{body}",
            body.len()
        );
        if out.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// Reads a head up to its blank line; an error at EOF.
fn read_head(conn: &mut BufReader<TcpStream>) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line)? == 0 {
            bail!("connection closed");
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            if lines.is_empty() {
                continue;
            }
            return Ok(lines);
        }
        lines.push(line);
    }
}

fn header<'h>(head: &'h [String], name: &str) -> Option<&'h str> {
    head.iter().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

// --- The load -------------------------------------------------------------------------------

/// The load generator's counters.
#[derive(Default)]
struct Load {
    /// 200s whose origin saw version 1, 2.
    ok: [AtomicU64; 2],
    /// Answers that were not a 200 from version 1 or 2.
    bad: AtomicU64,
    /// Requests that failed on the connection (write, read, parse).
    io_errors: AtomicU64,
    connect_errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Load {
    fn requests(&self) -> u64 {
        self.ok.iter().map(|n| n.load(Ordering::Relaxed)).sum::<u64>() + self.errors()
    }

    fn errors(&self) -> u64 {
        self.bad.load(Ordering::Relaxed)
            + self.io_errors.load(Ordering::Relaxed)
            + self.connect_errors.load(Ordering::Relaxed)
    }

    fn note(&self, what: String) {
        let mut first = self.first_errors.lock().unwrap_or_else(|e| e.into_inner());
        if first.len() < 10 {
            first.push(what);
        }
    }
}

/// One response as the load generator reads it.
struct Answer {
    status: u16,
    version: Option<u8>,
    close: bool,
}

/// One keep-alive connection sending requests one after the other until `stop`.
fn client(addr: SocketAddr, host: &str, stop: &AtomicBool, load: &Load) {
    let mut conn: Option<BufReader<TcpStream>> = None;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    conn = Some(BufReader::new(s));
                }
                Err(e) => {
                    load.connect_errors.fetch_add(1, Ordering::Relaxed);
                    load.note(format!("connect: {e}"));
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match request(c, host) {
            Ok(answer) => {
                match (answer.status, answer.version) {
                    (200, Some(v @ (1 | 2))) => {
                        load.ok[usize::from(v - 1)].fetch_add(1, Ordering::Relaxed);
                    }
                    (status, version) => {
                        load.bad.fetch_add(1, Ordering::Relaxed);
                        load.note(format!("status {status}, plugin version {version:?}"));
                    }
                }
                if answer.close {
                    conn = None;
                }
            }
            Err(e) => {
                load.io_errors.fetch_add(1, Ordering::Relaxed);
                load.note(format!("request: {e:#}"));
                conn = None;
            }
        }
    }
}

fn request(conn: &mut BufReader<TcpStream>, host: &str) -> Result<Answer> {
    let request = format!("GET /soak HTTP/1.1\r\nHost: {host}\r\n\r\n");
    conn.get_mut().write_all(request.as_bytes())?;
    let head = read_head(conn)?;
    let status = head[0]
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not a status line: {}", head[0]))?;
    if header(&head, "transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        read_chunked(conn)?;
    } else {
        let length: u64 = header(&head, "content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let copied = std::io::copy(&mut conn.take(length), &mut std::io::sink())?;
        if copied != length {
            bail!("body ended after {copied} of {length} bytes");
        }
    }
    Ok(Answer {
        status,
        version: header(&head, "x-saw-version").and_then(|v| v.parse().ok()),
        close: header(&head, "connection").is_some_and(|c| c.eq_ignore_ascii_case("close")),
    })
}

fn read_chunked(conn: &mut BufReader<TcpStream>) -> Result<()> {
    loop {
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = u64::from_str_radix(size, 16).with_context(|| format!("chunk size `{size}`"))?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                let mut line = String::new();
                if conn.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(());
                }
            }
        }
        std::io::copy(&mut conn.take(size + 2), &mut std::io::sink())?;
    }
}

// --- Reloads --------------------------------------------------------------------------------

#[derive(Default)]
struct Reloads {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Each successful reload's duration as the proxy reported it.
    millis: Mutex<Vec<f64>>,
    /// Each reload's round trip on the control socket, as an operator's `ctl reload` sees it.
    round_trips: Mutex<Vec<f64>>,
    first_failures: Mutex<Vec<String>>,
}

fn reload_loop(
    dir: &Path,
    admin: &Path,
    versions: &[PathBuf; 2],
    period: Duration,
    stop: &AtomicBool,
    reloads: &Reloads,
) {
    let mut next = 1;
    let mut at = Instant::now() + period;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < at {
            thread::sleep(at - now);
            continue;
        }
        at += period;
        let outcome = install(dir, &versions[next]).and_then(|()| {
            let sent = Instant::now();
            let answer = ctl(admin, "reload");
            let took = sent.elapsed().as_secs_f64() * 1000.0;
            reloads.round_trips.lock().unwrap_or_else(|e| e.into_inner()).push(took);
            answer
        });
        match outcome {
            Ok(report) if report["ok"].as_bool() == Some(true) => {
                reloads.ok.fetch_add(1, Ordering::Relaxed);
                if let Some(ms) = report["millis"].as_f64() {
                    reloads.millis.lock().unwrap_or_else(|e| e.into_inner()).push(ms);
                }
            }
            other => {
                reloads.failed.fetch_add(1, Ordering::Relaxed);
                let why = match other {
                    Ok(report) => report["problems"].to_string(),
                    Err(e) => format!("{e:#}"),
                };
                let mut first = reloads.first_failures.lock().unwrap_or_else(|e| e.into_inner());
                if first.len() < 10 {
                    first.push(why);
                }
            }
        }
        next = 1 - next;
    }
}

/// One JSON-RPC call on the control socket; returns its `result`.
fn ctl(path: &Path, method: &str) -> Result<Value> {
    let mut stream = UnixStream::connect(path)
        .with_context(|| format!("cannot connect to {}", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut line = json!({ "jsonrpc": "2.0", "id": 1, "method": method }).to_string();
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    let answer: Value = serde_json::from_str(&answer).context("not JSON-RPC")?;
    if let Some(error) = answer.get("error") {
        bail!("{method}: {error}");
    }
    answer.get("result").cloned().context("no result")
}

// --- Samples and the report -----------------------------------------------------------------

struct Sample {
    secs: f64,
    rss_kb: u64,
    fds: u64,
    threads: u64,
    /// Version directories under the plugin runtime directory.
    copies: u64,
    requests: u64,
    errors: u64,
    reloads: u64,
}

impl Sample {
    fn line(&self) -> String {
        format!(
            "t={:>5.0}s rss={:>7} kB fds={:>4} threads={:>3} plugin copies={:>2} requests={:>9} errors={} reloads={}",
            self.secs,
            self.rss_kb,
            self.fds,
            self.threads,
            self.copies,
            self.requests,
            self.errors,
            self.reloads
        )
    }

    fn json(&self) -> Value {
        json!({
            "secs": (self.secs * 10.0).round() / 10.0,
            "rss_kb": self.rss_kb,
            "fds": self.fds,
            "threads": self.threads,
            "plugin_copies": self.copies,
            "requests": self.requests,
            "errors": self.errors,
            "reloads": self.reloads,
        })
    }
}

fn sample(proxy: &Proxy, dir: &Path, at: Duration, load: &Load, reloads: &Reloads) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{}/status", proxy.pid)).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let count = |path: PathBuf| std::fs::read_dir(path).map_or(0, |d| d.count() as u64);
    Sample {
        secs: at.as_secs_f64(),
        rss_kb: field("VmRSS:"),
        fds: count(PathBuf::from(format!("/proc/{}/fd", proxy.pid))),
        threads: field("Threads:"),
        copies: std::fs::read_dir(dir.join("run").join("plugins")).map_or(0, |d| {
            d.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).count() as u64
        }),
        requests: load.requests(),
        errors: load.errors(),
        reloads: reloads.ok.load(Ordering::Relaxed) + reloads.failed.load(Ordering::Relaxed),
    }
}

/// Least-squares slope of `y` over minutes, for samples after the first minute.
fn slope(samples: &[Sample], y: impl Fn(&Sample) -> f64) -> Option<f64> {
    let points: Vec<(f64, f64)> =
        samples.iter().filter(|s| s.secs >= 60.0).map(|s| (s.secs / 60.0, y(s))).collect();
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) =
        (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let var: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    (var > 0.0).then(|| points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / var)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(
    o: &Options,
    started: u64,
    samples: &[Sample],
    load: &Load,
    reloads: &Reloads,
    plugins: Value,
) -> Value {
    let first = &samples[0];
    let last = &samples[samples.len() - 1];
    let max = |f: fn(&Sample) -> u64| samples.iter().map(f).max().unwrap_or(0);
    let mut millis = reloads.millis.lock().unwrap_or_else(|e| e.into_inner()).clone();
    millis.sort_by(f64::total_cmp);
    let mut trips = reloads.round_trips.lock().unwrap_or_else(|e| e.into_inner()).clone();
    trips.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 100.0).round() / 100.0;
    json!({
        "date_unix": started,
        "machine": {
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "loadavg_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        },
        "settings": {
            "minutes": o.minutes,
            "connections": o.connections,
            "reload_ms": o.reload.as_millis() as u64,
            "sample_secs": o.sample.as_secs(),
            "extra_rules": o.rules,
        },
        "requests": {
            "total": load.requests(),
            "from_v1": load.ok[0].load(Ordering::Relaxed),
            "from_v2": load.ok[1].load(Ordering::Relaxed),
            "errors": load.errors(),
            "bad_answers": load.bad.load(Ordering::Relaxed),
            "io_errors": load.io_errors.load(Ordering::Relaxed),
            "connect_errors": load.connect_errors.load(Ordering::Relaxed),
            "first_errors": *load.first_errors.lock().unwrap_or_else(|e| e.into_inner()),
            "per_second": round(load.requests() as f64 / (o.minutes * 60) as f64),
        },
        "reloads": {
            "ok": reloads.ok.load(Ordering::Relaxed),
            "failed": reloads.failed.load(Ordering::Relaxed),
            "millis_p50": round(percentile(&millis, 50.0)),
            "millis_p99": round(percentile(&millis, 99.0)),
            "millis_max": round(millis.last().copied().unwrap_or(0.0)),
            "round_trip_millis_p50": round(percentile(&trips, 50.0)),
            "round_trip_millis_p99": round(percentile(&trips, 99.0)),
            "round_trip_millis_max": round(trips.last().copied().unwrap_or(0.0)),
            "first_failures": *reloads.first_failures.lock().unwrap_or_else(|e| e.into_inner()),
        },
        "rss_kb": { "start": first.rss_kb, "end": last.rss_kb, "max": max(|s| s.rss_kb),
                    "slope_per_min_after_1min": slope(samples, |s| s.rss_kb as f64).map(round) },
        "fds": { "start": first.fds, "end": last.fds, "max": max(|s| s.fds),
                 "slope_per_min_after_1min": slope(samples, |s| s.fds as f64).map(round) },
        "plugin_copies": { "start": first.copies, "end": last.copies, "max": max(|s| s.copies) },
        "plugins_at_end": plugins,
        "samples": samples.iter().map(Sample::json).collect::<Vec<_>>(),
    })
}

fn print_summary(r: &Value) {
    println!();
    println!("soak, {} min:", r["settings"]["minutes"]);
    let q = &r["requests"];
    println!(
        "requests {} ({} req/s; v1 {}, v2 {}), errors {}",
        q["total"], q["per_second"], q["from_v1"], q["from_v2"], q["errors"]
    );
    let l = &r["reloads"];
    println!(
        "reloads ok {}, failed {}; reload p50 {} ms, p99 {} ms, max {} ms (ctl round trip p50 {} ms, p99 {} ms, max {} ms)",
        l["ok"],
        l["failed"],
        l["millis_p50"],
        l["millis_p99"],
        l["millis_max"],
        l["round_trip_millis_p50"],
        l["round_trip_millis_p99"],
        l["round_trip_millis_max"]
    );
    for (name, key) in [("RSS kB", "rss_kb"), ("fds", "fds"), ("plugin copies", "plugin_copies")] {
        let v = &r[key];
        let slope = match v.get("slope_per_min_after_1min") {
            Some(Value::Null) | None => String::new(),
            Some(s) => format!(", trend after 1 min {s}/min"),
        };
        println!("{name:<14} start {}, end {}, max {}{slope}", v["start"], v["end"], v["max"]);
    }
    for e in q["first_errors"].as_array().into_iter().flatten() {
        println!("  error: {e}");
    }
    for e in l["first_failures"].as_array().into_iter().flatten() {
        println!("  reload failure: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options() {
        let o = parse_args(&[]).expect("parses").expect("options");
        assert_eq!((o.minutes, o.connections, o.reload.as_millis()), (10, 8, 300));
        let o = parse_args(&args("--minutes 1 --reload-ms 200")).expect("parses").expect("options");
        assert_eq!((o.minutes, o.reload.as_millis()), (1, 200));
        assert!(parse_args(&args("--minutes 0")).is_err());
        assert!(parse_args(&args("--bogus")).is_err());
        assert!(parse_args(&args("--help")).expect("parses").is_none());
    }

    #[test]
    fn trend_and_percentiles() {
        let at = |secs: f64, rss_kb: u64| Sample {
            secs,
            rss_kb,
            fds: 10,
            threads: 1,
            copies: 1,
            requests: 0,
            errors: 0,
            reloads: 0,
        };
        let samples = [at(0.0, 1), at(60.0, 100), at(120.0, 110), at(180.0, 120)];
        let s = slope(&samples, |s| s.rss_kb as f64).expect("a slope");
        assert!((s - 10.0).abs() < 1e-9, "{s}");
        assert_eq!(slope(&samples, |s| s.fds as f64), Some(0.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 50.0), 2.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
