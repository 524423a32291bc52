//! Connection caps and timeouts on every endpoint: the proxy's listeners, the metrics address
//! and the control socket. Idle and half-sent connections cannot take every descriptor.

use std::net::SocketAddr;
use std::path::Path;

use hookyard_proxy::{AdminSocket, Server, ServerConfig, ServerHandle};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UnixStream};

use crate::support::{config_dir, get, raw, read_to_close, wait_for};

fn start(dir: &Path, admin: AdminSocket) -> ServerHandle {
    Server::start(ServerConfig {
        config_dir: Some(dir.to_owned()),
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        listen_tls: Vec::new(),
        admin,
        metrics: Some("127.0.0.1:0".parse().unwrap()),
        workers: Some(2),
    })
    .unwrap()
}

fn series(handle: &ServerHandle, name: &str, endpoint: &str) -> u64 {
    let text = handle.metrics_text();
    let prefix = format!("{name}{{endpoint=\"{endpoint}\"}} ");
    let line = text.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{text}"));
    line[prefix.len()..].parse().unwrap()
}

#[tokio::test]
async fn client_connections_over_the_cap_are_closed_and_counted() {
    let dir = config_dir(&[("hookyard.yaml", "limits: {max_connections: 3}\n")]);
    let handle = start(dir.path(), AdminSocket::Off);
    let addr = handle.addrs()[0];
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    wait_for("three connections open", || {
        series(&handle, "hookyard_endpoint_connections", "proxy") == 3
    })
    .await;
    let mut over = TcpStream::connect(addr).await.unwrap();
    assert!(read_to_close(&mut over).await.is_empty(), "closed without an answer");
    assert_eq!(series(&handle, "hookyard_connections_refused_total", "proxy"), 1);

    held.pop();
    wait_for("a place freed", || series(&handle, "hookyard_endpoint_connections", "proxy") == 2)
        .await;
    let answer = get(addr, "any.test", "/_hookyard/health").await;
    assert_eq!(answer.body, "ok\n", "a new connection is served again");
}

#[tokio::test]
async fn idle_and_half_sent_metrics_connections_time_out_and_are_capped() {
    let dir = config_dir(&[(
        "hookyard.yaml",
        "limits: {max_control_connections: 4}\ntimeouts: {header_read: 300ms}\n",
    )]);
    let handle = start(dir.path(), AdminSocket::Off);
    let metrics: SocketAddr = handle.metrics_addr().unwrap();
    let mut idle = Vec::new();
    for i in 0..4 {
        let mut stream = TcpStream::connect(metrics).await.unwrap();
        if i % 2 == 1 {
            stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        }
        idle.push(stream);
    }
    wait_for("four metrics connections open", || {
        series(&handle, "hookyard_endpoint_connections", "metrics") == 4
    })
    .await;
    let mut over = TcpStream::connect(metrics).await.unwrap();
    assert!(read_to_close(&mut over).await.is_empty());
    assert!(series(&handle, "hookyard_connections_refused_total", "metrics") >= 1);

    // Neither the silent nor the half-sent ones are kept past `timeouts.header_read`.
    for stream in &mut idle {
        read_to_close(stream).await;
    }
    let page =
        raw(metrics, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "").await;
    assert!(page.contains("hookyard_connections_refused_total"), "{page}");
}

#[tokio::test]
async fn the_control_socket_closes_silent_clients_and_caps_them() {
    let dir = config_dir(&[(
        "hookyard.yaml",
        "limits: {max_control_connections: 2}\ntimeouts: {idle: 300ms}\n",
    )]);
    let socket = dir.path().join("admin.sock");
    let handle = start(dir.path(), AdminSocket::At(socket.clone()));
    let mut silent = UnixStream::connect(&socket).await.unwrap();
    let mut half = UnixStream::connect(&socket).await.unwrap();
    half.write_all(b"{\"jsonrpc\": \"2.0\", ").await.unwrap();
    wait_for("two control connections open", || {
        series(&handle, "hookyard_endpoint_connections", "admin") == 2
    })
    .await;
    let mut over = UnixStream::connect(&socket).await.unwrap();
    assert!(read_to_close(&mut over).await.is_empty());
    assert_eq!(series(&handle, "hookyard_connections_refused_total", "admin"), 1);

    read_to_close(&mut silent).await;
    read_to_close(&mut half).await;
    let status =
        tokio::task::spawn_blocking(move || hookyard_proxy::ctl::call(&socket, "status").unwrap())
            .await
            .unwrap();
    assert_eq!(status["generation"], 1);
}
