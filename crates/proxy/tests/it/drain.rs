//! Draining (`hookyard ctl drain`, SIGTERM): the real binary under `wrk` load, its health route,
//! its keep-alive connections and its exit.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{hookyard, http_get, start_run};
use crate::support::{DEADLINE, Origin, write};

/// The drain settings of these tests: wrk (started first) runs for [`LOAD`], well inside the
/// grace that starts after it.
const GRACE: Duration = Duration::from_secs(4);
const LOAD: Duration = Duration::from_secs(2);

/// An [`Origin`] served on a thread of its own (for the life of the test process), for tests
/// that block on processes.
pub fn origin_thread() -> Origin {
    let (sender, origin) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            sender.send(Origin::start("origin").await).unwrap();
            std::future::pending::<()>().await
        });
    });
    origin.recv().unwrap()
}

/// A configuration routing `site.test` to `origin`, with [`GRACE`].
fn layout(root: &Path, origin: &Origin) {
    write(
        root,
        "hookyard.yaml",
        &format!("workers: 2\ndrain: {{grace: {}s, deadline: 20s}}\n", GRACE.as_secs()),
    );
    write(root, "remap.config", &format!("map http://site.test/ http://{}/\n", origin.addr));
}

fn ctl(root: &Path, args: &[&str]) -> serde_json::Value {
    let output =
        hookyard(root).args(["ctl", "--admin", "a.sock", "--json"]).args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `wrk` for [`LOAD`] on `addr`, started once the proxy has answered some of its requests.
fn load(root: &Path, addr: &str) -> Child {
    let wrk = Command::new("wrk")
        .args(["-t2", "-c16", &format!("-d{}s", LOAD.as_secs()), "-H", "Host: site.test"])
        .arg(format!("http://{addr}/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wrk (Debian package `wrk`, installed by .ci/run)");
    let start = Instant::now();
    while ctl(root, &["status"])["requests"].as_u64().unwrap() < 100 {
        assert!(start.elapsed() < DEADLINE, "wrk's requests never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    wrk
}

/// wrk's report, checked: requests were made, all answered 2xx, no socket error.
fn no_failure(wrk: Child) -> u64 {
    let output = wrk.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(!report.contains("Non-2xx"), "every answer 2xx:\n{report}");
    assert!(
        !report.contains("Socket errors"),
        "no connect, read, write or timeout error:\n{report}"
    );
    let requests = report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.parse::<u64>().unwrap()))
        .unwrap_or_else(|| panic!("a request count:\n{report}"));
    assert!(requests > 100, "{report}");
    requests
}

/// Waits for the process to exit; its status and how long it took.
fn exit(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < DEADLINE, "the drained proxy did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// During the grace: health 503, a kept-alive connection told to close after its response,
/// `ctl status` and the metric say draining.
fn draining_shows(root: &Path, addr: &str) {
    let health = http_get(addr, "site.test", "/_hookyard/health");
    assert!(health.starts_with("HTTP/1.1 503"), "{health}");
    assert!(health.ends_with("draining\n"), "{health}");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.write_all(b"GET /x HTTP/1.1\r\nHost: site.test\r\n\r\n").unwrap();
    let mut answer = String::new();
    // To the end: the proxy closes the keep-alive connection after this response.
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{answer}");
    assert_eq!(ctl(root, &["status"])["draining"], true);
}

fn drains_under_load(by_signal: bool) {
    let origin = origin_thread();
    let root = tempfile::tempdir().unwrap();
    layout(root.path(), &origin);
    let args = ["--config", ".", "--listen", "127.0.0.1:0", "--admin", "a.sock"];
    let (mut child, _lines, addr) = start_run(root.path(), &args);
    let before = http_get(&addr, "site.test", "/_hookyard/health");
    assert!(before.starts_with("HTTP/1.1 200"), "{before}");
    let wrk = load(root.path(), &addr);
    let started = Instant::now();
    if by_signal {
        let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(killed.unwrap().success());
    } else {
        let answer = ctl(root.path(), &["drain"]);
        let grace_left = answer["grace_left_ms"].as_u64().unwrap();
        assert!(grace_left <= GRACE.as_millis() as u64 && grace_left > 3000, "{answer}");
    }
    let wait = Instant::now();
    while ctl(root.path(), &["status"])["draining"] != true {
        assert!(wait.elapsed() < DEADLINE, "never draining");
        std::thread::sleep(Duration::from_millis(5));
    }
    draining_shows(root.path(), &addr);
    let requests = no_failure(wrk);
    assert!(started.elapsed() < GRACE, "wrk ended inside the grace");
    let status = exit(&mut child);
    let took = started.elapsed();
    assert!(status.success(), "exit 0 after a drain: {status}");
    assert!(took >= GRACE, "the listeners stayed open for the grace: exited after {took:?}");
    assert!(std::net::TcpStream::connect(&addr).is_err(), "the listener is closed");
    eprintln!(
        "drain ({}): {requests} requests under wrk, none failed; exit 0 after {took:?}",
        if by_signal { "SIGTERM" } else { "ctl drain" }
    );
}

#[test]
fn ctl_drain_under_wrk_load_fails_no_request_and_exits_0() {
    drains_under_load(false);
}

#[test]
fn sigterm_drains_under_wrk_load_and_exits_0() {
    drains_under_load(true);
}

/// In process, over HTTP/2: a drain sends a kept connection a GOAWAY once its stream in flight
/// finished, answers the health route 503, and shows in `status` and the metrics; the listeners
/// still accept during the grace.
#[tokio::test]
async fn a_drain_sends_http2_connections_a_goaway_after_their_streams() {
    use http_body_util::BodyExt as _;

    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir = crate::support::config_dir(&[
        ("remap.config", remap.as_str()),
        ("hookyard.yaml", "drain: {grace: 30s, deadline: 60s}\n"),
    ]);
    let proxy = crate::support::proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let (mut send, conn) = crate::http2::connect_watched(addr).await;
    send.ready().await.unwrap();
    let slow = send.send_request(crate::http2::request("/slow/1", &[]));
    let slow = tokio::spawn(slow);
    crate::support::wait_for("the stream at the origin", || {
        origin.slow_waiting.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    assert!(proxy.metrics_text().contains("\nhookyard_draining 0\n"));
    let draining = proxy.drain();
    assert!(draining.grace_left_ms > 29_000, "{draining:?}");
    assert!(proxy.is_draining() && proxy.status().draining);
    assert!(proxy.metrics_text().contains("\nhookyard_draining 1\n"));
    let health = crate::support::get(addr, "site.test", "/_hookyard/health").await;
    assert_eq!(health.status, http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.body, "draining\n");
    // The stream in flight finishes, then the GOAWAY ends the connection.
    origin.release();
    let response = crate::support::within("the slow stream", slow).await.unwrap().unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"o GET /slow/1"), "{body:?}");
    crate::support::within("the GOAWAY", conn).await.unwrap().unwrap();
    // A new connection is still served during the grace, over HTTP/2 too.
    let (mut send, _conn) = crate::http2::connect_watched(addr).await;
    send.ready().await.unwrap();
    let answer = send.send_request(crate::http2::request("/x", &[])).await.unwrap();
    assert_eq!(answer.status(), http::StatusCode::OK);
    proxy.shutdown();
}
