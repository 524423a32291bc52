//! Caps on open connections, one per endpoint (the proxy's listeners together, the metrics
//! address, the control socket), so that idle or half-sent connections cannot take every file
//! descriptor of the process and stop traffic and the control channel with it.
//!
//! A connection over its endpoint's cap is closed as soon as it is accepted (the backlog does
//! not fill, and the client learns at once); each refusal is counted for the metrics, and a
//! warning is logged at most once per [`WARN_EVERY`] per endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tracing::warn;

use crate::clock::Quiet;

/// The shortest time between two warnings of one endpoint.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(10);

/// File descriptors kept for everything but client connections (listeners, plugins, logs).
const FD_RESERVE: usize = 128;

/// One endpoint's cap.
#[derive(Debug)]
pub(crate) struct ConnLimit {
    endpoint: &'static str,
    max: usize,
    open: AtomicUsize,
    refused: AtomicU64,
    /// When a refusal is logged next.
    quiet: Quiet,
}

/// An open connection's place under its cap; the place is freed when it drops.
#[derive(Debug)]
pub(crate) struct Permit(Arc<ConnLimit>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ConnLimit {
    pub(crate) fn new(endpoint: &'static str, max: usize) -> Arc<ConnLimit> {
        Arc::new(ConnLimit {
            endpoint,
            max: max.max(1),
            open: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            quiet: Quiet::default(),
        })
    }

    /// A place for one more connection, or `None` (counted, maybe logged) at the cap.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Permit> {
        let admitted = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max).then_some(n + 1))
            .is_ok();
        if admitted {
            return Some(Permit(self.clone()));
        }
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        self.warn(refused);
        None
    }

    fn warn(&self, refused: u64) {
        if !self.quiet.due(WARN_EVERY) {
            return;
        }
        warn!(
            endpoint = self.endpoint,
            max = self.max,
            refused_total = refused,
            "connection cap reached: new connections are closed (limits.max_connections, \
             limits.max_control_connections)"
        );
    }

    /// The endpoint's name, as the metrics label it.
    pub(crate) fn endpoint(&self) -> &'static str {
        self.endpoint
    }

    /// Connections refused since start.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The cap.
    pub(crate) fn max(&self) -> usize {
        self.max
    }
}

/// The client connection cap when `limits.max_connections` is not set: half the open-file
/// limit less a reserve (a client connection may hold an origin connection too), at least 16.
pub(crate) fn default_max_connections() -> usize {
    let soft = open_file_limit().unwrap_or(1024);
    (soft.saturating_sub(FD_RESERVE) / 2).max(16)
}

/// The soft `RLIMIT_NOFILE` of this process, from `/proc/self/limits` (no `unsafe` here).
fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.trim_start_matches("Max open files").split_whitespace().next()?;
    match soft {
        "unlimited" => Some(1 << 20),
        n => n.parse().ok(),
    }
}

/// The connection caps of a server's endpoints, fixed at start.
pub(crate) struct ConnLimits {
    /// Client connections over every listener and worker.
    pub(crate) clients: Arc<ConnLimit>,
    pub(crate) metrics: Arc<ConnLimit>,
    pub(crate) admin: Arc<ConnLimit>,
}

impl ConnLimits {
    pub(crate) fn new(limits: &crate::config::Limits) -> ConnLimits {
        let clients = limits.max_connections.unwrap_or_else(default_max_connections);
        ConnLimits {
            clients: ConnLimit::new("proxy", clients),
            metrics: ConnLimit::new("metrics", limits.max_control_connections),
            admin: ConnLimit::new("admin", limits.max_control_connections),
        }
    }

    /// Every cap, for the metrics.
    pub(crate) fn all(&self) -> [&ConnLimit; 3] {
        [&self.clients, &self.metrics, &self.admin]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_cap_and_frees_places_on_drop() {
        let limit = ConnLimit::new("test", 2);
        let a = limit.admit().unwrap();
        let _b = limit.admit().unwrap();
        assert!(limit.admit().is_none());
        assert!(limit.admit().is_none());
        assert_eq!((limit.open(), limit.refused()), (2, 2));
        drop(a);
        assert!(limit.admit().is_some(), "a freed place is admitted again");
        assert_eq!(limit.open(), 1, "the temporary permit was dropped");
    }

    #[test]
    fn the_default_cap_follows_the_open_file_limit() {
        let soft = open_file_limit().unwrap();
        assert_eq!(default_max_connections(), (soft.saturating_sub(FD_RESERVE) / 2).max(16));
    }
}
