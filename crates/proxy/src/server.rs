//! The server: one current-thread runtime per worker, each with its own `SO_REUSEPORT`
//! listener per address and its own pooled origin client (`ARCHITECTURE.md`, `crates/proxy`,
//! says why), one control thread for the admin socket and metrics, and the file watcher.
//!
//! State is split by concern, each part shared only with those who use it: the serving
//! generation ([`Serving`]: workers, the reloader), the [`Reloader`] (control channel, watcher),
//! counters ([`Stats`]: workers, control), connection caps, and the transaction sampler.

mod affinity;
mod handover;
pub(crate) mod listen;
mod worker;

pub(crate) use handover::Handover;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use hookyard_host::Link;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::access_log::AccessLog;
use crate::config::{Config, Problems};
use crate::conn::Worker;
use crate::control::Control;
use crate::drain::Drain;
use crate::generation::{
    Generation, Serving, default_plugin_root, load_plugins, problems, remap_generations,
};
use crate::limit::ConnLimits;
use crate::reload::Reloader;
use crate::report::{ReloadReport, RuleInfo, Status};
use crate::sample::Sampler;
use crate::stats::Stats;
use crate::{admin, metrics};

/// How long a stopping server waits for the access log's last lines to be written.
const ACCESS_LOG_STOP: std::time::Duration = std::time::Duration::from_secs(5);

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
    /// TLS listen addresses replacing `tls_listen` of `hookyard.yaml` (`--listen-tls`), if any.
    pub listen_tls: Vec<SocketAddr>,
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
    /// The running hookyard's sockets could not be taken over (`--takeover`).
    #[error("cannot take over from the hookyard on {}", path.display())]
    TakeOver {
        /// Its control socket.
        path: PathBuf,
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

/// Where a server's listening sockets come from.
#[derive(Debug, Default)]
pub enum Listeners {
    /// Bound by the server: `listen` and `tls_listen` (or the command line's), one socket per
    /// worker and address.
    #[default]
    Bind,
    /// Taken over from the hookyard answering on the control socket the server would bind
    /// (`hookyard run --takeover`), which drains once this server serves; its listen addresses,
    /// metrics socket and control socket are kept, whatever the configuration says.
    TakeOver,
    /// Passed by systemd's socket activation (`hookyard_proxy::systemd::activated`); they
    /// replace `listen` and `tls_listen`.
    Activated(Vec<crate::systemd::Activated>),
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
    pub fn start(options: ServerConfig) -> Result<ServerHandle, StartError> {
        Server::start_with(options, Listeners::Bind)
    }

    /// As [`Server::start`], with the listening sockets from `listeners`.
    ///
    /// # Errors
    ///
    /// As [`Server::start`]; and for a takeover, a running hookyard that cannot be reached or
    /// refuses (it drains already).
    pub fn start_with(
        mut options: ServerConfig,
        listeners: Listeners,
    ) -> Result<ServerHandle, StartError> {
        options.config_dir = options.config_dir.as_deref().map(crate::config::absolute);
        let mut config = load_config(options.config_dir.as_deref())?;
        let admin_path = admin_path(&options, &config.settings);
        let predecessor = match &listeners {
            Listeners::TakeOver => Some(take_over(admin_path.as_deref())?),
            _ => None,
        };
        let mut plugin_root = default_plugin_root(&config.settings);
        if predecessor.as_ref().is_some_and(|p| p.plugin_root == plugin_root) {
            // The predecessor holds the loader lock of its directory until it exits.
            plugin_root.set_extension("next");
        }
        let (remap, link, hooks) =
            load_plugins_into(&mut config, options.config_dir.as_deref(), &plugin_root)?;
        let settings = &config.settings;
        let workers = options
            .workers
            .or(settings.workers)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1);
        let cpus = affinity::plan(&settings.worker_cpu_affinity, workers).map_err(|reason| {
            let line = settings.worker_cpu_affinity_line;
            StartError::Config(problem_in(&config, crate::config::SETTINGS_FILE, line, reason))
        })?;
        let (bound, mut inherited) = match (listeners, predecessor) {
            (_, Some(mut predecessor)) => {
                let bound = std::mem::take(&mut predecessor.listeners);
                (bound, Some(predecessor))
            }
            (Listeners::Activated(sockets), None) => {
                (crate::systemd::bound(sockets, &settings.tls_listen), None)
            }
            (_, None) => {
                let listen =
                    if options.listen.is_empty() { &settings.listen } else { &options.listen };
                let listen_tls = if options.listen_tls.is_empty() {
                    &settings.tls_listen
                } else {
                    &options.listen_tls
                };
                (listen::bind_all(listen, listen_tls, workers)?, None)
            }
        };
        let addrs: Vec<SocketAddr> = bound.iter().filter(|b| !b.tls).map(|b| b.addr).collect();
        let tls_addrs: Vec<SocketAddr> = bound.iter().filter(|b| b.tls).map(|b| b.addr).collect();
        if !tls_addrs.is_empty() && config.tls.count() == 0 {
            let reason = "--listen-tls is given but no certificate is configured";
            let file = crate::config::MULTICERT_FILE;
            return Err(StartError::Config(problem_in(&config, file, 0, reason.to_owned())));
        }
        let tls = crate::tls::TlsServer::new(&tls_addrs).map_err(|e| StartError::Spawn {
            what: "TLS ticketer",
            source: std::io::Error::other(e),
        })?;
        let tls = Arc::new(tls);
        let endpoints = ControlEndpoints::bind(&options, settings, admin_path, inherited.as_mut())?;
        let handover = Handover::keep(
            &bound,
            endpoints.metrics.as_ref(),
            endpoints.admin_path.as_deref().zip(endpoints.admin.as_ref()),
            plugin_root,
        )
        .map_err(|source| StartError::Spawn { what: "socket handover", source })?;
        let limits = Arc::new(ConnLimits::new(&settings.limits));
        let source = config.source.to_string();
        let hosts = Arc::new(crate::pool::HostTable::default());
        let resolvers = crate::dns::Resolvers::default();
        let dns = resolvers.for_settings(&config.settings.dns);
        let start_settings = Box::new(config.settings.clone());
        let first = Generation::new(1, config, remap.current(), hooks, &hosts, dns);
        let serving = Arc::new(Serving::new(first));
        link.set_host_status(Arc::new(crate::pool::PluginHosts::new(hosts.clone(), &serving)));
        let access_log = AccessLog::start(&serving)
            .map_err(|source| StartError::Spawn { what: "access log writer", source })?;
        let control = Arc::new(Control {
            reloader: Arc::new(Reloader::new(
                serving,
                remap,
                link,
                options.config_dir.clone(),
                !tls_addrs.is_empty(),
                hosts,
                resolvers,
            )),
            sampler: Arc::new(Sampler::default()),
            stats: Arc::new(Stats::new(workers, addrs.len() + tls_addrs.len())),
            limits,
            started: Instant::now(),
            addrs: addrs.clone(),
            tls,
            admin_path: endpoints.admin_path.clone(),
            metrics_addr: endpoints.metrics_addr(),
            access_log,
            drain: Arc::new(Drain::new()),
            handover,
            start_settings,
        });
        let sockets = listen::per_worker(bound, workers)
            .map_err(|source| StartError::Spawn { what: "worker listeners", source })?;
        let (stop, stopped) = watch::channel(false);
        let mut threads = spawn_workers(sockets, &cpus, &control, &stopped)?;
        let (admin_path, metrics_addr) = (endpoints.admin_path.clone(), endpoints.metrics_addr());
        threads.push(endpoints.spawn(control.clone(), stopped.clone())?);
        threads.extend(crate::pool::health::start(
            control.reloader.serving().clone(),
            stopped.clone(),
        ));
        threads.extend(crate::watch::start(&control.reloader, stopped));
        info!(listen = ?addrs, listen_tls = ?tls_addrs, workers, config = %source,
            admin = ?admin_path, metrics = ?metrics_addr, "hookyard started");
        if cpus.iter().any(Option::is_some) {
            let cpus: Vec<usize> = cpus.iter().flatten().copied().collect();
            info!(?cpus, "workers pinned, the first worker to the first CPU listed");
        }
        if let Some(predecessor) = inherited {
            let pid = predecessor.pid;
            // Serving already: a predecessor that does not answer any more changes nothing here.
            match predecessor.commit() {
                Ok(()) => info!(pid, "took over; the previous hookyard drains"),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // Two successors of one process: the first serves, this one leaves.
                    error!(pid, error = %e, "another hookyard took over first: draining");
                    control.drain();
                }
                Err(e) => {
                    warn!(pid, error = %e, "took over, but the previous hookyard did not confirm its drain")
                }
            }
        }
        Ok(ServerHandle { control, stop, threads, admin_path, metrics_addr })
    }
}

/// The control socket's path, if there is one.
fn admin_path(options: &ServerConfig, settings: &crate::config::Settings) -> Option<PathBuf> {
    match &options.admin {
        AdminSocket::Off => None,
        AdminSocket::At(path) => Some(path.clone()),
        AdminSocket::FromConfig => Some(crate::config::admin_socket(settings)),
    }
}

/// The sockets of the hookyard on the control socket at `path`.
fn take_over(path: Option<&Path>) -> Result<handover::Predecessor, StartError> {
    let Some(path) = path else {
        return Err(StartError::TakeOver {
            path: PathBuf::new(),
            source: std::io::Error::other("a takeover needs the control socket, which is off"),
        });
    };
    let predecessor = handover::take_over(path, path)
        .map_err(|source| StartError::TakeOver { path: path.to_owned(), source })?;
    let sockets: usize = predecessor.listeners.iter().map(|b| b.sockets.len()).sum();
    info!(pid = predecessor.pid, sockets, "received the listening sockets of the running hookyard");
    Ok(predecessor)
}

/// The configuration of `dir`, or the embedded one.
fn load_config(dir: Option<&Path>) -> Result<Config, StartError> {
    let config = match dir {
        None => Config::embedded(),
        Some(dir) => Config::load_dir(dir).result.map_err(StartError::Config)?,
    };
    for finding in config.tls.findings() {
        warn!(%finding, "certificate served anyway");
    }
    Ok(config)
}

/// `config`'s plugins loaded, their copies under `plugin_root`.
fn load_plugins_into(
    config: &mut Config,
    dir: Option<&Path>,
    plugin_root: &Path,
) -> Result<(hookyard_remap::Generations, Arc<Link>, crate::generation::PluginSet), StartError> {
    let (remap, link) = remap_generations(&config.settings, dir, plugin_root.to_owned());
    let (_, hooks) =
        load_plugins(&remap, &link, config).map_err(|e| StartError::Config(problems(e)))?;
    Ok((remap, link, hooks))
}

/// A problem at `line` (0: none) of the configuration's file `name`.
fn problem_in(config: &Config, name: &str, line: usize, reason: String) -> Problems {
    let file = match &config.source {
        crate::config::Source::Dir(dir) => dir.join(name),
        crate::config::Source::Embedded => PathBuf::from(name),
    };
    Problems(vec![crate::config::Problem { file, line, reason }])
}

/// One thread per worker, each with its listeners (the plain ones first, then one per TLS
/// address), on its CPU of `cpus` if it has one.
fn spawn_workers(
    sockets: Vec<Vec<listen::WorkerListener>>,
    cpus: &[Option<usize>],
    control: &Arc<Control>,
    stopped: &watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, StartError> {
    let mut threads = Vec::with_capacity(sockets.len() + 2);
    for (index, listeners) in sockets.into_iter().enumerate() {
        let listeners: Vec<_> = listeners
            .into_iter()
            .map(|(listener, tls, at)| {
                let kind = match tls {
                    None => worker::Listener::Plain,
                    Some(endpoint) => {
                        worker::Listener::Tls { server: control.tls.clone(), endpoint }
                    }
                };
                (listener, (kind, at))
            })
            .collect();
        let serving = control.reloader.serving().clone();
        let (sampler, stats) = (control.sampler.clone(), control.stats.clone());
        let access_log = control.access_log.clone();
        let (limit, stopped) = (control.limits.clients.clone(), stopped.clone());
        let drain = control.drain.clone();
        let cpu = cpus.get(index).copied().flatten();
        let thread = std::thread::Builder::new()
            .name(format!("hookyard-worker-{index}"))
            .spawn(move || {
                if let Some(cpu) = cpu {
                    // A worker the kernel does not pin serves all the same, where it is put.
                    match affinity::pin(cpu) {
                        Ok(()) => debug!(worker = index, cpu, "worker pinned"),
                        Err(e) => warn!(worker = index, cpu, error = %e, "cannot pin the worker"),
                    }
                }
                let worker = Worker::new(index, serving, sampler, stats, limit, access_log, drain);
                worker::run(listeners, worker, stopped);
            })
            .map_err(|source| StartError::Spawn { what: "worker threads", source })?;
        threads.push(thread);
    }
    Ok(threads)
}

/// The control socket and the metrics address, bound.
struct ControlEndpoints {
    admin_path: Option<PathBuf>,
    admin: Option<std::os::unix::net::UnixListener>,
    metrics: Option<std::net::TcpListener>,
}

impl ControlEndpoints {
    /// Binds the control socket at `admin_path` and the metrics address, or takes them from a
    /// `predecessor` that handed them over.
    fn bind(
        options: &ServerConfig,
        settings: &crate::config::Settings,
        admin_path: Option<PathBuf>,
        mut predecessor: Option<&mut handover::Predecessor>,
    ) -> Result<ControlEndpoints, StartError> {
        let inherited = predecessor.as_mut().and_then(|p| p.admin.take());
        let admin = match (&admin_path, inherited) {
            (Some(_), Some(listener)) => Some(listener),
            (path, _) => path
                .as_deref()
                .map(|path| {
                    admin::bind(path).map_err(|source| StartError::Bind {
                        what: format!("control socket {}", path.display()),
                        source,
                    })
                })
                .transpose()?,
        };
        let wanted = options.metrics.or(settings.metrics);
        let inherited = predecessor.and_then(|p| p.metrics.take()).filter(|socket| {
            let (Some(wanted), Ok(has)) = (wanted, socket.local_addr()) else { return false };
            wanted == has || (wanted.port() == 0 && wanted.ip() == has.ip())
        });
        if let Some(metrics) = inherited {
            return Ok(ControlEndpoints { admin_path, admin, metrics: Some(metrics) });
        }
        let metrics = wanted
            .map(|addr| {
                std::net::TcpListener::bind(addr)
                    .and_then(|l| l.set_nonblocking(true).map(|()| l))
                    .map_err(|source| StartError::Bind {
                        what: format!("metrics address {addr}"),
                        source,
                    })
            })
            .transpose()?;
        Ok(ControlEndpoints { admin_path, admin, metrics })
    }

    fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The control thread, serving both.
    fn spawn(
        self,
        control: Arc<Control>,
        stopped: watch::Receiver<bool>,
    ) -> Result<JoinHandle<()>, StartError> {
        let admin = self.admin.map(|l| (l, self.admin_path.unwrap_or_default()));
        let metrics = self.metrics;
        std::thread::Builder::new()
            .name("hookyard-control".to_owned())
            .spawn(move || serve_control(control, admin, metrics, stopped))
            .map_err(|source| StartError::Spawn { what: "control thread", source })
    }
}

/// The control thread: the admin socket and the metrics endpoint.
fn serve_control(
    control: Arc<Control>,
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
            tokio::spawn(admin::serve(listener, path, control.clone(), stopped.clone()))
        });
        // The metrics socket is a successor's once it took over: stop serving it then too.
        let metrics_stop = {
            let (tell, told) = watch::channel(false);
            let (mut stopped, mut handed_over) = (stopped.clone(), control.handover.subscribe());
            tokio::spawn(async move {
                tokio::select! {
                    () = async { let _ = stopped.wait_for(|stopped| *stopped).await; } => {}
                    () = async { let _ = handed_over.wait_for(|handed| *handed).await; } => {}
                }
                tell.send_replace(true);
            });
            told
        };
        let metrics_task =
            metrics.map(|l| tokio::spawn(metrics::serve(l, control.clone(), metrics_stop)));
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
    control: Arc<Control>,
    stop: watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
    admin_path: Option<PathBuf>,
    metrics_addr: Option<SocketAddr>,
}

impl ServerHandle {
    /// The bound listen addresses (with the ports chosen for port 0).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.control.addrs
    }

    /// The bound TLS listen addresses (with the ports chosen for port 0).
    pub fn tls_addrs(&self) -> Vec<SocketAddr> {
        self.control.tls.addrs().collect()
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
        self.control.reloader.serving().load_full()
    }

    /// Reloads the configuration directory (what SIGHUP and `ctl reload` do).
    pub fn reload(&self) -> ReloadReport {
        self.control.reloader.reload()
    }

    /// A snapshot of the server's state.
    pub fn status(&self) -> Status {
        self.control.status()
    }

    /// Every loaded plugin version as `ctl plugins` shows it.
    pub fn plugins(&self) -> Vec<crate::report::PluginVersion> {
        self.control.reloader.plugins()
    }

    /// Retires every loaded version of plugin `name` (what `ctl plugin retire` does): its events
    /// dispatch until `retirement.drain` has passed, or, with `force`, are dropped from now on.
    ///
    /// # Errors
    ///
    /// [`UnknownPlugin`](crate::UnknownPlugin) when no loaded plugin has that name.
    pub fn retire(
        &self,
        name: &str,
        force: bool,
    ) -> Result<Vec<crate::RetiredVersion>, crate::UnknownPlugin> {
        self.control.reloader.retire(name, force)
    }

    /// The metrics page as `--metrics` serves it (Prometheus text).
    pub fn metrics_text(&self) -> String {
        crate::metrics::render(&self.control)
    }

    /// The callbacks on each hook of the serving generation, in dispatch order.
    pub fn hooks(&self) -> Vec<crate::report::HookInfo> {
        self.control.hooks()
    }

    /// The serving remap rules, each with its plugin instances.
    pub fn rules(&self) -> Vec<RuleInfo> {
        self.control.rules()
    }

    /// Every loaded plugin version (live, unloading or pinned), from the plugin loader.
    pub fn plugin_versions(&self) -> Vec<hookyard_dso::VersionInfo> {
        self.control
            .reloader
            .remap()
            .plugins()
            .loader()
            .map(hookyard_dso::Loader::snapshot)
            .unwrap_or_default()
    }

    /// Blocks until plugin instances of generations no transaction holds any more are torn
    /// down and the versions nothing uses are unloaded.
    pub fn settle_plugins(&self) {
        let plugins = self.control.reloader.remap().plugins();
        plugins.flush();
        if let Some(loader) = plugins.loader() {
            loader.flush_unloads();
        }
    }

    /// Closes the access log and opens its path again (SIGUSR1: after logrotate renamed it).
    pub fn reopen_logs(&self) {
        self.control.access_log.reopen();
    }

    /// Starts draining with the serving `drain` settings (what `ctl drain`, SIGTERM and SIGINT
    /// do), unless a drain runs already: the health route answers 503, HTTP/1 responses close
    /// their connections, HTTP/2 connections get a GOAWAY. Listeners keep accepting until
    /// [`ServerHandle::shutdown`], which [`SignalHandlers::serve`](crate::SignalHandlers::serve)
    /// calls once `drain.grace` has passed. Returns what is left of the drain's grace and
    /// deadline.
    pub fn drain(&self) -> crate::report::Draining {
        self.control.drain()
    }

    /// Whether the server drains.
    pub fn is_draining(&self) -> bool {
        self.control.drain.is_draining()
    }

    /// The server's drain state (the signal loop waits on it).
    pub(crate) fn drain_state(&self) -> &crate::drain::Drain {
        &self.control.drain
    }

    /// Stops accepting connections; in-flight transactions finish, bounded by what is left of
    /// `drain.deadline` when a drain runs, else by `timeouts.shutdown`. Returns at once;
    /// [`ServerHandle::wait`] waits.
    pub fn shutdown(&self) {
        self.control.handover.release();
        self.stop.send_replace(true);
    }

    /// Waits for every thread of the server to end (after [`ServerHandle::shutdown`]).
    pub fn wait(mut self) {
        for thread in std::mem::take(&mut self.threads) {
            if thread.join().is_err() {
                error!("a server thread panicked");
            }
        }
        // Every transaction has ended: its line is queued.
        self.control.access_log.stop(ACCESS_LOG_STOP);
        // Every transaction has ended: tell the plugins (SHUTDOWN), on this thread.
        self.control.reloader.serving().load().hooks.lifecycle(hookyard_hooks::HookId::Shutdown);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
