//! Counters kept by each worker on its own cache line and summed when read, so the hot path
//! never shares a written line between cores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::clock;

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
    /// Per listener, in listen order (plain, then TLS).
    pub(crate) listeners: Box<[ListenerStats]>,
    /// Per origin, by name.
    pub(crate) origins: OriginTable,
    /// Origin connections made, and ended.
    pub(crate) origin_opened: AtomicU64,
    pub(crate) origin_closed: AtomicU64,
    /// Origin connections idle in the worker's pool.
    pub(crate) origin_pooled: AtomicU64,
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
    /// Origin connections open, and in the pools.
    pub(crate) origin_open: u64,
    pub(crate) origin_pooled: u64,
}

impl Stats {
    /// Counters for `workers` workers with `listeners` listeners each.
    pub(crate) fn new(workers: usize, listeners: usize) -> Stats {
        let worker = || WorkerStats {
            listeners: (0..listeners).map(|_| ListenerStats::default()).collect(),
            ..WorkerStats::default()
        };
        Stats { workers: (0..workers).map(|_| CachePadded::new(worker())).collect() }
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
            let origin_closed = w.origin_closed.load(Ordering::Relaxed);
            t.origin_open += w.origin_opened.load(Ordering::Relaxed).saturating_sub(origin_closed);
            t.origin_pooled += w.origin_pooled.load(Ordering::Relaxed);
        }
        t.connections = opened.saturating_sub(closed);
        t.in_flight = started.saturating_sub(t.responses.iter().sum::<u64>() + t.abandoned);
        t
    }
}

/// Upper bounds, in nanoseconds, of the duration histograms' buckets (1 ms to 30 s): request
/// durations and origin connect times.
pub(crate) const DURATION_BUCKETS_NS: [u64; 14] = [
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];

/// A histogram of durations written by one worker: one bucket (not cumulative; the last is
/// above every bound), the sum and the count, each a relaxed atomic on the worker's own line.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; DURATION_BUCKETS_NS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub(crate) fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let at = DURATION_BUCKETS_NS.iter().position(|&b| nanos <= b);
        self.buckets[at.unwrap_or(DURATION_BUCKETS_NS.len())].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn add_to(&self, sum: &mut HistogramSnapshot) {
        for (total, n) in sum.buckets.iter_mut().zip(&self.buckets) {
            *total += n.load(Ordering::Relaxed);
        }
        sum.sum_nanos += self.sum_nanos.load(Ordering::Relaxed);
        sum.count += self.count.load(Ordering::Relaxed);
    }
}

/// A histogram summed over workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HistogramSnapshot {
    /// Per bucket, not cumulative; the last is above every bound.
    pub(crate) buckets: [u64; DURATION_BUCKETS_NS.len() + 1],
    pub(crate) sum_nanos: u64,
    pub(crate) count: u64,
}

/// One listener's traffic on one worker.
#[derive(Debug, Default)]
pub(crate) struct ListenerStats {
    /// From a request head to the end of its response body (or the connection's end).
    pub(crate) duration: Histogram,
    /// Bytes read from clients (after TLS).
    pub(crate) received: AtomicU64,
    /// Bytes written to clients (before TLS).
    pub(crate) sent: AtomicU64,
}

/// Where a connection counts: its worker's line for its listener.
#[derive(Clone, Debug)]
pub(crate) struct ListenerCounts {
    stats: Arc<Stats>,
    worker: usize,
    listener: usize,
}

impl ListenerCounts {
    pub(crate) fn new(stats: Arc<Stats>, worker: usize, listener: usize) -> ListenerCounts {
        ListenerCounts { stats, worker, listener }
    }

    pub(crate) fn get(&self) -> &ListenerStats {
        &self.stats.workers[self.worker].listeners[self.listener]
    }
}

/// How a request to an origin failed, for `hookyard_origin_errors_total{kind}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OriginFailure {
    /// Refused, unreachable, or the name did not resolve.
    Connect,
    /// No connection (TCP or TLS) within `timeouts.origin_connect`.
    ConnectTimeout,
    /// The TLS handshake failed.
    Tls,
    /// The connection failed during the exchange, or the answer was unusable.
    Exchange,
    /// No response head within `timeouts.origin_response`.
    ResponseTimeout,
}

impl OriginFailure {
    pub(crate) const ALL: [OriginFailure; 5] = [
        OriginFailure::Connect,
        OriginFailure::ConnectTimeout,
        OriginFailure::Tls,
        OriginFailure::Exchange,
        OriginFailure::ResponseTimeout,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            OriginFailure::Connect => "connect",
            OriginFailure::ConnectTimeout => "connect_timeout",
            OriginFailure::Tls => "tls",
            OriginFailure::Exchange => "exchange",
            OriginFailure::ResponseTimeout => "response_timeout",
        }
    }
}

/// The origins a worker counts by name, at most [`MAX_ORIGINS`]; later ones count as
/// [`OTHER_ORIGINS`], so a plugin sending requests anywhere cannot grow the metrics page
/// without bound.
pub(crate) const MAX_ORIGINS: usize = 64;

/// The label of the origins past [`MAX_ORIGINS`].
pub(crate) const OTHER_ORIGINS: &str = "other";

/// One origin's counters on one worker.
#[derive(Debug, Default)]
pub(crate) struct OriginStats {
    name: OnceLock<Box<str>>,
    /// TCP connect, TLS handshake and HTTP/1 handshake of new connections.
    pub(crate) connect: Histogram,
    /// By [`OriginFailure`], in [`OriginFailure::ALL`]'s order.
    pub(crate) errors: [AtomicU64; 5],
    /// When a failure is logged next.
    quiet: clock::Quiet,
}

/// How often a worker logs one origin's failures at most.
pub(crate) const FAILURE_WARN_EVERY: Duration = Duration::from_secs(10);

impl OriginStats {
    pub(crate) fn error(&self, failure: OriginFailure) {
        let at = OriginFailure::ALL.iter().position(|f| *f == failure).unwrap_or(0);
        self.errors[at].fetch_add(1, Ordering::Relaxed);
    }

    /// Whether a failure now should be logged: the first, then at most one per
    /// [`FAILURE_WARN_EVERY`].
    pub(crate) fn warn_due(&self) -> bool {
        self.quiet.due(FAILURE_WARN_EVERY)
    }
}

/// A worker's origins: slots claimed in first-use order by the worker's thread (the only
/// writer), read by the metrics; the last slot is [`OTHER_ORIGINS`].
#[derive(Debug)]
pub(crate) struct OriginTable {
    slots: Box<[OriginStats]>,
}

impl Default for OriginTable {
    fn default() -> OriginTable {
        OriginTable { slots: (0..=MAX_ORIGINS).map(|_| OriginStats::default()).collect() }
    }
}

impl OriginTable {
    /// The counters of origin `name` (`scheme://host:port`); called when connecting or
    /// failing, never per pooled request.
    pub(crate) fn get(&self, name: &str) -> &OriginStats {
        for slot in &self.slots[..MAX_ORIGINS] {
            match slot.name.get() {
                Some(claimed) if **claimed == *name => return slot,
                Some(_) => {}
                None => {
                    let _ = slot.name.set(name.into());
                    if slot.name.get().is_some_and(|claimed| **claimed == *name) {
                        return slot;
                    }
                }
            }
        }
        &self.slots[MAX_ORIGINS]
    }

    /// Every slot in use with its label.
    fn named(&self) -> impl Iterator<Item = (&str, &OriginStats)> {
        let named = self.slots[..MAX_ORIGINS]
            .iter()
            .map_while(|slot| slot.name.get().map(|name| (&**name, slot)));
        named.chain(std::iter::once((OTHER_ORIGINS, &self.slots[MAX_ORIGINS])))
    }
}

/// An origin's counters summed over workers.
#[derive(Clone, Debug, Default)]
pub(crate) struct OriginTotals {
    pub(crate) connect: HistogramSnapshot,
    pub(crate) errors: [u64; 5],
}

impl Stats {
    /// Per listener (in listen order: plain, then TLS): the durations, bytes received and sent.
    pub(crate) fn listeners(&self) -> Vec<(HistogramSnapshot, u64, u64)> {
        let count = self.workers.first().map_or(0, |w| w.listeners.len());
        (0..count)
            .map(|at| {
                let mut sum = (HistogramSnapshot::default(), 0, 0);
                for w in self.workers.iter() {
                    let l = &w.listeners[at];
                    l.duration.add_to(&mut sum.0);
                    sum.1 += l.received.load(Ordering::Relaxed);
                    sum.2 += l.sent.load(Ordering::Relaxed);
                }
                sum
            })
            .collect()
    }

    /// Per origin label, its counters summed over workers (sorted by label; `other` only when
    /// it counted something).
    pub(crate) fn origins(&self) -> std::collections::BTreeMap<String, OriginTotals> {
        let mut sums: std::collections::BTreeMap<String, OriginTotals> = Default::default();
        for w in self.workers.iter() {
            for (name, slot) in w.origins.named() {
                let mut totals = OriginTotals::default();
                slot.connect.add_to(&mut totals.connect);
                for (sum, n) in totals.errors.iter_mut().zip(&slot.errors) {
                    *sum += n.load(Ordering::Relaxed);
                }
                if name == OTHER_ORIGINS
                    && totals.connect.count == 0
                    && totals.errors.iter().all(|&n| n == 0)
                {
                    continue;
                }
                let sum = sums.entry(name.to_owned()).or_default();
                for (into, from) in sum.connect.buckets.iter_mut().zip(totals.connect.buckets) {
                    *into += from;
                }
                sum.connect.sum_nanos += totals.connect.sum_nanos;
                sum.connect.count += totals.connect.count;
                for (into, from) in sum.errors.iter_mut().zip(totals.errors) {
                    *into += from;
                }
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_lands_in_the_first_bucket_that_holds_it() {
        let h = Histogram::default();
        h.record(Duration::from_micros(500));
        h.record(Duration::from_millis(1));
        h.record(Duration::from_millis(3));
        h.record(Duration::from_secs(31));
        let mut s = HistogramSnapshot::default();
        h.add_to(&mut s);
        assert_eq!(s.buckets[0], 2, "1 ms is within the 1 ms bucket");
        assert_eq!(s.buckets[2], 1);
        assert_eq!(s.buckets[DURATION_BUCKETS_NS.len()], 1);
        assert_eq!(s.count, 4);
        assert_eq!(s.sum_nanos, 500_000 + 1_000_000 + 3_000_000 + 31_000_000_000);
    }

    #[test]
    fn origins_past_the_cap_count_as_other() {
        let table = OriginTable::default();
        for i in 0..MAX_ORIGINS + 3 {
            table.get(&format!("http://o{i}:80")).error(OriginFailure::Connect);
        }
        table.get("http://o0:80").error(OriginFailure::Tls);
        let named: Vec<_> = table.named().map(|(n, s)| (n.to_owned(), s)).collect();
        assert_eq!(named.len(), MAX_ORIGINS + 1);
        assert_eq!(named[0].0, "http://o0:80");
        assert_eq!(named[0].1.errors[0].load(Ordering::Relaxed), 1);
        assert_eq!(named[0].1.errors[2].load(Ordering::Relaxed), 1);
        assert_eq!(named[MAX_ORIGINS].0, OTHER_ORIGINS);
        assert_eq!(named[MAX_ORIGINS].1.errors[0].load(Ordering::Relaxed), 3);
    }
}
