//! The forwarding headers (`forwarding:` in `hookyard.yaml`): `Via` on requests to origins and
//! responses to clients, `X-Forwarded-For` and `Forwarded` (RFC 7239) on requests, each
//! appended to what the message already has, as ATS does (`HttpTransactHeaders.cc`).
//!
//! A generation makes its [`Forwarder`] once: the `Via` values are made then, so a request
//! pays a copy of a static value for `Via`, and a small string for the others when they are on.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use bytes::Bytes;
use http::Version;
use http::header::{self, Entry, HeaderMap, HeaderName, HeaderValue};

use crate::config::{ForwardedParams, Forwarding};

/// The forwarding headers of one generation.
#[derive(Debug)]
pub(crate) struct Forwarder {
    via_request: bool,
    via_response: bool,
    /// `Via` values per protocol version: HTTP/1.0, HTTP/1.1, HTTP/2.
    via: [HeaderValue; 3],
    x_forwarded_for: bool,
    forwarded: ForwardedParams,
}

/// What the forwarding headers say of the client's side of a transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientSide<'a> {
    /// The client's address.
    pub(crate) peer: SocketAddr,
    /// The address the client connected to.
    pub(crate) local: SocketAddr,
    /// The scheme the client used (`http` or `https`).
    pub(crate) proto: &'static str,
    /// The `Host` the client asked for (`host[:port]`).
    pub(crate) host: &'a str,
    /// The version of the client's request.
    pub(crate) version: Version,
}

impl Forwarder {
    /// The headers `settings` asks for.
    pub(crate) fn new(settings: &Forwarding) -> Forwarder {
        let via = |protocol: &str| {
            let text = format!(
                "{protocol} {} (hookyard/{})",
                settings.via_hostname,
                env!("CARGO_PKG_VERSION")
            );
            // The host name was checked to be a token when the settings were read.
            match HeaderValue::from_str(&text) {
                Ok(_) => HeaderValue::from_static(interned(text)),
                Err(_) => HeaderValue::from_static("http/1.1 hookyard"),
            }
        };
        Forwarder {
            via_request: settings.via.request,
            via_response: settings.via.response,
            via: [via("http/1.0"), via("http/1.1"), via("http/2")],
            x_forwarded_for: settings.x_forwarded_for,
            forwarded: settings.forwarded,
        }
    }

    /// Whether [`Forwarder::response`] adds `Via` (to the origin's, if it sent one).
    pub(crate) fn via_response(&self) -> bool {
        self.via_response
    }

    /// Whether `Forwarded` carries the client's `Host` (only then is it worth writing out).
    pub(crate) fn wants_host(&self) -> bool {
        self.forwarded.host
    }

    /// Adds the request's forwarding headers to the origin request's `headers`.
    pub(crate) fn request(&self, headers: &mut HeaderMap, client: &ClientSide<'_>) {
        if self.via_request {
            append(headers, header::VIA, self.via_for(client.version).clone());
        }
        if self.x_forwarded_for {
            let mut text = String::with_capacity(40);
            let _ = write!(text, "{}", client.peer.ip().to_canonical());
            if let Ok(value) = HeaderValue::from_str(&text) {
                append(headers, HeaderName::from_static("x-forwarded-for"), value);
            }
        }
        if self.forwarded.any()
            && let Ok(value) = HeaderValue::from_str(&self.forwarded_element(client))
        {
            append(headers, header::FORWARDED, value);
        }
    }

    /// Adds `Via` to a response received from an origin in `version`, on its way to the client.
    pub(crate) fn response(&self, headers: &mut HeaderMap, version: Version) {
        if self.via_response {
            append(headers, header::VIA, self.via_for(version).clone());
        }
    }

    /// The `Via` value for `version`: a copy costs no atomic operation (a shared value's
    /// reference count, taken and dropped by every worker twice a request, would move its
    /// cache line between cores each time).
    fn via_for(&self, version: Version) -> &HeaderValue {
        match version {
            Version::HTTP_09 | Version::HTTP_10 => &self.via[0],
            Version::HTTP_2 | Version::HTTP_3 => &self.via[2],
            _ => &self.via[1],
        }
    }

    /// One `Forwarded` element: `for`, `by`, `proto`, `host`, those switched on.
    fn forwarded_element(&self, client: &ClientSide<'_>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::with_capacity(4);
        if self.forwarded.r#for {
            pairs.push(("for", node(client.peer.ip())));
        }
        if self.forwarded.by {
            pairs.push(("by", node(client.local.ip())));
        }
        if self.forwarded.proto {
            pairs.push(("proto", client.proto.to_owned()));
        }
        if self.forwarded.host && !client.host.is_empty() {
            pairs.push(("host", client.host.to_owned()));
        }
        let mut text = String::with_capacity(64);
        for (i, (name, value)) in pairs.iter().enumerate() {
            if i > 0 {
                text.push(';');
            }
            text.push_str(name);
            text.push('=');
            quoted_if_needed(&mut text, value);
        }
        text
    }
}

/// `text` as a value that lives as long as the process: each distinct text is kept once, so
/// reloads that make the same `Via` values again keep nothing more.
fn interned(text: String) -> &'static str {
    static TEXTS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut texts = TEXTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(kept) = texts.get(text.as_str()) {
        return kept;
    }
    let kept: &'static str = Box::leak(text.into_boxed_str());
    texts.insert(kept);
    kept
}

/// A node (RFC 7239 §6): an IPv4 address (a v4-mapped one as IPv4, as a dual-stack listener
/// reports IPv4 clients), or an IPv6 address in brackets (quoted below).
fn node(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    }
}

/// `value` as a token, or as a quoted string when it is not one (RFC 9110 §5.6).
fn quoted_if_needed(text: &mut String, value: &str) {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !value.is_empty() && value.bytes().all(tchar) {
        text.push_str(value);
        return;
    }
    text.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            text.push('\\');
        }
        text.push(c);
    }
    text.push('"');
}

/// Whether a field named `name` (any case) is one the proxy may join its own value to (`Via`,
/// `X-Forwarded-For`, `Forwarded`).
pub(crate) fn joins(name: &[u8]) -> bool {
    use crate::txn::fields::is_name;
    is_name(name, b"via") || is_name(name, b"x-forwarded-for") || is_name(name, b"forwarded")
}

/// Appends `value` to the list field `name`: one field, the existing values first, separated
/// by `, ` (as ATS writes it), or `value` alone.
fn append(headers: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    // One look-up: most requests and responses have none of these fields.
    let mut existing = match headers.entry(name) {
        Entry::Vacant(vacant) => {
            vacant.insert(value);
            return;
        }
        Entry::Occupied(occupied) => occupied,
    };
    let mut joined = Vec::with_capacity(128);
    for old in existing.iter() {
        joined.extend_from_slice(old.as_bytes());
        joined.extend_from_slice(b", ");
    }
    joined.extend_from_slice(value.as_bytes());
    if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(joined)) {
        existing.insert(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Via;

    fn settings() -> Forwarding {
        Forwarding {
            via: Via { request: true, response: true },
            via_hostname: "edge".to_owned(),
            x_forwarded_for: true,
            forwarded: ForwardedParams { r#for: true, by: true, proto: true, host: true },
        }
    }

    fn client(peer: &str) -> ClientSide<'static> {
        ClientSide {
            peer: peer.parse().unwrap(),
            local: "10.0.0.1:8080".parse().unwrap(),
            proto: "http",
            host: "site.test:8080",
            version: Version::HTTP_11,
        }
    }

    #[test]
    fn every_header_is_added_in_atss_form() {
        let mut headers = HeaderMap::new();
        Forwarder::new(&settings()).request(&mut headers, &client("192.0.2.1:5000"));
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(headers["via"], format!("http/1.1 edge (hookyard/{version})").as_str());
        assert_eq!(headers["x-forwarded-for"], "192.0.2.1");
        assert_eq!(
            headers["forwarded"],
            "for=192.0.2.1;by=10.0.0.1;proto=http;host=\"site.test:8080\""
        );
    }

    #[test]
    fn existing_values_are_kept_first_in_one_field() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        headers.append("x-forwarded-for", HeaderValue::from_static("198.51.100.2"));
        headers.append("via", HeaderValue::from_static("1.0 cache"));
        headers.append("forwarded", HeaderValue::from_static("for=203.0.113.7"));
        let mut f = settings();
        f.forwarded = ForwardedParams { r#for: true, ..ForwardedParams::default() };
        Forwarder::new(&f).request(&mut headers, &client("[2001:db8::1]:5000"));
        assert_eq!(
            headers.get_all("x-forwarded-for").iter().collect::<Vec<_>>(),
            ["203.0.113.7, 198.51.100.2, 2001:db8::1"]
        );
        let via = headers["via"].to_str().unwrap();
        assert!(via.starts_with("1.0 cache, http/1.1 edge (hookyard/"), "{via}");
        assert_eq!(headers["forwarded"], "for=203.0.113.7, for=\"[2001:db8::1]\"");
    }

    #[test]
    fn nothing_is_added_when_switched_off_and_response_via_names_the_origins_version() {
        let off = Forwarding {
            via: Via { request: false, response: true },
            x_forwarded_for: false,
            forwarded: ForwardedParams::default(),
            ..settings()
        };
        let forwarder = Forwarder::new(&off);
        let mut headers = HeaderMap::new();
        forwarder.request(&mut headers, &client("192.0.2.1:5000"));
        assert!(headers.is_empty(), "{headers:?}");
        forwarder.response(&mut headers, Version::HTTP_10);
        assert!(headers["via"].to_str().unwrap().starts_with("http/1.0 edge "));
    }

    #[test]
    fn a_v4_mapped_client_is_written_as_ipv4() {
        let mut headers = HeaderMap::new();
        let mut f = settings();
        f.forwarded = ForwardedParams { r#for: true, ..ForwardedParams::default() };
        Forwarder::new(&f).request(&mut headers, &client("[::ffff:192.0.2.5]:5000"));
        assert_eq!(headers["x-forwarded-for"], "192.0.2.5");
        assert_eq!(headers["forwarded"], "for=192.0.2.5");
    }
}
