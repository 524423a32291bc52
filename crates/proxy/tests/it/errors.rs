//! Clean errors: 400, 431, 502, 504, and request smuggling refused.

use std::sync::atomic::Ordering;

use crate::support::{Origin, config_dir, get, proxy, raw};

#[tokio::test]
async fn closed_origin_port_is_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir =
        config_dir(&[("remap.config", &format!("map http://www.example.com/ http://{closed}/\n"))]);
    let proxy = proxy(Some(dir.path()));
    assert_eq!(get(proxy.addrs()[0], "www.example.com", "/").await.status, 502);
}

#[tokio::test]
async fn silent_origin_is_504_after_the_response_timeout() {
    let origin = Origin::start("a").await;
    let dir = config_dir(&[
        ("remap.config", &format!("map http://www.example.com/ http://{}/\n", origin.addr)),
        ("hookyard.yaml", "timeouts:\n  origin_response: 300ms\n"),
    ]);
    let proxy = proxy(Some(dir.path()));
    let started = std::time::Instant::now();
    assert_eq!(get(proxy.addrs()[0], "www.example.com", "/never").await.status, 504);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let dir = config_dir(&[("hookyard.yaml", "limits:\n  max_header_bytes: 4096\n")]);
    let proxy = proxy(Some(dir.path()));
    let request = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n", "x".repeat(6000));
    let answer = raw(proxy.addrs()[0], request.as_bytes(), "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let proxy = proxy(None);
    let addr = proxy.addrs()[0];
    let answer = raw(addr, b"NOT A REQUEST\r\n\r\n", "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let answer = raw(addr, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    // No Host and no host-less rule.
    let answer = raw(addr, b"GET /x HTTP/1.1\r\n\r\n", "Required").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Host Header Required"), "{answer}");
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused() {
    let origin = Origin::start("a").await;
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://www.example.com/ http://{}/\n", origin.addr),
    )]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    // A classic smuggling attempt: the chunked body ends early, and what follows would be a
    // second request for a proxy that trusted Content-Length.
    let attack = b"POST / HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 44\r\n\
Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: www.example.com\r\n\r\n";
    let answer = raw(addr, attack, "").await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "a second response: {answer}");
    assert_eq!(origin.connections.load(Ordering::SeqCst), 0);
    // The same with the headers in the other order, after a clean request on the connection.
    let attack = b"GET /first HTTP/1.1\r\nHost: www.example.com\r\n\r\n\
POST / HTTP/1.1\r\nHost: www.example.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n";
    let answer = raw(addr, attack, "").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("HTTP/1.1 400"), "{answer}");
}

/// An origin that fails is named in the log at `warn`, once per origin and worker however many
/// requests fail meanwhile: each failure answers a client 502 that no other line explains.
#[test]
fn a_failing_origin_is_logged_once_not_per_request() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = config_dir(&[
        ("remap.config", &format!("map http://www.example.com/ http://{closed}/\n")),
        ("hookyard.yaml", "workers: 1\n"),
    ]);
    let args = ["--config", ".", "--listen", "127.0.0.1:0"];
    let (mut child, log, addr) = crate::cli::start_run(dir.path(), &args);
    for _ in 0..5 {
        let answer = crate::cli::http_get(&addr, "www.example.com", "/");
        assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    }
    let _ = child.kill();
    let _ = child.wait();
    // The child is gone: its log ends.
    let lines: Vec<String> = log.iter().collect();
    let warned: Vec<&String> = lines.iter().filter(|l| l.contains("an origin failed")).collect();
    assert_eq!(warned.len(), 1, "{}", lines.join("\n"));
    assert!(warned[0].contains(&closed.to_string()) && warned[0].contains("WARN"), "{}", warned[0]);
    assert!(warned[0].contains("failure=\"connect\"") || warned[0].contains("failure=connect"));
    assert!(warned[0].contains("at most every 10 s per origin"), "{}", warned[0]);
}
