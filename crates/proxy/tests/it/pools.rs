//! Origin pools (`strategies.yaml`, `@strategy=`): `hookyard check`, host selection, retries,
//! host status (`ctl host down|up`, `ctl hosts`) and reloads, on the real binary with three
//! local origins.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, watch};

use crate::cli::{hookyard, http_get, start_run};
use crate::support::{DEADLINE, config_dir, write};

/// `hookyard check --config DIR`: its exit code and output.
fn check(dir: &Path) -> (i32, String) {
    let output = hookyard(dir).args(["check", "--config", "."]).env("RUST_LOG", "off").output();
    let output = output.unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn check_validates_strategies_and_every_strategy_reference() {
    let good = config_dir(&[
        (
            "strategies.yaml",
            "hosts:\n  - &a\n    host: 127.0.0.1\n    protocol: [{scheme: http, port: 9}]\n\
             groups:\n  - &g\n    - <<: *a\n      weight: 2\n\
             strategies:\n  - strategy: pool\n    policy: consistent_hash\n    groups: [*g]\n",
        ),
        ("remap.config", "map http://site.test/ http://origin.test/ @strategy=pool\n"),
    ]);
    let (code, out) = check(good.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("strategies.yaml"), "the file is listed:\n{out}");

    let bad = config_dir(&[
        (
            "strategies.yaml",
            "strategies:\n  - strategy: pool\n    policy: fastest\n    groups: [[{host: a}]]\n",
        ),
        ("remap.config", "map http://site.test/ http://origin.test/ @strategy=pool\n"),
    ]);
    let (code, out) = check(bad.path());
    assert_eq!(code, 1, "{out}");
    let file = bad.path().join("strategies.yaml");
    assert!(out.contains(&format!("{}:3: unknown policy `fastest`", file.display())), "{out}");

    let unknown = config_dir(&[
        (
            "strategies.yaml",
            "strategies:\n  - strategy: pool\n    policy: latched\n    groups: [[{host: a}]]\n",
        ),
        (
            "remap.config",
            "map http://a.test/ http://o.test/ @strategy=pool\n\
             map http://b.test/ http://o.test/ @strategy=elsewhere\n",
        ),
    ]);
    let (code, out) = check(unknown.path());
    assert_eq!(code, 1, "{out}");
    let remap = unknown.path().join("remap.config");
    let expected =
        format!("{}:2: no strategy named 'elsewhere' is defined in the config", remap.display());
    assert!(out.contains(&expected), "{out}");
}

/// An origin on its own thread that can be stopped (its listener and every connection closed
/// at once, as a killed process's) and started again on the same address.
///
/// It answers `NAME TARGET host=HOST`; `/slow...` waits for [`Killable::release`]; `/health`
/// answers 200 `ok`, or 503 once [`Killable::set_healthy`] said false, as `/fail...` does then.
struct Killable {
    name: &'static str,
    addr: SocketAddr,
    /// Requests answered since the last start.
    served: Arc<AtomicU64>,
    /// `/slow` requests waiting.
    waiting: Arc<AtomicU64>,
    /// Connections accepted since the first start.
    connections: Arc<AtomicU64>,
    healthy: Arc<AtomicBool>,
    release: watch::Sender<bool>,
    stop: Option<(oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl Killable {
    fn start(name: &'static str) -> Killable {
        let (release, _) = watch::channel(false);
        let mut origin = Killable {
            name,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            served: Arc::default(),
            waiting: Arc::default(),
            connections: Arc::default(),
            healthy: Arc::new(AtomicBool::new(true)),
            release,
            stop: None,
        };
        origin.restart();
        origin
    }

    /// Starts serving (again, on the same address).
    fn restart(&mut self) {
        assert!(self.stop.is_none(), "{} is running", self.name);
        self.served.store(0, Ordering::SeqCst);
        let (bound, addr) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let (name, at) = (self.name, self.addr);
        let (served, waiting, healthy) =
            (self.served.clone(), self.waiting.clone(), self.healthy.clone());
        let connections = self.connections.clone();
        let released = self.release.subscribe();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(at).await.unwrap();
                bound.send(listener.local_addr().unwrap()).unwrap();
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        connections.fetch_add(1, Ordering::SeqCst);
                        let (served, waiting, healthy, released) =
                            (served.clone(), waiting.clone(), healthy.clone(), released.clone());
                        let service = service_fn(move |request: Request<Incoming>| {
                            answer(
                                name,
                                request,
                                served.clone(),
                                waiting.clone(),
                                healthy.clone(),
                                released.clone(),
                            )
                        });
                        tokio::spawn(
                            hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service),
                        );
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime closes the listener and every connection.
        });
        self.addr = addr.recv().unwrap();
        self.stop = Some((stop, thread));
    }

    /// Stops serving: the listener and every connection close.
    fn kill(&mut self) {
        let (stop, thread) = self.stop.take().expect("running");
        let _ = stop.send(());
        thread.join().unwrap();
    }

    fn release(&self) {
        self.release.send_replace(true);
    }

    fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }
}

impl Drop for Killable {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.kill();
        }
    }
}

async fn answer(
    name: &'static str,
    request: Request<Incoming>,
    served: Arc<AtomicU64>,
    waiting: Arc<AtomicU64>,
    healthy: Arc<AtomicBool>,
    mut released: watch::Receiver<bool>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if path == "/health" {
        let ok = healthy.load(Ordering::SeqCst);
        let mut response = Response::new(Full::new(Bytes::from(if ok { "ok" } else { "sick" })));
        if !ok {
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        }
        return Ok(response);
    }
    if path.starts_with("/fail") && !healthy.load(Ordering::SeqCst) {
        served.fetch_add(1, Ordering::SeqCst);
        let mut response = Response::new(Full::new(Bytes::from(format!("{name} failing"))));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return Ok(response);
    }
    if path.starts_with("/slow") {
        waiting.fetch_add(1, Ordering::SeqCst);
        let _ = released.wait_for(|r| *r).await;
    }
    served.fetch_add(1, Ordering::SeqCst);
    let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("-");
    let text = format!("{name} {} host={host}", request.uri());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// `strategies.yaml` with strategy `pool` over `origins` (all in one group) by `policy`, and
/// `extra` lines appended to the strategy.
fn strategies(origins: &[&Killable], policy: &str, extra: &str) -> String {
    let mut text = String::from("hosts:\n");
    for origin in origins {
        let _ = write!(
            text,
            "  - &{name}\n    host: 127.0.0.1\n    protocol:\n      - scheme: http\n        port: {port}\n        health_check_url: http://127.0.0.1:{port}/health\n",
            name = origin.name,
            port = origin.addr.port()
        );
    }
    text.push_str("groups:\n  - &g1\n");
    for origin in origins {
        let _ = writeln!(text, "    - <<: *{}\n      weight: 1", origin.name);
    }
    let _ = write!(
        text,
        "strategies:\n  - strategy: pool\n    policy: {policy}\n    groups:\n      - *g1\n    scheme: http\n{extra}"
    );
    text
}

/// A running proxy process, killed when dropped (a failing test leaves none behind).
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A proxy (the real binary) for `site.test` through strategy `pool`, with `settings` added
/// to its hookyard.yaml (two workers unless they say `workers:`); its process, and its address.
fn run_pool(root: &Path, strategies_yaml: &str, settings: &str) -> (Running, String) {
    let workers = if settings.contains("workers:") { "" } else { "workers: 2\n" };
    // Its own control socket and runtime directory: other servers may run on this machine.
    let yaml = format!("listen: 127.0.0.1:0\n{workers}admin: a.sock\nruntime_dir: run\n{settings}");
    write(root, "hookyard.yaml", &yaml);
    write(root, "strategies.yaml", strategies_yaml);
    write(root, "remap.config", "map http://site.test/ http://origin.test/ @strategy=pool\n");
    let (child, _log, addr) = start_run(root, &["--config", "."]);
    (Running(child), addr)
}

fn ctl(root: &Path, args: &[&str]) -> serde_json::Value {
    let output =
        hookyard(root).args(["ctl", "--admin", "a.sock", "--json"]).args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `ctl hosts` as (name, state, reason, requests).
fn hosts(root: &Path) -> Vec<(String, String, String, u64)> {
    let listed = ctl(root, &["hosts"]);
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_owned(),
                h["state"].as_str().unwrap().to_owned(),
                h["reason"].as_str().unwrap().to_owned(),
                h["requests"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Which origin answered `GET path` (the first word of its answer).
fn who(addr: &str, path: &str) -> String {
    let answer = http_get(addr, "site.test", path);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    body.split(' ').next().unwrap_or_default().to_owned()
}

/// Polls `condition` until it holds, failing past [`DEADLINE`].
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "{what}: not true within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stop(proxy: Running) {
    drop(proxy);
}

#[test]
fn consistent_hashing_keeps_a_url_on_its_host_and_moves_about_a_third_when_one_goes() {
    let origins = [Killable::start("a"), Killable::start("b"), Killable::start("c")];
    let root = tempfile::tempdir().unwrap();
    let yaml = strategies(&origins.iter().collect::<Vec<_>>(), "consistent_hash", "");
    let (child, addr) = run_pool(root.path(), &yaml, "");
    let paths: Vec<String> = (0..300).map(|i| format!("/object/{i}")).collect();
    let first: Vec<String> = paths.iter().map(|p| who(&addr, p)).collect();
    let again: Vec<String> = paths.iter().map(|p| who(&addr, p)).collect();
    assert_eq!(first, again, "every URL on the same host while the set is unchanged");
    for name in ["a", "b", "c"] {
        let share = first.iter().filter(|w| *w == name).count();
        assert!((50..150).contains(&share), "{name} has {share} of 300 URLs");
    }
    let b = format!("127.0.0.1:{}", origins[1].addr.port());
    let marked = ctl(root.path(), &["host", "down", &b, "--reason", "maintenance"]);
    assert_eq!(marked, serde_json::json!([b]));
    let after: Vec<String> = paths.iter().map(|p| who(&addr, p)).collect();
    let moved = first.iter().zip(&after).filter(|(x, y)| x != y).count();
    let on_b = first.iter().filter(|w| *w == "b").count();
    assert_eq!(moved, on_b, "only b's URLs moved");
    assert!(after.iter().all(|w| w != "b"));
    println!("consistent hashing: {moved} of 300 URLs moved when one of 3 hosts went");
    let listed = hosts(root.path());
    let row = listed.iter().find(|h| h.0 == b).unwrap();
    assert_eq!((row.1.as_str(), row.2.as_str()), ("down", "maintenance"));
    ctl(root.path(), &["host", "up", &b]);
    let back: Vec<String> = paths.iter().map(|p| who(&addr, p)).collect();
    assert_eq!(first, back, "b takes its URLs back");
    stop(child);
}

/// `wrk` on `site.test` for `seconds`, started once the proxy answered some of its requests.
fn wrk(root: &Path, addr: &str, seconds: u64) -> Child {
    let before = ctl(root, &["status"])["requests"].as_u64().unwrap();
    let wrk = std::process::Command::new("wrk")
        .args(["-t2", "-c16", &format!("-d{seconds}s"), "-H", "Host: site.test"])
        .arg(format!("http://{addr}/load"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("wrk (Debian package `wrk`, installed by .ci/run)");
    wait_until("wrk's requests arrive", || {
        ctl(root, &["status"])["requests"].as_u64().unwrap() > before + 100
    });
    wrk
}

/// wrk's report, checked: every answer 2xx, no socket error; the request count.
fn no_failure(wrk: Child) -> u64 {
    let output = wrk.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(!report.contains("Non-2xx"), "every answer 2xx:\n{report}");
    assert!(!report.contains("Socket errors"), "no socket error:\n{report}");
    report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.parse::<u64>().unwrap()))
        .unwrap_or_else(|| panic!("a request count:\n{report}"))
}

#[test]
fn an_origin_killed_under_load_costs_no_request_and_takes_traffic_again_once_back() {
    let mut origins = [Killable::start("a"), Killable::start("b"), Killable::start("c")];
    let root = tempfile::tempdir().unwrap();
    let failover = "    failover:\n      max_simple_retries: 2\n      health_check: [passive]\n";
    let yaml = strategies(&origins.iter().collect::<Vec<_>>(), "rr_strict", failover);
    let (child, addr) = run_pool(root.path(), &yaml, "health_checks: {fall: 1, retry: 500ms}\n");
    let load = wrk(root.path(), &addr, 4);
    let b = format!("127.0.0.1:{}", origins[1].addr.port());
    wait_until("b takes its share", || origins[1].served() > 50);
    origins[1].kill();
    wait_until("b is marked down", || {
        hosts(root.path()).iter().any(|h| h.0 == b && h.1 == "down" && h.2 == "passive")
    });
    let (a, c) = (origins[0].served(), origins[2].served());
    wait_until("a and c take the load", || {
        origins[0].served() > a + 100 && origins[2].served() > c + 100
    });
    origins[1].restart();
    wait_until("b takes traffic again", || origins[1].served() > 50);
    let requests = no_failure(load);
    let listed = hosts(root.path());
    assert!(listed.iter().all(|h| h.1 == "up"), "{listed:?}");
    println!("killed origin: {requests} requests under wrk, none failed; {listed:?}");
    stop(child);
}

#[test]
fn ctl_host_down_drains_a_host_under_load_with_no_failed_request() {
    let origins = [Killable::start("a"), Killable::start("b"), Killable::start("c")];
    let root = tempfile::tempdir().unwrap();
    let yaml = strategies(&origins.iter().collect::<Vec<_>>(), "round_robin", "");
    let (child, addr) = run_pool(root.path(), &yaml, "");
    let load = wrk(root.path(), &addr, 3);
    let b = format!("127.0.0.1:{}", origins[1].addr.port());
    wait_until("b takes its share", || origins[1].served() > 50);
    let out = hookyard(root.path())
        .args(["ctl", "--admin", "a.sock", "host", "down", &b, "--reason", "deploy"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{b} down\n"));
    // Transactions already sent to b finish there; none starts after the mark.
    let (served, a) = (origins[1].served(), origins[0].served());
    wait_until("a goes on", || origins[0].served() > a + 200);
    assert!(origins[1].served() <= served + 16, "at most the in-flight ones reached b");
    let table = hookyard(root.path()).args(["ctl", "--admin", "a.sock", "hosts"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    let line = table.lines().find(|l| l.starts_with(&b)).unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains(" down ") && line.contains("deploy"), "{table}");
    assert!(table.starts_with("NAME"), "{table}");
    let requests = no_failure(load);
    ctl(root.path(), &["host", "up", &b]);
    let served = origins[1].served();
    let seen: Vec<String> = (0..6).map(|i| who(&addr, &format!("/after/{i}"))).collect();
    assert!(seen.iter().any(|w| w == "b"), "b is back: {seen:?}");
    assert!(origins[1].served() > served);
    println!("ctl host down: {requests} requests under wrk, none failed");
    stop(child);
}

/// A plugin marks a host down and up again (ABI 1.6 `host_status_set`), as the operator would,
/// and reads it (`host_status_get`); told by `ctl plugin msg`.
#[test]
fn a_plugin_marks_a_host_down_and_up_and_reads_it() {
    let origins = [Killable::start("a"), Killable::start("b"), Killable::start("c")];
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("plugins")).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/ops_probe.c");
    let defines = ["-DPROBE_NAME=\"hostops\"", "-DPROBE_BUILD=\"1\""];
    let out = root.path().join("plugins/hostops.so");
    hookyard_fixtures::compile_c_with(
        &source,
        &defines,
        &[&hookyard_fixtures::abi_include_dir()],
        &out,
    );
    write(root.path(), "plugin.yaml", "plugins:\n  - path: hostops.so\n");
    let yaml = strategies(&origins.iter().collect::<Vec<_>>(), "round_robin", "");
    let (child, addr) = run_pool(root.path(), &yaml, "plugin_dirs: [plugins]\n");
    let b = format!("127.0.0.1:{}", origins[1].addr.port());
    let msg = |tag: &str, data: &str| {
        let output = hookyard(root.path())
            .args(["ctl", "--admin", "a.sock", "plugin", "msg", "hostops", tag, data])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(msg("host-get", &b).contains("up=1"));
    assert!(msg("host-down", &b).contains("down"));
    assert!(msg("host-get", &b).contains("up=0"));
    let listed = hosts(root.path());
    let row = listed.iter().find(|h| h.0 == b).unwrap_or_else(|| panic!("{listed:?}"));
    assert_eq!((row.1.as_str(), row.2.as_str()), ("down", "hostops: by message"), "{listed:?}");
    let served = origins[1].served();
    let seen: Vec<String> = (0..9).map(|i| who(&addr, &format!("/marked/{i}"))).collect();
    assert!(!seen.iter().any(|w| w == "b"), "b is down: {seen:?}");
    assert_eq!(origins[1].served(), served);
    assert!(msg("host-get", "no-such-host:1").contains("refused"));
    assert!(msg("host-down", "no-such-host:1").contains("refused"));
    // The plugin's mark is the operator's: `ctl host up` clears it as well as the plugin can.
    assert!(msg("host-up", &b).contains("up"));
    assert!(msg("host-get", &b).contains("up=1"));
    let seen: Vec<String> = (0..9).map(|i| who(&addr, &format!("/again/{i}"))).collect();
    assert!(seen.iter().any(|w| w == "b"), "b is back: {seen:?}");
    stop(child);
}

#[test]
fn active_checks_take_a_sick_host_out_and_bring_it_back() {
    let origins = [Killable::start("a"), Killable::start("b"), Killable::start("c")];
    let root = tempfile::tempdir().unwrap();
    let failover = "    failover:\n      health_check: [active]\n";
    let yaml = strategies(&origins.iter().collect::<Vec<_>>(), "round_robin", failover);
    let settings = "health_checks: {interval: 50ms, timeout: 1s, fall: 2, rise: 2}\n";
    let (child, addr) = run_pool(root.path(), &yaml, settings);
    let b = format!("127.0.0.1:{}", origins[1].addr.port());
    origins[1].set_healthy(false);
    wait_until("b is marked down by its checks", || {
        hosts(root.path()).iter().any(|h| h.0 == b && h.1 == "down" && h.2 == "active")
    });
    let seen: Vec<String> = (0..9).map(|i| who(&addr, &format!("/s/{i}"))).collect();
    assert!(seen.iter().all(|w| w != "b"), "{seen:?}");
    origins[1].set_healthy(true);
    wait_until("b is up again", || hosts(root.path()).iter().all(|h| h.1 == "up"));
    let seen: Vec<String> = (0..9).map(|i| who(&addr, &format!("/s/{i}"))).collect();
    assert!(seen.iter().any(|w| w == "b"), "{seen:?}");
    let metrics = ctl(root.path(), &["metrics", "^hookyard_host_"]);
    let metrics = metrics.as_str().unwrap();
    assert!(metrics.contains(&format!("hookyard_host_up{{host=\"{b}\"}} 1")), "{metrics}");
    assert!(metrics.contains("hookyard_host_requests_total{host="), "{metrics}");
    stop(child);
}

#[test]
fn a_reload_changing_a_strategy_keeps_in_flight_transactions_and_host_marks() {
    let origins = [Killable::start("a"), Killable::start("b"), Killable::start("c")];
    let root = tempfile::tempdir().unwrap();
    let first = strategies(&[&origins[0], &origins[2]], "first_live", "");
    let (child, addr) = run_pool(root.path(), &first, "");
    let c = format!("127.0.0.1:{}", origins[2].addr.port());
    ctl(root.path(), &["host", "down", &c, "--reason", "kept"]);
    let load = wrk(root.path(), &addr, 3);
    let slow = {
        let addr = addr.clone();
        std::thread::spawn(move || http_get(&addr, "site.test", "/slow/1"))
    };
    wait_until("the slow request reached a", || origins[0].waiting.load(Ordering::SeqCst) == 1);
    write(
        root.path(),
        "strategies.yaml",
        &strategies(&[&origins[1], &origins[2]], "first_live", ""),
    );
    let report = ctl(root.path(), &["reload"]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(who(&addr, "/after"), "b", "new transactions take the new strategy");
    origins[0].release();
    let answer = slow.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("a /slow/1 host=origin.test"), "the old strategy's host: {answer}");
    let requests = no_failure(load);
    let listed = hosts(root.path());
    let row = listed.iter().find(|h| h.0 == c).unwrap();
    assert_eq!((row.1.as_str(), row.2.as_str()), ("down", "kept"), "{listed:?}");
    println!("reload under load: {requests} requests under wrk, none failed");
    stop(child);
}

/// One request over a new connection with `method` and `body`; the whole answer.
fn send(addr: &str, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: site.test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn a_listed_status_is_retried_on_another_host_for_requests_without_a_body_only() {
    let origins = [Killable::start("a"), Killable::start("b")];
    let root = tempfile::tempdir().unwrap();
    let failover = "    failover:\n      max_simple_retries: 1\n      response_codes: [503]\n      health_check: [active]\n";
    let yaml = strategies(&origins.iter().collect::<Vec<_>>(), "rr_strict", failover);
    // Active checks only, every hour: the failing host stays up, so every other request tries it.
    let (child, addr) = run_pool(root.path(), &yaml, "health_checks: {interval: 1h}\n");
    origins[0].set_healthy(false);
    for i in 0..6 {
        let answer = http_get(&addr, "site.test", &format!("/fail/{i}"));
        assert!(answer.starts_with("HTTP/1.1 200"), "retried on b: {answer}");
        assert!(answer.contains("\r\n\r\nb /fail/"), "{answer}");
    }
    assert!(origins[0].served() >= 3, "a was tried (and answered 503) first every other time");
    let answers: Vec<String> =
        (0..4).map(|i| send(&addr, "POST", &format!("/fail/p{i}"), "x=1")).collect();
    assert!(
        answers.iter().any(|a| a.starts_with("HTTP/1.1 503") && a.ends_with("a failing")),
        "a request with a body is not made again: {answers:?}"
    );
    stop(child);
}

#[test]
fn with_every_host_down_a_rule_goes_direct_or_answers_502() {
    let origins = [Killable::start("a"), Killable::start("direct")];
    let root = tempfile::tempdir().unwrap();
    let yaml = strategies(&[&origins[0]], "first_live", "    go_direct: false\n");
    let (child, addr) = run_pool(root.path(), &yaml, "");
    let a = format!("127.0.0.1:{}", origins[0].addr.port());
    ctl(root.path(), &["host", "down", "127.0.0.1"]);
    assert_eq!(hosts(root.path())[0].1, "down", "a host's name marks each of its ports");
    let answer = http_get(&addr, "site.test", "/x");
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    assert!(answer.ends_with("no host of the strategy is up\n"), "{answer}");
    // go_direct (ATS's default): the rule's own origin.
    let yaml = strategies(&[&origins[0]], "first_live", "");
    write(root.path(), "strategies.yaml", &yaml);
    write(
        root.path(),
        "remap.config",
        &format!("map http://site.test/ http://{}/ @strategy=pool\n", origins[1].addr),
    );
    assert_eq!(ctl(root.path(), &["reload"])["ok"], true);
    assert_eq!(who(&addr, "/x"), "direct");
    ctl(root.path(), &["host", "up", &a]);
    assert_eq!(who(&addr, "/x"), "a");
    let unknown = hookyard(root.path())
        .args(["ctl", "--admin", "a.sock", "host", "down", "nowhere.test"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(message.contains("no host `nowhere.test` in the strategies"), "{message}");
    stop(child);
}

#[test]
fn origin_pool_limits_connections_per_host_and_requests_per_connection() {
    let origins = [Killable::start("a"), Killable::start("b")];
    let root = tempfile::tempdir().unwrap();
    let yaml = strategies(&origins.iter().collect::<Vec<_>>(), "first_live", "");
    let settings = "workers: 1\norigin_pool: {max_connections: 1, max_requests: 3}\n";
    let (child, addr) = run_pool(root.path(), &yaml, settings);
    // Sequential requests share a's one connection, three requests each.
    for i in 0..9 {
        assert_eq!(who(&addr, &format!("/seq/{i}")), "a");
    }
    let connections = origins[0].connections.load(Ordering::SeqCst);
    println!("origin_pool: 9 sequential requests over {connections} connections");
    assert!((3..=6).contains(&connections), "{connections} connections for 9 requests");
    // a's connections all busy: the next request goes to b, not to a new connection to a.
    let slow: Vec<_> = (0..2)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || http_get(&addr, "site.test", &format!("/slow/{i}")))
        })
        .collect();
    wait_until("both slow requests are out", || {
        origins[0].waiting.load(Ordering::SeqCst) + origins[1].waiting.load(Ordering::SeqCst) == 2
    });
    assert!(origins[1].waiting.load(Ordering::SeqCst) >= 1, "the second went to b");
    origins[0].release();
    origins[1].release();
    for thread in slow {
        assert!(thread.join().unwrap().starts_with("HTTP/1.1 200"));
    }
    let listed = hosts(root.path());
    assert!(listed.iter().all(|h| h.1 == "up"), "a busy host is not marked down: {listed:?}");
    stop(child);
}

/// ATS's example (Debian's /etc/trafficserver/strategies.yaml, uncommented, its prose dropped).
const ATS_EXAMPLE: &str = "\
hosts:
  - &p1
    host: p1.foo.com
    hash_string: slsklslsk
    protocol:
      - scheme: http
        port:  80
        health_check_url: http://192.168.1.1:80
      - scheme: https
        port: 443
        health_check_url: https://192.168.1.1:443
  - &p2
    host: p2.foo.com
    protocol:
      - scheme: http
        port: 80
        health_check_url: http://192.168.1.2:80
      - scheme: https
        port: 443
        health_check_url: https://192.168.1.2:443
groups:
  - &g1
    - <<: *p1
      weight: 0.5
    - <<: *p2
      weight: 0.5
strategies:
  - strategy: 'mid-tier-north'
    policy: rr_ip
    hash_key: hostname
    go_direct: true
    parent_is_proxy: false
    cache_peer_result: true
    groups:
      - *g1
    scheme: http
    failover:
      max_simple_retries: 2
      ring_mode: exhaust_ring
      response_codes:
        - 404
        - 502
        - 503
      health_check:
        - passive
        - active
  - strategy: 'mid-tier-south'
    policy: latched
    hash_key: uri
    go_direct: false
    parent_is_proxy: false
    groups:
      - *g1
    scheme: https
    failover:
      max_simple_retries: 2
      ring_mode: alternate_ring
      response_codes:
        - 404
        - 502
        - 503
      health_check:
        - passive
        - active
";

#[test]
fn check_accepts_atss_example_and_ctl_lists_its_hosts() {
    let dir = config_dir(&[
        ("strategies.yaml", ATS_EXAMPLE),
        (
            "remap.config",
            "map http://a.test/ http://o.test/ @strategy=mid-tier-north\n\
             map http://b.test/ https://o.test/ @strategy=mid-tier-south\n",
        ),
    ]);
    let (code, out) = check(dir.path());
    assert_eq!(code, 0, "{out}");
    // Served: both strategies' hosts, once per scheme's port.
    let settings =
        "listen: 127.0.0.1:0\nadmin: a.sock\nruntime_dir: run\nhealth_checks: {interval: 1h}\n";
    write(dir.path(), "hookyard.yaml", settings);
    let (child, _log, _addr) = start_run(dir.path(), &["--config", "."]);
    let proxy = Running(child);
    let names: Vec<String> = hosts(dir.path()).into_iter().map(|h| h.0).collect();
    assert_eq!(names, ["p1.foo.com:80", "p2.foo.com:80", "p1.foo.com:443", "p2.foo.com:443"]);
    drop(proxy);
}
