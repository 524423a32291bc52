//! The codec against hyper's HTTP/1 server: a corpus of valid requests read by both must give
//! the same method, target, version, fields (values and order), body and trailers; requests
//! hyper refuses, this codec refuses too.
//!
//! hyper runs for real over an in-memory duplex stream; the observations come back through a
//! channel, and the test waits on it (with a deadline), never on a sleep.

use std::convert::Infallible;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hookyard_h1::{Decoded, Decoder, Limits, parse_request};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::support::pairs;

/// What a reader made of one request; `Err` when its body could not be read.
#[derive(Debug, PartialEq)]
struct Seen {
    method: String,
    target: String,
    version: Version,
    fields: Vec<(String, Bytes)>,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

/// Valid requests, each entry with its number of (pipelined) requests.
const CORPUS: &[(&str, usize)] = &[
    ("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 1),
    (
        "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
        1,
    ),
    ("HEAD /a HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("DELETE /items/7 HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("PURGE /cache/key HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n", 1),
    ("PROPFIND /dav/ HTTP/1.1\r\nHost: a\r\nDepth: 1\r\n\r\n", 1),
    ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 1),
    ("GET http://example.com/abs?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", 1),
    ("GET http://example.com:8080 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 1),
    ("GET https://user@example.com/p HTTP/1.1\r\nHost: example.com\r\n\r\n", 1),
    ("GET /a%20b/%E2%82%AC?q=a+b&r=%2F#frag HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("GET /?a=1&a=2&b[]=3 HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("GET /~user/file.txt;params HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("GET //double//slashes HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("GET / HTTP/1.0\r\n\r\n", 1),
    ("GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\n\r\n", 1),
    (
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: a=1\r\nCookie: b=2\r\nAccept: text/html\r\nCookie: c=3\r\n\r\n",
        1,
    ),
    ("GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\nX-DUP: 3\r\n\r\n", 1),
    ("GET / HTTP/1.1\r\nHost:a\r\nX-No-Space:value\r\n\r\n", 1),
    ("GET / HTTP/1.1\r\nHost:    a   \r\nX-Tabs:\t\tv\t\r\n\r\n", 1),
    ("GET / HTTP/1.1\r\nHost: a\r\nX-Inner:  a  b\tc  \r\n\r\n", 1),
    ("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Empty-Space:   \r\n\r\n", 1),
    ("GET / HTTP/1.1\r\nHost: a\r\nX-Obs-Text: caf\u{e9}\r\n\r\n", 1),
    ("GET / HTTP/1.1\r\nHost: a\r\nX-Quoted: \"a, b\", c\r\nX-Sym: !#$%&'*+-.^_`|~\r\n\r\n", 1),
    ("GET / HTTP/1.1\r\nHost: a\r\nweird!#$%&'*+-.^_`|~name: v\r\n\r\n", 1),
    ("GET / HTTP/1.1\nHost: a\nX-Bare-LF: yes\n\n", 1),
    ("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 1),
    ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 1),
    (
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, X-Foo\r\nX-Foo: hop\r\nTE: trailers\r\n\r\n",
        1,
    ),
    (
        "POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nhello=world",
        1,
    ),
    ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1),
    ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\nabcdefg", 1),
    ("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 3\r\n\r\n\x00é", 1),
    ("PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata", 1),
    ("POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", 1),
    (
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        1,
    ),
    ("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 1),
    (
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
        1,
    ),
    (
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        1,
    ),
    (
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n2;a;b=\"q s\"\r\nde\r\n0;last\r\n\r\n",
        1,
    ),
    (
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n0\r\n\r\n",
        1,
    ),
    (
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n000003\r\nabc\r\n0\r\n\r\n",
        1,
    ),
    (
        "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n4\r\nwiki\r\n0\r\nX-Sum: 42\r\nX-Other: o\r\n\r\n",
        1,
    ),
    ("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n", 2),
    (
        "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        2,
    ),
    (
        "POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT: 1\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nyz",
        2,
    ),
    ("HEAD / HTTP/1.1\r\nHost: a\r\n\r\nDELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", 2),
];

/// Requests hyper refuses (before its service or while it reads the body).
const REFUSED: &[&str] = &[
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// What hyper's server makes of `input`: the requests its service saw (until `want` were
/// seen or the connection ended), and whether the connection ended in an error.
async fn hyper_reads(input: &[u8], want: usize) -> (Vec<Result<Seen, String>>, bool) {
    let (mut client, server) = tokio::io::duplex(1 << 16);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = service_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        async move {
            let (parts, body) = req.into_parts();
            let connect = parts.method == Method::CONNECT;
            let seen = match body.collect().await {
                Ok(collected) => {
                    let trailers = collected.trailers().cloned();
                    Ok(Seen {
                        method: parts.method.to_string(),
                        target: parts.uri.to_string(),
                        version: parts.version,
                        fields: pairs(&parts.headers),
                        body: collected.to_bytes(),
                        trailers,
                    })
                }
                Err(err) => Err(err.to_string()),
            };
            let _ = tx.send(seen);
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
            if connect {
                // A tunnel is not the point here: refuse it, as the proxy does.
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            }
            Ok::<_, Infallible>(response)
        }
    });
    let conn = tokio::spawn(
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service),
    );
    client.write_all(input).await.unwrap();
    let mut seen = Vec::new();
    let deadline = Duration::from_secs(10);
    let mut conn = conn;
    let failed = loop {
        if seen.len() == want {
            break false;
        }
        tokio::select! {
            got = rx.recv() => match got {
                Some(got) => seen.push(got),
                None => break true,
            },
            ended = &mut conn => {
                // The service may have sent before the connection ended.
                while let Ok(got) = rx.try_recv() {
                    seen.push(got);
                }
                break !matches!(ended, Ok(Ok(())));
            }
            () = tokio::time::sleep(deadline) => panic!("hyper neither answered nor failed in {deadline:?}"),
        }
    };
    drop(client);
    (seen, failed)
}

/// What hyper's server makes of `input` followed by the client's close: every request its
/// service saw (`Err` for a body it could not read), in order.
async fn hyper_reads_all(input: &[u8]) -> Vec<Result<Seen, String>> {
    let (client, server) = tokio::io::duplex(1 << 16);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let service = service_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        async move {
            let (parts, body) = req.into_parts();
            let seen = match body.collect().await {
                Ok(collected) => Ok(Seen {
                    method: parts.method.to_string(),
                    target: parts.uri.to_string(),
                    version: parts.version,
                    fields: pairs(&parts.headers),
                    trailers: collected.trailers().cloned(),
                    body: collected.to_bytes(),
                }),
                Err(err) => Err(err.to_string()),
            };
            let _ = tx.send(seen);
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
            if parts.method == Method::CONNECT {
                *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            }
            Ok::<_, Infallible>(response)
        }
    });
    // Half-close: the client's close after its last byte must not cut requests already sent.
    let conn = tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .serve_connection(TokioIo::new(server), service),
    );
    let (mut read, mut write) = tokio::io::split(client);
    // Answers are read (and dropped) so that hyper never waits on a full pipe.
    let drain = tokio::spawn(async move {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut read, &mut sink).await;
    });
    write.write_all(input).await.unwrap();
    write.shutdown().await.unwrap();
    let deadline = Duration::from_secs(10);
    tokio::time::timeout(deadline, conn)
        .await
        .unwrap_or_else(|_| panic!("hyper did not end the connection in {deadline:?}"))
        .unwrap()
        .ok();
    drain.abort();
    let mut seen = Vec::new();
    while let Ok(got) = rx.try_recv() {
        seen.push(got);
    }
    seen
}

/// What this codec makes of `input` as a server reads it: the requests before the first error
/// or the first request after which the connection closes (no keep-alive), and the error.
fn codec_stream(input: &[u8]) -> (Vec<Seen>, Option<hookyard_h1::ErrorKind>) {
    let limits = Limits::default();
    let mut buf = BytesMut::from(input);
    let mut seen = Vec::new();
    loop {
        let head = match parse_request(&mut buf, &limits) {
            Ok(Some(head)) => head,
            Ok(None) => return (seen, None),
            Err(err) => return (seen, Some(err.kind())),
        };
        let mut decoder = Decoder::new(head.body(), &limits);
        let mut body = Vec::new();
        let mut trailers = None;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Decoded::Data(data)) => body.extend_from_slice(&data),
                Ok(Decoded::Trailers(map)) => trailers = Some(map),
                Ok(Decoded::End) => break,
                Ok(Decoded::NeedMore) => return (seen, None),
                Err(err) => return (seen, Some(err.kind())),
            }
        }
        let keep_alive = head.keep_alive();
        seen.push(Seen {
            method: head.method.to_string(),
            target: head.uri.to_string(),
            version: head.version,
            fields: pairs(&head.headers),
            body: body.into(),
            trailers,
        });
        if !keep_alive {
            return (seen, None);
        }
    }
}

/// What this codec makes of `input`: every request in it, or the first error.
fn codec_reads(input: &[u8]) -> Result<Vec<Seen>, String> {
    let limits = Limits::default();
    let mut buf = BytesMut::from(input);
    let mut seen = Vec::new();
    while !buf.is_empty() {
        let head =
            parse_request(&mut buf, &limits).map_err(|e| e.to_string())?.ok_or("a partial head")?;
        let mut decoder = Decoder::new(head.body(), &limits);
        let mut body = Vec::new();
        let mut trailers = None;
        loop {
            match decoder.decode(&mut buf).map_err(|e| e.to_string())? {
                Decoded::Data(data) => body.extend_from_slice(&data),
                Decoded::Trailers(map) => trailers = Some(map),
                Decoded::End => break,
                Decoded::NeedMore => return Err("a partial body".into()),
            }
        }
        seen.push(Seen {
            method: head.method.to_string(),
            target: head.uri.to_string(),
            version: head.version,
            fields: pairs(&head.headers),
            body: body.into(),
            trailers,
        });
    }
    Ok(seen)
}

#[test]
fn the_corpus_reads_the_same_as_with_hyper() {
    assert!(CORPUS.len() >= 40);
    let rt = runtime();
    for (text, count) in CORPUS {
        let input = text.as_bytes();
        let ours = codec_reads(input).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(ours.len(), *count, "{text:?}");
        let (theirs, failed) = rt.block_on(hyper_reads(input, *count));
        assert!(!failed, "hyper failed on {text:?}");
        let theirs: Vec<Seen> =
            theirs.into_iter().map(|s| s.unwrap_or_else(|e| panic!("{text:?}: {e}"))).collect();
        assert_eq!(ours, theirs, "{text:?}");
    }
}

#[test]
fn what_hyper_refuses_is_refused() {
    let rt = runtime();
    for text in REFUSED {
        let input = text.as_bytes();
        let (theirs, failed) = rt.block_on(hyper_reads(input, 1));
        let hyper_refused = failed || theirs.iter().any(Result::is_err);
        assert!(hyper_refused, "hyper accepted {text:?}: {theirs:?}");
        assert!(codec_reads(input).is_err(), "the codec accepted {text:?}");
    }
}

mod generated {
    //! Requests generated at random (1 to 3 pipelined, with bodies of both framings,
    //! extensions, trailers and odd spacing), read by hyper and by the codec.

    use proptest::prelude::*;

    use super::{codec_reads, hyper_reads, runtime};

    fn method() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("GET".to_owned()),
            Just("POST".to_owned()),
            Just("PUT".to_owned()),
            Just("HEAD".to_owned()),
            Just("DELETE".to_owned()),
            Just("PATCH".to_owned()),
            "[A-Z][A-Z0-9!#$%&'*+.^_`|~-]{0,10}",
        ]
    }

    fn target() -> impl Strategy<Value = String> {
        prop_oneof![
            "/[!$&'()*+,;=:@a-zA-Z0-9._~%/-]{0,30}(\\?[!$&'()*+,;=:@a-zA-Z0-9._~%/?-]{0,20})?",
            "https?://[a-z0-9.-]{1,12}(:[0-9]{1,5})?(/[a-z0-9._~%/-]{0,20})?",
            Just("*".to_owned()),
        ]
    }

    fn field() -> impl Strategy<Value = (String, String, &'static str, &'static str)> {
        let name = prop_oneof![
            Just("Host".to_owned()),
            Just("Cookie".to_owned()),
            Just("cookie".to_owned()),
            Just("Accept".to_owned()),
            "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}",
        ]
        .prop_filter("framing and connection fields are the test's own", |n| {
            let n = n.to_ascii_lowercase();
            !["content-length", "transfer-encoding", "connection", "upgrade", "expect", "te"]
                .contains(&n.as_str())
        });
        let value = "([!-~\u{a0}-\u{ff}]([ \t!-~\u{a0}-\u{ff}]{0,20}[!-~\u{a0}-\u{ff}])?)?";
        let space = prop_oneof![Just(""), Just(" "), Just("\t"), Just("  \t")];
        (name, value, space.clone(), space)
    }

    /// A body: its chunks, whether chunked (else a length), the last chunk's extension, and
    /// trailer lines.
    type Body = (Vec<Vec<u8>>, bool, &'static str, Vec<String>);

    fn body() -> impl Strategy<Value = Option<Body>> {
        let chunks = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..30), 0..4);
        let ext = prop_oneof![Just(""), Just(";a"), Just(";name=value"), Just(" ;q=\"x y\"")];
        let trailers = proptest::collection::vec("X-[A-Za-z]{1,8}: [a-z0-9]{0,8}", 0..3);
        proptest::option::of((chunks, any::<bool>(), ext, trailers))
    }

    fn request() -> impl Strategy<Value = String> {
        (method(), target(), proptest::collection::vec(field(), 0..8), body()).prop_map(
            |(method, target, fields, body)| {
                let mut text = format!("{method} {target} HTTP/1.1\r\n");
                for (name, value, before, after) in fields {
                    text.push_str(&format!("{name}:{before}{value}{after}\r\n"));
                }
                let Some((chunks, chunked, ext, trailers)) = body else {
                    return text + "\r\n";
                };
                if chunked {
                    text.push_str("Transfer-Encoding: chunked\r\n\r\n");
                    for chunk in &chunks {
                        text.push_str(&format!("{:x}{ext}\r\n", chunk.len()));
                        // Latin-1 keeps each generated byte one char, so lengths hold.
                        text.extend(chunk.iter().map(|&b| char::from(b)));
                        text.push_str("\r\n");
                    }
                    text.push_str(&format!("0{ext}\r\n"));
                    for trailer in trailers {
                        text.push_str(&format!("{trailer}\r\n"));
                    }
                    text.push_str("\r\n");
                } else {
                    let len: usize = chunks.iter().map(Vec::len).sum();
                    text.push_str(&format!("Content-Length: {len}\r\n\r\n"));
                    text.extend(chunks.iter().flatten().map(|&b| char::from(b)));
                }
                text
            },
        )
    }

    /// The text as bytes, each char one byte (the generators keep to Latin-1).
    fn latin1(text: &str) -> Vec<u8> {
        text.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn generated_requests_read_the_same_as_with_hyper(
            requests in proptest::collection::vec(request(), 1..4),
        ) {
            let input = latin1(&requests.concat());
            let ours = codec_reads(&input).map_err(TestCaseError::fail)?;
            prop_assert_eq!(ours.len(), requests.len());
            let (theirs, failed) = runtime().block_on(hyper_reads(&input, requests.len()));
            prop_assert!(!failed, "hyper failed");
            let theirs: Vec<_> = theirs.into_iter().map(|s| s.unwrap()).collect();
            prop_assert_eq!(ours, theirs);
        }
    }
}

mod mangled {
    //! Pipelined requests mangled at random, read by hyper and by the codec: every request the
    //! codec reads, hyper reads the same; where hyper reads more, the codec refused, for one of
    //! the reasons it is stricter by design (it is never more lenient).

    use proptest::prelude::*;

    use super::{codec_stream, hyper_reads_all, runtime};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn the_codec_reads_nothing_hyper_would_read_otherwise(
            (stream, requests, mangled) in crate::support::mangled_stream(),
        ) {
            let theirs = runtime().block_on(hyper_reads_all(&stream));
            let theirs: Vec<_> = theirs.into_iter().map_while(Result::ok).collect();
            let (ours, refused) = codec_stream(&stream);
            if !mangled {
                prop_assert_eq!(refused, None);
                let closes = stream.windows(8).any(|w| w == b"HTTP/1.0");
                prop_assert!(closes || ours.len() == requests, "{} of {}", ours.len(), requests);
            }
            prop_assert!(ours.len() <= theirs.len(), "the codec read more: {:?} / {:?}", ours, theirs);
            prop_assert_eq!(&ours[..], &theirs[..ours.len()]);
            if ours.len() < theirs.len() {
                // Where the codec is stricter than hyper by design: both framing fields, a
                // coding list with a malformed coding, control bytes in chunk extensions, a
                // trailer line ended by a bare LF.
                use hookyard_h1::ErrorKind::*;
                let by_design = [LengthAndTransferEncoding, TransferEncodingNotChunked, ChunkSize, Trailer];
                prop_assert!(
                    refused.is_some_and(|kind| by_design.contains(&kind)),
                    "the codec stopped ({:?}) where hyper read on: {:?}",
                    refused,
                    String::from_utf8_lossy(&stream)
                );
            }
        }
    }
}
