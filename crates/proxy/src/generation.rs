//! A generation: one configuration as served, with its remap rules, plugins and global hooks;
//! [`Serving`], the one every new transaction takes; and how a generation is loaded.
//!
//! A transaction takes the serving generation with one atomic load when it starts and keeps it
//! until it ends (a session keeps the one it started on), so a reload never changes the rules
//! under a running transaction. It keeps it through its worker's [`Held`]: a reference count
//! of the generation's own, taken and dropped by every worker's transactions, would move its
//! cache line from core to core twice a transaction.

use std::cell::RefCell;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use arc_swap::{ArcSwap, Guard};
use hookyard_host::{Canary, GlobalHooks, Link, RuleUrls};

use crate::config::{Config, GlobalPluginSpec, Source};
use crate::forwarding::Forwarder;
use crate::origin::tls::OriginTlsClients;
use crate::wasm::WasmPlugins;

/// What a generation's plugins are served through: the global hook table (native plugins)
/// and the WebAssembly plugins.
pub(crate) type PluginSet = (Arc<GlobalHooks>, WasmPlugins);

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
    /// The WebAssembly plugins, global and per rule.
    pub(crate) wasm: WasmPlugins,
    /// Per rule (by index), the URLs its plugin chain is shown; `None` for a rule without one.
    pub(crate) rule_urls: Vec<Option<Arc<RuleUrls>>>,
    /// The TLS clients for `https://` origins (the roots `origin_tls` says).
    pub(crate) origin_tls: OriginTlsClients,
    /// The forwarding headers it adds (`Via`, `X-Forwarded-For`, `Forwarded`).
    pub(crate) forwarder: Forwarder,
    /// The strategies of `strategies.yaml`, and which rule uses which.
    pub(crate) pools: crate::pool::Pools,
    /// The resolver of origin host names (`dns`).
    pub(crate) dns: Arc<crate::dns::Resolver>,
    /// When it was loaded.
    pub loaded_at: SystemTime,
}

impl Generation {
    /// Generation `id` of `config`, with the remap generation and global hooks loaded for it;
    /// its strategies' hosts are those of `hosts`, and `dns` resolves its origin names.
    pub(crate) fn new(
        id: u64,
        config: Config,
        remap: Arc<hookyard_remap::Generation>,
        (hooks, wasm): PluginSet,
        hosts: &crate::pool::HostTable,
        dns: Arc<crate::dns::Resolver>,
    ) -> Generation {
        let pools = crate::pool::Pools::new(&config.strategies, remap.rules(), hosts);
        let origin_tls = OriginTlsClients::new(&config.settings.origin_tls);
        let forwarder = Forwarder::new(&config.settings.forwarding);
        if remap.rules().rules().iter().any(|rule| rule.to.scheme == "https") {
            // Loaded here, on the reloading thread, rather than by a worker's first request.
            origin_tls.preload();
        }
        Generation {
            id,
            config,
            rule_urls: rule_urls(&remap),
            origin_tls,
            forwarder,
            pools,
            dns,
            remap,
            hooks,
            wasm,
            loaded_at: SystemTime::now(),
        }
    }
}

/// The generation new transactions take; replaced whole by a reload.
#[derive(Debug)]
pub(crate) struct Serving(ArcSwap<Generation>);

impl Serving {
    pub(crate) fn new(generation: Generation) -> Serving {
        Serving(ArcSwap::from_pointee(generation))
    }

    /// The serving generation, to keep (one atomic load and a count).
    pub(crate) fn load_full(&self) -> Arc<Generation> {
        self.0.load_full()
    }

    /// The serving generation, for a look.
    pub(crate) fn load(&self) -> Guard<Arc<Generation>> {
        self.0.load()
    }

    /// The serving generation, for a task of this thread (a worker) to keep to its end (one
    /// atomic load, and a count of this thread's).
    pub(crate) fn held(&self) -> Arc<Held<Generation>> {
        let now = self.0.load();
        HELD.with(|held| hold(held, &now))
    }

    /// Serves `generation` from now on.
    pub(crate) fn store(&self, generation: Generation) {
        self.0.store(Arc::new(generation));
    }
}

/// A shared value (the serving generation) as one worker's tasks hold it: counted by that
/// worker alone.
#[derive(Debug)]
pub(crate) struct Held<T>(Arc<T>);

impl<T> Deref for Held<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

thread_local! {
    /// The generation this thread's tasks hold, while they do.
    static HELD: RefCell<Weak<Held<Generation>>> = const { RefCell::new(Weak::new()) };
}

/// `now` (the value shared now) as the tasks of this thread hold it (a worker is one thread):
/// the one they hold already, if it is of `now`. Not kept beyond them, so an idle worker does
/// not keep a generation (and its plugins) that a reload replaced.
fn hold<T>(held: &RefCell<Weak<Held<T>>>, now: &Arc<T>) -> Arc<Held<T>> {
    let mut held = held.borrow_mut();
    if let Some(held) = held.upgrade().filter(|h| Arc::ptr_eq(&h.0, now)) {
        return held;
    }
    let new = Arc::new(Held(Arc::clone(now)));
    *held = Arc::downgrade(&new);
    new
}

/// The URLs each rule with a plugin chain shows its plugins.
pub(crate) fn rule_urls(generation: &hookyard_remap::Generation) -> Vec<Option<Arc<RuleUrls>>> {
    generation
        .rules()
        .rules()
        .iter()
        .map(|rule| (!generation.chain(rule).is_empty()).then(|| Arc::new(RuleUrls::new(rule))))
        .collect()
}

/// Loads the configuration's plugins as a new remap generation (global plugins first, with the
/// priorities of `plugin.yaml` in force during their init, and `retirement.dropped_hook` as
/// what a retired plugin's dropped callback counts as), and builds its global hook table;
/// the table is published to plugin calls and its PLUGINS_LOADED hook run. The WebAssembly
/// plugins load first (taking their entries out of the rules' chains).
pub(crate) fn load_plugins(
    remap: &hookyard_remap::Generations,
    link: &Link,
    config: &mut Config,
) -> Result<(hookyard_remap::LoadReport, PluginSet), hookyard_remap::LoadErrors> {
    let dropped = match config.settings.retirement.dropped_hook {
        crate::config::DroppedHook::Continue => hookyard_hooks::Outcome::Continue,
        crate::config::DroppedHook::Error => hookyard_hooks::Outcome::Error,
    };
    let priorities = Arc::new(
        hookyard_hooks::Priorities::new(&config.plugins.priorities).with_dropped_outcome(dropped),
    );
    let (file, config_dir) = match &config.source {
        Source::Dir(dir) => {
            link.set_config_dir(&std::path::absolute(dir).unwrap_or_else(|_| dir.clone()));
            (dir.join(config.plugins.source.file_name()), Some(dir.clone()))
        }
        Source::Embedded => (PathBuf::from(crate::config::PLUGIN_FILE), None),
    };
    let wasm = WasmPlugins::load(config, &file, config_dir.as_deref(), &priorities).map_err(
        |problems| {
            hookyard_remap::LoadErrors(
                problems
                    .into_iter()
                    .map(|p| hookyard_remap::LoadError {
                        file: p.file,
                        line: p.line,
                        reason: p.reason,
                    })
                    .collect(),
            )
        },
    )?;
    let globals: Vec<hookyard_remap::GlobalSpec> = config
        .plugins
        .plugins
        .iter()
        .filter(|p| p.enabled && !p.is_wasm())
        .flat_map(|p| global_specs(p, &file))
        .collect();
    let rules = std::mem::take(&mut config.rules);
    link.loading(Some(priorities.clone()));
    let check = |names: &hookyard_remap::LoadedNames<'_>| {
        order_constraints(&file, &config.plugins, &priorities, names)
    };
    let loaded = remap.load_config_checked(rules, &globals, check);
    link.loading(None);
    let report = loaded?;
    let generation = remap.current();
    let members = generation
        .globals()
        .map(|g| g.table())
        .chain(generation.remap_plugins().into_iter().map(|p| p.table()))
        .filter_map(|table| hookyard_host::plugin_state(table).cloned())
        .collect();
    let hooks = GlobalHooks::build(
        priorities,
        members,
        config.settings.timeouts.hook_pending,
        config.settings.limits.slow_callback,
    );
    let hooks =
        Arc::new(hooks.with_canaries(canaries(&generation, &globals, &config.plugins.plugins)));
    link.serve(hooks.clone());
    hooks.lifecycle(hookyard_hooks::HookId::PluginsLoaded);
    hooks.edit(|table| table.refresh_priorities(&hooks.priorities));
    Ok((report, (hooks, wasm)))
}

/// Resolves the ordering constraints of `plugin.yaml` against the plugins loaded and sets them
/// in `priorities`; the problems, as load errors.
fn order_constraints(
    file: &Path,
    plugins: &crate::config::PluginConfig,
    priorities: &hookyard_hooks::Priorities,
    names: &hookyard_remap::LoadedNames<'_>,
) -> Vec<hookyard_remap::LoadError> {
    let specs = &plugins.priorities.orders;
    if specs.is_empty() {
        return Vec::new();
    }
    // The loaded name of each `plugins` entry; `None` for a disabled one. An entry with a
    // canary loaded two versions (of one name), the stable one first.
    let mut loaded = names.globals.iter();
    let entries: Vec<Option<&str>> = plugins
        .plugins
        .iter()
        .map(|p| {
            if p.is_wasm() {
                // Not loaded by the remap generation: known by its file's stem.
                return None;
            }
            let name = p.enabled.then(|| loaded.next().copied()).flatten();
            if p.enabled && p.canary.is_some() {
                loaded.next();
            }
            name
        })
        .collect();
    let subject = |subject: &hookyard_hooks::Subject| match subject {
        hookyard_hooks::Subject::Named(name) => Some(name.clone()),
        hookyard_hooks::Subject::Global(index) => {
            entries.get(*index).copied().flatten().map(str::to_owned)
        }
    };
    // A disabled global plugin is known by its file's stem: disabling it keeps the file valid.
    let disabled =
        plugins.plugins.iter().filter(|p| !p.enabled || p.is_wasm()).filter_map(|p| {
            Path::new(&p.path).file_stem().map(|s| s.to_string_lossy().into_owned())
        });
    let known: Vec<String> = names
        .globals
        .iter()
        .chain(names.remap)
        .map(|n| (*n).to_owned())
        .chain(plugins.priorities.plugins.iter().map(|p| p.name.clone()))
        .chain(disabled)
        .collect();
    match hookyard_hooks::Orders::resolve(file, specs, subject, &known, priorities) {
        Ok(orders) => {
            // A fresh table per load: nothing can have set it before.
            let _ = priorities.set_orders(orders);
            Vec::new()
        }
        Err(errors) => errors
            .0
            .into_iter()
            .map(|e| hookyard_remap::LoadError { file: e.file, line: e.line, reason: e.reason })
            .collect(),
    }
}

/// The specs the remap generation loads for one enabled `plugin.yaml` entry: the plugin, then
/// its canary (with the canary's own line).
fn global_specs(p: &GlobalPluginSpec, file: &Path) -> Vec<hookyard_remap::GlobalSpec> {
    let found = |path: &str, resolved: &Option<PathBuf>| {
        resolved.as_ref().map_or_else(|| path.to_owned(), |r| r.display().to_string())
    };
    let stable = hookyard_remap::GlobalSpec {
        path: found(&p.path, &p.resolved),
        params: p.params.clone(),
        file: file.to_owned(),
        line: p.line,
        canary: false,
    };
    let canary = p.canary.as_ref().map(|c| hookyard_remap::GlobalSpec {
        path: found(&c.path, &c.resolved),
        params: c.params.clone(),
        file: file.to_owned(),
        line: c.line,
        canary: true,
    });
    std::iter::once(stable).chain(canary).collect()
}

/// The canaries of a loaded generation: each canary spec's version with the one before it
/// (the generation's global versions are in spec order, one per spec).
fn canaries(
    generation: &hookyard_remap::Generation,
    specs: &[hookyard_remap::GlobalSpec],
    config: &[GlobalPluginSpec],
) -> Vec<Canary> {
    let states: Vec<_> =
        generation.globals().map(|g| hookyard_host::plugin_state(g.table()).cloned()).collect();
    let mut settings =
        config.iter().filter(|p| p.enabled && !p.is_wasm()).filter_map(|p| p.canary.as_ref());
    let mut out = Vec::new();
    for (at, spec) in specs.iter().enumerate().skip(1) {
        if !spec.canary {
            continue;
        }
        let Some(setting) = settings.next() else { break };
        if let (Some(Some(stable)), Some(Some(canary))) = (states.get(at - 1), states.get(at)) {
            out.push(Canary {
                stable: stable.clone(),
                canary: canary.clone(),
                share: setting.share,
                by: setting.by,
            });
        }
    }
    out
}

/// Where a server keeps its plugin copies by default: `<runtime_dir>/plugins`.
pub(crate) fn default_plugin_root(settings: &crate::config::Settings) -> PathBuf {
    crate::config::runtime_dir(settings.runtime_dir.as_deref()).join("plugins")
}

/// The remap generations of a server: plugins are loaded from the configured plugin directories
/// (then the configuration directory), their copies kept under `plugin_root` (see
/// [`default_plugin_root`]), which is only created when the first plugin loads.
pub(crate) fn remap_generations(
    settings: &crate::config::Settings,
    config_dir: Option<&Path>,
    plugin_root: PathBuf,
) -> (hookyard_remap::Generations, Arc<Link>) {
    let mut loader_config = hookyard_dso::LoaderConfig::new(plugin_root);
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::sync::{Arc, Weak};

    use super::hold;

    #[test]
    fn a_worker_holds_the_value_once_while_its_tasks_hold_it() {
        let worker = RefCell::new(Weak::new());
        let first = Arc::new(1);
        let a = hold(&worker, &first);
        let b = hold(&worker, &first);
        assert!(Arc::ptr_eq(&a, &b), "one hold per worker");
        assert_eq!(Arc::strong_count(&first), 2, "the value counted once for the worker");
        assert_eq!(**a, 1);
    }

    #[test]
    fn a_new_value_is_taken_and_the_old_one_not_kept() {
        let worker = RefCell::new(Weak::new());
        let (first, second) = (Arc::new(1), Arc::new(2));
        let old = hold(&worker, &first);
        let new = hold(&worker, &second);
        assert_eq!((**old, **new), (1, 2));
        drop(old);
        assert_eq!(Arc::strong_count(&first), 1, "replaced: only its owner keeps it");
        drop(new);
        assert_eq!(Arc::strong_count(&second), 1, "an idle worker keeps nothing");
        assert_eq!(**hold(&worker, &second), 2);
    }
}
