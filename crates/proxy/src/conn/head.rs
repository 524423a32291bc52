//! A response head written for an HTTP/1 client, from its map or from the origin's fields as
//! received.
//!
//! An origin's fields stay as received ([`FieldLines`]) until something must read or change
//! them: a plugin callback, a filter, a `reverse_map` rule, an access log, a transform, the
//! proxy's `Via` joined to the origin's, an HTTP/2 client. When nothing did, the response's map holds only the fields the proxy added
//! (`Via`, say), and the head is written from the received lines, without those of one hop,
//! then the added fields: the bytes a map would have given, without building and encoding one
//! for every response (a plain proxied request took 15 % fewer instructions when this came in;
//! see `docs/benchmarks.md`).
//!
//! Either way the head is framed as RFC 9112 and hyper's server frame it: a `Date` when it has
//! none; the length from `Content-Length` or the body's known size, else chunked
//! (close-delimited to an HTTP/1.0 client); no body for `HEAD`, 1xx, 204 and 304; `HTTP/1.0`
//! and `Connection: keep-alive` to an HTTP/1.0 client that keeps the connection.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use hookyard_h1::{BodyKind, FieldLines, HeaderCase};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use smallvec::SmallVec;

use super::date;
use crate::txn::fields::{each_received, is_name};

/// What a request head says of its exchange, kept once the head went to its transaction.
pub(super) struct Asked {
    pub(super) method: Method,
    pub(super) version: Version,
    pub(super) keep_alive: bool,
}

/// What the writer knows of a response's body before it is sent.
#[derive(Clone, Copy, Debug)]
pub(super) struct BodyFacts {
    /// The body is known to be empty.
    pub(super) empty: bool,
    /// Its exact size, when known.
    pub(super) size: Option<u64>,
}

/// A response's status line.
pub(super) struct Status<'a> {
    pub(super) status: StatusCode,
    /// A reason other than the status's standard one.
    pub(super) reason: Option<&'a [u8]>,
}

/// A response head's fields as the writer reads, trims and writes them: the framing fields,
/// `Date` and `Connection` are all it asks about.
pub(super) trait Fields {
    /// The first `Content-Length` value.
    fn length(&self) -> Option<&[u8]>;
    /// Removes every `Content-Length`.
    fn remove_length(&mut self);
    /// Whether a `Transfer-Encoding` is there.
    fn has_coding(&self) -> bool;
    /// Removes every `Transfer-Encoding`.
    fn remove_coding(&mut self);
    /// Whether a `Date` is there.
    fn has_date(&self) -> bool;
    /// Whether the `Connection` fields name `token`.
    fn connection_has(&self, token: &str) -> bool;
    /// Adds a field after the others.
    fn append(&mut self, name: HeaderName, value: HeaderValue);
    /// Writes the fields as field lines.
    fn write(&self, dst: &mut BytesMut);
    /// About how many bytes the fields take.
    fn estimate(&self) -> usize;
}

/// The fields in the response's map; `case` how the origin spelt and ordered them.
pub(super) struct MapFields<'a> {
    pub(super) headers: &'a mut HeaderMap,
    pub(super) case: Option<&'a HeaderCase>,
}

impl Fields for MapFields<'_> {
    fn length(&self) -> Option<&[u8]> {
        self.headers.get(header::CONTENT_LENGTH).map(HeaderValue::as_bytes)
    }

    fn remove_length(&mut self) {
        self.headers.remove(header::CONTENT_LENGTH);
    }

    fn has_coding(&self) -> bool {
        self.headers.contains_key(header::TRANSFER_ENCODING)
    }

    fn remove_coding(&mut self) {
        self.headers.remove(header::TRANSFER_ENCODING);
    }

    fn has_date(&self) -> bool {
        self.headers.contains_key(header::DATE)
    }

    fn connection_has(&self, token: &str) -> bool {
        connection_has(self.headers, token)
    }

    fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.append(name, value);
    }

    fn write(&self, dst: &mut BytesMut) {
        hookyard_h1::write_fields(self.headers, self.case, dst);
    }

    fn estimate(&self) -> usize {
        self.headers.len() * 32
    }
}

/// An origin's fields as received, without those of one hop, and the fields the proxy added
/// in the response's map (a field or two: walked, not hashed).
pub(super) struct LineFields<'a> {
    lines: &'a FieldLines,
    /// Which lines are not written, by index.
    dropped: SmallVec<[bool; 32]>,
    /// The first written `Content-Length`'s value.
    length: Option<&'a [u8]>,
    /// A written line is a `Date`.
    date: bool,
    added: &'a mut HeaderMap,
}

impl<'a> LineFields<'a> {
    /// `lines` without the fields the proxy does not forward, as the map's path removes them:
    /// those of one hop and those their `Connection` fields name, and a `Content-Length`
    /// beside a `Transfer-Encoding`.
    pub(super) fn new(lines: &'a FieldLines, added: &'a mut HeaderMap) -> LineFields<'a> {
        let mut dropped = SmallVec::new();
        let (mut length, mut date) = (None, false);
        each_received(lines, |name, value, forwarded| {
            dropped.push(!forwarded);
            if forwarded {
                if length.is_none() && is_length(name) {
                    length = Some(value);
                }
                date |= is_name(name, b"date");
            }
        });
        LineFields { lines, dropped, length, date, added }
    }

    /// Whether the proxy added a field named `name`.
    fn added_has(&self, name: &HeaderName) -> bool {
        self.added.keys().any(|n| n == name)
    }
}

impl Fields for LineFields<'_> {
    fn length(&self) -> Option<&[u8]> {
        self.length.or_else(|| {
            let added = self.added.iter().find(|(n, _)| *n == header::CONTENT_LENGTH);
            added.map(|(_, value)| value.as_bytes())
        })
    }

    fn remove_length(&mut self) {
        for (dropped, (name, _)) in self.dropped.iter_mut().zip(self.lines.iter()) {
            *dropped |= is_length(name);
        }
        self.length = None;
        if self.added_has(&header::CONTENT_LENGTH) {
            self.added.remove(header::CONTENT_LENGTH);
        }
    }

    fn has_coding(&self) -> bool {
        // The received ones are of one hop.
        self.added_has(&header::TRANSFER_ENCODING)
    }

    fn remove_coding(&mut self) {
        self.added.remove(header::TRANSFER_ENCODING);
    }

    fn has_date(&self) -> bool {
        self.date || self.added_has(&header::DATE)
    }

    fn connection_has(&self, token: &str) -> bool {
        // The received `Connection` fields are of one hop: only added ones are left.
        connection_has(self.added, token)
    }

    fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.added.append(name, value);
    }

    fn write(&self, dst: &mut BytesMut) {
        self.lines.write_kept(|i| self.dropped.get(i) == Some(&false), dst);
        hookyard_h1::write_fields(self.added, None, dst);
    }

    fn estimate(&self) -> usize {
        self.lines.raw_len() + self.added.len() * 32
    }
}

/// Whether a field named `name` is a `Content-Length`.
fn is_length(name: &[u8]) -> bool {
    is_name(name, b"content-length")
}

/// Writes a response head to a request as `asked` into `dst`, its fields framed for `body`;
/// how the body is framed, and whether the connection goes on (`keep_alive` says whether it
/// may).
pub(super) fn write(
    status: &Status<'_>,
    fields: &mut impl Fields,
    body: BodyFacts,
    asked: &Asked,
    keep_alive: bool,
    dst: &mut BytesMut,
) -> (BodyKind, bool) {
    let mut keep_alive = keep_alive && !fields.connection_has("close");
    let framing = framing(status.status, fields, body, asked);
    if framing == BodyKind::UntilClose {
        keep_alive = false;
    }
    let old_client = asked.version == Version::HTTP_10;
    if old_client && keep_alive && !fields.connection_has("keep-alive") {
        fields.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    let version = if old_client { Version::HTTP_10 } else { Version::HTTP_11 };
    dst.reserve(64 + fields.estimate());
    hookyard_h1::encode_status_line(status.status, version, status.reason, dst);
    fields.write(dst);
    match framing {
        BodyKind::Length(n) if fields.length().is_none() => {
            let _ = write!(dst, "content-length: {n}\r\n");
        }
        BodyKind::Empty if implicit_zero_length(status.status, fields, asked) => {
            dst.put_slice(b"content-length: 0\r\n");
        }
        BodyKind::Chunked => dst.put_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if !fields.has_date() {
        date::write(dst);
    }
    dst.put_slice(b"\r\n");
    (framing, keep_alive)
}

/// How a response's body is framed for the client, as hyper's server frames it: none for
/// `HEAD`, 1xx, 204, 304 and a 2xx to `CONNECT`; else its `Content-Length`, a known size, or
/// chunked (close-delimited to HTTP/1.0). Framing fields that do not apply are removed.
fn framing(
    status: StatusCode,
    fields: &mut impl Fields,
    body: BodyFacts,
    asked: &Asked,
) -> BodyKind {
    let no_body = !has_body(&asked.method, status);
    if fields.has_coding() {
        // Framed here: a coding the client did not ask for would not be understood.
        fields.remove_coding();
        if !no_body {
            fields.remove_length();
        }
    }
    if no_body {
        if asked.method != Method::HEAD {
            fields.remove_length();
        }
        return BodyKind::Empty;
    }
    if body.empty {
        fields.remove_length();
        return BodyKind::Empty;
    }
    let declared = fields.length().and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
    match declared.or(body.size) {
        Some(0) => BodyKind::Empty,
        Some(n) => BodyKind::Length(n),
        None if asked.version == Version::HTTP_10 => BodyKind::UntilClose,
        None => BodyKind::Chunked,
    }
}

/// Whether a response of `status` to `method` has a body (RFC 9112 §6.3): not to `HEAD`, not
/// 1xx, 204 or 304, not a 2xx to `CONNECT`.
fn has_body(method: &Method, status: StatusCode) -> bool {
    *method != Method::HEAD
        && !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
        && !(*method == Method::CONNECT && status.is_success())
}

/// Whether an empty body gets `Content-Length: 0` written (where a body could be, and the
/// head has no length yet).
fn implicit_zero_length(status: StatusCode, fields: &impl Fields, asked: &Asked) -> bool {
    has_body(&asked.method, status) && fields.length().is_none()
}

/// Whether the `Connection` fields of `headers` name `token`.
fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|value| {
        value.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use hookyard_h1::{Limits, ReasonPhrase, parse_response};
    use http::header::{self, HeaderMap, HeaderValue};
    use http::{Method, Version};

    use super::{Asked, BodyFacts, LineFields, MapFields, Status, write};
    use crate::origin::put_received;
    use crate::txn::fields::{count_forwarded, each_received, remove_hop_by_hop};

    /// Origin heads: plain ones, with fields of one hop and those `Connection` names, both
    /// framing fields, repeated names, odd case, and what no client should see.
    const HEADS: &[&str] = &[
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Fri, 04 Dec 2026 10:00:00 GMT\r\n\
         Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 404 Gone Fishing\r\ncontent-length: 0\r\nX-A: 1\r\nx-a: 2\r\nX-B: 3\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nTrailer: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Chunked: yes\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: X-Private, close\r\nX-Private: secret\r\n\
         Keep-Alive: timeout=5\r\nX-Public: 1\r\nContent-Length: 3\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: Date\r\nDate: Fri, 04 Dec 2026 10:00:00 GMT\r\n\r\n",
        "HTTP/1.1 200 OK\r\nCONNECTION: content-length\r\nContent-Length: 7\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 12\r\n\r\n",
        "HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n\
         Proxy-Authorization: Basic eA==\r\nX-Cache: hit\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.0 200 OK\r\nX-Old: été\r\nConnection: é, x-old\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: ,, x-gone ,\r\nX-Gone: 1\r\nX-Kept:  spaced  \r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: Keep-Alive, TE, x-kept, é\r\nKeep-Alive: timeout=5\r\n\
         X-Kept: 1\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
         X-Kept: 1\r\n\r\n",
    ];

    /// Fields a plugin may add to a response, each with values it may give: framing ones,
    /// those of one hop, and plain ones.
    const ADDED: &[(&str, &[&str])] = &[
        ("content-length", &["0", "3", "12"]),
        ("transfer-encoding", &["chunked", "gzip"]),
        ("connection", &["close", "keep-alive", "x-a"]),
        ("keep-alive", &["timeout=1"]),
        ("date", &["Mon, 01 Jan 2024 10:00:00 GMT"]),
        ("set-cookie", &["c=3"]),
        ("x-a", &["9"]),
        ("via", &["1.1 plugin"]),
        ("trailer", &["x"]),
    ];

    /// The head written both ways: the map as the transaction's phases leave it (its fields of
    /// one hop removed, `Via` appended), and the received lines with only `Via` in the map. (A
    /// head with a `Via` of its own goes the map's way: the proxy joins its own to it.)
    fn both(text: &str, asked: &Asked, body: BodyFacts, keep_alive: bool) -> [(String, bool); 2] {
        both_with(text, asked, body, keep_alive, &HeaderMap::new())
    }

    /// As [`both`], with the fields `plugin` added before `Via` (as a plugin's callback at
    /// READ_RESPONSE_HDR adds them): beside the received lines, or to the map once they are put.
    fn both_with(
        text: &str,
        asked: &Asked,
        body: BodyFacts,
        keep_alive: bool,
        plugin: &HeaderMap,
    ) -> [(String, bool); 2] {
        let mut outputs = Vec::new();
        for lines in [false, true] {
            let mut buf = BytesMut::from(text.as_bytes());
            let head = parse_response(&mut buf, &Limits::default(), &asked.method);
            let (parts, received) = head.unwrap().unwrap().into_parts_and_lines();
            let reason = parts.extensions.get::<ReasonPhrase>().map(ReasonPhrase::as_bytes);
            let status = Status { status: parts.status, reason };
            let via = HeaderValue::from_static("http/1.1 hookyard");
            let mut dst = BytesMut::new();
            let (kind, keep) = if lines {
                let mut added = plugin.clone();
                added.append(header::VIA, via);
                let mut fields = LineFields::new(&received, &mut added);
                write(&status, &mut fields, body, asked, keep_alive, &mut dst)
            } else {
                let (mut headers, case) = received.to_map().unwrap();
                if headers.contains_key(header::TRANSFER_ENCODING) {
                    headers.remove(header::CONTENT_LENGTH);
                }
                remove_hop_by_hop(&mut headers);
                crate::txn::fields::append_all(&mut headers, plugin.clone());
                headers.append(header::VIA, via);
                let mut fields = MapFields { headers: &mut headers, case: Some(&case) };
                write(&status, &mut fields, body, asked, keep_alive, &mut dst)
            };
            // The date the writer adds is the clock's: not compared (the heads' and plugins'
            // are past ones).
            let text = String::from_utf8_lossy(&dst);
            let clock = |l: &&str| {
                l.to_ascii_lowercase().starts_with("date: ")
                    && !l.contains("04 Dec 2026")
                    && !l.contains("01 Jan 2024")
            };
            let text: String = text.split_inclusive("\r\n").filter(|l| !clock(l)).collect();
            outputs.push((format!("{kind:?} {text}"), keep));
        }
        [outputs[0].clone(), outputs[1].clone()]
    }

    /// The lines of a head the origin sent, in their order and spelling: those the proxy adds
    /// go where the map puts them (a `Connection: keep-alive` to an HTTP/1.0 client in place
    /// of the origin's, spelt as it was), and are compared by [`sorted`].
    fn received(text: &str) -> Vec<&str> {
        let added = |l: &&str| {
            let l = l.to_ascii_lowercase();
            l.starts_with("via: http/1.1 hookyard") || l.starts_with("connection: keep-alive")
        };
        text.split_inclusive("\r\n").filter(|l| !added(l)).collect()
    }

    /// The lines of a head, names in lower case, sorted.
    fn sorted(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = text
            .split_inclusive("\r\n")
            .map(|l| match l.split_once(':') {
                Some((name, value)) => format!("{}:{value}", name.to_ascii_lowercase()),
                None => l.to_owned(),
            })
            .collect();
        lines.sort();
        lines
    }

    /// What a wasm filter is told a head has before it reads it (the fields
    /// [`each_received`] forwards, as many as [`count_forwarded`] counts) is what the map holds
    /// once it reads it.
    #[test]
    fn the_received_fields_forwarded_are_those_the_map_keeps() {
        for text in HEADS {
            let mut buf = BytesMut::from(text.as_bytes());
            let head = parse_response(&mut buf, &Limits::default(), &Method::GET);
            let (_, received) = head.unwrap().unwrap().into_parts_and_lines();
            let mut forwarded = Vec::new();
            each_received(&received, |name, value, kept| {
                if kept {
                    forwarded.push((name.to_ascii_lowercase(), value.to_vec()));
                }
            });
            let mut map = HeaderMap::new();
            put_received(&received, &mut map, remove_hop_by_hop).unwrap();
            let kept = map.iter().map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()));
            let mut kept: Vec<_> = kept.map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
            assert_eq!(count_forwarded(&received), forwarded.len(), "{text:?}");
            forwarded.sort();
            kept.sort();
            assert_eq!(forwarded, kept, "{text:?}");
        }
    }

    #[test]
    fn received_lines_are_written_as_the_map_would_write_them() {
        let mut compared = 0;
        for text in HEADS {
            for method in [Method::GET, Method::HEAD] {
                for version in [Version::HTTP_10, Version::HTTP_11] {
                    for keep_alive in [false, true] {
                        for (empty, size) in [(false, Some(5)), (false, None), (true, Some(0))] {
                            let asked = Asked { method: method.clone(), version, keep_alive };
                            let body = BodyFacts { empty, size };
                            let [map, lines] = both(text, &asked, body, keep_alive);
                            let context = format!("{text:?} to {method} {version:?}");
                            assert_eq!(map.1, lines.1, "{context}");
                            assert_eq!(received(&map.0), received(&lines.0), "{context}");
                            assert_eq!(sorted(&map.0), sorted(&lines.0), "{context}");
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(compared, HEADS.len() * 24);
    }

    /// Names an origin's head may have: those of one hop in either case, framing, `Date`, and
    /// plain ones a `Connection` field may name.
    const NAMES: &[&str] = &[
        "Connection",
        "connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Proxy-Authorization",
        "Proxy-Connection",
        "Content-Length",
        "content-length",
        "Date",
        "X-A",
        "x-a",
        "Set-Cookie",
        "Server",
    ];

    /// Values for `NAMES[i]`: token lists for `Connection`, lengths, codings, and text.
    fn value(name: &str, pick: usize) -> &'static str {
        const TOKENS: &[&str] =
            &["close", "keep-alive", "x-a", "X-A, server", "date", "Content-Length", ", ,", "é"];
        const TEXT: &[&str] = &["v", "two words", "", "Fri, 04 Dec 2026 10:00:00 GMT"];
        match name.to_ascii_lowercase().as_str() {
            "connection" | "proxy-connection" => TOKENS[pick % TOKENS.len()],
            "content-length" => ["5", "0", "12"][pick % 3],
            "transfer-encoding" => ["chunked", "gzip, chunked"][pick % 2],
            _ => TEXT[pick % TEXT.len()],
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any origin head the codec reads is written the same from its lines as from its map,
        /// and has as many fields forwarded as [`count_forwarded`] counts.
        #[test]
        fn any_head_is_written_the_same_from_its_lines(
            status in proptest::sample::select(vec![200u16, 203, 204, 206, 304, 404, 500]),
            old_origin in proptest::bool::ANY,
            fields in proptest::collection::vec((0..NAMES.len(), 0usize..8), 0..8),
            head in proptest::bool::ANY,
            old_client in proptest::bool::ANY,
            keep_alive in proptest::bool::ANY,
            empty in proptest::bool::ANY,
            size in proptest::option::of(0u64..20),
            plugin in proptest::collection::vec((0..ADDED.len(), 0usize..3), 0..3),
        ) {
            let mut text = format!("HTTP/1.{} {status} Reason\r\n", u8::from(!old_origin));
            for (name, pick) in fields {
                let name = NAMES[name];
                text.push_str(&format!("{name}: {}\r\n", value(name, pick)));
            }
            text.push_str("\r\n");
            let method = if head { Method::HEAD } else { Method::GET };
            // Heads the codec refuses (two lengths, a coding on HTTP/1.0) never get this far.
            let mut buf = BytesMut::from(text.as_bytes());
            proptest::prop_assume!(matches!(
                parse_response(&mut buf, &Limits::default(), &method),
                Ok(Some(_))
            ));
            let version = if old_client { Version::HTTP_10 } else { Version::HTTP_11 };
            let asked = Asked { method, version, keep_alive };
            let body = BodyFacts { empty, size: if empty { Some(0) } else { size } };
            let mut added = HeaderMap::new();
            for &(name, pick) in &plugin {
                let (name, values) = ADDED[name];
                added.append(name, HeaderValue::from_static(values[pick % values.len()]));
            }
            let [map, lines] = both_with(&text, &asked, body, keep_alive, &added);
            let (_, received_lines) = parse_response(&mut BytesMut::from(text.as_bytes()),
                &Limits::default(), &asked.method).unwrap().unwrap().into_parts_and_lines();
            let mut forwarded = 0;
            each_received(&received_lines, |_, _, kept| forwarded += usize::from(kept));
            proptest::prop_assert_eq!(count_forwarded(&received_lines), forwarded);
            proptest::prop_assert_eq!(map.1, lines.1);
            // Fields a plugin added to a name the origin sent go where the map puts them.
            if plugin.is_empty() {
                proptest::prop_assert_eq!(received(&map.0), received(&lines.0));
            }
            proptest::prop_assert_eq!(sorted(&map.0), sorted(&lines.0));
        }
    }

    #[test]
    fn fields_of_one_hop_are_not_forwarded() {
        let asked = Asked { method: Method::GET, version: Version::HTTP_11, keep_alive: true };
        let body = BodyFacts { empty: false, size: Some(3) };
        let [(_, _), (text, keep)] = both(HEADS[5], &asked, body, true);
        assert_eq!(
            text,
            "Length(3) HTTP/1.1 200 OK\r\nX-Public: 1\r\nContent-Length: 3\r\n\
             via: http/1.1 hookyard\r\n\r\n"
        );
        // The origin's `close` is its own connection's.
        assert!(keep);
        let [(_, _), (text, _)] =
            both(HEADS[3], &asked, BodyFacts { empty: false, size: None }, true);
        assert_eq!(
            text,
            "Chunked HTTP/1.1 200 OK\r\nvia: http/1.1 hookyard\r\ntransfer-encoding: chunked\r\n\r\n"
        );
    }
}
