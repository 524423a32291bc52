//! One HTTP/2 client connection (h2c on a plain listener, or `h2` by ALPN on a TLS one):
//! hyper's HTTP/2 server with the `http2` limits of `hookyard.yaml`, every stream a transaction
//! ([`txn::handle_stream`]) with all its hooks and remap plugins.
//!
//! Streams of one connection are one session: they share the connection's [`Conn`] (its
//! SSN_START runs once, with the first stream that needs plugin state, and SSN_CLOSE once every
//! stream's transaction ended). Each stream's transaction runs inside hyper's stream future
//! ([`Detachable`]) until hyper drops that future, when the client resets the stream or leaves:
//! the transaction then goes on on a task of its own, since one whose hook is pending cannot be
//! dropped without losing its TXN_CLOSE (the plugin holds its state). It ends there at its next
//! phase, or when its origin exchange is cut short.
//!
//! HTTP/1's framing watcher (`ConnIo`) has no place here (HTTP/2 frames every message); only
//! activity is stamped, for the idle timeout, after which the connection gets a GOAWAY (as when
//! the worker stops).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument, debug, debug_span};

use super::io::ConnState;
use super::{ClientBody, Conn};
use crate::txn::{self, TxnBody};

/// The worker's shutdown as one connection sees it: its signal, the server's drain, and the
/// watcher whose drop tells the worker's graceful shutdown that the connection ended.
pub(crate) struct Stop {
    signal: watch::Receiver<bool>,
    drain: watch::Receiver<bool>,
    _watcher: Watcher,
    /// The worker stopping or the drain was seen (and the connection told).
    seen: bool,
}

impl Stop {
    /// `signal` turns true when the worker stops, `drain` when the server starts draining;
    /// `watcher` is of the worker's `GracefulShutdown`, which waits for this connection until
    /// the `Stop` drops.
    pub(crate) fn new(
        signal: watch::Receiver<bool>,
        drain: watch::Receiver<bool>,
        watcher: Watcher,
    ) -> Stop {
        Stop { signal, drain, _watcher: watcher, seen: false }
    }

    /// Resolves once the worker stops or the server drains (or either is gone).
    async fn stopping(&mut self) {
        tokio::select! {
            _ = self.signal.wait_for(|stopped| *stopped) => {}
            _ = self.drain.wait_for(|draining| *draining) => {}
        }
    }
}

/// Serves one HTTP/2 connection until it ends: closed by the client, or with a GOAWAY after
/// the idle timeout or when the worker stops (streams in flight finish first); then waits for
/// the transactions of its streams and runs the session's SSN_CLOSE. The caller counts the
/// connection open until this returns.
pub(crate) async fn serve<I>(io: I, conn: Arc<Conn>, stop: Stop)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    conn.worker.stats().http2_connections.fetch_add(1, Ordering::Relaxed);
    let (builder, idle, live_limit) = {
        let generation = conn.worker.serving.load();
        let settings = &generation.config.settings;
        let streams = settings.http2.max_concurrent_streams as usize;
        (builder(settings), settings.timeouts.idle, 2 * streams)
    };
    // Each stream's task holds a sender: `recv` answers `None` once every one has ended.
    let (streams, mut ended) = mpsc::channel::<()>(1);
    let service = {
        let conn = conn.clone();
        service_fn(move |request| stream(conn.clone(), request, streams.clone(), live_limit))
    };
    let io = TokioIo::new(Activity { inner: io, state: conn.state.clone() });
    // Boxed so it can be dropped (with the service's sender) before the streams are waited for.
    let mut connection = Box::pin(builder.serve_connection(io, service));
    // When the connection was shut down gracefully for idleness: by when it must have ended.
    let mut closing: Option<Instant> = None;
    let mut stop = stop;
    loop {
        let deadline = match next(&conn.state, idle, closing) {
            Next::Wait(deadline) => deadline,
            Next::GoAway => {
                debug!("idle timeout: GOAWAY");
                connection.as_mut().graceful_shutdown();
                closing = Some(Instant::now() + idle);
                continue;
            }
            Next::Drop => {
                debug!("the client did not end an idle connection after GOAWAY");
                break;
            }
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = tokio::time::sleep_until(deadline.into()) => {}
            () = stop.stopping(), if !stop.seen => {
                // A GOAWAY: streams in flight finish, the client opens its next ones on a new
                // connection; the worker's shutdown grace bounds them.
                connection.as_mut().graceful_shutdown();
                stop.seen = true;
            }
        }
    }
    drop(connection);
    // hyper's connection is gone, and with it the service's sender.
    ended.recv().await;
    conn.close_session().await;
    // Only now: the worker's graceful shutdown waits for SSN_CLOSE too.
    drop(stop);
}

/// hyper's HTTP/2 server, configured by `settings.http2` (the header list limit defaulting to
/// `limits.max_header_bytes`).
fn builder(settings: &crate::config::Settings) -> http2::Builder<TokioExecutor> {
    let limits = &settings.http2;
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(limits.header_list_limit(settings.limits.max_header_bytes))
        .initial_stream_window_size(limits.initial_stream_window)
        .initial_connection_window_size(limits.initial_connection_window)
        .keep_alive_interval(limits.keepalive_interval)
        .keep_alive_timeout(limits.keepalive_timeout);
    builder
}

/// One stream: its transaction on a task of its own (see the module documentation), whose
/// response hyper sends. Dropping this future (the stream was reset, or the connection ended)
/// tells the transaction its client left.
///
/// A reset stream no longer counts against `max_concurrent_streams`, but its transaction may
/// still run (a plugin holds it pending): a client resetting streams as fast as it opens them
/// would otherwise start transactions without bound (the "rapid reset" attack). Past
/// `live_limit` transactions still running on the connection a new stream is answered 503.
async fn stream(
    conn: Arc<Conn>,
    request: Request<Incoming>,
    alive: mpsc::Sender<()>,
    live_limit: usize,
) -> Result<Response<TxnBody>, Infallible> {
    // Every stream future and transaction task holds a sender, and the service one.
    if alive.strong_count() > live_limit + 1 {
        return Ok(txn::too_many_streams());
    }
    let (left, stays) = oneshot::channel();
    let transaction = async move {
        let response = txn::handle_stream(conn, request.map(ClientBody::Http2), left).await;
        // Returned together: a response nobody reads (its TXN_CLOSE) drops before the sender.
        (response, alive)
    };
    let (response, _alive) = Detachable::new(transaction.instrument(debug_span!("stream"))).await;
    drop(stays);
    Ok(response)
}

/// A stream's transaction, polled in place by the stream's future. Dropped before it ended,
/// it goes on to its end on a task of its own (moved there by pointer), its output dropped.
struct Detachable<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    transaction: Option<Pin<Box<F>>>,
}

impl<F> Detachable<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn new(transaction: F) -> Detachable<F> {
        Detachable { transaction: Some(Box::pin(transaction)) }
    }
}

impl<F> Future for Detachable<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(transaction) = self.transaction.as_mut() else {
            unreachable!("a stream's transaction polled after it ended")
        };
        let output = std::task::ready!(transaction.as_mut().poll(cx));
        self.transaction = None;
        Poll::Ready(output)
    }
}

impl<F> Drop for Detachable<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        let Some(transaction) = self.transaction.take() else { return };
        // Without a runtime (it is being torn down as the worker stops) nothing could run the
        // transaction on: it is dropped here, as every task of the worker then is.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { drop(transaction.await) });
        }
    }
}

/// What the connection's timer does next.
enum Next {
    /// Sleep until then (unless the connection or the worker says otherwise first).
    Wait(Instant),
    /// Idle: shut down gracefully (GOAWAY; no stream is in flight).
    GoAway,
    /// The client let an idle connection's GOAWAY go unanswered for `idle`: drop it.
    Drop,
}

/// After `idle` with no byte moved and no transaction in flight the connection goes away; once
/// gone away (`closing`: by when it must have ended) the client has one more `idle` to end it.
fn next(state: &ConnState, idle: Duration, closing: Option<Instant>) -> Next {
    let now = Instant::now();
    match closing {
        Some(end) if end <= now => Next::Drop,
        Some(end) => Next::Wait(end),
        None => {
            let deadline = state.last_activity() + idle;
            if deadline > now {
                Next::Wait(deadline)
            } else if state.in_flight.load(Ordering::Relaxed) == 0 {
                Next::GoAway
            } else {
                // A transaction is waiting on its origin: its own timeouts govern.
                Next::Wait(now + idle)
            }
        }
    }
}

/// The client stream, with every byte moved stamped for the idle timeout.
struct Activity<I> {
    inner: I,
    state: Arc<ConnState>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Activity<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.touch();
            self.state.received(buf.filled().len() - before);
        }
        poll
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Activity<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll
            && n > 0
        {
            self.state.touch();
            self.state.sent(n);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll
            && n > 0
        {
            self.state.touch();
            self.state.sent(n);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
