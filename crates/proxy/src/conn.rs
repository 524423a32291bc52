//! A worker and its client connections: what every transaction of a connection reaches (the
//! serving generation, the worker's origin pool and counters, the session's plugin state).

pub(crate) mod body;
mod date;
pub(crate) mod deadline;
pub(crate) mod h1;
pub(crate) mod h2;
mod head;
pub(crate) mod io;
pub(crate) mod preface;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hookyard_hooks::{HookId, Outcome};
use hookyard_host::{ClientConn, ClientTls, GlobalHooks, SsnBox};
use tokio::sync::OnceCell;
use tracing::{debug, warn};

pub(crate) use self::body::ClientBody;
use self::io::ConnState;
use crate::access_log::AccessLog;
use crate::drain::Drain;
use crate::generation::Serving;
use crate::limit::ConnLimit;
use crate::origin::OriginPool;
use crate::sample::Sampler;
use crate::stats::{ListenerCounts, Stats, WorkerStats};
use crate::tls::TlsInfo;

/// How long SSN_CLOSE waits for the session's transactions beyond one pending limit: their
/// TXN_CLOSE may have started just before the connection ended, and run callbacks after the one
/// that pends.
const TXN_CLOSE_MARGIN: Duration = Duration::from_secs(1);

/// What every connection of a worker shares.
pub(crate) struct Worker {
    /// The generation new transactions take.
    pub(crate) serving: Arc<Serving>,
    /// `ctl hooks --txn-sample`'s waiters.
    pub(crate) sampler: Arc<Sampler>,
    stats: Arc<Stats>,
    /// The cap on client connections, over every worker.
    pub(crate) limit: Arc<ConnLimit>,
    /// The worker's own origin connections.
    pub(crate) origins: OriginPool,
    pub(crate) index: usize,
    /// The access log's queue.
    pub(crate) access_log: Arc<AccessLog>,
    /// The server's drain: the health route and `Connection: close` read it.
    pub(crate) drain: Arc<Drain>,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        serving: Arc<Serving>,
        sampler: Arc<Sampler>,
        stats: Arc<Stats>,
        limit: Arc<ConnLimit>,
        access_log: Arc<AccessLog>,
        drain: Arc<Drain>,
    ) -> Worker {
        let settings = &serving.load().config.settings;
        let connect = settings.timeouts.origin_connect;
        let origins = OriginPool::new(connect, &settings.origin_pool, stats.clone(), index);
        Worker { serving, sampler, stats, limit, origins, index, access_log, drain }
    }

    /// This worker's counters.
    pub(crate) fn stats(&self) -> &WorkerStats {
        &self.stats.workers[self.index]
    }

    /// Where a connection of listener `at` (in listen order) counts on this worker.
    pub(crate) fn listener_counts(&self, at: usize) -> ListenerCounts {
        ListenerCounts::new(self.stats.clone(), self.index, at)
    }
}

/// One client connection.
pub(crate) struct Conn {
    pub(crate) worker: Arc<Worker>,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    /// The address of the listener that accepted it (as bound: `0.0.0.0:80` stays so).
    pub(crate) listener: SocketAddr,
    /// What the TLS handshake negotiated; `None` on a plain connection.
    pub(crate) tls: Option<TlsInfo>,
    pub(crate) state: Arc<ConnState>,
    /// What plugins see of the session, made with the first transaction that has plugin state,
    /// and the global hooks of the generation it started on: its SSN_CLOSE runs on them too.
    /// An async cell: concurrent HTTP/2 streams wait for the one SSN_START.
    session: OnceCell<(SsnBox, Arc<GlobalHooks>)>,
}

impl Conn {
    pub(crate) fn new(
        worker: Arc<Worker>,
        peer: SocketAddr,
        local: SocketAddr,
        listener: SocketAddr,
        tls: Option<TlsInfo>,
        state: Arc<ConnState>,
    ) -> Conn {
        Conn { worker, peer, local, listener, tls, state, session: OnceCell::new() }
    }

    /// The scheme clients reach this connection by: `https` after a TLS handshake.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// What plugins see of this connection.
    fn client_conn(&self) -> ClientConn {
        let tls = self.tls.as_ref().map(|tls| ClientTls {
            sni: tls.sni.clone(),
            alpn: tls.alpn.clone(),
            version: tls.version,
        });
        ClientConn { addr: self.peer, local: self.local, tls }
    }

    /// SSN_CLOSE, if the session has plugin state: on the generation it started on, whatever
    /// reloads came meanwhile, once every transaction of the session finished its TXN_CLOSE
    /// (ATS's order), waiting for them at most one pending limit and [`TXN_CLOSE_MARGIN`]; a
    /// worker stopping after the shutdown grace drops this wait with its task.
    pub(crate) async fn close_session(&self) {
        let Some((session, global)) = self.session.get() else { return };
        let limit = global.hook_pending + TXN_CLOSE_MARGIN;
        if !session.transactions_ended(limit).await {
            warn!(?limit, "a transaction's TXN_CLOSE was still running; SSN_CLOSE runs anyway");
        }
        session.hook(global, HookId::SsnClose).await;
    }

    /// The session's plugin state, made (and its SSN_START run) on first use. Transactions
    /// that ask while SSN_START runs (HTTP/2 streams) wait for it: it runs once. An SSN_START
    /// callback answering ERROR is logged; the session's transactions still run.
    pub(crate) async fn session(&self, global: &Arc<GlobalHooks>) -> &SsnBox {
        let (session, _) = self
            .session
            .get_or_init(|| async {
                let session = SsnBox::for_conn(self.client_conn());
                if session.hook(global, HookId::SsnStart).await == Outcome::Error {
                    debug!("SSN_START failed the session");
                }
                (session, global.clone())
            })
            .await;
        session
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
