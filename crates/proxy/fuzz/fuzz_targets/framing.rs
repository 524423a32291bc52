//! A client's raw bytes through the connection layer, without a socket: the proxy's framing
//! tracker (`conn/io.rs`), which must flag every request head with both `Content-Length` and
//! `Transfer-Encoding`, against hyper's HTTP/1.1 server reading the same bytes.
//!
//! Input: the first byte, modulo 8, is how many of the next bytes are piece sizes; the rest is
//! the stream a client sends.
//!
//! Checks, beyond "never panics":
//! - the tracker answers the same whatever pieces the stream arrives in;
//! - every head hyper delivers that the tracker flags has a `Transfer-Encoding` (hyper keeps it;
//!   it drops `Content-Length`), so an innocent request is never refused;
//! - every head with both headers is flagged. hyper drops the evidence, so a reference model
//!   (`httparse`, with hyper's rules for the two headers and strict chunked framing, stopping
//!   wherever it is unsure) says which heads have both; it is trusted only while its heads match
//!   hyper's deliveries one for one (method and target).
//!
//! Found so far: `Transfer-Encoding` then an unreadable `Content-Length` was forwarded, not
//! refused (the tracker stopped at the value; hyper skips it). Fixed in `conn/io.rs`;
//! regression test `limits::an_unreadable_content_length_after_transfer_encoding_is_refused`.
#![no_main]

use hookyard_proxy::fuzzing::{framing_conflicts, serve_connection};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else { return };
    let count = usize::from(count % 8).min(rest.len());
    let (pieces, stream) = rest.split_at(count);

    let whole = framing_conflicts(stream, &[]);
    assert_eq!(framing_conflicts(stream, pieces), whole, "pieces {pieces:?} disagree");
    assert_eq!(framing_conflicts(stream, &[1]), whole, "byte by byte disagrees");

    let served = serve_connection(stream);
    for d in &served.delivered {
        if d.conflicting {
            assert!(!d.transfer_encoding.is_empty(), "refused without Transfer-Encoding: {d:?}");
        }
    }
    let model = model(stream);
    for (m, d) in model.iter().zip(&served.delivered) {
        if m.method != d.method || m.target != d.target {
            break;
        }
        assert_eq!(
            d.conflicting,
            m.content_length && m.transfer_encoding,
            "head {} ({} {}): flagged {}, has Content-Length {}, Transfer-Encoding {}",
            d.index,
            d.method,
            d.target,
            d.conflicting,
            m.content_length,
            m.transfer_encoding
        );
    }
});

/// A request head as the reference model frames it.
#[derive(Debug)]
struct Head {
    method: String,
    target: String,
    content_length: bool,
    transfer_encoding: bool,
}

/// The heads of `stream` as hyper frames them, as far as the model is sure.
fn model(mut stream: &[u8]) -> Vec<Head> {
    let mut heads = Vec::new();
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 100];
        let mut request = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(len)) = request.parse(stream) else { return heads };
        // The proxy's default `max_header_bytes`.
        if len > 32 * 1024 {
            return heads;
        }
        let (Some(method), Some(target), Some(version)) =
            (request.method, request.path, request.version)
        else {
            return heads;
        };
        let (mut length, mut content_length, mut te, mut chunked) = (None, false, false, false);
        let mut close = version == 0;
        for header in request.headers.iter() {
            let value = header.value;
            if header.name.eq_ignore_ascii_case("transfer-encoding") {
                if version == 0 {
                    return heads;
                }
                te = true;
                chunked = std::str::from_utf8(value).is_ok_and(|v| {
                    v.rsplit(',').next().is_some_and(|e| e.trim().eq_ignore_ascii_case("chunked"))
                });
            } else if header.name.eq_ignore_ascii_case("content-length") {
                content_length = true;
                if te {
                    continue;
                }
                let Some(n) = digits(value) else { return heads };
                if length.is_some_and(|l| l != n) {
                    return heads;
                }
                length = Some(n);
            } else if header.name.eq_ignore_ascii_case("connection") {
                // Unsure about the finer points of keep-alive: stop after this head.
                close = true;
            }
        }
        if te && !chunked {
            return heads;
        }
        let conflict = te && content_length;
        heads.push(Head {
            method: method.to_owned(),
            target: target.to_owned(),
            content_length,
            transfer_encoding: te,
        });
        if conflict || close {
            return heads;
        }
        stream = &stream[len..];
        let body = if te { chunked_len(stream) } else { usize::try_from(length.unwrap_or(0)).ok() };
        match body {
            Some(n) if n <= stream.len() => stream = &stream[n..],
            _ => return heads,
        }
    }
}

/// `Content-Length` as hyper reads it: digits only.
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then_some(())?;
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// The length of a strictly framed chunked body (hex size, optional extension, CRLF; data,
/// CRLF; a last chunk of size 0 with no trailers); `None` when unsure.
fn chunked_len(body: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let line_end = body[at..].windows(2).position(|w| w == b"\r\n")? + at;
        let line = &body[at..line_end];
        let size_text = line.split(|&b| b == b';').next()?;
        if size_text.is_empty()
            || size_text.len() > 15
            || !size_text.iter().all(u8::is_ascii_hexdigit)
            || line.iter().any(|&b| b == b'\n' || b == b'\r')
        {
            return None;
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_text).ok()?, 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            return (body.get(at..at + 2)? == b"\r\n").then_some(at + 2);
        }
        at = at.checked_add(size)?;
        if body.get(at..at + 2)? != b"\r\n" {
            return None;
        }
        at += 2;
    }
}
