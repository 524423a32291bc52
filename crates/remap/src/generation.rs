//! Configuration generations: the rules and the plugin instances made for them. New
//! transactions take the newest generation; a transaction keeps the one it took until it ends,
//! and an old generation's instances are torn down only after its last transaction.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use foldhash::fast::RandomState;
use tracing::{info, warn};

use crate::Rules;
use crate::global::{GlobalPlugin, GlobalSpec, GlobalUse};
use crate::parse::{LoadError, LoadErrors};
use crate::plugins::{Chain, Job, Plugins, RemapPlugin, is_retired};
use crate::rule::Rule;

/// One configuration: rules and, per rule, its remap plugin chain.
pub struct Generation {
    number: u64,
    rules: Rules,
    chains: Vec<Chain>,
    /// Dropped after the chains: global plugins outlive the remap instances of a generation.
    globals: Vec<GlobalUse>,
    loaded_at: SystemTime,
    /// Where the rules are freed when the generation ends.
    teardown: Option<crossbeam_channel::Sender<Job>>,
}

impl Drop for Generation {
    fn drop(&mut self) {
        let Some(teardown) = &self.teardown else { return };
        let rules = Box::new(std::mem::take(&mut self.rules));
        if let Err(crossbeam_channel::SendError(Job::Free(rules))) = teardown.send(Job::Free(rules))
        {
            // The teardown thread is gone (process exit): free here.
            drop(rules);
        }
    }
}

impl Generation {
    fn empty() -> Generation {
        Generation {
            number: 0,
            rules: Rules::default(),
            chains: Vec::new(),
            globals: Vec::new(),
            loaded_at: SystemTime::now(),
            teardown: None,
        }
    }

    /// The global plugin versions of this generation, in load order.
    pub fn globals(&self) -> impl Iterator<Item = &Arc<GlobalPlugin>> {
        self.globals.iter().map(GlobalUse::plugin)
    }

    /// The remap plugin versions this generation's rules use, each once, in rule order.
    pub fn remap_plugins(&self) -> Vec<&Arc<RemapPlugin>> {
        let mut seen: Vec<&Arc<RemapPlugin>> = Vec::new();
        for instance in self.chains.iter().flat_map(Chain::instances) {
            if !seen.iter().any(|p| Arc::ptr_eq(p, instance.plugin())) {
                seen.push(instance.plugin());
            }
        }
        seen
    }

    /// The generation's number (0 for the empty one before the first load).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// When the generation was loaded.
    pub fn loaded_at(&self) -> SystemTime {
        self.loaded_at
    }

    /// The plugin chain of a rule of this generation (empty for a rule without plugins or of
    /// another generation).
    pub fn chain(&self, rule: &Rule) -> &Chain {
        static EMPTY: Chain = Chain::EMPTY;
        self.chains
            .get(rule.index)
            .filter(|_| self.rules.rules().get(rule.index).is_some_and(|r| std::ptr::eq(r, rule)))
            .unwrap_or(&EMPTY)
    }
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generation")
            .field("number", &self.number)
            .field("rules", &self.rules.rules().len())
            .finish_non_exhaustive()
    }
}

/// What a successful load did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadReport {
    /// The new generation's number.
    pub generation: u64,
    /// Its rules.
    pub rules: usize,
    /// Each plugin used: config path, name, version, whether newly loaded (else reused).
    pub plugins: Vec<PluginReport>,
    /// Accepted oddities (shadowed rules, ignored options).
    pub warnings: Vec<LoadError>,
    /// How long the load took.
    pub took: Duration,
}

/// One plugin in a [`LoadReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginReport {
    /// The path as `remap.config` wrote it.
    pub config_path: String,
    /// The name from its descriptor.
    pub name: String,
    /// The version from its descriptor.
    pub version: String,
    /// Loaded by this load (else an unchanged version was reused).
    pub loaded: bool,
    /// A global plugin (of `plugin.yaml`), else a remap plugin.
    pub global: bool,
    /// The reused version was retired: static mode (one image per file) cannot load a fresh
    /// one, so the retired version is kept and its events stay dropped.
    pub retired: bool,
}

/// The names of the plugins a load has loaded, for checks that need them before it commits.
#[derive(Clone, Copy, Debug)]
pub struct LoadedNames<'a> {
    /// Each global plugin's name, in the order of the specs given.
    pub globals: &'a [&'a str],
    /// The remap plugins' names, sorted, each once.
    pub remap: &'a [&'a str],
}

/// The generations of one proxy: the current one, swapped atomically on a successful load.
pub struct Generations {
    /// Dropped before `plugins`, so its instances are queued for teardown before it stops.
    current: ArcSwap<Generation>,
    plugins: Plugins,
    next: AtomicU64,
}

impl Generations {
    /// Starts with an empty generation (number 0): every request is unmapped until a load.
    pub fn new(plugins: Plugins) -> Generations {
        Generations {
            plugins,
            current: ArcSwap::from_pointee(Generation::empty()),
            next: AtomicU64::new(1),
        }
    }

    /// The plugins.
    pub fn plugins(&self) -> &Plugins {
        &self.plugins
    }

    /// The generation new transactions take: one atomic load.
    pub fn current(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Loads `path` (a `remap.config`) as a new generation and makes it current.
    ///
    /// As ATS: every loaded plugin is told a reload starts (pre_config_reload), the file is
    /// parsed, each `@plugin=` gets a new instance (a changed plugin file loads as a new version
    /// beside the old; an unchanged one is reused without init), and every loaded plugin is told
    /// the result (post_config_reload: FAILURE, or SUCCESS_PLUGIN_USED / _UNUSED). Unlike ATS,
    /// every problem is reported, not only the first.
    ///
    /// # Errors
    ///
    /// Every problem with `file:line: reason`. The current generation is then untouched, and
    /// everything this attempt created is released (instances deleted, new versions done and
    /// unloaded).
    pub fn load(&self, path: &Path) -> Result<LoadReport, LoadErrors> {
        self.load_with(|| Rules::load(path), &[], |_| Vec::new())
    }

    /// As [`Generations::load`], with the text given (`.include`s relative to `file`'s
    /// directory).
    ///
    /// # Errors
    ///
    /// As for [`Generations::load`].
    pub fn load_text(&self, file: &Path, text: &str) -> Result<LoadReport, LoadErrors> {
        self.load_with(|| Rules::parse(file, text), &[], |_| Vec::new())
    }

    /// As [`Generations::load`], with rules already parsed (by the caller, from the same file).
    ///
    /// # Errors
    ///
    /// As for [`Generations::load`], for the plugins.
    pub fn load_rules(&self, rules: Rules) -> Result<LoadReport, LoadErrors> {
        self.load_with(|| Ok(rules), &[], |_| Vec::new())
    }

    /// As [`Generations::load_rules`], with the global plugins of the configuration, loaded
    /// first and in order (as ATS loads `plugin.config` before `remap.config`). A global plugin
    /// version is reused while its file and params are unchanged.
    ///
    /// # Errors
    ///
    /// As for [`Generations::load`], for the global plugins too (with their `file:line`).
    pub fn load_config(
        &self,
        rules: Rules,
        globals: &[GlobalSpec],
    ) -> Result<LoadReport, LoadErrors> {
        self.load_config_checked(rules, globals, |_| Vec::new())
    }

    /// As [`Generations::load_config`], with `check` run on the loaded plugins' names before
    /// the generation is made current: problems it finds refuse the load like any other.
    ///
    /// # Errors
    ///
    /// As for [`Generations::load_config`], and what `check` found.
    pub fn load_config_checked(
        &self,
        rules: Rules,
        globals: &[GlobalSpec],
        check: impl FnOnce(&LoadedNames<'_>) -> Vec<LoadError>,
    ) -> Result<LoadReport, LoadErrors> {
        self.load_with(|| Ok(rules), globals, check)
    }

    fn load_with(
        &self,
        parse: impl FnOnce() -> Result<Rules, LoadErrors>,
        global_specs: &[GlobalSpec],
        check: impl FnOnce(&LoadedNames<'_>) -> Vec<LoadError>,
    ) -> Result<LoadReport, LoadErrors> {
        let started = Instant::now();
        let _serial = self.plugins.lock();
        self.plugins.pre_reload();
        let rules = match parse() {
            Ok(rules) => rules,
            Err(errors) => {
                self.plugins.post_reload(false, |_| false, |_| false);
                return Err(errors);
            }
        };
        let mut errors = Vec::new();
        let mut reports: Vec<PluginReport> = Vec::new();
        let mut globals: Vec<GlobalUse> = Vec::with_capacity(global_specs.len());
        // The previous spec's version, when it loaded: what a canary spec is checked against.
        let mut previous: Option<(usize, &GlobalSpec)> = None;
        for spec in global_specs {
            let stable = previous.take().filter(|_| spec.canary);
            match self.plugins.acquire_global(spec) {
                Ok((use_, loaded)) => {
                    if let Some((at, stable_spec)) = stable
                        && let Err(reason) =
                            same_plugin(globals[at].plugin(), stable_spec, use_.plugin(), spec)
                    {
                        errors.push(LoadError { file: spec.file.clone(), line: spec.line, reason });
                    }
                    previous = Some((globals.len(), spec));
                    let identity = use_.plugin().identity();
                    reports.push(PluginReport {
                        config_path: spec.path.clone(),
                        name: identity.name.clone(),
                        version: identity.version.clone(),
                        loaded,
                        global: true,
                        retired: is_retired(use_.plugin().context()),
                    });
                    globals.push(use_);
                }
                Err(e) => errors.push(LoadError {
                    file: spec.file.clone(),
                    line: spec.line,
                    reason: e.to_string(),
                }),
            }
        }
        let mut chains: Vec<Chain> = Vec::with_capacity(rules.rules().len());
        // Each plugin file is looked at once per load: every rule naming it gets the same
        // version, and 10,000 rules naming ten files cost ten file checks, not 10,000.
        let mut acquired: HashMap<&str, (Arc<RemapPlugin>, bool), RandomState> = HashMap::default();
        for rule in rules.rules() {
            let mut chain = Chain::default();
            for spec in &rule.plugins {
                let argv: Vec<String> = [rule.from.to_string(), rule.to.to_string()]
                    .into_iter()
                    .chain(spec.params.iter().cloned())
                    .collect();
                let plugin = match acquired.get(spec.path.as_str()) {
                    Some((plugin, loaded)) => Ok((Arc::clone(plugin), *loaded)),
                    None => self.plugins.acquire(&spec.path).inspect(|(plugin, loaded)| {
                        acquired.insert(&spec.path, (Arc::clone(plugin), *loaded));
                    }),
                };
                let made = plugin.and_then(|(plugin, loaded)| {
                    Ok((self.plugins.instantiate(&plugin, &argv)?, loaded))
                });
                match made {
                    Ok((instance, loaded)) => {
                        let identity = instance.plugin().identity();
                        if !reports.iter().any(|r| {
                            !r.global && r.config_path == spec.path && r.version == identity.version
                        }) {
                            reports.push(PluginReport {
                                config_path: spec.path.clone(),
                                name: identity.name.clone(),
                                version: identity.version.clone(),
                                loaded,
                                global: false,
                                retired: is_retired(instance.plugin().context()),
                            });
                        }
                        chain.push(instance);
                    }
                    Err(e) => errors.push(LoadError {
                        file: rule.file.to_path_buf(),
                        line: rule.line,
                        reason: e.to_string(),
                    }),
                }
            }
            chains.push(chain);
        }
        drop(acquired);
        if errors.is_empty() {
            let globals: Vec<&str> =
                globals.iter().map(|g| g.plugin().identity().name.as_str()).collect();
            let mut remap: Vec<&str> = chains
                .iter()
                .flat_map(Chain::instances)
                .map(|i| i.plugin().identity().name.as_str())
                .collect();
            remap.sort_unstable();
            remap.dedup();
            errors.extend(check(&LoadedNames { globals: &globals, remap: &remap }));
        }
        let used = |plugin: &RemapPlugin| {
            chains
                .iter()
                .flat_map(Chain::instances)
                .any(|i| std::ptr::eq(Arc::as_ptr(i.plugin()), plugin))
        };
        let global_used = |plugin: &GlobalPlugin| {
            globals.iter().any(|g| std::ptr::eq(Arc::as_ptr(g.plugin()), plugin))
        };
        if !errors.is_empty() {
            self.plugins.post_reload(false, used, global_used);
            for chain in chains {
                for instance in chain.into_instances() {
                    self.plugins.retire_locked(instance);
                }
            }
            for use_ in globals {
                self.plugins.release_locked(use_);
            }
            warn!(
                errors = errors.len(),
                "remap configuration refused; the serving generation stays"
            );
            return Err(LoadErrors(errors));
        }
        for kept in reports.iter().filter(|r| r.retired) {
            warn!(plugin = %kept.name, version = %kept.version,
                "a retired plugin version is kept: static mode cannot load its file again, so its events stay dropped");
        }
        self.plugins.post_reload(true, used, global_used);
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let report = LoadReport {
            generation: number,
            rules: rules.rules().len(),
            plugins: reports,
            warnings: rules.warnings().to_vec(),
            took: started.elapsed(),
        };
        let generation = Generation {
            number,
            rules,
            chains,
            globals,
            loaded_at: SystemTime::now(),
            teardown: self.plugins.teardown(),
        };
        self.current.store(Arc::new(generation));
        info!(
            generation = number,
            rules = report.rules,
            micros = report.took.as_micros() as u64,
            "remap generation loaded"
        );
        Ok(report)
    }
}

/// Whether `canary` (loaded for `canary_spec`) may be the canary of `stable`: another file of
/// the same plugin; else why not.
fn same_plugin(
    stable: &GlobalPlugin,
    stable_spec: &GlobalSpec,
    canary: &GlobalPlugin,
    canary_spec: &GlobalSpec,
) -> Result<(), String> {
    let (stable_name, canary_name) = (&stable.identity().name, &canary.identity().name);
    if stable.version() == canary.version() {
        return Err(format!(
            "canary `{}` is the same file as its stable version `{}` (plugin `{stable_name}`): \
             a canary needs a file of its own",
            canary_spec.path, stable_spec.path
        ));
    }
    if stable_name != canary_name {
        return Err(format!(
            "canary `{}` is plugin `{canary_name}`, but its stable version `{}` is plugin \
             `{stable_name}`: a canary must be another version of the same plugin",
            canary_spec.path, stable_spec.path
        ));
    }
    Ok(())
}

impl fmt::Debug for Generations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generations").field("current", &self.current()).finish_non_exhaustive()
    }
}
