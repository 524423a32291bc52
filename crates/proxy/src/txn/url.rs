//! The one URL type of a transaction: [`Url`], a view of scheme, host, port, path and query,
//! over the request (its target and `Host`), a remap rule's target, or the URL plugins edited
//! (the host's owned `UrlParts`). Views cost no allocation; owned parts are made only when
//! plugins may edit them.

use compact_str::CompactString;
use hookyard_h1::FieldLines;
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::Authority;
use http::{Uri, Version};

use super::answer::Answer;
use hookyard_host::UrlParts;

/// A URL's parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    pub(crate) scheme: &'a str,
    /// Without brackets for an IPv6 address; empty when the request named none.
    pub(crate) host: &'a str,
    pub(crate) port: Option<u16>,
    /// With its leading `/`, or without (a remap target's path).
    pub(crate) path: &'a str,
    /// Empty when there is none.
    pub(crate) query: &'a str,
}

impl<'a> Url<'a> {
    /// The view of plugin-editable parts.
    pub(crate) fn of(parts: &'a UrlParts) -> Url<'a> {
        Url {
            scheme: &parts.scheme,
            host: &parts.host,
            port: parts.port,
            path: &parts.path,
            query: &parts.query,
        }
    }

    /// The view of a remap rule's target.
    pub(crate) fn of_target(target: &'a hookyard_remap::Target<'a>) -> Url<'a> {
        Url {
            scheme: target.scheme,
            host: &target.host,
            port: target.port,
            path: &target.path,
            query: target.query.unwrap_or(""),
        }
    }

    /// Owned parts for plugins to edit (the path with its leading `/`).
    pub(crate) fn to_parts(self) -> UrlParts {
        let slash = if self.path.starts_with('/') { "" } else { "/" };
        self.parts_with(slash)
    }

    /// Owned parts of a remap target: its path never has its leading `/`, so one is added
    /// even before a `/` it starts with (`//x` stays two slashes for plugins).
    pub(crate) fn target_parts(target: &hookyard_remap::Target<'_>) -> UrlParts {
        Url::of_target(target).parts_with("/")
    }

    /// Owned parts, the path after `lead`.
    fn parts_with(self, lead: &str) -> UrlParts {
        let mut path = CompactString::with_capacity(lead.len() + self.path.len());
        path.push_str(lead);
        path.push_str(self.path);
        UrlParts {
            scheme: self.scheme.into(),
            host: self.host.into(),
            port: self.port,
            path,
            query: self.query.into(),
        }
    }

    /// What remap matches: the path without its leading `/`.
    pub(crate) fn remap_request(
        self,
        recv_port: u16,
        version: Version,
    ) -> hookyard_remap::Request<'a> {
        hookyard_remap::Request {
            scheme: self.scheme,
            host: self.host,
            port: self.port,
            path: self.path.strip_prefix('/').unwrap_or(self.path),
            query: (!self.query.is_empty()).then_some(self.query),
            recv_port: Some(recv_port),
            http10: version <= Version::HTTP_10,
        }
    }

    /// The request target sent to the origin: its path and query (origin-form).
    pub(crate) fn origin_form(self) -> Result<Uri, Answer> {
        let mut text = String::with_capacity(2 + self.path.len() + self.query.len());
        if !self.path.starts_with('/') {
            text.push('/');
        }
        text.push_str(self.path);
        if !self.query.is_empty() {
            text.push('?');
            text.push_str(self.query);
        }
        Uri::try_from(text).map_err(|_| Answer::InvalidOriginUrl)
    }

    /// `host[:port]` as a `Host` header has it (an IPv6 address in brackets).
    pub(crate) fn authority(self) -> String {
        let bracketed = self.host.contains(':') && !self.host.starts_with('[');
        let mut text = String::with_capacity(self.host.len() + 8);
        if bracketed {
            text.push('[');
        }
        text.push_str(self.host);
        if bracketed {
            text.push(']');
        }
        if let Some(port) = self.port {
            text.push(':');
            text.push_str(itoa::Buffer::new().format(port));
        }
        text
    }
}

/// What the request says of its URL: its target and its one `Host` field (cheap clones of
/// shared bytes, so plugins may edit the request while the view is read).
pub(crate) struct RequestLine {
    uri: Uri,
    host: Option<HeaderValue>,
}

impl RequestLine {
    /// The request's target and `Host`. Refused (RFC 9112 §3.2): more than one `Host` field.
    pub(crate) fn of(parts: &Parts) -> Result<RequestLine, Answer> {
        let mut hosts = parts.headers.get_all(header::HOST).iter();
        let host = hosts.next().cloned();
        if hosts.next().is_some() {
            return Err(Answer::BadTarget);
        }
        Ok(RequestLine { uri: parts.uri.clone(), host })
    }

    /// As [`RequestLine::of`], the request's fields still as received (`lines`).
    pub(crate) fn of_lines(parts: &Parts, lines: &FieldLines) -> Result<RequestLine, Answer> {
        let mut hosts = super::fields::hosts(lines);
        let host = hosts.next().map(HeaderValue::from_maybe_shared).transpose();
        let host = host.map_err(|_| Answer::BadTarget)?;
        if hosts.next().is_some() {
            return Err(Answer::BadTarget);
        }
        Ok(RequestLine { uri: parts.uri.clone(), host })
    }

    /// Scheme, host and port from an absolute-form target, else `scheme` (the connection's)
    /// and the `Host` field (an empty host when neither names one), with the target's path and
    /// query. Refused: a target that
    /// is neither absolute nor a path, a `Host` that is no authority or has user info, and a port
    /// that is not a number up to 65535.
    pub(crate) fn url(&self, scheme: &'static str) -> Result<Url<'_>, Answer> {
        let uri = &self.uri;
        let (path, query) = (uri.path(), uri.query().unwrap_or(""));
        if let Some(authority) = uri.authority() {
            let scheme = uri.scheme_str().unwrap_or("http");
            let port = port(authority.as_str())?;
            return Ok(Url { scheme, host: host(authority), port, path, query });
        }
        if !path.starts_with('/') {
            return Err(Answer::BadTarget);
        }
        let Some(value) = &self.host else {
            return Ok(Url { scheme, host: "", port: None, path, query });
        };
        let text = value.to_str().map_err(|_| Answer::BadTarget)?;
        if !is_authority(text.as_bytes()) || text.contains('@') {
            return Err(Answer::BadTarget);
        }
        Ok(Url { scheme, host: host_of(text), port: port(text)?, path, query })
    }
}

/// Whether `text` is an authority as `http`'s [`Authority`] reads one (what its `try_from`
/// takes), checked in place: that parse copies the text into a buffer of its own, one
/// allocation per request to check a `Host` field.
///
/// Each byte is one a URI may have (RFC 3986 §2: unreserved, sub-delims, `:`, `@`, `[`, `]`,
/// and `%`); none of `/`, `?` and `#`, which would end the authority before the text does.
/// An IPv6 literal is one bracketed span, not after a `%`. Outside it, and after the last `@`
/// (what precedes is user info), there is at most one `:` and no `%` (a percent-encoded
/// character or a zone outside brackets is refused); an `@` does not end the text.
fn is_authority(text: &[u8]) -> bool {
    let (mut colons, mut percent) = (0, false);
    let (mut opened, mut closed) = (false, false);
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            b':' if colons >= MAX_COLONS => return false,
            b':' => colons += 1,
            b'%' => percent = true,
            b'[' if opened || percent => return false,
            b'[' => opened = true,
            b']' if !opened || closed => return false,
            // The colons and a `%` so far were the literal's (or its zone's).
            b']' => (closed, colons, percent) = (true, 0, false),
            b'@' if i + 1 == text.len() => return false,
            // The colons and a `%` so far were the user info's.
            b'@' => (colons, percent) = (0, false),
            _ => return false,
        }
    }
    !text.is_empty() && opened == closed && colons <= 1 && !percent
}

/// The most colons an authority may have outside brackets as it is read (an IPv6 address
/// written without them has seven; `http` refuses a ninth).
const MAX_COLONS: u32 = 8;

/// The host of a valid authority's text, without an IPv6 literal's brackets.
fn host_of(text: &str) -> &str {
    match text.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => text.bytes().rposition(|b| b == b':').map_or(text, |colon| &text[..colon]),
    }
}

/// An authority's host, without an IPv6 literal's brackets.
fn host(authority: &Authority) -> &str {
    authority.host().trim_start_matches('[').trim_end_matches(']')
}

/// An authority's port: `Ok(None)` when it has none (or an empty one, RFC 3986 §3.2.3), refused
/// when it is not digits making a number up to 65535 (`http` reads those as no port).
fn port(authority: &str) -> Result<Option<u16>, Answer> {
    let text = authority.as_bytes();
    // The last `:` after an IPv6 literal's `]`, if there is one (its colons are not the
    // port's). A byte loop: an authority is short, and searched once per request.
    let Some(colon) = text.iter().rposition(|&b| b == b':' || b == b']') else { return Ok(None) };
    if text[colon] == b']' {
        return Ok(None);
    }
    let digits = &text[colon + 1..];
    if digits.is_empty() {
        return Ok(None);
    }
    // Digits only (no sign), at most 65535; leading zeros allowed, as `u16`'s parse has them.
    let mut port: u32 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(Answer::BadTarget);
        }
        port = port * 10 + u32::from(b - b'0');
        if port > u32::from(u16::MAX) {
            return Err(Answer::BadTarget);
        }
    }
    Ok(Some(port as u16))
}

#[cfg(test)]
mod tests {
    use http::uri::Authority;

    use super::{Answer, Url, host_of, is_authority, port};

    #[test]
    fn an_authority_is_the_host_bracketed_if_need_be_and_its_port() {
        let url = |host, port| Url { scheme: "http", host, port, path: "/", query: "" };
        assert_eq!(url("example.com", None).authority(), "example.com");
        assert_eq!(url("example.com", Some(8080)).authority(), "example.com:8080");
        assert_eq!(url("10.0.0.1", Some(0)).authority(), "10.0.0.1:0");
        assert_eq!(url("::1", Some(65535)).authority(), "[::1]:65535");
        assert_eq!(url("[::1]", Some(443)).authority(), "[::1]:443");
        assert_eq!(url("::1", None).authority(), "[::1]");
    }

    fn port_of(text: &str) -> Result<Option<u16>, Answer> {
        assert!(is_authority(text.as_bytes()), "{text}");
        port(text)
    }

    /// Every text of up to five bytes from an alphabet of the bytes the rules tell apart, and
    /// some longer ones: checked in place as `http` parses them.
    #[test]
    fn an_authority_is_checked_in_place_as_http_parses_it() {
        let alphabet = b"a1:@[]%/?#.- \"{";
        let mut text = Vec::new();
        let mut checked = 0;
        for len in 0..=5u32 {
            for mut n in 0..alphabet.len().pow(len) {
                text.clear();
                for _ in 0..len {
                    text.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                let parsed =
                    std::str::from_utf8(&text).is_ok_and(|t| Authority::try_from(t).is_ok());
                assert_eq!(is_authority(&text), parsed, "{:?}", String::from_utf8_lossy(&text));
                checked += 1;
            }
        }
        assert!(checked > 800_000);
        for text in [
            "example.com",
            "example.com:8080",
            "user:pass@example.com:80",
            "a@b@c",
            "[fe80::1%25eth0]:443",
            "[2001:db8::7]",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8",
            "[1:2:3:4:5:6:7:8:9:10]",
            "héllo.example",
            "%41.example",
            "[::1]]",
            "[[::1]",
            "x]:80",
        ] {
            let parsed = Authority::try_from(text).is_ok();
            assert_eq!(is_authority(text.as_bytes()), parsed, "{text}");
        }
    }

    #[test]
    fn an_authority_has_its_port_after_its_last_colon_outside_brackets() {
        assert_eq!(port_of("example.com").unwrap(), None);
        assert_eq!(port_of("example.com:8080").unwrap(), Some(8080));
        assert_eq!(port_of("example.com:").unwrap(), None);
        assert_eq!(port_of("[::1]").unwrap(), None);
        assert_eq!(port_of("[::1]:8443").unwrap(), Some(8443));
        assert_eq!(port_of("[::1]:").unwrap(), None);
        assert_eq!(port_of("127.0.0.1:0").unwrap(), Some(0));
        assert!(matches!(port_of("example.com:65536"), Err(Answer::BadTarget)));
        assert!(matches!(port_of("example.com:+80"), Err(Answer::BadTarget)));
        assert_eq!(port_of("example.com:65535").unwrap(), Some(65535));
        assert_eq!(port_of("example.com:0080").unwrap(), Some(80));
        assert_eq!(port_of("example.com:000000000000000443").unwrap(), Some(443));
        assert!(matches!(port_of("example.com:99999999999999999999"), Err(Answer::BadTarget)));
        // Every port, and the first numbers past them, as `u16` parses them.
        for n in 0..70_000u32 {
            let parsed = port(&format!("h:{n}")).ok().flatten();
            assert_eq!(parsed, u16::try_from(n).ok(), "{n}");
        }
    }

    #[test]
    fn an_authority_has_its_host_before_its_port_without_brackets() {
        assert_eq!(host_of("example.com"), "example.com");
        assert_eq!(host_of("example.com:8080"), "example.com");
        assert_eq!(host_of("example.com:"), "example.com");
        assert_eq!(host_of("[::1]:8443"), "::1");
        assert_eq!(host_of("[::1]"), "::1");
    }
}
