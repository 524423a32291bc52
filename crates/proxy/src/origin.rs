//! A worker's connections to its origins: HTTP/1.1 over TCP, kept alive and reused, one request
//! at a time each (each worker its own pool, no lock shared between workers: `ARCHITECTURE.md`, `crates/proxy`).
//!
//! A connection is spoken with our own client ([`conn`], over `hookyard-h1`). It goes back to
//! its origin's idle list once its response's body was read to its end ([`OriginBody`] puts it
//! there), unless the response or the request said to close, the response had both framing
//! fields, or the origin answered before the request's body was all sent. Lists are looked up
//! by `host:port`, the `Host` the request carries (`https://host:port` for TLS origins,
//! `https+noverify://host:port` without verification).
//!
//! Header names keep the case the origin wrote them in: the response's body carries the head's
//! [`hookyard_h1::HeaderCase`] (and an unusual reason phrase is in its extensions), and the
//! transaction moves them on.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hookyard_h1::BodyKind;
use http::header::{self, HeaderMap};
use http::{Request, Response, StatusCode};
use tracing::debug;

pub(crate) mod body;
pub(crate) mod conn;
mod response;
pub(crate) mod tls;

use self::body::RequestBody;
use self::conn::{ExchangeError, Exchanged, OriginConn, Stream, Unanswered};
use self::response::Back;
#[cfg(test)]
pub(crate) use self::response::put_received;
pub(crate) use self::response::{LentFields, OriginBody, Received};
use self::tls::{TlsError, TlsTarget};
use crate::clock::Stamp;
use crate::dns::Resolver;
use crate::stats::{Stats, WorkerStats};
use crate::txn::fields::ClientFields;

/// Why a request did not reach its origin or got no usable response head.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OriginError {
    /// No connection within `timeouts.origin_connect`.
    #[error("connect timeout")]
    ConnectTimeout,
    /// The connection was refused or failed (name resolution included).
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    /// The TLS handshake with an `https://` origin failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The request or the response head failed on an established connection.
    #[error("exchange: {0}")]
    Exchange(#[source] ExchangeError),
    /// The origin answered 101 Switching Protocols, which the proxy never asks for.
    #[error("unsolicited 101 switching protocols")]
    SwitchingProtocols,
    /// The host has `origin_pool.max_connections` open, none idle.
    #[error("at origin_pool.max_connections")]
    Busy,
}

/// A request that got no response: why, and whether nothing of it was sent (no connection could
/// be made), so it can go elsewhere as it is.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: OriginError,
    pub(crate) unsent: bool,
}

impl From<OriginError> for Failed {
    fn from(error: OriginError) -> Failed {
        Failed { error, unsent: false }
    }
}

/// One idle connection.
struct Pooled {
    conn: Box<OriginConn>,
    /// When it came back, on the coarse [`clock`](crate::clock) (a tick is nothing to an idle
    /// timeout).
    since: Stamp,
}

impl Pooled {
    /// Whether it may take a request: idle at most `idle_timeout`, and neither closed by its
    /// origin nor holding bytes nobody asked for.
    fn usable(&mut self, idle_timeout: Duration) -> bool {
        self.since.until(Stamp::now()) <= idle_timeout && self.conn.usable()
    }
}

/// A worker's origin connections, per `host:port`.
pub(crate) struct OriginPool {
    /// Shared with the response bodies, which give connections back.
    idle: Arc<Idle>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_requests: u64,
    /// With `origin_pool.max_connections`: the limit, and the connections open per key.
    open: Option<(usize, Arc<OpenCounts>)>,
    /// Every worker's counters, and this worker's index in them.
    stats: Arc<Stats>,
    worker: usize,
}

/// A pool's idle connections, and what putting one back needs.
pub(crate) struct Idle {
    lists: Mutex<Lists>,
    max_idle: usize,
    stats: Arc<Stats>,
    worker: usize,
}

/// The pooled connections per key, and how many there are in all.
#[derive(Default)]
struct Lists {
    by_key: HashMap<String, VecDeque<Pooled>, foldhash::fast::RandomState>,
    pooled: usize,
}

impl Idle {
    /// Puts `conn` on `key`'s idle list, unless the list is full (the connection closes).
    fn put(&self, key: &str, mut conn: Box<OriginConn>) {
        conn.idle();
        let mut lists = self.lists.lock().unwrap_or_else(PoisonError::into_inner);
        let Lists { by_key, pooled: count } = &mut *lists;
        let pooled = Pooled { conn, since: Stamp::now() };
        match by_key.get_mut(key) {
            Some(list) if list.len() >= self.max_idle => return,
            Some(list) => list.push_back(pooled),
            None if self.max_idle == 0 => return,
            None => {
                let mut list = VecDeque::with_capacity(8);
                list.push_back(pooled);
                by_key.insert(key.to_owned(), list);
            }
        }
        *count += 1;
        self.stats.workers[self.worker].origin_pooled.store(*count as u64, Ordering::Relaxed);
    }
}

impl OriginPool {
    /// An empty pool of worker `worker` as `settings` say, counting in `stats`.
    pub(crate) fn new(
        connect_timeout: Duration,
        settings: &crate::config::OriginPool,
        stats: Arc<Stats>,
        worker: usize,
    ) -> OriginPool {
        let open =
            (settings.max_connections > 0).then(|| (settings.max_connections, Arc::default()));
        let idle = Idle {
            lists: Mutex::default(),
            max_idle: settings.max_idle,
            stats: stats.clone(),
            worker,
        };
        OriginPool {
            idle: Arc::new(idle),
            connect_timeout,
            idle_timeout: settings.idle_timeout,
            max_requests: settings.max_requests,
            open,
            stats,
            worker,
        }
    }

    fn stats(&self) -> &WorkerStats {
        &self.stats.workers[self.worker]
    }

    /// An idle connection to `authority`, if one is usable; those idle too long, closed by
    /// the origin, or with bytes no request asked for are dropped.
    fn checkout(&self, authority: &str) -> Option<Box<OriginConn>> {
        let mut lists = self.idle.lists.lock().unwrap_or_else(PoisonError::into_inner);
        let Lists { by_key, pooled: count } = &mut *lists;
        let list = by_key.get_mut(authority)?;
        let before = list.len();
        let mut found = None;
        while let Some(mut pooled) = list.pop_front() {
            if pooled.usable(self.idle_timeout) {
                found = Some(pooled.conn);
                break;
            }
        }
        *count -= before - list.len();
        self.stats().origin_pooled.store(*count as u64, Ordering::Relaxed);
        found
    }

    /// Drops the idle connections that idled past `origin_pool.idle_timeout`, that their
    /// origin closed, or that sent bytes nobody asked for: run now and then by the worker, so
    /// that an origin's close is followed by ours without waiting for a request to the origin.
    pub(crate) fn sweep(&self) {
        let mut lists = self.idle.lists.lock().unwrap_or_else(PoisonError::into_inner);
        let Lists { by_key, pooled: count } = &mut *lists;
        if *count == 0 {
            return;
        }
        for list in by_key.values_mut() {
            list.retain_mut(|p| p.usable(self.idle_timeout));
        }
        by_key.retain(|_, list| !list.is_empty());
        *count = by_key.values().map(VecDeque::len).sum();
        self.stats().origin_pooled.store(*count as u64, Ordering::Relaxed);
    }

    /// The response whose head `exchanged` holds, read on `conn` (a connection to `key`); its
    /// body reads on, and gives the connection back when it may carry another request.
    ///
    /// # Errors
    ///
    /// A 101: `Upgrade` is hop-by-hop, so the proxy never offers a protocol, and a server must
    /// not switch to one the request did not offer (RFC 9110 §15.2.2). Forwarded, the 101 would
    /// leave the client's connection in no protocol at all.
    fn respond(
        &self,
        key: &str,
        conn: Box<OriginConn>,
        exchanged: Exchanged,
    ) -> Result<Response<OriginBody>, OriginError> {
        let Exchanged { head, early, rest, close } = exchanged;
        if head.status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(OriginError::SwitchingProtocols);
        }
        // Its last request under `max_requests`: the connection closes after this response.
        let spent = self.max_requests > 0 && conn.requests >= self.max_requests;
        let mut reuse = head.keep_alive() && !early && !close && !spent;
        let kind = head.body();
        if head.has_conflicting_length() {
            debug!(origin = key, "response with both Content-Length and Transfer-Encoding");
            reuse = false;
        }
        let (parts, lines) = head.into_parts_and_lines();
        let body = if kind == BodyKind::Empty {
            if reuse && conn.read.is_empty() {
                self.idle.put(key, conn);
            }
            OriginBody::empty()
        } else {
            let back = reuse.then(|| Back { idle: self.idle.clone(), key: key.to_owned() });
            OriginBody::new(conn, kind, back, rest)
        };
        Ok(Response::from_parts(parts, body.with_lines(lines)))
    }

    /// A new connection to `to` (its name resolved by `dns`): TCP, then TLS for an `https://` origin (each step within
    /// `timeouts.origin_connect`).
    async fn connect(
        &self,
        to: &Destination,
        dns: &Resolver,
        slot: Option<Slot>,
    ) -> Result<Box<OriginConn>, OriginError> {
        let (host, port, addr) = (to.host.as_str(), to.port, to.addr);
        let connect = async {
            match (addr, host.parse::<IpAddr>()) {
                (Some(addr), _) => tokio::net::TcpStream::connect(addr).await,
                (None, Ok(ip)) => tokio::net::TcpStream::connect(SocketAddr::new(ip, port)).await,
                (None, Err(_)) => {
                    let addrs = dns.resolve_all(host, port).await?;
                    tokio::net::TcpStream::connect(addrs.as_slice()).await
                }
            }
        };
        let stream = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| OriginError::ConnectTimeout)?
            .map_err(OriginError::Connect)?;
        if let Err(e) = stream.set_nodelay(true) {
            debug!(error = %e, "cannot set TCP_NODELAY on an origin connection");
        }
        let open = OpenOrigin::count(self.stats.clone(), self.worker, slot);
        let Some(tls) = &to.tls else { return Ok(OriginConn::new(Stream::Tcp(stream), open)) };
        let stream = tokio::time::timeout(self.connect_timeout, tls.handshake(stream))
            .await
            .map_err(|_| OriginError::ConnectTimeout)??;
        Ok(OriginConn::new(Stream::Tls(Box::new(stream)), open))
    }

    /// Sends `request` (origin-form target, `Host` set; its fields written as `received` says,
    /// see [`OriginConn::exchange`]) to `host:port` (`authority`), on an idle connection if there
    /// is one, else a new one; a request an idle connection failed before any byte of its
    /// response arrived goes on another, when its body was empty. A request no connection
    /// could be made for is left as it was (see [`Failed::unsent`]).
    pub(crate) async fn send(
        &self,
        to: &Destination,
        request: &mut Request<RequestBody>,
        received: Option<&ClientFields>,
        dns: &Resolver,
    ) -> Result<Response<OriginBody>, Failed> {
        let authority = to.key.as_str();
        while let Some(mut conn) = self.checkout(authority) {
            match conn.exchange(request, received).await {
                Ok(exchanged) => return Ok(self.respond(authority, conn, exchanged)?),
                // The origin closed the idle connection as it was taken: the request goes again.
                Err(Unanswered { error, again: true }) => {
                    debug!(origin = authority, error = %error, "idle origin connection failed");
                }
                Err(Unanswered { error, again: false }) => {
                    return Err(OriginError::Exchange(error).into());
                }
            }
        }
        let Ok(slot) = self.reserve(authority) else {
            return Err(Failed { error: OriginError::Busy, unsent: true });
        };
        // Boxed: connecting is the rare path, and its future would make every request's larger.
        let started = Instant::now();
        let mut conn = match Box::pin(self.connect(to, dns, slot)).await {
            Ok(conn) => conn,
            Err(error) => return Err(Failed { error, unsent: true }),
        };
        let took = started.elapsed();
        self.stats().origins.get(&to.label()).connect.record(took);
        if let Some(host) = &to.pool_host {
            host.connected(took);
        }
        match conn.exchange(request, received).await {
            Ok(exchanged) => Ok(self.respond(authority, conn, exchanged)?),
            Err(Unanswered { error, .. }) => Err(OriginError::Exchange(error).into()),
        }
    }

    /// With `origin_pool.max_connections`: a place for one more connection to `key`, held
    /// until the connection ends (or fails to open).
    ///
    /// # Errors
    ///
    /// `key` has the most connections open already.
    fn reserve(&self, key: &str) -> Result<Option<Slot>, ()> {
        let Some((max, open)) = &self.open else { return Ok(None) };
        let mut counts = open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key.to_owned()).or_default();
        if *count >= *max {
            return Err(());
        }
        *count += 1;
        Ok(Some(Slot { open: open.clone(), key: key.to_owned() }))
    }
}

/// Connections open per key, under `origin_pool.max_connections`.
type OpenCounts = Mutex<HashMap<String, usize>>;

/// One connection's place under `origin_pool.max_connections`; given back when dropped.
struct Slot {
    open: Arc<OpenCounts>,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Counts an origin connection open from its TCP connect until it is dropped (or it failed
/// before it was made); holds its place under a connection limit as long.
pub(crate) struct OpenOrigin {
    stats: Arc<Stats>,
    worker: usize,
    _slot: Option<Slot>,
}

impl OpenOrigin {
    fn count(stats: Arc<Stats>, worker: usize, slot: Option<Slot>) -> OpenOrigin {
        stats.workers[worker].origin_opened.fetch_add(1, Ordering::Relaxed);
        OpenOrigin { stats, worker, _slot: slot }
    }
}

impl Drop for OpenOrigin {
    fn drop(&mut self) {
        self.stats.workers[self.worker].origin_closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Where a request goes: a host and port (resolved as the connection is made), or a fixed
/// address (a plugin's, or resolved for OS_DNS), over TLS or not; connections are pooled per
/// `key`.
#[derive(Debug)]
pub(crate) struct Destination {
    /// `host[:port]` (after `https://` or `https+noverify://` for TLS), and the address when
    /// one is fixed.
    pub(crate) key: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) addr: Option<SocketAddr>,
    /// For an `https://` origin: how to connect.
    pub(crate) tls: Option<TlsTarget>,
    /// The strategy's host it goes to, if a strategy chose it.
    pub(crate) pool_host: Option<Arc<crate::pool::Host>>,
}

impl Destination {
    /// To `host:port`, or to `addr` when given, with `authority` the `Host` it is asked as;
    /// over TLS with `tls`.
    pub(crate) fn new(
        authority: String,
        host: &str,
        port: u16,
        addr: Option<SocketAddr>,
        tls: Option<TlsTarget>,
    ) -> Self {
        let key = match (&tls, addr) {
            (None, None) => authority,
            // `@` is in no authority the proxy sends (user info is refused).
            (None, Some(addr)) => format!("{authority}@{addr}"),
            (Some(tls), addr) => {
                let scheme = if tls.verified { "https" } else { "https+noverify" };
                match addr {
                    Some(addr) => format!("{scheme}://{authority}@{addr}"),
                    None => format!("{scheme}://{authority}"),
                }
            }
        };
        Destination { key, host: host.to_owned(), port, addr, tls, pool_host: None }
    }

    /// To `pool_host`, a strategy's host (or to `addr` when given), asked as `authority`; its
    /// connections are pooled apart from those of the strategy's other hosts.
    pub(crate) fn to_pool_host(
        authority: String,
        pool_host: Arc<crate::pool::Host>,
        addr: Option<SocketAddr>,
        tls: Option<TlsTarget>,
    ) -> Self {
        let mut via = authority;
        via.push('@');
        match addr {
            Some(addr) => {
                use std::fmt::Write as _;
                let _ = write!(via, "{addr}");
            }
            None => via.push_str(&pool_host.name),
        }
        let mut to = Destination::new(via, &pool_host.host, pool_host.port, None, tls);
        to.addr = addr;
        to.pool_host = Some(pool_host);
        to
    }

    /// The origin's name in the metrics: `scheme://host:port`.
    pub(crate) fn label(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

/// Removes `Content-Length` from a response head that also has `Transfer-Encoding` (the HTTP/1
/// writer skips it from fields still as received; see `conn/head.rs`).
///
/// The body is read by its transfer coding, as RFC 9112 §6.3 says, but the head keeps both fields;
/// forwarded, the length would frame the decoded body for the client, cutting it off or leaving
/// the connection waiting. An intermediary must remove the length before forwarding (§6.1), and
/// the body is framed anew for the client. Apache httpd and HAProxy do the same; nginx (since
/// 1.23) answers 502 instead. Such a response may be an attempt at response splitting, so its
/// connection is not used again, as Apache httpd does.
fn drop_conflicting_length(headers: &mut HeaderMap) {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
}

#[cfg(test)]
mod tests;
