//! What plugins read of the client connection (ABI 1.3), through the C `hook_probe`'s
//! `X-Client-*` response fields: plain HTTP/1.1 and HTTP/1.0, h2c, TLS with curl over
//! HTTP/1.1 and HTTP/2, and TLS 1.2 without SNI with `openssl s_client`.

use std::net::SocketAddr;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::hooks::setup;
use crate::support::{Origin, proxy, read_to_close, within};
use crate::tls::{curl, probed_https, s_client, text, tls_proxy};

/// The probe's fields, in `hy_api` order.
const FIELDS: [&str; 7] = [
    "x-client-addr",
    "x-incoming-addr",
    "x-client-scheme",
    "x-client-sni",
    "x-client-alpn",
    "x-client-tls",
    "x-client-protocol",
];

/// The probe's fields in the first response head of `output` (`?` for a missing one).
fn from_head(output: &str) -> Vec<String> {
    let start = output.find("HTTP/").unwrap_or_else(|| panic!("no response in {output}"));
    let head = output[start..].split("\r\n\r\n").next().unwrap_or_default();
    FIELDS
        .iter()
        .map(|name| {
            head.lines()
                .find_map(|line| {
                    let (field, value) = line.split_once(':')?;
                    field.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
                })
                .unwrap_or_else(|| "?".into())
        })
        .collect()
}

/// The probe's fields of a response's `headers` (`?` for a missing one).
fn from_map(headers: &HeaderMap) -> Vec<String> {
    let value = |name| headers.get(name).map_or("?", |v| v.to_str().unwrap()).to_owned();
    FIELDS.into_iter().map(value).collect()
}

/// The seven values expected: two addresses, then the rest.
fn expect(client: impl ToString, incoming: SocketAddr, rest: [&str; 5]) -> Vec<String> {
    [client.to_string(), incoming.to_string()].into_iter().chain(rest.map(String::from)).collect()
}

const PROBE: &str = "plugins:\n  - path: alpha.so\n";

#[tokio::test]
async fn plain_http_1_shows_both_addresses_the_version_and_no_tls() {
    let origin = Origin::start("o").await;
    let dir = setup(&origin, PROBE, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    for version in ["HTTP/1.1", "HTTP/1.0"] {
        // From another loopback address than the proxy's, so that the two cannot be confused.
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let client = stream.local_addr().unwrap();
        let request =
            format!("GET /headers {version}\r\nHost: site.test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_to_close(&mut stream).await;
        assert!(answer.contains(" 200 OK\r\n"), "{answer}");
        assert_eq!(
            from_head(&answer),
            expect(client, addr, ["http", "-", "-", "-", version]),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn h2c_streams_arrive_in_http_2_without_alpn() {
    let origin = Origin::start("o").await;
    let dir = setup(&origin, PROBE, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let stream = TcpStream::connect(addr).await.unwrap();
    let client = stream.local_addr().unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    // Two streams of one session: each reads the same connection.
    for _ in 0..2 {
        let mut send = send.clone();
        let request = http::Request::builder()
            .uri("http://site.test/headers")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = within("a response", async {
            send.ready().await.unwrap();
            send.send_request(request).await.unwrap()
        })
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            from_map(response.headers()),
            expect(client, addr, ["http", "-", "-", "-", "HTTP/2"])
        );
    }
}

#[tokio::test]
async fn tls_with_curl_shows_sni_alpn_and_tls_1_3_over_http_1_1_and_http_2() {
    let origin = Origin::start("origin").await;
    let dir = probed_https(&origin);
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    let cases = [("--http1.1", "http/1.1", "HTTP/1.1"), ("--http2", "h2", "HTTP/2")];
    for (flag, alpn, protocol) in cases {
        let path = dir.path().to_owned();
        // curl blocks: off the runtime that serves the origin.
        let output = tokio::task::spawn_blocking(move || {
            let local = "\nlocal %{local_ip}:%{local_port}\n";
            curl(
                &path,
                addr,
                "a.test",
                "/headers",
                &[flag, "-i", "-H", "Host: a.test", "-w", local],
            )
        })
        .await
        .unwrap();
        let all = text(&output);
        assert!(output.status.success(), "{flag}: {all}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.starts_with(&format!("{protocol} 200")), "{flag}: {all}");
        let client = stdout.lines().last().and_then(|l| l.strip_prefix("local ")).unwrap();
        assert_eq!(
            from_head(&stdout),
            expect(client, addr, ["https", "a.test", alpn, "TLSv1.3", protocol]),
            "{flag}: {all}"
        );
    }
}

#[tokio::test]
async fn tls_1_2_without_sni_or_alpn_answers_none_for_them() {
    let origin = Origin::start("origin").await;
    let dir = probed_https(&origin);
    let proxy = tls_proxy(dir.path());
    let addr = proxy.tls_addrs()[0];
    let request = "GET /headers HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
    let output =
        tokio::task::spawn_blocking(move || s_client(addr, &["-tls1_2", "-noservername"], request))
            .await
            .unwrap();
    assert!(output.contains("HTTP/1.1 200 OK"), "{output}");
    let fields = from_head(&output);
    // s_client does not say its own port; the client is on loopback, not the proxy's address.
    let client = &fields[0];
    assert!(client.starts_with("127.0.0.1:") && *client != addr.to_string(), "{output}");
    assert_eq!(fields, expect(client, addr, ["https", "-", "-", "TLSv1.2", "HTTP/1.1"]));
}
