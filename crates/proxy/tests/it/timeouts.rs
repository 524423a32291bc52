//! Transactions that do not end by themselves: clients that leave mid-way, hooks that stay
//! pending, transactions past their active timeout. Each ends, is counted once, and frees its
//! state.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::StatusCode;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::hooks::{all, setup};
use crate::support::{Answer, DEADLINE, Origin, config_dir, get, proxy, wait_for};

/// Transactions whose connection is dropped under them (here: the shutdown's grace ends while
/// they wait on their origin) end their count all the same. (A client that only closes is
/// answered: a FIN may be a half-close, as in ATS.)
#[tokio::test]
async fn transactions_dropped_mid_way_leave_nothing_in_flight() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir =
        config_dir(&[("remap.config", &remap), ("hookyard.yaml", "timeouts: {shutdown: 200ms}\n")]);
    let handle = proxy(Some(dir.path()));
    let addr = handle.addrs()[0];
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET /slow/{i} HTTP/1.1\r\nHost: site.test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        clients.push(stream);
    }
    wait_for("20 requests waiting at the origin", || {
        origin.slow_waiting.load(Ordering::SeqCst) == 20
    })
    .await;
    assert_eq!(handle.status().in_flight, 20);
    handle.shutdown();
    wait_for("no transaction left in flight", || handle.status().in_flight == 0).await;
    wait_for("no connection left open", || handle.status().connections == 0).await;
    let text = handle.metrics_text();
    assert!(text.contains("hookyard_transactions_abandoned_total 20"), "{text}");
    origin.release();
    drop(clients);
}

/// The probe `alpha` with `params` (and `beta` with `beta_params`, ordered after it), and
/// `settings` added to `hookyard.yaml`.
fn probes(origin: &Origin, params: &str, beta_params: Option<&str>, settings: &str) -> TempDir {
    let mut yaml = format!("plugins:\n  - path: alpha.so\n    params: [{params}]\n");
    if let Some(beta) = beta_params {
        yaml.push_str(&format!("  - path: beta.so\n    params: [{beta}]\n"));
    }
    yaml.push_str(
        "priorities:\n  plugins:\n    - {name: alpha, max_priority: 100, priority: 20}\n    \
         - {name: beta, max_priority: 100, priority: 10}\n",
    );
    let dir = setup(origin, &yaml, &[("alpha", "alpha.so"), ("beta", "beta.so")]);
    let path = dir.path().join("hookyard.yaml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(settings);
    std::fs::write(path, text).unwrap();
    dir
}

/// `X-Probe-Refused` of every probe on the answer, summed.
fn refused(answer: &Answer) -> u32 {
    all(answer, "x-probe-refused").iter().map(|v| v.parse::<u32>().unwrap()).sum()
}

#[tokio::test]
async fn a_second_resume_is_refused_and_never_resumes_another_plugins_hook() {
    let origin = Origin::start("o").await;
    let dir = probes(&origin, "resume_twice", Some("deny_late"), "");
    let handle = proxy(Some(dir.path()));
    // alpha pends and is resumed at 20 ms; beta pends next and denies at 300 ms; alpha's second
    // resume at 150 ms must not let the request through beta's pending hook.
    let answer = get(handle.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(all(&answer, "x-denied-by"), ["beta"]);
    assert_eq!(refused(&answer), 1, "alpha's second resume was refused");
    assert_eq!(origin.connections.load(Ordering::SeqCst), 0, "nothing reached the origin");
}

#[tokio::test]
async fn a_resume_with_nothing_pending_is_refused() {
    let origin = Origin::start("o").await;
    let dir = probes(&origin, "resume_now", None, "");
    let handle = proxy(Some(dir.path()));
    let answer = get(handle.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(refused(&answer), 1);
}

/// Sends requests until one's answer satisfies `done` (each may take a pending limit).
async fn until_answer(addr: SocketAddr, done: impl Fn(&Answer) -> bool) -> Answer {
    let start = Instant::now();
    loop {
        let answer = get(addr, "site.test", "/").await;
        if done(&answer) {
            return answer;
        }
        assert!(start.elapsed() < DEADLINE, "no answer as expected within {DEADLINE:?}");
    }
}

#[tokio::test]
async fn a_hook_pending_past_its_limit_answers_504_and_refuses_the_late_resume() {
    let origin = Origin::start("o").await;
    let dir = probes(&origin, "late=600", None, "timeouts: {hook_pending: 200ms}\n");
    let handle = proxy(Some(dir.path()));
    let addr = handle.addrs()[0];
    let start = Instant::now();
    let answer = get(addr, "site.test", "/").await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT, "{}", answer.body);
    assert!(answer.body.contains("timeouts.hook_pending"), "{}", answer.body);
    assert!(start.elapsed() < Duration::from_millis(590), "answered at the limit, not the resume");
    // TXN_CLOSE ran for it, and its resume, 400 ms after the limit, was refused.
    let later = until_answer(addr, |a| refused(a) >= 1).await;
    assert_eq!(later.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(all(&later, "x-probe-closed")[0].parse::<u32>().unwrap() >= 1);
    assert_eq!(origin.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_transaction_active_timeout_ends_a_pending_transaction_with_504() {
    let origin = Origin::start("o").await;
    let settings = "timeouts: {transaction_active: 300ms, hook_pending: 1m}\n";
    let dir = probes(&origin, "late=700", None, settings);
    let handle = proxy(Some(dir.path()));
    let addr = handle.addrs()[0];
    let start = Instant::now();
    let answer = get(addr, "site.test", "/").await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT, "{}", answer.body);
    assert!(answer.body.contains("timeouts.transaction_active"), "{}", answer.body);
    assert!(start.elapsed() < Duration::from_millis(690));
    wait_for("no transaction in flight", || handle.status().in_flight == 0).await;
    // The next transactions (each cut at 300 ms) show the first's TXN_CLOSE and refused resume.
    let later =
        until_answer(addr, |a| a.headers.get("x-probe-closed").is_some() && refused(a) >= 1);
    let later = tokio::time::timeout(DEADLINE, later).await;
    assert!(later.is_ok(), "the late resume was refused");
}
