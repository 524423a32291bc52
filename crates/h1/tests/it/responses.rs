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
async fn hyper_reads(method: &str, response: &[u8]) -> Result<Got, String> {
    let response = response.to_vec();
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
        server.write_all(&response).await.unwrap();
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
fn codec_reads(method: &str, response: &[u8]) -> Result<Got, String> {
    codec_reads_kind(method, response).map_err(|e| e.to_string())
}

fn codec_reads_kind(method: &str, response: &[u8]) -> Result<Got, hookyard_h1::Error> {
    let limits = Limits::default();
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut buf = BytesMut::from(response);
    let head = loop {
        // A head cut short by the close is as incomplete as a body would be.
        let head = parse_response(&mut buf, &limits, &method)?
            .ok_or(hookyard_h1::ErrorKind::IncompleteBody)?;
        if !head.status.is_informational() {
            break head;
        }
    };
    let mut decoder = Decoder::new(head.body(), &limits);
    let mut body = Vec::new();
    let mut trailers = None;
    loop {
        match decoder.decode(&mut buf)? {
            Decoded::Data(data) => body.extend_from_slice(&data),
            Decoded::Trailers(map) => trailers = Some(map),
            Decoded::End => break,
            Decoded::NeedMore => {
                decoder.finish()?;
                break;
            }
        }
    }
    Ok(Got {
        status: head.status,
        version: head.version,
        fields: pairs(&head.lines().to_map()?.0),
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
        let ours = codec_reads(method, text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let theirs = rt
            .block_on(hyper_reads(method, text.as_bytes()))
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(ours, theirs, "{method} {text:?}");
    }
}

#[test]
fn what_hyper_s_client_refuses_is_refused() {
    let rt = runtime();
    for (method, text) in REFUSED {
        let theirs = rt.block_on(hyper_reads(method, text.as_bytes()));
        assert!(theirs.is_err(), "hyper accepted {text:?}: {theirs:?}");
        assert!(codec_reads(method, text.as_bytes()).is_err(), "the codec accepted {text:?}");
    }
}

mod mangled {
    //! Responses mangled at random, read by hyper's client and by the codec: a response the
    //! codec reads, hyper reads the same; one hyper reads and the codec refuses is refused for a
    //! reason the codec is stricter by design.

    use hookyard_h1::ErrorKind;
    use proptest::prelude::*;

    use super::{codec_reads_kind, hyper_reads, runtime};

    fn response() -> impl Strategy<Value = (&'static str, Vec<u8>, bool)> {
        let valid = proptest::sample::select(
            super::CORPUS
                .iter()
                .filter(|(_, text)| !text.starts_with("HTTP/1.1 1"))
                .collect::<Vec<_>>(),
        );
        let byte = prop_oneof![
            any::<u8>(),
            proptest::sample::select(&b"\r\n \t:;,0123456789aAfF-\"\x00\x7f\xff"[..]),
        ];
        let edits = proptest::collection::vec((0..3u8, any::<usize>(), byte), 0..4);
        (valid, edits).prop_map(|(&(method, text), edits)| {
            let mut bytes = text.as_bytes().to_vec();
            for &(kind, at, byte) in &edits {
                let at = at % bytes.len().max(1);
                match kind {
                    0 if !bytes.is_empty() => bytes[at] = byte,
                    1 => bytes.insert(at.min(bytes.len()), byte),
                    _ if !bytes.is_empty() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            (method, bytes, !edits.is_empty())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(800))]

        #[test]
        fn the_codec_reads_no_response_hyper_would_read_otherwise(
            (method, bytes, mangled) in response(),
        ) {
            let theirs = runtime().block_on(hyper_reads(method, &bytes));
            let ours = codec_reads_kind(method, &bytes);
            if !mangled {
                prop_assert!(ours.is_ok());
            }
            match (ours, theirs) {
                (Ok(ours), Ok(theirs)) => prop_assert_eq!(ours, theirs),
                (Ok(ours), Err(err)) => {
                    prop_assert!(false, "hyper refused ({}) what the codec read: {:?}", err, ours);
                }
                (Err(err), Ok(_)) => {
                    use ErrorKind::*;
                    let by_design = [ChunkSize, Trailer, TransferEncodingNotChunked];
                    prop_assert!(
                        by_design.contains(&err.kind()),
                        "the codec refused ({:?}) what hyper read: {:?}",
                        err.kind(),
                        String::from_utf8_lossy(&bytes)
                    );
                }
                (Err(_), Err(_)) => {}
            }
        }
    }
}

/// Kept fields are written as `write_field` writes each, whatever form their lines came in
/// (lines already in that form are copied, in runs): every head of three lines from the forms
/// below, with every choice of lines kept, whole or in two ranges.
#[test]
fn kept_lines_are_written_as_each_field_would_be() {
    let forms: &[&[u8]] = &[
        b"Server: nginx\r\n",
        b"x-a:tight\r\n",
        b"X-B:  two spaces\r\n",
        b"X-C: trailing \t\r\n",
        b"X-Empty: \r\n",
        b"X-Bare:\r\n",
        b"X-Lf: bare lf\n",
        b"Content-Length: 0\r\n",
    ];
    let mut heads = 0;
    for a in forms {
        for b in forms {
            for c in forms {
                let mut buf = BytesMut::from(&b"HTTP/1.1 204 No Content\r\n"[..]);
                for line in [a, b, c] {
                    buf.extend_from_slice(line);
                }
                buf.extend_from_slice(b"\r\n");
                let head = parse_response(&mut buf, &Limits::default(), &Method::GET)
                    .expect("a valid head")
                    .expect("a whole head");
                let lines = head.lines();
                for mask in 0..8u8 {
                    let keep = |i: usize| mask & (1 << i) != 0;
                    let mut expected = BytesMut::new();
                    for (i, (name, value)) in lines.iter().enumerate() {
                        if keep(i) {
                            hookyard_h1::write_field(name, value, &mut expected);
                        }
                    }
                    let mut written = BytesMut::new();
                    lines.write_kept(keep, &mut written);
                    assert_eq!(written, expected, "{head:?} kept {mask:03b}");
                    // In two pieces at every place, the same.
                    for cut in 0..=3 {
                        let mut pieces = BytesMut::new();
                        lines.write_kept_in(0..cut, keep, &mut pieces);
                        lines.write_kept_in(cut..5, keep, &mut pieces);
                        assert_eq!(pieces, expected, "{head:?} kept {mask:03b} cut at {cut}");
                    }
                }
                for (i, (_, value)) in lines.iter().enumerate() {
                    let shared = lines.shared_value(i).unwrap();
                    assert_eq!(&shared[..], value);
                    assert_eq!(shared.as_ptr(), value.as_ptr(), "a slice of the head, not a copy");
                }
                assert_eq!(lines.shared_value(3), None);
                heads += 1;
            }
        }
    }
    assert_eq!(heads, forms.len().pow(3));
}
