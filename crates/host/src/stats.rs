//! Plugin statistics (`stat_create` and friends; ATS's `TSStatCreate`): counters and gauges
//! that belong to a plugin's name, so every version of a plugin, across reloads, finds the
//! same ones with their values.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use hookyard_abi::rules::STATS_MAX;
use hookyard_abi::{HY_STAT_COUNTER, hy_stat_kind};

use crate::shard::Sharded;

/// One statistic. A counter is sharded: workers increment it on their hot paths. A gauge,
/// which `stat_set` sets, is one value.
#[derive(Debug)]
pub(crate) struct Stat {
    name: String,
    pub(crate) kind: hy_stat_kind,
    value: Sharded<AtomicI64>,
}

impl Stat {
    fn new(name: &str, kind: hy_stat_kind) -> Stat {
        Stat { name: name.to_owned(), kind, value: Sharded::default() }
    }

    fn counter(&self) -> bool {
        self.kind == HY_STAT_COUNTER
    }

    /// Adds `amount` (wrapping: a counter past `i64::MAX` is the plugin's to avoid).
    pub(crate) fn add(&self, amount: i64) {
        let value = if self.counter() { self.value.mine() } else { self.value.first() };
        value.fetch_add(amount, Ordering::Relaxed);
    }

    /// Sets a gauge's value.
    pub(crate) fn set(&self, value: i64) {
        debug_assert!(!self.counter(), "only a gauge is set");
        self.value.first().store(value, Ordering::Relaxed);
    }

    /// The value now.
    pub(crate) fn get(&self) -> i64 {
        self.value.iter().fold(0, |sum, n| sum.wrapping_add(n.load(Ordering::Relaxed)))
    }
}

/// One plugin's statistics, in creation order (the index is the id). Reading one takes no
/// lock: its slot, made for every id a plugin may have, is set once.
#[derive(Debug)]
pub(crate) struct PluginStats {
    slots: Box<[OnceLock<Box<Stat>>]>,
    /// How many slots are set; held by a maker.
    made: Mutex<usize>,
}

impl Default for PluginStats {
    fn default() -> PluginStats {
        PluginStats {
            slots: (0..STATS_MAX).map(|_| OnceLock::new()).collect(),
            made: Mutex::new(0),
        }
    }
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
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        let found = self.iter().enumerate().find(|(_, s)| s.name == name);
        if !check(found.map(|(_, s)| s.kind), *made) {
            return None;
        }
        let at = match found {
            Some((at, _)) => at,
            None => {
                self.slots.get(*made)?.set(Box::new(Stat::new(name, kind))).ok()?;
                *made += 1;
                *made - 1
            }
        };
        i32::try_from(at).ok()
    }

    /// Runs `f` on statistic `id`; `None` when there is no such statistic.
    pub(crate) fn with<R>(&self, id: i32, f: impl FnOnce(&Stat) -> R) -> Option<R> {
        self.get(usize::try_from(id).ok()?).map(f)
    }

    fn get(&self, at: usize) -> Option<&Stat> {
        self.slots.get(at)?.get().map(|stat| &**stat)
    }

    /// The statistics, in id order.
    fn iter(&self) -> impl Iterator<Item = &Stat> {
        self.slots.iter().map_while(|slot| slot.get().map(|stat| &**stat))
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
        for stat in stats.iter() {
            all.push(StatValue {
                plugin: plugin.clone(),
                stat: stat.name.clone(),
                counter: stat.counter(),
                value: stat.get(),
            });
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use hookyard_abi::HY_STAT_GAUGE;
    use hookyard_abi::rules::stat_found;

    use super::*;

    fn create(stats: &PluginStats, name: &str, kind: hy_stat_kind) -> Option<i32> {
        stats.create(name, kind, |found, count| stat_found(found, kind, count).is_ok())
    }

    #[test]
    fn a_name_keeps_its_id_and_kind() {
        let stats = PluginStats::default();
        assert_eq!(create(&stats, "a", HY_STAT_COUNTER), Some(0));
        assert_eq!(create(&stats, "b", HY_STAT_GAUGE), Some(1));
        assert_eq!(create(&stats, "a", HY_STAT_COUNTER), Some(0));
        assert_eq!(create(&stats, "a", HY_STAT_GAUGE), None, "another kind");
        assert!(stats.with(2, |_| ()).is_none());
        assert!(stats.with(-1, |_| ()).is_none());
    }

    #[test]
    fn no_more_than_the_abis_limit() {
        let stats = PluginStats::default();
        for n in 0..STATS_MAX {
            assert_eq!(create(&stats, &n.to_string(), HY_STAT_COUNTER), i32::try_from(n).ok());
        }
        assert_eq!(create(&stats, "one more", HY_STAT_COUNTER), None);
        assert_eq!(create(&stats, "7", HY_STAT_COUNTER), Some(7), "existing ones are found");
    }

    #[test]
    fn a_counter_adds_up_over_threads_and_a_gauge_is_what_was_set() {
        let stats = PluginStats::default();
        let counter = create(&stats, "c", HY_STAT_COUNTER).unwrap();
        let gauge = create(&stats, "g", HY_STAT_GAUGE).unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        stats.with(counter, |c| c.add(2));
                        stats.with(gauge, |g| g.add(1));
                    }
                });
            }
        });
        assert_eq!(stats.with(counter, Stat::get), Some(16_000));
        assert_eq!(stats.with(gauge, Stat::get), Some(8_000));
        stats.with(gauge, |g| g.set(-5));
        assert_eq!(stats.with(gauge, Stat::get), Some(-5));
    }
}
