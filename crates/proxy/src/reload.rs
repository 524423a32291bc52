//! Reloads: a configuration directory read and its plugins loaded as a new generation, which
//! then serves; or a report of every problem, with the serving generation unchanged. Also what
//! the loader knows of plugin versions across generations.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use hookyard_host::{GlobalHooks, Link};
use tracing::{info, warn};

use crate::config::{Config, Problems, Source};
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
    ) -> Reloader {
        Reloader {
            serving,
            remap,
            link,
            config_dir,
            lock: Mutex::new(()),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// The generation it reloads into.
    pub(crate) fn serving(&self) -> &Arc<Serving> {
        &self.serving
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
        let mut report = self.load(dir, &old);
        report.millis = millis(start);
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
        match loaded.result.and_then(|config| self.load_plugins(config, &mut report)) {
            Ok((config, hooks)) => {
                report.notes = restart_notes(&old.config, &config);
                report.generation = old.id + 1;
                report.ok = true;
                self.serving.store(Generation::new(
                    old.id + 1,
                    config,
                    self.remap.current(),
                    hooks,
                ));
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

    /// Loads `config`'s plugins, last: a refused plugin leaves everything as it was.
    fn load_plugins(
        &self,
        mut config: Config,
        report: &mut ReloadReport,
    ) -> Result<(Config, Arc<GlobalHooks>), Problems> {
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
                status: if p.loaded { "loaded" } else { "reused" }.to_owned(),
                kind: if p.global { "global" } else { "remap" }.to_owned(),
            })
            .collect();
        Ok((config, hooks))
    }

    /// Every loaded plugin version as `ctl plugins` shows it.
    pub(crate) fn plugins(&self) -> Vec<crate::report::PluginVersion> {
        let plugins = self.remap.plugins();
        let remap = plugins.loaded();
        let globals = plugins.globals();
        let Some(loader) = plugins.loader() else { return Vec::new() };
        let serving = self.serving().load();
        let canaries = serving.hooks.canaries();
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
                    canary: canaries.iter().find_map(|c| crate::report::CanaryRole::of(c, v.id)),
                }
            })
            .collect()
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
