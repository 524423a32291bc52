//! Each refused form of request head, with its own error kind, and the buffer left as it was.

use bytes::BytesMut;
use hookyard_h1::{ErrorKind, Limits, parse_request, parse_response};
use http::Method;

use crate::support::refused;

#[test]
fn smuggling_forms_are_refused_each_with_its_kind() {
    use ErrorKind::*;
    let table: &[(&[u8], ErrorKind)] = &[
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            LengthAndTransferEncoding,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            LengthAndTransferEncoding,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            LengthAndTransferEncoding,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            ConflictingContentLength,
        ),
        (b"POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", ConflictingContentLength),
        (b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", InvalidContentLength),
        (b"POST / HTTP/1.1\r\nContent-Length: 3a\r\n\r\n", InvalidContentLength),
        (b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", InvalidContentLength),
        (b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", InvalidContentLength),
        (b"POST / HTTP/1.1\r\nContent-Length: 0x3\r\n\r\n", InvalidContentLength),
        (b"POST / HTTP/1.1\r\nContent-Length: 3 3\r\n\r\n", InvalidContentLength),
        (b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", InvalidContentLength),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", InvalidContentLength),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            TransferEncodingNotChunked,
        ),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", TransferEncodingNotChunked),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            TransferEncodingNotChunked,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
            TransferEncodingNotChunked,
        ),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", TransferEncodingNotChunked),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", TransferEncodingNotChunked),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", TransferEncodingNotChunked),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", TransferEncodingNotChunked),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", TransferEncodingHttp10),
        (b"POST / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", ObsFold),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x,\r\n\tchunked\r\n\r\n", ObsFold),
        (b"POST / HTTP/1.1\r\nContent-Length : 3\r\n\r\n", HeaderName),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding\t: chunked\r\n\r\n", HeaderName),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", ObsFold),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n 5\r\n\r\n", ObsFold),
        (b"GET / HTTP/1.1\r\nX-A: a\rTransfer-Encoding: chunked\r\n\r\n", HeaderValue),
        (b"POST / HTTP/1.1\r\n Content-Length: 3\r\n\r\n", HeaderName),
        (b"POST / HTTP/1.1\r\nContent[Length]: 3\r\n\r\n", HeaderName),
        (b"POST / HTTP/1.1\r\nX: a\x00b\r\n\r\n", HeaderValue),
        (b"POST / HTTP/1.1\r\nX: a\rb\r\n\r\n", HeaderValue),
        (b"POST / HTTP/1.1\r\nX: a\r\r\n\r\n", HeaderValue),
        (b"G(T / HTTP/1.1\r\n\r\n", Method),
        (b" GET / HTTP/1.1\r\n\r\n", Method),
        (b"GET /\x7f HTTP/1.1\r\n\r\n", Target),
        (b"GET /a\x01b HTTP/1.1\r\n\r\n", Target),
        (b"GET  / HTTP/1.1\r\n\r\n", Target),
        (b"GET / HTTP/1.2\r\n\r\n", Version),
        (b"GET / HTTP/2.0\r\n\r\n", Version),
        (b"GET / http/1.1\r\n\r\n", Version),
        (b"GET / HTTP/1.1 \r\n\r\n", NewLine),
        (b"GET / HTTP/1.1\rHost: a\r\n\r\n", NewLine),
    ];
    for (text, want) in table {
        let kind = refused(text);
        assert_eq!(kind, *want, "{}", String::from_utf8_lossy(text).escape_debug());
    }
}

#[test]
fn framing_errors_say_so() {
    let err = crate::support::request(
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap_err();
    assert!(err.is_framing() && !err.is_limit());
    assert_eq!(err.to_string(), "both Content-Length and Transfer-Encoding");
}

#[test]
fn a_refused_head_leaves_the_buffer_as_it_was() {
    let text: &[u8] = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    let mut buf = BytesMut::from(text);
    parse_request(&mut buf, &Limits::default()).unwrap_err();
    assert_eq!(&buf[..], text);
    let text: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
    let mut buf = BytesMut::from(text);
    let err = parse_response(&mut buf, &Limits::default(), &Method::GET).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidContentLength);
    assert_eq!(&buf[..], text);
}

#[test]
fn responses_refuse_folds_and_bad_status_lines() {
    use ErrorKind::*;
    let table: &[(&[u8], ErrorKind)] = &[
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ObsFold),
        (b"HTTP/1.1 20 OK\r\n\r\n", Status),
        (b"HTTP/1.1 2000 OK\r\n\r\n", Status),
        (b"HTTP/1.1 200 O\x00K\r\n\r\n", Status),
        (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", TransferEncodingHttp10),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", ConflictingContentLength),
        (b"HTTP/3 200 OK\r\n\r\n", Version),
    ];
    for (text, want) in table {
        let mut buf = BytesMut::from(*text);
        let err = parse_response(&mut buf, &Limits::default(), &http::Method::GET).unwrap_err();
        assert_eq!(err.kind(), *want, "{}", String::from_utf8_lossy(text).escape_debug());
    }
}

/// Found by the `stream` fuzz target: a bad field line followed, further on, by a line that
/// begins with white space was a bad name when read in pieces but a fold when read at once.
#[test]
fn a_bad_name_is_not_taken_for_a_later_fold() {
    let stream = b"POST /c HTTP/1.1\r\nTransabc\r\n0\r1T:\n \r\n\r\nGET / HTTP/1.0\r\n\r\n";
    let limits = Limits::default();
    let whole = crate::support::read_stream(stream, &[], &limits);
    assert_eq!(whole.1, Some(ErrorKind::HeaderName));
    for cut in 1..stream.len() {
        assert_eq!(crate::support::read_stream(stream, &[cut], &limits), whole, "cut at {cut}");
    }
    assert_eq!(
        crate::support::refused(b"GET / HTTP/1.1\r\nA: 1\r\n\tfolded\r\nB\r\n\r\n"),
        ErrorKind::ObsFold
    );
}
