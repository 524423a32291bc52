//! Plugin priorities: ceilings, defaults and thresholds, as the operator configured them.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use arc_swap::ArcSwap;

use crate::config::PriorityConfig;
use crate::dispatch::Outcome;
use crate::error::Error;
use crate::id::HookId;
use crate::order::Orders;

/// A callback's priority: higher runs first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Priority(pub i32);

impl Priority {
    /// The highest priority.
    pub const MAX: Priority = Priority(i32::MAX);
    /// The lowest priority.
    pub const MIN: Priority = Priority(i32::MIN);
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A plugin known to a [`Priorities`] table; stable for the table's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PluginId(pub(crate) u32);

impl PluginId {
    /// The proxy itself (the core context's callbacks).
    pub const CORE: PluginId = PluginId(0);

    /// The id as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Who asks to change priorities, thresholds or callbacks: a plugin and its ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The plugin asking.
    pub plugin: PluginId,
    /// Its ceiling; `None` for the operator and the core, who are not limited.
    pub ceiling: Option<Priority>,
}

impl Caller {
    /// The operator or the proxy itself: may change anything.
    pub const OPERATOR: Caller = Caller { plugin: PluginId::CORE, ceiling: None };

    /// Whether the caller may act on something of priority `priority` (strictly below its
    /// ceiling).
    pub fn outranks(&self, priority: Priority) -> bool {
        self.ceiling.is_none_or(|ceiling| priority < ceiling)
    }

    /// Whether the caller may set a priority or threshold of `value` (at most its ceiling).
    pub fn may_set(&self, value: Priority) -> bool {
        self.ceiling.is_none_or(|ceiling| value <= ceiling)
    }
}

#[derive(Debug)]
struct PluginEntry {
    name: String,
    ceiling: Priority,
    /// The current default priority (`set_priority`).
    priority: AtomicI32,
}

impl PluginEntry {
    fn new(name: &str, ceiling: Priority, priority: Priority) -> Arc<PluginEntry> {
        Arc::new(PluginEntry {
            name: name.to_owned(),
            ceiling,
            priority: AtomicI32::new(priority.0),
        })
    }

    fn priority(&self) -> Priority {
        Priority(self.priority.load(Ordering::Relaxed))
    }
}

/// The priority table of one configuration: every plugin's ceiling and current default
/// priority, and the configured thresholds.
///
/// Plugins the configuration does not name get the configured defaults when first seen.
///
/// Reading it takes no lock (transactions register callbacks, and so look plugins up, all the
/// time): the plugins are an immutable snapshot swapped whole when a plugin is first seen, which
/// happens once per plugin name and table.
#[derive(Debug)]
pub struct Priorities {
    plugins: ArcSwap<Plugins>,
    /// Serialises the (rare) additions of plugins.
    adding: Mutex<()>,
    default_priority: Priority,
    default_ceiling: Priority,
    /// The global threshold and the per-hook ones, as [`encode`]d; settable at run time.
    threshold: AtomicI64,
    hook_thresholds: [AtomicI64; HookId::COUNT],
    /// The configured ordering constraints, set once the configuration's plugins are known.
    orders: OnceLock<Orders>,
    /// What a callback whose plugin was retired for good counts as (`Continue` or `Error`).
    dropped: Outcome,
}

/// A threshold in an atomic: `i64::MIN` for none.
fn encode(threshold: Option<Priority>) -> i64 {
    threshold.map_or(i64::MIN, |p| i64::from(p.0))
}

fn decode(value: i64) -> Option<Priority> {
    (value != i64::MIN).then_some(Priority(value as i32))
}

#[derive(Debug, Default, Clone)]
struct Plugins {
    entries: Vec<Arc<PluginEntry>>,
    by_name: HashMap<Arc<str>, PluginId>,
}

impl Plugins {
    fn push(&mut self, entry: Arc<PluginEntry>) -> PluginId {
        let id = PluginId(self.entries.len() as u32);
        self.by_name.insert(entry.name.as_str().into(), id);
        self.entries.push(entry);
        id
    }

    fn get(&self, plugin: PluginId) -> Option<&PluginEntry> {
        self.entries.get(plugin.0 as usize).map(|e| &**e)
    }
}

impl Default for Priorities {
    fn default() -> Priorities {
        Priorities::new(&PriorityConfig::default())
    }
}

impl Priorities {
    /// The table for a configuration.
    pub fn new(config: &PriorityConfig) -> Priorities {
        let mut plugins = Plugins::default();
        plugins.push(PluginEntry::new("core", Priority::MAX, Priority(0)));
        for plugin in &config.plugins {
            plugins.push(PluginEntry::new(&plugin.name, plugin.max_priority, plugin.priority));
        }
        let hook_thresholds = std::array::from_fn(|_| AtomicI64::new(i64::MIN));
        for (hook, threshold) in &config.hook_thresholds {
            hook_thresholds[hook.index()].store(encode(Some(*threshold)), Ordering::Relaxed);
        }
        Priorities {
            plugins: ArcSwap::from_pointee(plugins),
            adding: Mutex::new(()),
            default_priority: config.default_priority,
            default_ceiling: config.default_max_priority,
            threshold: AtomicI64::new(encode(config.threshold)),
            hook_thresholds,
            orders: OnceLock::new(),
            dropped: Outcome::Continue,
        }
    }

    /// This table, with `outcome` as what a dropped callback (one of a plugin retired for good)
    /// counts as: `Continue` (the default) or `Error`; `Pending` is taken as `Continue`. Cleanup
    /// hooks go on either way.
    pub fn with_dropped_outcome(mut self, outcome: Outcome) -> Priorities {
        self.dropped = if outcome == Outcome::Pending { Outcome::Continue } else { outcome };
        self
    }

    /// What a dropped callback counts as (see [`Priorities::with_dropped_outcome`]).
    pub fn dropped_outcome(&self) -> Outcome {
        self.dropped
    }

    /// The id of the plugin called `name`, adding it with the default priority and ceiling if
    /// the configuration does not name it. `core` is the proxy itself. Takes no lock once the
    /// table has the plugin.
    pub fn plugin(&self, name: &str) -> PluginId {
        if let Some(id) = self.find(name) {
            return id;
        }
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.plugins.load();
        if let Some(id) = current.by_name.get(name) {
            return *id;
        }
        let mut next = Plugins::clone(&current);
        let id = next.push(PluginEntry::new(name, self.default_ceiling, self.default_priority));
        self.plugins.store(Arc::new(next));
        id
    }

    /// The id of the plugin called `name` if the table has it (named by the configuration or
    /// seen since); unlike [`Priorities::plugin`], adds nothing.
    pub fn find(&self, name: &str) -> Option<PluginId> {
        self.plugins.load().by_name.get(name).copied()
    }

    /// The plugin's name.
    pub fn name(&self, plugin: PluginId) -> String {
        self.plugins.load().get(plugin).map_or_else(String::new, |p| p.name.clone())
    }

    /// The plugin's ceiling: no callback of it may have a higher priority.
    pub fn ceiling(&self, plugin: PluginId) -> Priority {
        self.plugins.load().get(plugin).map_or(self.default_ceiling, |p| p.ceiling)
    }

    /// The plugin's current default priority, given to callbacks registered without one.
    pub fn priority(&self, plugin: PluginId) -> Priority {
        self.plugins.load().get(plugin).map_or(self.default_priority, PluginEntry::priority)
    }

    /// The plugin as a [`Caller`], limited by its ceiling (the core is not limited).
    pub fn caller(&self, plugin: PluginId) -> Caller {
        if plugin == PluginId::CORE {
            return Caller::OPERATOR;
        }
        Caller { plugin, ceiling: Some(self.ceiling(plugin)) }
    }

    /// Sets the plugin's default priority (for its callbacks registered without one, and for
    /// those re-resolved by [`Hooks::refresh_priorities`](crate::Hooks::refresh_priorities)).
    ///
    /// # Errors
    ///
    /// [`Error::AboveCeiling`] when `priority` is above the plugin's ceiling.
    pub fn set_priority(&self, plugin: PluginId, priority: Priority) -> Result<(), Error> {
        let plugins = self.plugins.load();
        let entry = plugins.get(plugin).ok_or(Error::UnknownPlugin(plugin))?;
        if priority > entry.ceiling {
            return Err(Error::AboveCeiling {
                plugin: entry.name.clone(),
                priority,
                ceiling: entry.ceiling,
            });
        }
        entry.priority.store(priority.0, Ordering::Relaxed);
        Ok(())
    }

    /// The configured threshold for `hook`: its own, else the global one.
    pub fn threshold(&self, hook: HookId) -> Option<Priority> {
        decode(self.hook_thresholds[hook.index()].load(Ordering::Relaxed))
            .or_else(|| decode(self.threshold.load(Ordering::Relaxed)))
    }

    /// The threshold set for exactly `hook` (`None`: the one for every hook), if any.
    pub fn threshold_at(&self, hook: Option<HookId>) -> Option<Priority> {
        decode(match hook {
            Some(hook) => self.hook_thresholds[hook.index()].load(Ordering::Relaxed),
            None => self.threshold.load(Ordering::Relaxed),
        })
    }

    /// Sets or (with `None`) clears the threshold for `hook` (`None`: for every hook) of this
    /// configuration, for dispatches that start afterwards.
    ///
    /// # Errors
    ///
    /// [`Error::AboveCeiling`] when `caller` may not set `threshold`.
    pub fn set_threshold(
        &self,
        hook: Option<HookId>,
        threshold: Option<Priority>,
        caller: &Caller,
    ) -> Result<(), Error> {
        if let Some(t) = threshold
            && !caller.may_set(t)
        {
            return Err(Error::AboveCeiling {
                plugin: self.name(caller.plugin),
                priority: t,
                ceiling: caller.ceiling.unwrap_or(Priority::MAX),
            });
        }
        let slot = match hook {
            Some(hook) => &self.hook_thresholds[hook.index()],
            None => &self.threshold,
        };
        slot.store(encode(threshold), Ordering::Relaxed);
        Ok(())
    }

    /// Sets the configuration's ordering constraints (checked by [`Orders::resolve`]); once.
    ///
    /// # Errors
    ///
    /// Gives `orders` back when constraints were already set.
    pub fn set_orders(&self, orders: Orders) -> Result<(), Orders> {
        self.orders.set(orders)
    }

    /// The configuration's ordering constraints (none until set).
    pub fn orders(&self) -> &Orders {
        static NONE: OnceLock<Orders> = OnceLock::new();
        self.orders.get().unwrap_or_else(|| NONE.get_or_init(Orders::new))
    }

    /// Every plugin: id, name, ceiling, default priority.
    pub fn list(&self) -> Vec<(PluginId, String, Priority, Priority)> {
        let plugins = self.plugins.load();
        plugins
            .entries
            .iter()
            .enumerate()
            .map(|(i, p)| (PluginId(i as u32), p.name.clone(), p.ceiling, p.priority()))
            .collect()
    }
}
