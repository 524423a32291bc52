//! One transaction: a client request through hooks and remap to its origin and the response
//! back, as a list of phases in ATS's order (`docs/hooks.md`; ATS's `src/proxy/http/HttpSM.cc`):
//!
//! 1. [`admit`](Transaction::admit): refusals before anything runs (framing, `CONNECT`, the
//!    health route, the request target);
//! 2. [`read_request`](Transaction::read_request): TXN_START, READ_REQUEST_HDR, PRE_REMAP;
//! 3. [`remap`](Transaction::remap): the rule, its ACL and its plugin chain; then POST_REMAP;
//! 4. [`origin_request`](Transaction::origin_request): the origin's request, SEND_REQUEST_HDR;
//! 5. [`origin`](Transaction::origin): the exchange with the origin;
//! 6. [`read_response`](Transaction::read_response): READ_RESPONSE_HDR;
//! 7. [`send_response`](Transaction::send_response): SEND_RESPONSE_HDR, for every response;
//!
//! and TXN_CLOSE once the response body is sent (or the client left). A phase that ends the
//! transaction early returns an [`Answer`], which one place turns into a response. Everything a
//! transaction needs lives in it, and it runs on the worker that accepted its connection.
//!
//! A transaction of a generation without hooks and a rule without plugins makes no plugin state
//! at all; the state (a [`TxnBox`]) exists as soon as a hook or a plugin chain may run.

mod answer;
mod body;
pub(crate) mod fields;
mod retry;
pub(crate) mod transform;
mod url;
pub(crate) mod wasm;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use hookyard_abi as abi;
use hookyard_hooks::{HookId, Outcome};
use hookyard_host::{Kept, ResponseHead, TxnBox, UrlParts};
use hookyard_remap::{AclRequest, Chain, Remap, Rule, Rules, Target};
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{Either, Full};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use self::answer::Answer;
pub(crate) use self::body::TxnBody;
use self::body::{InFlight, Sent};
use self::fields::{ClientFields, LentRequest, Seen};
use self::retry::{Again, PoolTry, next_try};
use self::transform::{Primed, Transformed};
use self::url::{RequestLine, Url};
use self::wasm::WasmBody;
use crate::access_log::Logging;
use crate::access_log::record::{Fields, Message, OriginSide, head_len, request_head_len};
use crate::config::Source;
use crate::conn::deadline::{Bounded, Deadlines, Expired, Phase};
use crate::conn::{ClientBody, Conn};
use crate::forwarding::ClientSide;
use crate::generation::{Generation, Held};
use crate::origin::body::{BodyWatch, RequestBody};
use crate::origin::tls::TlsTarget;
use crate::origin::{Destination, LentFields, OriginBody, OriginError};
use crate::pool::{Attempts, Host, Strategy};
use crate::stats::{FAILURE_WARN_EVERY, OriginFailure};

/// A response body: the origin's, streamed, or one the proxy made.
pub type Body = Either<OriginBody, Full<Bytes>>;

/// An HTTP/1 request's transaction, run by its connection (`conn/h1.rs`) to its response;
/// `received` has the client's fields as it spelt and ordered them, for the origin request:
/// in the request's map, or still as received (the map empty) until something reads them.
pub(crate) fn handle(
    conn: Arc<Conn>,
    parts: Parts,
    body: ClientBody,
    received: ClientFields,
) -> impl Future<Output = Response<TxnBody>> {
    // The transaction's own future, not one around it: the request is not copied once more.
    transact(conn, parts, body, Some(received), None)
}

/// One HTTP/2 stream's transaction, run on a task of its own (`conn/h2.rs`): `left` closes
/// when the client resets the stream or leaves. The transaction then ends at its next phase
/// (not while a plugin holds it on a pending hook), without SEND_RESPONSE_HDR, and with its
/// TXN_CLOSE.
pub(crate) async fn handle_stream(
    conn: Arc<Conn>,
    request: Request<ClientBody>,
    left: oneshot::Sender<()>,
) -> Response<TxnBody> {
    let (parts, body) = request.into_parts();
    let response = transact(conn, parts, body, None, Some(left)).await;
    // hyper's HTTP/2 server writes the fields from the map.
    let (mut parts, mut body) = response.into_parts();
    if let Sent::Plain(inner) = &mut body.inner
        && !fields_in_map_after_read(&mut parts, inner)
    {
        let (failed, inner) = Answer::OriginFailed.response().into_parts();
        parts = failed;
        body.inner = Sent::Plain(inner);
    }
    Response::from_parts(parts, body)
}

/// The answer to an HTTP/2 stream refused before it became a transaction (no hook runs): the
/// connection has too many transactions running.
pub(crate) fn too_many_streams() -> Response<TxnBody> {
    Answer::TooManyStreams.response().map(|inner| TxnBody {
        inner: Sent::Plain(inner),
        state: None,
        timing: None,
        log: None,
    })
}

/// Runs a transaction to its response (see [`handle_stream`] for `left`). The request comes in
/// parts, as the transaction keeps it: a whole one taken apart here would be copied twice.
async fn transact(
    conn: Arc<Conn>,
    mut parts: Parts,
    body: ClientBody,
    received: Option<ClientFields>,
    left: Option<oneshot::Sender<()>>,
) -> Response<TxnBody> {
    let started = std::time::Instant::now();
    conn.state.requests.fetch_add(1, Ordering::Relaxed);
    let mut in_flight = InFlight::start(&conn);
    let mut txn = Transaction {
        // The one atomic load of the generation, kept to the end.
        generation: conn.worker.serving.held(),
        client: conn.peer,
        local: conn.local,
        state: None,
        received,
        left,
        log: None,
        wasm: None,
        wasm_answered: None,
    };
    let lines = txn.received.as_ref().and_then(ClientFields::lines).map(Seen::Client);
    let fields: &dyn Fields = match &lines {
        Some(lines) => lines,
        None => &parts.headers,
    };
    txn.log = conn.worker.access_log.entry(
        &txn.generation,
        conn.listener,
        conn.peer,
        conn.scheme(),
        &parts,
        fields,
    );
    let limit = txn.generation.config.settings.timeouts.transaction_active;
    // Counted from `started`: one clock read fewer than a timeout reading its own.
    let deadline = started + limit;
    let driver = txn.driver(&conn);
    let ran = {
        let running = std::pin::pin!(async {
            let mut response = match txn.run(&conn, &mut parts, body).await {
                Ok(response) => response,
                Err(Answer::ClientLeft) => return None,
                Err(answer) => answer.response(),
            };
            txn.send_response(&mut response).await;
            Some(txn.response_body(&parts.method, response).await)
        });
        Bounded::new(running, Phase::Transaction, deadline, driver).await
    };
    let mut response = match ran {
        Ok(Some(response)) => response,
        // Not answered: counted abandoned, as a transaction hyper dropped.
        Ok(None) => return txn.abandon(),
        Err(Expired) => {
            let mut response = txn.timed_out();
            txn.send_response(&mut response).await;
            response.map(Sent::Plain)
        }
    };
    if parts.version < Version::HTTP_2 && conn.worker.drain.is_draining() {
        // hyper closes the connection once this response is written: the client's next
        // request opens a new connection, to whatever serves then.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    in_flight.answered(response.status().as_u16());
    txn.answer_sample(&conn);
    let state = txn.state.take();
    let timing = Some((started, conn.state.clone()));
    let mut log = txn.log.take();
    if let Some(entry) = log.as_mut().and_then(Logging::entry) {
        let body = response.body().size_hint().exact();
        entry.respond(response.status(), response.headers(), body);
    }
    response.map(|inner| TxnBody { inner, state, timing, log })
}

/// The state of one transaction.
pub(crate) struct Transaction {
    /// The configuration this transaction runs on, from start to end.
    pub(crate) generation: Arc<Held<Generation>>,
    /// The client's address.
    pub(crate) client: SocketAddr,
    /// The local address the connection was accepted on.
    pub(crate) local: SocketAddr,
    /// What plugins see of the transaction, once a hook or plugin chain may run.
    state: Option<TxnBox>,
    /// An HTTP/1 client's fields as it spelt and ordered them: the origin gets them so. Still
    /// as received (the request's map empty) until something must read them: see
    /// [`Transaction::fields_in_map`]. Lent to plugin state when it is made, if still so
    /// ([`LentRequest`]; see [`client_fields`]).
    received: Option<ClientFields>,
    /// An HTTP/2 stream's: closed when its client left (hyper drops an HTTP/1 transaction
    /// instead).
    left: Option<oneshot::Sender<()>>,
    /// Its access log line, if its listener logs: queued when dropped.
    log: Option<Logging>,
    /// Its WebAssembly filters' HTTP contexts, in request order (ended when the last of the
    /// transaction and its bodies drops).
    wasm: Option<wasm::Filters>,
    /// A local response a filter of the request body answered.
    wasm_answered: Option<wasm::Answered>,
}

/// Where a remapped transaction goes.
struct Route<'a> {
    /// The rule's plugin chain (told how the origin answered).
    chain: &'a Chain,
    /// The rule's target when no plugin state exists; with it, the URL is the state's.
    target: Option<Target<'a>>,
    /// Whether an `https://` origin's certificate is verified (the rule's
    /// `@origin_tls_verify=`, else `origin_tls.verify`).
    verify: bool,
    /// The rule's strategy (`@strategy=`), which picks the host requests go to.
    strategy: Option<&'a Arc<Strategy>>,
    /// The rule's index.
    rule: usize,
}

/// A request ready for its origin (boxed on its way there: some 400 bytes, it would be copied
/// at each step).
struct OriginRequest {
    request: Request<RequestBody>,
    /// Where it goes.
    to: Destination,
    /// Whether the client's body failed on its way.
    client_body: BodyWatch,
    /// The strategy's choice, when the rule has one (boxed: a transaction's future moves less).
    pool: Option<Box<PoolTry>>,
    /// Its fields as the origin client writes them, when not the client's as the transaction
    /// keeps them: the client's lines lent to its wasm filters and SEND_REQUEST_HDR callbacks,
    /// still as received or put in the request's map (see [`LentRequest::to_origin`]).
    sent: Option<ClientFields>,
}

impl Transaction {
    /// The phases up to the response head (the client's answer without SEND_RESPONSE_HDR).
    async fn run(
        &mut self,
        conn: &Conn,
        parts: &mut Parts,
        body: ClientBody,
    ) -> Result<Response<Body>, Answer> {
        if parts.version == Version::HTTP_2 {
            fields::join_cookies(&mut parts.headers);
        }
        let line = self.admit(parts, conn.worker.drain.is_draining())?;
        let client_url = line.url(conn.scheme())?;
        if self.received_lines().is_some_and(fields::has_underscored_framing) {
            self.fields_in_map(parts)?;
        }
        fields::drop_underscored_framing(&mut parts.headers);
        self.read_request(conn, parts, client_url).await?;
        let generation = self.generation.clone();
        // What `Forwarded` tells of the client's request, before plugins change it.
        let host =
            if generation.forwarder.wants_host() { client_url.authority() } else { String::new() };
        let client = ClientSide {
            peer: self.client,
            local: self.local,
            // The connection's, whatever the request claims (`:scheme`, an absolute target).
            proto: conn.scheme(),
            host: &host,
            version: parts.version,
        };
        let route = self.remap(conn, parts, &generation, client_url).await?;
        if generation.wasm.any_for(route.rule) {
            let properties = hookyard_wasm::Properties::new(
                Some(self.client),
                Some(self.local),
                crate::access_log::record::version(parts.version),
            );
            let priorities = &generation.hooks.priorities;
            let state = &mut self.state;
            // The switches plugins set for the transaction (or its session) so far.
            let enabled = |id| state.as_mut().is_none_or(|s| s.plugin_enabled(id));
            let filters = generation.wasm.filters(
                route.rule,
                conn.worker.index,
                priorities,
                &properties,
                enabled,
            );
            self.wasm = Some(std::sync::Arc::new(std::sync::Mutex::new(filters)));
        }
        if self.hooked() {
            self.hook(HookId::PostRemap).await?;
        }
        let request = self.origin_request(parts, body, &route, &client).await?;
        let response = self.origin(conn, request, route.chain).await?;
        self.read_response(response).await
    }

    /// Refuses what no rule or plugin may see, and answers the health route (503 while
    /// `draining`).
    fn admit(&mut self, parts: &Parts, draining: bool) -> Result<RequestLine, Answer> {
        if parts.method == Method::CONNECT {
            return Err(Answer::Connect);
        }
        let settings = &self.generation.config.settings;
        if parts.version == Version::HTTP_2 && parts.headers.len() > settings.limits.max_headers {
            return Err(Answer::TooManyHeaders);
        }
        if settings.health_path.as_deref() == Some(parts.uri.path()) {
            return Err(if draining { Answer::Draining } else { Answer::Health });
        }
        match self.received_lines() {
            Some(lines) => RequestLine::of_lines(parts, lines),
            None => RequestLine::of(parts),
        }
    }

    /// TXN_START, READ_REQUEST_HDR and PRE_REMAP, with plugin state made first when the
    /// generation or the session has hooks.
    async fn read_request(
        &mut self,
        conn: &Conn,
        parts: &mut Parts,
        url: Url<'_>,
    ) -> Result<(), Answer> {
        if self.generation.hooks.has_hooks() || conn.has_session_hooks() {
            self.make_state(conn, parts, url.to_parts()).await?;
        }
        // Without hooks now, none can be added before PRE_REMAP's.
        if self.hooked() {
            for hook in [HookId::TxnStart, HookId::ReadRequestHdr, HookId::PreRemap] {
                self.hook(hook).await?;
            }
        }
        Ok(())
    }

    /// The matching rule, its ACL, and its plugin chain. Plugins may have changed the request
    /// URL before (as in ATS); with plugin state the rewritten URL is theirs to edit.
    async fn remap<'a>(
        &mut self,
        conn: &Conn,
        parts: &mut Parts,
        generation: &'a Generation,
        client_url: Url<'a>,
    ) -> Result<Route<'a>, Answer> {
        let rules = generation.remap.rules();
        let default_verify = generation.config.settings.origin_tls.verify;
        if let Some(edited) = self.state.as_mut().map(|s| s.get().url.clone()) {
            let request = Url::of(&edited).remap_request(self.local.port(), parts.version);
            let (rule, target) = self.route(rules, &request, parts)?;
            let chain = generation.remap.chain(rule);
            self.run_chain(rule, chain, &target)?;
            let verify = rule.origin_tls_verify.unwrap_or(default_verify);
            let strategy = generation.pools.of_rule(rule.index);
            return Ok(Route { chain, target: None, verify, strategy, rule: rule.index });
        }
        let request = client_url.remap_request(self.local.port(), parts.version);
        let (rule, target) = self.route(rules, &request, parts)?;
        let chain = generation.remap.chain(rule);
        let verify = rule.origin_tls_verify.unwrap_or(default_verify);
        let strategy = generation.pools.of_rule(rule.index);
        if chain.is_empty() {
            return Ok(Route { chain, target: Some(target), verify, strategy, rule: rule.index });
        }
        self.make_state(conn, parts, client_url.to_parts()).await?;
        self.run_chain(rule, chain, &target)?;
        Ok(Route { chain, target: None, verify, strategy, rule: rule.index })
    }

    /// The rule `request` maps by, if it allows the request.
    fn route<'r>(
        &self,
        rules: &'r Rules,
        request: &hookyard_remap::Request<'r>,
        parts: &Parts,
    ) -> Result<(&'r Rule, Target<'r>), Answer> {
        let (rule, target) = match rules.remap(request) {
            Remap::Map { rule, target } => (rule, target),
            Remap::Redirect { status, location, .. } => {
                return Err(Answer::Redirect { status, location });
            }
            Remap::NotFound => return Err(self.not_found(parts, request.host)),
        };
        let acl = AclRequest {
            method: parts.method.as_str(),
            client: self.client.ip(),
            local: self.local.ip(),
            internal: false,
        };
        if !hookyard_remap::allowed(&rule.filters, &acl) {
            return Err(Answer::Forbidden);
        }
        Ok((rule, target))
    }

    /// No rule matched: the embedded configuration's welcome page at `/`, else 400 without a
    /// host, 404 with one.
    fn not_found(&self, parts: &Parts, host: &str) -> Answer {
        if self.generation.config.source == Source::Embedded && parts.uri.path() == "/" {
            Answer::Welcome
        } else if host.is_empty() {
            Answer::NoHost
        } else {
            Answer::NotFound
        }
    }

    /// Gives plugins the rule's target as the URL to edit, and runs the rule's plugin chain.
    fn run_chain(&mut self, rule: &Rule, chain: &Chain, target: &Target<'_>) -> Result<(), Answer> {
        let Some(state) = &mut self.state else { return Ok(()) };
        state.get().url = Url::target_parts(target);
        if chain.is_empty() {
            return Ok(());
        }
        // Kept by the transaction's hold of its generation, not by a count of their own.
        let urls =
            Kept::try_part_of(self.generation.clone(), |g| g.rule_urls.get(rule.index)?.as_deref());
        let Some(urls) = urls else { return Err(Answer::RuleUrlsMissing) };
        let outcome = state.run_chain(chain, &urls);
        let state = state.get();
        if let Some((status, body)) = state.direct.take() {
            return Err(Answer::Direct { status, body });
        }
        if outcome.redirect {
            return Err(Answer::Redirect { status: 302, location: state.url.to_url_string() });
        }
        Ok(())
    }

    /// The origin's request: the URL plugins left (or the rule's target), the client's fields
    /// less hop-by-hop ones, `Host`, the forwarding headers; then SEND_REQUEST_HDR.
    async fn origin_request(
        &mut self,
        parts: &mut Parts,
        body: ClientBody,
        route: &Route<'_>,
        client: &ClientSide<'_>,
    ) -> Result<Box<OriginRequest>, Answer> {
        let edited = self.state.as_mut().map(|s| {
            let s = s.get();
            parts.method = s.method.clone();
            s.url.clone()
        });
        let dest = match (&edited, &route.target) {
            (Some(url), _) => Url::of(url),
            (None, Some(target)) => Url::of_target(target),
            (None, None) => return Err(Answer::InvalidOriginUrl),
        };
        let mut pool = route.strategy.map(|strategy| self.pool_try(strategy, &dest));
        let chosen = pool
            .as_mut()
            .and_then(|p| Some(p.strategy.select(p.hash, &mut p.attempts)?.host.clone()));
        if let Some(p) = &pool
            && chosen.is_none()
            && !p.strategy.go_direct
        {
            return Err(Answer::NoHostUp);
        }
        let scheme = match (&pool, &chosen) {
            (Some(p), Some(_)) => p.strategy.scheme.name(),
            _ => dest.scheme,
        };
        let tls = match scheme {
            "http" => None,
            "https" => Some(
                TlsTarget::new(&self.generation.origin_tls, dest.host, route.verify)
                    .ok_or(Answer::InvalidOriginHost)?,
            ),
            other => return Err(Answer::OriginScheme(other.to_owned())),
        };
        let mut uri = dest.origin_form()?;
        let authority = dest.authority();
        let host_field =
            HeaderValue::from_str(&authority).map_err(|_| Answer::InvalidOriginHost)?;
        let (host, port) = match &chosen {
            Some(chosen) => (chosen.host.as_str(), chosen.port),
            None => (dest.host, dest.port.unwrap_or(if tls.is_some() { 443 } else { 80 })),
        };
        let addr = self.os_dns(host, port).await?;
        if let Some(entry) = self.log.as_mut().and_then(Logging::entry) {
            let literal = host.parse().ok().map(|ip| SocketAddr::new(ip, port));
            let host = host.to_owned();
            entry.origin = Some(OriginSide { host, addr: addr.or(literal), ..Default::default() });
        }
        if let Some(p) = &mut pool {
            p.tls.clone_from(&tls);
        }
        let to = match chosen {
            Some(chosen) => Destination::to_pool_host(authority, chosen, addr, tls),
            None => Destination::new(authority, dest.host, port, addr, tls),
        };
        let end_of_stream = hyper::body::Body::is_end_stream(&body);
        let as_received = self.forwards_as_received(pool.is_some());
        if !as_received {
            self.fields_in_map(parts)?;
        }
        let mut headers = match &mut self.state {
            Some(state) => state.origin_headers(),
            None => std::mem::take(&mut parts.headers),
        };
        fields::remove_hop_by_hop(&mut headers);
        headers.insert(header::HOST, host_field);
        self.generation.forwarder.request(&mut headers, client);
        // The client's fields going on as received are lent to what may read the origin
        // request's: its wasm filters and SEND_REQUEST_HDR callbacks.
        let mut lent = None;
        if as_received && (self.wasm.is_some() || self.send_request_hooked()) {
            let lines = self.received_lines().cloned();
            lent = lines.map(|lines| Box::new(LentRequest::to_origin(lines)));
        }
        let head = wasm::OriginHead {
            method: &mut parts.method,
            uri: &mut uri,
            headers: &mut headers,
            scheme: client.proto,
            end_of_stream,
        };
        if let Some(filters) = &self.wasm {
            wasm::request(filters, head, self.generation.remap.rules(), &mut lent).await?;
        }
        let mut headers = self.send_request_hdr(headers, &mut lent).await?;
        // The origin request's fields as the origin client writes them, when lent on the way:
        // as received, or put in the map by a filter or a callback.
        let mut sent = match lent {
            Some(lent) if lent.failed() => return Err(Answer::BadFields),
            lent => lent.map(|lent| lent.into_fields()),
        };
        let stages = match &mut self.state {
            Some(state) => {
                let limit = self.generation.config.settings.transforms.buffer_limit;
                state.start_body(abi::rules::transform::Body::Request, limit)
            }
            None => Vec::new(),
        };
        // A transform of the request body may change the framing fields: the fields still as
        // received go into the map.
        if as_received && !stages.is_empty() {
            let lines = match &sent {
                Some(sent) => sent.lines().cloned(),
                None => self.received_lines().cloned(),
            };
            if let Some(lines) = lines {
                sent = Some(fields_for_origin(lines, &mut headers)?);
            }
        }
        if !stages.iter().all(hookyard_host::Stage::keeps_length) {
            // Re-framed: chunked to the origin.
            headers.remove(header::CONTENT_LENGTH);
        }
        if let Some(entry) = self.log.as_mut().and_then(Logging::entry) {
            let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
            let going = sent.as_ref().or_else(|| client_fields(&self.received, &mut self.state));
            let lines = going.and_then(ClientFields::lines).map(|l| Seen::Origin(l, &headers));
            let fields: &dyn Fields = match &lines {
                Some(lines) => lines,
                None => &headers,
            };
            let head = request_head_len(&parts.method, target, fields);
            if let Some(origin) = &mut entry.origin {
                origin.request_head = head;
            }
            entry.capture(Message::ProxyRequest, fields);
        }
        // Built in place: a builder moves its whole head at each step.
        let (mut head, ()) = Request::new(()).into_parts();
        head.method = parts.method.clone();
        head.uri = uri;
        head.version = Version::HTTP_11;
        head.headers = headers;
        let pending = self.generation.config.settings.timeouts.hook_pending;
        let limit = self.generation.config.settings.transforms.buffer_limit;
        let wasm = self.wasm.clone().filter(|_| !end_of_stream).map(|filters| {
            let answered = wasm::Answered::default();
            self.wasm_answered = Some(answered.clone());
            (filters, answered, limit)
        });
        let (body, client_body) = RequestBody::watch(body, stages, pending, wasm);
        if let Some(log) = &mut self.log {
            log.request_body = Some(client_body.clone());
        }
        let request = Request::from_parts(head, body);
        if let Some(p) = &mut pool
            && p.strategy.failover.max_simple_retries > 0
            && request.method().is_idempotent()
            && hyper::body::Body::is_end_stream(request.body())
        {
            p.again = Some(Again {
                method: request.method().clone(),
                uri: request.uri().clone(),
                headers: request.headers().clone(),
            });
        }
        Ok(Box::new(OriginRequest { request, to, client_body, pool, sent }))
    }

    /// A transaction's first try on `strategy`: the hash its policy selects by.
    fn pool_try(&self, strategy: &Arc<Strategy>, dest: &Url<'_>) -> Box<PoolTry> {
        let hash = match strategy.policy {
            crate::config::strategies::Policy::RrIp => crate::pool::client_hash(self.client.ip()),
            crate::config::strategies::Policy::ConsistentHash => crate::pool::key_hash(
                strategy.hash_key,
                dest.scheme,
                dest.host,
                dest.path,
                dest.query,
            ),
            _ => 0,
        };
        Box::new(PoolTry {
            strategy: strategy.clone(),
            hash,
            attempts: Attempts::default(),
            retries: 0,
            tls: None,
            again: None,
        })
    }

    /// OS_DNS, when plugins may see or choose the origin's address: the one a plugin set, else
    /// the origin host resolved when an OS_DNS callback may run, which may replace it; none when
    /// no plugin cares (the pool then resolves as it connects, without a separate look-up).
    async fn os_dns(&mut self, host: &str, port: u16) -> Result<Option<SocketAddr>, Answer> {
        let Some(state) = &mut self.state else { return Ok(None) };
        let wanted = state.has_callbacks(HookId::OsDns);
        if wanted && state.get().server_addr.is_none() {
            let limit = self.generation.config.settings.timeouts.origin_connect;
            let dns = &self.generation.dns;
            // Boxed: only an OS_DNS callback needs the look-up here, and its future would make
            // every transaction's larger (and so slower to move).
            let resolved =
                Box::pin(resolve(dns, host, port, limit)).await.ok_or(Answer::OriginUnresolved)?;
            state.get().server_addr = Some(resolved);
        }
        if wanted {
            self.hook(HookId::OsDns).await?;
        }
        let state = self.state.as_mut().map(TxnBox::get);
        Ok(state.and_then(|s| {
            s.server_addr_fixed = true;
            s.server_addr
        }))
    }

    /// OS_DNS again for a retry on `host`, when plugins may see or choose its address: what
    /// was resolved or set for the host before is forgotten.
    async fn os_dns_again(&mut self, host: &Host) -> Result<Option<SocketAddr>, Answer> {
        let Some(state) = &mut self.state else { return Ok(None) };
        if !state.has_callbacks(HookId::OsDns) {
            return Ok(None);
        }
        let state = state.get();
        state.server_addr = None;
        state.server_addr_fixed = false;
        self.os_dns(&host.host, host.port).await
    }

    /// Where this transaction's deadlines are kept: by its HTTP/1 connection's driver (an
    /// HTTP/1 transaction has no `left`), or, an HTTP/2 stream's, by timers of their own.
    fn driver<'c>(&self, conn: &'c Conn) -> Option<&'c Deadlines> {
        self.left.is_none().then_some(&conn.state.deadlines)
    }

    /// Whether a SEND_REQUEST_HDR callback may run.
    fn send_request_hooked(&mut self) -> bool {
        self.state.as_mut().is_some_and(|s| s.has_callbacks(HookId::SendRequestHdr))
    }

    /// SEND_REQUEST_HDR: plugins see (and may change) the origin request's fields: those the
    /// proxy and plugins added (`headers`), and the client's `lent` as received, if they go on
    /// so (see [`LentRequest::to_origin`]), which come back, put in the map or not, when a
    /// callback may have read them.
    async fn send_request_hdr(
        &mut self,
        headers: HeaderMap,
        lent: &mut Option<Box<LentRequest>>,
    ) -> Result<HeaderMap, Answer> {
        if !self.hooked() {
            return Ok(headers);
        }
        let Some(state) = &mut self.state else { return Ok(headers) };
        let state = state.get();
        state.origin_request = Some(headers);
        // Lent unless a filter put them in the map already.
        if let Some(unread) =
            lent.take_if(|lent| lent.fields().is_some_and(|f| f.lines().is_some()))
        {
            state.lend_origin_fields(unread);
        }
        self.hook(HookId::SendRequestHdr).await?;
        let Some(state) = &mut self.state else { return Ok(HeaderMap::new()) };
        let state = state.get();
        if let Some(back) = state.take_origin_fields::<LentRequest>() {
            *lent = Some(back);
        }
        Ok(state.origin_request.take().unwrap_or_default())
    }

    /// The exchange with the origin, bounded by `timeouts.origin_response`; the chain's first
    /// plugin is told how it went.
    async fn origin(
        &mut self,
        conn: &Conn,
        mut request: Box<OriginRequest>,
        chain: &Chain,
    ) -> Result<Response<OriginBody>, Answer> {
        // Borrowed where it is: each part moved out would be copied.
        let OriginRequest { request, to, client_body, pool, sent } = &mut *request;
        let timeout = self.generation.config.settings.timeouts.origin_response;
        let driver = self.driver(conn);
        let sent = loop {
            if let Some(host) = &to.pool_host {
                host.request();
            }
            let sent = {
                // Pinned where it is made: the exchange's future is large, and awaiting it by
                // value would move it once more.
                let sending = std::pin::pin!(conn.worker.origins.send(
                    to,
                    request,
                    sent.as_ref().or_else(|| client_fields(&self.received, &mut self.state)),
                    &self.generation.dns
                ));
                let at = std::time::Instant::now() + timeout;
                let sending = Bounded::new(sending, Phase::OriginResponse, at, driver);
                match &mut self.left {
                    None => sending.await,
                    // An HTTP/2 stream's client may leave meanwhile: the exchange is cut short.
                    Some(left) => tokio::select! {
                        sent = sending => sent,
                        () = left.closed() => return Err(Answer::ClientLeft),
                    },
                }
            };
            let (Some(p), Some(host)) = (pool.as_mut(), to.pool_host.as_deref()) else {
                break sent;
            };
            let passive = p.passive(&self.generation.config.settings.health_checks);
            let Some((again, next)) = next_try(p, host, &sent, passive) else { break sent };
            // As ATS, the next host's name goes through OS_DNS too.
            let addr = self.os_dns_again(&next).await?;
            if let Some(again) = again {
                *request = again;
            }
            let authority = PoolTry::authority(request);
            *to = Destination::to_pool_host(authority, next, addr, p.tls.clone());
        };
        let authority = &to.key;
        let sent = sent.map(|sent| sent.map_err(|failed| failed.error));
        let failed = |failure: OriginFailure, error: &dyn std::fmt::Display| {
            let stats = conn.worker.stats().origins.get(&to.label());
            stats.error(failure);
            // Each answers a client 502 or 504 that no other line explains (a TLS failure has
            // its own line).
            if failure != OriginFailure::Tls && stats.warn_due() {
                warn!(origin = %authority, failure = failure.label(), %error,
                    "an origin failed: clients were answered 502 or 504 (logged at most every \
                     {} s per origin and worker; `hookyard_origin_errors_total` counts them all)",
                    FAILURE_WARN_EVERY.as_secs());
            }
        };
        let (server_state, result) = match sent {
            Ok(Ok(response)) => (abi::HY_SERVER_STATE_TRANSACTION_COMPLETE, Ok(response)),
            Err(_) => {
                debug!(origin = %authority, "origin response timeout");
                failed(
                    OriginFailure::ResponseTimeout,
                    &format_args!("no response head in {timeout:?}"),
                );
                (abi::HY_SERVER_STATE_ACTIVE_TIMEOUT, Err(Answer::OriginTimeout))
            }
            Ok(Err(e @ OriginError::ConnectTimeout)) => {
                debug!(origin = %authority, error = %e, "origin connect timeout");
                failed(OriginFailure::ConnectTimeout, &e);
                (abi::HY_SERVER_STATE_ACTIVE_TIMEOUT, Err(Answer::OriginTimeout))
            }
            Ok(Err(OriginError::Tls(e))) => {
                warn!(origin = %authority, error = %e, "origin tls failed");
                let counter = &conn.worker.stats().origin_tls_failures[e.kind.index()];
                counter.fetch_add(1, Ordering::Relaxed);
                failed(OriginFailure::Tls, &e);
                (abi::HY_SERVER_STATE_CONNECTION_ERROR, Err(Answer::OriginTls(e.kind)))
            }
            Ok(Err(e)) => {
                debug!(origin = %authority, error = %e, "origin unreachable");
                // A client body that failed on its way is the client's doing, not the origin's.
                let answered = self.wasm_answered.as_ref().and_then(|a| {
                    a.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
                });
                let answer = if let Some(local) = answered {
                    Answer::WasmLocal(local)
                } else if client_body.transform_failed() {
                    Answer::TransformFailed
                } else if client_body.failed() {
                    Answer::BadRequestBody
                } else {
                    let failure = match e {
                        OriginError::Connect(_) | OriginError::Busy => OriginFailure::Connect,
                        _ => OriginFailure::Exchange,
                    };
                    failed(failure, &e);
                    Answer::OriginFailed
                };
                (abi::HY_SERVER_STATE_CONNECTION_ERROR, Err(answer))
            }
        };
        if let Some(state) = &mut self.state
            && !chain.is_empty()
        {
            state.os_response(chain, server_state);
        }
        let Some(entry) = self.log.as_mut().and_then(Logging::entry) else { return result };
        // The log may read the origin's fields: they go into the response's map.
        let result = result.and_then(fields_in_map);
        match &result {
            Ok(response) => {
                if let Some(origin) = &mut entry.origin {
                    origin.status = Some(response.status());
                    origin.response_head = head_len(response.status(), response.headers());
                }
                entry.capture(Message::ServerResponse, response.headers());
            }
            Err(Answer::OriginTimeout) => entry.error = Some("ERR_READ_TIMEOUT"),
            Err(_) => entry.error = Some("ERR_CONNECT_FAIL"),
        }
        result
    }

    /// READ_RESPONSE_HDR: plugins see (and may change) the origin's response head.
    async fn read_response(
        &mut self,
        response: Response<OriginBody>,
    ) -> Result<Response<Body>, Answer> {
        let mut response = response;
        if self.reads_response_fields(response.body()) {
            response = fields_in_map(response)?;
        }
        let (mut parts, mut body) = response.into_parts();
        let received = parts.version;
        // The client is answered in its own version, not the origin's (RFC 9110 §6.2): hyper
        // writes HTTP/1.0 to an HTTP/1.0 client itself, and would end an HTTP/1.1 client's
        // keep-alive for an HTTP/1.0 response. A body without a length goes chunked.
        parts.version = Version::HTTP_11;
        fields::remove_hop_by_hop(&mut parts.headers);
        fields::reverse_map(&self.generation, &mut parts.headers);
        if let Some(filters) = &self.wasm {
            let end = hyper::body::Body::is_end_stream(&body);
            wasm::response(filters, &mut parts, &mut body, end)?;
        }
        if self.hooked()
            && let Some(state) = &mut self.state
        {
            // Plugins see the head only in READ_RESPONSE_HDR's callbacks: without any, it stays.
            if state.has_callbacks(HookId::ReadResponseHdr) {
                state.get().origin_response = Some(lend_head(&mut parts, &mut body));
            }
            self.hook(HookId::ReadResponseHdr).await?;
            if let Some(head) = self.state.as_mut().and_then(|s| s.get().origin_response.take()) {
                take_head_back(head, &mut parts, &mut body)?;
            }
        } else if let Some((status, body)) = self.state.as_mut().and_then(|s| s.get().direct.take())
        {
            // Without hooks, a direct response a remap plugin asked for as the origin answered
            // (`os_response`) ends the transaction here, as READ_RESPONSE_HDR's dispatch would.
            return Err(Answer::Direct { status, body });
        }
        self.generation.forwarder.response(&mut parts.headers, received);
        Ok(Response::from_parts(parts, Either::Left(body)))
    }

    /// Whether the fields of the origin's response `body` follows must go into the response's
    /// map before the transaction's filters and plugins see it (`reverse_map` rules, a plugin's
    /// own client response, the proxy's `Via` joined to the origin's); if not, they stay as
    /// received and are written so, unless a filter or plugin callback reads or changes them
    /// (see [`wasm::response`] and [`lend_head`]).
    fn reads_response_fields(&mut self, body: &OriginBody) -> bool {
        let generation = &self.generation;
        generation.remap.rules().has_reverse()
            || (generation.forwarder.via_response() && body.received_has(b"via"))
            || self.state.as_mut().is_some_and(|s| s.get().client_response.is_some())
    }

    /// SEND_RESPONSE_HDR: plugins see (and may change) the response head before it goes.
    /// Changed in place: a response moved in and out would be copied twice.
    async fn send_response(&mut self, response: &mut Response<Body>) {
        let Some(state) = &mut self.state else { return };
        // No callback can run, nor any see the response later: it goes as it is.
        if !state.hooked() && state.get().client_response.is_none() {
            return;
        }
        let taken = std::mem::replace(response, Response::new(Either::Right(Full::default())));
        let (mut parts, mut body) = taken.into_parts();
        // Plugins get the head, the origin's fields lent; a head a plugin made before replaces
        // them (they go into the map, which that head's fields replace).
        let s = state.get();
        if s.client_response.is_none() {
            s.client_response = Some(match &mut body {
                Either::Left(origin) => lend_head(&mut parts, origin),
                Either::Right(_) => {
                    let headers = std::mem::take(&mut parts.headers);
                    ResponseHead::new(parts.status, headers, fields::reason(&parts))
                }
            });
        } else if !fields_in_map_after_read(&mut parts, &mut body) {
            *response = Answer::OriginFailed.response();
            return;
        }
        if state.hooked() && Box::pin(state.hook(HookId::SendResponseHdr)).await == Outcome::Error {
            let s = state.get();
            s.client_response = None;
            let answer = if s.timed_out { Answer::HookTimedOut } else { Answer::PluginFailed };
            *response = answer.response();
            return;
        }
        if let Some(head) = state.get().client_response.take() {
            let taken = match &mut body {
                Either::Left(origin) => take_head_back(head, &mut parts, origin),
                Either::Right(_) => {
                    set_head(&mut parts, head);
                    Ok(())
                }
            };
            if let Err(answer) = taken {
                *response = answer.response();
                return;
            }
        }
        *response = Response::from_parts(parts, body);
    }

    /// The response body on its way: through the transforms plugins added to it, if any. The
    /// first output is taken before the head goes, so a transform failing at once is answered
    /// 502; a rewrite's whole output, when ready at once within the buffer limit, goes with a
    /// new `Content-Length` (else chunked). A response without body (to `HEAD`, a 204 or 304)
    /// gives each transform just its end.
    async fn response_body(&mut self, method: &Method, response: Response<Body>) -> Response<Sent> {
        let status = response.status();
        let bodiless = *method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let limit = self.generation.config.settings.transforms.buffer_limit;
        // The filters' body callbacks run over the origin's body, before any transform.
        let wasm = self
            .wasm
            .clone()
            .filter(|_| !bodiless && !hyper::body::Body::is_end_stream(response.body()));
        let Some(state) = &mut self.state else {
            return match wasm {
                Some(filters) => response
                    .map(|b| Sent::Wasm(Box::new(WasmBody::new(b, filters, true, None, limit)))),
                None => response.map(Sent::Plain),
            };
        };
        let stages = state.start_body(abi::rules::transform::Body::Response, limit);
        if stages.is_empty() {
            return match wasm {
                Some(filters) => response
                    .map(|b| Sent::Wasm(Box::new(WasmBody::new(b, filters, true, None, limit)))),
                None => response.map(Sent::Plain),
            };
        }
        let (mut parts, mut body) = response.into_parts();
        // A transform may change the framing fields.
        if !fields_in_map_after_read(&mut parts, &mut body) {
            return Answer::OriginFailed.response().map(Sent::Plain);
        }
        if bodiless {
            for mut stage in stages {
                stage.feed(Bytes::new(), true);
            }
            return Response::from_parts(parts, Sent::Plain(body));
        }
        let pending = self.generation.config.settings.timeouts.hook_pending;
        match wasm {
            Some(filters) => {
                let body = WasmBody::new(body, filters, true, None, limit);
                let body = Transformed::new(body, stages, pending);
                primed(parts, body, limit, |b| Sent::WasmTransformed(Box::new(b))).await
            }
            None => {
                let body = Transformed::new(body, stages, pending);
                primed(parts, body, limit, |b| Sent::Transformed(Box::new(b))).await
            }
        }
    }

    /// The transaction's active timeout passed before its response head: 504 (which goes
    /// through SEND_RESPONSE_HDR like any response; TXN_CLOSE follows).
    fn timed_out(&mut self) -> Response<Body> {
        if let Some(state) = &mut self.state {
            state.expire();
        }
        Answer::ActiveTimeout.response()
    }

    /// The client left before its response: TXN_CLOSE runs now (with plugin state), and the
    /// answer goes nowhere.
    fn abandon(&mut self) -> Response<TxnBody> {
        if let Some(state) = self.state.take() {
            state.close();
        }
        Answer::ClientLeft.response().map(|inner| TxnBody {
            inner: Sent::Plain(inner),
            state: None,
            timing: None,
            log: None,
        })
    }

    /// Makes the plugin state (and the connection's session state, with its SSN_START, the
    /// first time).
    async fn make_state(
        &mut self,
        conn: &Conn,
        parts: &mut Parts,
        url: UrlParts,
    ) -> Result<(), Answer> {
        // Boxed here and below: hook dispatch only runs with plugin state, and its futures would
        // make every transaction's larger (it is moved into hyper whole).
        let session = match conn.session_now() {
            Some(session) => session,
            None => Box::pin(conn.session(&self.generation.hooks)).await,
        };
        // Kept by the transaction's hold of its generation, not by a count of their own.
        let global = Kept::part_of(self.generation.clone(), |g| &*g.hooks);
        let headers = std::mem::take(&mut parts.headers);
        let method = parts.method.clone();
        let mut state = TxnBox::new(global, Some(session), method, url, parts.version, headers);
        // Plugins find the fields as received in the map when they first read or change one.
        if let Some(received) = self.received.take_if(|r| r.lines().is_some()) {
            state.get().lend_fields(Box::new(LentRequest::new(received)));
        }
        self.state = Some(state);
        Ok(())
    }

    /// The client's fields, if they are still as received (not in a map).
    fn received_lines(&mut self) -> Option<&hookyard_h1::FieldLines> {
        client_fields(&self.received, &mut self.state).and_then(ClientFields::lines)
    }

    /// Puts the client's fields in the request's map (with plugin state, the state's) if they
    /// are still as received: whatever reads or changes them (wasm filters, a retry, the
    /// forwarding fields joined to the client's) finds them there.
    fn fields_in_map(&mut self, parts: &mut Parts) -> Result<(), Answer> {
        match (&mut self.received, &mut self.state) {
            (Some(received), _) => received.put(&mut parts.headers).map_err(|e| {
                debug!(error = %e, "request fields the map cannot hold");
                Answer::BadFields
            }),
            (None, Some(state)) => {
                let state = state.get();
                state.request_fields();
                match state.lent_fields::<LentRequest>() {
                    Some(lent) if lent.failed() => Err(Answer::BadFields),
                    _ => Ok(()),
                }
            }
            (None, None) => Ok(()),
        }
    }

    /// Whether the client's fields may go to the origin as received: they still are (plugins
    /// only added fields that go after them as they are, see [`fields::added_goes_as_it_is`]),
    /// nothing changes them on the way (no retry on another host of a pool; wasm filters and
    /// SEND_REQUEST_HDR callbacks get them lent, and a transform of the request body has them
    /// put: see [`Transaction::origin_request`]), and no forwarding field of the client's is
    /// joined with the proxy's. A body's framing fields go on as they are (the origin client
    /// reads their `Content-Length`; a coding is one hop's, and it adds its own). (An access
    /// log line reads them as received: [`Seen`].)
    fn forwards_as_received(&mut self, pooled: bool) -> bool {
        if pooled {
            return false;
        }
        let joined = |lines: &hookyard_h1::FieldLines| {
            lines.iter().any(|(name, _)| crate::forwarding::joins(name))
        };
        self.received_lines().is_some_and(|lines| !joined(lines))
    }

    /// Whether hooks may run callbacks for this transaction: it has plugin state with hooks at
    /// some level (global, its session's, its own).
    fn hooked(&mut self) -> bool {
        self.state.as_mut().is_some_and(TxnBox::hooked)
    }

    /// Runs `hook` if there is plugin state; an [`Answer`] when a plugin ended the transaction
    /// (a direct response, a failure, a pending callback that expired).
    ///
    /// A transaction whose state has no hooks at any level (see [`Transaction::hooked`]) need
    /// not call it: a hook point then costs no future.
    async fn hook(&mut self, hook: HookId) -> Result<(), Answer> {
        let Some(state) = &mut self.state else { return Ok(()) };
        // TXN_START always runs once the state exists: plugins pair it with TXN_CLOSE.
        if hook != HookId::TxnStart && self.left.as_ref().is_some_and(oneshot::Sender::is_closed) {
            return Err(Answer::ClientLeft);
        }
        // Most hooks end without waiting: only a pending callback costs a future.
        let outcome = match state.hook_now(hook) {
            Ok(outcome) => outcome,
            Err(pending) => pending.await,
        };
        let state = state.get();
        if let Some((status, body)) = state.direct.take() {
            return Err(Answer::Direct { status, body });
        }
        match outcome {
            Outcome::Error if state.timed_out => Err(Answer::HookTimedOut),
            Outcome::Error => Err(Answer::PluginFailed),
            _ => Ok(()),
        }
    }

    /// Answers a waiting `ctl hooks --txn-sample` with what this transaction's hooks ran.
    fn answer_sample(&mut self, conn: &Conn) {
        let sampler = &conn.worker.sampler;
        if !sampler.armed() {
            return;
        }
        sampler.answer(|| match &mut self.state {
            Some(state) => state.inspect(crate::report::hook_listing),
            None => crate::report::hook_listing(
                &self.generation.hooks.table.load(),
                &self.generation.hooks.priorities,
                &hookyard_hooks::Local::default(),
            ),
        });
    }
}

/// The client's fields as received (`lines`) put into the origin request's map `headers` (the
/// fields plugins and the proxy added), as [`LentRequest::to_origin`] puts them: the record of
/// their case.
fn fields_for_origin(
    lines: hookyard_h1::FieldLines,
    headers: &mut HeaderMap,
) -> Result<ClientFields, Answer> {
    let mut lent = LentRequest::to_origin(lines);
    hookyard_host::Unread::put(&mut lent, headers);
    if lent.failed() {
        return Err(Answer::BadFields);
    }
    Ok(lent.into_fields())
}

/// The client's fields, wherever the transaction keeps them: `received`, or lent to plugin
/// `state` (none if putting them in its map failed).
fn client_fields<'a>(
    received: &'a Option<ClientFields>,
    state: &'a mut Option<TxnBox>,
) -> Option<&'a ClientFields> {
    match (received, state) {
        (Some(fields), _) => Some(fields),
        (None, Some(state)) => state.get().lent_fields::<LentRequest>()?.fields(),
        (None, None) => None,
    }
}

/// The response head `parts` tells, for plugins, with the fields of the origin's response
/// `body` follows lent if they are still as received: they go into the head's map only if a
/// plugin reads or changes them.
fn lend_head(parts: &mut http::response::Parts, body: &mut OriginBody) -> ResponseHead {
    let headers = std::mem::take(&mut parts.headers);
    let head = ResponseHead::new(parts.status, headers, fields::reason(parts));
    match body.lend() {
        Some(lent) => head.with_unread(Box::new(lent)),
        None => head,
    }
}

/// Puts `head`, as plugins left it, back into `parts`, and its lent fields into `body` (see
/// [`lend_head`]); 502 if they were put in the map and it could not hold one.
fn take_head_back(
    mut head: ResponseHead,
    parts: &mut http::response::Parts,
    body: &mut OriginBody,
) -> Result<(), Answer> {
    if let Some(lent) = head.take_unread::<LentFields>() {
        give_back(body, *lent)?;
    }
    set_head(parts, head);
    Ok(())
}

/// Gives `lent` back to the origin's response `body` (see [`OriginBody::give_back`]); 502 if
/// they were put in the map and it could not hold one.
fn give_back(body: &mut OriginBody, lent: LentFields) -> Result<(), Answer> {
    body.give_back(lent).map_err(|e| {
        debug!(error = %e, "origin response fields");
        Answer::OriginFailed
    })
}

/// Puts `head`'s status, reason and fields into `parts`.
fn set_head(parts: &mut http::response::Parts, head: ResponseHead) {
    fields::set_status(parts, head.status);
    fields::set_reason(parts, head.reason);
    parts.headers = head.headers;
}

/// `response` with its origin's fields in its map, as received (see
/// [`OriginBody::fields_into`]); 502 if the map cannot hold one.
fn fields_in_map(response: Response<OriginBody>) -> Result<Response<OriginBody>, Answer> {
    let (mut parts, mut body) = response.into_parts();
    if let Err(e) = body.fields_into(&mut parts.headers, |_| {}) {
        debug!(error = %e, "origin response fields");
        return Err(Answer::OriginFailed);
    }
    Ok(Response::from_parts(parts, body))
}

/// Puts the fields of the origin's response `body` follows into `parts`' map, if still as
/// received, after READ_RESPONSE_HDR (without those of one hop); whether they could be (logged
/// if not).
fn fields_in_map_after_read(parts: &mut http::response::Parts, body: &mut Body) -> bool {
    let Either::Left(origin) = body else { return true };
    let Err(e) = origin.fields_into(&mut parts.headers, fields::remove_hop_by_hop) else {
        return true;
    };
    debug!(error = %e, "origin response fields");
    false
}

/// The first address of `host` (an IP literal as is), within `limit`.
async fn resolve(
    dns: &crate::dns::Resolver,
    host: &str,
    port: u16,
    limit: std::time::Duration,
) -> Option<SocketAddr> {
    match tokio::time::timeout(limit, dns.resolve(host, port)).await {
        Ok(Ok(addr)) => Some(addr),
        Ok(Err(e)) => {
            debug!(%host, error = %e, "origin host does not resolve");
            None
        }
        Err(_) => {
            debug!(%host, "origin host resolution timed out");
            None
        }
    }
}

/// A response body through transforms: its first output taken before the head goes (a
/// transform failing at once is answered 502); a rewrite's whole output, ready at once within
/// `limit`, goes with a new `Content-Length` (else chunked).
async fn primed<B>(
    mut parts: http::response::Parts,
    mut body: Transformed<B>,
    limit: usize,
    sent: impl FnOnce(Transformed<B>) -> Sent,
) -> Response<Sent>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<transform::BoxError>,
{
    if !body.keeps_length() {
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    match body.prime(limit).await {
        Primed::Failed(failed) => {
            debug!(error = %failed, "the response body failed before its head went");
            let answer = if failed.is::<transform::TransformFailed>() {
                Answer::TransformFailed
            } else if failed.is::<wasm::WasmStopped>() {
                Answer::WasmFailed
            } else {
                Answer::OriginFailed
            };
            return answer.response().map(Sent::Plain);
        }
        Primed::Whole(len) if !body.keeps_length() => {
            parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        Primed::Whole(_) | Primed::Streaming => {}
    }
    Response::from_parts(parts, sent(body))
}
