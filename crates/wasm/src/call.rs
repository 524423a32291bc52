//! What one callback sees of its transaction: the heads and body moved in for the call and
//! moved back out after it, and what the module asked for meanwhile.

use std::any::Any;
use std::collections::HashMap;
use std::net::SocketAddr;

use http::uri::{PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// A request head as a filter sees it: the pseudo-headers Envoy's filters read, and the fields.
///
/// Pseudo-headers are the `http` crate's types: a copy of them (the request as it arrived,
/// kept for properties) shares their bytes instead of copying them, and a value a filter sets
/// is checked when it sets it.
#[derive(Debug)]
pub struct RequestHead {
    /// `:method`.
    pub method: Method,
    /// `:path`: path and query.
    pub path: PathAndQuery,
    /// `:authority`: the host (and port) the request is for.
    pub authority: HeaderValue,
    /// `:scheme`.
    pub scheme: Scheme,
    /// The header fields; with unread ones, those added since (see
    /// [`RequestHead::with_unread`]).
    pub headers: HeaderMap,
    /// Fields not in `headers` yet.
    unread: Lent,
}

impl Default for RequestHead {
    fn default() -> RequestHead {
        RequestHead {
            method: Method::GET,
            path: PathAndQuery::from_static("/"),
            authority: HeaderValue::from_static(""),
            scheme: Scheme::HTTP,
            headers: HeaderMap::new(),
            unread: Lent::default(),
        }
    }
}

/// The pseudo-headers of a request head, in the order a filter lists them.
pub(crate) const REQUEST_PSEUDO: [&str; 4] = [":authority", ":path", ":method", ":scheme"];

impl RequestHead {
    /// A head of these pseudo-headers and fields.
    pub fn new(
        method: Method,
        path: PathAndQuery,
        authority: HeaderValue,
        scheme: Scheme,
        headers: HeaderMap,
    ) -> RequestHead {
        RequestHead { method, path, authority, scheme, headers, unread: Lent::default() }
    }

    /// The head with the fields `unread` too, put into `headers` (before the fields there) when
    /// a filter first reads or changes the fields other than by adding one they may stay unread
    /// beside ([`Unread::may_add`]).
    pub fn with_unread(self, unread: Box<dyn Unread>) -> RequestHead {
        RequestHead { unread: Lent(Some((unread, false))), ..self }
    }

    /// Takes the unread fields the head was made with, if they are a `U` (whether they were
    /// put is theirs to tell); `headers` holds all fields if they were.
    pub fn take_unread<U: Unread>(&mut self) -> Option<Box<U>> {
        self.unread.take()
    }

    /// The header fields, with any unread ones put in first.
    pub(crate) fn fields(&mut self) -> &mut HeaderMap {
        self.unread.put(&mut self.headers);
        &mut self.headers
    }

    /// The header fields to add one named `name` to: unread ones are put in first unless they
    /// may stay so beside it.
    pub(crate) fn fields_to_add(&mut self, name: &HeaderName) -> &mut HeaderMap {
        self.unread.put_to_add(&mut self.headers, name);
        &mut self.headers
    }

    /// How many header fields the head has, unread ones included.
    pub(crate) fn len(&self) -> usize {
        self.headers.len() + self.unread.count()
    }

    /// The pseudo-headers alone, as the request arrived.
    pub(crate) fn arrived(&self) -> Arrived {
        Arrived {
            method: self.method.clone(),
            path: self.path.clone(),
            authority: self.authority.clone(),
            scheme: self.scheme.clone(),
        }
    }

    /// The value of pseudo-header `name`, if it is one of [`REQUEST_PSEUDO`].
    pub(crate) fn pseudo(&self, name: &[u8]) -> Option<&[u8]> {
        Some(match name {
            b":authority" => self.authority.as_bytes(),
            b":path" => self.path.as_str().as_bytes(),
            b":method" => self.method.as_str().as_bytes(),
            b":scheme" => self.scheme.as_str().as_bytes(),
            _ => return None,
        })
    }

    /// Sets pseudo-header `name` to `value`: `None` when `name` is not one, else whether
    /// `value` is valid for it (an empty or invalid one changes nothing). A path must be in
    /// origin form (`/` and on) or be `*`.
    pub(crate) fn set_pseudo(&mut self, name: &[u8], value: &[u8]) -> Option<bool> {
        let set = !value.is_empty();
        Some(match name {
            b":authority" => {
                set && HeaderValue::from_bytes(value).map(|v| self.authority = v).is_ok()
            }
            b":path" => {
                // Origin form, or `*` (`OPTIONS *`): what a request line's target may be.
                let form = value.starts_with(b"/") || value == b"*";
                form && PathAndQuery::try_from(value).map(|v| self.path = v).is_ok()
            }
            b":method" => set && Method::from_bytes(value).map(|v| self.method = v).is_ok(),
            b":scheme" => set && Scheme::try_from(value).map(|v| self.scheme = v).is_ok(),
            _ => return None,
        })
    }
}

/// A request's pseudo-headers as it arrived, kept for properties.
#[derive(Clone, Debug)]
pub(crate) struct Arrived {
    pub(crate) method: Method,
    pub(crate) path: PathAndQuery,
    pub(crate) authority: HeaderValue,
    pub(crate) scheme: Scheme,
}

/// Header fields of a head that its host has not put in the head's map yet, as a host that
/// forwards fields as received keeps them: a filter that reads or changes the head's fields
/// has them put there first, and one that does not leaves them unread.
pub trait Unread: Any + Send {
    /// How many fields putting them adds to the map.
    fn count(&self) -> usize;

    /// Puts them into `headers`, before the fields already there.
    fn put(&mut self, headers: &mut HeaderMap);

    /// Whether a field named `name` may be added to the map while they stay unread: put later,
    /// before it, they make what putting them first and adding it after would. Not unless
    /// they say so.
    fn may_add(&self, name: &HeaderName) -> bool {
        let _ = name;
        false
    }
}

/// Fields lent unread, and whether they have been put in their map.
#[derive(Default)]
struct Lent(Option<(Box<dyn Unread>, bool)>);

impl Lent {
    /// Puts the fields into `headers` (before those there), the first time only.
    fn put(&mut self, headers: &mut HeaderMap) {
        if let Some((unread, put @ false)) = &mut self.0 {
            unread.put(headers);
            *put = true;
        }
    }

    /// Puts the fields into `headers` unless they are put already or may stay unread beside
    /// a field named `name` added there.
    fn put_to_add(&mut self, headers: &mut HeaderMap, name: &HeaderName) {
        if let Some((unread, false)) = &self.0
            && !unread.may_add(name)
        {
            self.put(headers);
        }
    }

    /// How many fields are still unread.
    fn count(&self) -> usize {
        match &self.0 {
            Some((unread, false)) => unread.count(),
            _ => 0,
        }
    }

    /// Takes the fields, if they are a `U`.
    fn take<U: Unread>(&mut self) -> Option<Box<U>> {
        let (unread, _) = self.0.take()?;
        let unread: Box<dyn Any> = unread;
        unread.downcast().ok()
    }
}

impl std::fmt::Debug for Lent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} unread", self.count())
    }
}

/// A response head as a filter sees it.
#[derive(Debug, Default)]
pub struct ResponseHead {
    /// `:status`.
    pub status: u16,
    headers: HeaderMap,
    /// Fields not in `headers` yet.
    unread: Lent,
}

impl ResponseHead {
    /// A head with `status` and the fields `headers`.
    pub fn new(status: u16, headers: HeaderMap) -> ResponseHead {
        ResponseHead { status, headers, unread: Lent::default() }
    }

    /// A head with `status` and the fields `headers` and `unread`, put into `headers` when a
    /// filter first reads or changes them.
    pub fn with_unread(status: u16, headers: HeaderMap, unread: Box<dyn Unread>) -> ResponseHead {
        ResponseHead { status, headers, unread: Lent(Some((unread, false))) }
    }

    /// The header fields, with any unread ones put in first.
    pub fn headers(&mut self) -> &mut HeaderMap {
        self.unread.put(&mut self.headers);
        &mut self.headers
    }

    /// The header fields to add one named `name` to: unread ones are put in first unless they
    /// may stay so beside it.
    pub(crate) fn fields_to_add(&mut self, name: &HeaderName) -> &mut HeaderMap {
        self.unread.put_to_add(&mut self.headers, name);
        &mut self.headers
    }

    /// How many header fields the head has, unread ones included.
    pub fn len(&self) -> usize {
        self.headers.len() + self.unread.count()
    }

    /// Whether the head has no header field, unread or not.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The status, the fields in the map (all of them if the unread ones were put there),
    /// and the unread fields the head was made with, if they are a `U` (whether they were
    /// put is theirs to tell).
    pub fn into_parts<U: Unread>(mut self) -> (u16, HeaderMap, Option<Box<U>>) {
        let unread = self.unread.take();
        (self.status, self.headers, unread)
    }
}

/// A response a filter made instead of the origin's (`proxy_send_local_response`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    /// The status code.
    pub status: u16,
    /// Header fields to send with it, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

/// An HTTP call a filter asked for (`proxy_http_call`), to be made by the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCall {
    /// Its token: what the answer is delivered with.
    pub token: u32,
    /// The upstream the module named (the host of a remap rule).
    pub upstream: String,
    /// The request's headers, pseudo-headers (`:method`, `:path`, `:authority`) included.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The request body.
    pub body: Vec<u8>,
    /// How long the proxy waits for the answer, in milliseconds.
    pub timeout_ms: u32,
}

/// The answer to an [`HttpCall`], handed back with [`HttpFilter::http_call_response`].
///
/// [`HttpFilter::http_call_response`]: crate::HttpFilter::http_call_response
#[derive(Clone, Debug, Default)]
pub struct HttpCallResponse {
    /// The status; `None` when the call failed (the module then sees no headers).
    pub status: Option<u16>,
    /// The response's fields.
    pub headers: HeaderMap,
    /// The response's body.
    pub body: Vec<u8>,
}

/// What properties (`proxy_get_property`) a transaction answers.
#[derive(Clone, Debug, Default)]
pub struct Properties {
    /// The client's address (`source.address`, `source.port`).
    pub source: Option<SocketAddr>,
    /// The address the client connected to (`destination.address`, `destination.port`).
    pub destination: Option<SocketAddr>,
    /// The request's protocol (`request.protocol`: `HTTP/1.1`, `HTTP/2`).
    pub protocol: &'static str,
    /// The request as it arrived (`request.path`, `request.method`, `request.host`,
    /// `request.scheme`); filled in by the first request-headers callback.
    pub(crate) request: Option<Arrived>,
    /// The response status (`response.code`), once known.
    pub(crate) response_code: Option<u16>,
    /// What filters set (`proxy_set_property`).
    pub(crate) custom: HashMap<Vec<u8>, Vec<u8>>,
}

impl Properties {
    /// The properties of a transaction from `source` to `destination` over `protocol`.
    pub fn new(
        source: Option<SocketAddr>,
        destination: Option<SocketAddr>,
        protocol: &'static str,
    ) -> Properties {
        Properties { source, destination, protocol, ..Properties::default() }
    }
}

/// What the current callback may act on.
#[derive(Default)]
pub(crate) struct Call {
    pub(crate) request: Option<RequestHead>,
    pub(crate) response: Option<ResponseHead>,
    /// The body chunk of a body callback, and which (the ABI's buffer type).
    pub(crate) body: Option<(i32, bytes::Bytes)>,
    pub(crate) properties: Option<Box<Properties>>,
    pub(crate) local: Option<LocalResponse>,
    pub(crate) calls: Vec<HttpCall>,
    pub(crate) call_response: Option<HttpCallResponse>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_headers_take_valid_values_only() {
        let mut head = RequestHead::default();
        assert_eq!(head.set_pseudo(b":path", b"/a?b=1"), Some(true));
        assert_eq!(head.set_pseudo(b":method", b"PURGE"), Some(true));
        assert_eq!(head.set_pseudo(b":authority", b"example.com:8080"), Some(true));
        assert_eq!(head.set_pseudo(b":scheme", b"https"), Some(true));
        let refused: [(&[u8], &[u8]); 6] = [
            (b":path", b"no-slash"),
            (b":path", b"/a b"),
            (b":path", b""),
            (b":method", b"GE T"),
            (b":authority", b"bad\nhost"),
            (b":authority", b""),
        ];
        for (name, value) in refused {
            assert_eq!(head.set_pseudo(name, value), Some(false), "{value:?}");
        }
        assert_eq!(head.set_pseudo(b":status", b"200"), None);
        assert_eq!(head.set_pseudo(b"host", b"example.com"), None);
        // The refused values changed nothing.
        assert_eq!(head.pseudo(b":path"), Some(&b"/a?b=1"[..]));
        assert_eq!(head.pseudo(b":method"), Some(&b"PURGE"[..]));
        assert_eq!(head.pseudo(b":authority"), Some(&b"example.com:8080"[..]));
        assert_eq!(head.pseudo(b":scheme"), Some(&b"https"[..]));
        assert_eq!(head.set_pseudo(b":path", b"*"), Some(true));
    }

    #[test]
    fn a_copy_of_the_pseudo_headers_shares_their_bytes() {
        let mut head = RequestHead::default();
        head.set_pseudo(b":path", b"/a/long/enough/path?with=query").unwrap();
        let copy = head.arrived();
        assert_eq!(copy.path.as_str().as_ptr(), head.path.as_str().as_ptr());
    }
}
