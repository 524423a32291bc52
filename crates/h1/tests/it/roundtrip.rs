//! Round trips: a head written with odd-but-valid spacing parses to what was written, encodes
//! back with its names' case and order, and parses again to the same; bodies too.

use bytes::BytesMut;
use hookyard_h1::{
    BodyKind, Decoder, Encoder, Limits, encode_request, encode_response, parse_request,
    parse_response,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use proptest::prelude::*;

use crate::support::{decode_split, encoded, pairs};

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_owned()),
        Just("POST".to_owned()),
        Just("PUT".to_owned()),
        Just("DELETE".to_owned()),
        Just("PATCH".to_owned()),
        Just("OPTIONS".to_owned()),
        "[A-Z][A-Z0-9_.!~-]{0,12}",
    ]
}

fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[a-zA-Z0-9._~%!$&'()*+,;=:@/-]{0,40}",
        "/[a-z0-9/]{0,20}\\?[a-zA-Z0-9=&%+._-]{0,30}",
        "http://[a-z]{1,10}\\.example(:[0-9]{2,4})?/[a-z0-9/]{0,20}",
    ]
}

/// Field names in mixed case, some of them repeated.
fn fields() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("Host".to_owned()),
        Just("ACCEPT".to_owned()),
        Just("x-repeat".to_owned()),
        Just("X-Repeat".to_owned()),
        Just("Set-Cookie".to_owned()),
        "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,20}",
    ];
    let value = "[!-~]([ -~\t]{0,30}[!-~])?";
    proptest::collection::vec((name, value), 0..12).prop_map(|fields| {
        fields
            .into_iter()
            .filter(|(n, _)| {
                let n = n.to_ascii_lowercase();
                !["content-length", "transfer-encoding", "connection", "upgrade", "expect"]
                    .contains(&n.as_str())
            })
            .collect()
    })
}

fn space() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("  "), Just("\t"), Just(" \t ")]
}

/// The fields of a map as `fields` would group them: by name, in order of first appearance.
fn grouped(fields: &[(String, String)]) -> Vec<(String, String)> {
    let mut names: Vec<String> = Vec::new();
    for (n, _) in fields {
        let n = n.to_ascii_lowercase();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
        .iter()
        .flat_map(|name| {
            fields
                .iter()
                .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
                .map(move |(_, v)| (name.clone(), v.clone()))
        })
        .collect()
}

fn text_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    pairs(headers).into_iter().map(|(n, v)| (n, String::from_utf8(v.to_vec()).unwrap())).collect()
}

proptest! {
    #[test]
    fn request_heads_round_trip_with_case_and_order(
        method in method(),
        target in target(),
        http10 in any::<bool>(),
        fields in fields(),
        spaces in proptest::collection::vec((space(), space()), 12),
        body in proptest::option::of((proptest::collection::vec(any::<u8>(), 1..100), any::<bool>())),
    ) {
        let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
        let mut wire = format!("{method} {target} {version}\r\n");
        for ((name, value), (before, after)) in fields.iter().zip(&spaces) {
            wire.push_str(&format!("{name}:{before}{value}{after}\r\n"));
        }
        let chunked = body.as_ref().is_some_and(|(_, chunked)| *chunked) && !http10;
        let body_kind = match &body {
            None => BodyKind::Empty,
            Some(_) if chunked => BodyKind::Chunked,
            Some((data, _)) => BodyKind::Length(data.len() as u64),
        };
        match body_kind {
            BodyKind::Chunked => wire.push_str("Transfer-Encoding: chunked\r\n"),
            BodyKind::Length(n) => wire.push_str(&format!("Content-Length: {n}\r\n")),
            _ => {}
        }
        wire.push_str("\r\n");
        let mut input = BytesMut::from(wire.as_bytes());
        let mut encoder = Encoder::new(body_kind);
        if let Some((data, _)) = &body {
            encoder.data(data, &mut input).unwrap();
        }
        encoder.finish(None, &mut input).unwrap();

        let limits = Limits::default();
        let head = parse_request(&mut input, &limits).unwrap().unwrap();
        prop_assert_eq!(head.method.as_str(), method.as_str());
        prop_assert_eq!(head.uri.to_string(), target.clone());
        prop_assert_eq!(head.version, if http10 { Version::HTTP_10 } else { Version::HTTP_11 });
        prop_assert_eq!(head.body(), body_kind);
        let mut all = fields.clone();
        match body_kind {
            BodyKind::Chunked => all.push(("Transfer-Encoding".into(), "chunked".into())),
            BodyKind::Length(n) => all.push(("Content-Length".into(), n.to_string())),
            _ => {}
        }
        prop_assert_eq!(text_pairs(&head.headers), grouped(&all));
        let names: Vec<_> = head.case.names().map(|(n, _)| String::from_utf8(n.to_vec()).unwrap()).collect();
        let want: Vec<_> = all.iter().map(|(n, _)| n.clone()).collect();
        prop_assert_eq!(&names, &want);
        let (data, _, rest) = decode_split(&mut Decoder::new(head.body(), &limits), &input, &[], false).unwrap();
        prop_assert_eq!(data, body.map(|(d, _)| d).unwrap_or_default());
        prop_assert!(rest.is_empty());

        // Encoded again: names as received, in order, one space after the colon.
        let mut out = encoded(&head);
        let mut want = format!("{method} {target} {version}\r\n");
        for (name, value) in &all {
            want.push_str(&format!("{name}: {value}\r\n"));
        }
        want.push_str("\r\n");
        prop_assert_eq!(String::from_utf8_lossy(&out), want);
        let again = parse_request(&mut out, &limits).unwrap().unwrap();
        prop_assert_eq!(again.headers, head.headers);
        prop_assert_eq!(again.uri, head.uri);
    }

    #[test]
    fn response_heads_round_trip_with_reason(
        status in 100..1000u16,
        reason in "[ -~]{0,20}",
        fields in fields(),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let mut headers = HeaderMap::new();
        let mut wire = format!("HTTP/1.1 {} {reason}\r\n", status.as_str());
        for (name, value) in &fields {
            wire.push_str(&format!("{name}: {value}\r\n"));
        }
        wire.push_str("Content-Length: 0\r\n\r\n");
        let head = parse_response(&mut BytesMut::from(wire.as_bytes()), &Limits::default(), &Method::GET)
            .unwrap()
            .unwrap();
        prop_assert_eq!(head.status, status);
        prop_assert_eq!(&head.reason()[..], reason.as_bytes());
        let (map, case) = head.lines().to_map().unwrap();
        let mut out = BytesMut::new();
        encode_response(head.status, head.version, Some(head.reason()), &map, Some(&case), &mut out);
        prop_assert_eq!(String::from_utf8_lossy(&out), wire);
        headers.clone_from(&map);
        prop_assert_eq!(text_pairs(&headers).len(), fields.len() + 1);
    }
}

#[test]
fn changed_fields_stay_in_place_and_added_ones_follow() {
    let text =
        b"GET / HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nCookie: c1\r\nX-Two: 2\r\ncookie: c2\r\n\r\n";
    let mut head =
        parse_request(&mut BytesMut::from(&text[..]), &Limits::default()).unwrap().unwrap();
    head.headers.insert("host", HeaderValue::from_static("b"));
    head.headers.remove("x-one");
    head.headers.append("cookie", HeaderValue::from_static("c3"));
    head.headers.insert("via", HeaderValue::from_static("1.1 hookyard"));
    head.headers.insert("X-Two", HeaderValue::from_static("two"));
    let out = encoded(&head);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "GET / HTTP/1.1\r\nHost: b\r\nCookie: c1\r\nX-Two: two\r\ncookie: c2\r\n\
         cookie: c3\r\nvia: 1.1 hookyard\r\n\r\n"
    );
    // Without a record: the map's order, lower case.
    let mut out = BytesMut::new();
    encode_request(
        &Method::POST,
        &"http://h.example/p?q".parse().unwrap(),
        Version::HTTP_2,
        &head.headers,
        None,
        &mut out,
    );
    assert!(
        String::from_utf8_lossy(&out)
            .starts_with("POST http://h.example/p?q HTTP/1.1\r\nhost: b\r\n")
    );
}

#[test]
fn received_values_keep_their_own_places() {
    let text = b"GET / HTTP/1.1\r\nSet-Cookie: a\r\nHost: h\r\nSet-Cookie: b\r\nX-Id: 7\r\n\r\n";
    let mut head =
        parse_request(&mut BytesMut::from(&text[..]), &Limits::default()).unwrap().unwrap();
    // The first cookie goes: the second stays where it was received, not in the first's place.
    let second = head.headers.get_all("set-cookie").iter().nth(1).unwrap().clone();
    head.headers.insert("set-cookie", second);
    // A received value copied under another name is an added field, not the one it came from.
    let id = head.headers["x-id"].clone();
    head.headers.insert("x-copy", id);
    // A received value taken out and put back keeps its place.
    let host = head.headers.remove("host").unwrap();
    head.headers.insert("host", host);
    let out = encoded(&head);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "GET / HTTP/1.1\r\nHost: h\r\nSet-Cookie: b\r\nX-Id: 7\r\nx-copy: 7\r\n\r\n"
    );
}

#[test]
fn a_response_reason_falls_back_to_the_standard_one() {
    let mut out = BytesMut::new();
    encode_response(
        StatusCode::BAD_GATEWAY,
        Version::HTTP_11,
        None,
        &HeaderMap::new(),
        None,
        &mut out,
    );
    assert_eq!(&out[..], b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
    out.clear();
    encode_response(
        StatusCode::OK,
        Version::HTTP_10,
        Some(b"Fine\r\nX: y"),
        &HeaderMap::new(),
        None,
        &mut out,
    );
    assert_eq!(&out[..], b"HTTP/1.0 200 OK\r\n\r\n");
    out.clear();
    encode_response(
        StatusCode::OK,
        Version::HTTP_11,
        Some(b"Tr\xe8s bien"),
        &HeaderMap::new(),
        None,
        &mut out,
    );
    assert_eq!(&out[..], b"HTTP/1.1 200 Tr\xe8s bien\r\n\r\n");
}

#[test]
fn parts_carry_the_case_and_the_reason_to_the_encoders() {
    let limits = Limits::default();
    let text = b"HTTP/1.1 200 Fine Thanks\r\nX-Mixed: 1\r\nContent-Length: 0\r\n\r\n";
    let head =
        parse_response(&mut BytesMut::from(&text[..]), &limits, &Method::GET).unwrap().unwrap();
    let parts = head.into_parts().unwrap();
    assert_eq!(
        parts.extensions.get::<hookyard_h1::ReasonPhrase>().unwrap().as_bytes(),
        b"Fine Thanks"
    );
    let mut out = BytesMut::new();
    hookyard_h1::encode_response_parts(&parts, &mut out);
    assert_eq!(&out[..], &text[..]);
    // The standard reason is not kept: a changed status gets its own.
    let text = b"HTTP/1.1 200 OK\r\n\r\n";
    let head =
        parse_response(&mut BytesMut::from(&text[..]), &limits, &Method::GET).unwrap().unwrap();
    let mut parts = head.into_parts().unwrap();
    assert!(parts.extensions.get::<hookyard_h1::ReasonPhrase>().is_none());
    parts.status = StatusCode::NOT_FOUND;
    let mut out = BytesMut::new();
    hookyard_h1::encode_response_parts(&parts, &mut out);
    assert_eq!(&out[..], b"HTTP/1.1 404 Not Found\r\n\r\n");

    let text = b"PUT /x?y HTTP/1.1\r\nHOST: a\r\nX-B: 2\r\n\r\n";
    let head = parse_request(&mut BytesMut::from(&text[..]), &limits).unwrap().unwrap();
    let parts = head.into_parts();
    let mut out = BytesMut::new();
    hookyard_h1::encode_request_parts(&parts, &mut out);
    assert_eq!(&out[..], &text[..]);
}

/// Encoding after changes, against a plain model of the rule (a value as received in its own
/// field's place; a value set since in the place of its name's field of the same index, if
/// that field's value is gone; then the rest in the map's order), on heads below and above the
/// size where the encoder switches from scans to a map. The model tells values apart by their
/// text: the `i`th received field's value is `v{i}`, set values are letters only.
mod changed {
    use bytes::BytesMut;
    use hookyard_h1::{Limits, parse_request};
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;

    use crate::support::encoded;

    fn model(headers: &HeaderMap, recorded: &[(Vec<u8>, usize)]) -> String {
        let received = |value: &str| value.strip_prefix('v').and_then(|i| i.parse::<usize>().ok());
        let same = |recorded: &[u8], name: &str| recorded.eq_ignore_ascii_case(name.as_bytes());
        let mut fields = Vec::new();
        let mut current = None;
        let mut nth = 0;
        for (name, value) in headers {
            nth = if current == Some(name) { nth + 1 } else { 0 };
            current = Some(name);
            fields.push((name.as_str(), nth, value.to_str().unwrap()));
        }
        let mut places: Vec<Option<usize>> = vec![None; recorded.len()];
        for (field, (name, _, value)) in fields.iter().enumerate() {
            if let Some(i) = received(value).filter(|&i| same(&recorded[i].0, name)) {
                places[i] = Some(field);
            }
        }
        for (field, (name, nth, value)) in fields.iter().enumerate() {
            let place = recorded.iter().position(|(n, i)| same(n, name) && i == nth);
            if received(value).is_none()
                && let Some(place) = place.filter(|&p| places[p].is_none())
            {
                places[place] = Some(field);
            }
        }
        let mut out = String::new();
        for (place, field) in places.iter().enumerate() {
            if let Some(field) = field {
                let name = std::str::from_utf8(&recorded[place].0).unwrap();
                out.push_str(&format!("{name}: {}\r\n", fields[*field].2));
            }
        }
        for (field, (name, _, value)) in fields.iter().enumerate() {
            if !places.contains(&Some(field)) {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn changed_heads_encode_as_the_rule_says(
            names in proptest::collection::vec(prop_oneof![
                Just("Cookie"), Just("cookie"), Just("X-A"), Just("x-b"), Just("Via"), Just("Host"),
            ], 0..200),
            removed in proptest::collection::vec(prop_oneof![Just("cookie"), Just("x-a"), Just("via")], 0..2),
            dropped in proptest::collection::vec((prop_oneof![Just("cookie"), Just("x-a"), Just("via")], 0..3usize), 0..3),
            inserted in proptest::collection::vec((prop_oneof![Just("x-b"), Just("x-new"), Just("host")], "[a-z]{1,4}"), 0..3),
            appended in proptest::collection::vec((prop_oneof![Just("cookie"), Just("x-new")], "[a-z]{1,4}"), 0..3),
        ) {
            let mut text = String::from("GET / HTTP/1.1\r\n");
            for (i, name) in names.iter().enumerate() {
                text.push_str(&format!("{name}: v{i}\r\n"));
            }
            text.push_str("\r\n");
            let limits = Limits { max_headers: 500, ..Limits::default() };
            let mut head = parse_request(&mut BytesMut::from(text.as_bytes()), &limits).unwrap().unwrap();
            let recorded: Vec<_> = head.case.names().map(|(n, i)| (n.to_vec(), i)).collect();
            for name in removed {
                head.headers.remove(name);
            }
            // One value of several goes; the others stay as received.
            for (name, index) in dropped {
                let kept: Vec<HeaderValue> = head.headers.get_all(name).iter().enumerate()
                    .filter(|(i, _)| *i != index).map(|(_, v)| v.clone()).collect();
                head.headers.remove(name);
                for value in kept {
                    head.headers.append(name, value);
                }
            }
            for (name, value) in inserted {
                head.headers.insert(name, HeaderValue::from_str(&value).unwrap());
            }
            for (name, value) in appended {
                head.headers.append(name, HeaderValue::from_str(&value).unwrap());
            }
            let out = encoded(&head);
            let want = format!("GET / HTTP/1.1\r\n{}\r\n", model(&head.headers, &recorded));
            prop_assert_eq!(String::from_utf8(out.to_vec()).unwrap(), want);
        }
    }
}
