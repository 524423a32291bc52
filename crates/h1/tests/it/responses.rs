//! Responses read by the codec and by hyper's HTTP/1 client: status, version, fields, body and
//! trailers agree on a corpus of valid responses (framed by length, by chunks, by the close,
//! after 1xx heads, to `HEAD`), and what hyper's client refuses is refused.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hookyard_h1::{Decoded, Decoder, Limits, parse_response};
use http::{HeaderMap, Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::pairs;

#[derive(Debug, PartialEq)]
struct Got {
    status: StatusCode,
    version: Version,
    fields: Vec<(String, Bytes)>,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

/// Valid responses, each with the method of its request.
const CORPUS: &[(&str, &str)] = &[
    ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
    ("GET", "HTTP/1.1 404 Not Found\r\nServer: x\r\nContent-Length: 0\r\n\r\n"),
    ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"),
    ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
    ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    (
        "GET",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3;e=1\r\nabc\r\n0\r\nX-T: done\r\n\r\n",
    ),
    ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n"),
    ("GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close"),
    ("GET", "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nten-style body"),
    ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nread to the close"),
    ("GET", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"),
    ("GET", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 99\r\n\r\n"),
    ("HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"),
    ("HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("GET", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    (
        "GET",
        "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    ),
    ("GET", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"),
    ("GET", "HTTP/1.1 299 Custom Reason Here\r\nContent-Length: 0\r\n\r\n"),
    (
        "GET",
        "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nVary: Accept\r\nset-cookie: b=2\r\nSET-COOKIE: c=3\r\nContent-Length: 0\r\n\r\n",
    ),
    ("GET", "HTTP/1.1 200 OK\r\nX-Space:   padded   \r\nX-Tab:\tt\t\r\nContent-Length: 0\r\n\r\n"),
    ("GET", "HTTP/1.1 200 OK\nContent-Length: 2\n\nLF"),
    (
        "GET",
        "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 3\r\n\r\nerr",
    ),
    ("POST", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npost"),
    (
        "GET",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    ),
];

/// Responses hyper's client refuses.
const REFUSED: &[(&str, &str)] = &[
    ("GET", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"),
    ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
    ("GET", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
    ("GET", "HTTP/1.1 2000 OK\r\n\r\n"),
    ("GET", "HTTP/2.0 200 OK\r\n\r\n"),
    ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ("GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n"),
    ("GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
    ("GET", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
];

/// What hyper's client makes of `response` to a `method` request: the final response, or the
/// error it gave.
async fn hyper_reads(method: &str, response: &'static str) -> Result<Got, String> {
    let (client, mut server) = tokio::io::duplex(1 << 16);
    let origin = tokio::spawn(async move {
        // The request head, then the response and the close.
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        server.write_all(response.as_bytes()).await.unwrap();
        server.shutdown().await.unwrap();
        // Hold the read side until the client is done.
        let _ = server.read(&mut buf).await;
    });
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(client)).await.unwrap();
    let conn = tokio::spawn(conn);
    let request = Request::builder()
        .method(method)
        .uri("/")
        .header("host", "origin")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let got = async {
        let res = send.send_request(request).await.map_err(|e| e.to_string())?;
        let (parts, body) = res.into_parts();
        let collected = body.collect().await.map_err(|e| e.to_string())?;
        let trailers = collected.trailers().cloned();
        Ok(Got {
            status: parts.status,
            version: parts.version,
            fields: pairs(&parts.headers),
            body: collected.to_bytes(),
            trailers,
        })
    };
    let got = tokio::time::timeout(Duration::from_secs(10), got)
        .await
        .expect("hyper's client neither answered nor failed in 10 s");
    drop(send);
    conn.abort();
    origin.abort();
    got
}

/// What the codec makes of `response`: 1xx heads skipped, the body read to its end (or to the
/// end of the input, for a body framed by the close).
fn codec_reads(method: &str, response: &str) -> Result<Got, String> {
    let limits = Limits::default();
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut buf = BytesMut::from(response.as_bytes());
    let head = loop {
        let head = parse_response(&mut buf, &limits, &method)
            .map_err(|e| e.to_string())?
            .ok_or("a partial head")?;
        if !head.status.is_informational() {
            break head;
        }
    };
    let mut decoder = Decoder::new(head.body(), &limits);
    let mut body = Vec::new();
    let mut trailers = None;
    loop {
        match decoder.decode(&mut buf).map_err(|e| e.to_string())? {
            Decoded::Data(data) => body.extend_from_slice(&data),
            Decoded::Trailers(map) => trailers = Some(map),
            Decoded::End => break,
            Decoded::NeedMore => {
                decoder.finish().map_err(|e| e.to_string())?;
                break;
            }
        }
    }
    Ok(Got {
        status: head.status,
        version: head.version,
        fields: pairs(&head.headers),
        body: body.into(),
        trailers,
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn the_corpus_reads_the_same_as_with_hyper_s_client() {
    let rt = runtime();
    for (method, text) in CORPUS {
        let ours = codec_reads(method, text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let theirs =
            rt.block_on(hyper_reads(method, text)).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(ours, theirs, "{method} {text:?}");
    }
}

#[test]
fn what_hyper_s_client_refuses_is_refused() {
    let rt = runtime();
    for (method, text) in REFUSED {
        let theirs = rt.block_on(hyper_reads(method, text));
        assert!(theirs.is_err(), "hyper accepted {text:?}: {theirs:?}");
        assert!(codec_reads(method, text).is_err(), "the codec accepted {text:?}");
    }
}
