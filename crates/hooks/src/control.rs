//! Per-session and per-transaction control: plugins and callbacks switched off, priorities and
//! thresholds changed, for one session or one transaction only.

use smallvec::SmallVec;

use crate::error::Error;
use crate::id::HookId;
use crate::order::{self, Edges, Order};
use crate::priority::{Caller, PluginId, Priorities, Priority};
use crate::table::{CallbackId, Entry, Hooks};

/// A set of plugin ids, as bits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PluginSet(SmallVec<[u64; 1]>);

impl PluginSet {
    fn contains(&self, plugin: PluginId) -> bool {
        let (word, bit) = (plugin.0 as usize / 64, plugin.0 % 64);
        self.0.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    fn set(&mut self, plugin: PluginId, on: bool) {
        let (word, bit) = (plugin.0 as usize / 64, plugin.0 % 64);
        if self.0.len() <= word {
            if !on {
                return;
            }
            self.0.resize(word + 1, 0);
        }
        if on {
            self.0[word] |= 1 << bit;
        } else {
            self.0[word] &= !(1 << bit);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// What one session or transaction changed about dispatch. Empty by default; allocates nothing
/// until something is changed.
///
/// A transaction's control overrides its session's: a plugin the session switched off runs again
/// if the transaction switches it on.
#[derive(Clone, Debug, Default)]
pub struct Control {
    plugins_off: PluginSet,
    plugins_on: PluginSet,
    callbacks_off: SmallVec<[CallbackId; 2]>,
    removed: SmallVec<[CallbackId; 2]>,
    priorities: SmallVec<[(CallbackId, Priority); 2]>,
    threshold: Option<Priority>,
    hook_thresholds: SmallVec<[(HookId, Priority); 1]>,
    orders: SmallVec<[Order; 1]>,
    /// Bumped by every change, so a dispatch can keep what it derived until then.
    version: u32,
}

/// The registered callbacks a dispatch sees: the global table of the configuration, and the
/// session's and the transaction's, where there are such.
pub struct Tables<'g, 't, H: ?Sized> {
    /// The configuration's global callbacks.
    pub global: Option<&'g Hooks<H>>,
    /// The session's callbacks.
    pub session: Option<&'t Hooks<H>>,
    /// The transaction's callbacks.
    pub txn: Option<&'t Hooks<H>>,
}

impl<H: ?Sized> Clone for Tables<'_, '_, H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H: ?Sized> Copy for Tables<'_, '_, H> {}

impl<'g, 't, H: ?Sized> Tables<'g, 't, H> {
    /// The registration `id` on `hook`, if any table has it.
    pub fn find(&self, hook: HookId, id: CallbackId) -> Option<&'t Entry<H>>
    where
        'g: 't,
    {
        [self.global, self.session, self.txn]
            .into_iter()
            .flatten()
            .find_map(|table| table.entries(hook).iter().find(|e| e.id() == id))
    }
}

impl Control {
    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.plugins_off.is_empty()
            && self.plugins_on.is_empty()
            && self.callbacks_off.is_empty()
            && self.removed.is_empty()
            && self.priorities.is_empty()
            && self.threshold.is_none()
            && self.hook_thresholds.is_empty()
            && self.orders.is_empty()
    }

    /// Identifies this control's current state: its address and change count.
    pub(crate) fn stamp(&self) -> (usize, u32) {
        (std::ptr::from_ref(self) as usize, self.version)
    }

    /// Whether nothing was ever changed: cheaper than [`Control::is_empty`], for dispatch's
    /// common case.
    #[inline]
    pub(crate) fn is_pristine(&self) -> bool {
        self.version == 0
    }

    fn changed(&mut self) {
        // Never back to 0, which means pristine.
        self.version = self.version.checked_add(1).unwrap_or(1);
    }

    pub(crate) fn switches_nothing(&self) -> bool {
        self.plugins_off.is_empty() && self.callbacks_off.is_empty() && self.removed.is_empty()
    }

    /// The ordering constraints set at this scope.
    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// Whether a constraint of this scope applies on `hook`.
    pub(crate) fn orders_on(&self, hook: HookId) -> bool {
        self.orders.iter().any(|o| o.applies(hook))
    }

    pub(crate) fn has_priorities(&self) -> bool {
        !self.priorities.is_empty()
    }

    /// This scope's say on `plugin`: `Some(true)` switched on, `Some(false)` off.
    pub(crate) fn plugin_state(&self, plugin: PluginId) -> Option<bool> {
        if self.plugins_on.contains(plugin) {
            Some(true)
        } else if self.plugins_off.contains(plugin) {
            Some(false)
        } else {
            None
        }
    }

    pub(crate) fn callback_off(&self, id: CallbackId) -> bool {
        self.callbacks_off.contains(&id) || self.removed.contains(&id)
    }

    pub(crate) fn is_removed(&self, id: CallbackId) -> bool {
        self.removed.contains(&id)
    }

    pub(crate) fn priority_of(&self, id: CallbackId) -> Option<Priority> {
        self.priorities.iter().find(|(i, _)| *i == id).map(|(_, p)| *p)
    }

    /// The threshold set at exactly this scope: for `hook`, or (`None`) for every hook.
    pub fn threshold(&self, hook: Option<HookId>) -> Option<Priority> {
        match hook {
            Some(hook) => self.hook_thresholds.iter().find(|(h, _)| *h == hook).map(|(_, t)| *t),
            None => self.threshold,
        }
    }

    /// This scope's threshold for `hook`: its per-hook one, else its general one.
    pub(crate) fn threshold_for(&self, hook: HookId) -> Option<Priority> {
        self.hook_thresholds.iter().find(|(h, _)| *h == hook).map(|(_, t)| *t).or(self.threshold)
    }

    /// Switches a whole plugin on or off for this scope.
    ///
    /// A plugin may switch itself; switching another plugin needs a ceiling above that plugin's
    /// ceiling.
    ///
    /// # Errors
    ///
    /// [`Error::NotPermitted`] when the caller does not outrank the plugin.
    pub fn set_plugin_enabled(
        &mut self,
        plugin: PluginId,
        enabled: bool,
        caller: &Caller,
        priorities: &Priorities,
    ) -> Result<(), Error> {
        let ceiling = priorities.ceiling(plugin);
        if caller.plugin != plugin && !caller.outranks(ceiling) {
            return Err(not_permitted(
                format!("plugin `{}`", priorities.name(plugin)),
                ceiling,
                caller,
            ));
        }
        self.plugins_on.set(plugin, enabled);
        self.plugins_off.set(plugin, !enabled);
        self.changed();
        Ok(())
    }

    /// Sets this scope's threshold, for one hook or (with `None`) for all; `threshold: None`
    /// clears it. Callbacks below the threshold are skipped (never on cleanup hooks).
    ///
    /// # Errors
    ///
    /// [`Error::NotPermitted`] for a threshold above the caller's ceiling.
    pub fn set_threshold(
        &mut self,
        hook: Option<HookId>,
        threshold: Option<Priority>,
        caller: &Caller,
    ) -> Result<(), Error> {
        if let Some(t) = threshold
            && !caller.may_set(t)
        {
            return Err(above_ceiling(caller, t));
        }
        match hook {
            None => self.threshold = threshold,
            Some(hook) => {
                self.hook_thresholds.retain(|(h, _)| *h != hook);
                if let Some(t) = threshold {
                    self.hook_thresholds.push((hook, t));
                }
            }
        }
        self.changed();
        Ok(())
    }

    /// Adds (or with `enabled: false` removes) an ordering constraint for this scope: `order.first`'s
    /// callbacks run before `order.then`'s, on `order.hook` or every hook. `session` is the
    /// session's control when this is a transaction's.
    ///
    /// Each of the two plugins must be the caller itself or one whose ceiling is below the
    /// caller's, as for switching a plugin off.
    ///
    /// # Errors
    ///
    /// [`Error::NotPermitted`] when the caller does not outrank a plugin it names;
    /// [`Error::OrderCycle`] when the constraint would close a cycle with the configured ones,
    /// the session's or this scope's.
    pub fn set_order(
        &mut self,
        order: Order,
        enabled: bool,
        caller: &Caller,
        priorities: &Priorities,
        session: Option<&Control>,
    ) -> Result<(), Error> {
        for plugin in [order.first, order.then] {
            let ceiling = priorities.ceiling(plugin);
            if caller.plugin != plugin && !caller.outranks(ceiling) {
                return Err(not_permitted(
                    format!("plugin `{}`", priorities.name(plugin)),
                    ceiling,
                    caller,
                ));
            }
        }
        if order.first == order.then {
            return Err(Error::OrderCycle {
                first: priorities.name(order.first),
                then: priorities.name(order.then),
            });
        }
        if !enabled {
            self.orders.retain(|o| *o != order);
            self.changed();
            return Ok(());
        }
        let hooks = HookId::ALL.into_iter().filter(|h| order.applies(*h));
        for hook in hooks {
            let mut edges = order::edges(hook, priorities, session, Some(self));
            edges.push((order.first, order.then));
            order::close(&mut edges);
            if order::has_cycle(&edges) {
                return Err(Error::OrderCycle {
                    first: priorities.name(order.first),
                    then: priorities.name(order.then),
                });
            }
        }
        if !self.orders.contains(&order) {
            self.orders.push(order);
        }
        self.changed();
        Ok(())
    }

    /// Adds this scope's constraints on `hook` to `edges`.
    pub(crate) fn add_edges(&self, hook: HookId, edges: &mut Edges) {
        for o in self.orders.iter().filter(|o| o.applies(hook)) {
            edges.push((o.first, o.then));
        }
    }

    /// The callback's priority as this scope sees it, after the session's and this scope's
    /// overrides; checks that `caller` may change it.
    fn permitted<H: ?Sized>(
        &self,
        tables: &Tables<'_, '_, H>,
        session: Option<&Control>,
        hook: HookId,
        id: CallbackId,
        caller: &Caller,
    ) -> Result<Priority, Error> {
        let entry = tables.find(hook, id).ok_or(Error::UnknownCallback(id))?;
        if self.is_removed(id) || session.is_some_and(|s| s.is_removed(id)) {
            return Err(Error::UnknownCallback(id));
        }
        let priority = self
            .priority_of(id)
            .or_else(|| session.and_then(|s| s.priority_of(id)))
            .unwrap_or(entry.priority());
        if !caller.outranks(priority) {
            return Err(not_permitted(format!("callback {}", id.get()), priority, caller));
        }
        Ok(priority)
    }

    /// Changes a callback's priority for this scope.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCallback`] when `hook` has no such callback; [`Error::NotPermitted`] when
    /// its priority is not below the caller's ceiling or `priority` is above it.
    pub fn set_callback_priority<H: ?Sized>(
        &mut self,
        tables: &Tables<'_, '_, H>,
        session: Option<&Control>,
        hook: HookId,
        id: CallbackId,
        priority: Priority,
        caller: &Caller,
    ) -> Result<(), Error> {
        self.permitted(tables, session, hook, id, caller)?;
        if !caller.may_set(priority) {
            return Err(above_ceiling(caller, priority));
        }
        self.priorities.retain(|(i, _)| *i != id);
        self.priorities.push((id, priority));
        self.changed();
        Ok(())
    }

    /// Switches one callback off (or on again) for this scope.
    ///
    /// # Errors
    ///
    /// As for [`Control::set_callback_priority`].
    pub fn set_callback_enabled<H: ?Sized>(
        &mut self,
        tables: &Tables<'_, '_, H>,
        session: Option<&Control>,
        hook: HookId,
        id: CallbackId,
        enabled: bool,
        caller: &Caller,
    ) -> Result<(), Error> {
        self.permitted(tables, session, hook, id, caller)?;
        self.callbacks_off.retain(|i| *i != id);
        if !enabled {
            self.callbacks_off.push(id);
        }
        self.changed();
        Ok(())
    }

    /// Removes a callback from this scope's dispatch and listings.
    ///
    /// # Errors
    ///
    /// As for [`Control::set_callback_priority`].
    pub fn remove_callback<H: ?Sized>(
        &mut self,
        tables: &Tables<'_, '_, H>,
        session: Option<&Control>,
        hook: HookId,
        id: CallbackId,
        caller: &Caller,
    ) -> Result<(), Error> {
        self.permitted(tables, session, hook, id, caller)?;
        self.removed.push(id);
        self.changed();
        Ok(())
    }
}

fn not_permitted(what: String, priority: Priority, caller: &Caller) -> Error {
    Error::NotPermitted { what, priority, ceiling: caller.ceiling.unwrap_or(Priority::MAX) }
}

fn above_ceiling(caller: &Caller, value: Priority) -> Error {
    Error::AboveOwnCeiling { value, ceiling: caller.ceiling.unwrap_or(Priority::MAX) }
}
