//! Plugin statistics (`stat_create` and friends; ATS's `TSStatCreate`): counters and gauges
//! that belong to a plugin's name, so every version of a plugin, across reloads, finds the
//! same ones with their values.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use hookyard_abi::{HY_STAT_COUNTER, hy_stat_kind};

/// One statistic.
#[derive(Debug)]
pub(crate) struct Stat {
    name: String,
    pub(crate) kind: hy_stat_kind,
    pub(crate) value: AtomicI64,
}

/// One plugin's statistics, in creation order (the index is the id).
#[derive(Debug, Default)]
pub(crate) struct PluginStats {
    stats: RwLock<Vec<Arc<Stat>>>,
}

impl PluginStats {
    /// The id of statistic `name`, made if new; `check` decides from the kind of one found
    /// (or the count, for a new one) whether the call may have it.
    pub(crate) fn create(
        &self,
        name: &str,
        kind: hy_stat_kind,
        check: impl FnOnce(Option<hy_stat_kind>, usize) -> bool,
    ) -> Option<i32> {
        let mut stats = self.stats.write().unwrap_or_else(PoisonError::into_inner);
        let found = stats.iter().position(|s| s.name == name);
        if !check(found.map(|at| stats[at].kind), stats.len()) {
            return None;
        }
        let at = found.unwrap_or_else(|| {
            stats.push(Arc::new(Stat { name: name.to_owned(), kind, value: AtomicI64::new(0) }));
            stats.len() - 1
        });
        i32::try_from(at).ok()
    }

    /// Statistic `id`.
    pub(crate) fn get(&self, id: i32) -> Option<Arc<Stat>> {
        let at = usize::try_from(id).ok()?;
        self.stats.read().unwrap_or_else(PoisonError::into_inner).get(at).cloned()
    }
}

/// Every plugin's statistics, by plugin name.
fn registry() -> &'static Mutex<BTreeMap<String, Arc<PluginStats>>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<String, Arc<PluginStats>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

/// The statistics of plugin `name`.
pub(crate) fn of(name: &str) -> Arc<PluginStats> {
    let mut registry = registry().lock().unwrap_or_else(PoisonError::into_inner);
    registry.entry(name.to_owned()).or_default().clone()
}

/// One statistic's value, as the metrics show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatValue {
    /// The plugin's name.
    pub plugin: String,
    /// The statistic's name.
    pub stat: String,
    /// Whether it is a counter (else a gauge).
    pub counter: bool,
    /// Its value.
    pub value: i64,
}

/// Every plugin statistic of the process, by plugin then creation order.
pub fn plugin_stats() -> Vec<StatValue> {
    let registry = registry().lock().unwrap_or_else(PoisonError::into_inner);
    let mut all = Vec::new();
    for (plugin, stats) in registry.iter() {
        for stat in stats.stats.read().unwrap_or_else(PoisonError::into_inner).iter() {
            all.push(StatValue {
                plugin: plugin.clone(),
                stat: stat.name.clone(),
                counter: stat.kind == HY_STAT_COUNTER,
                value: stat.value.load(Ordering::Relaxed),
            });
        }
    }
    all
}
