//! HTTP/1 behaviour against raw TCP clients and origins, as RFC 9112 has it and nginx or ATS do:
//! half-closed clients, origins that send conflicting framing or speak HTTP/1.0, request heads
//! the parser lets through (duplicate `Host`, bad ports, underscore framing names) and chunked
//! bodies that break mid-request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Client, config_dir, exchange, proxy, read_to_close};

/// An origin on raw TCP: records every request head it reads and answers each with `answer`,
/// then waits for the next head on the connection, or closes it after `close`. With no answer
/// it reads until the proxy closes the connection and answers nothing.
struct RawOrigin {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    accepted: Arc<AtomicUsize>,
}

impl RawOrigin {
    async fn start(answer: Option<&'static [u8]>, close: bool) -> RawOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (log, count) = (heads.clone(), accepted.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_raw(stream, log.clone(), answer, close));
            }
        });
        RawOrigin { addr, heads, accepted }
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn serve_raw(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<String>>>,
    answer: Option<&'static [u8]>,
    close: bool,
) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        };
        let head: Vec<u8> = seen.drain(..end).collect();
        log.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
        let Some(answer) = answer else {
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            return;
        };
        if stream.write_all(answer).await.is_err() {
            return;
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// A proxy with one rule, `site.test` to `origin`.
fn proxy_to(origin: SocketAddr) -> (TempDir, hookyard_proxy::ServerHandle) {
    let remap = format!("map http://site.test/ http://{origin}/\n");
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    (dir, proxy)
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

// --- Half-closed clients --------------------------------------------------------------------

/// A client may send its request and shut down its sending side while it waits (RFC 9112 §9.6
/// lets either side half-close); nginx and ATS answer it, then close.
#[tokio::test]
async fn a_client_that_half_closes_after_its_request_is_answered() {
    let origin = RawOrigin::start(Some(OK), false).await;
    let (_dir, proxy) = proxy_to(origin.addr);
    for target in ["/_hookyard/health", "/proxied"] {
        let mut stream = TcpStream::connect(proxy.addrs()[0]).await.unwrap();
        let request = format!("GET {target} HTTP/1.1\r\nHost: site.test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        let answer = read_to_close(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{target}: {answer:?}");
        let body = answer.split_once("\r\n\r\n").map(|(_, body)| body);
        let expected = if target == "/proxied" { "hello" } else { "ok\n" };
        assert_eq!(body, Some(expected), "{target}: {answer:?}");
    }
    assert_eq!(origin.heads().len(), 1);
}

// --- Origin framing -------------------------------------------------------------------------

/// Both framing headers from an origin: the chunked coding wins (RFC 9112 §6.3), so the
/// origin's `Content-Length` must not reach the client (§6.1: an intermediary removes it before
/// forwarding), and the connection that carried such a response is not used again.
#[tokio::test]
async fn an_origin_response_with_both_framing_headers_loses_its_length() {
    const BOTH: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
a\r\n0123456789\r\n0\r\n\r\n";
    let origin = RawOrigin::start(Some(BOTH), false).await;
    let (_dir, proxy) = proxy_to(origin.addr);
    let mut client = Client::connect(proxy.addrs()[0]).await;
    for _ in 0..2 {
        let answer = client.request("GET", "site.test", "/both").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, "0123456789");
        assert_eq!(answer.headers.get("content-length"), None, "{:?}", answer.headers);
    }
    assert_eq!(origin.connections(), 2, "a connection that sent both was used again");
}

/// The proxy never asks an origin to switch protocols (`Upgrade` is hop-by-hop and not
/// forwarded), and a server must not switch to a protocol the request did not offer (RFC 9110
/// §15.2.2): a 101 is a bad response, 502, and the client's connection goes on.
#[tokio::test]
async fn an_unsolicited_101_from_an_origin_is_502() {
    const SWITCH: &[u8] =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nraw";
    let origin = RawOrigin::start(Some(SWITCH), false).await;
    let (_dir, proxy) = proxy_to(origin.addr);
    let requests = "GET /1 HTTP/1.1\r\nHost: site.test\r\n\r\n\
                    GET /_hookyard/health HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], requests.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 502 "), "{answer:?}");
    assert!(!answer.contains(" 101 ") && !answer.contains("raw"), "{answer:?}");
    assert!(answer.contains("HTTP/1.1 200 OK\r\n"), "{answer:?}");
}

// --- Request heads --------------------------------------------------------------------------

/// Sends each request on its own connection; each must be answered `400` once, and the origin
/// must see none of them.
async fn bad_requests(requests: &[String]) {
    let origin = RawOrigin::start(Some(OK), false).await;
    let (_dir, proxy) = proxy_to(origin.addr);
    for request in requests {
        let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{request:?}: {answer:?}");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{request:?}: {answer:?}");
    }
    assert_eq!(origin.heads(), Vec::<String>::new(), "the origin saw a request");
}

/// RFC 9112 §3.2: a request with more than one `Host` field line is answered 400.
#[tokio::test]
async fn two_host_fields_are_400() {
    let requests = [
        "GET / HTTP/1.1\r\nHost: site.test\r\nHost: other.test\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: site.test\r\nHost: site.test\r\nConnection: close\r\n\r\n",
        "GET http://site.test/ HTTP/1.1\r\nHost: site.test\r\nHost: x\r\nConnection: close\r\n\r\n",
    ];
    bad_requests(&requests.map(str::to_owned)).await;
}

/// A port that is not a number from 0 to 65535 makes the `Host` (or the absolute-form target)
/// invalid: 400, not a request routed as if it had no port.
#[tokio::test]
async fn a_host_port_out_of_range_or_not_numeric_is_400() {
    let requests = ["site.test:99999", "site.test:65536", "site.test:8o", "site.test:+80"]
        .map(|host| format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
    let mut requests = requests.to_vec();
    requests.push(
        "GET http://site.test:99999/ HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"
            .to_owned(),
    );
    bad_requests(&requests).await;
}

/// A chunked request body that breaks (bad chunk-size line, missing CRLF after the data, a size
/// that overflows) is the client's error: 400 and the connection closed, not 502.
#[tokio::test]
async fn a_malformed_chunked_request_body_is_400_and_closes() {
    let origin = RawOrigin::start(None, false).await;
    let (_dir, proxy) = proxy_to(origin.addr);
    let bodies = [
        "zz\r\nhello\r\n0\r\n\r\n",
        "5\r\nhelloXX0\r\n\r\n",
        "fffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n-1\r\n\r\n",
    ];
    for body in bodies {
        let request = format!(
            "POST /c HTTP/1.1\r\nHost: site.test\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        );
        let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{body:?}: {answer:?}");
        assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{answer:?}");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{body:?}: {answer:?}");
    }
}

/// `Transfer_Encoding` and `Content_Length` are framing fields to an origin that reads `_` as
/// `-`: they never reach it. Other names with underscores pass, as in ATS.
#[tokio::test]
async fn underscore_spellings_of_framing_fields_are_not_forwarded() {
    let origin = RawOrigin::start(Some(OK), false).await;
    let (_dir, proxy) = proxy_to(origin.addr);
    let request = "GET /u HTTP/1.1\r\nHost: site.test\r\nTransfer_Encoding: chunked\r\n\
                   content_length: 5\r\nContent_length: 6\r\nTRANSFER_encoding: x\r\n\
                   X_Other: kept\r\nConnection: close\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let heads = origin.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head = heads[0].to_ascii_lowercase();
    assert!(!head.contains("transfer_encoding") && !head.contains("content_length"), "{head}");
    assert!(head.contains("\r\nx_other: kept\r\n"), "{head}");
}

// --- Versions -------------------------------------------------------------------------------

/// The proxy answers in the client's version, whatever the origin's (RFC 9110 §6.2): an
/// HTTP/1.0 origin does not make an HTTP/1.1 client's answer HTTP/1.0 nor close its
/// connection, and a body the origin ends by closing goes chunked to the client.
#[tokio::test]
async fn an_http10_origin_is_answered_in_http11_with_keep_alive() {
    let sized = RawOrigin::start(Some(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nsized"), true);
    let until_close = RawOrigin::start(Some(b"HTTP/1.0 200 OK\r\n\r\nuntil close"), true);
    let (sized, until_close) = (sized.await, until_close.await);
    let remap = format!(
        "map http://sized.test/ http://{}/\nmap http://eof.test/ http://{}/\n",
        sized.addr, until_close.addr
    );
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    // Four requests on one connection; the last asks to close it.
    let requests = "GET /1 HTTP/1.1\r\nHost: sized.test\r\n\r\n\
                    GET /2 HTTP/1.1\r\nHost: eof.test\r\n\r\n\
                    GET /3 HTTP/1.1\r\nHost: sized.test\r\n\r\n\
                    GET /4 HTTP/1.1\r\nHost: eof.test\r\nConnection: close\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], requests.as_bytes()).await;
    assert_eq!(answer.matches("HTTP/1.1 200 OK\r\n").count(), 4, "{answer:?}");
    assert!(!answer.contains("HTTP/1.0"), "{answer:?}");
    assert_eq!(answer.matches("\r\n\r\nsized").count(), 2, "{answer:?}");
    let chunked = "transfer-encoding: chunked\r\n";
    assert_eq!(answer.matches(chunked).count(), 2, "{answer:?}");
    let lower = answer.to_ascii_lowercase();
    assert_eq!(lower.matches("\r\n\r\nb\r\nuntil close\r\n0\r\n\r\n").count(), 2, "{answer:?}");
    // An HTTP/1.0 client still gets HTTP/1.0, the body ended by the close.
    let answer = exchange(proxy.addrs()[0], b"GET /5 HTTP/1.0\r\nHost: eof.test\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"), "{answer:?}");
    assert!(answer.ends_with("\r\n\r\nuntil close"), "{answer:?}");
    assert_eq!((sized.connections(), until_close.connections()), (2, 3));
}
