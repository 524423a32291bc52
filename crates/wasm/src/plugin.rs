//! A plugin version: a compiled module with its configuration and limits, its instances (one
//! per worker slot, started on first use), its counters, and its quarantine.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use tracing::{error, warn};
use wasmtime::{InstancePre, Linker};

use crate::call::Properties;
use crate::filter::HttpFilter;
use crate::host::{self, HostState, Shared};
use crate::runtime::{CompiledModule, Runtime};
use crate::vm::Vm;
use crate::{Error, Failure, FailureKind};

/// The limits every instance of a plugin runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most linear memory an instance may have, in bytes.
    pub memory: usize,
    /// How long one callback may run.
    pub deadline: Duration,
    /// Failures (traps, deadlines, limits) within [`window`](Limits::window) that quarantine
    /// the plugin version; 0 never does.
    pub quarantine_after: u32,
    /// The window failures are counted in.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory: 64 << 20,
            deadline: Duration::from_millis(100),
            quarantine_after: 0,
            window: Duration::from_secs(60),
        }
    }
}

/// What a plugin version is made from.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    /// Its name: what logs, metrics and `ctl plugins` show.
    pub name: String,
    /// The module's bytes.
    pub bytes: Vec<u8>,
    /// Its configuration (`proxy_on_configure`'s plugin configuration).
    pub config: Vec<u8>,
    /// Its limits.
    pub limits: Limits,
    /// How many instances it may have (one per worker); at least one.
    pub slots: usize,
}

/// What a plugin version counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
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
    /// Instances that could not be started.
    pub broken: u64,
    /// Transactions that skipped the plugin because it was quarantined.
    pub skipped: u64,
    /// Local responses the plugin sent.
    pub local_responses: u64,
    /// Instances started.
    pub instances: u64,
}

/// The counts of rare events; the calls' are each slot's ([`Slot`]).
#[derive(Default)]
struct Counters {
    traps: AtomicU64,
    deadlines: AtomicU64,
    memory: AtomicU64,
    broken: AtomicU64,
    skipped: AtomicU64,
    local_responses: AtomicU64,
    instances: AtomicU64,
}

/// One loaded version of a proxy-wasm plugin.
pub struct Plugin {
    pub(crate) shared: Arc<Shared>,
    module: Arc<CompiledModule>,
    pre: InstancePre<HostState>,
    limits: Limits,
    slots: Box<[Slot]>,
    serials: AtomicU64,
    counters: Counters,
    recent_failures: Mutex<VecDeque<Instant>>,
    quarantined: AtomicBool,
    ticking: AtomicU32,
}

impl Plugin {
    /// Compiles (or finds in the cache) the module, and starts and configures its first
    /// instance: a module that cannot start, or refuses its configuration, is refused here.
    ///
    /// # Errors
    ///
    /// The module is not valid WebAssembly, not a proxy-wasm module, its imports cannot be
    /// linked, or its first instance failed to start or to configure.
    pub fn load(spec: PluginSpec) -> Result<Arc<Plugin>, Error> {
        let runtime = Runtime::get()?;
        let module = runtime.module(&spec.bytes)?;
        let mut linker = Linker::new(&runtime.engine);
        host::define(&mut linker).map_err(|e| Error::Link(format!("{e:#}")))?;
        linker
            .define_unknown_imports_as_traps(&module.module)
            .map_err(|e| Error::Link(format!("{e:#}")))?;
        let pre =
            linker.instantiate_pre(&module.module).map_err(|e| Error::Link(format!("{e:#}")))?;
        let shared = Arc::new(Shared {
            name: spec.name,
            config: spec.config,
            tick_ms: AtomicU32::new(0),
            metrics: Mutex::new(Vec::new()),
        });
        let plugin = Arc::new(Plugin {
            shared,
            module,
            pre,
            limits: spec.limits,
            slots: (0..spec.slots.max(1)).map(|_| Slot::default()).collect(),
            serials: AtomicU64::new(0),
            counters: Counters::default(),
            recent_failures: Mutex::new(VecDeque::new()),
            quarantined: AtomicBool::new(false),
            ticking: AtomicU32::new(0),
        });
        let first = plugin.start_vm().map_err(|f| Error::Start(f.message))?;
        *plugin.slot(0) = Some(first);
        plugin.start_ticks();
        Ok(plugin)
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The SHA-256 of its module, in hex.
    pub fn module_hash(&self) -> String {
        self.module.hash_hex()
    }

    /// Its configuration bytes.
    pub fn config(&self) -> &[u8] {
        &self.shared.config
    }

    /// How many instances it may have.
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Its limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether repeated failures quarantined it: its filters are skipped.
    pub fn is_quarantined(&self) -> bool {
        self.quarantined.load(Ordering::Relaxed)
    }

    /// What it counted so far.
    pub fn counts(&self) -> Counts {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let sum = |of: fn(&Slot) -> &AtomicU64| self.slots.iter().map(|s| get(of(s))).sum();
        Counts {
            calls: sum(|s| &s.calls),
            nanos: sum(|s| &s.nanos),
            traps: get(&c.traps),
            deadlines: get(&c.deadlines),
            memory: get(&c.memory),
            broken: get(&c.broken),
            skipped: get(&c.skipped),
            local_responses: get(&c.local_responses),
            instances: get(&c.instances),
        }
    }

    /// The metrics the module defined (`proxy_define_metric`): name, kind (0 counter, 1 gauge,
    /// 2 histogram) and value.
    pub fn metrics(&self) -> Vec<(String, u32, i64)> {
        let metrics = self.shared.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        metrics.iter().map(|m| (m.name.clone(), m.kind, m.value.load(Ordering::Relaxed))).collect()
    }

    /// An HTTP context for one transaction on worker `slot` (any number: it is taken modulo
    /// the slots); `None` while the plugin is quarantined (counted as skipped).
    pub fn filter(self: &Arc<Plugin>, slot: usize, properties: Properties) -> Option<HttpFilter> {
        if self.is_quarantined() {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(HttpFilter::new(self.clone(), slot % self.slots.len(), properties))
    }

    pub(crate) fn slot(&self, at: usize) -> SlotGuard<'_> {
        let slot = &self.slots[at];
        SlotGuard { vm: slot.vm.lock().unwrap_or_else(PoisonError::into_inner), slot }
    }

    pub(crate) fn start_vm(&self) -> Result<Vm, Failure> {
        let serial = self.serials.fetch_add(1, Ordering::Relaxed) + 1;
        let started = Vm::start(
            &self.pre,
            self.shared.clone(),
            self.limits.memory,
            self.limits.deadline,
            serial,
        );
        match started {
            Ok(vm) => {
                self.counters.instances.fetch_add(1, Ordering::Relaxed);
                Ok(vm)
            }
            Err(failure) => {
                self.failed(&failure);
                Err(failure)
            }
        }
    }

    pub(crate) fn local_response(&self) {
        self.counters.local_responses.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a failure, and quarantines the plugin when there were too many lately.
    pub(crate) fn failed(&self, failure: &Failure) {
        let counter = match failure.kind {
            FailureKind::Trap => &self.counters.traps,
            FailureKind::Deadline => &self.counters.deadlines,
            FailureKind::Memory => &self.counters.memory,
            FailureKind::Broken => &self.counters.broken,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        warn!(plugin = %self.shared.name, kind = failure.kind.as_str(), error = %failure.message,
            "a wasm plugin failed; its instance is dropped and the transaction fails");
        let after = self.limits.quarantine_after;
        if after == 0 {
            return;
        }
        let now = Instant::now();
        let mut recent = self.recent_failures.lock().unwrap_or_else(PoisonError::into_inner);
        recent.push_back(now);
        while recent.front().is_some_and(|t| now.duration_since(*t) > self.limits.window) {
            recent.pop_front();
        }
        if recent.len() >= after as usize && !self.quarantined.swap(true, Ordering::Relaxed) {
            error!(plugin = %self.shared.name, failures = recent.len(), window = ?self.limits.window,
                "a wasm plugin is quarantined after repeated failures: its filters are skipped \
                 until a reload loads it again");
        }
    }

    /// Starts the thread that runs the root contexts' ticks, if the module asked for them.
    fn start_ticks(self: &Arc<Plugin>) {
        let period = self.shared.tick_ms.load(Ordering::Relaxed);
        if period == 0 || self.ticking.swap(period, Ordering::Relaxed) != 0 {
            return;
        }
        let me: Weak<Plugin> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name(format!("hookyard-wasm-tick-{}", self.shared.name))
            .spawn(move || {
                loop {
                    let Some(plugin) = me.upgrade() else { return };
                    let period = plugin.shared.tick_ms.load(Ordering::Relaxed).max(1);
                    drop(plugin);
                    std::thread::sleep(Duration::from_millis(u64::from(period)));
                    let Some(plugin) = me.upgrade() else { return };
                    plugin.tick();
                }
            });
        if let Err(e) = spawned {
            warn!(plugin = %self.shared.name, error = %e, "cannot start a wasm plugin's tick thread");
        }
    }

    /// Runs the tick of every started instance.
    fn tick(&self) {
        if self.is_quarantined() {
            return;
        }
        for at in 0..self.slots.len() {
            let mut slot = self.slot(at);
            if let Some(vm) = slot.as_mut()
                && let Err(failure) = vm.tick()
            {
                *slot = None;
                self.failed(&failure);
            }
        }
    }
}

/// One worker's instance, and the filter callbacks run on it and their time, on cache lines of
/// its own: a callback on one worker writes nothing another worker reads or writes per call.
#[derive(Default)]
#[repr(align(128))]
struct Slot {
    vm: Mutex<Option<Vm>>,
    calls: AtomicU64,
    nanos: AtomicU64,
}

/// A slot's instance, locked.
pub(crate) struct SlotGuard<'a> {
    vm: MutexGuard<'a, Option<Vm>>,
    slot: &'a Slot,
}

impl SlotGuard<'_> {
    /// Counts a callback that took `took`.
    pub(crate) fn timed(&self, took: Duration) {
        // Only a holder of the slot's lock writes its counts: an add is a load and a store,
        // with no locked instruction on the way of each callback.
        let add = |counter: &AtomicU64, n: u64| {
            counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
        };
        add(&self.slot.calls, 1);
        add(&self.slot.nanos, took.as_nanos() as u64);
    }
}

impl std::ops::Deref for SlotGuard<'_> {
    type Target = Option<Vm>;

    fn deref(&self) -> &Option<Vm> {
        &self.vm
    }
}

impl std::ops::DerefMut for SlotGuard<'_> {
    fn deref_mut(&mut self) -> &mut Option<Vm> {
        &mut self.vm
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.shared.name)
            .field("module", &self.module.hash_hex())
            .field("limits", &self.limits)
            .field("quarantined", &self.is_quarantined())
            .finish_non_exhaustive()
    }
}
