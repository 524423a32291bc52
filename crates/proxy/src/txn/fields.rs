//! Header fields as they cross the proxy: hop-by-hop fields removed, underscore spellings of
//! framing fields dropped, origin URLs in responses rewritten by `reverse_map` rules, an
//! origin's own reason phrase kept while its status stands.

pub(crate) use hookyard_h1::is_name;
use hookyard_h1::{FieldLines, ReasonPhrase};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, response};
use smallvec::SmallVec;
use tracing::debug;

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
    let found: SmallVec<[HeaderName; 2]> =
        headers.keys().filter(|name| is_underscored_framing(name.as_str())).cloned().collect();
    for name in found {
        debug!(%name, "request field dropped: a framing field spelt with an underscore");
        headers.remove(name);
    }
}

fn is_underscored_framing(name: &str) -> bool {
    let spelt = |field: &str| {
        name.len() == field.len()
            && name.bytes().zip(field.bytes()).all(|(a, b)| a == b || (a == b'_' && b == b'-'))
    };
    // Names are lower case; the exact framing names are hyper's to read.
    name.contains('_') && (spelt("transfer-encoding") || spelt("content-length"))
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
            10 if is_name(name, b"connection") => {
                // Tokens naming fields of one hop (`keep-alive`, most often) drop nothing more.
                let tokens = value.split(|&b| b == b',').map(|t| t.trim_ascii());
                let before = named.len();
                named.extend(tokens.filter(|t| !t.is_empty() && !is_hop_by_hop_name(t)));
                // A value that is not text names nothing, as the map's reading of it.
                if named.len() > before && !is_visible_ascii(value) {
                    named.truncate(before);
                }
            }
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
