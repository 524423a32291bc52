//! One transaction: a client request through remap to its origin and the response back.
//!
//! [`Transaction::run`] walks ATS's order; the plugin hooks will be dispatched at the points
//! marked `hook:` (ats-reference.md §5): TXN_START, READ_REQUEST_HDR, PRE_REMAP, the rule's
//! remap plugin chain, POST_REMAP, SEND_REQUEST_HDR, READ_RESPONSE_HDR, SEND_RESPONSE_HDR,
//! TXN_CLOSE. Everything a transaction needs lives in it, and it runs on the worker that
//! accepted its connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use hookyard_remap::{AclRequest, Remap, RuleUrl};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use tracing::{debug, warn};

use crate::config::Source;
use crate::host::{TxnState, UrlParts};
use crate::server::Generation;
use crate::server::worker::Conn;

/// A response body: the origin's, streamed, or one the proxy made.
pub type Body = Either<Incoming, Full<Bytes>>;

/// hyper's service entry: one call per request head.
pub(crate) async fn handle(
    conn: Arc<Conn>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let index = conn.state.requests.fetch_add(1, Ordering::Relaxed);
    conn.state.in_flight.fetch_add(1, Ordering::Relaxed);
    let stats = conn.worker.stats();
    stats.in_flight_started.fetch_add(1, Ordering::Relaxed);
    let mut txn = Transaction {
        // hook: TXN_START. The one atomic load of the generation, kept to the end.
        generation: conn.worker.shared.current.load_full(),
        client: conn.peer,
        local: conn.local,
        conflicting_framing: conn.state.conflicting(index),
    };
    let response = txn.run(&conn, request).await;
    // hook: TXN_CLOSE (when plugins arrive, after the body is sent).
    stats.response(response.status().as_u16());
    conn.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    Ok(response)
}

/// The state of one transaction.
pub(crate) struct Transaction {
    /// The configuration this transaction runs on, from start to end.
    pub(crate) generation: Arc<Generation>,
    /// The client's address.
    pub(crate) client: SocketAddr,
    /// The local address the connection was accepted on.
    pub(crate) local: SocketAddr,
    /// The request head had both `Content-Length` and `Transfer-Encoding`.
    conflicting_framing: bool,
}

/// The request target, split for remap.
struct RequestTarget {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Transaction {
    async fn run(&mut self, conn: &Conn, mut request: Request<Incoming>) -> Response<Body> {
        // hook: READ_REQUEST_HDR.
        if self.conflicting_framing {
            debug!("request with both Content-Length and Transfer-Encoding refused");
            let mut response = local(
                StatusCode::BAD_REQUEST,
                "Bad Request: both Content-Length and Transfer-Encoding\n",
            );
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        if request.method() == Method::CONNECT {
            return local(StatusCode::METHOD_NOT_ALLOWED, "CONNECT is not supported\n");
        }
        let settings = &self.generation.config.settings;
        if settings.health_path.as_deref() == Some(request.uri().path()) {
            return local(StatusCode::OK, "ok\n");
        }
        let Some(target) = request_target(&request) else {
            return local(
                StatusCode::BAD_REQUEST,
                "Bad Request: invalid request target or Host header\n",
            );
        };
        // hook: PRE_REMAP.
        let generation = self.generation.clone();
        let rules = generation.remap.rules();
        // A cheap clone (shared bytes): remap's answer borrows it while plugins edit the request.
        let uri = request.uri().clone();
        let remap_request = hookyard_remap::Request {
            scheme: &target.scheme,
            host: &target.host,
            port: target.port,
            path: uri.path().strip_prefix('/').unwrap_or(uri.path()),
            query: uri.query(),
            recv_port: Some(self.local.port()),
            http10: request.version() <= Version::HTTP_10,
        };
        let (rule, target) = match rules.remap(&remap_request) {
            Remap::NotFound => return self.not_found(&request, &target),
            Remap::Redirect { status, location, .. } => return redirect(status, &location),
            Remap::Map { rule, target } => (rule, target),
        };
        // hook: the rule's remap plugin chain, then POST_REMAP.
        let acl = AclRequest {
            method: request.method().as_str(),
            client: self.client.ip(),
            local: self.local.ip(),
            internal: false,
        };
        if !hookyard_remap::allowed(&rule.filters, &acl) {
            return local(StatusCode::FORBIDDEN, "Access Denied\n");
        }
        let chain = generation.remap.chain(rule);
        // Only a plugin chain needs owned, editable URL parts; without one the target is used as is.
        let mut edited: Option<UrlParts> = None;
        if !chain.is_empty() {
            let url = UrlParts {
                scheme: target.scheme.to_owned(),
                host: target.host.to_string(),
                port: target.port,
                path: format!("/{}", target.path),
                query: target.query.unwrap_or("").to_owned(),
            };
            let pristine = UrlParts {
                scheme: remap_request.scheme.to_owned(),
                host: remap_request.host.to_owned(),
                port: remap_request.port,
                path: uri.path().to_owned(),
                query: uri.query().unwrap_or("").to_owned(),
            };
            let headers = std::mem::take(request.headers_mut());
            let mut state = TxnState::new(request.method().clone(), url, pristine, headers);
            let outcome = state.run_chain(chain, rule_url(&rule.from), rule_url(&rule.to));
            *request.headers_mut() = std::mem::take(&mut state.headers);
            *request.method_mut() = state.method.clone();
            if let Some((status, body)) = state.direct.take() {
                return direct(status, body);
            }
            if outcome.redirect {
                return redirect(302, &state.url.to_url_string());
            }
            edited = Some(state.url);
        }
        let dest = match &edited {
            Some(url) => Dest {
                scheme: &url.scheme,
                host: &url.host,
                port: url.port,
                path: &url.path,
                query: &url.query,
            },
            None => Dest {
                scheme: target.scheme,
                host: &target.host,
                port: target.port,
                path: &target.path,
                query: target.query.unwrap_or(""),
            },
        };
        // hook: POST_REMAP.
        if dest.scheme != "http" {
            warn!(scheme = dest.scheme, "origin scheme not supported yet");
            return local(StatusCode::BAD_GATEWAY, "Bad Gateway: origin scheme not supported\n");
        }
        let Some(origin_uri) = origin_uri(&dest) else {
            return local(StatusCode::BAD_GATEWAY, "Bad Gateway: invalid origin URL\n");
        };
        let authority = match dest.port {
            Some(port) => format!("{}:{port}", dest.host),
            None => dest.host.to_owned(),
        };
        let Ok(host) = HeaderValue::from_str(&authority) else {
            return local(StatusCode::BAD_GATEWAY, "Bad Gateway: invalid origin host\n");
        };
        let origin = origin_uri.authority().cloned();
        *request.uri_mut() = origin_uri;
        *request.version_mut() = Version::HTTP_11;
        let headers = request.headers_mut();
        remove_hop_by_hop(headers);
        headers.insert(header::HOST, host);

        // hook: SEND_REQUEST_HDR.
        let timeout = settings.timeouts.origin_response;
        let response =
            match tokio::time::timeout(timeout, conn.worker.client.request(request)).await {
                Err(_) => {
                    debug!(?origin, "origin response timeout");
                    return local(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout\n");
                }
                Ok(Err(e)) if timed_out(&e) => {
                    debug!(?origin, error = %e, "origin connect timeout");
                    return local(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout\n");
                }
                Ok(Err(e)) => {
                    debug!(?origin, error = %e, "origin unreachable");
                    return local(StatusCode::BAD_GATEWAY, "Bad Gateway\n");
                }
                Ok(Ok(response)) => response,
            };
        // hook: READ_RESPONSE_HDR.
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        reverse_map(&generation, &mut parts.headers);
        // hook: SEND_RESPONSE_HDR.
        Response::from_parts(parts, Either::Left(body))
    }

    fn not_found(&self, request: &Request<Incoming>, target: &RequestTarget) -> Response<Body> {
        if self.generation.config.source == Source::Embedded && request.uri().path() == "/" {
            let mut response = local(StatusCode::OK, WELCOME);
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            return response;
        }
        if target.host.is_empty() {
            return local(StatusCode::BAD_REQUEST, "Host Header Required\n");
        }
        local(StatusCode::NOT_FOUND, "Not Found on Accelerator\n")
    }
}

/// The page `/` shows with the embedded default configuration.
const WELCOME: &str = "<!doctype html>\n<html><head><title>hookyard</title></head><body>\n\
<h1>hookyard is running</h1>\n\
<p>This is the embedded default configuration: no origins are configured.</p>\n\
<p>Start with <code>hookyard run --config DIR</code>, where <code>DIR</code> holds \
<code>remap.config</code> and optionally <code>hookyard.yaml</code> and <code>plugin.yaml</code> \
(see docs/operating.md). Health: <code>/_hookyard/health</code>.</p>\n</body></html>\n";

/// Scheme, host and port of a request: from an absolute-form target, else the `Host` header.
/// An empty host means neither had one.
fn request_target(request: &Request<Incoming>) -> Option<RequestTarget> {
    let uri = request.uri();
    if let Some(authority) = uri.authority() {
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        return Some(RequestTarget { scheme, host, port: authority.port_u16() });
    }
    if !uri.path().starts_with('/') {
        return None;
    }
    let scheme = "http".to_owned();
    let Some(value) = request.headers().get(header::HOST) else {
        return Some(RequestTarget { scheme, host: String::new(), port: None });
    };
    let authority: http::uri::Authority = value.to_str().ok()?.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
    Some(RequestTarget { scheme, host, port: authority.port_u16() })
}

/// Where a request goes: the rule's target, or the URL a plugin chain left.
struct Dest<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
    /// With or without its leading `/`.
    path: &'a str,
    /// Empty when there is none.
    query: &'a str,
}

fn origin_uri(dest: &Dest<'_>) -> Option<Uri> {
    let host = dest.host;
    let bracketed = host.contains(':') && !host.starts_with('[');
    let mut text = String::with_capacity(24 + host.len() + dest.path.len() + dest.query.len());
    text.push_str("http://");
    if bracketed {
        text.push('[');
    }
    text.push_str(host);
    if bracketed {
        text.push(']');
    }
    if let Some(port) = dest.port {
        text.push(':');
        text.push_str(&port.to_string());
    }
    if !dest.path.starts_with('/') {
        text.push('/');
    }
    text.push_str(dest.path);
    if !dest.query.is_empty() {
        text.push('?');
        text.push_str(dest.query);
    }
    Uri::try_from(text).ok()
}

/// Headers of one hop (RFC 9110 §7.6.1), and those `Connection` names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

/// Rewrites the origin's URLs in `Location`, `Content-Location`, `URI` and `Destination` with
/// the `reverse_map` rules.
fn reverse_map(generation: &Generation, headers: &mut HeaderMap) {
    let rules = generation.remap.rules();
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

fn timed_out(error: &hyper_util::client::legacy::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// A response the proxy makes itself.
pub(crate) fn local(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(body.as_bytes()))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn redirect(status: u16, location: &str) -> Response<Body> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    let mut response = local(status, "Redirect\n");
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => {
            local(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error: invalid redirect\n")
        }
    }
}

/// A rule's URL as plugins see it.
fn rule_url(url: &RuleUrl) -> UrlParts {
    UrlParts {
        scheme: url.scheme.clone(),
        host: url.host.clone(),
        port: url.port,
        path: format!("/{}", url.path),
        query: String::new(),
    }
}

/// A response a plugin asked for instead of going to the origin.
fn direct(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
