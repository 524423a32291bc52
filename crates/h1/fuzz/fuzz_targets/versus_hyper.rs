//! A client's byte stream read by the codec and by hyper's HTTP/1 server (over an in-memory
//! pipe, the client closing after its last byte).
//!
//! Checks, beyond "never panics": every request the codec reads (method, target, version,
//! fields in order, body, trailers), hyper reads the same, in the same order; where hyper reads
//! on, the codec has refused, for one of the reasons it is stricter than hyper by design (both
//! framing fields, a malformed coding in a list, control bytes in a chunk extension, a trailer
//! line not ended by CRLF). The codec is never more lenient: that would be a request smuggled
//! past a server that reads as hyper does.
#![no_main]

use std::cell::RefCell;
use std::convert::Infallible;

use bytes::{Bytes, BytesMut};
use hookyard_h1::{Decoded, Decoder, ErrorKind, Limits, parse_request};
use http::{HeaderMap, Request, Response, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncWriteExt;

#[derive(Debug, PartialEq)]
struct Seen {
    method: String,
    target: String,
    version: Version,
    fields: Vec<(String, Bytes)>,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

thread_local! {
    static RUNTIME: RefCell<tokio::runtime::Runtime> = RefCell::new(
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime"),
    );
}

fuzz_target!(|stream: &[u8]| {
    let theirs = RUNTIME.with(|rt| rt.borrow().block_on(hyper_reads(stream)));
    let (ours, refused) = codec_reads(stream);
    assert!(ours.len() <= theirs.len(), "the codec read more: {ours:?} / {theirs:?}");
    assert_eq!(ours[..], theirs[..ours.len()]);
    if ours.len() < theirs.len() {
        use ErrorKind::*;
        let by_design = [LengthAndTransferEncoding, TransferEncodingNotChunked, ChunkSize, Trailer];
        assert!(
            refused.is_some_and(|kind| by_design.contains(&kind)),
            "the codec stopped ({refused:?}) where hyper read on: {theirs:?}"
        );
    }
});

fn pairs(headers: &HeaderMap) -> Vec<(String, Bytes)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), Bytes::copy_from_slice(v.as_bytes())))
        .collect()
}

/// The requests hyper's server read whole (body and trailers), up to the first it could not.
async fn hyper_reads(stream: &[u8]) -> Vec<Seen> {
    let (client, server) = tokio::io::duplex(1 << 16);
    let (tx, rx) = std::sync::mpsc::channel();
    let service = service_fn(move |req: Request<Incoming>| {
        let tx = tx.clone();
        async move {
            let (parts, body) = req.into_parts();
            if let Ok(collected) = body.collect().await {
                let _ = tx.send(Seen {
                    method: parts.method.to_string(),
                    target: parts.uri.to_string(),
                    version: parts.version,
                    fields: pairs(&parts.headers),
                    trailers: collected.trailers().cloned(),
                    body: collected.to_bytes(),
                });
            } else {
                let _ = tx.send(Seen {
                    method: String::new(),
                    target: String::new(),
                    version: Version::HTTP_09,
                    fields: Vec::new(),
                    body: Bytes::new(),
                    trailers: None,
                });
            }
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
            if parts.method == http::Method::CONNECT {
                *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
            }
            Ok::<_, Infallible>(response)
        }
    });
    let conn = tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .serve_connection(TokioIo::new(server), service),
    );
    let (mut read, mut write) = tokio::io::split(client);
    let drain = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut read, &mut tokio::io::sink()).await;
    });
    if write.write_all(stream).await.is_ok() {
        let _ = write.shutdown().await;
    }
    let _ = conn.await;
    drain.abort();
    // A body hyper could not read ends what it read (the marker has no method).
    rx.try_iter().take_while(|seen| !seen.method.is_empty()).collect()
}

/// The requests the codec reads, up to an error or a request after which the connection
/// closes, and the error.
fn codec_reads(stream: &[u8]) -> (Vec<Seen>, Option<ErrorKind>) {
    let limits = Limits { max_head_bytes: 1 << 20, ..Limits::default() };
    let mut buf = BytesMut::from(stream);
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
