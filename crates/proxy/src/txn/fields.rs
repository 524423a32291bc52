//! Header fields as they cross the proxy: a client request's kept as received until something
//! reads them ([`ClientFields`], lent to plugins as [`LentRequest`], [`write_request_lines`]),
//! hop-by-hop fields removed, underscore spellings of framing fields dropped, origin URLs in
//! responses rewritten by `reverse_map` rules, an origin's own reason phrase kept while its
//! status stands.

use bytes::BytesMut;
pub(crate) use hookyard_h1::is_name;
use hookyard_h1::{FieldLines, HeaderCase, ReasonPhrase};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, response};
use smallvec::SmallVec;
use tracing::debug;

use crate::access_log::record::Fields;
use crate::generation::Generation;

/// Removes request fields whose name, with `_` read as `-`, is `Transfer-Encoding` or
/// `Content-Length`.
///
/// Origins that read `_` as `-` in names (CGI-style gateways, frameworks that turn names into
/// variables) would frame the body by such a field while the proxy does not: a known smuggling
/// vector. Dropped (logged at debug), not refused with 400: nginx by default ignores every name
/// with an underscore and ATS forwards them, so clients that send one harmlessly keep working,
/// and dropping alone removes the disagreement. Other names with underscores pass, as with ATS.
pub(crate) fn drop_underscored_framing(headers: &mut HeaderMap) {
    let found: SmallVec<[HeaderName; 2]> = headers
        .keys()
        .filter(|name| is_underscored_framing(name.as_str().as_bytes()))
        .cloned()
        .collect();
    for name in found {
        debug!(%name, "request field dropped: a framing field spelt with an underscore");
        headers.remove(name);
    }
}

/// Whether a request's fields as received have one [`drop_underscored_framing`] drops.
pub(crate) fn has_underscored_framing(lines: &FieldLines) -> bool {
    lines.iter().any(|(name, _)| is_underscored_framing(name))
}

/// Whether a field named `name` (in any case) would be dropped by
/// [`drop_underscored_framing`].
fn is_underscored_framing(name: &[u8]) -> bool {
    let spelt = |field: &[u8]| {
        name.len() == field.len()
            && name
                .iter()
                .zip(field)
                .all(|(a, b)| a.to_ascii_lowercase() == *b || (*a == b'_' && *b == b'-'))
    };
    // The exact framing names are the codec's to read.
    name.contains(&b'_') && (spelt(b"transfer-encoding") || spelt(b"content-length"))
}

/// Sets a response's status; an origin's own reason phrase (which hyper keeps in the
/// extensions and writes) goes with a status that changed.
pub(crate) fn set_status(parts: &mut response::Parts, status: StatusCode) {
    if parts.status != status {
        parts.status = status;
        parts.extensions.remove::<ReasonPhrase>();
    }
}

/// A response's own reason phrase (the origin's, when not its status's standard one).
pub(crate) fn reason(parts: &response::Parts) -> Option<Vec<u8>> {
    parts.extensions.get::<ReasonPhrase>().map(|r| r.as_bytes().to_vec())
}

/// Sets a response's reason phrase (`None`: its status's standard one), which hyper writes on
/// HTTP/1 (HTTP/2 has none).
pub(crate) fn set_reason(parts: &mut response::Parts, reason: Option<Vec<u8>>) {
    match reason.map(|r| ReasonPhrase::new(r.into())) {
        Some(Some(reason)) => {
            parts.extensions.insert(reason);
        }
        Some(None) | None => {
            parts.extensions.remove::<ReasonPhrase>();
        }
    }
}

/// Headers of one hop (RFC 9110 §7.6.1), and those `Connection` names.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names: most messages have none, or only `Connection`, and each removal
    // is a hash look-up, so only the names present are removed.
    let mut present: SmallVec<[HeaderName; 4]> =
        headers.keys().filter(|name| is_hop_by_hop(name)).cloned().collect();
    if present.is_empty() {
        return;
    }
    let named = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok());
    present.extend(named.collect::<SmallVec<[HeaderName; 4]>>());
    for name in present {
        headers.remove(name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    is_hop_by_hop_name(name.as_str().as_bytes())
}

/// Whether a field named `name` (in any case) is of one hop (RFC 9110 §7.6.1), whatever
/// `Connection` says; `Proxy-Authorization` too, which is the proxy's.
pub(crate) fn is_hop_by_hop_name(name: &[u8]) -> bool {
    let is = |hop: &[u8]| is_name(name, hop);
    // The length tells the names apart before any byte is compared.
    match name.len() {
        2 => is(b"te"),
        7 => is(b"trailer") || is(b"upgrade"),
        10 => is(b"connection") || is(b"keep-alive"),
        16 => is(b"proxy-connection"),
        17 => is(b"transfer-encoding"),
        19 => is(b"proxy-authorization"),
        _ => false,
    }
}

/// Visits an origin's received response fields in order, each with whether it goes on to the
/// client: not if it is of one hop, named by a `Connection` field, or a `Content-Length` beside
/// a `Transfer-Encoding` (as [`remove_hop_by_hop`] and the origin's framing rule leave a map).
pub(crate) fn each_received<'a>(
    lines: &'a FieldLines,
    mut visit: impl FnMut(&'a [u8], &'a [u8], bool),
) {
    let mut named: SmallVec<[&[u8]; 4]> = SmallVec::new();
    let mut coded = false;
    for (name, value) in lines.iter() {
        match name.len() {
            10 if is_name(name, b"connection") => connection_names(value, &mut named),
            17 if is_name(name, b"transfer-encoding") => coded = true,
            _ => {}
        }
    }
    for (name, value) in lines.iter() {
        let dropped = is_hop_by_hop_name(name)
            || named.iter().any(|n| n.eq_ignore_ascii_case(name))
            || (coded && is_name(name, b"content-length"));
        visit(name, value, !dropped);
    }
}

/// Adds to `named` the fields a `Connection` field's `value` names, other than those of one hop
/// (`keep-alive`, most often), which go anyway: none if the value is not text, as the map's
/// reading of it.
fn connection_names<'a>(value: &'a [u8], named: &mut SmallVec<[&'a [u8]; 4]>) {
    // Mostly one token (`keep-alive`, `close`): read without splitting.
    if !value.contains(&b',') {
        let token = value.trim_ascii();
        if !token.is_empty() && !is_hop_by_hop_name(token) && is_visible_ascii(value) {
            named.push(token);
        }
        return;
    }
    let tokens = value.split(|&b| b == b',').map(<[u8]>::trim_ascii);
    let before = named.len();
    named.extend(tokens.filter(|t| !t.is_empty() && !is_hop_by_hop_name(t)));
    if named.len() > before && !is_visible_ascii(value) {
        named.truncate(before);
    }
}

/// A client request's fields as the transaction has them.
#[derive(Debug)]
pub(crate) enum ClientFields {
    /// In the request's map; how the client spelt and ordered them.
    Case(HeaderCase),
    /// As received, the request's map holding none of them (only fields added since): nothing
    /// has had to read or change them. [`ClientFields::put`] puts them in the map.
    Lines(FieldLines),
}

impl ClientFields {
    /// Puts fields still as received into `headers`, before those added there since; then
    /// they are in the map.
    ///
    /// # Errors
    ///
    /// A field the map cannot hold (see [`FieldLines::to_request_map`]).
    pub(crate) fn put(&mut self, headers: &mut HeaderMap) -> Result<(), hookyard_h1::Error> {
        let ClientFields::Lines(lines) = self else { return Ok(()) };
        let (mut map, case) = lines.to_request_map()?;
        // Mostly nothing was added yet.
        if !headers.is_empty() {
            append_all(&mut map, std::mem::take(headers));
        }
        *headers = map;
        *self = ClientFields::Case(case);
        Ok(())
    }

    /// The fields as received, if they are not in the map.
    pub(crate) fn lines(&self) -> Option<&FieldLines> {
        match self {
            ClientFields::Lines(lines) => Some(lines),
            ClientFields::Case(_) => None,
        }
    }

    /// The record of the fields' case and order, once they are in the map.
    pub(crate) fn case(&self) -> Option<&HeaderCase> {
        match self {
            ClientFields::Case(case) => Some(case),
            ClientFields::Lines(_) => None,
        }
    }
}

/// A client request's fields lent to plugin state as received: put into its map (before the
/// fields plugins added) when a plugin first reads or changes one.
#[derive(Debug)]
pub(crate) struct LentRequest {
    fields: ClientFields,
    /// Whether they are lent as the origin request's (see [`LentRequest::to_origin`]).
    to_origin: bool,
    /// Whether putting them failed: the map could not hold one.
    failed: bool,
}

impl LentRequest {
    /// Lends `fields`.
    pub(crate) fn new(fields: ClientFields) -> LentRequest {
        LentRequest { fields, to_origin: false, failed: false }
    }

    /// Lends a client's fields as received (`lines`) as those of the request to its origin,
    /// whose map holds the fields plugins and the proxy added (its `Host` among them): put,
    /// they are the client's less those of one hop, then the added ones, `Host` replacing the
    /// client's in place, as the map's way makes them.
    pub(crate) fn to_origin(lines: FieldLines) -> LentRequest {
        LentRequest { fields: ClientFields::Lines(lines), to_origin: true, failed: false }
    }

    /// The fields, unless putting them failed.
    pub(crate) fn fields(&self) -> Option<&ClientFields> {
        (!self.failed).then_some(&self.fields)
    }

    /// Whether putting them failed.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// The fields: as received, or the record of their case and order once put.
    pub(crate) fn into_fields(self) -> ClientFields {
        self.fields
    }

    /// How many fields putting them adds to the map: the client's, or as the origin's, those
    /// going on less `Host` (the map has the proxy's).
    fn count(&self) -> usize {
        let ClientFields::Lines(lines) = &self.fields else { return 0 };
        if self.to_origin {
            let mut count = 0;
            each_going_on(lines, |_, _, _| count += 1);
            return count;
        }
        let mut count = 0;
        Seen::Client(lines).each(&mut |_, _| count += 1);
        count
    }

    /// Puts them into `headers`, before the fields there.
    fn put(&mut self, headers: &mut HeaderMap) -> Result<(), hookyard_h1::Error> {
        if !self.to_origin {
            return self.fields.put(headers);
        }
        let added = std::mem::take(headers);
        self.fields.put(headers)?;
        remove_hop_by_hop(headers);
        // The proxy's `Host` takes the client's place.
        let host = added.get(header::HOST).cloned();
        append_all(headers, added);
        if let Some(host) = host {
            headers.insert(header::HOST, host);
        }
        Ok(())
    }
}

impl hookyard_wasm::Unread for LentRequest {
    fn count(&self) -> usize {
        LentRequest::count(self)
    }

    fn put(&mut self, headers: &mut HeaderMap) {
        hookyard_host::Unread::put(self, headers);
    }

    fn may_add(&self, name: &HeaderName) -> bool {
        hookyard_host::Unread::may_add(self, name)
    }
}

impl hookyard_host::Unread for LentRequest {
    fn put(&mut self, headers: &mut HeaderMap) {
        if let Err(e) = LentRequest::put(self, headers) {
            debug!(error = %e, "request fields the map cannot hold");
            self.failed = true;
        }
    }

    /// A client's: as [`added_goes_as_it_is`]. An origin request's: any but `Host` (the
    /// proxy's stands in the client's place), since the fields of one hop and the forwarding
    /// ones were dealt with before it was made.
    fn may_add(&self, name: &HeaderName) -> bool {
        let ClientFields::Lines(lines) = &self.fields else { return true };
        if self.to_origin { name != header::HOST } else { added_goes_as_it_is(lines, name) }
    }
}

/// Whether a field named `name` added to a request's fields as received (`lines`) goes to
/// its origin as it is, after the client's: it is not of one hop nor named by the client's
/// `Connection`, which the map's way removes with the client's. (A forwarding field the proxy
/// joins its own to is joined to the added one either way.)
pub(crate) fn added_goes_as_it_is(lines: &FieldLines, name: &HeaderName) -> bool {
    let name = name.as_str().as_bytes();
    if is_hop_by_hop_name(name) {
        return false;
    }
    let mut named: SmallVec<[&[u8]; 4]> = SmallVec::new();
    for (field, value) in lines.iter() {
        if is_name(field, b"connection") {
            connection_names(value, &mut named);
        }
    }
    !named.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Appends every value of `from` to `map`, in `from`'s order.
pub(crate) fn append_all(map: &mut HeaderMap, from: HeaderMap) {
    let mut name = None;
    for (key, value) in from {
        // Later values of one name come without it.
        if key.is_some() {
            name = key;
        }
        if let Some(name) = &name {
            map.append(name.clone(), value);
        }
    }
}

/// The `Content-Length` of a request's fields as received (`lines`) that goes on to its
/// origin, as the map's way reads it once they are put and the fields of one hop removed: the
/// first such line's value (the codec refused others of another value).
pub(crate) fn received_length(lines: &FieldLines) -> Option<&[u8]> {
    let mut length = None;
    each_received(lines, |name, value, forwarded| {
        if forwarded && length.is_none() && is_name(name, b"content-length") {
            length = Some(value);
        }
    });
    length
}

/// The values of a request's `Host` fields as received (any case), sharing the head's bytes.
pub(crate) fn hosts(lines: &FieldLines) -> impl Iterator<Item = bytes::Bytes> + '_ {
    let named = lines.iter().enumerate().filter(|(_, (name, _))| is_name(name, b"host"));
    named.filter_map(|(i, _)| lines.shared_value(i))
}

/// Visits, by index, the client's lines that go on to its origin as they are: those
/// [`each_received`] forwards, less `Host` (the origin's takes the first one's place) and a
/// repeated `Content-Length` (the codec refused one with another value, and the map keeps
/// one); the index of the first `Host` line, if any.
fn each_going_on<'a>(
    lines: &'a FieldLines,
    mut visit: impl FnMut(usize, &'a [u8], &'a [u8]),
) -> Option<usize> {
    let (mut at, mut host_at, mut length) = (0, None, false);
    each_received(lines, |name, value, forwarded| {
        let host = is_name(name, b"host");
        if host && host_at.is_none() {
            host_at = Some(at);
        }
        let repeated = is_name(name, b"content-length") && std::mem::replace(&mut length, true);
        if forwarded && !host && !repeated {
            visit(at, name, value);
        }
        at += 1;
    });
    host_at
}

/// Writes a request's fields as received (`lines`) on their way to its origin, as the map's
/// way writes them once they are put there and the fields of one hop removed: the client's
/// lines that go on ([`each_going_on`]) in their spelling and order, with its `Host` replaced
/// in place by the one in `added`; then the other fields of `added` (those the proxy added),
/// in its order, names in lower case.
pub(crate) fn write_request_lines(lines: &FieldLines, added: &HeaderMap, dst: &mut BytesMut) {
    let mut kept: SmallVec<[bool; 32]> = SmallVec::from_elem(false, lines.len());
    let host_at = each_going_on(lines, |at, _, _| kept[at] = true);
    let keep = |i: usize| kept.get(i) == Some(&true);
    let host = added.get(header::HOST);
    match (host_at, host) {
        (Some(at), Some(host)) => {
            lines.write_kept_in(0..at, keep, dst);
            let name = lines.iter().nth(at).map_or(&b"host"[..], |(name, _)| name);
            hookyard_h1::write_field(name, host.as_bytes(), dst);
            lines.write_kept_in(at + 1..lines.len(), keep, dst);
        }
        _ => lines.write_kept(keep, dst),
    }
    for (name, value) in added {
        if host_at.is_none() || name != header::HOST {
            hookyard_h1::write_field(name.as_str().as_bytes(), value.as_bytes(), dst);
        }
    }
}

/// A request's fields as received, as an access log line reads them.
#[derive(Clone, Copy)]
pub(crate) enum Seen<'a> {
    /// A client's: what its map would hold (a repeated `Content-Length` once).
    Client(&'a FieldLines),
    /// On their way to the origin from a client's lines and the fields the proxy added: what
    /// [`write_request_lines`] writes.
    Origin(&'a FieldLines, &'a HeaderMap),
}

impl Fields for Seen<'_> {
    fn each<'s>(&'s self, visit: &mut dyn FnMut(&'s [u8], &'s [u8])) {
        match *self {
            Seen::Client(lines) => {
                let mut length = false;
                for (name, value) in lines.iter() {
                    if is_name(name, b"content-length") && std::mem::replace(&mut length, true) {
                        continue;
                    }
                    visit(name, value);
                }
            }
            Seen::Origin(lines, added) => {
                each_going_on(lines, |_, name, value| visit(name, value));
                added.each(visit);
            }
        }
    }
}

/// How many of an origin's received response fields go on to the client: those
/// [`each_received`] visits as forwarded. One look at each name, unless a `Connection` field
/// names fields other than those of one hop, or both framing fields are there: then
/// [`each_received`] counts.
pub(crate) fn count_forwarded(lines: &FieldLines) -> usize {
    let (mut dropped, mut coded, mut length) = (0, false, false);
    for (name, value) in lines.iter() {
        if is_hop_by_hop_name(name) {
            dropped += 1;
            if name.len() == 10 && is_name(name, b"connection") && names_other_fields(value) {
                return count_each_received(lines);
            }
            // The one name of one hop this long.
            coded |= name.len() == 17;
        } else {
            length |= is_name(name, b"content-length");
        }
    }
    if coded && length {
        return count_each_received(lines);
    }
    lines.len() - dropped
}

fn count_each_received(lines: &FieldLines) -> usize {
    let mut count = 0;
    each_received(lines, |_, _, forwarded| count += usize::from(forwarded));
    count
}

/// Whether a `Connection` value has a token other than the name of a field of one hop.
fn names_other_fields(value: &[u8]) -> bool {
    // Mostly one token (`keep-alive`, `close`): read without splitting.
    if !value.contains(&b',') {
        let token = value.trim_ascii();
        return !token.is_empty() && !is_hop_by_hop_name(token);
    }
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .any(|t| !t.is_empty() && !is_hop_by_hop_name(t))
}

/// Whether a value reads as text ([`HeaderValue::to_str`]'s test): visible ASCII and tabs.
fn is_visible_ascii(value: &[u8]) -> bool {
    value.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Joins an HTTP/2 request's `Cookie` fields into one, separated by `; ` (RFC 9113 §8.2.3:
/// HTTP/2 clients send each cookie as a field of its own, for compression, and a message passed
/// on to HTTP/1 must carry them as one). Plugins and origins then see what an HTTP/1 client
/// sends, and the crumbs do not count against `limits.max_headers` one by one.
pub(crate) fn join_cookies(headers: &mut HeaderMap) {
    let mut crumbs = headers.get_all(header::COOKIE).iter();
    let (Some(first), Some(_)) = (crumbs.next(), crumbs.next()) else { return };
    let mut joined = Vec::with_capacity(first.len() * 4);
    for (i, crumb) in headers.get_all(header::COOKIE).iter().enumerate() {
        if i > 0 {
            joined.extend_from_slice(b"; ");
        }
        joined.extend_from_slice(crumb.as_bytes());
    }
    // Valid field values joined by `; ` are a valid field value.
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, value);
    }
}

/// Rewrites the origin's URLs in `Location`, `Content-Location`, `URI` and `Destination` with
/// the `reverse_map` rules.
pub(crate) fn reverse_map(generation: &Generation, headers: &mut HeaderMap) {
    let rules = generation.remap.rules();
    if !rules.has_reverse() {
        return;
    }
    for name in [header::LOCATION, header::CONTENT_LOCATION] {
        rewrite(rules, headers, name);
    }
    for name in ["uri", "destination"] {
        rewrite(rules, headers, HeaderName::from_static(name));
    }
}

fn rewrite(rules: &hookyard_remap::Rules, headers: &mut HeaderMap, name: HeaderName) {
    let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) else { return };
    if let Some(new) = rules.reverse(value)
        && let Ok(new) = HeaderValue::from_str(&new)
    {
        headers.insert(name, new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names a request may have: `Host` in any case, those of one hop, and plain ones a
    /// `Connection` field may name.
    const NAMES: &[&str] = &[
        "Host",
        "hOsT",
        "Connection",
        "connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Proxy-Authorization",
        "Proxy-Connection",
        "Upgrade",
        "X-A",
        "x-a",
        "Accept",
        "Cookie",
        "Content-Length",
    ];

    /// Names a plugin may add: those a request may have, and forwarding ones.
    const ADDED: &[&str] = &[
        "host",
        "connection",
        "te",
        "x-a",
        "accept",
        "content-length",
        "via",
        "x-forwarded-for",
        "x-plugin",
        "x-plugin",
    ];

    /// Values for `NAMES[i]`: token lists for `Connection`, text otherwise.
    fn value(name: &str, pick: usize) -> &'static str {
        const TOKENS: &[&str] = &["close", "keep-alive", "x-a", "X-A, accept", "host", ", ,", "é"];
        const TEXT: &[&str] = &["v", "two words", "", "  spaced  ", "a=1; b=2"];
        match name.to_ascii_lowercase().as_str() {
            "connection" | "proxy-connection" => TOKENS[pick % TOKENS.len()],
            // Bodies other than none take the map's way.
            "content-length" => "0",
            _ => TEXT[pick % TEXT.len()],
        }
    }

    /// What a log line reads of `fields`: their length as written, and the text values of
    /// each name the generated heads have.
    fn seen(fields: &dyn Fields) -> (usize, Vec<Vec<&str>>) {
        use crate::access_log::record::{fields_len, texts};
        let names = ["host", "x-a", "accept", "cookie", "content-length", "connection", "via"];
        let texts = names.iter().map(|n| texts(fields, &HeaderName::from_static(n))).collect();
        (fields_len(fields), texts)
    }

    #[test]
    fn fields_put_in_the_map_come_before_those_added_there() {
        let text = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nAccept: */*\r\n\r\n";
        let limits = hookyard_h1::Limits::default();
        for added in [false, true] {
            let mut buf = BytesMut::from(text);
            let head = hookyard_h1::parse_request_lines(&mut buf, &limits).unwrap().unwrap();
            let (_, lines) = head.into_parts_and_lines();
            let mut fields = ClientFields::Lines(lines);
            assert!(fields.case().is_none());
            let mut headers = HeaderMap::new();
            if added {
                headers.append(header::VIA, HeaderValue::from_static("1.1 p"));
                headers.append("x-a", HeaderValue::from_static("3"));
            }
            fields.put(&mut headers).unwrap();
            let mut all: Vec<(&str, &[u8])> =
                headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
            let mut want: Vec<(&str, &[u8])> =
                vec![("host", b"a"), ("x-a", b"1"), ("x-a", b"2"), ("accept", b"*/*")];
            if added {
                want.insert(3, ("x-a", b"3"));
                want.push(("via", b"1.1 p"));
            }
            all.sort_by_key(|(n, _)| *n);
            want.sort_by_key(|(n, _)| *n);
            assert_eq!(all, want, "added {added}");
            assert_eq!(headers.get_all("x-a").iter().count(), 2 + usize::from(added));
            assert_eq!(fields.case().map(HeaderCase::len), Some(4));
            // Put once: again changes nothing.
            fields.put(&mut headers).unwrap();
            assert_eq!(headers.len(), 4 + 2 * usize::from(added));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any request head the codec reads goes to the origin the same from its lines as
        /// from its map: the fields of one hop removed, `Host` the proxy's, `Via` added, and
        /// before them those a plugin added, when they may go so.
        #[test]
        fn any_request_is_written_the_same_from_its_lines(
            fields in proptest::collection::vec((0..NAMES.len(), 0usize..8), 0..10),
            plugin in proptest::collection::vec((0..ADDED.len(), 0usize..8), 0..3),
            old_client in proptest::bool::ANY,
        ) {
            let mut text = format!("GET /p?q HTTP/1.{}\r\n", u8::from(!old_client));
            for (name, pick) in fields {
                let name = NAMES[name];
                text.push_str(&format!("{name}: {}\r\n", value(name, pick)));
            }
            text.push_str("\r\n");
            let limits = hookyard_h1::Limits::default();
            let parsed = hookyard_h1::parse_request(&mut BytesMut::from(text.as_str()), &limits);
            let Ok(Some(head)) = parsed else {
                proptest::prop_assume!(false);
                unreachable!()
            };
            let host = HeaderValue::from_static("origin.test:8080");
            let via = HeaderValue::from_static("http/1.1 edge");
            let (parts, case) = head.into_parts_and_case();
            let mut headers = parts.headers;
            let mut added = HeaderMap::new();
            let plugin_added = !plugin.is_empty();
            for (name, pick) in plugin {
                let name = ADDED[name];
                added.append(name, HeaderValue::from_bytes(value(name, pick).as_bytes()).unwrap());
            }
            let mut buf = BytesMut::from(text.as_str());
            let lines = hookyard_h1::parse_request_lines(&mut buf, &limits).unwrap().unwrap();
            // A log line reads the client's fields the same either way.
            let client = Seen::Client(lines.lines());
            proptest::prop_assert_eq!(
                seen(&client),
                seen(&headers),
                "{}",
                text
            );
            if !added.keys().all(|name| added_goes_as_it_is(lines.lines(), name)) {
                return Ok(());
            }
            append_all(&mut headers, added.clone());
            remove_hop_by_hop(&mut headers);
            headers.insert(header::HOST, host.clone());
            headers.append(header::VIA, via.clone());
            let mut from_map = BytesMut::new();
            hookyard_h1::write_fields(&headers, Some(&case), &mut from_map);
            added.insert(header::HOST, host);
            added.append(header::VIA, via);
            // And the origin's.
            let origin = Seen::Origin(lines.lines(), &added);
            proptest::prop_assert_eq!(
                seen(&origin),
                seen(&headers),
                "{}",
                text
            );
            let mut from_lines = BytesMut::new();
            write_request_lines(lines.lines(), &added, &mut from_lines);
            // Lent to a plugin as the origin request's and put in its map, they are the same
            // too.
            let mut lent = LentRequest::to_origin(lines.lines().clone());
            let mut put = added.clone();
            hookyard_host::Unread::put(&mut lent, &mut put);
            proptest::prop_assert!(!lent.failed());
            let ClientFields::Case(put_case) = lent.into_fields() else {
                return Err(proptest::test_runner::TestCaseError::fail("not put"));
            };
            let mut from_put = BytesMut::new();
            hookyard_h1::write_fields(&put, Some(&put_case), &mut from_put);
            let text_of = |b: &BytesMut| String::from_utf8_lossy(b).into_owned();
            let (from_lines, from_put, from_map) =
                (text_of(&from_lines), text_of(&from_put), text_of(&from_map));
            if plugin_added {
                // The map's order of names a plugin added is its table's (a removal moves its
                // last name into the gap); the lines keep the plugin's. Each name's values
                // keep their order either way.
                proptest::prop_assert_eq!(by_name(&from_lines), by_name(&from_map), "{}", text);
                proptest::prop_assert_eq!(by_name(&from_put), by_name(&from_map), "{}", text);
            } else {
                proptest::prop_assert_eq!(&from_lines, &from_map, "{}", text);
                proptest::prop_assert_eq!(&from_put, &from_map, "{}", text);
            }
        }
    }

    /// Written field lines grouped by name (any case), each name's in the order written.
    fn by_name(written: &str) -> Vec<(String, &str)> {
        let mut lines: Vec<(String, &str)> =
            written.split_terminator("\r\n").map(|l| (l.to_ascii_lowercase(), l)).collect();
        lines.sort_by(|a, b| a.0.split(':').next().cmp(&b.0.split(':').next()));
        lines
    }

    #[test]
    fn cookie_crumbs_are_joined_in_order() {
        let mut headers = HeaderMap::new();
        for crumb in ["a=1", "b=2", "c=3"] {
            headers.append(header::COOKIE, HeaderValue::from_static(crumb));
        }
        headers.append(header::ACCEPT, HeaderValue::from_static("*/*"));
        join_cookies(&mut headers);
        let cookies: Vec<_> = headers.get_all(header::COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1; b=2; c=3"]);
        assert_eq!(headers.len(), 2);
        let mut one = HeaderMap::new();
        one.insert(header::COOKIE, HeaderValue::from_static("a=1"));
        join_cookies(&mut one);
        assert_eq!(one.get(header::COOKIE).unwrap(), "a=1");
    }
}
