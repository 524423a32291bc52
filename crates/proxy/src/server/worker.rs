//! One worker: a current-thread runtime, its listeners, its origin connection pool, and the
//! connections it accepted, which never leave it.

use std::future::{Future, poll_fn};
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tracing::{Instrument, debug, error, info_span, warn};

use crate::conn::deadline::{Deadlines, Moment};
use crate::conn::io::{ConnIo, ConnState};
use crate::conn::preface::{self, Protocol, Rewind};
use crate::conn::{Conn, Worker};
use crate::conn::{h1, h2};
use crate::limit::Permit;
use crate::stats::ListenerCounts;
use crate::tls::{TlsInfo, TlsServer};

/// What a listener's connections speak.
pub(super) enum Listener {
    /// HTTP.
    Plain,
    /// TLS, then HTTP; `endpoint` is the listener's index among the TLS ones.
    Tls { server: Arc<TlsServer>, endpoint: usize },
}

/// Counts an open connection (and holds its place under the cap) until its task ends or is
/// dropped (a worker stopping after the shutdown grace drops its connection tasks).
struct OpenConn {
    worker: Arc<Worker>,
    _permit: Permit,
}

impl OpenConn {
    fn count(worker: Arc<Worker>, permit: Permit) -> OpenConn {
        worker.stats().connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConn { worker, _permit: permit }
    }
}

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.worker.stats().connections_closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `worker` on this thread until `stopped`: its listeners' connections, and their
/// transactions.
pub(super) fn run(
    listeners: Vec<(TcpListener, (Listener, usize))>,
    worker: Worker,
    stopped: watch::Receiver<bool>,
) {
    let index = worker.index;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(worker = index, error = %e, "cannot start a worker runtime");
            return;
        }
    };
    runtime.block_on(async move {
        let worker = Arc::new(worker);
        let mut tasks = Vec::new();
        for (listener, kind) in listeners {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => tasks.push(tokio::spawn(accept(
                    listener,
                    kind,
                    worker.clone(),
                    stopped.clone(),
                ))),
                Err(e) => error!(worker = index, error = %e, "cannot register a listener"),
            }
        }
        let sweeper = tokio::spawn(sweep_origins(worker.clone()));
        for task in tasks {
            if let Err(e) = task.await {
                error!(worker = index, error = %e, "accept task failed");
            }
        }
        sweeper.abort();
    });
}

/// How often a worker looks over its idle origin connections.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Closes the worker's idle origin connections that their origins closed or that idled too
/// long (no task watches an idle connection), every [`SWEEP_EVERY`].
async fn sweep_origins(worker: Arc<Worker>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        worker.origins.sweep();
    }
}

/// How long, after the listeners of a draining server close, its connections that have not
/// sent their first request yet still have for it (it is then served, with `Connection:
/// close`): a client that connected just before the close has its request on the way, and
/// closing the connection under it would reset it.
const LAST_CALL: Duration = Duration::from_secs(1);

/// Accepts the connections of `listener` (its kind, and its index in listen order).
async fn accept(
    listener: tokio::net::TcpListener,
    (kind, at): (Listener, usize),
    worker: Arc<Worker>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let bound = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    // What the connections see of the stop: after the last call when draining.
    let (connections_stop, connections_stopped) = watch::channel(false);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Over the cap: closed at once (counted, and logged now and then).
                    let Some(permit) = worker.limit.admit() else { continue };
                    let local = stream.local_addr().unwrap_or(peer);
                    if let Err(e) = stream.set_nodelay(true) {
                        debug!(error = %e, "cannot set TCP_NODELAY");
                    }
                    let accepted = Accepted {
                        peer,
                        local,
                        listener: bound,
                        worker: worker.clone(),
                        stopped: connections_stopped.clone(),
                        watcher: graceful.watcher(),
                        open: OpenConn::count(worker.clone(), permit),
                        counts: worker.listener_counts(at),
                    };
                    spawn_connection(&kind, stream, accepted);
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            changed = stopped.changed() => if changed.is_err() || *stopped.borrow() { break },
        }
    }
    drop(listener);
    let grace = worker.drain.stop_budget(worker.serving.load().config.settings.timeouts.shutdown);
    let end = tokio::time::Instant::now() + grace;
    if worker.drain.is_draining() {
        tokio::time::sleep(LAST_CALL.min(grace)).await;
    }
    connections_stop.send_replace(true);
    if tokio::time::timeout_at(end, graceful.shutdown()).await.is_err() {
        warn!(
            worker = worker.index,
            ?grace,
            "shutdown grace period over, closing the remaining connections"
        );
    }
}

/// An accepted connection, with what serving it needs from its worker.
struct Accepted {
    peer: SocketAddr,
    local: SocketAddr,
    /// The listener's own address.
    listener: SocketAddr,
    worker: Arc<Worker>,
    /// Turns true when the worker stops.
    stopped: watch::Receiver<bool>,
    /// Holds the worker's graceful shutdown until the connection is served.
    watcher: Watcher,
    open: OpenConn,
    /// Where the connection's traffic counts.
    counts: ListenerCounts,
}

/// Serves an accepted connection on its own task, as its listener's kind says.
fn spawn_connection(kind: &Listener, stream: tokio::net::TcpStream, accepted: Accepted) {
    let span = info_span!("conn", peer = %accepted.peer);
    match kind {
        Listener::Plain => {
            tokio::spawn(serve_plain(stream, accepted).instrument(span));
        }
        Listener::Tls { server, endpoint } => {
            let server = server.clone();
            tokio::spawn(serve_tls(server, *endpoint, stream, accepted).instrument(span));
        }
    }
}

/// A plain connection: HTTP/2 if it starts with the HTTP/2 preface and `http2.h2c` is on,
/// HTTP/1 otherwise.
async fn serve_plain(stream: tokio::net::TcpStream, accepted: Accepted) {
    let (h2c, idle, header_read) = {
        let generation = accepted.worker.serving.load();
        let settings = &generation.config.settings;
        (settings.http2.h2c, settings.timeouts.idle, settings.timeouts.header_read)
    };
    let protocol = if h2c {
        let mut stopping = accepted.stopped.clone();
        // A connection still silent when the worker stops is closed, as hyper closes an idle
        // one (the graceful shutdown would otherwise wait for it).
        tokio::select! {
            protocol = preface::detect(stream, idle, header_read) => protocol,
            () = async { let _ = stopping.wait_for(|stopped| *stopped).await; } => None,
        }
    } else {
        Some(Protocol::Http1(Rewind::new(stream)))
    };
    match protocol {
        Some(Protocol::Http2(io)) => serve_http2(io, None, accepted).await,
        Some(Protocol::Http1(io)) => serve_http1(io, None, accepted).await,
        None => {}
    }
}

/// A TLS connection: its handshake with the serving generation's certificates (bounded by
/// `timeouts.header_read`), then HTTP in the protocol ALPN agreed on.
async fn serve_tls(
    server: Arc<TlsServer>,
    endpoint: usize,
    stream: tokio::net::TcpStream,
    accepted: Accepted,
) {
    let handshake = async {
        // Held for the handshake only: the connection's transactions take their own.
        let generation = accepted.worker.serving.load_full();
        let timeout = generation.config.settings.timeouts.header_read;
        server.handshake(endpoint, stream, &generation, timeout).await
    };
    let Some((stream, tls)) = handshake.instrument(info_span!("tls")).await else { return };
    let alpn = tls.alpn.as_deref().map(String::from_utf8_lossy);
    debug!(sni = ?tls.sni, ?alpn, version = tls.version, "TLS handshake done");
    if tls.alpn.as_deref() == Some(b"h2") {
        serve_http2(stream, Some(tls), accepted).await;
    } else {
        serve_http1(stream, Some(tls), accepted).await;
    }
}

/// Serves HTTP/2 on a client connection (h2c, or TLS with ALPN `h2`) until it ends.
async fn serve_http2<S>(stream: S, tls: Option<TlsInfo>, accepted: Accepted)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Accepted { peer, local, listener, worker, stopped, watcher, open, counts } = accepted;
    let state = Arc::new(ConnState::counting(Some(counts)));
    let conn = Arc::new(Conn::new(worker, peer, local, listener, tls, state));
    let drain = conn.worker.drain.subscribe();
    h2::serve(stream, conn, h2::Stop::new(stopped, drain, watcher)).await;
    drop(open);
}

/// Serves HTTP/1.1 on a client connection (plain, or TLS after its handshake) until it ends.
async fn serve_http1<S>(stream: S, tls: Option<TlsInfo>, accepted: Accepted)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Accepted { peer, local, listener, worker, stopped, watcher, open, counts } = accepted;
    let generation = worker.serving.load();
    let settings = &generation.config.settings;
    let limits = hookyard_h1::Limits {
        max_head_bytes: settings.limits.max_header_bytes,
        max_headers: settings.limits.max_headers,
        ..hookyard_h1::Limits::default()
    };
    let idle = settings.timeouts.idle;
    let header_read = settings.timeouts.header_read;
    drop(generation);
    let state = Arc::new(ConnState::counting(Some(counts)));
    let conn = Arc::new(Conn::new(worker, peer, local, listener, tls, state.clone()));
    let io = ConnIo::new(stream, state.clone());
    // A client may shut down its sending side once its request is sent (RFC 9112 §9.6): the
    // response is written, then the connection closes. A client that left altogether is
    // noticed when the response is written, or by the origin timeouts.
    let connection = h1::serve(io, conn.clone(), limits, stopped);
    // Dropped when it returns: the connection, with the response body it may still hold
    // (whose drop runs TXN_CLOSE).
    drive(connection, &state, idle, header_read).await;
    conn.close_session().await;
    // The worker's graceful shutdown waits for SSN_CLOSE too.
    drop(watcher);
    drop(open);
}

/// Serves `connection` until it ends or one of the connection's own timeouts (idle, header
/// read) ends it; on the same timer, ends its transaction's phases at their deadlines
/// (`conn/deadline.rs`).
async fn drive<E: std::fmt::Display>(
    connection: impl Future<Output = Result<(), E>>,
    state: &ConnState,
    idle: Duration,
    header_read: Duration,
) {
    tokio::pin!(connection);
    loop {
        let now = std::time::Instant::now();
        // A transaction's phase past its deadline ends when the connection is polled below.
        state.deadlines.pass(now);
        let head = state.head_started().map(|started| started + header_read);
        if head.is_some_and(|limit| limit <= now) {
            debug!("header read timeout");
            break;
        }
        let mut deadline = state.last_activity() + idle;
        if deadline <= now {
            if state.in_flight.load(Ordering::Relaxed) == 0 {
                debug!("idle timeout");
                break;
            }
            // A transaction is waiting on its origin: its own timeouts govern.
            deadline = now + idle;
        }
        // A head starting while this task sleeps is seen at the next wake: waking at
        // least every `header_read` bounds a slow head to twice that.
        deadline = deadline.min(head.unwrap_or(now + header_read));
        if let Some(next) = state.deadlines.next() {
            deadline = deadline.min(next);
        }
        if let Some(result) = until(connection.as_mut(), deadline, &state.deadlines).await {
            if let Err(e) = result {
                debug!(error = %e, "connection ended with an error");
            }
            break;
        }
    }
}

/// `connection`'s end, or `None` at `deadline` if it has not ended by then, or as soon as its
/// transaction sets one of its `deadlines` earlier than that.
///
/// The connection is polled first at each wake, the timer only when it fired or the task's
/// waker changed: a registered timer keeps the waker it was polled with, and a poll of it costs
/// more than the check (the connection wakes several times per request).
async fn until<F: Future>(
    mut connection: Pin<&mut F>,
    deadline: Instant,
    deadlines: &Deadlines,
) -> Option<F::Output> {
    let sleep = tokio::time::sleep_until(deadline.into());
    tokio::pin!(sleep);
    let mut polled_with: Option<Waker> = None;
    let timer = Moment::from(deadline);
    poll_fn(|cx| {
        if let Poll::Ready(output) = connection.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if deadlines.any_before(timer) {
            return Poll::Ready(None);
        }
        let current = polled_with.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if !current || sleep.is_elapsed() {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            polled_with = Some(cx.waker().clone());
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::clock::SLACK;
    use crate::conn::deadline::{Bounded, Phase};

    /// A transaction's phase bounded more tightly than the driver's own timeouts: the driver
    /// wakes for it, not at its own timer (here 10 s ahead), and the phase ends then.
    #[tokio::test]
    async fn a_deadline_earlier_than_the_drivers_timer_ends_its_phase_on_time() {
        let state = ConnState::counting(None);
        let expired = Cell::new(false);
        let limit = Duration::from_millis(80);
        let started = Instant::now();
        let connection = async {
            // Set once the driver's timer is armed: it must move to the earlier deadline.
            tokio::task::yield_now().await;
            let mut never = std::future::pending::<()>();
            let (at, driver) = (Instant::now() + limit, Some(&state.deadlines));
            let phase = Bounded::new(Pin::new(&mut never), Phase::OriginResponse, at, driver);
            expired.set(phase.await.is_err());
            Ok::<(), &str>(())
        };
        drive(connection, &state, Duration::from_secs(60), Duration::from_secs(10)).await;
        let took = started.elapsed();
        assert!(expired.get());
        assert!(took >= limit && took < limit + SLACK, "{took:?}");
        assert_eq!(state.deadlines.next(), None);
    }
}
