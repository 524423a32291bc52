//! One worker: a current-thread runtime, its listeners, its origin connection pool, and the
//! connections it accepted, which never leave it.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hookyard_hooks::{HookId, Outcome};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::watch;
use tracing::{Instrument, debug, error, info_span, warn};

use super::Shared;
use super::io::{ConnIo, ConnState};
use super::limit::Permit;
use super::origin::OriginPool;
use crate::stats::WorkerStats;
use crate::txn;
use hookyard_host::{GlobalHooks, SsnBox};

/// What every connection of a worker shares.
pub(crate) struct Worker {
    pub(crate) shared: Arc<Shared>,
    /// The worker's own origin connections.
    pub(crate) origins: OriginPool,
    pub(crate) index: usize,
}

impl Worker {
    pub(crate) fn stats(&self) -> &WorkerStats {
        &self.shared.stats.workers[self.index]
    }
}

/// One client connection.
pub(crate) struct Conn {
    pub(crate) worker: Arc<Worker>,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) state: Arc<ConnState>,
    /// What plugins see of the session, made with the first transaction that has plugin state,
    /// and the global hooks of the generation it started on: its SSN_CLOSE runs on them too.
    session: OnceLock<(SsnBox, Arc<GlobalHooks>)>,
}

impl Conn {
    /// The session's plugin state, made (and its SSN_START run) on first use; `None` when
    /// SSN_START failed the session.
    pub(crate) async fn session(&self, global: &Arc<GlobalHooks>) -> Option<&SsnBox> {
        if self.session.get().is_none() {
            let session = SsnBox::default();
            let outcome = session.hook(global, HookId::SsnStart).await;
            let _ = self.session.set((session, global.clone()));
            if outcome == Outcome::Error {
                debug!("SSN_START failed the session");
            }
        }
        self.session_now()
    }

    /// The session's plugin state, if made already.
    pub(crate) fn session_now(&self) -> Option<&SsnBox> {
        self.session.get().map(|(session, _)| session)
    }

    /// Whether the session has hooks of its own.
    pub(crate) fn has_session_hooks(&self) -> bool {
        self.session_now().is_some_and(SsnBox::has_hooks)
    }
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

pub(super) fn run(
    index: usize,
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(worker = index, error = %e, "cannot start a worker runtime");
            return;
        }
    };
    runtime.block_on(async move {
        let origins = origin_pool(&shared);
        let worker = Arc::new(Worker { shared, origins, index });
        let mut tasks = Vec::new();
        for listener in listeners {
            match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => {
                    tasks.push(tokio::spawn(accept(listener, worker.clone(), stopped.clone())))
                }
                Err(e) => error!(worker = index, error = %e, "cannot register a listener"),
            }
        }
        for task in tasks {
            if let Err(e) = task.await {
                error!(worker = index, error = %e, "accept task failed");
            }
        }
    });
}

fn origin_pool(shared: &Shared) -> OriginPool {
    let settings = &shared.current.load().config.settings;
    OriginPool::new(settings.timeouts.origin_connect, Duration::from_secs(90))
}

async fn accept(
    listener: tokio::net::TcpListener,
    worker: Arc<Worker>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Over the cap: closed at once (counted, and logged now and then).
                    let Some(permit) = worker.shared.limits.clients.admit() else { continue };
                    let local = stream.local_addr().unwrap_or(peer);
                    if let Err(e) = stream.set_nodelay(true) {
                        debug!(error = %e, "cannot set TCP_NODELAY");
                    }
                    serve(stream, peer, local, &worker, &graceful, permit);
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
    let grace = worker.shared.current.load().config.settings.timeouts.shutdown;
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        warn!(
            worker = worker.index,
            ?grace,
            "shutdown grace period over, closing the remaining connections"
        );
    }
}

fn serve(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    worker: &Arc<Worker>,
    graceful: &GracefulShutdown,
    permit: Permit,
) {
    let generation = worker.shared.current.load();
    let settings = &generation.config.settings;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        // A client may shut down its sending side once its request is sent (RFC 9112 §9.6);
        // without this hyper takes that EOF for an abort while the origin answers, and drops
        // the response. The response is written, then the connection closes. A client that
        // left altogether is noticed when the response is written, or by the origin timeouts.
        .half_close(true)
        // Run by the connection's task below, from a head's first byte (hyper's would also cut
        // keep-alive connections waiting for their next request).
        .header_read_timeout(None)
        .max_buf_size(settings.limits.max_header_bytes.max(8192) + 8192)
        .max_header_size(settings.limits.max_header_bytes);
    if settings.limits.max_headers != 100 {
        // Not at the default only: a set count moves hyper's header array to the heap.
        builder.max_headers(settings.limits.max_headers);
    }
    let idle = settings.timeouts.idle;
    let header_read = settings.timeouts.header_read;
    let state = Arc::new(ConnState::new());
    let conn = Arc::new(Conn {
        worker: worker.clone(),
        peer,
        local,
        state: state.clone(),
        session: OnceLock::new(),
    });
    let closing = conn.clone();
    let service = service_fn(move |request| txn::handle(conn.clone(), request));
    let io = TokioIo::new(ConnIo::new(stream, state.clone()));
    let connection = graceful.watch(builder.serve_connection(io, service));
    let worker = worker.clone();
    let open = OpenConn::count(worker.clone(), permit);
    tokio::spawn(
        async move {
            // Dropped when it returns: hyper's connection, with every response body it still
            // holds (whose drop runs TXN_CLOSE).
            drive(connection, &state, idle, header_read).await;
            // On the generation the session started on, whatever reloads came meanwhile.
            if let Some((session, global)) = closing.session.get() {
                close_session(session, global).await;
            }
            drop(open);
        }
        .instrument(info_span!("conn", %peer)),
    );
}

/// Serves `connection` until it ends or one of the connection's own timeouts (idle, header
/// read) ends it.
async fn drive<E: std::fmt::Display>(
    connection: impl Future<Output = Result<(), E>>,
    state: &ConnState,
    idle: Duration,
    header_read: Duration,
) {
    tokio::pin!(connection);
    loop {
        let now = std::time::Instant::now();
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
        tokio::select! {
            result = &mut connection => {
                if let Err(e) = result {
                    debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            () = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// How long SSN_CLOSE waits for the session's transactions beyond one pending limit: their
/// TXN_CLOSE may have started just before the connection ended, and run callbacks after the one
/// that pends.
const TXN_CLOSE_MARGIN: Duration = Duration::from_secs(1);

/// Runs SSN_CLOSE once every transaction of the session finished its TXN_CLOSE (ATS's order),
/// waiting for them at most one pending limit and [`TXN_CLOSE_MARGIN`]; a worker stopping after
/// the shutdown grace drops this wait with its task.
async fn close_session(session: &SsnBox, global: &GlobalHooks) {
    let limit = global.hook_pending + TXN_CLOSE_MARGIN;
    if !session.transactions_ended(limit).await {
        warn!(?limit, "a transaction's TXN_CLOSE was still running; SSN_CLOSE runs anyway");
    }
    session.hook(global, HookId::SsnClose).await;
}
