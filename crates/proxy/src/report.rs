//! What `reload` and `status` answer, on the control channel and to library callers.

use serde::{Deserialize, Serialize};

use crate::config::FileReport;

/// The outcome of a reload.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    /// Whether a new generation now serves.
    pub ok: bool,
    /// The generation serving after the reload.
    pub generation: u64,
    /// The generation that served before it.
    pub previous: u64,
    /// Where the configuration was read from.
    pub source: String,
    /// Per file: loaded, absent or failed, with problems, warnings and time.
    pub files: Vec<FileReport>,
    /// Every problem, as `file:line: reason` (empty when `ok`).
    pub problems: Vec<String>,
    /// Accepted changes that take effect only at the next start, and similar remarks.
    pub notes: Vec<String>,
    /// The reload's duration in milliseconds.
    pub millis: f64,
}

/// A snapshot of a running server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// The serving generation (1 at start).
    pub generation: u64,
    /// Where its configuration came from.
    pub source: String,
    /// Seconds since the server started.
    pub uptime_secs: f64,
    /// Worker threads (one runtime, listener and origin pool each).
    pub workers: usize,
    /// The bound listen addresses.
    pub listen: Vec<String>,
    /// Open client connections.
    pub connections: u64,
    /// Transactions being handled.
    pub in_flight: u64,
    /// Responses sent since start.
    pub requests: u64,
    /// Reloads that installed a new generation.
    pub reloads_ok: u64,
    /// Reloads refused.
    pub reloads_failed: u64,
    /// Remap rules in the serving generation.
    pub rules: usize,
}

/// One remap rule as `ctl rules` shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuleInfo {
    /// `file:line`.
    pub at: String,
    /// The rule as it would be written in `remap.config`.
    pub rule: String,
}
