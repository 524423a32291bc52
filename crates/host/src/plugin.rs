//! Plugin versions as the host knows them: the state `hy_plugin *` points to, the `hy_api` table
//! each version receives, the link from plugin calls to the serving generation, and the calls
//! and time counted per version and hook.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use hookyard_abi::{hy_api, hy_plugin};
use hookyard_context::Context;
use hookyard_hooks::{CallbackId, HookId, Priorities, Priority};
use hookyard_remap::{HostTables, PluginInfo, PluginTable};
use tracing::warn;

use crate::cont::Callback;
use crate::global::GlobalHooks;
use crate::shard::Sharded;
use crate::{api, caller};

/// Latency buckets of the per-plugin per-hook histograms, in microseconds (`+Inf` beyond).
pub const LATENCY_BUCKETS_US: [u64; 8] = [1, 5, 10, 50, 100, 500, 1_000, 10_000];

/// Calls and time of one plugin version on one hook, as one shard counted them.
#[derive(Debug, Default)]
struct HookCalls {
    calls: AtomicU64,
    nanos: AtomicU64,
    /// Counts per bucket of [`LATENCY_BUCKETS_US`] (not cumulative), then `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
}

/// The calls of a plugin version on one hook, and their time, added up over the shards and read
/// field by field (not one atomic snapshot: a call counted meanwhile may show in one field and
/// not yet in another).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallsSnapshot {
    /// Calls.
    pub calls: u64,
    /// Time in the calls, in nanoseconds.
    pub nanos: u64,
    /// Calls per bucket of [`LATENCY_BUCKETS_US`] (not cumulative), then `+Inf`.
    pub buckets: [u64; LATENCY_BUCKETS_US.len() + 1],
}

impl HookCalls {
    /// Adds this shard's counts to `sum`.
    fn add_to(&self, sum: &mut CallsSnapshot) {
        sum.calls += self.calls.load(Ordering::Relaxed);
        sum.nanos += self.nanos.load(Ordering::Relaxed);
        for (sum, n) in sum.buckets.iter_mut().zip(&self.buckets) {
            *sum += n.load(Ordering::Relaxed);
        }
    }

    fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        let micros = nanos / 1000;
        let at =
            LATENCY_BUCKETS_US.iter().position(|b| micros < *b).unwrap_or(LATENCY_BUCKETS_US.len());
        self.buckets[at].fetch_add(1, Ordering::Relaxed);
    }
}

/// One registration of a plugin version on a global hook, carried into every generation that
/// uses the version.
#[derive(Clone)]
pub(crate) struct Registration {
    pub(crate) hook: HookId,
    pub(crate) callback: Arc<Callback>,
    pub(crate) priority: Option<Priority>,
    pub(crate) id: CallbackId,
}

/// What the host knows of one plugin version; `hy_api.plugin` points here.
pub struct PluginState {
    /// Unique in the process (from 1): who owns a pending hook.
    pub(crate) id: u64,
    /// The loaded library (plugin version) it serves.
    pub(crate) dso: hookyard_dso::VersionId,
    /// The name from its descriptor.
    pub name: String,
    /// The version from its descriptor.
    pub version: String,
    /// The directory of the file it was loaded from (`plugin_dir_get`), without a trailing '/'.
    pub dir: Box<str>,
    /// Its context: current while its code runs, and what keeps its library loaded.
    pub context: Context,
    link: Arc<Link>,
    /// Its global registrations, in order.
    pub(crate) registrations: Mutex<Vec<Registration>>,
    /// Per hook (dense index), then one more for the remap chain (`do_remap`); per shard, so
    /// that workers timing callbacks do not contend.
    calls: Sharded<[HookCalls; HookId::COUNT + 1]>,
    /// Whether a refused resume of this version was logged (once per version).
    stray_resume_logged: AtomicBool,
    /// Milliseconds after [`epoch`] before which no slow-callback warning is logged.
    slow_quiet_until: AtomicU64,
    /// Transactions that ran this version as a canary's stable side, and as its canary side.
    canary_txns: [AtomicU64; 2],
    /// The plugin's statistics (its name's), found on first use.
    stats: OnceLock<Arc<crate::stats::PluginStats>>,
}

/// The shortest time between two slow-callback warnings of one plugin version.
const SLOW_WARN_EVERY: Duration = Duration::from_secs(10);

/// A fixed instant early in the process, for times kept in atomics.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl PluginState {
    /// The statistics of the plugin's name.
    pub(crate) fn stats(&self) -> &crate::stats::PluginStats {
        self.stats.get_or_init(|| crate::stats::of(&self.name))
    }

    /// The loaded library (plugin version) it serves.
    pub fn dso(&self) -> hookyard_dso::VersionId {
        self.dso
    }

    /// Calls and time of this version's callbacks on `hook`.
    pub fn hook_calls(&self, hook: HookId) -> CallsSnapshot {
        self.calls_at(hook.index())
    }

    /// Calls and time counted at `at` (see [`PluginState::timed`]), over every shard.
    fn calls_at(&self, at: usize) -> CallsSnapshot {
        let mut sum = CallsSnapshot::default();
        for shard in self.calls.iter() {
            shard[at].add_to(&mut sum);
        }
        sum
    }

    /// Transactions that ran this version as a canary's stable side and as its canary side
    /// (in any generation).
    pub fn canary_transactions(&self) -> [u64; 2] {
        self.canary_txns.each_ref().map(|n| n.load(Ordering::Relaxed))
    }

    /// Counts a transaction that chose this version in a canary.
    pub(crate) fn count_canary_transaction(&self, on_canary: bool) {
        self.canary_txns[usize::from(on_canary)].fetch_add(1, Ordering::Relaxed);
    }

    /// Calls and time of this version's `do_remap`.
    pub fn remap_calls(&self) -> CallsSnapshot {
        self.calls_at(HookId::COUNT)
    }

    pub(crate) fn registrations(&self) -> Vec<Registration> {
        self.registrations.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn add_registration(&self, registration: Registration) {
        self.registrations.lock().unwrap_or_else(PoisonError::into_inner).push(registration);
    }

    /// The configuration directory of the server that loaded it.
    pub(crate) fn config_dir(&self) -> Option<hookyard_abi::hy_str> {
        self.link.config_dir()
    }

    /// The server's origin hosts, if it has told the link (`host_status_set/get`).
    pub(crate) fn host_status(&self) -> Option<&Arc<dyn HostStatus>> {
        self.link.host_status.get()
    }

    /// The serving generation's global hooks.
    pub(crate) fn serving(&self) -> Option<Arc<GlobalHooks>> {
        self.link.current()
    }

    /// The priorities plugin calls see: the generation being loaded while one loads, else the
    /// serving one.
    pub(crate) fn priorities(&self) -> Option<Arc<Priorities>> {
        self.link.priorities()
    }

    /// Counts a callback's time on `what` (a hook's dense index, or [`HookId::COUNT`] for
    /// `do_remap`), and warns (at most every [`SLOW_WARN_EVERY`] per version) when it took longer
    /// than `slow`: the worker that ran it served nothing else meanwhile.
    pub(crate) fn timed(&self, at: usize, name: &str, took: Duration, slow: Duration) {
        self.calls.mine()[at].record(took);
        if took <= slow {
            return;
        }
        let now = epoch().elapsed().as_millis() as u64;
        let quiet = self.slow_quiet_until.load(Ordering::Relaxed);
        let next = now + SLOW_WARN_EVERY.as_millis() as u64;
        if now >= quiet
            && self
                .slow_quiet_until
                .compare_exchange(quiet, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            warn!(plugin = %self.name, version = %self.version, callback = name, ?took, limit = ?slow,
                "a plugin callback ran longer than limits.slow_callback: every connection of its \
                 worker waited meanwhile (logged at most every {} s per plugin)",
                SLOW_WARN_EVERY.as_secs());
        }
    }

    /// Logs a refused resume, the first time for this version.
    pub(crate) fn stray_resume(&self, what: &str) {
        if !self.stray_resume_logged.swap(true, Ordering::Relaxed) {
            warn!(plugin = %self.name, version = %self.version, what,
                "a resume was refused: nothing of this plugin's was pending (a second resume, \
                 one after the pending limit, or one for another plugin's hook); logged once");
        }
    }
}

/// The origin hosts of a server's strategies, as plugins mark and read them
/// (`host_status_set`, `host_status_get`). Implemented by the server, which knows its pools.
pub trait HostStatus: Send + Sync {
    /// Marks the hosts called `name` down with `reason`, or up with `None`, as an operator's
    /// mark; false when no serving strategy has a host of that name.
    fn mark(&self, name: &str, reason: Option<&str>) -> bool;

    /// Whether the hosts called `name` take transactions (any of them, for a host name with
    /// several ports); `None` when no serving strategy has a host of that name.
    fn is_up(&self, name: &str) -> Option<bool>;
}

/// What plugin calls reach of the server: the serving generation's global hooks, and the
/// priorities of the one being loaded.
#[derive(Default)]
pub struct Link {
    current: ArcSwapOption<GlobalHooks>,
    loading: ArcSwapOption<Priorities>,
    /// Every plugin version's state while anything (a generation, a continuation) keeps it.
    states: Mutex<Vec<std::sync::Weak<PluginState>>>,
    /// The configuration directory (`config_dir_get`): every one it was, the last current (a
    /// view handed out stays valid, so none is dropped; a server has one).
    config_dirs: Mutex<Vec<Box<str>>>,
    /// The server's origin hosts (`host_status_set/get`), once it has them.
    host_status: OnceLock<Arc<dyn HostStatus>>,
}

impl Link {
    /// Sets the configuration directory plugins read (`config_dir_get`).
    pub fn set_config_dir(&self, dir: &std::path::Path) {
        let text = dir.to_string_lossy();
        let text = text.trim_end_matches('/');
        let mut dirs = self.config_dirs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if dirs.last().is_none_or(|last| **last != *text) {
            dirs.push(text.into());
        }
    }

    /// The configuration directory, as a view valid as long as the link.
    pub(crate) fn config_dir(&self) -> Option<hookyard_abi::hy_str> {
        let dirs = self.config_dirs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        dirs.last().map(|d| hookyard_abi::hy_str { ptr: d.as_ptr().cast(), len: d.len() })
    }

    /// Gives plugins the server's origin hosts (`host_status_set/get`); once: later calls
    /// change nothing.
    pub fn set_host_status(&self, hosts: Arc<dyn HostStatus>) {
        let _ = self.host_status.set(hosts);
    }

    /// Publishes the serving generation's global hooks.
    pub fn serve(&self, hooks: Arc<GlobalHooks>) {
        self.current.store(Some(hooks));
    }

    /// Sets (or clears) the priorities of the generation being loaded.
    pub fn loading(&self, priorities: Option<Arc<Priorities>>) {
        self.loading.store(priorities);
    }

    pub(crate) fn priorities(&self) -> Option<Arc<Priorities>> {
        self.loading
            .load_full()
            .or_else(|| self.current.load().as_ref().map(|g| g.priorities.clone()))
    }

    /// The serving generation's global hooks, once one serves.
    pub fn current(&self) -> Option<Arc<GlobalHooks>> {
        self.current.load_full()
    }

    /// The state of the plugin version loaded as `dso`, while anything keeps it: a version no
    /// generation uses any more may live on through its continuations.
    pub fn state_of(&self, dso: hookyard_dso::VersionId) -> Option<Arc<PluginState>> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.iter().filter_map(std::sync::Weak::upgrade).find(|s| s.dso == dso)
    }

    fn known(&self, state: &Arc<PluginState>) {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.retain(|s| s.strong_count() > 0);
        states.push(Arc::downgrade(state));
    }
}

/// The table of one plugin version, with the state it points to.
struct Table {
    api: Box<hy_api>,
    state: Arc<PluginState>,
    /// Its own `txn_resume`/`ssn_resume` entry points, while it is loaded.
    _caller: Option<caller::Slot>,
}

// SAFETY: the table is written once, at construction; it holds function pointers and a pointer
// to `state`, which it keeps alive; `PluginState` itself is `Sync`.
unsafe impl Send for Table {}
// SAFETY: as above.
unsafe impl Sync for Table {}

impl PluginTable for Table {
    fn api(&self) -> *const hy_api {
        &*self.api
    }

    fn done(&self) {
        // Nothing of the version is called after done: its registrations go (breaking the
        // cycle continuation → plugin state → registrations → continuation).
        let dropped = std::mem::take(
            &mut *self.state.registrations.lock().unwrap_or_else(PoisonError::into_inner),
        );
        drop(dropped);
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        self.done();
    }
}

/// The directory of a plugin file, as `plugin_dir_get` answers it.
fn plugin_dir(path: &std::path::Path) -> Box<str> {
    let dir = path.parent().map(|d| d.to_string_lossy()).unwrap_or_default();
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() { "/".into() } else { dir.into() }
}

/// The plugin state behind a loader's table.
pub fn plugin_state(table: &dyn PluginTable) -> Option<&Arc<PluginState>> {
    table.as_any().downcast_ref::<Table>().map(|t| &t.state)
}

/// Builds each plugin version's table.
struct Tables {
    link: Arc<Link>,
}

impl HostTables for Tables {
    fn table(&self, plugin: &PluginInfo<'_>) -> Box<dyn PluginTable> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        // Calibrates the callbacks' clock (once, under a millisecond mostly, at most 200 ms)
        // while the plugin loads, not in its first callback.
        quanta::Instant::now();
        let state = Arc::new(PluginState {
            id,
            dso: plugin.library.id(),
            name: plugin.identity.name.clone(),
            version: plugin.identity.version.clone(),
            dir: plugin_dir(plugin.library.path()),
            context: plugin.context.clone(),
            link: self.link.clone(),
            registrations: Mutex::new(Vec::new()),
            calls: Sharded::default(),
            stray_resume_logged: AtomicBool::new(false),
            slow_quiet_until: AtomicU64::new(0),
            canary_txns: Default::default(),
            stats: OnceLock::new(),
        });
        self.link.known(&state);
        let this: *const PluginState = Arc::as_ptr(&state);
        let mut api = Box::new(api::table(this.cast_mut().cast::<hy_plugin>()));
        let slot = caller::Slot::take(id);
        match &slot {
            Some(slot) => (api.txn_resume, api.ssn_resume) = slot.entry_points(),
            None => warn!(plugin = %state.name, slots = caller::SLOTS,
                "too many plugin versions loaded to tell their resumes apart; this one's are \
                 checked only for being once"),
        }
        Box::new(Table { api, state, _caller: slot })
    }
}

/// The table builder of one server, and its link.
pub fn tables() -> (Arc<dyn HostTables>, Arc<Link>) {
    let link = Arc::new(Link::default());
    (Arc::new(Tables { link: link.clone() }), link)
}
