//! What a read-only body transform costs: 1 MiB responses through the proxy (one worker, one
//! keep-alive client connection, an in-process origin answering from memory), without a
//! transform and with an inspect transform (`transform_probe.c`'s `count` mode, which only
//! counts: the cost measured is the proxy's, not the plugin's). Issue 18's goal: the inspect
//! transform costs at most 5 % of the throughput.
//!
//! - `transform/none`: the plugin is loaded, the request asks for no transform;
//! - `transform/inspect`: one inspect transform on the response body;
//! - `transform/inspect3`: three of them in a row.
//!
//! Run: `cargo bench -p hookyard-proxy --bench transform` (CI only builds it; a quick check
//! that it runs: `cargo bench -p hookyard-proxy --bench transform -- --test`).
//!
//! Measured (2026-12-03, the 2-core development machine, a full run through `cargo xtask
//! bench`; medians of 100 samples):
//!
//! | benchmark          | time      | throughput  | vs none |
//! |--------------------|-----------|-------------|---------|
//! | transform/none     | 793.9 µs  | 1.230 GiB/s | 1.00×   |
//! | transform/inspect  | 817.4 µs  | 1.195 GiB/s | 0.97×   |
//! | transform/inspect3 | 915.4 µs  | 1.067 GiB/s | 0.87×   |
#![allow(clippy::unwrap_used, reason = "a benchmark that cannot set up should fail loudly")]
#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookyard_proxy::{AdminSocket, Server, ServerConfig, ServerHandle};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};

#[path = "../src/allocator.rs"]
mod allocator;

/// The binary's allocator (`src/main.rs`), so the numbers are the ones `hookyard` gives.
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

const BODY: usize = 1 << 20;

/// An origin answering every request with `BODY` bytes (one shared buffer).
async fn origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Bytes::from(vec![b'x'; BODY]);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let body = body.clone();
            let service = hyper::service::service_fn(move |_: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}

/// The proxy with `transform_probe` loaded, mapping `site.test` to `origin`.
fn proxy(origin: SocketAddr) -> (TempDir, ServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/transform_probe.c");
    let include = hookyard_fixtures::abi_include_dir();
    hookyard_fixtures::compile_c_with(&probe, &[], &[&include], &plugins.join("probe.so"));
    let yaml = format!(
        "runtime_dir: {}\nplugin_dirs: [{}]\n",
        dir.path().join("run").display(),
        plugins.display()
    );
    std::fs::write(dir.path().join("hookyard.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join("plugin.yaml"), "plugins:\n  - path: probe.so\n").unwrap();
    let remap = format!("map http://site.test/ http://{origin}/\n");
    std::fs::write(dir.path().join("remap.config"), remap).unwrap();
    let handle = Server::start(ServerConfig {
        config_dir: Some(dir.path().to_owned()),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: Vec::new(),
        admin: AdminSocket::Off,
        metrics: None,
        workers: Some(1),
    })
    .unwrap();
    (dir, handle)
}

/// One GET through `client` asking for `transforms`; the body's length.
async fn fetch(client: &mut SendRequest<Empty<Bytes>>, transforms: &str) -> usize {
    let request = Request::get("/x")
        .header("host", "site.test")
        .header("x-transform", transforms)
        .body(Empty::new())
        .unwrap();
    let response = client.send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    body.len()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let origin = runtime.block_on(origin());
    let (_dir, handle) = proxy(origin);
    let addr = handle.addrs()[0];
    let mut client = runtime.block_on(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (send, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        send
    });
    let mut group = c.benchmark_group("transform");
    group.throughput(Throughput::Bytes(BODY as u64));
    for (name, transforms) in
        [("none", ""), ("inspect", "count"), ("inspect3", "count,count,count")]
    {
        group.bench_function(name, |b| {
            b.iter(|| {
                let got = runtime.block_on(fetch(&mut client, transforms));
                assert_eq!(got, BODY);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
