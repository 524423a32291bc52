//! Every way a transaction is answered by the proxy itself rather than by its origin, and the
//! one place ([`Answer::response`]) that turns each into a response (and logs it).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{Either, Full};
use tracing::{debug, warn};

use super::Body;
use crate::origin::tls::TlsFailure;

/// Why the proxy answers a transaction itself.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The health route.
    Health,
    /// The health route while the server drains: 503, so load balancers move traffic away.
    Draining,
    /// `/` of the embedded default configuration.
    Welcome,
    /// `CONNECT`, which a reverse proxy does not tunnel.
    Connect,
    /// An invalid request target or `Host` field.
    BadTarget,
    /// A request field the header map cannot hold (the codec lets none through: kept rather
    /// than assumed).
    BadFields,
    /// An HTTP/2 request with more fields than `limits.max_headers` (hyper counts HTTP/1's).
    TooManyHeaders,
    /// No rule matched and the request named no host.
    NoHost,
    /// No rule matched.
    NotFound,
    /// A redirect rule matched, or a plugin chain asked for a redirect.
    Redirect { status: u16, location: String },
    /// The rule's ACL filters refused the request.
    Forbidden,
    /// A plugin's direct response.
    Direct { status: u16, body: Vec<u8> },
    /// A plugin callback failed the transaction.
    PluginFailed,
    /// A WebAssembly plugin's local response (`send_local_response`).
    WasmLocal(hookyard_wasm::LocalResponse),
    /// A WebAssembly plugin's callback trapped or passed a limit (logged and counted where it
    /// failed).
    WasmFailed,
    /// A plugin callback stayed pending past `timeouts.hook_pending`.
    HookTimedOut,
    /// The response head was not ready within `timeouts.transaction_active`.
    ActiveTimeout,
    /// A rule with a plugin chain lacked its URLs (a bug: they are made with the generation).
    RuleUrlsMissing,
    /// The origin URL's scheme is not served.
    OriginScheme(String),
    /// The origin URL cannot be a request target.
    InvalidOriginUrl,
    /// The origin host cannot be a `Host` field.
    InvalidOriginHost,
    /// The origin did not connect or answer in time.
    OriginTimeout,
    /// The origin could not be reached or failed the exchange.
    OriginFailed,
    /// The TLS handshake with an `https://` origin failed (logged where it failed).
    OriginTls(TlsFailure),
    /// The origin's host name did not resolve (for OS_DNS).
    OriginUnresolved,
    /// Every host of the rule's strategy is down, and it may not go direct.
    NoHostUp,
    /// The client's request body broke on its way (a malformed chunked coding): the client's
    /// error, and the rest of the connection cannot be framed.
    BadRequestBody,
    /// A plugin's body transform failed before the response head went.
    TransformFailed,
    /// An HTTP/2 connection already has twice `http2.max_concurrent_streams` transactions
    /// running (reset streams whose transactions still finish count): the stream is refused
    /// before it becomes a transaction.
    TooManyStreams,
    /// The client reset its HTTP/2 stream (or closed the connection) while the transaction ran:
    /// nobody reads an answer; the transaction ends with its TXN_CLOSE.
    ClientLeft,
}

impl Answer {
    /// The response to send.
    pub(crate) fn response(self) -> Response<Body> {
        match self {
            Answer::Health => local(StatusCode::OK, "ok\n"),
            Answer::Draining => local(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
            Answer::Welcome => {
                let mut response = local(StatusCode::OK, WELCOME);
                let html = HeaderValue::from_static("text/html; charset=utf-8");
                response.headers_mut().insert(header::CONTENT_TYPE, html);
                response
            }
            Answer::Connect => local(StatusCode::METHOD_NOT_ALLOWED, "CONNECT is not supported\n"),
            Answer::BadTarget => local(
                StatusCode::BAD_REQUEST,
                "Bad Request: invalid request target or Host header\n",
            ),
            Answer::BadFields => {
                closing(local(StatusCode::BAD_REQUEST, "Bad Request: invalid request field\n"))
            }
            Answer::TooManyHeaders => local(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request Header Fields Too Large: too many fields\n",
            ),
            Answer::NoHost => local(StatusCode::BAD_REQUEST, "Host Header Required\n"),
            Answer::NotFound => local(StatusCode::NOT_FOUND, "Not Found on Accelerator\n"),
            Answer::Redirect { status, location } => redirect(status, &location),
            Answer::Forbidden => local(StatusCode::FORBIDDEN, "Access Denied\n"),
            Answer::Direct { status, body } => {
                let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
                *response.status_mut() =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                response
            }
            Answer::WasmLocal(answer) => {
                let mut response =
                    Response::new(Either::Right(Full::new(Bytes::from(answer.body))));
                *response.status_mut() = StatusCode::from_u16(answer.status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                for (name, value) in answer.headers {
                    let name = header::HeaderName::from_bytes(name.as_bytes());
                    if let (Ok(name), Ok(value)) = (name, HeaderValue::from_bytes(&value)) {
                        response.headers_mut().append(name, value);
                    }
                }
                response
            }
            Answer::WasmFailed => local(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: a WebAssembly plugin failed the transaction\n",
            ),
            Answer::PluginFailed => local(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: a plugin failed the transaction\n",
            ),
            Answer::HookTimedOut => local(
                StatusCode::GATEWAY_TIMEOUT,
                "Gateway Timeout: a plugin did not resume the transaction within \
                 timeouts.hook_pending\n",
            ),
            Answer::ActiveTimeout => {
                debug!("transaction active timeout");
                local(
                    StatusCode::GATEWAY_TIMEOUT,
                    "Gateway Timeout: the transaction took longer than \
                     timeouts.transaction_active\n",
                )
            }
            Answer::RuleUrlsMissing => {
                warn!("a rule with a plugin chain has no URLs for its plugins");
                local(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n")
            }
            Answer::OriginScheme(scheme) => {
                warn!(%scheme, "origin scheme not supported yet");
                local(StatusCode::BAD_GATEWAY, "Bad Gateway: origin scheme not supported\n")
            }
            Answer::InvalidOriginUrl => {
                local(StatusCode::BAD_GATEWAY, "Bad Gateway: invalid origin URL\n")
            }
            Answer::InvalidOriginHost => {
                local(StatusCode::BAD_GATEWAY, "Bad Gateway: invalid origin host\n")
            }
            Answer::OriginTimeout => local(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout\n"),
            Answer::OriginFailed => local(StatusCode::BAD_GATEWAY, "Bad Gateway\n"),
            Answer::TransformFailed => {
                local(StatusCode::BAD_GATEWAY, "Bad Gateway: a body transform failed\n")
            }
            Answer::OriginTls(failure) => local(
                StatusCode::BAD_GATEWAY,
                match failure {
                    TlsFailure::NameMismatch => {
                        "Bad Gateway: name mismatch: the origin's certificate is for another name\n"
                    }
                    TlsFailure::Verification => {
                        "Bad Gateway: certificate verification failed for the origin\n"
                    }
                    TlsFailure::Handshake => "Bad Gateway: tls handshake failed with the origin\n",
                },
            ),
            Answer::NoHostUp => {
                local(StatusCode::BAD_GATEWAY, "Bad Gateway: no host of the strategy is up\n")
            }
            Answer::OriginUnresolved => {
                local(StatusCode::BAD_GATEWAY, "Bad Gateway: the origin host does not resolve\n")
            }
            Answer::BadRequestBody => {
                debug!("the client's request body failed");
                closing(local(StatusCode::BAD_REQUEST, "Bad Request: malformed request body\n"))
            }
            Answer::TooManyStreams => {
                debug!("too many transactions on one HTTP/2 connection");
                local(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable: too many transactions on this connection\n",
                )
            }
            Answer::ClientLeft => {
                debug!("the client left before its response");
                // nginx's "client closed request": what a log of this answer would show.
                let status = StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST);
                local(status, "Client Closed Request\n")
            }
        }
    }
}

/// The page `/` shows with the embedded default configuration.
const WELCOME: &str = "<!doctype html>\n<html><head><title>hookyard</title></head><body>\n\
<h1>hookyard is running</h1>\n\
<p>This is the embedded default configuration: no origins are configured.</p>\n\
<p>Start with <code>hookyard run --config DIR</code>, where <code>DIR</code> holds \
<code>remap.config</code> and optionally <code>hookyard.yaml</code> and <code>plugin.yaml</code> \
(see docs/operating.md). Health: <code>/_hookyard/health</code>.</p>\n</body></html>\n";

/// A response the proxy makes itself.
pub(crate) fn local(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(body.as_bytes()))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// `response`, after which the connection closes.
fn closing(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn redirect(status: u16, location: &str) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    let Ok(location) = HeaderValue::from_str(location) else {
        return local(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error: invalid redirect\n",
        );
    };
    let mut response = local(status, "Redirect\n");
    response.headers_mut().insert(header::LOCATION, location);
    response
}
