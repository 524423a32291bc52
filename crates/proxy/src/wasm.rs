//! WebAssembly (proxy-wasm) plugins as the proxy runs them: `plugin.yaml` entries and
//! `@plugin=` options whose path ends in `.wasm`, loaded with each generation (an unchanged
//! module, configuration and limits reuse the loaded version and its instances; a changed one
//! loads beside the old, which lives until its generation's last transaction ends), ordered by
//! the priorities of `plugin.yaml`, and run as one HTTP context per transaction.
//!
//! A transaction runs the global filters, in priority order, then its rule's, in chain order,
//! on the origin request's head just before SEND_REQUEST_HDR, and the same filters in reverse
//! order on the origin's response head just before READ_RESPONSE_HDR (Envoy's order). A filter
//! under the hook's threshold is skipped, as a native callback would be.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::SystemTime;

use hookyard_hooks::{HookId, PluginId, Priorities};
use hookyard_wasm::{HttpFilter, Plugin, PluginSpec, Properties};

use crate::config::{Config, Problem, is_wasm};

/// The filters of one transaction, in request order; a rule rarely has more than two.
pub(crate) type FilterList = smallvec::SmallVec<[HttpFilter; 2]>;

/// What `ctl plugins` shows of a loaded version besides the plugin's own counts.
struct Version {
    id: u64,
    path: PathBuf,
    kind: &'static str,
    loaded_at: SystemTime,
}

/// Every version some generation or transaction still holds, weakly.
type Live = Vec<(Weak<Plugin>, Arc<Version>)>;

/// Every version some generation or transaction still holds.
fn registry() -> &'static Mutex<Live> {
    static LIVE: OnceLock<Mutex<Live>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

/// Ids apart from the loader's (which count from 1).
static IDS: AtomicU64 = AtomicU64::new(1 << 32);

/// A generation's WebAssembly plugins.
#[derive(Default)]
pub(crate) struct WasmPlugins {
    /// `plugin.yaml`'s, with their priority table entry, in priority order.
    globals: Vec<(Arc<Plugin>, PluginId)>,
    /// Each rule's (by index), in chain order, with their priority table entry.
    rules: Vec<Vec<(Arc<Plugin>, PluginId)>>,
}

impl std::fmt::Debug for WasmPlugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |list: &mut dyn Iterator<Item = &Arc<Plugin>>| {
            list.map(|p| p.name().to_owned()).collect::<Vec<_>>()
        };
        f.debug_struct("WasmPlugins")
            .field("globals", &names(&mut self.globals.iter().map(|(p, _)| p)))
            .field("rules", &self.rules.iter().filter(|r| !r.is_empty()).count())
            .finish()
    }
}

impl WasmPlugins {
    /// Loads the configuration's WebAssembly plugins, taking the rules' `.wasm` entries out
    /// of their chains (native plugins stay). `file` is `plugin.yaml`'s path, for problems.
    ///
    /// # Errors
    ///
    /// Every plugin that could not be read or loaded, as `file:line: reason`.
    pub(crate) fn load(
        config: &mut Config,
        file: &Path,
        config_dir: Option<&Path>,
        priorities: &Priorities,
    ) -> Result<WasmPlugins, Vec<Problem>> {
        let settings = &config.settings;
        let slots = settings.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let limits = settings.wasm.limits();
        let mut problems = Vec::new();
        let mut globals = Vec::new();
        for spec in config.plugins.plugins.iter().filter(|p| p.enabled && p.is_wasm()) {
            let path = spec.resolved.clone().unwrap_or_else(|| PathBuf::from(&spec.path));
            let problem =
                |reason: String| Problem { file: file.to_owned(), line: spec.line, reason };
            match load_one(&path, spec.wasm_config(), limits, slots, "global") {
                Ok(plugin) => {
                    let id = priorities.plugin(plugin.name());
                    globals.push((plugin, id));
                }
                Err(reason) => problems.push(problem(reason)),
            }
        }
        // Highest priority first; `plugin.yaml` order among equals (the sort is stable).
        globals.sort_by_key(|(_, id)| std::cmp::Reverse(priorities.priority(*id)));
        let taken = config.rules.take_plugins(|spec| is_wasm(&spec.path));
        let dirs: Vec<&Path> =
            settings.plugin_dirs.iter().map(PathBuf::as_path).chain(config_dir).collect();
        let mut rules = Vec::with_capacity(taken.len());
        for (rule, specs) in config.rules.rules().iter().zip(taken) {
            let mut chain = Vec::with_capacity(specs.len());
            for spec in specs {
                let problem = |reason: String| Problem {
                    file: rule.file.to_path_buf(),
                    line: rule.line,
                    reason,
                };
                let Some(path) = find(&spec.path, &dirs) else {
                    problems.push(problem(format!(
                        "WebAssembly plugin `{}` not found (searched {})",
                        spec.path,
                        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                    )));
                    continue;
                };
                let config = spec.params.join(" ").into_bytes();
                match load_one(&path, config, limits, slots, "remap") {
                    Ok(plugin) => {
                        let id = priorities.plugin(plugin.name());
                        chain.push((plugin, id));
                    }
                    Err(reason) => problems.push(problem(reason)),
                }
            }
            rules.push(chain);
        }
        if problems.is_empty() { Ok(WasmPlugins { globals, rules }) } else { Err(problems) }
    }

    /// Whether a transaction of rule `rule` runs any filter.
    pub(crate) fn any_for(&self, rule: usize) -> bool {
        !self.globals.is_empty() || self.rules.get(rule).is_some_and(|chain| !chain.is_empty())
    }

    /// The HTTP contexts a transaction of rule `rule` on worker `worker` runs, in request
    /// order: the global ones at or above READ_REQUEST_HDR's threshold, then the rule's; each
    /// only if `enabled` (the transaction's switches) says so. A quarantined plugin has none.
    pub(crate) fn filters(
        &self,
        rule: usize,
        worker: usize,
        priorities: &Priorities,
        properties: &Properties,
        mut enabled: impl FnMut(PluginId) -> bool,
    ) -> FilterList {
        let threshold = priorities.threshold(HookId::ReadRequestHdr);
        let globals = self
            .globals
            .iter()
            .filter(|(_, id)| threshold.is_none_or(|t| priorities.priority(*id) >= t));
        let chain = self.rules.get(rule).into_iter().flatten();
        globals
            .chain(chain)
            .filter(|(_, id)| enabled(*id))
            .filter_map(|(p, _)| p.filter(worker, properties.clone()))
            .collect()
    }
}

/// `path` if absolute, else the first of `dirs` that has it.
fn find(path: &str, dirs: &[&Path]) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_owned());
    }
    dirs.iter().map(|d| d.join(p)).find(|candidate| candidate.is_file())
}

/// The version of the module at `path` with `config`: a live one with the same module,
/// configuration, limits and slots, else a new one.
fn load_one(
    path: &Path,
    config: Vec<u8>,
    limits: hookyard_wasm::Limits,
    slots: usize,
    kind: &'static str,
) -> Result<Arc<Plugin>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read WebAssembly plugin {}: {e}", path.display()))?;
    let name = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let hash = hookyard_wasm::Runtime::get()
        .and_then(|runtime| runtime.module(&bytes))
        .map_err(|e| format!("WebAssembly plugin {}: {e}", path.display()))?
        .hash_hex();
    let mut live = registry().lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|(plugin, _)| plugin.strong_count() > 0);
    let same = live.iter().filter_map(|(plugin, _)| plugin.upgrade()).find(|p| {
        p.name() == name
            && p.module_hash() == hash
            && p.config() == config
            && p.limits() == limits
            && p.slots() == slots
            && !p.is_quarantined()
    });
    if let Some(plugin) = same {
        return Ok(plugin);
    }
    let spec = PluginSpec { name, bytes, config, limits, slots };
    let plugin =
        Plugin::load(spec).map_err(|e| format!("WebAssembly plugin {}: {e}", path.display()))?;
    tracing::info!(plugin = %plugin.name(), module = %plugin.module_hash(), kind,
        path = %path.display(), "wasm plugin loaded");
    let version = Version {
        id: IDS.fetch_add(1, Ordering::Relaxed),
        path: path.to_owned(),
        kind,
        loaded_at: SystemTime::now(),
    };
    // The registry holds the plugin weakly: a version lives as long as a generation or a
    // transaction holds it.
    live.push((Arc::downgrade(&plugin), Arc::new(version)));
    Ok(plugin)
}

/// Every live version as `ctl plugins` shows it.
pub(crate) fn versions() -> Vec<crate::report::PluginVersion> {
    let live = registry().lock().unwrap_or_else(PoisonError::into_inner);
    live.iter()
        .filter_map(|(weak, version)| weak.upgrade().map(|plugin| (plugin, version.clone())))
        .map(|(plugin, v)| {
            let counts = plugin.counts();
            let hash = plugin.module_hash();
            crate::report::PluginVersion {
                id: v.id,
                name: plugin.name().to_owned(),
                version: format!("wasm:{}", &hash[..12]),
                path: v.path.display().to_string(),
                runtime_path: String::new(),
                // The generations and transactions holding it (less this look).
                references: Arc::strong_count(&plugin) - 1,
                instances: counts.instances as usize,
                continuations: 0,
                kind: v.kind.to_owned(),
                state: if plugin.is_quarantined() { "quarantined" } else { "live" }.to_owned(),
                retirement: "active".to_owned(),
                drain_left_ms: None,
                scheduled_events: 0,
                dropped_events: 0,
                age_secs: v.loaded_at.elapsed().map_or(0.0, |d| d.as_secs_f64()),
                canary: None,
                wasm: Some(crate::report::WasmInfo {
                    module: hash,
                    calls: counts.calls,
                    nanos: counts.nanos,
                    traps: counts.traps,
                    deadlines: counts.deadlines,
                    memory: counts.memory,
                    broken: counts.broken,
                    skipped: counts.skipped,
                    local_responses: counts.local_responses,
                    quarantined: plugin.is_quarantined(),
                    metrics: plugin.metrics().into_iter().map(|(n, _, v)| (n, v)).collect(),
                }),
            }
        })
        .collect()
}
