//! An in-test origin, a proxy started on a temporary configuration directory, and clients.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookyard_proxy::{AdminSocket, Server, ServerConfig, ServerHandle};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long any awaited condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Awaits `future`, failing the test past [`DEADLINE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: not done within {DEADLINE:?}"),
    }
}

/// Polls `condition` until it holds, failing past [`DEADLINE`].
pub async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "{what}: not true within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

type OriginBody = Either<Incoming, Full<Bytes>>;

/// An origin on 127.0.0.1:0, served by the test's runtime.
///
/// Paths: `/never` never answers; `/slow/...` answers once [`Origin::release`] is called;
/// `/echo` streams the request body back; `/location` answers 302 with a `Location` on the
/// origin itself; anything else answers `NAME METHOD TARGET host=HOST`.
pub struct Origin {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub slow_waiting: Arc<AtomicUsize>,
    release: watch::Sender<bool>,
}

impl Origin {
    pub async fn start(name: &'static str) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let slow_waiting = Arc::new(AtomicUsize::new(0));
        let (release, released) = watch::channel(false);
        let (count, waiting) = (connections.clone(), slow_waiting.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                count.fetch_add(1, Ordering::SeqCst);
                let (waiting, released) = (waiting.clone(), released.clone());
                let service = service_fn(move |request| {
                    respond(name, addr, request, waiting.clone(), released.clone())
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Origin { addr, connections, slow_waiting, release }
    }

    /// Lets every `/slow` request answer.
    pub fn release(&self) {
        self.release.send_replace(true);
    }
}

async fn respond(
    name: &'static str,
    addr: SocketAddr,
    request: Request<Incoming>,
    waiting: Arc<AtomicUsize>,
    mut released: watch::Receiver<bool>,
) -> Result<Response<OriginBody>, Infallible> {
    let path = request.uri().path().to_owned();
    if path == "/never" {
        std::future::pending::<()>().await;
    }
    if path.starts_with("/slow") {
        waiting.fetch_add(1, Ordering::SeqCst);
        let _ = released.wait_for(|r| *r).await;
    }
    if path == "/headers" {
        let mut lines: Vec<String> = request
            .headers()
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
            .collect();
        lines.sort();
        return Ok(Response::new(Either::Right(Full::new(Bytes::from(lines.join("\n"))))));
    }
    if path == "/echo" {
        return Ok(Response::new(Either::Left(request.into_body())));
    }
    if path.ends_with("/location") {
        let mut response = Response::new(Either::Right(Full::new(Bytes::new())));
        *response.status_mut() = StatusCode::FOUND;
        let location = format!("http://{addr}/x/moved?q=1");
        response.headers_mut().insert("location", location.parse().unwrap());
        let other = "http://elsewhere.example/x/moved".parse().unwrap();
        response.headers_mut().insert("content-location", other);
        return Ok(response);
    }
    let host = request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("-");
    let text = format!("{name} {} {} host={host}", request.method(), request.uri());
    Ok(Response::new(Either::Right(Full::new(Bytes::from(text)))))
}

/// A configuration directory with the given files.
pub fn config_dir(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(dir.path(), name, text);
    }
    dir
}

pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Starts a proxy on 127.0.0.1:0 with two workers and no control socket.
pub fn proxy(dir: Option<&Path>) -> ServerHandle {
    proxy_with(dir, AdminSocket::Off)
}

pub fn proxy_with(dir: Option<&Path>, admin: AdminSocket) -> ServerHandle {
    Server::start(ServerConfig {
        config_dir: dir.map(Path::to_owned),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: Vec::new(),
        admin,
        metrics: None,
        workers: Some(2),
    })
    .unwrap()
}

/// A response, its body read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// A keep-alive HTTP/1.1 connection to the proxy.
pub struct Client {
    send: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::over(TcpStream::connect(addr).await.unwrap()).await
    }

    /// A connection from the local address `source` (port chosen by the kernel), such as
    /// another loopback address 127.0.0.x, so one test can be many clients.
    pub async fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> Client {
        let socket = match source {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .unwrap();
        socket.bind(SocketAddr::new(source, 0)).unwrap();
        Client::over(socket.connect(addr).await.unwrap()).await
    }

    async fn over(stream: TcpStream) -> Client {
        let (send, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        Client { send }
    }

    /// Sends `method target` with `Host: host` (none when empty).
    pub async fn request(&mut self, method: &str, host: &str, target: &str) -> Answer {
        self.request_with(method, host, target, &[]).await
    }

    /// Sends `method target` with `Host: host` (none when empty) and `fields`, in order.
    pub async fn request_with(
        &mut self,
        method: &str,
        host: &str,
        target: &str,
        fields: &[(&str, &str)],
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(target);
        if !host.is_empty() {
            builder = builder.header("host", host);
        }
        for (name, value) in fields {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Empty::new()).unwrap();
        within("a response", async {
            self.send.ready().await.unwrap();
            let response = self.send.send_request(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
        })
        .await
    }
}

/// One request on a new connection.
pub async fn get(addr: SocketAddr, host: &str, target: &str) -> Answer {
    Client::connect(addr).await.request("GET", host, target).await
}

/// Sends raw bytes and reads until the proxy closes the connection or `until` appears.
pub async fn raw(addr: SocketAddr, bytes: &[u8], until: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut seen = Vec::new();
    within("a raw response", async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            if !until.is_empty() && String::from_utf8_lossy(&seen).contains(until) {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&seen).into_owned()
}

/// Reads until the peer closes the connection (EOF or reset), failing past [`DEADLINE`]; what
/// was read.
pub async fn read_to_close(stream: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut seen = Vec::new();
    within("the connection to close", async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&seen).into_owned()
}

/// Sends `bytes` on a new connection and reads everything until the proxy closes it.
pub async fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The proxy may close before reading everything (a refused head): that is an answer too.
    let _ = stream.write_all(bytes).await;
    read_to_close(&mut stream).await
}
