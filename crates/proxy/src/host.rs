//! The host side of the plugin C ABI: the `hy_api` table each plugin version receives, the
//! transaction and session state its functions work on, and the continuations plugins create.
//!
//! This module and `host/api.rs` hold the proxy's `unsafe`: C calls in with raw pointers. Every
//! function of the table checks its pointers, catches panics, and answers `HY_ERROR` for what
//! the contract does not allow.
//!
//! Ownership of what plugins get pointers to:
//! - `hy_plugin *` is a [`PluginState`], kept by the version's table (an `Arc`; continuations
//!   hold it too).
//! - `hy_txn *` is a [`TxnState`] owned by a [`TxnBox`]: the transaction's task uses it between
//!   plugin calls; a plugin uses it during its call, or from any thread while its hook is pending.
//!   A transaction dropped while a hook is pending (the client left) leaves the state to the
//!   `txn_resume` that must come, which frees it; when none comes within the pending limit (and
//!   a grace period), the host frees it. A state whose wait expired is freed only after that
//!   grace period too, so that the late resume finds it and is refused (`host/pending.rs`).
//! - `hy_ssn *` is a [`SsnState`], owned likewise by its connection's [`SsnBox`].
//! - `hy_cont *` is a `Continuation<CCont>` the plugin holds one reference of (`Arc::into_raw`);
//!   hook tables and scheduled events hold others.

mod api;
mod caller;
mod pending;

use std::cell::Cell;
use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use hookyard_abi::{self as abi, hy_api, hy_cont, hy_plugin, hy_remap_request_info, hy_str};
use hookyard_context::{Context, Continuation};
use hookyard_hooks::{
    CallbackId, Control, Dispatch, HookId, Hooks, Level, Local, Outcome, Priorities, Priority,
    Progress,
};
use hookyard_remap::{Chain, ChainOutcome, HostTables, PluginInfo, PluginTable};
use hookyard_userargs::{Conn, Registry, Slots, Ssn, Txn};
use http::{HeaderMap, Method, StatusCode};
use tracing::{debug, warn};

use pending::{Ended, Resume};

/// The user-arg slots of the process, shared by every plugin.
pub(crate) fn user_args() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

/// A plugin callback: a continuation made by `cont_create`.
pub(crate) type Callback = Continuation<CCont>;

/// Latency buckets of the per-plugin per-hook histograms, in microseconds (`+Inf` beyond).
pub(crate) const LATENCY_BUCKETS_US: [u64; 8] = [1, 5, 10, 50, 100, 500, 1_000, 10_000];

/// Calls and time of one plugin version on one hook.
#[derive(Debug, Default)]
pub(crate) struct HookCalls {
    pub(crate) calls: AtomicU64,
    pub(crate) nanos: AtomicU64,
    /// Counts per bucket of [`LATENCY_BUCKETS_US`] (not cumulative), then `+Inf`.
    pub(crate) buckets: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
}

impl HookCalls {
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
pub(crate) struct PluginState {
    /// Unique in the process (from 1): who owns a pending hook.
    pub(crate) id: u64,
    /// The loaded library (plugin version) it serves.
    pub(crate) dso: hookyard_dso::VersionId,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) context: Context,
    link: Arc<Link>,
    /// Its global registrations, in order.
    registrations: Mutex<Vec<Registration>>,
    /// Per hook (dense index), then one more for the remap chain (`do_remap`).
    pub(crate) calls: Box<[HookCalls]>,
    /// Whether a refused resume of this version was logged (once per version).
    stray_resume_logged: AtomicBool,
    /// Milliseconds after [`epoch`] before which no slow-callback warning is logged.
    slow_quiet_until: AtomicU64,
}

/// The shortest time between two slow-callback warnings of one plugin version.
const SLOW_WARN_EVERY: Duration = Duration::from_secs(10);

/// A fixed instant early in the process, for times kept in atomics.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl PluginState {
    pub(crate) fn registrations(&self) -> Vec<Registration> {
        self.registrations.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn add_registration(&self, registration: Registration) {
        self.registrations.lock().unwrap_or_else(PoisonError::into_inner).push(registration);
    }

    /// The serving generation's global hooks.
    fn serving(&self) -> Option<Arc<GlobalHooks>> {
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
        self.calls[at].record(took);
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
                 worker waited meanwhile (logged at most every 10 s per plugin)");
        }
    }

    /// Logs a refused resume, the first time for this version.
    fn stray_resume(&self, what: &str) {
        if !self.stray_resume_logged.swap(true, Ordering::Relaxed) {
            warn!(plugin = %self.name, version = %self.version, what,
                "a resume was refused: nothing of this plugin's was pending (a second resume, \
                 one after the pending limit, or one for another plugin's hook); logged once");
        }
    }
}

/// What plugin calls reach of the server: the serving generation's global hooks, and the
/// priorities of the one being loaded.
#[derive(Default)]
pub(crate) struct Link {
    current: ArcSwapOption<GlobalHooks>,
    loading: ArcSwapOption<Priorities>,
    /// Every plugin version's state while anything (a generation, a continuation) keeps it.
    states: Mutex<Vec<std::sync::Weak<PluginState>>>,
}

impl Link {
    /// Publishes the serving generation's global hooks.
    pub(crate) fn serve(&self, hooks: Arc<GlobalHooks>) {
        self.current.store(Some(hooks));
    }

    /// Sets (or clears) the priorities of the generation being loaded.
    pub(crate) fn loading(&self, priorities: Option<Arc<Priorities>>) {
        self.loading.store(priorities);
    }

    fn priorities(&self) -> Option<Arc<Priorities>> {
        self.loading
            .load_full()
            .or_else(|| self.current.load().as_ref().map(|g| g.priorities.clone()))
    }

    pub(crate) fn current(&self) -> Option<Arc<GlobalHooks>> {
        self.current.load_full()
    }

    /// The state of the plugin version loaded as `dso`, while anything keeps it: a version no
    /// generation uses any more may live on through its continuations.
    pub(crate) fn state_of(&self, dso: hookyard_dso::VersionId) -> Option<Arc<PluginState>> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.iter().filter_map(std::sync::Weak::upgrade).find(|s| s.dso == dso)
    }

    fn known(&self, state: &Arc<PluginState>) {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.retain(|s| s.strong_count() > 0);
        states.push(Arc::downgrade(state));
    }
}

/// The global hooks of one generation: the table transactions dispatch from (replaced whole
/// when a plugin registers later), its priorities, and the plugin versions it was built from.
pub(crate) struct GlobalHooks {
    pub(crate) table: ArcSwap<Hooks<CCont>>,
    pub(crate) priorities: Arc<Priorities>,
    /// How long a callback may stay pending (`timeouts.hook_pending`).
    pub(crate) hook_pending: Duration,
    /// A callback running longer is logged (`limits.slow_callback`).
    pub(crate) slow_callback: Duration,
    members: Vec<Arc<PluginState>>,
    /// Whether the table has any callback: transactions without plugins skip all hook work.
    has_hooks: AtomicBool,
    edit: Mutex<()>,
}

impl GlobalHooks {
    /// The table of a generation: the registrations of `members` (global plugins in load
    /// order, then remap plugins), with `priorities`.
    pub(crate) fn build(
        priorities: Arc<Priorities>,
        members: Vec<Arc<PluginState>>,
        hook_pending: Duration,
        slow_callback: Duration,
    ) -> GlobalHooks {
        let mut table = Hooks::new(Level::Global);
        for member in &members {
            for r in member.registrations() {
                if r.callback.handler().is_destroyed() {
                    continue;
                }
                if let Err(e) = table.add_with_id(r.hook, r.callback, r.priority, &priorities, r.id)
                {
                    warn!(plugin = %member.name, error = %e, "a global registration was refused");
                }
            }
        }
        let has_hooks = !table.is_empty();
        GlobalHooks {
            table: ArcSwap::from_pointee(table),
            priorities,
            hook_pending,
            slow_callback,
            members,
            has_hooks: AtomicBool::new(has_hooks),
            edit: Mutex::new(()),
        }
    }

    /// Whether any callback is registered.
    #[inline]
    pub(crate) fn has_hooks(&self) -> bool {
        self.has_hooks.load(Ordering::Relaxed)
    }

    /// The plugin versions of this generation.
    pub(crate) fn members(&self) -> &[Arc<PluginState>] {
        &self.members
    }

    /// The member with id `id`.
    fn member(&self, id: u64) -> Option<&Arc<PluginState>> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Changes the table: a copy is edited and replaces it (dispatches in progress keep theirs).
    pub(crate) fn edit<R>(&self, f: impl FnOnce(&mut Hooks<CCont>) -> R) -> R {
        let _serial = self.edit.lock().unwrap_or_else(PoisonError::into_inner);
        let mut table = Hooks::clone(&self.table.load());
        let result = f(&mut table);
        self.has_hooks.store(!table.is_empty(), Ordering::Relaxed);
        self.table.store(Arc::new(table));
        result
    }

    /// Runs a lifecycle hook (no transaction), on this thread.
    pub(crate) fn lifecycle(&self, hook: HookId) {
        let table = self.table.load_full();
        if table.entries(hook).is_empty() {
            return;
        }
        let mut dispatch = Dispatch::new(hook);
        let progress = dispatch.run(
            Some(&*table),
            &self.priorities,
            &mut (),
            |_: &()| Local::default(),
            |handler, hook, _: &mut ()| {
                handler.fire_hook(hook, std::ptr::null_mut(), self.slow_callback)
            },
        );
        if progress == Progress::Pending {
            warn!(%hook, "a lifecycle hook callback answered PENDING; lifecycle hooks do not wait");
        }
    }
}

impl std::fmt::Debug for GlobalHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalHooks")
            .field("members", &self.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>())
            .field("has_hooks", &self.has_hooks())
            .finish_non_exhaustive()
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

/// The plugin state behind a loader's table.
pub(crate) fn plugin_state(table: &dyn PluginTable) -> Option<&Arc<PluginState>> {
    table.as_any().downcast_ref::<Table>().map(|t| &t.state)
}

/// Builds each plugin version's table.
pub(crate) struct Tables {
    link: Arc<Link>,
}

impl HostTables for Tables {
    fn table(&self, plugin: &PluginInfo<'_>) -> Box<dyn PluginTable> {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(PluginState {
            id,
            dso: plugin.library.id(),
            name: plugin.identity.name.clone(),
            version: plugin.identity.version.clone(),
            context: plugin.context.clone(),
            link: self.link.clone(),
            registrations: Mutex::new(Vec::new()),
            calls: (0..=HookId::COUNT).map(|_| HookCalls::default()).collect(),
            stray_resume_logged: AtomicBool::new(false),
            slow_quiet_until: AtomicU64::new(0),
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
pub(crate) fn tables() -> (Arc<dyn HostTables>, Arc<Link>) {
    let link = Arc::new(Link::default());
    (Arc::new(Tables { link: link.clone() }), link)
}

// -- Continuations ------------------------------------------------------------------------------

thread_local! {
    /// The continuation whose handler runs on this thread (for `cont_destroy` from inside it).
    static RUNNING: Cell<*const CCont> = const { Cell::new(std::ptr::null()) };
}

/// A continuation made by a plugin: its handler and data.
pub(crate) struct CCont {
    handler: abi::hy_cont_handler,
    data: *mut c_void,
    /// The `hy_cont *` the plugin knows (the continuation's own address).
    me: AtomicPtr<hy_cont>,
    plugin: Arc<PluginState>,
    destroyed: AtomicBool,
    /// Invocations running now.
    active: AtomicU64,
    timers: Mutex<Vec<tokio::task::AbortHandle>>,
}

// SAFETY: `data` is the plugin's opaque pointer, handed back to it only; the plugin's contract
// (hookyard.h) makes a continuation usable from any thread.
unsafe impl Send for CCont {}
// SAFETY: as above; everything else is atomics, locks and `Arc`s.
unsafe impl Sync for CCont {}

impl CCont {
    fn new(handler: abi::hy_cont_handler, data: *mut c_void, plugin: Arc<PluginState>) -> CCont {
        CCont {
            handler,
            data,
            me: AtomicPtr::new(std::ptr::null_mut()),
            plugin,
            destroyed: AtomicBool::new(false),
            active: AtomicU64::new(0),
            timers: Mutex::new(Vec::new()),
        }
    }

    fn set_me(&self, me: *mut hy_cont) {
        self.me.store(me, Ordering::Release);
    }

    fn data(&self) -> *mut c_void {
        self.data
    }

    /// The plugin version that made it.
    pub(crate) fn plugin(&self) -> &Arc<PluginState> {
        &self.plugin
    }

    pub(crate) fn is_destroyed(&self) -> bool {
        self.destroyed.load(Ordering::Acquire)
    }

    /// Calls the handler with `event` and `edata`, unless destroyed; `None` then.
    fn fire(&self, event: i32, edata: *mut c_void) -> Option<i32> {
        if self.is_destroyed() {
            return None;
        }
        self.active.fetch_add(1, Ordering::AcqRel);
        if self.is_destroyed() {
            self.active.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let outer = RUNNING.replace(self);
        let me = self.me.load(Ordering::Acquire);
        // SAFETY: the handler the plugin gave with this continuation's `hy_cont *` and an event
        // with the `edata` the contract names for it; the plugin's code stays loaded while the
        // continuation (its context) lives, and the caller holds a reference.
        let result = unsafe { (self.handler)(me, event, edata) };
        RUNNING.set(outer);
        self.active.fetch_sub(1, Ordering::AcqRel);
        Some(result)
    }

    /// Runs the handler for a hook and counts its time (warning when over `slow`); a destroyed
    /// continuation continues.
    pub(crate) fn fire_hook(&self, hook: HookId, edata: *mut c_void, slow: Duration) -> Outcome {
        let started = Instant::now();
        let result = self.fire(abi::HY_EVENT_HOOK_BASE + hook.number() as i32, edata);
        self.plugin.timed(hook.index(), hook.name(), started.elapsed(), slow);
        match result {
            None | Some(abi::HY_HOOK_CONTINUE) => Outcome::Continue,
            Some(abi::HY_HOOK_PENDING) => Outcome::Pending,
            Some(abi::HY_HOOK_ERROR) => Outcome::Error,
            Some(other) => {
                warn!(plugin = %self.plugin.name, %hook, answer = other,
                    "a hook callback answered an unknown value; treated as an error");
                Outcome::Error
            }
        }
    }
}

/// Runs a continuation's scheduled events: one thread with its own timer runtime.
fn scheduler() -> Option<&'static tokio::runtime::Handle> {
    static HANDLE: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => {
                    warn!(error = %e, "cannot start the continuation scheduler");
                    return None;
                }
            };
            let handle = runtime.handle().clone();
            let spawned = std::thread::Builder::new()
                .name("hookyard-sched".to_owned())
                .spawn(move || runtime.block_on(std::future::pending::<()>()));
            spawned.map_err(|e| warn!(error = %e, "cannot start the scheduler thread")).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Schedules one invocation of `callback` after `delay`.
fn schedule(callback: Arc<Callback>, delay: Duration) -> bool {
    let Some(handle) = scheduler() else { return false };
    let event = if delay.is_zero() { abi::HY_EVENT_IMMEDIATE } else { abi::HY_EVENT_TIMEOUT };
    let timers = &callback.handler().timers;
    let mut timers = timers.lock().unwrap_or_else(PoisonError::into_inner);
    timers.retain(|t| !t.is_finished());
    let task = {
        let callback = callback.clone();
        handle.spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let fired = callback.invoke(|h| h.fire(event, std::ptr::null_mut()));
            if fired.is_err() {
                debug!("a scheduled event of a retired plugin was dropped");
            }
        })
    };
    timers.push(task.abort_handle());
    true
}

/// Destroys the plugin's reference `raw`: no new invocation starts, scheduled ones are
/// cancelled, its registrations go; waits for invocations on other threads.
///
/// # Safety
///
/// `raw` came from `cont_create` and was not destroyed before.
unsafe fn destroy(raw: *const Callback) {
    // SAFETY: per the contract, the plugin's own reference.
    let callback = unsafe { Arc::from_raw(raw) };
    let cont = callback.handler();
    cont.destroyed.store(true, Ordering::Release);
    for timer in cont.timers.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
        timer.abort();
    }
    cont.plugin
        .registrations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|r| !Arc::ptr_eq(&r.callback, &callback));
    let inside = RUNNING.get() == std::ptr::from_ref(cont);
    let own = usize::from(inside);
    while cont.active.load(Ordering::Acquire) as usize > own {
        std::thread::yield_now();
    }
}

// -- Pending hooks ------------------------------------------------------------------------------

/// How long a state whose pending wait expired, or that was abandoned and not resumed within
/// the pending limit, is kept for a late resume to be refused (rather than to find it freed).
const LATE_RESUME_GRACE: Duration = Duration::from_secs(60);

/// What a hook dispatch targets: a transaction or a session.
trait Target {
    fn resume(&self) -> &Arc<Resume>;
    fn local(&self) -> Local<'_, CCont>;
    fn edata(&mut self) -> *mut c_void;
    /// A callback's pending wait expired.
    fn expired(&mut self);
}

/// A state pointer a dispatch future carries across its waits.
struct Ptr<T>(NonNull<T>);

// SAFETY: the states are used by one task, or by the one plugin holding a pending hook while
// that task waits (see the module's ownership notes).
unsafe impl<T> Send for Ptr<T> {}

impl<T> Ptr<T> {
    /// The pointer (a method, so that closures capture the whole `Ptr`, which is `Send`).
    fn raw(&self) -> *mut T {
        self.0.as_ptr()
    }
}

/// Runs `hook` on `target` (a raw pointer the caller owns) to its end, waiting on pending
/// callbacks.
///
/// # Safety
///
/// `target` is valid until this future completes or is dropped, and used by nobody else while
/// it runs except by the plugin holding a pending hook.
async unsafe fn dispatch<T: Target>(target: Ptr<T>, global: &GlobalHooks, hook: HookId) -> Outcome {
    let table = global.table.load_full();
    // SAFETY: per the contract; the `Arc` is cloned so that no reference into the target is
    // held while the plugin may use it.
    let resume = unsafe { (*target.0.as_ptr()).resume().clone() };
    let mut dispatch = Dispatch::new(hook);
    loop {
        // SAFETY: per the contract; no reference outlives this statement.
        let progress = unsafe {
            let target = &mut *target.0.as_ptr();
            dispatch.run(
                Some(&*table),
                &global.priorities,
                target,
                |t| t.local(),
                |handler, hook, t| {
                    resume.arm(handler.plugin().id);
                    let outcome = handler.fire_hook(hook, t.edata(), global.slow_callback);
                    match resume.ended(outcome == Outcome::Pending) {
                        Ended::Answered => outcome,
                        Ended::Early(outcome) => outcome,
                        Ended::Pending => Outcome::Pending,
                    }
                },
            )
        };
        match progress {
            Progress::Done(outcome) => return outcome,
            Progress::Pending => match resume.wait(global.hook_pending).await {
                Some(outcome) => dispatch.resume(outcome),
                None => {
                    warn!(%hook, limit = ?global.hook_pending,
                        "a hook callback stayed pending past timeouts.hook_pending");
                    // SAFETY: as above.
                    unsafe { (*target.0.as_ptr()).expired() };
                    dispatch.resume(Outcome::Error);
                }
            },
        }
    }
}

// -- Transactions -------------------------------------------------------------------------------

/// A URL as plugins see it: parts, with the path's leading `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlParts {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) path: String,
    pub(crate) query: String,
}

impl UrlParts {
    pub(crate) fn to_url_string(&self) -> String {
        let mut out = format!("{}://{}", self.scheme, self.host);
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(&self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out
    }
}

/// A rule's from and to URLs as plugins see them, made once per rule with a plugin chain.
#[derive(Debug)]
pub(crate) struct RuleUrls {
    pub(crate) from: UrlParts,
    pub(crate) to: UrlParts,
    from_text: String,
    to_text: String,
}

impl RuleUrls {
    pub(crate) fn new(rule: &hookyard_remap::Rule) -> RuleUrls {
        let parts = |url: &hookyard_remap::RuleUrl| UrlParts {
            scheme: url.scheme.clone(),
            host: url.host.clone(),
            port: url.port,
            path: format!("/{}", url.path),
            query: String::new(),
        };
        let (from, to) = (parts(&rule.from), parts(&rule.to));
        RuleUrls { from_text: from.to_url_string(), to_text: to.to_url_string(), from, to }
    }
}

/// A response head as plugins see it.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
}

/// Tells a lent transaction pointer from garbage.
const TXN_TAG: u32 = 0x6879_7478;
/// Tells a lent session pointer from garbage.
const SSN_TAG: u32 = 0x6879_7373;

/// A transaction as plugins see it; `*mut hy_txn` points here.
#[repr(C)]
pub(crate) struct TxnState {
    /// First, so a `void *` object can be told a transaction or a session.
    tag: u32,
    pub(crate) global: Arc<GlobalHooks>,
    ssn: *mut SsnState,
    pub(crate) hooks: Hooks<CCont>,
    pub(crate) control: Control,
    pub(crate) method: Method,
    /// The request URL: the client's until remap, then rewritten by the rule and plugins.
    pub(crate) url: UrlParts,
    /// The URL as the client sent it.
    pub(crate) pristine: UrlParts,
    /// The matched rule's URLs, once a plugin chain ran.
    pub(crate) rule: Option<Arc<RuleUrls>>,
    /// The client request's header fields.
    pub(crate) headers: HeaderMap,
    /// The request to the origin, from SEND_REQUEST_HDR.
    pub(crate) origin_request: Option<HeaderMap>,
    /// The origin's response, from READ_RESPONSE_HDR.
    pub(crate) origin_response: Option<ResponseHead>,
    /// The response to the client, from SEND_RESPONSE_HDR (or a direct response).
    pub(crate) client_response: Option<ResponseHead>,
    /// A direct response a plugin asked for: status and body.
    pub(crate) direct: Option<(u16, Vec<u8>)>,
    /// A callback's pending wait (or the transaction's active timeout) expired: 504.
    pub(crate) timed_out: bool,
    pub(crate) slots: Slots<Txn>,
    resume: Arc<Resume>,
    /// Strings handed out as `hy_str` views, kept until the state goes.
    scratch: Vec<Box<str>>,
}

impl TxnState {
    fn resume_handle(&self) -> Arc<Resume> {
        self.resume.clone()
    }

    fn ssn_ptr(&self) -> *mut SsnState {
        self.ssn
    }

    /// Keeps `text` alive as long as the state and returns a view of it.
    fn keep(&mut self, text: String) -> hy_str {
        let text: Box<str> = text.into_boxed_str();
        let view = hy_str { ptr: text.as_ptr().cast(), len: text.len() };
        self.scratch.push(text);
        view
    }

    fn session(&self) -> Option<&SsnState> {
        // SAFETY: the session outlives its transactions (the connection's task ends both).
        unsafe { self.ssn.as_ref() }
    }
}

impl Target for TxnState {
    fn resume(&self) -> &Arc<Resume> {
        &self.resume
    }

    fn local(&self) -> Local<'_, CCont> {
        let session = self.session();
        Local {
            session: session.map(|s| &s.hooks),
            txn: Some(&self.hooks),
            session_control: session.map(|s| &s.control),
            txn_control: Some(&self.control),
        }
    }

    fn edata(&mut self) -> *mut c_void {
        std::ptr::from_mut(self).cast()
    }

    fn expired(&mut self) {
        self.timed_out = true;
    }
}

/// Owns a [`TxnState`] (see the module's ownership notes).
pub(crate) struct TxnBox(NonNull<TxnState>);

// SAFETY: the state is used by the transaction's task, or by the one plugin holding a pending
// hook while that task waits; never by two at once.
unsafe impl Send for TxnBox {}

impl TxnBox {
    /// A transaction's state, in the session `ssn` (if any).
    pub(crate) fn new(
        global: Arc<GlobalHooks>,
        ssn: Option<&SsnBox>,
        method: Method,
        url: UrlParts,
        headers: HeaderMap,
    ) -> TxnBox {
        let state = Box::new(TxnState {
            tag: TXN_TAG,
            global,
            ssn: ssn.map_or(std::ptr::null_mut(), |s| s.0.as_ptr()),
            hooks: Hooks::new(Level::Transaction),
            control: Control::default(),
            method,
            pristine: url.clone(),
            url,
            rule: None,
            headers,
            origin_request: None,
            origin_response: None,
            client_response: None,
            direct: None,
            timed_out: false,
            slots: Slots::new(),
            resume: Arc::default(),
            scratch: Vec::new(),
        });
        TxnBox(NonNull::from(Box::leak(state)))
    }

    /// The state, between plugin calls.
    pub(crate) fn get(&mut self) -> &mut TxnState {
        // SAFETY: owned by this box; no plugin call runs now (`&mut self`).
        unsafe { self.0.as_mut() }
    }

    /// Whether any hook callback may still run for this transaction.
    pub(crate) fn hooked(&mut self) -> bool {
        let state = self.get();
        state.global.has_hooks()
            || !state.hooks.is_empty()
            || state.session().is_some_and(|s| !s.hooks.is_empty())
    }

    /// The client request's fields, as the start of the origin request: a copy when a hook may
    /// still look at the client request, else moved out (a remap chain alone needs them no more).
    pub(crate) fn origin_headers(&mut self) -> HeaderMap {
        if self.hooked() {
            self.get().headers.clone()
        } else {
            std::mem::take(&mut self.get().headers)
        }
    }

    /// The callbacks each hook runs for this transaction, with its own and its session's.
    pub(crate) fn listing(&mut self) -> Vec<crate::report::HookInfo> {
        let state = self.get();
        let table = state.global.table.load_full();
        crate::report::hook_listing(&table, &state.global.priorities, &state.local())
    }

    /// Runs `hook`'s callbacks for this transaction.
    pub(crate) async fn hook(&mut self, hook: HookId) -> Outcome {
        if !self.hooked() {
            return Outcome::Continue;
        }
        let global = self.get().global.clone();
        // SAFETY: the box owns the state and is borrowed mutably for the whole dispatch.
        unsafe { dispatch(Ptr(self.0), &global, hook).await }
    }

    /// The transaction's active timeout passed while it ran: a callback's pending wait ends
    /// (its late resume is refused) and the transaction is marked timed out.
    pub(crate) fn expire(&mut self) {
        let state = self.get();
        if state.resume.expire() {
            warn!("a hook callback was pending when the transaction's active timeout passed");
        }
        state.timed_out = true;
    }

    /// Runs TXN_CLOSE without waiting: a pending callback finishes it on a task of its own.
    pub(crate) fn close(self) {
        let mut this = self;
        if !this.hooked() {
            return;
        }
        let global = this.get().global.clone();
        let mut future = Box::pin(async move {
            // SAFETY: `this` owns the state and lives in this future to its end.
            unsafe { dispatch(Ptr(this.0), &global, HookId::TxnClose).await };
            drop(this);
        });
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        if future.as_mut().poll(&mut cx).is_pending() {
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => drop(handle.spawn(future)),
                Err(_) => warn!("TXN_CLOSE pending outside a runtime; its state is leaked"),
            }
        }
    }

    /// Tells the chain's first plugin how the origin answered.
    pub(crate) fn os_response(&mut self, chain: &Chain, state: i32) {
        // SAFETY: as in `run_chain`.
        unsafe { chain.os_response(self.0.as_ptr().cast(), state) }
    }

    /// Runs a rule's remap plugin chain on this transaction, with the rule's URLs.
    pub(crate) fn run_chain(&mut self, chain: &Chain, rule: &Arc<RuleUrls>) -> ChainOutcome {
        let view = |s: &str| hy_str { ptr: s.as_ptr().cast(), len: s.len() };
        let mut rri = hy_remap_request_info {
            size: size_of::<hy_remap_request_info>() as u32,
            redirect: 0,
            from_url: view(&rule.from_text),
            to_url: view(&rule.to_text),
        };
        let state = self.get();
        state.rule = Some(rule.clone());
        let slow = state.global.slow_callback;
        let timed = |plugin: &hookyard_remap::RemapPlugin, took| {
            if let Some(plugin) = plugin_state(plugin.table()) {
                plugin.timed(HookId::COUNT, "do_remap", took, slow);
            }
        };
        // SAFETY: the state is this box's, not otherwise borrowed during the call; `rri` lives
        // on this frame for the call.
        unsafe { chain.run(self.0.as_ptr().cast(), &mut rri, timed) }
    }
}

impl Drop for TxnBox {
    fn drop(&mut self) {
        // SAFETY: made by `Box::leak` in `new`, owned by this box, which drops now.
        unsafe { release(self.0) };
    }
}

/// Frees a transaction's or session's state as its box drops, unless a plugin holds it on a
/// pending hook: then the resume that must come frees it, or, when none comes within the
/// pending limit and [`LATE_RESUME_GRACE`], the host does. A state whose wait expired once is
/// freed after that grace too (a late resume must find it to be refused).
///
/// # Safety
///
/// `state` was made by `Box::leak`, and its owning box drops now.
unsafe fn release<T: Target + 'static>(state: NonNull<T>) {
    // SAFETY: owned by the dropping box; the resume state says whether a plugin still holds it.
    let resume = unsafe { state.as_ref() }.resume().clone();
    let state = Ptr(state);
    if resume.abandon() {
        debug!("a transaction or session ended while a hook was pending; its resume frees it");
        free_later(state, resume.limit() + LATE_RESUME_GRACE, move || resume.reclaim());
    } else if resume.ever_expired() {
        free_later(state, LATE_RESUME_GRACE, || true);
    } else {
        // SAFETY: per the contract; freed once, here.
        drop(unsafe { Box::from_raw(state.0.as_ptr()) });
    }
}

/// Frees `state` after `delay` on the scheduler thread if `still_ours` then says so.
fn free_later<T: 'static>(
    state: Ptr<T>,
    delay: Duration,
    still_ours: impl FnOnce() -> bool + Send + 'static,
) {
    let Some(scheduler) = scheduler() else {
        warn!("no scheduler thread: a transaction or session state is leaked");
        return;
    };
    scheduler.spawn(async move {
        tokio::time::sleep(delay).await;
        if still_ours() {
            // SAFETY: abandoned by its box; `still_ours` took it back from the plugin (or no
            // plugin holds it), so nobody else frees or uses it.
            drop(unsafe { Box::from_raw(state.raw()) });
        }
    });
}

/// Frees a transaction or session abandoned while pending, from its resume.
///
/// # Safety
///
/// `state` was abandoned by its box and is used by nobody else.
unsafe fn free_abandoned<T>(state: *mut T) {
    // SAFETY: per the contract.
    drop(unsafe { Box::from_raw(state) });
}

// -- Sessions -----------------------------------------------------------------------------------

/// A session (client connection) as plugins see it; `*mut hy_ssn` points here.
#[repr(C)]
pub(crate) struct SsnState {
    tag: u32,
    pub(crate) hooks: Hooks<CCont>,
    pub(crate) control: Control,
    pub(crate) slots: Slots<Ssn>,
    pub(crate) conn_slots: Slots<Conn>,
    resume: Arc<Resume>,
}

impl SsnState {
    fn resume_handle(&self) -> Arc<Resume> {
        self.resume.clone()
    }
}

impl Target for SsnState {
    fn resume(&self) -> &Arc<Resume> {
        &self.resume
    }

    fn local(&self) -> Local<'_, CCont> {
        Local {
            session: Some(&self.hooks),
            txn: None,
            session_control: Some(&self.control),
            txn_control: None,
        }
    }

    fn edata(&mut self) -> *mut c_void {
        std::ptr::from_mut(self).cast()
    }

    fn expired(&mut self) {}
}

/// Owns a [`SsnState`]; lives as long as its connection.
pub(crate) struct SsnBox(NonNull<SsnState>);

// SAFETY: as for `TxnBox`.
unsafe impl Send for SsnBox {}
// SAFETY: shared only to hand its pointer to transactions of the same connection, which run one
// after another.
unsafe impl Sync for SsnBox {}

impl Default for SsnBox {
    fn default() -> SsnBox {
        let state = Box::new(SsnState {
            tag: SSN_TAG,
            hooks: Hooks::new(Level::Session),
            control: Control::default(),
            slots: Slots::new(),
            conn_slots: Slots::new(),
            resume: Arc::default(),
        });
        SsnBox(NonNull::from(Box::leak(state)))
    }
}

impl SsnBox {
    /// Whether callbacks are registered on the session itself.
    pub(crate) fn has_hooks(&self) -> bool {
        // SAFETY: owned by this box; only read, between transactions or by the running one.
        !unsafe { self.0.as_ref() }.hooks.is_empty()
    }

    /// Runs a session hook (SSN_START, SSN_CLOSE) with the generation's global hooks. Called
    /// when no transaction of the session runs (they run one after another, and these hooks
    /// before the first and after the last).
    pub(crate) async fn hook(&self, global: &GlobalHooks, hook: HookId) -> Outcome {
        // SAFETY: owned by this box, borrowed mutably for the whole dispatch.
        let empty = unsafe { self.0.as_ref() }.hooks.is_empty();
        if !global.has_hooks() && empty {
            return Outcome::Continue;
        }
        // SAFETY: as above.
        unsafe { dispatch(Ptr(self.0), global, hook).await }
    }
}

impl Drop for SsnBox {
    fn drop(&mut self) {
        // SAFETY: made by `Box::leak` in `default`, owned by this box, which drops now.
        unsafe { release(self.0) };
    }
}
