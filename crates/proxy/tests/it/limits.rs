//! Limits, end to end, with short timeouts from `hookyard.yaml`: oversize heads, slow and idle
//! clients, origins that stall or reset, request smuggling attempts. `errors.rs` has the first
//! cases (431 for one large header, 502 for a closed port, 504 for a silent origin, both framing
//! headers refused); these go further. Timing asserts are lower bounds or generous upper bounds
//! ([`DEADLINE`]), so a loaded machine only makes them slower.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{
    Client, DEADLINE, config_dir, exchange, get, proxy, read_to_close, wait_for, within,
};

const HEALTH: &str = "/_hookyard/health";

/// An origin that records each request as `METHOD PATH body=N` once it has read the body.
struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let log = log.clone();
                let service = service_fn(move |request: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let head = format!("{} {}", request.method(), request.uri().path());
                        let body = match request.into_body().collect().await {
                            Ok(body) => format!("body={}", body.to_bytes().len()),
                            Err(_) => "body=error".to_owned(),
                        };
                        log.lock().unwrap().push(format!("{head} {body}"));
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Recorder { addr, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A TCP origin that runs `behave` on every connection it accepts; counts them.
async fn raw_origin<F, Fut>(behave: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(behave(stream));
        }
    });
    (addr, accepted)
}

/// Reads a request head (up to the blank line) from a raw origin connection.
async fn read_head(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Closes with a reset (RST) instead of a FIN.
fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
}

/// A proxy with one rule, `site.test` to `origin`, and `yaml` as its settings.
fn proxy_to(origin: SocketAddr, yaml: &str) -> (TempDir, hookyard_proxy::ServerHandle) {
    let dir = config_dir(&[
        ("remap.config", &format!("map http://site.test/ http://{origin}/\n")),
        ("hookyard.yaml", yaml),
    ]);
    let proxy = proxy(Some(dir.path()));
    (dir, proxy)
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

// --- Oversize heads -------------------------------------------------------------------------

#[tokio::test]
async fn too_many_header_fields_are_431_and_a_head_within_the_limits_is_served() {
    let dir = config_dir(&[("hookyard.yaml", "limits:\n  max_headers: 20\n")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let fields = |n: usize| (0..n).map(|i| format!("X-F{i}: v\r\n")).collect::<String>();
    let request = format!("GET {HEALTH} HTTP/1.1\r\nHost: a\r\n{}\r\n", fields(30));
    let answer = exchange(addr, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let request =
        format!("GET {HEALTH} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n{}\r\n", fields(15));
    let answer = exchange(addr, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn an_oversize_request_line_is_refused_and_the_connection_closed() {
    let dir = config_dir(&[("hookyard.yaml", "limits:\n  max_header_bytes: 4096\n")]);
    let proxy = proxy(Some(dir.path()));
    let request = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(8000));
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{}", status_line(&answer));
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
}

#[tokio::test]
async fn the_header_limit_counts_a_head_sent_in_many_small_writes() {
    let dir = config_dir(&[("hookyard.yaml", "limits:\n  max_header_bytes: 4096\n")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    // Just below the limit: served.
    let head = format!(
        "GET {HEALTH} HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(3500)
    );
    let answer = exchange(addr, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{}", status_line(&answer));
    // Above it, in 100-byte writes: the limit is on the head, not on one read.
    let head = format!("GET {HEALTH} HTTP/1.1\r\nHost: a\r\nX-Pad: {}\r\n\r\n", "p".repeat(6000));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for piece in head.as_bytes().chunks(100) {
        if stream.write_all(piece).await.is_err() {
            break;
        }
    }
    let answer = read_to_close(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{}", status_line(&answer));
}

// --- Slow and idle clients ------------------------------------------------------------------

#[tokio::test]
async fn a_client_that_stops_mid_head_is_closed_after_header_read() {
    let dir = config_dir(&[("hookyard.yaml", "timeouts:\n  header_read: 300ms\n  idle: 30s\n")]);
    let proxy = proxy(Some(dir.path()));
    // Before connecting: the proxy's clock starts when it begins reading, at the earliest.
    let started = Instant::now();
    let mut stream = TcpStream::connect(proxy.addrs()[0]).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Half: ").await.unwrap();
    let answer = read_to_close(&mut stream).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed after {:?}",
        started.elapsed()
    );
    // hyper answers nothing to a head that timed out: it closes.
    assert_eq!(answer, "", "no response to a half head");
}

#[tokio::test]
async fn a_trickling_head_does_not_extend_header_read() {
    let dir = config_dir(&[("hookyard.yaml", "timeouts:\n  header_read: 500ms\n  idle: 30s\n")]);
    let proxy = proxy(Some(dir.path()));
    let mut stream = TcpStream::connect(proxy.addrs()[0]).await.unwrap();
    // A byte every 50 ms: 400 bytes would take 20 s.
    let head = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: {}\r\n\r\n", "s".repeat(360));
    let started = Instant::now();
    let mut sent = 0;
    let mut answer = String::new();
    for byte in head.as_bytes() {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        sent += 1;
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(n)) => answer.push_str(&String::from_utf8_lossy(&buf[..n])),
            Ok(Err(_)) => {}
        }
        break;
    }
    assert!(
        sent < head.len(),
        "the whole trickled head was read ({sent} bytes, {:?})",
        started.elapsed()
    );
    assert!(started.elapsed() < DEADLINE);
    assert_eq!(answer, "", "no response to a head that timed out");
}

/// `timeouts.header_read` is documented as "from a connection's first byte of a request head to
/// its end", and `timeouts.idle` as closing connections with no transaction and no traffic. So a
/// keep-alive connection that waits between requests is governed by `idle`.
#[tokio::test]
async fn header_read_does_not_cut_idle_keep_alive_connections() {
    let dir = config_dir(&[("hookyard.yaml", "timeouts:\n  header_read: 300ms\n  idle: 30s\n")]);
    let proxy = proxy(Some(dir.path()));
    let mut stream = TcpStream::connect(proxy.addrs()[0]).await.unwrap();
    let request = format!("GET {HEALTH} HTTP/1.1\r\nHost: a\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = within("the first response", stream.read(&mut buf)).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Idle between requests, well past header_read and well within idle.
    let mut closed = false;
    let quiet = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
    if let Ok(Ok(0) | Err(_)) = quiet {
        closed = true;
    }
    assert!(!closed, "the idle keep-alive connection was closed after header_read");
}

#[tokio::test]
async fn many_idle_connections_do_not_stop_new_requests_and_idle_closes_them() {
    const IDLE: usize = 500;
    let dir = config_dir(&[("hookyard.yaml", "timeouts:\n  idle: 2s\n  header_read: 60s\n")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {HEALTH} HTTP/1.1\r\nHost: a\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        idle.push(stream);
    }
    for stream in &mut idle {
        let mut buf = [0u8; 256];
        let n = within("a keep-alive response", stream.read(&mut buf)).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    }
    // The idle connections are open (some may already be closing on a slow machine)...
    assert!(proxy.status().connections > 0);
    // ...and new requests are served beside them.
    for _ in 0..5 {
        let answer = get(addr, "a", HEALTH).await;
        assert_eq!(answer.status, 200);
    }
    // Each idle connection is closed by the proxy once idle.
    let started = Instant::now();
    for stream in &mut idle {
        let answer = read_to_close(stream).await;
        assert_eq!(answer, "", "nothing more on an idle connection");
    }
    assert!(started.elapsed() < DEADLINE);
    wait_for("the proxy counting no open connection", || proxy.status().connections == 0).await;
}

// --- Origins that stall or reset ------------------------------------------------------------

#[tokio::test]
async fn an_origin_that_never_answers_is_504_and_its_connection_is_dropped() {
    let closed = Arc::new(AtomicUsize::new(0));
    let seen_close = closed.clone();
    let (origin, accepted) = raw_origin(move |mut stream| {
        let closed = seen_close.clone();
        async move {
            read_head(&mut stream).await;
            // Never answer; note when the proxy gives up on the connection.
            let mut buf = [0u8; 1024];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            closed.fetch_add(1, Ordering::SeqCst);
        }
    })
    .await;
    let (_dir, proxy) = proxy_to(origin, "timeouts:\n  origin_response: 300ms\n");
    let mut client = Client::connect(proxy.addrs()[0]).await;
    let started = Instant::now();
    let answer = client.request("GET", "site.test", "/stalled").await;
    assert_eq!(answer.status, 504, "{}", answer.body);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < DEADLINE / 2, "{took:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    wait_for("the proxy dropping the stalled origin connection", || {
        closed.load(Ordering::SeqCst) == 1
    })
    .await;
    // The client's connection outlives the 504.
    assert_eq!(client.request("GET", "a", HEALTH).await.status, 200);
}

#[tokio::test]
async fn an_origin_that_stalls_mid_body_is_cut_off_by_the_idle_timeout() {
    let (origin, _) = raw_origin(|mut stream| async move {
        read_head(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
        stream.write_all(head).await.unwrap();
        // Hold the connection open, sending nothing more.
        let mut buf = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    let (_dir, proxy) = proxy_to(origin, "timeouts:\n  idle: 500ms\n");
    let answer = exchange(proxy.addrs()[0], b"GET /body HTTP/1.1\r\nHost: site.test\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(body, "0123456789", "the body stops where the origin stopped");
}

#[tokio::test]
async fn an_origin_that_resets_is_502_wherever_it_resets_before_the_response_head() {
    // Reset as soon as accepted, reset after reading the request, close mid response head.
    let (on_accept, _) = raw_origin(|stream| async move { reset(stream) }).await;
    let (after_request, _) = raw_origin(|mut stream| async move {
        read_head(&mut stream).await;
        reset(stream);
    })
    .await;
    let (mid_head, _) = raw_origin(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Len").await;
        reset(stream);
    })
    .await;
    let (half_head_fin, _) = raw_origin(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Len").await;
        let _ = stream.shutdown().await;
    })
    .await;
    let remap = format!(
        "map http://accept.test/ http://{on_accept}/\n\
         map http://request.test/ http://{after_request}/\n\
         map http://head.test/ http://{mid_head}/\n\
         map http://fin.test/ http://{half_head_fin}/\n"
    );
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let mut client = Client::connect(proxy.addrs()[0]).await;
    for host in ["accept.test", "request.test", "head.test", "fin.test"] {
        let answer = client.request("GET", host, "/x").await;
        assert_eq!(answer.status, 502, "{host}: {}", answer.body);
    }
    // The client's connection outlives every 502.
    assert_eq!(client.request("GET", "a", HEALTH).await.status, 200);
}

#[tokio::test]
async fn an_origin_that_resets_mid_body_ends_the_client_connection() {
    let (origin, _) = raw_origin(|mut stream| async move {
        read_head(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
        stream.write_all(head).await.unwrap();
        reset(stream);
    })
    .await;
    let (_dir, proxy) = proxy_to(origin, "timeouts:\n  idle: 30s\n");
    let answer = exchange(proxy.addrs()[0], b"GET /body HTTP/1.1\r\nHost: site.test\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(body.len() < 100, "a truncated body must not be completed: {body:?}");
}

// --- Request smuggling ----------------------------------------------------------------------

/// The request a smuggler hides in a body; it must never reach the origin on its own.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: site.test\r\n\r\n";

/// Sends each attack on its own connection; each must be answered once, with `status`, and the
/// origin must see no smuggled request.
async fn refused(attacks: &[String], status: &str) {
    let origin = Recorder::start().await;
    let (_dir, proxy) = proxy_to(origin.addr, "timeouts:\n  idle: 2s\n");
    for attack in attacks {
        let answer = exchange(proxy.addrs()[0], attack.as_bytes()).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{attack:?}: {}",
            status_line(&answer)
        );
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{attack:?}: {answer}");
    }
    assert_eq!(origin.seen(), Vec::<String>::new(), "the origin saw a request");
}

#[tokio::test]
async fn differing_content_lengths_are_400() {
    let post = |lengths: &str| {
        format!("POST / HTTP/1.1\r\nHost: site.test\r\n{lengths}\r\nhello{SMUGGLED}")
    };
    let attacks = [
        post("Content-Length: 5\r\nContent-Length: 45\r\n"),
        post("Content-Length: 45\r\nContent-Length: 5\r\n"),
        post("Content-Length: 5, 45\r\n"),
        // A list of equal values is refused too: hyper reads digits only.
        post("Content-Length: 5, 5\r\n"),
        post("Content-Length: +5\r\n"),
        post("Content-Length: -5\r\n"),
        post("Content-Length: 0x5\r\n"),
    ];
    refused(&attacks, "400").await;
}

#[tokio::test]
async fn obs_folded_heads_are_400() {
    let attacks = [
        format!(
            "POST / HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n{SMUGGLED}"
        ),
        format!("GET / HTTP/1.1\r\nHost: site.test\r\nX-Folded: a\r\n\tb\r\n\r\n{SMUGGLED}"),
        format!("GET / HTTP/1.1\r\nHost: site.test\r\nContent-Length: 0\r\n 5\r\n\r\n{SMUGGLED}"),
    ];
    refused(&attacks, "400").await;
}

#[tokio::test]
async fn obfuscated_transfer_encodings_are_400() {
    let post =
        |te: &str| format!("POST / HTTP/1.1\r\nHost: site.test\r\n{te}\r\n\r\n0\r\n\r\n{SMUGGLED}");
    let attacks = [
        post("Transfer-Encoding: xchunked"),
        post("Transfer-Encoding: chunked, identity"),
        post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity"),
        post("Transfer-Encoding : chunked"),
        post("Transfer-Encoding\t: chunked"),
        post(" Transfer-Encoding: chunked"),
        post("Transfer-Encoding: \"chunked\""),
        // Transfer-Encoding in HTTP/1.0.
        format!(
            "POST / HTTP/1.0\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}"
        ),
        // Bare CR and NUL inside a head.
        format!(
            "GET / HTTP/1.1\r\nHost: site.test\r\nX-A: a\rTransfer-Encoding: chunked\r\n\r\n{SMUGGLED}"
        ),
        format!("GET / HTTP/1.1\r\nHost: site.test\r\nX-A: a\0b\r\n\r\n{SMUGGLED}"),
    ];
    refused(&attacks, "400").await;
}

#[tokio::test]
async fn bad_chunked_framing_never_lets_a_second_request_through() {
    let origin = Recorder::start().await;
    let (_dir, proxy) = proxy_to(origin.addr, "timeouts:\n  idle: 2s\n  origin_response: 2s\n");
    let chunked = |body: &str| {
        format!(
            "POST /c HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\n\r\n{body}{SMUGGLED}"
        )
    };
    let attacks = [
        chunked("0x5\r\nhello\r\n0\r\n\r\n"),
        chunked("-1\r\nhello\r\n0\r\n\r\n"),
        chunked("fffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
        chunked("5\r\nhelloXX0\r\n\r\n"),
        chunked("5\r\nhello"),
        chunked("5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n"),
        chunked(" 5\r\nhello\r\n0\r\n\r\n"),
        chunked("5\rhello\r\n0\r\n\r\n"),
    ];
    for attack in &attacks {
        let answer = exchange(proxy.addrs()[0], attack.as_bytes()).await;
        let responses = answer.matches("HTTP/1.1 ").count();
        assert!(responses <= 1, "{attack:?}: {responses} responses: {answer}");
        assert!(!answer.starts_with("HTTP/1.1 2"), "{attack:?}: {}", status_line(&answer));
    }
    let seen = origin.seen();
    assert!(seen.iter().all(|s| !s.contains("/smuggled")), "smuggled through: {seen:?}");
    // What reached the origin was the POST, never with a complete body.
    assert!(seen.iter().all(|s| s == "POST /c body=error"), "{seen:?}");
}

#[tokio::test]
async fn pipelined_requests_reach_the_origin_as_framed() {
    let origin = Recorder::start().await;
    let (_dir, proxy) = proxy_to(origin.addr, "timeouts:\n  idle: 2s\n");
    // Bodies that look like requests are bodies.
    let in_body = "GET /in-body HTTP/1.1\r\nHost: site.test\r\n\r\n";
    let in_chunk = "GET /in-chunk HTTP/1.1\r\nHost: site.test\r\n\r\n";
    let stream = format!(
        "POST /a HTTP/1.1\r\nHost: site.test\r\nContent-Length: {}\r\n\r\n{in_body}\
         POST /b HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{in_chunk}\r\n0\r\n\r\n\
         GET /c HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n",
        in_body.len(),
        in_chunk.len()
    );
    let answer = exchange(proxy.addrs()[0], stream.as_bytes()).await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 3, "{answer}");
    let (a, b) =
        (format!("POST /a body={}", in_body.len()), format!("POST /b body={}", in_chunk.len()));
    assert_eq!(origin.seen(), [a.as_str(), b.as_str(), "GET /c body=0"]);
}

/// Found by the `framing` fuzz target: after `Transfer-Encoding`, hyper skips a
/// `Content-Length` without reading it, and the proxy's framing tracker used to stop following
/// the connection at a value it could not read, so the head was forwarded (chunked), not refused.
#[tokio::test]
async fn an_unreadable_content_length_after_transfer_encoding_is_refused() {
    let attacks = [
        "POST / HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n0\r\n\r\n".to_owned(),
        "POST / HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5, 5\r\n\r\n0\r\n\r\n".to_owned(),
    ];
    refused(&attacks, "400").await;
}

/// A head the framing tracker used to stop following at (an `Upgrade` header, `CONNECT`, a line
/// over 16 KiB) must not let a later head with both framing headers through: the proxy never
/// answers 101, so hyper keeps reading requests on the connection.
#[tokio::test]
async fn both_framing_headers_are_refused_after_heads_the_tracker_skips() {
    let conflict = "POST /x HTTP/1.1\r\nHost: site.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let firsts = [
        "GET /a HTTP/1.1\r\nHost: site.test\r\nUpgrade: websocket\r\n\r\n".to_owned(),
        "CONNECT site.test:80 HTTP/1.1\r\nHost: site.test\r\n\r\n".to_owned(),
        "connect /a HTTP/1.1\r\nHost: site.test\r\n\r\n".to_owned(),
        format!("GET /a HTTP/1.1\r\nHost: site.test\r\nX-Long: {}\r\n\r\n", "l".repeat(17 * 1024)),
    ];
    let origin = Recorder::start().await;
    let (_dir, proxy) = proxy_to(origin.addr, "timeouts:\n  idle: 2s\n");
    let mut forwarded = Vec::new();
    for first in &firsts {
        let answer = exchange(proxy.addrs()[0], format!("{first}{conflict}").as_bytes()).await;
        let last = answer.rsplit("HTTP/1.1 ").next().unwrap_or_default();
        if !last.starts_with("400") {
            forwarded.push(format!(
                "after {:?}: {}",
                &first[..first.len().min(30)],
                status_line(last)
            ));
        }
    }
    assert!(forwarded.is_empty(), "{forwarded:#?}");
    assert!(origin.seen().iter().all(|s| !s.starts_with("POST /x")), "{:?}", origin.seen());
}

/// An origin that closes a keep-alive connection once it has answered: the proxy closes its
/// end too, without waiting for another request to that origin (no task watches an idle
/// connection; the worker looks its idle ones over every second).
#[tokio::test]
async fn an_idle_origin_connection_the_origin_closed_is_closed_without_a_request() {
    let (origin, accepted) = raw_origin(|mut stream| async move {
        read_head(&mut stream).await;
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        stream.write_all(answer.as_bytes()).await.unwrap();
        // Long enough for the proxy to pool the connection first.
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(stream);
    })
    .await;
    let (_dir, proxy) = proxy_to(origin, "origin_pool: {idle_timeout: 1h}\n");
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 200);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    let gauge = |text: &str, series: &str| {
        let line = text.lines().find(|l| l.starts_with(&format!("{series} ")));
        line.and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    wait_for("the origin connection closed and out of the pool", || {
        let text = proxy.metrics_text();
        gauge(&text, "hookyard_origin_connections") == Some(0.0)
            && gauge(&text, "hookyard_origin_connections_pooled") == Some(0.0)
    })
    .await;
}
