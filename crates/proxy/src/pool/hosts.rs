//! The hosts of every strategy and their status: one [`Host`] per `host:port` for the life of
//! the process, so a reload keeps what was learnt of a host and what the operator said of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// One host of the strategies (`host:port`): whether it takes transactions, and its counters.
///
/// A host is down while the operator marked it (`ctl host down`), or active checks failed
/// `fall` times in a row (until they pass `rise` times), or passive marking took it out (until
/// the retry time passed, when one transaction tries it again).
#[derive(Debug)]
pub(crate) struct Host {
    /// `host:port`.
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    manual: AtomicBool,
    /// The operator's reason, when `manual`.
    reason: Mutex<String>,
    active_down: AtomicBool,
    /// Milliseconds since [`epoch`] until which passive marking keeps it down; 0: not marked.
    passive_until: AtomicU64,
    /// Failed transactions in a row (passive marking).
    failures: AtomicU32,
    /// Failed and passed active checks in a row (written by the checker only).
    pub(crate) check_failures: AtomicU32,
    pub(crate) check_passes: AtomicU32,
    /// Transactions sent to it, and those that failed there.
    requests: AtomicU64,
    errors: AtomicU64,
    /// New connections made to it, and their connect time in nanoseconds.
    connects: AtomicU64,
    connect_nanos: AtomicU64,
}

/// What `ctl hosts` shows of a host.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct HostInfo {
    /// `host:port`.
    pub(crate) name: String,
    /// `up` or `down`.
    pub(crate) state: &'static str,
    /// Why it is down: the operator's reason, `active` or `passive`; empty when up.
    pub(crate) reason: String,
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    pub(crate) connects: u64,
    pub(crate) connect_seconds: f64,
}

/// The process's clock origin for passive marking.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_millis() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Host {
    fn new(host: &str, port: u16) -> Host {
        Host {
            name: endpoint_name(host, port),
            host: host.to_owned(),
            port,
            manual: AtomicBool::new(false),
            reason: Mutex::new(String::new()),
            active_down: AtomicBool::new(false),
            passive_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            check_failures: AtomicU32::new(0),
            check_passes: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            connect_nanos: AtomicU64::new(0),
        }
    }

    /// Whether it takes new transactions. Costs relaxed loads, and a clock read only while
    /// passive marking holds it.
    #[inline]
    pub(crate) fn is_up(&self) -> bool {
        if self.manual.load(Ordering::Relaxed) || self.active_down.load(Ordering::Relaxed) {
            return false;
        }
        let until = self.passive_until.load(Ordering::Relaxed);
        until == 0 || now_millis() >= until
    }

    /// A transaction goes to it.
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A new connection to it took `took`.
    pub(crate) fn connected(&self, took: Duration) {
        self.connects.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.connect_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// A transaction failed here (connect error, timeout, a 5xx); with `passive`, the
    /// `fall`th in a row marks it down for `retry`.
    pub(crate) fn failed(&self, passive: Option<(u32, Duration)>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let Some((fall, retry)) = passive else { return };
        let failures = self.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if failures >= fall {
            let retry = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
            let until = now_millis().saturating_add(retry);
            if self.passive_until.swap(until, Ordering::Relaxed) == 0 {
                tracing::warn!(host = %self.name, failures, "host marked down (passive)");
            }
        }
    }

    /// A transaction succeeded here: passive marking ends.
    #[inline]
    pub(crate) fn succeeded(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.passive_until.load(Ordering::Relaxed) != 0 {
            self.passive_until.store(0, Ordering::Relaxed);
            tracing::info!(host = %self.name, "host up again (passive)");
        }
    }

    /// Active checks marked it down or up.
    pub(crate) fn set_active_down(&self, down: bool) {
        if self.active_down.swap(down, Ordering::Relaxed) != down {
            let state = if down { "down" } else { "up" };
            tracing::warn!(host = %self.name, state, "host marked by active health checks");
        }
    }

    fn set_manual(&self, reason: Option<&str>) {
        let mut held = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        reason.unwrap_or_default().clone_into(&mut held);
        self.manual.store(reason.is_some(), Ordering::Relaxed);
    }

    /// What `ctl hosts` and the metrics show.
    pub(crate) fn info(&self) -> HostInfo {
        let (state, reason) = if self.manual.load(Ordering::Relaxed) {
            ("down", self.reason.lock().unwrap_or_else(PoisonError::into_inner).clone())
        } else if self.active_down.load(Ordering::Relaxed) {
            ("down", "active".to_owned())
        } else if !self.is_up() {
            ("down", "passive".to_owned())
        } else {
            ("up", String::new())
        };
        #[expect(clippy::cast_precision_loss, reason = "seconds for display")]
        let connect_seconds = self.connect_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        HostInfo {
            name: self.name.clone(),
            state,
            reason,
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            connects: self.connects.load(Ordering::Relaxed),
            connect_seconds,
        }
    }
}

/// `host:port` (an IPv6 address in brackets).
pub(crate) fn endpoint_name(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// Every host the strategies ever named, and the operator's marks, for the life of the process.
#[derive(Debug, Default)]
pub(crate) struct HostTable {
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    hosts: HashMap<String, Arc<Host>>,
    /// Operator marks by `host` or `host:port`, with their reason; applied to hosts named
    /// later too (a reload adding a port of a host marked down).
    marks: HashMap<String, String>,
}

/// Why `ctl host down|up` did nothing.
#[derive(Debug, thiserror::Error)]
#[error("no host `{0}` in the strategies (name one as `ctl hosts` shows it, or its host part)")]
pub(crate) struct UnknownHost(pub(crate) String);

impl HostTable {
    /// The host `host:port`, made (with the operator's marks) the first time it is named.
    pub(crate) fn host(&self, host: &str, port: u16) -> Arc<Host> {
        let mut table = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let name = endpoint_name(host, port);
        if let Some(found) = table.hosts.get(&name) {
            return found.clone();
        }
        let made = Arc::new(Host::new(host, port));
        let mark = table.marks.get(&name).or_else(|| table.marks.get(host));
        if let Some(reason) = mark {
            made.set_manual(Some(reason));
        }
        table.hosts.insert(name, made.clone());
        made
    }

    /// Marks the hosts called `name` (`host:port`, or `host` for each of its ports) down with
    /// `reason` (`None`: up again); the hosts changed.
    ///
    /// # Errors
    ///
    /// No host of `known` (the serving strategies' hosts) is called `name`.
    pub(crate) fn mark(
        &self,
        name: &str,
        reason: Option<&str>,
        known: &[Arc<Host>],
    ) -> Result<Vec<String>, UnknownHost> {
        let matches = |h: &Host| h.name == name || h.host == name;
        if !known.iter().any(|h| matches(h)) {
            return Err(UnknownHost(name.to_owned()));
        }
        let mut table = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match reason {
            Some(reason) => {
                table.marks.insert(name.to_owned(), reason.to_owned());
            }
            None => {
                // Up: every mark that covers these hosts goes.
                let names: Vec<(String, String)> = known
                    .iter()
                    .filter(|h| matches(h))
                    .map(|h| (h.name.clone(), h.host.clone()))
                    .collect();
                table.marks.retain(|mark, _| {
                    mark != name && !names.iter().any(|(n, h)| mark == n || mark == h)
                });
            }
        }
        let mut changed = Vec::new();
        for host in table.hosts.values().filter(|h| matches(h)) {
            host.set_manual(reason);
            changed.push(host.name.clone());
        }
        changed.sort();
        Ok(changed)
    }
}
