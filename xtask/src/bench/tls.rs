//! The TLS comparison: hookyard and nginx, each with one TLS listener serving the same
//! certificate (ECDSA P-256) with TLS 1.3 only, in front of the same origin, measured by two
//! clients of the field:
//!
//! - **handshakes per second**: [`CLIENTS`] `openssl s_time -new` processes at once, each
//!   making new connections in a loop (a full handshake every time: `-new` never resumes) and
//!   fetching the proxy's own `/health` answer on each;
//! - **HTTP/2 requests per second**: `h2load` (ALPN `h2`), `-c` connections with 10 streams
//!   each, through the rule to the origin (hookyard's rule with its `add_header` plugin).
//!
//! Both clients offer only `TLS_AES_128_GCM_SHA256`; the key exchange is both sides' first
//! choice, X25519. Rounds alternate the two proxies; the report gives medians and the ratios.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::procs::{self, Server};
use super::report::median;
use super::{Options, hookyard, install, nginx};

/// `openssl s_time` processes run at once: each waits on one handshake at a time.
pub(crate) const CLIENTS: usize = 4;

/// The one cipher suite both clients offer.
const SUITE: &str = "TLS_AES_128_GCM_SHA256";

/// Streams per `h2load` connection (`-m`).
const STREAMS: u32 = 10;

/// One round of one proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Sample {
    pub(crate) handshakes: f64,
    pub(crate) h2: H2,
}

/// What `h2load` reported.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct H2 {
    pub(crate) rps: f64,
    pub(crate) mean_us: f64,
    /// Requests that failed or errored.
    pub(crate) errors: u64,
}

/// A proxy of the comparison.
struct Contender {
    name: &'static str,
    addr: SocketAddr,
    server: Option<Server>,
    samples: Result<Vec<Sample>, String>,
}

impl Contender {
    fn fail(&mut self, reason: String) {
        eprintln!("xtask bench: tls: {} unavailable: {reason}", self.name);
        self.server = None;
        self.samples = Err(reason);
    }
}

/// Runs the comparison in `dir` and prints it; writes `target/bench/tls.json`.
pub(crate) fn compare(root: &Path, o: &Options, dir: &Path) -> Result<()> {
    let installed = install::ensure()?;
    if let Some((_, why)) = installed.unavailable.iter().find(|(part, _)| *part == "tls") {
        bail!("the TLS comparison cannot run: {why}");
    }
    std::fs::create_dir_all(dir)?;
    let (cert, key) = certificate(dir)?;
    let limit = (o.warmup + (o.wrk.duration + Duration::from_secs(5)) * 2) * 2 * (o.rounds + 1)
        + Duration::from_secs(180);
    let ready = Duration::from_secs(20);
    // Built before any server starts: each server's life is bounded from its own start, and a
    // build can take minutes.
    let binary = hookyard::build(root).map_err(|e| format!("cannot build hookyard: {e:#}"));

    let (origin, origin_addr) = nginx::start_origin(&dir.join("origin"), limit, ready)?;
    let origin_port = origin_addr.port();

    let mut hy = contender("hookyard")?;
    match start_hookyard(root, dir, binary.as_deref(), hy.addr, origin_port, (&cert, &key), limit) {
        Ok(server) => hy.server = Some(server),
        Err(err) => hy.fail(format!("{err:#}")),
    }
    let mut ngx = contender("nginx")?;
    match start_nginx(dir, ngx.addr, origin_port, (&cert, &key), limit) {
        Ok(server) => ngx.server = Some(server),
        Err(err) => ngx.fail(format!("{err:#}")),
    }
    let mut all = [hy, ngx];
    for c in all.iter_mut().filter(|c| c.server.is_some()) {
        let reflect = hookyard::PLUGIN.filter(|_| c.name == "hookyard").map(|_| "hookyard");
        if let Err(err) = wait_tls(c.addr, reflect, ready) {
            c.fail(format!("{err:#}"));
        }
    }

    for c in all.iter_mut().filter(|c| c.server.is_some()) {
        if o.warmup.is_zero() {
            break;
        }
        eprintln!("xtask bench: tls: warm-up {} ({}s)", c.name, o.warmup.as_secs());
        if let Err(err) = h2load(c.addr, o.wrk.connections, o.warmup) {
            c.fail(format!("warm-up: {err:#}"));
        }
    }
    for round in 0..o.rounds as usize {
        for i in 0..all.len() {
            let c = &mut all[(round + i) % 2];
            if c.server.is_none() {
                continue;
            }
            match measure(c.addr, o) {
                Ok(sample) => {
                    eprintln!(
                        "xtask bench: tls round {}/{} {:<9} {:>7.0} handshakes/s  {:>8.0} h2 req/s  mean {:.2} ms  errors {}",
                        round + 1,
                        o.rounds,
                        c.name,
                        sample.handshakes,
                        sample.h2.rps,
                        sample.h2.mean_us / 1e3,
                        sample.h2.errors,
                    );
                    if let Ok(samples) = c.samples.as_mut() {
                        samples.push(sample);
                    }
                }
                Err(err) => c.fail(format!("round {}: {err:#}", round + 1)),
            }
        }
    }
    for c in &mut all {
        c.server = None;
    }
    drop(origin);
    report(root, o, &all)
}

fn contender(name: &'static str) -> Result<Contender> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    Ok(Contender { name, addr, server: None, samples: Ok(Vec::new()) })
}

/// A self-signed ECDSA P-256 certificate for `bench.test` and 127.0.0.1, and its key.
fn certificate(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut cmd = Command::new("openssl");
    cmd.args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "7", "-subj", "/CN=bench.test"])
        .args(["-addext", "subjectAltName=DNS:bench.test,IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    crate::status(cmd).context("openssl cannot make the bench certificate")?;
    Ok((cert, key))
}

/// hookyard with a TLS listener at `addr` (and a plain one it is not measured on), `/health`
/// as its health path, TLS 1.3 only, the rule with its plugin.
fn start_hookyard(
    root: &Path,
    dir: &Path,
    binary: Result<&Path, &String>,
    addr: SocketAddr,
    origin: u16,
    (cert, key): (&Path, &Path),
    limit: Duration,
) -> Result<Server> {
    let binary = binary.map_err(|e| anyhow::anyhow!("{e}"))?;
    let hy_dir = dir.join("hookyard");
    std::fs::create_dir_all(hy_dir.join("run"))?;
    std::fs::write(hy_dir.join("hookyard.yaml"), settings(&hy_dir, addr, (cert, key)))?;
    let plugin = match hookyard::PLUGIN {
        Some((name, params)) => Some((hookyard::compile_plugin(root, &hy_dir, name)?, params)),
        None => None,
    };
    let plugin = plugin.as_ref().map(|(path, params)| (path.as_path(), *params));
    let rule = hookyard::rule(&format!("https://{addr}/"), origin, plugin);
    std::fs::write(hy_dir.join("remap.config"), rule)?;
    let plain = SocketAddr::from((Ipv4Addr::LOCALHOST, procs::free_port()?));
    let mut cmd = Command::new(binary);
    cmd.arg("run").arg("--config").arg(&hy_dir).arg("--listen").arg(plain.to_string());
    Server::start("hookyard", &cmd, limit, &hy_dir.join("stderr.log"))
}

/// hookyard's `hookyard.yaml` for the comparison.
fn settings(dir: &Path, addr: SocketAddr, (cert, key): (&Path, &Path)) -> String {
    format!(
        "# written by cargo xtask bench\n\
         runtime_dir: {}\n\
         health_path: /health\n\
         tls_listen: [{addr}]\n\
         tls:\n  min_version: \"1.3\"\n  certificates:\n    - cert: {}\n      key: {}\n      default: true\n",
        dir.join("run").display(),
        cert.display(),
        key.display()
    )
}

fn start_nginx(
    dir: &Path,
    addr: SocketAddr,
    origin: u16,
    (cert, key): (&Path, &Path),
    limit: Duration,
) -> Result<Server> {
    let ngx_dir = dir.join("nginx");
    std::fs::create_dir_all(ngx_dir.join("tmp"))?;
    let conf = nginx::tls_conf(&ngx_dir, addr.port(), origin, cert, key);
    std::fs::write(ngx_dir.join("nginx.conf"), conf)?;
    Server::start(
        "nginx",
        &nginx::command(&install::nginx(), &ngx_dir),
        limit,
        &ngx_dir.join("stdout.log"),
    )
}

/// Waits until `curl --http2` gets the origin's body through the proxy at `addr` over TLS
/// with ALPN `h2` (with the origin's `X-Origin-Saw-Bench: reflect` when given: the plugin ran),
/// and `/health` answers: both measured paths work.
fn wait_tls(addr: SocketAddr, reflect: Option<&str>, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    let url = |path: &str| format!("https://{addr}{path}");
    loop {
        let out = Command::new("curl")
            .args(["-sk", "--http2", "--max-time", "2", "-D", "-", "-o", "-"])
            .arg(url("/"))
            .output()
            .context("cannot run curl")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let served = text.starts_with("HTTP/2 200") && text.ends_with(nginx::BODY);
        if served && reflect.is_none_or(|r| procs::header(&text, nginx::REFLECT) == Some(r)) {
            let health = Command::new("curl")
                .args(["-sk", "--max-time", "2"])
                .arg(url("/health"))
                .output()?;
            if String::from_utf8_lossy(&health.stdout) == "ok\n" {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("not serving the origin over HTTP/2 and TLS within {within:?} (last: {text:?})");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One round: handshakes, then HTTP/2.
fn measure(addr: SocketAddr, o: &Options) -> Result<Sample> {
    let handshakes = s_time(addr, o.wrk.duration)?;
    let h2 = h2load(addr, o.wrk.connections, o.wrk.duration)?;
    Ok(Sample { handshakes, h2 })
}

/// Full handshakes per second: [`CLIENTS`] `openssl s_time -new` for `duration`, their
/// connections summed over the time until the last one ended.
fn s_time(addr: SocketAddr, duration: Duration) -> Result<f64> {
    let started = Instant::now();
    let children: Vec<_> = (0..CLIENTS)
        .map(|_| {
            Command::new("openssl")
                .args(["s_time", "-connect", &addr.to_string(), "-new", "-tls1_3"])
                .args(["-ciphersuites", SUITE, "-www", "/health", "-time"])
                .arg(duration.as_secs().max(1).to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("cannot run openssl s_time")
        })
        .collect::<Result<_>>()?;
    let mut connections = 0;
    for child in children {
        let out = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        connections += s_time_connections(&text).with_context(|| {
            format!(
                "openssl s_time: {}{}",
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(connections as f64 / elapsed)
}

/// The connections of `s_time -new`'s summary line (`N connections in 1.23s; ...`); `None`
/// without one or when none was made (every handshake failed).
fn s_time_connections(out: &str) -> Option<u64> {
    let line = out.lines().find(|l| l.contains(" connections in ") && l.contains("s;"))?;
    line.split_whitespace().next()?.parse().ok().filter(|&n| n > 0)
}

/// `h2load` at `addr` for `duration`: `connections` connections of [`STREAMS`] streams.
fn h2load(addr: SocketAddr, connections: u32, duration: Duration) -> Result<H2> {
    let out = Command::new("h2load")
        .args(["-t", "1", "-c", &connections.to_string(), "-m", &STREAMS.to_string()])
        .args(["-D", &duration.as_secs().max(1).to_string(), &format!("--tls13-ciphers={SUITE}")])
        .arg(format!("https://{addr}/"))
        .stdin(Stdio::null())
        .output()
        .context("cannot run h2load")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_h2load(&text).with_context(|| format!("h2load: {}", text.trim()))
}

/// The request rate, mean request time and failures of `h2load`'s report; an error unless it
/// spoke HTTP/2 over TLS 1.3 with [`SUITE`].
fn parse_h2load(out: &str) -> Result<H2> {
    for expected in
        ["TLS Protocol: TLSv1.3", &format!("Cipher: {SUITE}"), "Application protocol: h2"]
    {
        if !out.lines().any(|l| l.trim() == expected) {
            bail!("no `{expected}` in its report");
        }
    }
    let finished = out.lines().find(|l| l.starts_with("finished in ")).context("no rate")?;
    let rps = finished
        .split(", ")
        .find_map(|part| part.strip_suffix(" req/s"))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .context("no req/s")?;
    let requests = out.lines().find(|l| l.starts_with("requests: ")).context("no request count")?;
    let count = |what: &str| -> u64 {
        requests
            .split(", ")
            .find_map(|part| part.trim_start_matches("requests: ").strip_suffix(what))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let mean = out
        .lines()
        .find(|l| l.starts_with("time for request:"))
        .and_then(|l| l.split_whitespace().nth(5))
        .map(duration_us)
        .context("no request time")?;
    Ok(H2 { rps, mean_us: mean, errors: count(" failed") + count(" errored") })
}

/// `h2load`'s durations (`812us`, `1.23ms`, `2.00s`) in microseconds.
fn duration_us(text: &str) -> f64 {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().map_or(f64::NAN, |n| n * scale)
}

/// Prints the medians and ratios, and writes them to `target/bench/tls.json`.
fn report(root: &Path, o: &Options, all: &[Contender]) -> Result<()> {
    let medians = |c: &Contender| -> Option<(f64, f64, f64, u64)> {
        let samples = c.samples.as_ref().ok().filter(|s| !s.is_empty())?;
        let of = |f: fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
        Some((
            of(|s| s.handshakes),
            of(|s| s.h2.rps),
            of(|s| s.h2.mean_us),
            samples.iter().map(|s| s.h2.errors).sum(),
        ))
    };
    println!();
    println!(
        "TLS comparison (TLS 1.3, {SUITE}, ECDSA P-256; {} round(s) of {}s, medians):",
        o.rounds,
        o.wrk.duration.as_secs()
    );
    println!(
        "{:<10} {:>13} {:>12} {:>13} {:>7}",
        "proxy", "handshakes/s", "h2 req/s", "h2 mean ms", "errors"
    );
    let mut proxies = Vec::new();
    for c in all {
        match (medians(c), &c.samples) {
            (Some((hs, rps, mean, errors)), _) => {
                println!("{:<10} {hs:>13.0} {rps:>12.0} {:>13.2} {errors:>7}", c.name, mean / 1e3);
                proxies.push(json!({"name": c.name, "handshakes_per_s": hs, "h2_rps": rps,
                    "h2_mean_us": mean, "h2_errors": errors}));
            }
            (None, Err(why)) => {
                println!("{:<10} unavailable: {why}", c.name);
                proxies.push(json!({"name": c.name, "unavailable": why}));
            }
            (None, Ok(_)) => println!("{:<10} no samples", c.name),
        }
    }
    let ratios = match (medians(&all[0]), medians(&all[1])) {
        (Some(hy), Some(ngx)) => {
            let (hs, rps) = (hy.0 / ngx.0, hy.1 / ngx.1);
            println!(
                "hookyard / nginx: handshakes {hs:.2}×, HTTP/2 req/s {rps:.2}× (goal ≥ 1.0× each)"
            );
            json!({"handshakes": hs, "h2_rps": rps})
        }
        _ => json!(null),
    };
    let out = root.join("target").join("bench");
    std::fs::create_dir_all(&out)?;
    let doc = json!({
        "settings": {
            "tls": "TLS 1.3 only", "cipher": SUITE, "certificate": "ECDSA P-256, self-signed",
            "handshakes": format!("{CLIENTS} × openssl s_time -new -tls1_3 -www /health -time {}", o.wrk.duration.as_secs()),
            "h2": format!("h2load -t 1 -c {} -m {STREAMS} -D {}", o.wrk.connections, o.wrk.duration.as_secs()),
            "rounds": o.rounds,
        },
        "versions": {"openssl": install::version("openssl"), "h2load": install::version("nghttp2-client")},
        "proxies": proxies,
        "hookyard_over_nginx": ratios,
    });
    let path = out.join("tls.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")?;
    println!("written: {}", path.display());
    if all.iter().any(|c| c.samples.is_err()) {
        bail!("a TLS contender could not be measured");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H2LOAD: &str = "\
starting benchmark...
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Server Temp Key: X25519 253 bits
Application protocol: h2

finished in 10.00s, 25712.40 req/s, 1.93MB/s
requests: 257124 total, 257444 started, 257124 done, 257120 succeeded, 3 failed, 1 errored, 0 timeout
status codes: 257124 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 19.29MB (20229374) total, 1.01MB (1059614) headers (space savings 95.10%), 9.32MB (9769712) data
                     min         max         mean         sd        +/- sd
time for request:      201us     24.81ms     12.44ms      1.36ms    80.12%
";

    #[test]
    fn h2load_report_is_read() {
        let h2 = parse_h2load(H2LOAD).unwrap();
        assert_eq!(h2.rps, 25712.40);
        assert_eq!(h2.mean_us, 12440.0);
        assert_eq!(h2.errors, 4);
    }

    #[test]
    fn h2load_over_http_1_1_or_another_cipher_is_refused() {
        let h1 = H2LOAD.replace("Application protocol: h2", "Application protocol: http/1.1");
        assert!(parse_h2load(&h1).unwrap_err().to_string().contains("Application protocol: h2"));
        let aes256 = H2LOAD.replace("AES_128", "AES_256");
        assert!(parse_h2load(&aes256).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration_us("812us"), 812.0);
        assert_eq!(duration_us("1.50ms"), 1500.0);
        assert_eq!(duration_us("2.00s"), 2e6);
    }

    #[test]
    fn s_time_summary() {
        let out = "Collecting connection statistics for 3 seconds\n****\n\n\
                   1588 connections in 0.84s; 1890.48 connections/user sec, bytes read 230260\n\
                   1588 connections in 4 real seconds, 145 bytes read per connection\n";
        assert_eq!(s_time_connections(out), Some(1588));
        assert_eq!(s_time_connections("0 connections in 0.00s; 0.00 connections/user sec"), None);
        assert_eq!(s_time_connections("connect: Connection refused"), None);
    }

    #[test]
    fn hookyard_settings_listen_on_tls_with_the_certificate() {
        let addr: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let yaml =
            settings(Path::new("/b/h"), addr, (Path::new("/b/c.pem"), Path::new("/b/k.pem")));
        assert!(yaml.contains("tls_listen: [127.0.0.1:8443]"), "{yaml}");
        assert!(yaml.contains("    - cert: /b/c.pem\n      key: /b/k.pem\n      default: true"));
        assert!(yaml.contains("min_version: \"1.3\"") && yaml.contains("health_path: /health"));
    }
}
