//! Reloads: a configuration directory read and its plugins loaded as a new generation, which
//! then serves; or a report of every problem, with the serving generation unchanged. Also what
//! the loader knows of plugin versions across generations.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hookyard_remap::Retire;

use hookyard_host::Link;
use tracing::{info, warn};

use crate::config::{Config, Problems, Settings, Source};
use crate::generation::{Generation, Serving, load_plugins, problems};
use crate::report::{PluginLoad, ReloadReport};

/// Reloads a server's configuration directory into its [`Serving`] generation.
pub(crate) struct Reloader {
    serving: Arc<Serving>,
    /// Remap rules with their plugins, across generations.
    remap: hookyard_remap::Generations,
    /// What plugin calls reach of the server.
    link: Arc<Link>,
    config_dir: Option<PathBuf>,
    /// Whether the server has TLS listeners: a configuration without certificates is refused.
    tls_listeners: bool,
    /// The hosts of every strategy, with their status, across generations.
    hosts: Arc<crate::pool::HostTable>,
    /// The resolver of the serving `dns` settings.
    resolvers: crate::dns::Resolvers,
    /// One reload at a time.
    lock: Mutex<()>,
    ok: AtomicU64,
    failed: AtomicU64,
}

impl Reloader {
    pub(crate) fn new(
        serving: Arc<Serving>,
        remap: hookyard_remap::Generations,
        link: Arc<Link>,
        config_dir: Option<PathBuf>,
        tls_listeners: bool,
        hosts: Arc<crate::pool::HostTable>,
        resolvers: crate::dns::Resolvers,
    ) -> Reloader {
        Reloader {
            serving,
            remap,
            link,
            config_dir,
            tls_listeners,
            hosts,
            resolvers,
            lock: Mutex::new(()),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// The generation it reloads into.
    pub(crate) fn serving(&self) -> &Arc<Serving> {
        &self.serving
    }

    /// The hosts of every strategy, across generations.
    pub(crate) fn hosts(&self) -> &Arc<crate::pool::HostTable> {
        &self.hosts
    }

    /// The remap generations (and the plugin loader behind them).
    pub(crate) fn remap(&self) -> &hookyard_remap::Generations {
        &self.remap
    }

    /// Reloads so far: (succeeded, refused).
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.ok.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }

    /// Reads the configuration directory again and serves it, or reports why not.
    pub(crate) fn reload(&self) -> ReloadReport {
        let _serial = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let start = Instant::now();
        let old = self.serving.load_full();
        let Some(dir) = &self.config_dir else { return embedded(&old, start) };
        crate::notify::notify("RELOADING=1\nSTATUS=reloading");
        let mut report = self.load(dir, &old);
        report.millis = millis(start);
        let status = if report.ok { "reloaded" } else { "reload refused" };
        crate::notify::notify(&format!(
            "READY=1\nSTATUS={status}: generation {}",
            report.generation
        ));
        report
    }

    /// Loads `dir` as the generation after `old`: served when it loads, reported either way.
    fn load(&self, dir: &Path, old: &Generation) -> ReloadReport {
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
        let checked = loaded.result.and_then(|config| self.certificates(config, dir, &mut report));
        match checked.and_then(|config| self.load_plugins(config, &mut report)) {
            Ok((config, hooks)) => {
                report.notes.extend(restart_notes(&old.config, &config));
                report.generation = old.id + 1;
                report.ok = true;
                let drain = config.settings.retirement.drain;
                let remap = self.remap.current();
                let dns = self.resolvers.for_settings(&config.settings.dns);
                let next =
                    Generation::new(old.id + 1, config, remap.clone(), hooks, &self.hosts, dns);
                self.serving.store(next);
                retire_dropped(&old.remap, &remap, drain);
                self.ok.fetch_add(1, Ordering::Relaxed);
                info!(generation = old.id + 1, previous = old.id, "configuration reloaded");
            }
            Err(problems) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
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
        report
    }

    /// Refuses a configuration without certificates when the server has TLS listeners; says
    /// what `hookyard check` would find wrong with its certificates in the report's notes.
    fn certificates(
        &self,
        config: Config,
        dir: &Path,
        report: &mut ReloadReport,
    ) -> Result<Config, Problems> {
        if self.tls_listeners && config.tls.count() == 0 {
            return Err(Problems(vec![crate::config::Problem {
                file: dir.join(crate::config::MULTICERT_FILE),
                line: 0,
                reason: "the server has TLS listeners but no certificate is configured".to_owned(),
            }]));
        }
        for finding in config.tls.findings() {
            warn!(%finding, "certificate served anyway");
            report.notes.push(finding.to_string());
        }
        Ok(config)
    }

    /// Loads `config`'s plugins, last: a refused plugin leaves everything as it was; a retired
    /// version that static mode had to keep is said in the report's notes.
    fn load_plugins(
        &self,
        mut config: Config,
        report: &mut ReloadReport,
    ) -> Result<(Config, crate::generation::PluginSet), Problems> {
        let (plugins, hooks) =
            load_plugins(&self.remap, &self.link, &mut config).map_err(problems)?;
        report.plugin_millis = plugins.took.as_secs_f64() * 1000.0;
        report.plugins = plugins
            .plugins
            .into_iter()
            .map(|p| PluginLoad {
                path: p.config_path,
                name: p.name,
                version: p.version,
                status: match (p.loaded, p.retired) {
                    (true, _) => "loaded",
                    (false, false) => "reused",
                    (false, true) => "retired",
                }
                .to_owned(),
                kind: if p.global { "global" } else { "remap" }.to_owned(),
            })
            .collect();
        for kept in report.plugins.iter().filter(|p| p.status == "retired") {
            report.notes.push(format!(
                "plugin {} {} is retired and `dynamic_reload: false` cannot load its file again: \
                 the retired version is kept and its events stay dropped (restart to load it anew)",
                kept.name, kept.version
            ));
        }
        Ok((config, hooks))
    }

    /// Every loaded plugin version as `ctl plugins` shows it.
    pub(crate) fn plugins(&self) -> Vec<crate::report::PluginVersion> {
        let serving = self.serving().load();
        crate::versions::list(&self.remap, &self.link, serving.hooks.canaries())
    }

    /// Retires every loaded version of plugin `name` (`ctl plugin retire`): with the serving
    /// configuration's `retirement.drain`, or at once when `force`.
    ///
    /// # Errors
    ///
    /// No loaded plugin has that name.
    pub(crate) fn retire(
        &self,
        name: &str,
        force: bool,
    ) -> Result<Vec<crate::versions::RetiredVersion>, crate::versions::UnknownPlugin> {
        // Serialised with reloads: a reload in progress has not yet shown its versions.
        let _serial = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let how = if force {
            Retire::Force
        } else {
            Retire::Drain(self.serving.load().config.settings.retirement.drain)
        };
        crate::versions::retire(&self.remap, &self.link, name, how)
    }
}

/// Retires every plugin version (global or remap) that `old` used and `new` does not: its
/// transactions and scheduled continuations go on for `drain`, then its events are dropped.
/// A version `new` still uses is untouched.
fn retire_dropped(
    old: &hookyard_remap::Generation,
    new: &hookyard_remap::Generation,
    drain: Duration,
) {
    let retire = |context: &hookyard_context::Context,
                  identity: &hookyard_abi::PluginIdentity,
                  how: &dyn Fn()| {
        if context.state() == hookyard_context::ContextState::Active {
            how();
            info!(plugin = %identity.name, version = %identity.version,
                id = context.library().map(|l| l.id().get()), drain_ms = drain.as_millis() as u64,
                "plugin version retired: the new generation does not use it");
        }
    };
    for global in old.globals().filter(|g| !new.globals().any(|n| Arc::ptr_eq(g, n))) {
        retire(global.context(), global.identity(), &|| global.retire(Retire::Drain(drain)));
    }
    let kept = new.remap_plugins();
    let dropped =
        old.remap_plugins().into_iter().filter(|p| !kept.iter().any(|n| Arc::ptr_eq(p, n)));
    for plugin in dropped {
        retire(plugin.context(), plugin.identity(), &|| plugin.retire(Retire::Drain(drain)));
    }
}

/// The report of a reload without a configuration directory: nothing to do.
fn embedded(old: &Generation, start: Instant) -> ReloadReport {
    ReloadReport {
        ok: true,
        generation: old.id,
        previous: old.id,
        source: Source::Embedded.to_string(),
        files: Vec::new(),
        plugins: Vec::new(),
        plugin_millis: 0.0,
        problems: Vec::new(),
        notes: vec![
            "started without --config: the embedded default has nothing to reload".to_owned(),
        ],
        millis: millis(start),
    }
}

fn millis(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Settings a running server cannot change.
fn restart_notes(old: &Config, new: &Config) -> Vec<String> {
    let mut kept = new.settings.clone();
    let changed = keep_start_only(&mut kept, &old.settings);
    changed.iter().map(|what| format!("`{what}` changed: takes effect at the next start")).collect()
}

/// Puts back into `settings` the values of `start` for the settings read at start only (a
/// reload does not apply them), and names those that differed.
pub(crate) fn keep_start_only(settings: &mut Settings, start: &Settings) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! keep {
        ($($name:literal => $($field:ident).+;)*) => {$(
            if settings.$($field).+ != start.$($field).+ {
                changed.push($name);
                settings.$($field).+.clone_from(&start.$($field).+);
            }
        )*};
    }
    keep! {
        "listen" => listen;
        "tls_listen" => tls_listen;
        "admin" => admin;
        "metrics" => metrics;
        "workers" => workers;
        "worker_cpu_affinity" => worker_cpu_affinity;
        "runtime_dir" => runtime_dir;
        "timeouts.origin_connect" => timeouts.origin_connect;
        "limits.max_connections" => limits.max_connections;
        "limits.max_control_connections" => limits.max_control_connections;
        "origin_pool" => origin_pool;
        "watch" => watch;
        "log" => log;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CpuAffinity;

    #[test]
    fn settings_read_at_start_only_are_named_when_a_reload_changes_them() {
        let old = Config::embedded();
        assert!(restart_notes(&old, &Config::embedded()).is_empty());
        let mut new = Config::embedded();
        new.settings.workers = Some(3);
        new.settings.worker_cpu_affinity = CpuAffinity::Auto;
        assert_eq!(
            restart_notes(&old, &new),
            [
                "`workers` changed: takes effect at the next start",
                "`worker_cpu_affinity` changed: takes effect at the next start",
            ]
        );
    }

    #[test]
    fn the_settings_in_force_keep_the_starts_for_those_read_at_start() {
        let start = Config::embedded().settings;
        let mut reloaded = start.clone();
        reloaded.worker_cpu_affinity = CpuAffinity::Cpus(vec![1, 0]);
        reloaded.limits.max_connections = Some(7);
        reloaded.limits.max_headers = 9;
        let changed = keep_start_only(&mut reloaded, &start);
        assert_eq!(changed, ["worker_cpu_affinity", "limits.max_connections"]);
        assert_eq!(reloaded.worker_cpu_affinity, CpuAffinity::Off);
        assert_eq!(reloaded.limits.max_connections, start.limits.max_connections);
        assert_eq!(reloaded.limits.max_headers, 9, "a reload applies the others");
    }
}
