//! Helpers shared by the test modules.

use bytes::{Bytes, BytesMut};
use hookyard_h1::{
    Decoded, Decoder, Error, ErrorKind, Limits, RequestHead, encode_request, parse_request,
};
use http::HeaderMap;

/// A request parsed from `text`, which must hold a whole head.
pub(crate) fn request(text: &[u8]) -> Result<RequestHead, Error> {
    let mut buf = BytesMut::from(text);
    Ok(parse_request(&mut buf, &Limits::default())?.expect("a whole head"))
}

/// `head` encoded again with its case record.
pub(crate) fn encoded(head: &RequestHead) -> BytesMut {
    let mut out = BytesMut::new();
    encode_request(
        &head.method,
        &head.uri,
        head.version,
        &head.headers,
        Some(&head.case),
        &mut out,
    );
    out
}

/// The error kind a request head gives.
pub(crate) fn refused(text: &[u8]) -> ErrorKind {
    match request(text) {
        Ok(head) => panic!("accepted: {:?} {:?}", head.method, head.headers),
        Err(err) => err.kind(),
    }
}

/// A decoded body: its data, its trailers, and the input left after it; or the error.
pub(crate) type Outcome = Result<(Vec<u8>, Option<HeaderMap>, Vec<u8>), ErrorKind>;

/// A whole body decoded from `input` fed in pieces ending at `cuts` (sorted offsets); the
/// data, the trailers, and what is left after the body (or the error).
pub(crate) fn decode_split(
    decoder: &mut Decoder,
    input: &[u8],
    cuts: &[usize],
    eof: bool,
) -> Outcome {
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut trailers = None;
    let mut from = 0;
    let mut ends = cuts.iter().copied().filter(|&c| c <= input.len()).collect::<Vec<_>>();
    ends.push(input.len());
    for end in ends {
        if end < from {
            continue;
        }
        buf.extend_from_slice(&input[from..end]);
        from = end;
        loop {
            match decoder.decode(&mut buf).map_err(|e| e.kind())? {
                Decoded::Data(bytes) => {
                    assert!(!bytes.is_empty(), "empty data frame");
                    data.extend_from_slice(&bytes);
                }
                Decoded::Trailers(map) => trailers = Some(map),
                Decoded::End => return Ok((data, trailers, rest(&buf, &input[from..]))),
                Decoded::NeedMore => break,
            }
        }
    }
    if eof {
        decoder.finish().map_err(|e| e.kind())?;
        return Ok((data, trailers, Vec::new()));
    }
    Err(ErrorKind::IncompleteBody)
}

fn rest(buf: &[u8], unread: &[u8]) -> Vec<u8> {
    [buf, unread].concat()
}

/// The fields of `headers` in order, as text pairs.
pub(crate) fn pairs(headers: &HeaderMap) -> Vec<(String, Bytes)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), Bytes::copy_from_slice(v.as_bytes())))
        .collect()
}

/// One request read off a stream: head fields and body.
#[derive(Debug, PartialEq)]
pub(crate) struct Read {
    pub(crate) method: http::Method,
    pub(crate) uri: http::Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: Option<HeaderMap>,
}

/// The requests a server reads from `input` arriving in pieces ending at `cuts`, as a
/// connection would (head, body, next head), and the error that stopped it, if any.
pub(crate) fn read_stream(
    input: &[u8],
    cuts: &[usize],
    limits: &Limits,
) -> (Vec<Read>, Option<ErrorKind>) {
    let mut ends: Vec<usize> = cuts.iter().copied().filter(|&c| c < input.len()).collect();
    ends.push(input.len());
    let mut buf = BytesMut::new();
    let mut from = 0;
    let mut read = Vec::new();
    let mut current: Option<(RequestHead, Decoder, Vec<u8>, Option<HeaderMap>)> = None;
    for end in ends {
        if end < from {
            continue;
        }
        buf.extend_from_slice(&input[from..end]);
        from = end;
        loop {
            if current.is_none() {
                match parse_request(&mut buf, limits) {
                    Ok(Some(head)) => {
                        let decoder = Decoder::new(head.body(), limits);
                        current = Some((head, decoder, Vec::new(), None));
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
                    read.push(Read {
                        method: head.method,
                        uri: head.uri,
                        headers: head.headers,
                        body,
                        trailers,
                    });
                }
                Ok(Decoded::NeedMore) => break,
                Err(err) => return (read, Some(err.kind())),
            }
        }
    }
    (read, None)
}

/// Pipelined requests (1 to 4 of a few kinds), mangled by up to 3 edits (a byte replaced,
/// inserted or removed; bytes that matter to HTTP more often than others): the stream, how
/// many requests it had, and whether it was mangled.
pub(crate) fn mangled_stream() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, usize, bool)>
{
    use proptest::prelude::*;
    let request = prop_oneof![
        Just(&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]),
        Just(&b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"[..]),
        Just(&b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n"[..]),
        Just(&b"POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"[..]),
        Just(&b"PUT /l HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"[..]),
        Just(&b"\r\nPUT /q HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"[..]),
        Just(&b"GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"[..]),
        Just(&b"GET http://h.example/x?y HTTP/1.1\r\nConnection: keep-alive\r\nCookie: a\r\ncookie: b\r\n\r\n"[..]),
        Just(&b"OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"[..]),
    ];
    let byte = prop_oneof![
        any::<u8>(),
        proptest::sample::select(&b"\r\n \t:;,0123456789aAfF-\"\x00\x7f\xff"[..]),
    ];
    let edit = (0..3u8, any::<usize>(), byte);
    (proptest::collection::vec(request, 1..5), proptest::collection::vec(edit, 0..4)).prop_map(
        |(requests, edits)| {
            let mut stream = requests.concat();
            for &(kind, at, byte) in &edits {
                let at = at % stream.len();
                match kind {
                    0 => stream[at] = byte,
                    1 => stream.insert(at, byte),
                    _ => {
                        stream.remove(at);
                    }
                }
            }
            (stream, requests.len(), !edits.is_empty())
        },
    )
}
