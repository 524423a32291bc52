//! What one callback sees of its transaction: the heads and body moved in for the call and
//! moved back out after it, and what the module asked for meanwhile.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;

use http::HeaderMap;

/// A request head as a filter sees it: the pseudo-headers Envoy's filters read, and the fields.
///
/// Pseudo-headers are `Cow`s so the common ones (a standard method, `http`) cost nothing to
/// copy, as the request as it arrived is kept for properties.
#[derive(Clone, Debug, Default)]
pub struct RequestHead {
    /// `:method`.
    pub method: Cow<'static, str>,
    /// `:path`: path and query.
    pub path: Cow<'static, str>,
    /// `:authority`: the host (and port) the request is for.
    pub authority: Cow<'static, str>,
    /// `:scheme`.
    pub scheme: Cow<'static, str>,
    /// The header fields.
    pub headers: HeaderMap,
}

/// A response head as a filter sees it.
#[derive(Clone, Debug, Default)]
pub struct ResponseHead {
    /// `:status`.
    pub status: u16,
    /// The header fields.
    pub headers: HeaderMap,
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
    pub(crate) request: Option<RequestHead>,
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
