//! A generation's global hooks: the table every transaction of the generation dispatches from,
//! its priorities, and the lifecycle hooks run without a transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use hookyard_hooks::{Arm, Arms, Dispatch, HookId, Hooks, Level, Local, Priorities, Progress};
use tracing::warn;

use crate::canary::{Canaries, Canary};
use crate::cont::CCont;
use crate::plugin::PluginState;

/// The global hooks of one generation: the table transactions dispatch from (replaced whole
/// when a plugin registers later), its priorities, and the plugin versions it was built from.
pub struct GlobalHooks {
    /// The callbacks, in dispatch order per hook.
    pub table: ArcSwap<Hooks<CCont>>,
    /// The generation's priorities (`plugin.yaml`), changed by plugins at run time.
    pub priorities: Arc<Priorities>,
    /// How long a callback may stay pending (`timeouts.hook_pending`).
    pub hook_pending: Duration,
    /// A callback running longer is logged (`limits.slow_callback`).
    pub slow_callback: Duration,
    members: Vec<Arc<PluginState>>,
    /// Pairs of member versions of one plugin, each transaction running one of them.
    pub(crate) canaries: Canaries,
    /// Whether the table has any callback: transactions without plugins skip all hook work.
    has_hooks: AtomicBool,
    edit: Mutex<()>,
}

impl GlobalHooks {
    /// The table of a generation: the registrations of `members` (global plugins in load
    /// order, then remap plugins), with `priorities`.
    pub fn build(
        priorities: Arc<Priorities>,
        members: Vec<Arc<PluginState>>,
        hook_pending: Duration,
        slow_callback: Duration,
    ) -> GlobalHooks {
        let mut table = Hooks::new(Level::Global);
        for member in &members {
            for r in member.registrations() {
                if r.callback.handler().is_destroyed() {
                    continue;
                }
                if let Err(e) = table.add_with_id(r.hook, r.callback, r.priority, &priorities, r.id)
                {
                    warn!(plugin = %member.name, error = %e, "a global registration was refused");
                }
            }
        }
        let has_hooks = !table.is_empty();
        GlobalHooks {
            table: ArcSwap::from_pointee(table),
            priorities,
            hook_pending,
            slow_callback,
            members,
            canaries: Canaries::default(),
            has_hooks: AtomicBool::new(has_hooks),
            edit: Mutex::new(()),
        }
    }

    /// Makes `canaries` (pairs of this table's members) canaries of this generation: their
    /// versions' global callbacks are tagged with their side, and every transaction runs one
    /// side of each. At most [`Arms::MAX`] canaries (the configuration refuses more): any
    /// beyond are left out, with a warning, and their versions run side by side.
    pub fn with_canaries(self, mut canaries: Vec<Canary>) -> GlobalHooks {
        if canaries.len() > Arms::MAX {
            warn!(
                canaries = canaries.len(),
                max = Arms::MAX,
                "too many canaries: the last are left out"
            );
            canaries.truncate(Arms::MAX);
        }
        let mut this = self;
        this.canaries = Canaries::new(canaries);
        let tagged: Vec<(hookyard_hooks::CallbackId, Arm)> = this
            .canaries
            .all()
            .iter()
            .flat_map(|c| [&c.stable, &c.canary])
            .flat_map(|version| {
                let arm = this.canaries.arm_of(version);
                version.registrations().into_iter().map(move |r| (r.id, arm))
            })
            .collect();
        this.edit(|table| {
            for (id, arm) in tagged {
                table.set_arm(id, arm);
            }
        });
        this
    }

    /// The canaries of this generation, in `plugin.yaml` order.
    pub fn canaries(&self) -> &[Canary] {
        self.canaries.all()
    }

    /// The canary side `plugin`'s global callbacks are on in this generation.
    pub(crate) fn arm_of(&self, plugin: &PluginState) -> Arm {
        self.canaries.arm_of(plugin)
    }

    /// Whether any callback is registered.
    #[inline]
    pub fn has_hooks(&self) -> bool {
        self.has_hooks.load(Ordering::Relaxed)
    }

    /// The plugin versions of this generation.
    pub fn members(&self) -> &[Arc<PluginState>] {
        &self.members
    }

    /// The member with id `id`.
    pub(crate) fn member(&self, id: u64) -> Option<&Arc<PluginState>> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Changes the table: a copy is edited and replaces it (dispatches in progress keep theirs).
    pub fn edit<R>(&self, f: impl FnOnce(&mut Hooks<CCont>) -> R) -> R {
        let _serial = self.edit.lock().unwrap_or_else(PoisonError::into_inner);
        let mut table = Hooks::clone(&self.table.load());
        let result = f(&mut table);
        self.has_hooks.store(!table.is_empty(), Ordering::Relaxed);
        self.table.store(Arc::new(table));
        result
    }

    /// Runs a lifecycle hook (no transaction), on this thread.
    pub fn lifecycle(&self, hook: HookId) {
        let table = self.table.load_full();
        if table.entries(hook).is_empty() {
            return;
        }
        let mut dispatch = Dispatch::new(hook);
        let progress = dispatch.run(
            Some(&*table),
            &self.priorities,
            &mut (),
            |_: &()| Local::default(),
            |handler, hook, _: &mut ()| {
                handler.fire_hook(hook, std::ptr::null_mut(), self.slow_callback)
            },
        );
        if progress == Progress::Pending {
            warn!(%hook, "a lifecycle hook callback answered PENDING; lifecycle hooks do not wait");
        }
    }
}

impl std::fmt::Debug for GlobalHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalHooks")
            .field("members", &self.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>())
            .field("has_hooks", &self.has_hooks())
            .finish_non_exhaustive()
    }
}
