//! Remap plugins across configuration generations: each plugin version loaded and initialised
//! once, an instance per `@plugin=` per generation, and teardown (delete_instance, done) on a
//! dedicated thread, serialised with loading as ATS guarantees.

use std::ffi::CString;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use hookyard_abi::{self as abi, PluginIdentity, hy_api, hy_remap_request_info, hy_txn};
use hookyard_context::{Context, ContextState};
use hookyard_dso::{Library, Loader, VersionId};
use tracing::{debug, info, warn};

use crate::ffi::{Entries, GlobalEntries, InstanceHandle};
use crate::global::{GlobalPlugin, GlobalSpec, GlobalUse, release_now};

/// What a plugin version is, for the host building its function table.
#[derive(Debug)]
pub struct PluginInfo<'a> {
    /// The name and version from its descriptor.
    pub identity: &'a PluginIdentity,
    /// Its loaded library.
    pub library: &'a Library,
    /// Its context (current while its code runs).
    pub context: &'a Context,
}

/// A host function table handed to one plugin version's init.
pub trait PluginTable: Send + Sync {
    /// The table; valid until this value is dropped, which happens after the plugin's last
    /// entry point returned.
    fn api(&self) -> *const hy_api;

    /// Called after the plugin version's done returned: nothing of the version is called by
    /// the loader any more.
    fn done(&self) {}

    /// The host's own type behind this table.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// Builds the function table each plugin version receives (implemented by the proxy).
pub trait HostTables: Send + Sync {
    /// The table for a newly loaded plugin version.
    fn table(&self, plugin: &PluginInfo<'_>) -> Box<dyn PluginTable>;
}

/// Why a plugin could not be loaded or instantiated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The file could not be found, copied or opened.
    #[error(transparent)]
    Load(#[from] hookyard_dso::Error),
    /// The descriptor, an entry point, init or new_instance refused.
    #[error(transparent)]
    Abi(#[from] abi::Error),
    /// A global plugin's params changed while its file did not: a loaded version is
    /// initialised once.
    #[error(
        "global plugin {config_path}: its params changed but its file did not; a loaded version is initialised only once, so replace the file (a new version) to apply new params"
    )]
    ParamsChanged {
        /// The path as configured.
        config_path: String,
    },
}

/// One loaded remap plugin version, shared by every generation that uses it.
pub struct RemapPlugin {
    identity: PluginIdentity,
    config_path: String,
    context: Context,
    entries: Entries,
    table: Box<dyn PluginTable>,
    /// Instances alive, across generations.
    instances: AtomicUsize,
    /// Cleared by done: a later reuse runs init again (ATS does not; its plugins then run
    /// without init).
    initialized: AtomicBool,
    retire: Sender<Job>,
}

impl RemapPlugin {
    /// The name and version from the descriptor.
    pub fn identity(&self) -> &PluginIdentity {
        &self.identity
    }

    /// The loaded version's id.
    pub fn version(&self) -> VersionId {
        self.library().id()
    }

    /// The library holding the code.
    pub fn library(&self) -> &Library {
        self.context.library().expect("a remap plugin context always has its library")
    }

    /// The plugin's context.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The host table this version was given.
    pub fn table(&self) -> &dyn PluginTable {
        &*self.table
    }

    /// Instances alive, across generations.
    pub fn instances(&self) -> usize {
        self.instances.load(Ordering::Acquire)
    }

    /// Retires this version (see [`retire`]).
    pub fn retire(&self, how: Retire) {
        retire(&self.context, how);
    }

    fn init(&self) -> Result<(), abi::Error> {
        // SAFETY: `self.table` lives as long as `self`, and so past the plugin's done.
        let result = self.context.run(|| unsafe { self.entries.init(self.table.api()) });
        result.map_err(|errbuf| abi::Error::init_failed(&self.config_path, &errbuf))?;
        self.initialized.store(true, Ordering::Release);
        Ok(())
    }

    fn pre_reload(&self) {
        self.context.run(|| self.entries.pre_reload());
    }

    fn post_reload(&self, status: i32) {
        self.context.run(|| self.entries.post_reload(status));
    }
}

impl fmt::Debug for RemapPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemapPlugin")
            .field("name", &self.identity.name)
            .field("version", &self.identity.version)
            .field("instances", &self.instances())
            .finish_non_exhaustive()
    }
}

/// How a plugin version is retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retire {
    /// Its events still dispatch for this long, then are dropped.
    Drain(Duration),
    /// Its events are dropped from now on.
    Force,
}

/// Retires the plugin version `context` belongs to: its events are dropped after the drain (at
/// once when forced), and its library is withheld from reuse, so a later load of its file (in
/// dynamic mode) makes a fresh version rather than bringing the retired one back. The code
/// stays loaded until the last reference goes.
pub fn retire(context: &Context, how: Retire) {
    if let Some(library) = context.library() {
        library.withhold();
    }
    match how {
        Retire::Drain(drain) => context.retire(Some(drain)),
        Retire::Force => context.force_retire(),
    }
}

/// Whether the context's plugin version was retired (draining or for good).
pub(crate) fn is_retired(context: &Context) -> bool {
    context.state() != ContextState::Active
}

/// One `@plugin=` of one rule in one generation.
pub struct Instance {
    /// `None` once retired.
    live: Option<Live>,
}

pub(crate) struct Live {
    plugin: Arc<RemapPlugin>,
    handle: InstanceHandle,
    /// The instance's argv (from URL, to URL, then the rule's `@pparam=` values).
    params: Arc<[Box<str>]>,
}

impl Instance {
    /// The plugin of this instance.
    pub fn plugin(&self) -> &Arc<RemapPlugin> {
        &self.live.as_ref().expect("an instance is live until retired").plugin
    }

    fn live(&self) -> &Live {
        self.live.as_ref().expect("an instance is live until retired")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            let retire = live.plugin.retire.clone();
            if let Err(crossbeam_channel::SendError(Job::Retire(live))) =
                retire.send(Job::Retire(live))
            {
                // The teardown thread is gone (process exit): retire here.
                retire_now(live);
            }
        }
    }
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance").field("plugin", &self.live.as_ref().map(|l| &l.plugin)).finish()
    }
}

/// Deletes an instance; runs done when it was the plugin version's last.
fn retire_now(live: Live) {
    let Live { plugin, handle, .. } = live;
    plugin.context.run(|| plugin.entries.delete_instance(handle));
    if plugin.instances.fetch_sub(1, Ordering::AcqRel) == 1 {
        // ATS calls done without a context; we run it in the plugin's, like every other entry.
        plugin.context.run(|| plugin.entries.done());
        plugin.initialized.store(false, Ordering::Release);
        plugin.table.done();
        info!(plugin = %plugin.identity.name, version = plugin.version().get(), "remap plugin done");
    }
}

/// How a remap plugin chain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainOutcome {
    /// Some plugin answered `DID_REMAP` or `DID_REMAP_STOP`.
    pub remapped: bool,
    /// A plugin set the redirect flag with a `DID_REMAP*` answer: redirect the client to the
    /// request URL.
    pub redirect: bool,
}

/// The remap plugin instances of one rule, in order.
#[derive(Debug, Default)]
pub struct Chain {
    instances: Vec<Instance>,
}

impl Chain {
    pub(crate) const EMPTY: Chain = Chain { instances: Vec::new() };

    pub(crate) fn push(&mut self, instance: Instance) {
        self.instances.push(instance);
    }

    pub(crate) fn into_instances(self) -> Vec<Instance> {
        self.instances
    }

    /// Whether the rule has no plugins.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// The instances, in order.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// Runs the chain as ATS's `RemapPlugins`: each instance's do_remap in order, inside its
    /// plugin's context, with the redirect flag cleared before each; `NO_REMAP_STOP` and
    /// `DID_REMAP_STOP` end it; a `DID_REMAP*` with the redirect flag set ends it with a
    /// redirect; a negative answer counts as `NO_REMAP` (ATS's code; its documentation says
    /// otherwise). A plugin retired for good (past its drain, or forced) is skipped as if it
    /// answered `NO_REMAP`, its drop counted. `timed` is told how long each plugin's `do_remap`
    /// took; `enter` is given each instance's argv (from URL, to URL, then its `@pparam=`
    /// values) just before its `do_remap`, and `None` just after.
    ///
    /// # Safety
    ///
    /// `txn` is a transaction handle of the host, valid for the call, and `rri` a request info
    /// valid and exclusively lent for the call.
    pub unsafe fn run(
        &self,
        txn: *mut hy_txn,
        rri: *mut hy_remap_request_info,
        mut timed: impl FnMut(&RemapPlugin, Duration),
        mut enter: impl FnMut(Option<&Arc<[Box<str>]>>),
    ) -> ChainOutcome {
        let mut outcome = ChainOutcome { remapped: false, redirect: false };
        for instance in &self.instances {
            let live = instance.live();
            if !live.plugin.context.admits() {
                // Retired for good: skipped as NO_REMAP (the drop is counted in its context).
                continue;
            }
            // SAFETY: `rri` is valid and ours for the call (contract).
            unsafe { (*rri).redirect = 0 };
            let started = quanta::Instant::now();
            enter(Some(&live.params));
            let status = live.plugin.context.run(|| {
                // SAFETY: per this function's contract; the instance is live.
                unsafe { live.plugin.entries.do_remap(live.handle, txn, rri) }
            });
            enter(None);
            timed(&live.plugin, started.elapsed());
            let status = if status < 0 { abi::HY_REMAP_NO_REMAP } else { status };
            let did = matches!(status, abi::HY_REMAP_DID_REMAP | abi::HY_REMAP_DID_REMAP_STOP);
            outcome.remapped |= did;
            // SAFETY: as above.
            if did && unsafe { (*rri).redirect } != 0 {
                outcome.redirect = true;
                break;
            }
            if matches!(status, abi::HY_REMAP_NO_REMAP_STOP | abi::HY_REMAP_DID_REMAP_STOP) {
                break;
            }
        }
        outcome
    }

    /// Tells the chain's first plugin (only) how the origin answered, unless it was retired for
    /// good.
    ///
    /// # Safety
    ///
    /// `txn` is a transaction handle of the host, valid for the call.
    pub unsafe fn os_response(&self, txn: *mut hy_txn, state: i32) {
        if let Some(first) = self.instances.first() {
            let live = first.live();
            if !live.plugin.context.admits() {
                return;
            }
            live.plugin.context.run(|| {
                // SAFETY: per this function's contract; the instance is live.
                unsafe { live.plugin.entries.os_response(live.handle, txn, state) }
            });
        }
    }
}

pub(crate) enum Job {
    Retire(Live),
    /// A generation's use of a global plugin version ended.
    Release(Arc<GlobalPlugin>),
    /// An ended generation's rules, freed here rather than on the thread that dropped it last
    /// (a proxy worker: 10,000 rules take milliseconds to free).
    Free(Box<crate::Rules>),
    Flush(Sender<()>),
    /// Sent when `Plugins` goes: finish what is queued, then exit (instances dropped later are
    /// torn down by whoever drops them).
    Stop,
}

/// The remap plugins of a process: the loader, the tables the host gives plugins, every loaded
/// version, and the thread that tears instances down.
pub struct Plugins {
    /// Made on the first plugin load, so a configuration without plugins needs no runtime
    /// directory.
    loader: OnceLock<Loader>,
    make_loader: Box<dyn Fn() -> Result<Loader, hookyard_dso::Error> + Send + Sync>,
    tables: Arc<dyn HostTables>,
    loaded: Mutex<Vec<Weak<RemapPlugin>>>,
    globals: Mutex<Vec<Weak<GlobalPlugin>>>,
    /// Serialises loading (init, new_instance, pre/post reload) with teardown (delete_instance,
    /// done), as ATS guarantees plugins.
    lifecycle: Arc<Mutex<()>>,
    retire: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Plugins {
    /// Remap plugins loaded with `loader`, given tables by `tables`.
    pub fn new(loader: Loader, tables: Arc<dyn HostTables>) -> Plugins {
        Plugins::with_loader_factory(move || Ok(loader.clone()), tables)
    }

    /// Remap plugins loaded with a loader that `make_loader` creates when the first plugin is
    /// loaded (its runtime directory is only needed then).
    pub fn with_loader_factory(
        make_loader: impl Fn() -> Result<Loader, hookyard_dso::Error> + Send + Sync + 'static,
        tables: Arc<dyn HostTables>,
    ) -> Plugins {
        let lifecycle = Arc::new(Mutex::new(()));
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let thread = std::thread::Builder::new()
            .name("hookyard-remap-retire".into())
            .spawn({
                let lifecycle = Arc::clone(&lifecycle);
                move || {
                    let retire = |job| {
                        let _serial = lifecycle.lock().unwrap_or_else(PoisonError::into_inner);
                        match job {
                            Job::Retire(live) => retire_now(live),
                            Job::Release(plugin) => release_now(plugin),
                            Job::Free(rules) => drop(rules),
                            Job::Flush(_) | Job::Stop => {}
                        }
                    };
                    for job in &rx {
                        match job {
                            job @ (Job::Retire(_) | Job::Release(_)) => retire(job),
                            Job::Free(rules) => drop(rules),
                            Job::Flush(done) => {
                                let _ = done.send(());
                            }
                            Job::Stop => break,
                        }
                    }
                    for job in rx.try_iter() {
                        retire(job);
                    }
                }
            })
            .expect("the remap teardown thread starts");
        Plugins {
            loader: OnceLock::new(),
            make_loader: Box::new(make_loader),
            tables,
            loaded: Mutex::new(Vec::new()),
            globals: Mutex::new(Vec::new()),
            lifecycle,
            retire: Some(tx),
            thread: Some(thread),
        }
    }

    /// The loader, once a plugin was loaded.
    pub fn loader(&self) -> Option<&Loader> {
        self.loader.get()
    }

    /// The loader, made now if needed; the caller holds the lifecycle lock.
    fn loader_or_make(&self) -> Result<&Loader, hookyard_dso::Error> {
        if let Some(loader) = self.loader.get() {
            return Ok(loader);
        }
        let loader = (self.make_loader)()?;
        // Calibrates the clock `do_remap` calls are timed with (once, under a millisecond
        // mostly, at most 200 ms) before the first plugin loads, not in its first call.
        quanta::Instant::now();
        Ok(self.loader.get_or_init(|| loader))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lifecycle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every plugin version still loaded, in load order.
    pub fn loaded(&self) -> Vec<Arc<RemapPlugin>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        loaded.retain(|w| w.strong_count() > 0);
        loaded.iter().filter_map(Weak::upgrade).collect()
    }

    /// A sender to the teardown thread.
    pub(crate) fn teardown(&self) -> Option<Sender<Job>> {
        self.retire.clone()
    }

    /// Every global plugin version still loaded, in load order.
    pub fn globals(&self) -> Vec<Arc<GlobalPlugin>> {
        let mut loaded = self.globals.lock().unwrap_or_else(PoisonError::into_inner);
        loaded.retain(|w| w.strong_count() > 0);
        loaded.iter().filter_map(Weak::upgrade).collect()
    }

    /// Blocks until every instance released before this call is torn down.
    pub fn flush(&self) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self.retire.as_ref().is_some_and(|r| r.send(Job::Flush(tx)).is_ok()) {
            let _ = rx.recv();
        }
    }

    /// The plugin version for `config_path`: the loaded one if the file is unchanged (running
    /// init again only if it was done), else a new one, validated and initialised. The caller
    /// holds the lifecycle lock. Returns whether it was newly loaded.
    pub(crate) fn acquire(
        &self,
        config_path: &str,
    ) -> Result<(Arc<RemapPlugin>, bool), PluginError> {
        let library = self.loader_or_make()?.load(config_path.as_ref())?;
        if let Some(plugin) = self.loaded().into_iter().find(|p| p.version() == library.id()) {
            if !plugin.initialized.load(Ordering::Acquire) {
                plugin.init()?;
            }
            return Ok((plugin, false));
        }
        let identity = crate::ffi::validate(&library, config_path)?;
        if identity.cannot_unload() {
            library.pin()?;
        }
        let Some(entries) = Entries::resolve(&library) else {
            return Err(PluginError::Abi(abi::Error::MissingFunction {
                config_path: config_path.to_owned(),
                symbol: abi::symbol::REMAP_INIT.to_owned(),
                defined: None,
            }));
        };
        let context = Context::plugin(identity.name.as_str(), library.clone());
        let table = self.tables.table(&PluginInfo {
            identity: &identity,
            library: &library,
            context: &context,
        });
        let retire = self.retire.clone().expect("the teardown channel lives as long as `Plugins`");
        let plugin = Arc::new(RemapPlugin {
            identity,
            config_path: config_path.to_owned(),
            context,
            entries,
            table,
            instances: AtomicUsize::new(0),
            initialized: AtomicBool::new(false),
            retire,
        });
        plugin.init()?;
        info!(plugin = %plugin.identity.name, version = %plugin.identity.version, dso = library.id().get(),
            path = %library.path().display(), "remap plugin loaded and initialised");
        self.loaded.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::downgrade(&plugin));
        Ok((plugin, true))
    }

    /// A use of the global plugin version `spec` names: the loaded one if its file and params
    /// are unchanged (running init again only if it was done), else a new one, validated and
    /// initialised with its params. The caller holds the lifecycle lock. Returns whether it
    /// was newly loaded.
    pub(crate) fn acquire_global(
        &self,
        spec: &GlobalSpec,
    ) -> Result<(GlobalUse, bool), PluginError> {
        let library = self.loader_or_make()?.load(spec.path.as_ref())?;
        let retire = self.retire.clone().expect("the teardown channel lives as long as `Plugins`");
        let same = self.globals().into_iter().find(|p| p.version() == library.id());
        if let Some(plugin) = same {
            if plugin.params == spec.params {
                if !plugin.initialized.load(Ordering::Acquire) {
                    plugin.init()?;
                }
                return Ok((GlobalUse::new(plugin, retire), false));
            }
            if plugin.users() > 0 {
                return Err(PluginError::ParamsChanged { config_path: spec.path.clone() });
            }
        }
        let identity = crate::ffi::validate_global(&library, &spec.path)?;
        if identity.cannot_unload() {
            library.pin()?;
        }
        let Some(entries) = GlobalEntries::resolve(&library) else {
            return Err(PluginError::Abi(abi::Error::MissingFunction {
                config_path: spec.path.clone(),
                symbol: abi::symbol::PLUGIN_INIT.to_owned(),
                defined: None,
            }));
        };
        let context = Context::plugin(identity.name.as_str(), library.clone());
        let table = self.tables.table(&PluginInfo {
            identity: &identity,
            library: &library,
            context: &context,
        });
        let plugin = Arc::new(GlobalPlugin {
            identity,
            config_path: spec.path.clone(),
            params: spec.params.clone(),
            context,
            entries,
            table,
            users: AtomicUsize::new(0),
            initialized: AtomicBool::new(false),
        });
        plugin.init()?;
        info!(plugin = %plugin.identity.name, version = %plugin.identity.version, dso = library.id().get(),
            path = %library.path().display(), "global plugin loaded and initialised");
        self.globals.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::downgrade(&plugin));
        Ok((GlobalUse::new(plugin, retire), true))
    }

    /// Creates an instance of `plugin` with `argv` (from URL, to URL, parameters). The caller
    /// holds the lifecycle lock.
    pub(crate) fn instantiate(
        &self,
        plugin: &Arc<RemapPlugin>,
        argv: &[String],
    ) -> Result<Instance, PluginError> {
        let args: Vec<CString> = argv
            .iter()
            .map(|a| {
                CString::new(a.as_str())
                    .unwrap_or_else(|_| CString::new(a.replace('\0', "")).unwrap_or_default())
            })
            .collect();
        let handle = plugin
            .context
            .run(|| plugin.entries.new_instance(&args))
            .map_err(|errbuf| abi::Error::instance_failed(&plugin.config_path, &errbuf))?;
        plugin.instances.fetch_add(1, Ordering::AcqRel);
        debug!(plugin = %plugin.identity.name, "remap plugin instance created");
        let params = argv.iter().map(|a| a.as_str().into()).collect();
        Ok(Instance { live: Some(Live { plugin: Arc::clone(plugin), handle, params }) })
    }

    /// Tears an instance down now; the caller holds the lifecycle lock.
    pub(crate) fn retire_locked(&self, mut instance: Instance) {
        if let Some(live) = instance.live.take() {
            retire_now(live);
        }
    }

    /// Ends a global plugin use now; the caller holds the lifecycle lock.
    pub(crate) fn release_locked(&self, mut use_: GlobalUse) {
        if let Some(plugin) = use_.take() {
            release_now(plugin);
        }
    }

    /// Tells every loaded plugin a reload starts.
    pub(crate) fn pre_reload(&self) {
        for plugin in self.globals() {
            plugin.pre_reload();
        }
        for plugin in self.loaded() {
            plugin.pre_reload();
        }
    }

    /// Tells every loaded plugin how the reload ended: `used` says whether a plugin version
    /// has instances in the new generation.
    pub(crate) fn post_reload(
        &self,
        succeeded: bool,
        used: impl Fn(&RemapPlugin) -> bool,
        global_used: impl Fn(&GlobalPlugin) -> bool,
    ) {
        let status = |used: bool| match (succeeded, used) {
            (false, _) => abi::HY_RELOAD_FAILURE,
            (true, true) => abi::HY_RELOAD_SUCCESS_PLUGIN_USED,
            (true, false) => abi::HY_RELOAD_SUCCESS_PLUGIN_UNUSED,
        };
        for plugin in self.globals() {
            plugin.post_reload(status(global_used(&plugin)));
        }
        for plugin in self.loaded() {
            plugin.post_reload(status(used(&plugin)));
        }
    }
}

impl Drop for Plugins {
    fn drop(&mut self) {
        // Plugin versions still alive hold senders too, so closing ours would not end the
        // thread: tell it to stop.
        if let Some(retire) = self.retire.take() {
            let _ = retire.send(Job::Stop);
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            warn!("the remap teardown thread panicked");
        }
    }
}

impl fmt::Debug for Plugins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugins").field("loaded", &self.loaded()).finish_non_exhaustive()
    }
}
