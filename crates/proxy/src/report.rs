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
    /// Per remap plugin of the new generation: newly loaded or reused (a plugin that failed is
    /// a problem, with the rule's `file:line`).
    #[serde(default)]
    pub plugins: Vec<PluginLoad>,
    /// How long loading and instantiating the remap plugins took, in milliseconds.
    #[serde(default)]
    pub plugin_millis: f64,
    /// Every problem, as `file:line: reason` (empty when `ok`).
    pub problems: Vec<String>,
    /// Accepted changes that take effect only at the next start, and similar remarks.
    pub notes: Vec<String>,
    /// The reload's duration in milliseconds.
    pub millis: f64,
}

/// One remap plugin in a reload report.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PluginLoad {
    /// The path as `remap.config` wrote it.
    pub path: String,
    /// The name from its descriptor.
    pub name: String,
    /// The version from its descriptor.
    pub version: String,
    /// `loaded` (a new version) or `reused` (unchanged file).
    pub status: String,
    /// `global` (of `plugin.yaml`) or `remap` (of `remap.config`).
    #[serde(default)]
    pub kind: String,
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
    /// The bound TLS listen addresses.
    #[serde(default)]
    pub listen_tls: Vec<String>,
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
    /// Whether the server drains (`ctl drain`, SIGTERM): its health route answers 503.
    #[serde(default)]
    pub draining: bool,
}

/// A drain as `ctl drain` answers it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Draining {
    /// Milliseconds the listeners still accept (`drain.grace` less the time drained).
    pub grace_left_ms: u64,
    /// Milliseconds until whatever still runs is cut (`drain.deadline` less the time drained).
    pub deadline_left_ms: u64,
}

impl Draining {
    pub(crate) fn of(started: &crate::drain::Started) -> Draining {
        let now = std::time::Instant::now();
        let ms = |at: std::time::Instant| {
            u64::try_from(at.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX)
        };
        Draining {
            grace_left_ms: ms(started.grace_end()),
            deadline_left_ms: ms(started.deadline()),
        }
    }
}

/// The callbacks on one hook of the serving generation, as `ctl hooks` shows them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HookInfo {
    /// The hook's name (`READ_REQUEST_HDR`, ...).
    pub hook: String,
    /// Its global callbacks, in dispatch order.
    pub callbacks: Vec<CallbackEntry>,
}

/// One callback on a hook.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallbackEntry {
    /// The registration's id.
    pub id: u64,
    /// The plugin that registered it.
    pub plugin: String,
    /// Its priority.
    pub priority: i32,
    /// `global`, `session` or `transaction`.
    pub level: String,
    /// Whether a transaction without changes of its own runs it (thresholds apply).
    pub enabled: bool,
    /// Why it is where it is: the ordering constraints that place it (`after auth
    /// (plugin.yaml:12)`); empty when priority alone does.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// For a callback of a canaried plugin: `stable` or `canary`, the version it belongs to
    /// (each transaction runs one of them); absent for every other callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<String>,
}

/// The callbacks each hook would run (hooks with none left out), as `ctl hooks` shows them.
pub(crate) fn hook_listing<H: ?Sized>(
    global: &hookyard_hooks::Hooks<H>,
    priorities: &hookyard_hooks::Priorities,
    local: &hookyard_hooks::Local<'_, H>,
) -> Vec<HookInfo> {
    hookyard_hooks::HookId::ALL
        .into_iter()
        .map(|hook| HookInfo {
            hook: hook.name().to_owned(),
            callbacks: hookyard_hooks::callbacks(hook, Some(global), priorities, local)
                .into_iter()
                .map(|c| CallbackEntry {
                    id: c.id.get(),
                    arm: global
                        .find(c.id)
                        .map(|(_, entry)| entry.arm())
                        .filter(|arm| *arm != hookyard_hooks::Arm::Both)
                        .map(|arm| arm.name().to_owned()),
                    plugin: c.plugin_name,
                    priority: c.priority.0,
                    level: c.level.name().to_owned(),
                    enabled: c.enabled,
                    constraints: c.constraints,
                })
                .collect(),
        })
        .filter(|info| !info.callbacks.is_empty())
        .collect()
}

/// One remap rule as `ctl rules` shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuleInfo {
    /// `file:line`.
    pub at: String,
    /// The rule as it would be written in `remap.config`.
    pub rule: String,
    /// Its remap plugin instances: name, version and loaded version id, in chain order.
    #[serde(default)]
    pub plugins: Vec<String>,
}

/// One loaded plugin version as `ctl plugins` shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PluginVersion {
    /// The loader's id of the version.
    pub id: u64,
    /// The plugin's name from its descriptor (empty once no plugin holds the version).
    pub name: String,
    /// The version string from its descriptor.
    pub version: String,
    /// The plugin file.
    pub path: String,
    /// The copy the dynamic loader mapped.
    pub runtime_path: String,
    /// Handles keeping it loaded.
    pub references: usize,
    /// Remap instances alive, across generations.
    pub instances: usize,
    /// Continuations of the plugin alive now (hook callbacks, scheduled work).
    #[serde(default)]
    pub continuations: u64,
    /// `global` (of `plugin.yaml`), `remap`, or empty for a version no plugin holds any more.
    #[serde(default)]
    pub kind: String,
    /// `live`, `unloading`, or `pinned`.
    pub state: String,
    /// `active`, `retired` (its events still dispatch until the drain deadline) or
    /// `force-retired` (its events are dropped).
    #[serde(default)]
    pub retirement: String,
    /// Milliseconds until a `retired` version's events are dropped.
    #[serde(default)]
    pub drain_left_ms: Option<u64>,
    /// Scheduled continuation events dispatched into its code.
    #[serde(default)]
    pub scheduled_events: u64,
    /// Events for its continuations (scheduled, hook callbacks) dropped since it was retired.
    #[serde(default)]
    pub dropped_events: u64,
    /// Seconds since it was loaded.
    pub age_secs: f64,
    /// Its part in a canary of the serving generation, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryRole>,
    /// A WebAssembly plugin's module and counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm: Option<WasmInfo>,
}

/// What `ctl plugins` shows of a WebAssembly plugin version.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WasmInfo {
    /// The SHA-256 of its module, in hex.
    pub module: String,
    /// Filter callbacks run.
    pub calls: u64,
    /// Time in them, in nanoseconds.
    pub nanos: u64,
    /// Callbacks that trapped.
    pub traps: u64,
    /// Callbacks stopped at their deadline.
    pub deadlines: u64,
    /// Callbacks stopped at the memory limit.
    pub memory: u64,
    /// Instances that could not start.
    pub broken: u64,
    /// Transactions that skipped it while it was quarantined.
    pub skipped: u64,
    /// Local responses it sent.
    pub local_responses: u64,
    /// Whether repeated failures quarantined it.
    pub quarantined: bool,
    /// The metrics it defined, with their values.
    pub metrics: Vec<(String, i64)>,
}

/// A plugin version's part in a canary (`ctl plugins`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CanaryRole {
    /// `stable` or `canary`.
    pub arm: String,
    /// The share of transactions (or clients) this version gets, in percent.
    pub percent: f64,
    /// How a transaction's version is chosen: `client` or `request`.
    pub by: String,
    /// Transactions that ran this version on this side so far.
    pub transactions: u64,
}

impl CanaryRole {
    /// The part of `version` in `canary`, if it is one of its two versions.
    pub(crate) fn of(
        canary: &hookyard_host::Canary,
        version: hookyard_dso::VersionId,
    ) -> Option<CanaryRole> {
        let (arm, state, percent) = if canary.canary.dso() == version {
            ("canary", &canary.canary, canary.percent())
        } else if canary.stable.dso() == version {
            ("stable", &canary.stable, 100.0 - canary.percent())
        } else {
            return None;
        };
        Some(CanaryRole {
            arm: arm.to_owned(),
            percent,
            by: canary.by.name().to_owned(),
            transactions: state.canary_transactions()[usize::from(arm == "canary")],
        })
    }
}
