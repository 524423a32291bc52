//! The server: one current-thread runtime per worker, each with its own `SO_REUSEPORT`
//! listener per address and its own pooled origin client (`ARCHITECTURE.md`, `crates/proxy`,
//! says why), plus one control thread for the admin socket and metrics.
//!
//! Generations: the serving [`Generation`] sits in an [`ArcSwap`]; a transaction takes it with
//! one atomic load when it starts and keeps it until it ends, so a reload never changes the
//! rules under a running transaction.

pub(crate) mod body;
pub(crate) mod io;
pub(crate) mod limit;
mod listen;
pub(crate) mod origin;
pub(crate) mod worker;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::{Config, Problems, Source};
use crate::report::{ReloadReport, RuleInfo, Status};
use crate::stats::Stats;
use crate::{admin, metrics};
use hookyard_host::{GlobalHooks, Link, RuleUrls};

/// One configuration as served: what new transactions take.
#[derive(Debug)]
pub struct Generation {
    /// Its number: 1 at start, one more per successful reload.
    pub id: u64,
    /// The configuration (its `rules` moved into `remap`).
    pub config: Config,
    /// The remap rules and their plugin instances, and the global plugins.
    pub remap: Arc<hookyard_remap::Generation>,
    /// The global hook table and the plugin priorities.
    pub(crate) hooks: Arc<GlobalHooks>,
    /// Per rule (by index), the URLs its plugin chain is shown; `None` for a rule without one.
    pub(crate) rule_urls: Vec<Option<Arc<RuleUrls>>>,
    /// When it was loaded.
    pub loaded_at: SystemTime,
}

/// Where the control socket goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AdminSocket {
    /// `admin` of `hookyard.yaml`, else `admin.sock` in the runtime directory.
    #[default]
    FromConfig,
    /// This path.
    At(PathBuf),
    /// No control socket.
    Off,
}

/// How to start a server; what the command line of `hookyard run` gives.
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    /// The configuration directory; `None`: the embedded default.
    pub config_dir: Option<PathBuf>,
    /// Listen addresses replacing those of `hookyard.yaml` (`--listen`), if any.
    pub listen: Vec<SocketAddr>,
    /// The control socket.
    pub admin: AdminSocket,
    /// A metrics address replacing that of `hookyard.yaml` (`--metrics`).
    pub metrics: Option<SocketAddr>,
    /// Worker threads replacing `workers` of `hookyard.yaml`.
    pub workers: Option<usize>,
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration has problems.
    #[error("the configuration has problems")]
    Config(#[source] Problems),
    /// A listen, metrics or control address cannot be bound.
    #[error("cannot listen on {what}")]
    Bind {
        /// The address.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A thread or runtime could not be created.
    #[error("cannot start the {what}")]
    Spawn {
        /// What.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// State shared by the workers, the control thread and the handle.
pub(crate) struct Shared {
    pub(crate) current: ArcSwap<Generation>,
    /// Remap rules with their plugins, across generations.
    remap: hookyard_remap::Generations,
    /// What plugin calls reach of the server.
    link: Arc<Link>,
    config_dir: Option<PathBuf>,
    reload_lock: Mutex<()>,
    pub(crate) started: Instant,
    pub(crate) stats: Stats,
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) reloads_ok: AtomicU64,
    pub(crate) reloads_failed: AtomicU64,
    /// Set while `ctl hooks --txn-sample` waits: the next transaction to end answers it.
    pub(crate) sample_armed: AtomicBool,
    /// The connection caps: client connections, metrics, control socket.
    pub(crate) limits: ConnLimits,
    sample_waiters: Mutex<Vec<tokio::sync::oneshot::Sender<Vec<crate::report::HookInfo>>>>,
}

/// The connection caps of a server's endpoints, fixed at start.
pub(crate) struct ConnLimits {
    /// Client connections over every listener and worker.
    pub(crate) clients: Arc<limit::ConnLimit>,
    pub(crate) metrics: Arc<limit::ConnLimit>,
    pub(crate) admin: Arc<limit::ConnLimit>,
}

impl ConnLimits {
    fn new(limits: &crate::config::Limits) -> ConnLimits {
        let clients = limits.max_connections.unwrap_or_else(limit::default_max_connections);
        ConnLimits {
            clients: limit::ConnLimit::new("proxy", clients),
            metrics: limit::ConnLimit::new("metrics", limits.max_control_connections),
            admin: limit::ConnLimit::new("admin", limits.max_control_connections),
        }
    }

    /// Every cap, for the metrics.
    pub(crate) fn all(&self) -> [&limit::ConnLimit; 3] {
        [&self.clients, &self.metrics, &self.admin]
    }
}

/// Starts servers.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Loads the configuration, binds every listener and starts the workers and the control
    /// thread; returns once everything listens.
    ///
    /// # Errors
    ///
    /// A configuration with problems, an address that cannot be bound, a thread that cannot be
    /// started.
    pub fn start(mut options: ServerConfig) -> Result<ServerHandle, StartError> {
        options.config_dir = options.config_dir.as_deref().map(crate::config::absolute);
        let mut config = match &options.config_dir {
            None => Config::embedded(),
            Some(dir) => Config::load_dir(dir).result.map_err(StartError::Config)?,
        };
        let (remap, link) = remap_generations(&config.settings, options.config_dir.as_deref());
        let hooks = load_plugins(&remap, &link, &mut config)
            .map_err(|e| StartError::Config(problems(e)))?
            .1;
        let settings = &config.settings;
        let listen = if options.listen.is_empty() { &settings.listen } else { &options.listen };
        let workers = options
            .workers
            .or(settings.workers)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1);
        let sockets = listen::bind_all(listen, workers)?;
        let addrs: Vec<SocketAddr> =
            sockets[0].iter().filter_map(|s| s.local_addr().ok()).collect();

        let admin_path = match &options.admin {
            AdminSocket::Off => None,
            AdminSocket::At(path) => Some(path.clone()),
            AdminSocket::FromConfig => Some(settings.admin.clone().unwrap_or_else(|| {
                runtime_dir(settings.runtime_dir.as_deref()).join("admin.sock")
            })),
        };
        let admin_listener = admin_path.as_deref().map(admin::bind).transpose()?;
        let metrics_listener = options
            .metrics
            .or(settings.metrics)
            .map(|addr| {
                std::net::TcpListener::bind(addr)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .map_err(|source| StartError::Bind {
                        what: format!("metrics address {addr}"),
                        source,
                    })
            })
            .transpose()?;
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());

        let source = config.source.to_string();
        let limits = ConnLimits::new(&config.settings.limits);
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(Generation {
                id: 1,
                config,
                rule_urls: rule_urls(&remap.current()),
                remap: remap.current(),
                hooks,
                loaded_at: SystemTime::now(),
            }),
            remap,
            link,
            config_dir: options.config_dir.clone(),
            reload_lock: Mutex::new(()),
            started: Instant::now(),
            stats: Stats::new(workers),
            addrs: addrs.clone(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            sample_armed: AtomicBool::new(false),
            limits,
            sample_waiters: Mutex::new(Vec::new()),
        });
        let (stop, stopped) = watch::channel(false);
        let mut threads = Vec::with_capacity(workers + 1);
        for (index, listeners) in sockets.into_iter().enumerate() {
            let (shared, stopped) = (shared.clone(), stopped.clone());
            let thread = std::thread::Builder::new()
                .name(format!("hookyard-worker-{index}"))
                .spawn(move || worker::run(index, listeners, shared, stopped))
                .map_err(|source| StartError::Spawn { what: "worker threads", source })?;
            threads.push(thread);
        }
        let control = {
            let (shared, stopped) = (shared.clone(), stopped.clone());
            let admin = admin_listener.map(|l| (l, admin_path.clone().unwrap_or_default()));
            std::thread::Builder::new()
                .name("hookyard-control".to_owned())
                .spawn(move || control(shared, admin, metrics_listener, stopped))
                .map_err(|source| StartError::Spawn { what: "control thread", source })?
        };
        threads.push(control);
        threads.extend(crate::watch::start(&shared, stopped));
        info!(listen = ?addrs, workers, config = %source, admin = ?admin_path, metrics = ?metrics_addr, "hookyard started");
        Ok(ServerHandle { shared, stop, threads, admin_path, metrics_addr })
    }
}

/// The runtime directory (plugin copies, the default control socket): `configured` if given;
/// else, for root, `/var/lib/hookyard` (root's own, and unlike `/run` on some systems not
/// mounted `noexec`); else `$XDG_RUNTIME_DIR/hookyard`, else `hookyard-UID` in the temporary
/// directory.
///
/// Whichever it is, it is used only if it is private to the effective user (created 0700, or
/// owned by it and writable by nobody else, and no symbolic link): another user who creates the
/// predictable name in the temporary directory first gets a refusal, not the directory.
pub fn runtime_dir(configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_owned();
    }
    // The owner of /proc/self is this process's effective user: the uid without `unsafe`.
    let euid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("hookyard");
    }
    match euid {
        Ok(0) => PathBuf::from("/var/lib/hookyard"),
        Ok(uid) => std::env::temp_dir().join(format!("hookyard-{uid}")),
        Err(_) => std::env::temp_dir().join("hookyard"),
    }
}

/// The control thread: the admin socket and the metrics endpoint.
fn control(
    shared: Arc<Shared>,
    admin: Option<(std::os::unix::net::UnixListener, PathBuf)>,
    metrics: Option<std::net::TcpListener>,
    stopped: watch::Receiver<bool>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "cannot start the control runtime");
            return;
        }
    };
    runtime.block_on(async move {
        let admin_task = admin.map(|(listener, path)| {
            tokio::spawn(admin::serve(listener, path, shared.clone(), stopped.clone()))
        });
        let metrics_task =
            metrics.map(|l| tokio::spawn(metrics::serve(l, shared.clone(), stopped.clone())));
        for task in admin_task.into_iter().chain(metrics_task) {
            if let Err(e) = task.await {
                warn!(error = %e, "control task failed");
            }
        }
    });
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
    admin_path: Option<PathBuf>,
    metrics_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("addrs", &self.addrs).finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The bound listen addresses (with the ports chosen for port 0).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.shared.addrs
    }

    /// The control socket's path, if there is one.
    pub fn admin_path(&self) -> Option<&Path> {
        self.admin_path.as_deref()
    }

    /// The bound metrics address, if metrics are served.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The serving generation.
    pub fn generation(&self) -> Arc<Generation> {
        self.shared.current.load_full()
    }

    /// Reloads the configuration directory (what SIGHUP and `ctl reload` do).
    pub fn reload(&self) -> ReloadReport {
        self.shared.reload()
    }

    /// A snapshot of the server's state.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Every loaded plugin version as `ctl plugins` shows it.
    pub fn plugins(&self) -> Vec<crate::report::PluginVersion> {
        self.shared.plugins()
    }

    /// The metrics page as `--metrics` serves it (Prometheus text).
    pub fn metrics_text(&self) -> String {
        crate::metrics::render(&self.shared)
    }

    /// The callbacks on each hook of the serving generation, in dispatch order.
    pub fn hooks(&self) -> Vec<crate::report::HookInfo> {
        self.shared.hooks()
    }

    /// The serving remap rules, each with its plugin instances.
    pub fn rules(&self) -> Vec<RuleInfo> {
        self.shared.rules()
    }

    /// Every loaded plugin version (live, unloading or pinned), from the plugin loader.
    pub fn plugin_versions(&self) -> Vec<hookyard_dso::VersionInfo> {
        self.shared.remap.plugins().loader().map(hookyard_dso::Loader::snapshot).unwrap_or_default()
    }

    /// Blocks until plugin instances of generations no transaction holds any more are torn
    /// down and the versions nothing uses are unloaded.
    pub fn settle_plugins(&self) {
        let plugins = self.shared.remap.plugins();
        plugins.flush();
        if let Some(loader) = plugins.loader() {
            loader.flush_unloads();
        }
    }

    /// Stops accepting connections; in-flight transactions finish, bounded by
    /// `timeouts.shutdown`. Returns at once; [`ServerHandle::wait`] waits.
    pub fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    /// Waits for every thread of the server to end (after [`ServerHandle::shutdown`]).
    pub fn wait(mut self) {
        for thread in std::mem::take(&mut self.threads) {
            if thread.join().is_err() {
                error!("a server thread panicked");
            }
        }
        // Every transaction has ended: tell the plugins (SHUTDOWN), on this thread.
        self.shared.current.load().hooks.lifecycle(hookyard_hooks::HookId::Shutdown);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl Shared {
    pub(crate) fn reload(&self) -> ReloadReport {
        let _serial = self.reload_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = Instant::now();
        let old = self.current.load_full();
        let Some(dir) = &self.config_dir else {
            return ReloadReport {
                ok: true,
                generation: old.id,
                previous: old.id,
                source: Source::Embedded.to_string(),
                files: Vec::new(),
                plugins: Vec::new(),
                plugin_millis: 0.0,
                problems: Vec::new(),
                notes: vec![
                    "started without --config: the embedded default has nothing to reload"
                        .to_owned(),
                ],
                millis: millis(start),
            };
        };
        let loaded = Config::load_dir(dir);
        let mut report = ReloadReport {
            ok: false,
            generation: old.id,
            previous: old.id,
            source: dir.display().to_string(),
            files: loaded.files,
            plugins: Vec::new(),
            plugin_millis: 0.0,
            problems: Vec::new(),
            notes: Vec::new(),
            millis: 0.0,
        };
        let loaded = loaded.result.and_then(|mut config| {
            // Plugins load last: a refused plugin leaves everything as it was.
            let (plugins, hooks) =
                load_plugins(&self.remap, &self.link, &mut config).map_err(problems)?;
            report.plugin_millis = plugins.took.as_secs_f64() * 1000.0;
            report.plugins = plugins
                .plugins
                .into_iter()
                .map(|p| crate::report::PluginLoad {
                    path: p.config_path,
                    name: p.name,
                    version: p.version,
                    status: if p.loaded { "loaded" } else { "reused" }.to_owned(),
                    kind: if p.global { "global" } else { "remap" }.to_owned(),
                })
                .collect();
            Ok((config, hooks))
        });
        match loaded {
            Ok((config, hooks)) => {
                report.notes = restart_notes(&old.config, &config);
                let id = old.id + 1;
                self.current.store(Arc::new(Generation {
                    id,
                    config,
                    rule_urls: rule_urls(&self.remap.current()),
                    remap: self.remap.current(),
                    hooks,
                    loaded_at: SystemTime::now(),
                }));
                self.reloads_ok.fetch_add(1, Ordering::Relaxed);
                report.ok = true;
                report.generation = id;
                info!(generation = id, previous = old.id, "configuration reloaded");
            }
            Err(problems) => {
                self.reloads_failed.fetch_add(1, Ordering::Relaxed);
                report.problems = problems.0.iter().map(ToString::to_string).collect();
                warn!(
                    generation = old.id,
                    problems = report.problems.len(),
                    "reload refused, the serving configuration is unchanged"
                );
                for problem in &report.problems {
                    warn!(%problem, "reload problem");
                }
            }
        }
        report.millis = millis(start);
        report
    }

    pub(crate) fn status(&self) -> Status {
        let generation = self.current.load();
        let totals = self.stats.totals();
        Status {
            generation: generation.id,
            source: generation.config.source.to_string(),
            uptime_secs: self.started.elapsed().as_secs_f64(),
            workers: self.stats.workers.len(),
            listen: self.addrs.iter().map(ToString::to_string).collect(),
            connections: totals.connections,
            in_flight: totals.in_flight,
            requests: totals.responses.iter().sum(),
            reloads_ok: self.reloads_ok.load(Ordering::Relaxed),
            reloads_failed: self.reloads_failed.load(Ordering::Relaxed),
            rules: generation.remap.rules().rules().len(),
        }
    }

    pub(crate) fn plugins(&self) -> Vec<crate::report::PluginVersion> {
        let plugins = self.remap.plugins();
        let remap = plugins.loaded();
        let globals = plugins.globals();
        let Some(loader) = plugins.loader() else { return Vec::new() };
        loader
            .snapshot()
            .into_iter()
            .map(|v| {
                let plugin = remap.iter().find(|p| p.version() == v.id);
                let global = globals.iter().find(|p| p.version() == v.id);
                let identity = plugin.map(|p| p.identity()).or(global.map(|g| g.identity()));
                // A version no generation uses may live on through continuations.
                let kept = identity.is_none().then(|| self.link.state_of(v.id)).flatten();
                let state = match v.state {
                    hookyard_dso::VersionState::Live => "live",
                    hookyard_dso::VersionState::Unloading => "unloading",
                    _ => "pinned",
                };
                crate::report::PluginVersion {
                    id: v.id.get(),
                    name: identity
                        .map(|i| i.name.clone())
                        .or_else(|| kept.as_ref().map(|k| k.name.clone()))
                        .unwrap_or_default(),
                    version: identity
                        .map(|i| i.version.clone())
                        .or_else(|| kept.as_ref().map(|k| k.version.clone()))
                        .unwrap_or_default(),
                    path: v.path.display().to_string(),
                    runtime_path: v.runtime_path.display().to_string(),
                    references: v.references,
                    instances: plugin.map_or(0, |p| p.instances()),
                    continuations: plugin
                        .map(|p| p.context())
                        .or(global.map(|g| g.context()))
                        .or(kept.as_ref().map(|k| &k.context))
                        .map_or(0, |c| c.snapshot().live_continuations),
                    kind: match (plugin, global) {
                        (Some(_), Some(_)) => "remap+global",
                        (Some(_), None) => "remap",
                        (None, Some(_)) => "global",
                        (None, None) => "",
                    }
                    .to_owned(),
                    state: state.to_owned(),
                    age_secs: v.loaded_at.elapsed().map_or(0.0, |d| d.as_secs_f64()),
                }
            })
            .collect()
    }

    /// What the hooks of the next transaction to end ran (`ctl hooks --txn-sample`), or `None`
    /// when none ends within `wait`.
    pub(crate) async fn sample_transaction(
        &self,
        wait: std::time::Duration,
    ) -> Option<Vec<crate::report::HookInfo>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.sample_waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(tx);
        self.sample_armed.store(true, Ordering::Relaxed);
        tokio::time::timeout(wait, rx).await.ok()?.ok()
    }

    /// Answers the waiting samplers with a transaction's listing.
    pub(crate) fn answer_sample(&self, listing: impl FnOnce() -> Vec<crate::report::HookInfo>) {
        let waiters = std::mem::take(
            &mut *self.sample_waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.sample_armed.store(false, Ordering::Relaxed);
        if waiters.is_empty() {
            return;
        }
        let listing = listing();
        for waiter in waiters {
            let _ = waiter.send(listing.clone());
        }
    }

    pub(crate) fn hooks(&self) -> Vec<crate::report::HookInfo> {
        let generation = self.current.load();
        crate::report::hook_listing(
            &generation.hooks.table.load(),
            &generation.hooks.priorities,
            &hookyard_hooks::Local::default(),
        )
    }

    pub(crate) fn rules(&self) -> Vec<RuleInfo> {
        let generation = self.current.load();
        generation
            .remap
            .rules()
            .rules()
            .iter()
            .map(|rule| RuleInfo {
                at: format!("{}:{}", rule.file.display(), rule.line),
                rule: rule.to_string(),
                plugins: generation
                    .remap
                    .chain(rule)
                    .instances()
                    .iter()
                    .map(|i| {
                        let identity = i.plugin().identity();
                        format!(
                            "{} {} (#{})",
                            identity.name,
                            identity.version,
                            i.plugin().version()
                        )
                    })
                    .collect(),
            })
            .collect()
    }
}

fn millis(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Settings a running server cannot change.
fn restart_notes(old: &Config, new: &Config) -> Vec<String> {
    let (o, n) = (&old.settings, &new.settings);
    let mut notes = Vec::new();
    let mut note = |changed: bool, what: &str| {
        if changed {
            notes.push(format!("`{what}` changed: takes effect at the next start"));
        }
    };
    note(o.listen != n.listen, "listen");
    note(o.admin != n.admin, "admin");
    note(o.metrics != n.metrics, "metrics");
    note(o.workers != n.workers, "workers");
    note(o.runtime_dir != n.runtime_dir, "runtime_dir");
    note(o.timeouts.origin_connect != n.timeouts.origin_connect, "timeouts.origin_connect");
    note(o.limits.max_connections != n.limits.max_connections, "limits.max_connections");
    note(
        o.limits.max_control_connections != n.limits.max_control_connections,
        "limits.max_control_connections",
    );
    note(o.watch != n.watch, "watch");
    notes
}

/// The URLs each rule with a plugin chain shows its plugins.
fn rule_urls(generation: &hookyard_remap::Generation) -> Vec<Option<Arc<RuleUrls>>> {
    generation
        .rules()
        .rules()
        .iter()
        .map(|rule| (!generation.chain(rule).is_empty()).then(|| Arc::new(RuleUrls::new(rule))))
        .collect()
}

/// Loads the configuration's plugins as a new remap generation (global plugins first, with the
/// priorities of `plugin.yaml` in force during their init), and builds its global hook table;
/// the table is published to plugin calls and its PLUGINS_LOADED hook run.
pub(crate) fn load_plugins(
    remap: &hookyard_remap::Generations,
    link: &Link,
    config: &mut Config,
) -> Result<(hookyard_remap::LoadReport, Arc<GlobalHooks>), hookyard_remap::LoadErrors> {
    let priorities = Arc::new(hookyard_hooks::Priorities::new(&config.plugins.priorities));
    let file = match &config.source {
        Source::Dir(dir) => dir.join(crate::config::PLUGIN_FILE),
        Source::Embedded => PathBuf::from(crate::config::PLUGIN_FILE),
    };
    let globals: Vec<hookyard_remap::GlobalSpec> = config
        .plugins
        .plugins
        .iter()
        .filter(|p| p.enabled)
        .map(|p| hookyard_remap::GlobalSpec {
            path: p.resolved.as_ref().map_or_else(|| p.path.clone(), |r| r.display().to_string()),
            params: p.params.clone(),
            file: file.clone(),
            line: p.line,
        })
        .collect();
    let rules = std::mem::take(&mut config.rules);
    link.loading(Some(priorities.clone()));
    let loaded = remap.load_config(rules, &globals);
    link.loading(None);
    let report = loaded?;
    let generation = remap.current();
    let members = generation
        .globals()
        .map(|g| g.table())
        .chain(generation.remap_plugins().into_iter().map(|p| p.table()))
        .filter_map(|table| hookyard_host::plugin_state(table).cloned())
        .collect();
    let hooks = Arc::new(GlobalHooks::build(
        priorities,
        members,
        config.settings.timeouts.hook_pending,
        config.settings.limits.slow_callback,
    ));
    link.serve(hooks.clone());
    hooks.lifecycle(hookyard_hooks::HookId::PluginsLoaded);
    hooks.edit(|table| table.refresh_priorities(&hooks.priorities));
    Ok((report, hooks))
}

/// The remap generations of a server: plugins are loaded from the configured plugin directories
/// (then the configuration directory), their copies kept under `<runtime_dir>/plugins`, which is
/// only created when the first plugin loads.
pub(crate) fn remap_generations(
    settings: &crate::config::Settings,
    config_dir: Option<&Path>,
) -> (hookyard_remap::Generations, Arc<Link>) {
    let mut loader_config = hookyard_dso::LoaderConfig::new(
        runtime_dir(settings.runtime_dir.as_deref()).join("plugins"),
    );
    for dir in settings.plugin_dirs.iter().map(PathBuf::as_path).chain(config_dir) {
        loader_config = loader_config.search_dir(dir);
    }
    if !settings.dynamic_reload {
        loader_config = loader_config.mode(hookyard_dso::ReloadMode::Static);
    }
    let (tables, link) = hookyard_host::tables();
    let plugins = hookyard_remap::Plugins::with_loader_factory(
        move || hookyard_dso::Loader::new(loader_config.clone()),
        tables,
    );
    (hookyard_remap::Generations::new(plugins), link)
}

/// Remap load errors as configuration problems.
pub(crate) fn problems(errors: hookyard_remap::LoadErrors) -> crate::config::Problems {
    crate::config::Problems(
        errors
            .0
            .into_iter()
            .map(|e| crate::config::Problem { file: e.file, line: e.line, reason: e.reason })
            .collect(),
    )
}
