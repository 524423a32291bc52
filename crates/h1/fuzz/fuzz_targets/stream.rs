//! A client's byte stream read as a server reads it (request head, body, next head), with small
//! limits so that every limit is reached.
//!
//! Input: the first byte, modulo 8, is how many of the next bytes are piece sizes; the rest is
//! the stream.
//!
//! Checks, beyond "never panics":
//! - the requests read, and the error that stopped the reading, are the same whatever pieces
//!   the stream arrives in (whole, in the given pieces, byte by byte);
//! - every head read, encoded again with its case record, parses to the same method, target,
//!   version and fields, and encodes to the same bytes.
#![no_main]

use bytes::BytesMut;
use hookyard_h1::{
    Decoded, Decoder, ErrorKind, Limits, RequestHead, encode_request, parse_request,
};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits =
    Limits { max_head_bytes: 512, max_headers: 8, max_chunk_line: 32, max_trailer_bytes: 64 };

#[derive(Debug, PartialEq)]
struct Read {
    head: Vec<u8>,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
}

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else { return };
    let count = usize::from(count % 8).min(rest.len());
    let (pieces, stream) = rest.split_at(count);

    let whole = read(stream, &[]);
    let sizes: Vec<usize> = pieces.iter().map(|&p| usize::from(p).max(1)).collect();
    assert_eq!(read(stream, &sizes), whole, "pieces {sizes:?} disagree");
    assert_eq!(read(stream, &[1]), whole, "byte by byte disagrees");
});

/// The requests read off `stream` arriving in pieces of `sizes` (cycled; the rest at once when
/// empty), each head checked by re-encoding, and the error that stopped the reading.
fn read(stream: &[u8], sizes: &[usize]) -> (Vec<Read>, Option<ErrorKind>) {
    let mut buf = BytesMut::new();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    let mut read = Vec::new();
    let mut current: Option<(Vec<u8>, Decoder, Vec<u8>, Option<HeaderMap>)> = None;
    while at < stream.len() {
        let size = sizes.next().copied().unwrap_or(stream.len());
        let end = stream.len().min(at + size);
        buf.extend_from_slice(&stream[at..end]);
        at = end;
        loop {
            if current.is_none() {
                match parse_request(&mut buf, &LIMITS) {
                    Ok(Some(head)) => {
                        let decoder = Decoder::new(head.body(), &LIMITS);
                        current = Some((reencoded(&head), decoder, Vec::new(), None));
                    }
                    Ok(None) => break,
                    Err(err) => return (read, Some(err.kind())),
                }
            }
            let Some((_, decoder, body, trailers)) = current.as_mut() else { break };
            match decoder.decode(&mut buf) {
                Ok(Decoded::Data(data)) => body.extend_from_slice(&data),
                Ok(Decoded::Trailers(map)) => *trailers = Some(map),
                Ok(Decoded::End) => {
                    let (head, _, body, trailers) = current.take().expect("a request");
                    read.push(Read { head, body, trailers });
                }
                Ok(Decoded::NeedMore) => break,
                Err(err) => return (read, Some(err.kind())),
            }
        }
    }
    (read, None)
}

/// `head` encoded with its case record, after checking that this parses back to the same head
/// and encodes to the same bytes again.
fn reencoded(head: &RequestHead) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_request(
        &head.method,
        &head.uri,
        head.version,
        &head.headers,
        Some(&head.case),
        &mut out,
    );
    let bytes = out.to_vec();
    let big = Limits { max_head_bytes: 1 << 16, max_headers: 1 << 10, ..LIMITS };
    let again = parse_request(&mut out, &big)
        .expect("an encoded head parses")
        .expect("an encoded head is whole");
    assert!(out.is_empty(), "encoding left bytes after the head");
    assert_eq!(again.method, head.method);
    assert_eq!(again.uri, head.uri);
    assert_eq!(again.version, head.version);
    assert_eq!(again.headers, head.headers);
    let mut twice = BytesMut::new();
    encode_request(
        &again.method,
        &again.uri,
        again.version,
        &again.headers,
        Some(&again.case),
        &mut twice,
    );
    assert_eq!(&twice[..], &bytes[..], "encoding is not stable");
    bytes
}
