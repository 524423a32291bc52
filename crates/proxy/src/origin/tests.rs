//! The origin pool and its connections against in-process origins on loopback: each origin is
//! a script of what it reads and writes.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Body;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::body::RequestBody;
use super::conn::{ExchangeError, Stream};
use super::response::OriginBodyError;
use super::*;
use crate::conn::ClientBody;

/// A pool of worker 0 with `settings`, its stats, and a resolver.
fn pool(settings: &crate::config::OriginPool) -> (OriginPool, Arc<Stats>, Resolver) {
    let stats = Arc::new(Stats::new(1, 0));
    let pool = OriginPool::new(Duration::from_secs(5), settings, stats.clone(), 0);
    (pool, stats, Resolver::new(&crate::config::Dns::default()))
}

/// Connections opened, closed, and pooled.
fn counts(stats: &Stats) -> (u64, u64, u64) {
    let w = &stats.workers[0];
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    (load(&w.origin_opened), load(&w.origin_closed), load(&w.origin_pooled))
}

/// A listener on loopback and the destination for it.
async fn origin() -> (TcpListener, Destination) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let to = Destination::new(addr.to_string(), "127.0.0.1", addr.port(), None, None);
    (listener, to)
}

/// Reads one request head from `s` (what follows stays in `buf`); the head as text.
async fn read_head(s: &mut TcpStream, buf: &mut BytesMut) -> String {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = buf.split_to(end + 4);
            return String::from_utf8(head.to_vec()).unwrap();
        }
        assert!(s.read_buf(buf).await.unwrap() > 0, "connection closed before a head");
    }
}

/// The next connection to `listener`, its first request head read: the stream, what was read
/// past the head, and the head as text.
async fn first_request(listener: &TcpListener) -> (TcpStream, BytesMut, String) {
    let (mut s, _) = listener.accept().await.unwrap();
    let mut buf = BytesMut::new();
    let head = read_head(&mut s, &mut buf).await;
    (s, buf, head)
}

/// Reads from `s` until `buf` ends with `end`.
async fn read_until(s: &mut TcpStream, buf: &mut BytesMut, end: &[u8]) {
    while !buf.ends_with(end) {
        assert!(s.read_buf(buf).await.unwrap() > 0, "connection closed early");
    }
}

/// A GET to `to` without body.
fn get(to: &Destination) -> Request<RequestBody> {
    let mut request = Request::new(RequestBody::empty());
    *request.uri_mut() = "/".parse().unwrap();
    request.headers_mut().insert(http::header::HOST, to.key.parse().unwrap());
    request
}

/// The body's data and trailers.
async fn collect(response: Response<OriginBody>) -> (Bytes, Option<HeaderMap>) {
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    (collected.to_bytes(), trailers)
}

/// A client's request body as hyper's server reads it (as the proxy's HTTP/2 streams have
/// theirs): `body`, sent through hyper's client to hyper's server over an in-memory pipe.
async fn client_body<B>(body: B) -> ClientBody
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (client, server) = tokio::io::duplex(64 * 1024);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(ClientBody::Http2(request.into_body()));
        }
        // Never answered: the body stays readable as long as the test needs it.
        std::future::pending::<Result<Response<http_body_util::Empty<Bytes>>, Infallible>>()
    });
    let io = hyper_util::rt::TokioIo::new(server);
    tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(io, service));
    let io = hyper_util::rt::TokioIo::new(client);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    // hyper sends trailers only when they are announced.
    let request = Request::post("/").header("te", "trailers").header("trailer", "x-up");
    let request = request.body(body).unwrap();
    tokio::spawn(async move { sender.send_request(request).await });
    rx.await.unwrap()
}

/// A POST of `body` to `to`.
async fn post<B>(to: &Destination, body: B) -> Request<RequestBody>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let body = client_body(body).await;
    let (body, _) = RequestBody::watch(body, Vec::new(), Duration::from_secs(1), None);
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = "/up".parse().unwrap();
    request.headers_mut().insert(http::header::HOST, to.key.parse().unwrap());
    request
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_with_names_in_their_case() {
    let (listener, to) = origin().await;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = BytesMut::new();
        let mut heads = Vec::new();
        for body in ["one", "two"] {
            heads.push(read_head(&mut s, &mut buf).await);
            let response =
                format!("HTTP/1.1 200 Fine\r\nX-Mixed-Case: 1\r\nContent-Length: 3\r\n\r\n{body}");
            s.write_all(response.as_bytes()).await.unwrap();
        }
        heads
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let mut buf = BytesMut::from(&b"GET / HTTP/1.1\r\nX-Client-Case: a\r\nHOST: x\r\n\r\n"[..]);
    let head = hookyard_h1::parse_request(&mut buf, &hookyard_h1::Limits::default()).unwrap();
    let (parts, case) = head.unwrap().into_parts_and_case();
    let mut request = Request::from_parts(parts, RequestBody::empty());
    request.headers_mut().insert(http::header::HOST, to.key.parse().unwrap());
    let received = crate::txn::fields::ClientFields::Case(case);
    let response = in_map(pool.send(&to, &mut request, Some(&received), &dns).await.unwrap());
    let Some(Received::Case(case)) = response.body().received() else { panic!("not in the map") };
    let names: Vec<_> = case.names().map(|(n, _)| n.to_vec()).collect();
    assert_eq!(names, [b"X-Mixed-Case".to_vec(), b"Content-Length".to_vec()]);
    let reason = response.extensions().get::<hookyard_h1::ReasonPhrase>().unwrap();
    assert_eq!(reason.as_bytes(), b"Fine");
    assert_eq!(response.body().size_hint().exact(), Some(3));
    assert_eq!(collect(response).await.0, "one");
    assert_eq!(counts(&stats), (1, 0, 1));
    let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    assert_eq!(collect(response).await.0, "two");
    let heads = server.await.unwrap();
    assert!(heads[0].starts_with("GET / HTTP/1.1\r\nX-Client-Case: a\r\nHOST: "), "{}", heads[0]);
    assert!(heads[1].starts_with("GET / HTTP/1.1\r\nhost: "), "{}", heads[1]);
    assert_eq!(counts(&stats), (1, 0, 1));
    drop(pool);
    assert_eq!(counts(&stats), (1, 1, 1));
}

#[tokio::test]
async fn chunked_bodies_and_trailers_go_both_ways() {
    let (listener, to) = origin().await;
    let server = tokio::spawn(async move {
        let (mut s, mut buf, head) = first_request(&listener).await;
        read_until(&mut s, &mut buf, b"\r\n\r\n").await;
        let response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n";
        s.write_all(response.as_bytes()).await.unwrap();
        (head, buf)
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
    let mut request = post(&to, body).await;
    let sending = tokio::spawn(async move {
        tx.send_data(Bytes::from_static(b"hello")).await.unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("x-up", "1".parse().unwrap());
        tx.send_trailers(trailers).await.unwrap();
    });
    let response = pool.send(&to, &mut request, None, &dns).await.unwrap();
    sending.await.unwrap();
    assert_eq!(response.body().size_hint().exact(), None);
    let (data, trailers) = collect(response).await;
    assert_eq!(data, "abcde");
    assert_eq!(trailers.unwrap()["x-sum"], "5");
    let (head, body) = server.await.unwrap();
    assert!(head.contains("transfer-encoding: chunked\r\n"), "{head}");
    assert_eq!(&body[..], b"5\r\nhello\r\n0\r\nx-up: 1\r\n\r\n");
    assert_eq!(counts(&stats), (1, 0, 1));
}

#[tokio::test]
async fn an_early_answer_stops_the_upload_and_closes() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        let (mut s, mut buf, _) = first_request(&listener).await;
        let refusal = "HTTP/1.1 100 Continue\r\n\r\n\
                       HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig!";
        s.write_all(refusal.as_bytes()).await.unwrap();
        // Reads on, so that nothing the proxy sends fails.
        while s.read_buf(&mut buf).await.unwrap_or(0) > 0 {}
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
    let mut request = post(&to, body).await;
    tx.send_data(Bytes::from_static(b"part of a body that never ends")).await.unwrap();
    let response =
        tokio::time::timeout(Duration::from_secs(10), pool.send(&to, &mut request, None, &dns))
            .await
            .expect("the answer came before the body's end")
            .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(collect(response).await.0, "big!");
    assert_eq!(counts(&stats), (1, 1, 0));
    drop(tx);
}

#[tokio::test]
async fn a_closed_idle_connection_is_not_used_and_the_request_goes_on_a_new_one() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        for n in 0..2 {
            let (mut s, _, _) = first_request(&listener).await;
            let response = format!("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{n}");
            s.write_all(response.as_bytes()).await.unwrap();
            // Keep-alive announced, closed all the same.
        }
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    assert_eq!(collect(response).await.0, "0");
    assert_eq!(counts(&stats), (1, 0, 1));
    // Whether the close is seen at checkout or when the request is written, the request goes
    // on a new connection.
    let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    assert_eq!(collect(response).await.0, "1");
    assert_eq!(counts(&stats).0, 2);
    assert_eq!(counts(&stats).1, 1);
}

#[tokio::test]
async fn an_idle_connection_closed_or_talking_is_unusable() {
    for junk in [&b""[..], b"HTTP/1.1 200 OK\r\n"] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (mut server, _) = server.unwrap();
        let stats = Arc::new(Stats::new(1, 0));
        let open = OpenOrigin::count(stats.clone(), 0, None);
        let mut conn = OriginConn::new(Stream::Tcp(client.unwrap()), open);
        assert!(conn.usable());
        server.write_all(junk).await.unwrap();
        if junk.is_empty() {
            drop(server);
        }
        let Stream::Tcp(s) = &conn.stream else { unreachable!() };
        s.readable().await.unwrap();
        assert!(!conn.usable());
    }
}

#[tokio::test]
async fn an_unsolicited_101_fails_and_informational_heads_are_skipped() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        let (mut s, mut buf, _) = first_request(&listener).await;
        let response = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
                        HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        s.write_all(response.as_bytes()).await.unwrap();
        read_head(&mut s, &mut buf).await;
        let response =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n";
        s.write_all(response.as_bytes()).await.unwrap();
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let response = in_map(pool.send(&to, &mut get(&to), None, &dns).await.unwrap());
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("link"));
    assert_eq!(collect(response).await.0, "ok");
    let failed = pool.send(&to, &mut get(&to), None, &dns).await.unwrap_err();
    assert!(matches!(failed.error, OriginError::SwitchingProtocols), "{:?}", failed.error);
    assert_eq!(counts(&stats), (1, 1, 0));
}

#[tokio::test]
async fn a_response_with_length_and_coding_loses_its_length_and_connection() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        let (mut s, mut buf, _) = first_request(&listener).await;
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n\
                        4\r\nbody\r\n0\r\n\r\n";
        s.write_all(response.as_bytes()).await.unwrap();
        while s.read_buf(&mut buf).await.unwrap_or(0) > 0 {}
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    let Some(Received::Lines(lines)) = response.body().received() else {
        panic!("not as received")
    };
    assert_eq!(lines.len(), 2);
    let response = in_map(response);
    assert!(!response.headers().contains_key(http::header::CONTENT_LENGTH));
    assert_eq!(collect(response).await.0, "body");
    assert_eq!(counts(&stats), (1, 1, 0));
}

#[tokio::test]
async fn a_body_delimited_by_the_close_ends_with_its_connection() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        let (mut s, _, _) = first_request(&listener).await;
        s.write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil ").await.unwrap();
        s.write_all(b"the close").await.unwrap();
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    assert_eq!(response.body().size_hint().exact(), None);
    assert_eq!(collect(response).await.0, "until the close");
    assert_eq!(counts(&stats), (1, 1, 0));
}

#[tokio::test]
async fn a_body_cut_short_is_an_error_and_closes() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        let (mut s, _, _) = first_request(&listener).await;
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").await.unwrap();
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    let error = response.into_body().collect().await.unwrap_err();
    assert!(matches!(error, OriginBodyError::Codec(_)), "{error:?}");
    assert_eq!(counts(&stats), (1, 1, 0));
}

#[tokio::test]
async fn a_connection_closes_after_max_requests() {
    let (listener, to) = origin().await;
    let server = tokio::spawn(async move {
        let mut served = Vec::new();
        for _ in 0..2 {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = BytesMut::new();
            let mut n = 0;
            while !buf.is_empty() || s.read_buf(&mut buf).await.unwrap() > 0 {
                read_head(&mut s, &mut buf).await;
                s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
                n += 1;
            }
            served.push(n);
        }
        served
    });
    let settings = crate::config::OriginPool { max_requests: 2, ..Default::default() };
    let (pool, stats, dns) = pool(&settings);
    for _ in 0..3 {
        let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
        assert!(response.body().is_end_stream());
    }
    drop(pool);
    assert_eq!(server.await.unwrap(), [2, 1]);
    assert_eq!(counts(&stats).0, 2);
}

#[tokio::test]
async fn after_an_early_2xx_the_body_goes_on_as_the_response_is_read() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        let (mut s, mut buf, _) = first_request(&listener).await;
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").await.unwrap();
        read_until(&mut s, &mut buf, b"0\r\n\r\n").await;
        let echo = format!("{:X}\r\n", buf.len());
        s.write_all(echo.as_bytes()).await.unwrap();
        s.write_all(&buf).await.unwrap();
        s.write_all(b"\r\n0\r\n\r\n").await.unwrap();
        while s.read_buf(&mut buf).await.unwrap_or(0) > 0 {}
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
    let mut request = post(&to, body).await;
    tx.send_data(Bytes::from_static(b"first")).await.unwrap();
    let response = pool.send(&to, &mut request, None, &dns).await.unwrap();
    tx.send_data(Bytes::from_static(b"second")).await.unwrap();
    drop(tx);
    let (data, _) = collect(response).await;
    assert_eq!(data, "5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n");
    // Answered early: not used again.
    assert_eq!(counts(&stats), (1, 1, 0));
}

#[tokio::test]
async fn a_bodiless_request_a_reused_connection_dropped_goes_again_on_a_new_one() {
    let (listener, to) = origin().await;
    let server = tokio::spawn(async move {
        let (mut s, mut buf, _) = first_request(&listener).await;
        s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
        // The next request is read, and the connection closed unanswered.
        let dropped = read_head(&mut s, &mut buf).await;
        drop(s);
        let (mut s, _) = listener.accept().await.unwrap();
        let again = read_head(&mut s, &mut buf).await;
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain").await.unwrap();
        (dropped, again, s)
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    assert_eq!(collect(response).await.0, "again");
    let (dropped, again, _s) = server.await.unwrap();
    assert_eq!(dropped, again);
    assert_eq!(counts(&stats), (2, 1, 1));
}

#[tokio::test]
async fn a_request_with_a_body_is_not_sent_again_and_lengths_go_raw() {
    let (listener, to) = origin().await;
    let server = tokio::spawn(async move {
        let (mut s, mut buf, _) = first_request(&listener).await;
        s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
        let head = read_head(&mut s, &mut buf).await;
        read_until(&mut s, &mut buf, b"hello").await;
        (head, buf)
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    let body = http_body_util::Full::new(Bytes::from_static(b"hello"));
    let mut request = post(&to, body).await;
    let failed = pool.send(&to, &mut request, None, &dns).await.unwrap_err();
    assert!(
        matches!(failed.error, OriginError::Exchange(ExchangeError::Closed)),
        "{:?}",
        failed.error
    );
    assert!(!failed.unsent);
    let (head, body) = server.await.unwrap();
    assert!(head.contains("content-length: 5\r\n"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(&body[..], b"hello");
    assert_eq!(counts(&stats), (1, 1, 0));
}

#[tokio::test]
async fn connection_close_either_way_ends_the_connection() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        for answer in [
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb",
        ] {
            let (mut s, mut buf, _) = first_request(&listener).await;
            s.write_all(answer.as_bytes()).await.unwrap();
            while s.read_buf(&mut buf).await.unwrap_or(0) > 0 {}
        }
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let response = pool.send(&to, &mut get(&to), None, &dns).await.unwrap();
    assert_eq!(collect(response).await.0, "a");
    assert_eq!(counts(&stats), (1, 1, 0));
    let mut request = get(&to);
    request.headers_mut().insert(http::header::CONNECTION, "close".parse().unwrap());
    let response = pool.send(&to, &mut request, None, &dns).await.unwrap();
    assert_eq!(collect(response).await.0, "b");
    assert_eq!(counts(&stats), (2, 2, 0));
}

#[tokio::test]
async fn response_heads_as_large_as_hyper_allowed_are_read() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        let (mut s, mut buf, _) = first_request(&listener).await;
        let mut head = String::from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
        for n in 0..90 {
            head.push_str(&format!("X-Big-{n}: {}\r\n", "v".repeat(3000)));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        while s.read_buf(&mut buf).await.unwrap_or(0) > 0 {}
    });
    let (pool, _stats, dns) = pool(&crate::config::OriginPool::default());
    let response = in_map(pool.send(&to, &mut get(&to), None, &dns).await.unwrap());
    assert_eq!(response.headers().len(), 91);
}

#[tokio::test]
async fn reads_that_fill_the_buffer_grow_and_an_idle_connection_lets_go() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (mut server, _) = server.unwrap();
    let stats = Arc::new(Stats::new(1, 0));
    let mut conn = OriginConn::new(Stream::Tcp(client.unwrap()), OpenOrigin::count(stats, 0, None));
    // Well within loopback's buffers: all of it is there to read at once.
    server.write_all(&[b'x'; 48 * 1024]).await.unwrap();
    let mut sizes = Vec::new();
    while conn.read.len() < 48 * 1024 {
        let n = std::future::poll_fn(|cx| conn.poll_read(cx)).await.unwrap();
        sizes.push(n);
    }
    assert_eq!(sizes[0], 16 * 1024, "{sizes:?}");
    assert!(sizes[1] > 16 * 1024, "{sizes:?}");
    conn.read.clear();
    conn.idle();
    assert!(conn.read.capacity() <= 16 * 1024);
}

#[test]
fn exchange_errors_name_their_cause() {
    let reset = io::Error::from(io::ErrorKind::ConnectionReset);
    let error = OriginError::Exchange(ExchangeError::Io(reset));
    assert!(error.to_string().contains("connection reset"), "{error}");
    let cut = hookyard_h1::Error::from(hookyard_h1::ErrorKind::IncompleteBody);
    let error = OriginBodyError::Codec(cut);
    assert!(error.to_string().ends_with("connection closed inside a body"), "{error}");
}

#[tokio::test]
async fn a_body_dropped_before_its_end_closes_its_connection() {
    let (listener, to) = origin().await;
    tokio::spawn(async move {
        let (mut s, mut buf, _) = first_request(&listener).await;
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf.").await.unwrap();
        while s.read_buf(&mut buf).await.unwrap_or(0) > 0 {}
    });
    let (pool, stats, dns) = pool(&crate::config::OriginPool::default());
    let mut body = pool.send(&to, &mut get(&to), None, &dns).await.unwrap().into_body();
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "half.");
    assert_eq!(body.size_hint().exact(), Some(5));
    assert_eq!(counts(&stats), (1, 0, 0));
    drop(body);
    assert_eq!(counts(&stats), (1, 1, 0));
}

/// `response` with its fields in its map, as the transaction puts them there.
fn in_map(response: Response<OriginBody>) -> Response<OriginBody> {
    let (mut parts, mut body) = response.into_parts();
    body.fields_into(&mut parts.headers, |_| {}).unwrap();
    Response::from_parts(parts, body)
}
