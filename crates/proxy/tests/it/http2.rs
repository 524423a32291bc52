//! HTTP/2 to clients on a plain listener (h2c with prior knowledge): curl and hyper's HTTP/2
//! client through rules, global hooks (the C `hook_probe`) and a remap plugin chain; many
//! concurrent streams of one session; a stream pending in a hook while others finish; a stream
//! reset while its hook is pending; the `http2` limits of `hookyard.yaml`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::hooks::{all, setup};
use crate::support::{Answer, Origin, get, proxy, wait_for, within, write};

/// An HTTP/2 connection with prior knowledge.
async fn connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    connect_watched(addr).await.0
}

/// As [`connect`], with the task driving the connection (it ends when the connection does).
pub async fn connect_watched(
    addr: SocketAddr,
) -> (SendRequest<Empty<Bytes>>, tokio::task::JoinHandle<Result<(), hyper::Error>>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    (send, tokio::spawn(conn))
}

/// A GET of `http://site.test{path}` (so `:authority` names the host; no `Host` field) with
/// the extra `fields`.
pub fn request(path: &str, fields: &[(&str, &str)]) -> Request<Empty<Bytes>> {
    let mut builder = Request::builder().uri(format!("http://site.test{path}"));
    for (name, value) in fields {
        builder = builder.header(*name, *value);
    }
    builder.body(Empty::new()).unwrap()
}

/// Sends `request` on `send` and reads the whole response.
async fn send(mut send: SendRequest<Empty<Bytes>>, request: Request<Empty<Bytes>>) -> Answer {
    send.ready().await.unwrap();
    let response = send.send_request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// Runs curl with `args`: its standard output (`-w` text last), its standard error, and
/// whether it succeeded.
async fn curl(args: Vec<String>) -> (String, String, bool) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new("curl").args(["-sS", "--max-time", "20"]).args(&args).output().unwrap()
    })
    .await
    .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (text(&output.stdout), text(&output.stderr), output.status.success())
}

/// `curl --http2-prior-knowledge` of `http://site.test{path}` through the proxy at `addr`,
/// printing headers and body.
fn prior_knowledge(addr: SocketAddr, path: &str) -> Vec<String> {
    [
        "--http2-prior-knowledge".to_owned(),
        "--connect-to".to_owned(),
        format!("site.test:80:{}:{}", addr.ip(), addr.port()),
        "-D".to_owned(),
        "-".to_owned(),
        format!("http://site.test{path}"),
    ]
    .into()
}

/// A probe built with `hold=DIR/holds` (and `params`) as plugin `alpha`, and a remap rule with a chain of two
/// `add_header` instances.
fn held_setup(origin: &Origin, params: &str) -> tempfile::TempDir {
    let yaml = format!("plugins:\n  - path: alpha.so\n    params: [hold=HOLDS{params}]\n");
    let dir = setup(origin, &yaml, &[("alpha", "alpha.so")]);
    let holds = dir.path().join("holds");
    std::fs::create_dir(&holds).unwrap();
    write(dir.path(), "plugin.yaml", &yaml.replace("HOLDS", &holds.display().to_string()));
    crate::plugins::add_header(dir.path());
    let remap = format!(
        "map http://site.test/ http://{}/ @plugin=add_header.so @pparam=X-Chain-A:1 \
         @plugin=add_header.so @pparam=X-Chain-B:2\n",
        origin.addr
    );
    write(dir.path(), "remap.config", &remap);
    dir
}

fn exists(dir: &Path, name: &str) -> bool {
    dir.join("holds").join(name).exists()
}

/// The sum of one counter series of the metrics text (0 when absent).
fn metric(text: &str, series: &str) -> u64 {
    text.lines().filter_map(|line| line.strip_prefix(series)?.trim().parse::<u64>().ok()).sum()
}

#[tokio::test]
async fn curl_with_prior_knowledge_goes_through_a_rule_and_a_plugin() {
    let origin = Origin::start("o").await;
    let dir = setup(&origin, "plugins:\n  - path: alpha.so\n", &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let (out, err, ok) = curl(prior_knowledge(addr, "/headers")).await;
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("HTTP/2 200"), "{out}");
    let lower = out.to_ascii_lowercase();
    // The plugin's READ_REQUEST_HDR field reached the origin, with the rule's Host.
    assert!(lower.contains("x-probe: alpha"), "{out}");
    assert!(lower.contains(&format!("host: {}", origin.addr)), "{out}");
    // Its SEND_RESPONSE_HDR callbacks (global and transaction) ran.
    assert!(lower.contains("x-probe-order: alpha"), "{out}");
    assert!(lower.contains("x-probe-txn: alpha"), "{out}");
    assert!(lower.contains("x-probe-sessions: 1/0"), "{out}");
    // HTTP/1 on the same listener still works.
    let answer = get(addr, "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(all(&answer, "x-probe-order"), ["alpha"]);
    let text = proxy.metrics_text();
    assert_eq!(metric(&text, "hookyard_http2_connections_total"), 1, "{text}");
}

#[tokio::test]
async fn remap_matches_the_authority_pseudo_header_without_a_host_field() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir = crate::support::config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    let answer = within("a response", send(client.clone(), request("/a?b=1", &[]))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, format!("o GET /a?b=1 host={}", origin.addr));
    // Cookie crumbs reach the HTTP/1 origin as one field (RFC 9113 §8.2.3).
    let mut crumbs = request("/headers", &[]);
    for crumb in ["a=1", "b=2"] {
        crumbs.headers_mut().append("cookie", crumb.parse().unwrap());
    }
    let echoed = within("a response", send(client.clone(), crumbs)).await;
    assert!(echoed.body.lines().any(|l| l == "cookie: a=1; b=2"), "{}", echoed.body);
    // No HTTP/1 connection fields reach an HTTP/2 client (hyper would refuse to send them).
    for name in ["connection", "keep-alive", "transfer-encoding"] {
        assert!(answer.headers.get(name).is_none(), "{name}: {:?}", answer.headers);
    }
    let other = within("a response", async {
        let request =
            Request::builder().uri("http://elsewhere.test/").body(Empty::<Bytes>::new()).unwrap();
        send(client, request).await
    })
    .await;
    assert_eq!(other.status, 404);
}

#[tokio::test]
async fn a_hundred_concurrent_streams_share_one_session_through_a_plugin_chain() {
    let origin = Origin::start("o").await;
    let dir = held_setup(&origin, "");
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    let mut streams = Vec::new();
    for i in 0..100 {
        let path = format!("/slow/{i}");
        streams.push(tokio::spawn(send(client.clone(), request(&path, &[]))));
    }
    // Every stream is at the origin at once before any is answered.
    wait_for("100 streams at the origin", || {
        origin.slow_waiting.load(std::sync::atomic::Ordering::SeqCst) == 100
    })
    .await;
    origin.release();
    for (i, stream) in streams.into_iter().enumerate() {
        let answer = within("a stream's response", stream).await.unwrap();
        assert_eq!(answer.status, 200, "stream {i}: {}", answer.body);
        assert_eq!(answer.body, format!("o GET /slow/{i} host={}", origin.addr));
        assert_eq!(all(&answer, "x-probe-order"), ["alpha"], "stream {i}");
        assert_eq!(all(&answer, "x-probe-txn"), ["alpha"], "stream {i}");
        // SSN_START ran once for the hundred, and no SSN_CLOSE yet.
        assert_eq!(all(&answer, "x-probe-sessions"), ["1/0"], "stream {i}");
    }
    // The chain ran on every stream (the origin would echo its fields on /headers).
    let answer = within("a response", send(client.clone(), request("/headers", &[]))).await;
    assert!(answer.body.contains("x-chain-a: 1") && answer.body.contains("x-chain-b: 2"));
    assert!(answer.body.contains("x-probe: alpha"), "{}", answer.body);
    drop(client);
    let series = |hook: &str| {
        format!(
            "hookyard_plugin_hook_seconds_count{{plugin=\"alpha\",version=\"1.0.0\",hook=\"{hook}\"}}"
        )
    };
    wait_for("the session's SSN_CLOSE", || {
        metric(&proxy.metrics_text(), &series("SSN_CLOSE")) == 1
    })
    .await;
    let text = proxy.metrics_text();
    assert_eq!(metric(&text, &series("SSN_START")), 1, "{text}");
    assert_eq!(metric(&text, &series("TXN_CLOSE")), 101, "{text}");
}

#[tokio::test]
async fn streams_starting_together_wait_for_the_one_ssn_start() {
    let origin = Origin::start("o").await;
    let dir = held_setup(&origin, ", hold_ssn");
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    let streams: Vec<_> = (0..10)
        .map(|i| tokio::spawn(send(client.clone(), request(&format!("/{i}"), &[]))))
        .collect();
    wait_for("SSN_START to pend", || exists(dir.path(), "ssn.pending")).await;
    // Every stream reached the proxy while SSN_START pends (hyper reads them all: nothing
    // waits for the client but the proxy).
    let in_flight = || proxy.status().in_flight;
    wait_for("ten transactions in flight", || in_flight() == 10).await;
    assert!(streams.iter().all(|s| !s.is_finished()), "a stream ran before SSN_START ended");
    write(&dir.path().join("holds"), "ssn", "");
    for (i, stream) in streams.into_iter().enumerate() {
        let answer = within("a stream's response", stream).await.unwrap();
        assert_eq!(answer.status, 200, "stream {i}: {}", answer.body);
        assert_eq!(all(&answer, "x-probe-sessions"), ["1/0"], "stream {i}");
    }
}

#[tokio::test]
async fn a_stream_pending_in_a_hook_does_not_hold_up_the_others() {
    let origin = Origin::start("o").await;
    let dir = held_setup(&origin, "");
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    let held = tokio::spawn(send(client.clone(), request("/held", &[("x-probe-hold", "a")])));
    wait_for("the stream to pend", || exists(dir.path(), "a.pending")).await;
    for i in 0..20 {
        let answer =
            within("a stream's response", send(client.clone(), request(&format!("/{i}"), &[])))
                .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body, format!("o GET /{i} host={}", origin.addr));
        assert_eq!(all(&answer, "x-probe-sessions"), ["1/0"]);
    }
    assert!(!held.is_finished(), "the held stream answered before its plugin resumed it");
    write(&dir.path().join("holds"), "a", "");
    let answer = within("the held stream's response", held).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, format!("o GET /held host={}", origin.addr));
    assert_eq!(all(&answer, "x-probe-order"), ["alpha"]);
}

#[tokio::test]
async fn a_stream_reset_while_its_hook_is_pending_ends_with_txn_close() {
    let origin = Origin::start("o").await;
    let dir = held_setup(&origin, "");
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    let held = tokio::spawn(send(client.clone(), request("/slow/held", &[("x-probe-hold", "r")])));
    wait_for("the stream to pend", || exists(dir.path(), "r.pending")).await;
    // Dropping the response future resets the stream (RST_STREAM, CANCEL).
    held.abort();
    assert!(held.await.is_err_and(|e| e.is_cancelled()));
    // The connection goes on: the next stream is answered (after the reset, which the proxy
    // read first).
    let answer = within("a response", send(client.clone(), request("/next", &[]))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(!exists(dir.path(), "r.closed"), "TXN_CLOSE ran while the hook was pending");
    write(&dir.path().join("holds"), "r", "");
    wait_for("the reset stream's TXN_CLOSE", || exists(dir.path(), "r.closed")).await;
    // It ended at its next phase: its request never reached the origin.
    assert_eq!(origin.slow_waiting.load(std::sync::atomic::Ordering::SeqCst), 0);
    // Counted once its handler returned (just after TXN_CLOSE).
    wait_for("the transaction counted abandoned", || {
        metric(&proxy.metrics_text(), "hookyard_transactions_abandoned_total") == 1
    })
    .await;
    for i in 0..5 {
        let answer =
            within("a response", send(client.clone(), request(&format!("/after/{i}"), &[]))).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(all(&answer, "x-probe-sessions"), ["1/0"]);
    }
}

#[tokio::test]
async fn a_stream_reset_while_at_the_origin_ends_its_transaction_at_once() {
    let origin = Origin::start("o").await;
    let dir = setup(&origin, "plugins:\n  - path: alpha.so\n", &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    let waiting = tokio::spawn(send(client.clone(), request("/slow/w", &[])));
    wait_for("the stream at the origin", || {
        origin.slow_waiting.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    waiting.abort();
    // The transaction does not wait for the origin (which never answers here): it ends, counted
    // abandoned, and its TXN_CLOSE runs.
    let closes =
        "hookyard_plugin_hook_seconds_count{plugin=\"alpha\",version=\"1.0.0\",hook=\"TXN_CLOSE\"}";
    wait_for("the reset stream's transaction to end", || {
        let text = proxy.metrics_text();
        proxy.status().in_flight == 0
            && metric(&text, "hookyard_transactions_abandoned_total") == 1
            && metric(&text, closes) == 1
    })
    .await;
    let answer = within("a response", send(client, request("/next", &[]))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_client_leaving_ends_its_streams_then_the_session() {
    let origin = Origin::start("o").await;
    let dir = setup(&origin, "plugins:\n  - path: alpha.so\n", &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let (client, connection) = connect_watched(proxy.addrs()[0]).await;
    let streams: Vec<_> = (0..3)
        .map(|i| tokio::spawn(send(client.clone(), request(&format!("/slow/{i}"), &[]))))
        .collect();
    wait_for("three streams at the origin", || {
        origin.slow_waiting.load(std::sync::atomic::Ordering::SeqCst) == 3
    })
    .await;
    // The client goes away altogether (its connection task dropped closes the socket).
    for stream in &streams {
        stream.abort();
    }
    connection.abort();
    drop(client);
    let series = |hook: &str| {
        format!(
            "hookyard_plugin_hook_seconds_count{{plugin=\"alpha\",version=\"1.0.0\",hook=\"{hook}\"}}"
        )
    };
    wait_for("every transaction ended, then SSN_CLOSE", || {
        let text = proxy.metrics_text();
        metric(&text, &series("TXN_CLOSE")) == 3 && metric(&text, &series("SSN_CLOSE")) == 1
    })
    .await;
    wait_for("the connection counted closed", || {
        let status = proxy.status();
        (status.in_flight, status.connections) == (0, 0)
    })
    .await;
    let text = proxy.metrics_text();
    assert_eq!(metric(&text, "hookyard_transactions_abandoned_total"), 3, "{text}");
}

/// Rapid reset: streams reset while their transactions still run (pending in a plugin) no longer
/// count against max_concurrent_streams, so the proxy bounds those transactions itself.
#[tokio::test]
async fn streams_reset_faster_than_their_transactions_end_are_bounded() {
    let origin = Origin::start("o").await;
    let dir = held_setup(&origin, "");
    let settings = std::fs::read_to_string(dir.path().join("hookyard.yaml")).unwrap();
    let limited = format!("{settings}http2:\n  max_concurrent_streams: 2\n");
    write(dir.path(), "hookyard.yaml", &limited);
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    // Twice max_concurrent_streams transactions, each pending in the plugin, each stream reset.
    for i in 0..4 {
        let name = format!("h{i}");
        let held = tokio::spawn(send(client.clone(), request("/", &[("x-probe-hold", &name)])));
        wait_for("the stream to pend", || exists(dir.path(), &format!("{name}.pending"))).await;
        held.abort();
    }
    let refused = within("a response", send(client.clone(), request("/", &[]))).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    // The plugin lets them go: each ends with its TXN_CLOSE, and streams are served again.
    for i in 0..4 {
        write(&dir.path().join("holds"), &format!("h{i}"), "");
    }
    wait_for("every reset stream's TXN_CLOSE", || {
        (0..4).all(|i| exists(dir.path(), &format!("h{i}.closed")))
    })
    .await;
    wait_for("no transaction in flight", || proxy.status().in_flight == 0).await;
    let answer = within("a response", send(client, request("/", &[]))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// A frame's type, flags, stream and payload.
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

async fn read_frame(stream: &mut TcpStream) -> Frame {
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.unwrap();
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    Frame { kind: head[3], flags: head[4], stream: id, payload }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut bytes = vec![len[1], len[2], len[3], kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// A GET of `path` on `site.test`, ending the stream (HPACK: static entries for the method and
/// scheme, literals without indexing for the path and authority).
fn get_headers(stream: u32, path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 9]);
    block.extend_from_slice(b"site.test");
    // END_STREAM | END_HEADERS.
    frame(0x1, 0x5, stream, &block)
}

#[tokio::test]
async fn a_stream_over_max_concurrent_streams_is_refused() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir = crate::support::config_dir(&[
        ("remap.config", &remap),
        ("hookyard.yaml", "http2:\n  max_concurrent_streams: 2\n"),
    ]);
    let proxy = proxy(Some(dir.path()));
    let mut stream = TcpStream::connect(proxy.addrs()[0]).await.unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(frame(0x4, 0, 0, &[]));
    stream.write_all(&hello).await.unwrap();
    let settings = within("the server's SETTINGS", read_frame(&mut stream)).await;
    assert_eq!((settings.kind, settings.flags), (0x4, 0));
    // SETTINGS_MAX_CONCURRENT_STREAMS (3) = 2 is announced.
    let announced: Vec<(u16, u32)> = settings
        .payload
        .chunks(6)
        .map(|c| (u16::from_be_bytes([c[0], c[1]]), u32::from_be_bytes([c[2], c[3], c[4], c[5]])))
        .collect();
    assert!(announced.contains(&(3, 2)), "{announced:?}");
    let mut next = frame(0x4, 0x1, 0, &[]);
    for (id, path) in [(1, "/slow/1"), (3, "/slow/3"), (5, "/slow/5")] {
        next.extend(get_headers(id, path));
    }
    stream.write_all(&next).await.unwrap();
    // The third stream is refused (RST_STREAM, REFUSED_STREAM), the connection stays.
    let reset = within("the refusal", async {
        loop {
            let frame = read_frame(&mut stream).await;
            assert_ne!(frame.kind, 0x7, "GOAWAY: the connection was closed");
            if frame.kind == 0x3 {
                return frame;
            }
        }
    })
    .await;
    assert_eq!(reset.stream, 5);
    assert_eq!(reset.payload, 7u32.to_be_bytes(), "REFUSED_STREAM");
    wait_for("two streams at the origin", || {
        origin.slow_waiting.load(std::sync::atomic::Ordering::SeqCst) == 2
    })
    .await;
    // Once those end, a new stream is served.
    origin.release();
    let mut ended = Vec::new();
    within("both responses", async {
        while ended.len() < 2 {
            let frame = read_frame(&mut stream).await;
            if frame.flags & 0x1 != 0 && matches!(frame.kind, 0x0 | 0x1) {
                ended.push(frame.stream);
            }
        }
    })
    .await;
    ended.sort_unstable();
    assert_eq!(ended, [1, 3]);
    stream.write_all(&get_headers(7, "/slow/7")).await.unwrap();
    let answered = within("the new stream's response", async {
        loop {
            let frame = read_frame(&mut stream).await;
            if frame.kind == 0x1 || frame.kind == 0x3 {
                return frame;
            }
        }
    })
    .await;
    assert_eq!((answered.kind, answered.stream), (0x1, 7), "a response head on stream 7");
}

#[tokio::test]
async fn header_limits_answer_431() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let yaml = "limits:\n  max_headers: 20\nhttp2:\n  max_header_list_size: 4096\n";
    let dir = crate::support::config_dir(&[("remap.config", &remap), ("hookyard.yaml", yaml)]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let write_out =
        ["-o".to_owned(), "/dev/null".to_owned(), "-w".to_owned(), "%{http_code}".to_owned()];
    // A header list over max_header_list_size: hyper's HTTP/2 server answers 431 itself.
    let mut args = prior_knowledge(addr, "/");
    args.extend(["-H".to_owned(), format!("X-Big: {}", "b".repeat(8000))]);
    args.extend(write_out.clone());
    let (out, err, _) = curl(args).await;
    assert!(out.ends_with("431"), "{out}{err}");
    // More fields than limits.max_headers: the proxy answers 431.
    let mut args = prior_knowledge(addr, "/");
    for i in 0..30 {
        args.extend(["-H".to_owned(), format!("X-F{i}: {i}")]);
    }
    args.extend(write_out.clone());
    let (out, err, ok) = curl(args).await;
    assert!(ok && out.ends_with("431"), "{out}{err}");
    // Within both: served.
    let mut args = prior_knowledge(addr, "/");
    args.extend(["-H".to_owned(), format!("X-Small: {}", "s".repeat(1000))]);
    args.extend(write_out);
    let (out, err, ok) = curl(args).await;
    assert!(ok && out.ends_with("200"), "{out}{err}");
}

#[tokio::test]
async fn h2c_can_be_turned_off() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir = crate::support::config_dir(&[
        ("remap.config", &remap),
        ("hookyard.yaml", "http2:\n  h2c: false\n"),
    ]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let (out, err, ok) = curl(prior_knowledge(addr, "/")).await;
    assert!(!ok && !out.contains("HTTP/2"), "{out}{err}");
    let answer = get(addr, "site.test", "/x").await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let yaml = "timeouts:\n  idle: 300ms\n";
    let dir = crate::support::config_dir(&[("remap.config", &remap), ("hookyard.yaml", yaml)]);
    let proxy = proxy(Some(dir.path()));
    let (client, connection) = connect_watched(proxy.addrs()[0]).await;
    let answer = within("a response", send(client.clone(), request("/", &[]))).await;
    assert_eq!(answer.status, 200);
    within("the idle connection to close", connection).await.unwrap().unwrap();
    wait_for("the connection counted closed", || proxy.status().connections == 0).await;
}

/// A stream whose origin never answers gets 504 at `timeouts.origin_response` (a stream's
/// phases keep timers of their own, where an HTTP/1 connection's driver keeps them), and the
/// session's other streams are answered meanwhile.
#[tokio::test]
async fn a_silent_origin_answers_its_stream_504_after_the_response_timeout() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let yaml = "timeouts:\n  origin_response: 300ms\n";
    let dir = crate::support::config_dir(&[("remap.config", &remap), ("hookyard.yaml", yaml)]);
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    let started = std::time::Instant::now();
    let silent = tokio::spawn(send(client.clone(), request("/never", &[])));
    let answered = within("the other stream", send(client, request("/", &[]))).await;
    assert_eq!(answered.status, StatusCode::OK);
    let silent = within("the silent stream", silent).await.unwrap();
    assert_eq!(silent.status, StatusCode::GATEWAY_TIMEOUT, "{}", silent.body);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

#[tokio::test]
async fn shutdown_finishes_the_streams_in_flight() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir = crate::support::config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let client = connect(proxy.addrs()[0]).await;
    let slow = tokio::spawn(send(client, request("/slow/s", &[])));
    wait_for("the stream at the origin", || {
        origin.slow_waiting.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    proxy.shutdown();
    origin.release();
    let answer = within("the stream in flight", slow).await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, format!("o GET /slow/s host={}", origin.addr));
    within("the server threads", tokio::task::spawn_blocking(move || proxy.wait())).await.unwrap();
}

/// h2c detection reads a connection's first bytes; a connection opened ahead of its first
/// request is still governed by `timeouts.idle` (as a kept-alive one), not `header_read`.
#[tokio::test]
async fn a_connection_silent_before_its_first_request_waits_for_idle() {
    let dir = crate::support::config_dir(&[(
        "hookyard.yaml",
        "timeouts:\n  header_read: 300ms\n  idle: 30s\n",
    )]);
    let proxy = proxy(Some(dir.path()));
    let mut stream = TcpStream::connect(proxy.addrs()[0]).await.unwrap();
    // Silent well past header_read and well within idle: not closed.
    let mut buf = [0u8; 1024];
    let quiet = tokio::time::timeout(std::time::Duration::from_secs(1), stream.read(&mut buf));
    assert!(quiet.await.is_err(), "the silent connection was closed before idle");
    stream.write_all(b"GET /_hookyard/health HTTP/1.1\r\nHost: a\r\n\r\n").await.unwrap();
    let n = within("the response", stream.read(&mut buf)).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
}

/// A proxy whose idle connections and shutdown would wait ten minutes, and a connection to it.
async fn patient_proxy() -> (tempfile::TempDir, hookyard_proxy::ServerHandle, TcpStream) {
    let dir = crate::support::config_dir(&[(
        "hookyard.yaml",
        "timeouts:\n  idle: 10m\n  shutdown: 10m\n",
    )]);
    let proxy = proxy(Some(dir.path()));
    let stream = TcpStream::connect(proxy.addrs()[0]).await.unwrap();
    (dir, proxy, stream)
}

/// Shuts `proxy` down and checks that `stream` (`what`) was closed by then.
async fn closed_at_shutdown(
    proxy: hookyard_proxy::ServerHandle,
    mut stream: TcpStream,
    what: &str,
) {
    proxy.shutdown();
    within("the server threads", tokio::task::spawn_blocking(move || proxy.wait())).await.unwrap();
    let mut buf = [0u8; 16];
    let read = within(what, stream.read(&mut buf)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

/// A connection that never sent a byte does not hold up a graceful shutdown.
#[tokio::test]
async fn a_silent_connection_does_not_delay_shutdown() {
    let (_dir, proxy, stream) = patient_proxy().await;
    wait_for("the connection accepted", || proxy.status().connections == 1).await;
    closed_at_shutdown(proxy, stream, "the silent connection to close").await;
}

/// An HTTP/1 keep-alive connection waiting for its next request closes when the server shuts
/// down, not when `idle` ends.
#[tokio::test]
async fn a_keep_alive_connection_between_requests_closes_at_shutdown() {
    let (_dir, proxy, mut stream) = patient_proxy().await;
    stream.write_all(b"GET /_hookyard/health HTTP/1.1\r\nHost: a.test\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 512];
    let n = within("the response", stream.read(&mut buf)).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    closed_at_shutdown(proxy, stream, "the kept connection to close").await;
}
