//! One transaction: a client request through hooks and remap to its origin and the response
//! back, in ATS's order (`docs/hooks.md`; ATS's `src/proxy/http/HttpSM.cc`): TXN_START,
//! READ_REQUEST_HDR, PRE_REMAP, remap and the rule's plugin chain, POST_REMAP, SEND_REQUEST_HDR,
//! READ_RESPONSE_HDR, SEND_RESPONSE_HDR, and TXN_CLOSE once the response body is sent (or the
//! client left). Everything a transaction
//! needs lives in it, and it runs on the worker that accepted its connection.
//!
//! A transaction of a generation without hooks and a rule without plugins makes no plugin state
//! at all; the state (a [`TxnBox`]) exists as soon as a hook or a plugin chain may run.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use hookyard_abi as abi;
use hookyard_hooks::{HookId, Outcome};
use hookyard_remap::{AclRequest, Remap};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Full};
use hyper::body::{Frame, Incoming, SizeHint};
use smallvec::SmallVec;
use tracing::{debug, warn};

use crate::config::Source;
use crate::server::Generation;
use crate::server::body::RequestBody;
use crate::server::origin::OriginError;
use crate::server::worker::Conn;
use hookyard_host::{ResponseHead, TxnBox, UrlParts};

/// A response body: the origin's, streamed, or one the proxy made.
pub type Body = Either<Incoming, Full<Bytes>>;

/// The body hyper sends: a [`Body`], and the transaction's plugin state, whose TXN_CLOSE runs
/// when the body is done with.
pub(crate) struct TxnBody {
    inner: Body,
    state: Option<TxnBox>,
}

impl hyper::body::Body for TxnBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        match &mut this.inner {
            Either::Left(body) => Pin::new(body).poll_frame(cx),
            Either::Right(body) => Pin::new(body).poll_frame(cx).map_err(|never| match never {}),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TxnBody {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            state.close();
        }
    }
}

/// hyper's service entry: one call per request head.
pub(crate) async fn handle(
    conn: Arc<Conn>,
    request: Request<Incoming>,
) -> Result<Response<TxnBody>, Infallible> {
    let index = conn.state.requests.fetch_add(1, Ordering::Relaxed);
    let mut in_flight = InFlight::start(&conn);
    let mut txn = Transaction {
        // The one atomic load of the generation, kept to the end.
        generation: conn.worker.shared.current.load_full(),
        client: conn.peer,
        local: conn.local,
        conflicting_framing: conn.state.conflicting(index),
        state: None,
    };
    let (mut parts, body) = request.into_parts();
    let limit = txn.generation.config.settings.timeouts.transaction_active;
    let ran = tokio::time::timeout(limit, async {
        let response = txn.run(&conn, &mut parts, body).await;
        txn.finish(response).await
    });
    let response = match ran.await {
        Ok(response) => response,
        Err(_) => {
            let response = txn.timed_out();
            txn.finish(response).await
        }
    };
    in_flight.answered(response.status().as_u16());
    let shared = &conn.worker.shared;
    if shared.sample_armed.load(Ordering::Relaxed) {
        shared.answer_sample(|| match &mut txn.state {
            Some(state) => state.inspect(crate::report::hook_listing),
            None => crate::report::hook_listing(
                &txn.generation.hooks.table.load(),
                &txn.generation.hooks.priorities,
                &hookyard_hooks::Local::default(),
            ),
        });
    }
    let state = txn.state.take();
    Ok(response.map(|inner| TxnBody { inner, state }))
}

/// Counts a transaction in flight, on its connection and its worker, until it has its response
/// or is dropped on the way (its client left): every path ends the count.
struct InFlight<'a> {
    conn: &'a Conn,
    answered: bool,
}

impl<'a> InFlight<'a> {
    fn start(conn: &'a Conn) -> InFlight<'a> {
        conn.state.in_flight.fetch_add(1, Ordering::Relaxed);
        conn.worker.stats().in_flight_started.fetch_add(1, Ordering::Relaxed);
        InFlight { conn, answered: false }
    }

    fn answered(&mut self, status: u16) {
        self.conn.worker.stats().response(status);
        self.answered = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.conn.state.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.answered {
            self.conn.worker.stats().abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
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
    /// What plugins see of the transaction, once a hook or plugin chain may run.
    state: Option<TxnBox>,
}

/// The request target, split for remap.
struct RequestTarget {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// A hook ended the transaction before its origin: a plugin set a direct response, or a
/// callback failed it ([`Transaction::early`] tells which from the state).
struct Early;

impl Transaction {
    /// Makes the plugin state (and the connection's session state, with its SSN_START, the
    /// first time).
    async fn make_state(&mut self, conn: &Conn, parts: &mut Parts, url: UrlParts) {
        let global = self.generation.hooks.clone();
        // Boxed here and below: hook dispatch only runs with plugin state, and its futures would
        // make every transaction's larger (it is moved into hyper whole).
        let session = match conn.session_now() {
            Some(session) => Some(session),
            None => Box::pin(conn.session(&global)).await,
        };
        let headers = std::mem::take(&mut parts.headers);
        self.state = Some(TxnBox::new(global, session, parts.method.clone(), url, headers));
    }

    /// Runs `hook` if there is plugin state; what it means for the transaction.
    async fn hook(&mut self, hook: HookId) -> Result<(), Early> {
        let Some(state) = &mut self.state else { return Ok(()) };
        if !state.hooked() {
            return if state.get().direct.is_some() { Err(Early) } else { Ok(()) };
        }
        let outcome = Box::pin(state.hook(hook)).await;
        if state.get().direct.is_some() {
            return Err(Early);
        }
        if outcome == Outcome::Error { Err(Early) } else { Ok(()) }
    }

    /// The response for a transaction ended early by a plugin.
    fn early(&mut self, Early: Early) -> Response<Body> {
        let Some(state) = self.state.as_mut().map(TxnBox::get) else {
            return plugin_failed();
        };
        match state.direct.take() {
            Some((status, body)) => direct_response(status, body),
            None if state.timed_out => hook_timed_out(),
            None => plugin_failed(),
        }
    }

    /// The transaction's active timeout passed before its response head: 504 (which goes
    /// through SEND_RESPONSE_HDR like any response; TXN_CLOSE follows).
    fn timed_out(&mut self) -> Response<Body> {
        if let Some(state) = &mut self.state {
            state.expire();
        }
        debug!("transaction active timeout");
        local(
            StatusCode::GATEWAY_TIMEOUT,
            "Gateway Timeout: the transaction took longer than timeouts.transaction_active\n",
        )
    }

    /// SEND_RESPONSE_HDR: plugins see (and may change) the response head before it goes.
    async fn finish(&mut self, response: Response<Body>) -> Response<Body> {
        let Some(state) = &mut self.state else { return response };
        let (mut parts, body) = response.into_parts();
        let s = state.get();
        if s.client_response.is_none() {
            let headers = std::mem::take(&mut parts.headers);
            s.client_response = Some(ResponseHead { status: parts.status, headers });
        }
        if state.hooked() && Box::pin(state.hook(HookId::SendResponseHdr)).await == Outcome::Error {
            let s = state.get();
            s.client_response = None;
            return if s.timed_out { hook_timed_out() } else { plugin_failed() };
        }
        if let Some(head) = state.get().client_response.take() {
            parts.status = head.status;
            parts.headers = head.headers;
        }
        Response::from_parts(parts, body)
    }

    async fn run(&mut self, conn: &Conn, parts: &mut Parts, body: Incoming) -> Response<Body> {
        if self.conflicting_framing {
            debug!("request with both Content-Length and Transfer-Encoding refused");
            let mut response = local(
                StatusCode::BAD_REQUEST,
                "Bad Request: both Content-Length and Transfer-Encoding\n",
            );
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        if parts.method == Method::CONNECT {
            return local(StatusCode::METHOD_NOT_ALLOWED, "CONNECT is not supported\n");
        }
        let generation = self.generation.clone();
        let settings = &generation.config.settings;
        if settings.health_path.as_deref() == Some(parts.uri.path()) {
            return local(StatusCode::OK, "ok\n");
        }
        let Some(target) = request_target(parts) else {
            return local(
                StatusCode::BAD_REQUEST,
                "Bad Request: invalid request target or Host header\n",
            );
        };
        drop_underscored_framing(&mut parts.headers);
        // A cheap clone (shared bytes): remap's answer borrows it while plugins edit the request.
        let uri = parts.uri.clone();
        if generation.hooks.has_hooks() || conn.has_session_hooks() {
            let url = UrlParts {
                scheme: target.scheme.clone(),
                host: target.host.clone(),
                port: target.port,
                path: uri.path().to_owned(),
                query: uri.query().unwrap_or("").to_owned(),
            };
            self.make_state(conn, parts, url).await;
        }
        for hook in [HookId::TxnStart, HookId::ReadRequestHdr, HookId::PreRemap] {
            if let Err(early) = self.hook(hook).await {
                return self.early(early);
            }
        }
        // Plugins may have changed the request URL before remap (as in ATS).
        let edited = self.state.as_mut().map(|s| s.get().url.clone());
        let (scheme, host, port, path, query) = match &edited {
            Some(url) => (
                url.scheme.as_str(),
                url.host.as_str(),
                url.port,
                url.path.as_str(),
                (!url.query.is_empty()).then_some(url.query.as_str()),
            ),
            None => {
                (target.scheme.as_str(), target.host.as_str(), target.port, uri.path(), uri.query())
            }
        };
        let rules = generation.remap.rules();
        let remap_request = hookyard_remap::Request {
            scheme,
            host,
            port,
            path: path.strip_prefix('/').unwrap_or(path),
            query,
            recv_port: Some(self.local.port()),
            http10: parts.version <= Version::HTTP_10,
        };
        let (rule, target) = match rules.remap(&remap_request) {
            Remap::NotFound => return self.not_found(parts, host),
            Remap::Redirect { status, location, .. } => return redirect(status, &location),
            Remap::Map { rule, target } => (rule, target),
        };
        let acl = AclRequest {
            method: parts.method.as_str(),
            client: self.client.ip(),
            local: self.local.ip(),
            internal: false,
        };
        if !hookyard_remap::allowed(&rule.filters, &acl) {
            return local(StatusCode::FORBIDDEN, "Access Denied\n");
        }
        let chain = generation.remap.chain(rule);
        if !chain.is_empty() && self.state.is_none() {
            let pristine = UrlParts {
                scheme: remap_request.scheme.to_owned(),
                host: remap_request.host.to_owned(),
                port: remap_request.port,
                path: uri.path().to_owned(),
                query: uri.query().unwrap_or("").to_owned(),
            };
            self.make_state(conn, parts, pristine).await;
        }
        // With plugin state the rewritten URL is the plugins' to edit; without, it is used as is.
        if let Some(state) = &mut self.state {
            state.get().url = UrlParts {
                scheme: target.scheme.to_owned(),
                host: target.host.to_string(),
                port: target.port,
                path: format!("/{}", target.path),
                query: target.query.unwrap_or("").to_owned(),
            };
            if !chain.is_empty() {
                let Some(urls) = generation.rule_urls.get(rule.index).and_then(Option::as_ref)
                else {
                    return local(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n");
                };
                let outcome = state.run_chain(chain, urls);
                if let Some((status, body)) = state.get().direct.take() {
                    return direct_response(status, body);
                }
                if outcome.redirect {
                    return redirect(302, &state.get().url.to_url_string());
                }
            }
        }
        if let Err(early) = self.hook(HookId::PostRemap).await {
            return self.early(early);
        }
        let edited = self.state.as_mut().map(|s| {
            let s = s.get();
            parts.method = s.method.clone();
            s.url.clone()
        });
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
        if dest.scheme != "http" {
            warn!(scheme = dest.scheme, "origin scheme not supported yet");
            return local(StatusCode::BAD_GATEWAY, "Bad Gateway: origin scheme not supported\n");
        }
        let Some(origin_uri) = origin_form(&dest) else {
            return local(StatusCode::BAD_GATEWAY, "Bad Gateway: invalid origin URL\n");
        };
        let authority = authority(dest.host, dest.port);
        let Ok(host) = HeaderValue::from_str(&authority) else {
            return local(StatusCode::BAD_GATEWAY, "Bad Gateway: invalid origin host\n");
        };
        let (origin_host, origin_port) = (dest.host.to_owned(), dest.port.unwrap_or(80));
        let mut headers = match &mut self.state {
            Some(state) => state.origin_headers(),
            None => std::mem::take(&mut parts.headers),
        };
        remove_hop_by_hop(&mut headers);
        headers.insert(header::HOST, host);
        if let Some(state) = &mut self.state {
            state.get().origin_request = Some(headers);
            if let Err(early) = self.hook(HookId::SendRequestHdr).await {
                return self.early(early);
            }
            headers =
                self.state.as_mut().and_then(|s| s.get().origin_request.take()).unwrap_or_default();
        }
        let mut builder = Request::builder()
            .method(parts.method.clone())
            .uri(origin_uri)
            .version(Version::HTTP_11);
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        let (body, client_body) = RequestBody::watch(body);
        let Ok(request) = builder.body(body) else {
            return local(StatusCode::BAD_GATEWAY, "Bad Gateway: invalid origin request\n");
        };

        let timeout = settings.timeouts.origin_response;
        let sent = conn.worker.origins.send(&authority, &origin_host, origin_port, request);
        let (server_state, response) = match tokio::time::timeout(timeout, sent).await {
            Err(_) => (abi::HY_SERVER_STATE_ACTIVE_TIMEOUT, Err(StatusCode::GATEWAY_TIMEOUT)),
            Ok(Err(e @ OriginError::ConnectTimeout)) => {
                debug!(origin = %authority, error = %e, "origin connect timeout");
                (abi::HY_SERVER_STATE_ACTIVE_TIMEOUT, Err(StatusCode::GATEWAY_TIMEOUT))
            }
            Ok(Err(e)) => {
                debug!(origin = %authority, error = %e, "origin unreachable");
                (abi::HY_SERVER_STATE_CONNECTION_ERROR, Err(StatusCode::BAD_GATEWAY))
            }
            Ok(Ok(response)) => (abi::HY_SERVER_STATE_TRANSACTION_COMPLETE, Ok(response)),
        };
        if let Some(state) = &mut self.state
            && !chain.is_empty()
        {
            state.os_response(chain, server_state);
        }
        let response = match response {
            Ok(response) => response,
            Err(StatusCode::GATEWAY_TIMEOUT) => {
                debug!(origin = %authority, "origin response timeout");
                return local(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout\n");
            }
            Err(_) if client_body.failed() => return bad_request_body(),
            Err(_) => return local(StatusCode::BAD_GATEWAY, "Bad Gateway\n"),
        };
        let (mut parts, body) = response.into_parts();
        // The client is answered in its own version, not the origin's (RFC 9110 §6.2): hyper
        // writes HTTP/1.0 to an HTTP/1.0 client itself, and would end an HTTP/1.1 client's
        // keep-alive for an HTTP/1.0 response. A body without a length goes chunked.
        parts.version = Version::HTTP_11;
        remove_hop_by_hop(&mut parts.headers);
        reverse_map(&generation, &mut parts.headers);
        if let Some(state) = &mut self.state {
            let headers = std::mem::take(&mut parts.headers);
            state.get().origin_response = Some(ResponseHead { status: parts.status, headers });
            if let Err(early) = self.hook(HookId::ReadResponseHdr).await {
                return self.early(early);
            }
            if let Some(head) = self.state.as_mut().and_then(|s| s.get().origin_response.take()) {
                parts.status = head.status;
                parts.headers = head.headers;
            }
        }
        Response::from_parts(parts, Either::Left(body))
    }
    fn not_found(&self, parts: &Parts, host: &str) -> Response<Body> {
        if self.generation.config.source == Source::Embedded && parts.uri.path() == "/" {
            let mut response = local(StatusCode::OK, WELCOME);
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            return response;
        }
        if host.is_empty() {
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
/// An empty host means neither had one. `None` when the request is invalid (RFC 9112 §3.2):
/// more than one `Host` field line, or a port that is not a number up to 65535.
fn request_target(parts: &Parts) -> Option<RequestTarget> {
    let uri = &parts.uri;
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let host_field = hosts.next();
    if hosts.next().is_some() {
        return None;
    }
    if let Some(authority) = uri.authority() {
        let scheme = uri.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        return Some(RequestTarget { scheme, host, port: port(authority)? });
    }
    if !uri.path().starts_with('/') {
        return None;
    }
    let scheme = "http".to_owned();
    let Some(value) = host_field else {
        return Some(RequestTarget { scheme, host: String::new(), port: None });
    };
    let authority: http::uri::Authority = value.to_str().ok()?.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
    Some(RequestTarget { scheme, host, port: port(&authority)? })
}

/// An authority's port: `Some(None)` when it has none (or an empty one, RFC 3986 §3.2.3),
/// `None` when it is not digits making a number up to 65535 (`http` reads those as no port).
fn port(authority: &http::uri::Authority) -> Option<Option<u16>> {
    let text = authority.as_str();
    // After an IPv6 literal's `]`, if there is one: its colons are not the port's.
    let after_host = text.rfind(']').map_or(text, |end| &text[end + 1..]);
    let Some((_, digits)) = after_host.rsplit_once(':') else { return Some(None) };
    if digits.is_empty() {
        return Some(None);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Some)
}

/// Removes request fields whose name, with `_` read as `-`, is `Transfer-Encoding` or
/// `Content-Length`.
///
/// Origins that read `_` as `-` in names (CGI-style gateways, frameworks that turn names into
/// variables) would frame the body by such a field while the proxy does not: a known smuggling
/// vector. Dropped (logged at debug), not refused with 400: nginx by default ignores every name
/// with an underscore and ATS forwards them, so clients that send one harmlessly keep working,
/// and dropping alone removes the disagreement. Other names with underscores pass, as with ATS.
fn drop_underscored_framing(headers: &mut HeaderMap) {
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

/// The request target sent to the origin: its path and query (origin-form).
fn origin_form(dest: &Dest<'_>) -> Option<Uri> {
    let mut text = String::with_capacity(2 + dest.path.len() + dest.query.len());
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

/// `host[:port]` as a `Host` header has it (an IPv6 address in brackets).
fn authority(host: &str, port: Option<u16>) -> String {
    let bracketed = host.contains(':') && !host.starts_with('[');
    let mut text = String::with_capacity(host.len() + 8);
    if bracketed {
        text.push('[');
    }
    text.push_str(host);
    if bracketed {
        text.push(']');
    }
    if let Some(port) = port {
        let _ = write!(text, ":{port}");
    }
    text
}

/// Headers of one hop (RFC 9110 §7.6.1), and those `Connection` names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
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
    [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// Rewrites the origin's URLs in `Location`, `Content-Location`, `URI` and `Destination` with
/// the `reverse_map` rules.
fn reverse_map(generation: &Generation, headers: &mut HeaderMap) {
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

/// A plugin callback failed the transaction.
fn plugin_failed() -> Response<Body> {
    local(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error: a plugin failed the transaction\n",
    )
}

/// A plugin callback stayed pending past `timeouts.hook_pending`.
fn hook_timed_out() -> Response<Body> {
    local(
        StatusCode::GATEWAY_TIMEOUT,
        "Gateway Timeout: a plugin did not resume the transaction within timeouts.hook_pending\n",
    )
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

/// The answer when the client's request body broke on its way to the origin (a malformed
/// chunked coding): the client's error, and the rest of the connection cannot be framed.
fn bad_request_body() -> Response<Body> {
    debug!("the client's request body failed");
    let mut response = local(StatusCode::BAD_REQUEST, "Bad Request: malformed request body\n");
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
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

/// A response a plugin asked for instead of going to the origin.
fn direct_response(status: u16, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
