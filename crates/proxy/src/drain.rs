//! Draining: the proxy winding down without failing a request (`hookyard ctl drain`, SIGTERM,
//! SIGINT, or the old process of an upgrade).
//!
//! A drain is one-way. Once started, the health route answers 503, HTTP/1 responses carry
//! `Connection: close` (each keep-alive connection closes after its next response) and HTTP/2
//! connections get a GOAWAY; the listeners keep accepting for `drain.grace`, so clients that
//! have not yet heard go on being served, then close; transactions still running then finish
//! until `drain.deadline`, counted from the start. The process that owns the server
//! ([`crate::SignalHandlers::serve`]) times the steps; the workers read this state.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::Drain as Settings;

/// A server's drain state, shared by its workers and its control plane.
#[derive(Debug)]
pub(crate) struct Drain {
    /// Read on every response: one relaxed load.
    draining: AtomicBool,
    /// When the drain started, with the settings it started with.
    started: OnceLock<Started>,
    /// Turns true when the drain starts.
    signal: watch::Sender<bool>,
}

/// When a drain started, and its settings then.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Started {
    /// When it started.
    pub(crate) at: Instant,
    /// `drain.grace` then.
    pub(crate) grace: Duration,
    /// `drain.deadline` then.
    pub(crate) deadline: Duration,
}

impl Started {
    /// When the listeners close.
    pub(crate) fn grace_end(&self) -> Instant {
        self.at + self.grace
    }

    /// When whatever still runs is cut.
    pub(crate) fn deadline(&self) -> Instant {
        self.at + self.deadline
    }
}

impl Drain {
    pub(crate) fn new() -> Drain {
        Drain {
            draining: AtomicBool::new(false),
            started: OnceLock::new(),
            signal: watch::Sender::new(false),
        }
    }

    /// Starts the drain with `settings`, unless it started already; returns how it started
    /// (with the first call's settings either way) and whether this call started it.
    pub(crate) fn start(&self, settings: &Settings) -> (Started, bool) {
        let mut first = false;
        let started = *self.started.get_or_init(|| {
            first = true;
            Started { at: Instant::now(), grace: settings.grace, deadline: settings.deadline }
        });
        if first {
            self.draining.store(true, Ordering::Relaxed);
            self.signal.send_replace(true);
        }
        (started, first)
    }

    /// Whether the drain has started.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// How the drain started, if it has.
    pub(crate) fn started(&self) -> Option<Started> {
        self.started.get().copied()
    }

    /// A receiver whose value turns true when the drain starts.
    pub(crate) fn subscribe(&self) -> watch::Receiver<bool> {
        self.signal.subscribe()
    }

    /// How long a stopping worker waits for its connections: what is left of the drain's
    /// deadline, or `fallback` (`timeouts.shutdown`) for a stop without a drain.
    pub(crate) fn stop_budget(&self, fallback: Duration) -> Duration {
        match self.started() {
            Some(started) => started.deadline().saturating_duration_since(Instant::now()),
            None => fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_once_with_the_first_settings() {
        let drain = Drain::new();
        let mut signal = drain.subscribe();
        assert!(!drain.is_draining() && drain.started().is_none());
        assert_eq!(drain.stop_budget(Duration::from_secs(7)), Duration::from_secs(7));
        let first = Settings { grace: Duration::from_secs(1), deadline: Duration::from_secs(9) };
        let (started, new) = drain.start(&first);
        assert!(new && drain.is_draining());
        assert!(signal.has_changed().unwrap() && *signal.borrow_and_update());
        let (again, new) = drain.start(&Settings::default());
        assert!(!new);
        assert_eq!(
            (again.at, again.grace, again.deadline),
            (started.at, first.grace, first.deadline)
        );
        assert!(!signal.has_changed().unwrap());
        let budget = drain.stop_budget(Duration::from_secs(100));
        assert!(budget <= Duration::from_secs(9) && budget > Duration::from_secs(8));
        assert_eq!(started.grace_end(), started.at + Duration::from_secs(1));
    }
}
