//! Counters kept by each worker on its own cache line and summed when read, so the hot path
//! never shares a written line between cores.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// One worker's counters.
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_closed: AtomicU64,
    pub(crate) in_flight_started: AtomicU64,
    /// Transactions that ended without a response: their client left first.
    pub(crate) abandoned: AtomicU64,
    /// Client connections served as HTTP/2.
    pub(crate) http2_connections: AtomicU64,
    /// Responses by status class: 1xx … 5xx.
    pub(crate) responses: [AtomicU64; 5],
    /// Failed TLS handshakes with origins, by kind (`TlsFailure::index`).
    pub(crate) origin_tls_failures: [AtomicU64; 3],
}

impl WorkerStats {
    pub(crate) fn response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }
}

/// Every worker's counters.
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) workers: Box<[CachePadded<WorkerStats>]>,
}

/// Summed counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    pub(crate) connections: u64,
    pub(crate) in_flight: u64,
    pub(crate) abandoned: u64,
    pub(crate) http2_connections: u64,
    pub(crate) responses: [u64; 5],
    pub(crate) origin_tls_failures: [u64; 3],
}

impl Stats {
    pub(crate) fn new(workers: usize) -> Stats {
        Stats { workers: (0..workers).map(|_| CachePadded::new(WorkerStats::default())).collect() }
    }

    pub(crate) fn totals(&self) -> Totals {
        let mut t = Totals::default();
        let (mut opened, mut closed, mut started) = (0u64, 0u64, 0u64);
        for w in self.workers.iter() {
            opened += w.connections_open.load(Ordering::Relaxed);
            closed += w.connections_closed.load(Ordering::Relaxed);
            started += w.in_flight_started.load(Ordering::Relaxed);
            t.abandoned += w.abandoned.load(Ordering::Relaxed);
            t.http2_connections += w.http2_connections.load(Ordering::Relaxed);
            for (sum, n) in t.responses.iter_mut().zip(&w.responses) {
                *sum += n.load(Ordering::Relaxed);
            }
            for (sum, n) in t.origin_tls_failures.iter_mut().zip(&w.origin_tls_failures) {
                *sum += n.load(Ordering::Relaxed);
            }
        }
        t.connections = opened.saturating_sub(closed);
        t.in_flight = started.saturating_sub(t.responses.iter().sum::<u64>() + t.abandoned);
        t
    }
}
