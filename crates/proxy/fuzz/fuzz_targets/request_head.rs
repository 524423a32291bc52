//! A client's raw bytes through the whole proxy: a real `hookyard_proxy::Server` (one worker) on
//! 127.0.0.1 with two rules (one by host, one host-less) to an in-process origin, so the request
//! target and `Host` handling, remap, the framing check, the origin request and the response all
//! run. The proxy's request path needs a socket: this is loopback, nothing leaves the machine.
//!
//! Each input is sent on a new connection followed by a last request with `Connection: close`,
//! and everything the proxy answers is read until it closes (bounded: a timeout of the proxy
//! ends anything that stalls).
//!
//! Checks, beyond "no panic in any proxy thread" (libFuzzer's panic hook aborts the process):
//! - the proxy closes the connection within the bound (no hang);
//! - what comes back is HTTP responses;
//! - the origin answered exactly as many requests as the client received origin responses
//!   (nothing reached the origin that the client did not see answered: no smuggling), and each
//!   request it got carried the rule's `Host` and no `Transfer-Encoding` other than chunked.
#![no_main]

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookyard_proxy::{AdminSocket, Server, ServerConfig, ServerHandle};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;

/// The end of every input: a request that closes the connection once answered.
const LAST: &[u8] = b"GET /_last HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n";

/// How long one input may take before it counts as a hang.
const BOUND: Duration = Duration::from_secs(10);

struct Rig {
    proxy: SocketAddr,
    origin: SocketAddr,
    answered: Arc<AtomicU64>,
    problems: Arc<Mutex<Vec<String>>>,
    _handle: ServerHandle,
    _dir: tempfile::TempDir,
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        let answered = Arc::new(AtomicU64::new(0));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let origin = origin(answered.clone(), problems.clone());
        let dir = tempfile::tempdir().expect("a temporary directory");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("config file written");
        };
        write(
            "remap.config",
            format!("map http://site.test/ http://{origin}/\nmap / http://{origin}/fallback/\n"),
        );
        write(
            "hookyard.yaml",
            format!(
                // HTTP/1 only: with h2c on, an input starting with the HTTP/2 preface is
                // (rightly) answered in HTTP/2 frames.
                "runtime_dir: {}\nhttp2:\n  h2c: false\ntimeouts:\n  header_read: 300ms\n  \
                 origin_response: 1s\n  idle: 1s\n",
                dir.path().join("run").display()
            ),
        );
        let handle = Server::start(ServerConfig {
            config_dir: Some(dir.path().to_owned()),
            listen: vec!["127.0.0.1:0".parse().expect("an address")],
            listen_tls: Vec::new(),
            admin: AdminSocket::Off,
            metrics: None,
            workers: Some(1),
        })
        .expect("the proxy starts");
        Rig { proxy: handle.addrs()[0], origin, answered, problems, _handle: handle, _dir: dir }
    })
}

/// An origin on its own thread: reads each request's body (up to 1 MiB) and answers with an
/// `x-origin` header, counting what it answered and noting what it should never see.
fn origin(answered: Arc<AtomicU64>, problems: Arc<Mutex<Vec<String>>>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("origin binds");
    let addr = listener.local_addr().expect("origin address");
    listener.set_nonblocking(true).expect("non-blocking listener");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("origin runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("origin listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (answered, problems) = (answered.clone(), problems.clone());
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let (answered, problems) = (answered.clone(), problems.clone());
                    async move {
                        let head = format!("{} {}", request.method(), request.uri());
                        let host = request.headers().get("host").map(|h| h.as_bytes().to_vec());
                        if host.as_deref() != Some(addr.to_string().as_bytes()) {
                            problems.lock().unwrap().push(format!("{head}: Host {host:?}"));
                        }
                        for te in request.headers().get_all("transfer-encoding") {
                            if !te.as_bytes().eq_ignore_ascii_case(b"chunked") {
                                problems.lock().unwrap().push(format!("{head}: TE {te:?}"));
                            }
                        }
                        let body = Limited::new(request.into_body(), 1 << 20).collect().await;
                        let mut response = Response::new(Full::new(Bytes::from_static(b"o")));
                        response.headers_mut().insert("x-origin", "1".parse().unwrap());
                        if body.is_ok() {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
    });
    addr
}

fuzz_target!(|data: &[u8]| {
    let rig = rig();
    let before = rig.answered.load(Ordering::SeqCst);
    let mut stream = TcpStream::connect(rig.proxy).expect("the proxy accepts");
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream.set_write_timeout(Some(BOUND)).unwrap();
    // The proxy may close early (a refused head): later writes may fail, and that is fine.
    let _ = stream.write_all(data).and_then(|()| stream.write_all(LAST));
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("the proxy neither answered nor closed within {BOUND:?}")
            }
            // A reset after a refused head: what was read so far is the answer.
            Err(_) => break,
        }
    }
    assert!(started.elapsed() < BOUND * 2, "took {:?}", started.elapsed());
    drop(stream);

    let text = String::from_utf8_lossy(&received);
    // HTTP/1.0 requests are answered in HTTP/1.0.
    let http = text.starts_with("HTTP/1.1 ") || text.starts_with("HTTP/1.0 ");
    assert!(received.is_empty() || http, "not HTTP: {text:?}");
    let from_origin = text.matches("\r\nx-origin: 1\r\n").count() as u64;
    // The origin's answers for this input are all in: each one the client saw was sent after the
    // origin counted it, and the proxy closed the connection only after the last of them. One the
    // client did not see would be a request the proxy let through unanswered.
    let answered = rig.answered.load(Ordering::SeqCst) - before;
    assert_eq!(
        answered, from_origin,
        "the origin answered {answered} requests, the client saw {from_origin} of them (origin {})\n{text}",
        rig.origin
    );
    let problems = std::mem::take(&mut *rig.problems.lock().unwrap());
    assert!(problems.is_empty(), "the origin saw: {problems:?}");
});
