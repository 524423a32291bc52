//! Heads: parsed in place, case and order recorded, limits, partial input, pipelining.

use bytes::BytesMut;
use hookyard_h1::{
    BodyKind, ErrorKind, Limits, parse_request, parse_request_lines, parse_response,
};
use http::{Method, StatusCode, Version};

use crate::support::{encoded, request};

const GET: &[u8] = b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Custom-Thing: one\r\n\
                     accept: */*\r\nX-CUSTOM-thing: two\r\n\r\n";

#[test]
fn a_request_head_parses_into_http_types() {
    let head = request(GET).unwrap();
    assert_eq!(head.method, Method::GET);
    assert_eq!(head.uri, "/a/b?c=d");
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.headers["host"], "example.com");
    let custom: Vec<_> = head.headers.get_all("x-custom-thing").iter().collect();
    assert_eq!(custom, ["one", "two"]);
    assert_eq!(head.body(), BodyKind::Empty);
    assert!(head.keep_alive());
    assert!(!head.wants_upgrade() && !head.is_connect() && !head.expects_continue());
    assert_eq!(&head.raw()[..], GET);
}

#[test]
fn values_are_slices_of_the_received_head() {
    let head = request(GET).unwrap();
    let raw = head.raw().as_ptr_range();
    for value in head.headers.values() {
        assert!(raw.contains(&value.as_bytes().as_ptr()), "{value:?} was copied");
    }
}

#[test]
fn the_case_record_keeps_names_and_order() {
    let head = request(GET).unwrap();
    let names: Vec<_> =
        head.case.names().map(|(n, i)| (String::from_utf8(n.to_vec()).unwrap(), i)).collect();
    let want = [("Host", 0), ("X-Custom-Thing", 0), ("accept", 0), ("X-CUSTOM-thing", 1)];
    let want: Vec<_> = want.iter().map(|(n, i)| (n.to_string(), *i)).collect();
    assert_eq!(names, want);
}

#[test]
fn a_partial_head_asks_for_more_and_leaves_the_buffer() {
    for cut in 0..GET.len() {
        let mut buf = BytesMut::from(&GET[..cut]);
        assert!(parse_request(&mut buf, &Limits::default()).unwrap().is_none(), "cut {cut}");
        assert_eq!(&buf[..], &GET[..cut]);
    }
}

#[test]
fn pipelined_requests_parse_one_after_another() {
    let two =
        [GET, b"POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n"].concat();
    let mut buf = BytesMut::from(&two[..]);
    let limits = Limits::default();
    let first = parse_request(&mut buf, &limits).unwrap().unwrap();
    assert_eq!(first.uri, "/a/b?c=d");
    let second = parse_request(&mut buf, &limits).unwrap().unwrap();
    assert_eq!(second.body(), BodyKind::Length(3));
    assert_eq!(&buf[..3], b"abc");
    let _ = buf.split_to(3);
    let third = parse_request(&mut buf, &limits).unwrap().unwrap();
    assert_eq!(third.version, Version::HTTP_10);
    assert!(!third.keep_alive());
    assert!(buf.is_empty());
}

#[test]
fn empty_lines_before_a_request_line_are_skipped() {
    let head = request(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert_eq!(head.uri, "/");
}

#[test]
fn the_head_size_limit_is_named() {
    let limits = Limits { max_head_bytes: 64, ..Limits::default() };
    let long = format!("GET / HTTP/1.1\r\nX-Long: {}\r\n\r\n", "a".repeat(60));
    // Whole and too long.
    let err = parse_request(&mut BytesMut::from(long.as_bytes()), &limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HeadTooLarge { limit: 64 });
    assert!(err.is_limit());
    assert_eq!(err.to_string(), "head longer than the limit of 64 bytes");
    // Still partial at the limit.
    let err = parse_request(&mut BytesMut::from(&long.as_bytes()[..64]), &limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HeadTooLarge { limit: 64 });
    // Exactly at the limit.
    let exact = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(64 - 16 - 7));
    assert_eq!(exact.len(), 64);
    assert!(parse_request(&mut BytesMut::from(exact.as_bytes()), &limits).unwrap().is_some());
}

#[test]
fn the_field_count_limit_is_named_beyond_the_stack_too() {
    for (max, n) in [(3, 4), (100, 101), (200, 150)] {
        let mut text = String::from("GET / HTTP/1.1\r\n");
        for i in 0..n {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("\r\n");
        let limits = Limits { max_headers: max, ..Limits::default() };
        let parsed = parse_request(&mut BytesMut::from(text.as_bytes()), &limits);
        if n > max {
            assert_eq!(parsed.unwrap_err().kind(), ErrorKind::TooManyHeaders { limit: max });
        } else {
            let head = parsed.unwrap().unwrap();
            assert_eq!(head.headers.len(), n);
            assert_eq!(head.case.len(), n);
            assert_eq!(head.case.names().nth(n - 1).unwrap().0, format!("X-{}", n - 1).as_bytes());
        }
    }
}

/// A head's fields left as received give the facts of the head with a map, the lines as they
/// came, and that head again; a refused head is refused alike, its buffer left as it was.
#[test]
fn a_request_left_as_received_is_the_request_with_a_map() {
    let heads: &[&[u8]] = &[
        GET,
        b"GET / HTTP/1.0\r\n\r\n",
        b"\r\nPOST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost:   spaced   \r\nConnection: close\r\nX:\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"G@T / HTTP/1.1\r\n\r\n",
    ];
    let limits = Limits::default();
    for &text in heads {
        let (mut with_map, mut as_received) = (BytesMut::from(text), BytesMut::from(text));
        let head = parse_request(&mut with_map, &limits);
        let lines = parse_request_lines(&mut as_received, &limits);
        assert_eq!(with_map, as_received, "{text:?}");
        let (head, lines) = match (head, lines) {
            (Ok(Some(head)), Ok(Some(lines))) => (head, lines),
            (Err(a), Err(b)) => {
                assert_eq!(a.kind(), b.kind(), "{text:?}");
                assert_eq!(&as_received[..], text, "{text:?}");
                continue;
            }
            (a, b) => panic!("{text:?}: {a:?} against {b:?}"),
        };
        assert_eq!(
            (&lines.method, &lines.uri, lines.version),
            (&head.method, &head.uri, head.version)
        );
        assert_eq!(lines.body(), head.body(), "{text:?}");
        assert_eq!(lines.keep_alive(), head.keep_alive(), "{text:?}");
        assert_eq!(lines.wants_upgrade(), head.wants_upgrade(), "{text:?}");
        assert_eq!(lines.expects_continue(), head.expects_continue(), "{text:?}");
        assert_eq!(lines.lines().raw_len(), head.raw().len(), "{text:?}");
        let received: Vec<(Vec<u8>, Vec<u8>)> =
            lines.lines().iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert_eq!(received.len(), head.case.len() + usize::from(text.starts_with(b"\r\nPOST")));
        let again = lines.clone().into_head().unwrap();
        assert_eq!(again.headers, head.headers, "{text:?}");
        assert_eq!(encoded(&again), encoded(&head), "{text:?}");
        let (parts, fields) = lines.into_parts_and_lines();
        assert!(parts.headers.is_empty());
        assert_eq!((parts.method, parts.uri), (head.method.clone(), head.uri.clone()));
        let fields: Vec<_> = fields.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert_eq!(fields, received);
    }
}

#[test]
fn request_facts_connect_upgrade_continue() {
    let connect =
        request(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").unwrap();
    assert!(connect.is_connect());
    assert_eq!(connect.uri.authority().unwrap(), "example.com:443");
    let ws = request(
        b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .unwrap();
    assert!(ws.wants_upgrade());
    let cont =
        request(b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n")
            .unwrap();
    assert!(cont.expects_continue());
    assert_eq!(cont.body(), BodyKind::Length(9));
    let close = request(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
    assert!(!close.keep_alive());
    let parts = close.into_parts();
    assert!(parts.extensions.get::<hookyard_h1::HeaderCase>().is_some());
}

#[test]
fn a_response_head_keeps_its_reason_and_framing() {
    let limits = Limits::default();
    let text = b"HTTP/1.1 404 Not Here\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
    let mut buf = BytesMut::from(&text[..]);
    let head = parse_response(&mut buf, &limits, &Method::GET).unwrap().unwrap();
    assert_eq!(head.status, StatusCode::NOT_FOUND);
    assert_eq!(&head.reason()[..], b"Not Here");
    assert_eq!(head.body(), BodyKind::Length(5));
    assert!(head.keep_alive());
    assert_eq!(&buf[..], b"hello");
    let mut buf = BytesMut::from(&text[..]);
    let head = parse_response(&mut buf, &limits, &Method::HEAD).unwrap().unwrap();
    assert_eq!(head.body(), BodyKind::Empty);
    // Handed over apart, the case record leaves the extensions with the reason alone.
    let (parts, case) = head.into_parts_and_case().unwrap();
    let names: Vec<_> = case.names().map(|(name, _)| name.to_vec()).collect();
    assert_eq!(names, [b"Content-Length".to_vec(), b"Server".to_vec()]);
    assert!(parts.extensions.get::<hookyard_h1::HeaderCase>().is_none());
    let reason = parts.extensions.get::<hookyard_h1::ReasonPhrase>().unwrap();
    assert_eq!(reason.as_bytes(), b"Not Here");

    // A reason beyond ASCII is kept as received; none at all is empty.
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\n\r\n"[..]);
    let head = parse_response(&mut buf, &limits, &Method::GET).unwrap().unwrap();
    assert_eq!(&head.reason()[..], "été".as_bytes());
    assert_eq!(head.body(), BodyKind::UntilClose);
    assert!(!head.keep_alive());
    let mut buf = BytesMut::from(&b"HTTP/1.0 204\r\n\r\n"[..]);
    let head = parse_response(&mut buf, &limits, &Method::GET).unwrap().unwrap();
    assert!(head.reason().is_empty());
    assert!(!head.keep_alive());

    let mut buf = BytesMut::from(&b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"[..]);
    let head = parse_response(&mut buf, &limits, &Method::GET).unwrap().unwrap();
    assert!(head.is_upgrade());
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 Connection established\r\n\r\n"[..]);
    let head = parse_response(&mut buf, &limits, &Method::CONNECT).unwrap().unwrap();
    assert!(head.is_upgrade());
    assert_eq!(head.body(), BodyKind::Empty);

    // Both framing fields: the coding wins and the connection closes after it.
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"[..],
    );
    let head = parse_response(&mut buf, &limits, &Method::GET).unwrap().unwrap();
    assert_eq!(head.body(), BodyKind::Chunked);
    assert!(!head.keep_alive());
    assert!(head.has_conflicting_length());
}

#[test]
fn long_mixed_case_names_are_found_and_kept() {
    let name = format!("X-{}", "AbCd".repeat(40));
    let text = format!("GET / HTTP/1.1\r\n{name}: 1\r\nHost: a\r\n{name}: 2\r\n\r\n");
    let head = request(text.as_bytes()).unwrap();
    let lower = name.to_ascii_lowercase();
    assert_eq!(head.headers.get_all(lower.as_str()).iter().count(), 2);
    let out = encoded(&head);
    assert_eq!(String::from_utf8_lossy(&out), text);
}

#[test]
fn a_repeated_request_length_is_kept_once() {
    let head = request(b"PUT / HTTP/1.1\r\nContent-Length: 1\r\nX: y\r\ncontent-length: 1\r\n\r\n")
        .unwrap();
    assert_eq!(head.headers.get_all("content-length").iter().count(), 1);
    let names: Vec<_> = head.case.names().map(|(n, _)| n.to_vec()).collect();
    assert_eq!(names, [b"Content-Length".to_vec(), b"X".to_vec()]);
    assert_eq!(head.body(), BodyKind::Length(1));
}

#[test]
fn ten_thousand_fields_of_one_name_round_trip() {
    // The most `limits.max_headers` allows; the case record is kept through a map past 64
    // fields, so this costs linear time.
    let mut text = String::from("GET / HTTP/1.1\r\n");
    for i in 0..10_000 {
        text.push_str(if i % 2 == 0 { "X-Same: " } else { "x-same: " });
        text.push_str(&format!("{i}\r\n"));
    }
    text.push_str("\r\n");
    let limits = Limits { max_head_bytes: 1 << 20, max_headers: 10_000, ..Limits::default() };
    let head = parse_request(&mut BytesMut::from(text.as_bytes()), &limits).unwrap().unwrap();
    assert_eq!(head.headers.get_all("x-same").iter().count(), 10_000);
    assert_eq!(head.case.names().last().unwrap().1, 9_999);
    let out = encoded(&head);
    assert_eq!(out, text.as_bytes());
}

#[test]
fn ten_thousand_changed_values_keep_their_places() {
    // Every value set anew: each goes to its name's field of the same index, found through a
    // map built once, not a scan per value.
    let mut text = String::from("GET / HTTP/1.1\r\n");
    for i in 0..10_000 {
        text.push_str(&format!("X-Same: {i}\r\n"));
    }
    text.push_str("\r\n");
    let limits = Limits { max_head_bytes: 1 << 20, max_headers: 10_000, ..Limits::default() };
    let mut head = parse_request(&mut BytesMut::from(text.as_bytes()), &limits).unwrap().unwrap();
    let http::header::Entry::Occupied(mut same) = head.headers.entry("x-same") else {
        panic!("x-same was received");
    };
    for value in same.iter_mut() {
        let doubled = format!("{}{}", value.to_str().unwrap(), value.to_str().unwrap());
        *value = http::HeaderValue::from_str(&doubled).unwrap();
    }
    let out = encoded(&head);
    let mut want = String::from("GET / HTTP/1.1\r\n");
    for i in 0..10_000 {
        want.push_str(&format!("X-Same: {i}{i}\r\n"));
    }
    want.push_str("\r\n");
    assert_eq!(out, want.as_bytes());
}
