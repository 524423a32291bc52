//! A generation: one configuration as served, with its remap rules, plugins and global hooks;
//! [`Serving`], the one every new transaction takes; and how a generation is loaded.
//!
//! A transaction takes the serving generation with one atomic load when it starts and keeps it
//! until it ends (a session keeps the one it started on), so a reload never changes the rules
//! under a running transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::{ArcSwap, Guard};
use hookyard_host::{GlobalHooks, Link, RuleUrls};

use crate::config::{Config, Source};

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

impl Generation {
    /// Generation `id` of `config`, with the remap generation and global hooks loaded for it.
    pub(crate) fn new(
        id: u64,
        config: Config,
        remap: Arc<hookyard_remap::Generation>,
        hooks: Arc<GlobalHooks>,
    ) -> Generation {
        Generation {
            id,
            config,
            rule_urls: rule_urls(&remap),
            remap,
            hooks,
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

    /// Serves `generation` from now on.
    pub(crate) fn store(&self, generation: Generation) {
        self.0.store(Arc::new(generation));
    }
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
/// the table is published to plugin calls and its PLUGINS_LOADED hook run.
pub(crate) fn load_plugins(
    remap: &hookyard_remap::Generations,
    link: &Link,
    config: &mut Config,
) -> Result<(hookyard_remap::LoadReport, Arc<GlobalHooks>), hookyard_remap::LoadErrors> {
    let dropped = match config.settings.retirement.dropped_hook {
        crate::config::DroppedHook::Continue => hookyard_hooks::Outcome::Continue,
        crate::config::DroppedHook::Error => hookyard_hooks::Outcome::Error,
    };
    let priorities = Arc::new(
        hookyard_hooks::Priorities::new(&config.plugins.priorities).with_dropped_outcome(dropped),
    );
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
        crate::config::runtime_dir(settings.runtime_dir.as_deref()).join("plugins"),
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
