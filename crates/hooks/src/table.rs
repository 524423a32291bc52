//! Callbacks registered on hooks at one level: the global table of a configuration, a session's,
//! or a transaction's.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hookyard_context::Continuation;

use crate::canary::Arm;
use crate::error::Error;
use crate::id::{HookId, HookScope, Level};
use crate::priority::{PluginId, Priorities, Priority};

/// Identifies one registration of a callback; unique in the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallbackId(u64);

impl CallbackId {
    /// A new id, never handed out before in this process (for a registration that is re-added
    /// to later tables with [`Hooks::add_with_id`]).
    pub fn fresh() -> CallbackId {
        CallbackId::next()
    }

    fn next() -> CallbackId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        CallbackId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The order of dispatch as one number: priority (higher first), then level (global, session,
/// transaction), then registration order.
pub(crate) fn order_key(priority: Priority, level: Level, seq: u32) -> u64 {
    let rank = (i64::from(i32::MAX) - i64::from(priority.0)) as u64;
    (rank << 32) | ((level as u64) << 30) | u64::from(seq & SEQ_MASK)
}

const SEQ_MASK: u32 = (1 << 30) - 1;

/// One registered callback.
pub struct Entry<H: ?Sized> {
    callback: Arc<Continuation<H>>,
    id: CallbackId,
    plugin: PluginId,
    priority: Priority,
    /// Whether the registration gave the priority (else it follows the plugin's default).
    explicit: bool,
    level: Level,
    seq: u32,
    key: u64,
    /// The canary side it belongs to ([`Arm::Both`] unless set with [`Hooks::set_arm`]).
    arm: Arm,
}

impl<H: ?Sized> Entry<H> {
    /// The callback.
    #[inline]
    pub fn callback(&self) -> &Arc<Continuation<H>> {
        &self.callback
    }

    /// The registration's id.
    #[inline]
    pub fn id(&self) -> CallbackId {
        self.id
    }

    /// The plugin that registered it.
    #[inline]
    pub fn plugin(&self) -> PluginId {
        self.plugin
    }

    /// Its priority as registered.
    #[inline]
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The level it was registered at.
    #[inline]
    pub fn level(&self) -> Level {
        self.level
    }

    /// The canary side it belongs to.
    #[inline]
    pub fn arm(&self) -> Arm {
        self.arm
    }

    #[inline]
    pub(crate) fn seq(&self) -> u32 {
        self.seq
    }

    #[inline]
    pub(crate) fn key(&self) -> u64 {
        self.key
    }
}

impl<H: ?Sized> Clone for Entry<H> {
    fn clone(&self) -> Entry<H> {
        Entry { callback: Arc::clone(&self.callback), ..*self }
    }
}

impl<H: ?Sized> fmt::Debug for Entry<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("id", &self.id)
            .field("plugin", &self.plugin)
            .field("priority", &self.priority)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

/// The callbacks of one hook at one level, in dispatch order.
pub(crate) struct HookList<H: ?Sized> {
    pub(crate) entries: Vec<Entry<H>>,
    /// Bumped on every change, so a dispatch in progress notices.
    pub(crate) version: u32,
}

impl<H: ?Sized> Clone for HookList<H> {
    fn clone(&self) -> HookList<H> {
        HookList { entries: self.entries.clone(), version: self.version }
    }
}

impl<H: ?Sized> Default for HookList<H> {
    fn default() -> HookList<H> {
        HookList { entries: Vec::new(), version: 0 }
    }
}

/// The callbacks registered at one level, per hook.
///
/// A session's or transaction's table allocates nothing until its first registration.
pub struct Hooks<H: ?Sized> {
    level: Level,
    lists: Option<Box<[HookList<H>; HookId::COUNT]>>,
    next_seq: u32,
}

/// A copy sharing the callbacks (one reference count each): how a configuration's global table
/// is changed while transactions dispatch from the old copy.
impl<H: ?Sized> Clone for Hooks<H> {
    fn clone(&self) -> Hooks<H> {
        Hooks { level: self.level, lists: self.lists.clone(), next_seq: self.next_seq }
    }
}

impl<H: ?Sized> Hooks<H> {
    /// An empty table for callbacks of `level`.
    pub fn new(level: Level) -> Hooks<H> {
        Hooks { level, lists: None, next_seq: 0 }
    }

    /// The level of this table's callbacks.
    #[inline]
    pub fn level(&self) -> Level {
        self.level
    }

    #[inline]
    pub(crate) fn list(&self, hook: HookId) -> Option<&HookList<H>> {
        self.list_at(hook.index())
    }

    /// The list of the hook with dense index `index`.
    #[inline]
    pub(crate) fn list_at(&self, index: usize) -> Option<&HookList<H>> {
        self.lists.as_ref().map(|lists| &lists[index])
    }

    /// The callbacks on `hook`, in dispatch order.
    #[inline]
    pub fn entries(&self, hook: HookId) -> &[Entry<H>] {
        self.list(hook).map_or(&[], |list| &list.entries)
    }

    /// Whether no callback is registered on any hook.
    pub fn is_empty(&self) -> bool {
        self.lists.as_ref().is_none_or(|lists| lists.iter().all(|l| l.entries.is_empty()))
    }

    /// Registers `callback` on `hook` with `priority`, or its plugin's default priority.
    ///
    /// The plugin is the callback's context, looked up by name in `priorities`. At transaction
    /// level, adding a callback already on the hook is ignored and returns the existing
    /// registration (as ATS's `TSHttpTxnHookAdd`); at global and session level every add is a
    /// new registration (as ATS).
    ///
    /// # Errors
    ///
    /// [`Error::AboveCeiling`] for a priority above the plugin's ceiling; [`Error::WrongLevel`]
    /// for a lifecycle hook below global level or a session hook at transaction level.
    pub fn add(
        &mut self,
        hook: HookId,
        callback: Arc<Continuation<H>>,
        priority: Option<Priority>,
        priorities: &Priorities,
    ) -> Result<CallbackId, Error> {
        self.add_with_id(hook, callback, priority, priorities, CallbackId::next())
    }

    /// As [`Hooks::add`], with the registration's id given: a registration carried from one
    /// configuration's table to the next keeps the id its plugin was told.
    ///
    /// # Errors
    ///
    /// As for [`Hooks::add`].
    pub fn add_with_id(
        &mut self,
        hook: HookId,
        callback: Arc<Continuation<H>>,
        priority: Option<Priority>,
        priorities: &Priorities,
        id: CallbackId,
    ) -> Result<CallbackId, Error> {
        let allowed = match hook.scope() {
            HookScope::Lifecycle => self.level == Level::Global,
            HookScope::Session => self.level != Level::Transaction,
            HookScope::Transaction => true,
        };
        if !allowed {
            return Err(Error::WrongLevel { hook, level: self.level });
        }
        let context = callback.context();
        let plugin = priorities.plugin(context.name());
        if let Some(priority) = priority {
            let ceiling = priorities.ceiling(plugin);
            if priority > ceiling {
                return Err(Error::AboveCeiling {
                    plugin: context.name().to_owned(),
                    priority,
                    ceiling,
                });
            }
        }
        if self.level == Level::Transaction
            && let Some(existing) =
                self.entries(hook).iter().find(|e| Arc::ptr_eq(&e.callback, &callback))
        {
            return Ok(existing.id);
        }
        let (priority, explicit) = match priority {
            Some(p) => (p, true),
            None => (priorities.priority(plugin), false),
        };
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1) & SEQ_MASK;
        let key = order_key(priority, self.level, seq);
        let level = self.level;
        let entry =
            Entry { callback, id, plugin, priority, explicit, level, seq, key, arm: Arm::Both };
        let list = &mut self.lists.get_or_insert_with(Default::default)[hook.index()];
        let at = list.entries.partition_point(|e| e.key <= key);
        list.entries.insert(at, entry);
        list.version = list.version.wrapping_add(1);
        Ok(id)
    }

    /// Puts the registration `id` on canary side `arm`; returns whether the table has it.
    pub fn set_arm(&mut self, id: CallbackId, arm: Arm) -> bool {
        let Some(lists) = &mut self.lists else { return false };
        let entry = lists.iter_mut().flat_map(|l| l.entries.iter_mut()).find(|e| e.id == id);
        entry.map(|e| e.arm = arm).is_some()
    }

    /// Removes the registration `id` from whichever hook has it; returns whether it was there.
    pub fn remove(&mut self, id: CallbackId) -> bool {
        let Some(lists) = &mut self.lists else { return false };
        for list in lists.iter_mut() {
            if let Some(at) = list.entries.iter().position(|e| e.id == id) {
                list.entries.remove(at);
                list.version = list.version.wrapping_add(1);
                return true;
            }
        }
        false
    }

    /// Gives callbacks registered without a priority their plugin's current default again,
    /// and restores dispatch order (after plugins lowered their priorities, e.g. in
    /// `PLUGINS_LOADED`).
    pub fn refresh_priorities(&mut self, priorities: &Priorities) {
        let Some(lists) = &mut self.lists else { return };
        for list in lists.iter_mut() {
            let mut changed = false;
            for entry in list.entries.iter_mut().filter(|e| !e.explicit) {
                let priority = priorities.priority(entry.plugin);
                if priority != entry.priority {
                    entry.priority = priority;
                    entry.key = order_key(priority, entry.level, entry.seq);
                    changed = true;
                }
            }
            if changed {
                list.entries.sort_by_key(|e| e.key);
                list.version = list.version.wrapping_add(1);
            }
        }
    }

    /// The registration `id`, if this table has it.
    pub fn find(&self, id: CallbackId) -> Option<(HookId, &Entry<H>)> {
        let lists = self.lists.as_ref()?;
        HookId::ALL.into_iter().find_map(|hook| {
            lists[hook.index()].entries.iter().find(|e| e.id == id).map(|e| (hook, e))
        })
    }
}

impl<H: ?Sized> fmt::Debug for Hooks<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for hook in HookId::ALL {
            let entries = self.entries(hook);
            if !entries.is_empty() {
                map.entry(&hook, &entries);
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_key_sorts_priority_then_level_then_registration() {
        let mut keys = [
            (order_key(Priority(5), Level::Transaction, 0), "t5"),
            (order_key(Priority(5), Level::Global, 9), "g5-late"),
            (order_key(Priority(5), Level::Global, 1), "g5"),
            (order_key(Priority(10), Level::Transaction, 0), "t10"),
            (order_key(Priority::MIN, Level::Global, 0), "min"),
            (order_key(Priority::MAX, Level::Transaction, 7), "max"),
            (order_key(Priority(5), Level::Session, 0), "s5"),
        ];
        keys.sort();
        let names: Vec<_> = keys.iter().map(|(_, n)| *n).collect();
        assert_eq!(names, ["max", "t10", "g5", "g5-late", "s5", "t5", "min"]);
    }
}
