//! Inspection: the callbacks a hook would run for a transaction, in order.

use crate::control::Tables;
use crate::dispatch::Local;
use crate::id::{HookId, Level};
use crate::priority::{PluginId, Priorities, Priority};
use crate::table::{CallbackId, Entry, order_key};

/// One callback as a dispatch of its hook would treat it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackInfo {
    /// The registration's id (for changing it).
    pub id: CallbackId,
    /// The plugin that registered it.
    pub plugin: PluginId,
    /// The plugin's name.
    pub plugin_name: String,
    /// Its priority after per-session and per-transaction changes.
    pub priority: Priority,
    /// The level it was registered at.
    pub level: Level,
    /// Whether it would run (not switched off, not below the threshold).
    pub enabled: bool,
}

/// The callbacks on `hook` for a transaction (or session) in the order a dispatch would run them,
/// each with whether it would run. Callbacks removed for this transaction are not listed, except
/// on cleanup hooks, which run them.
pub fn callbacks<H: ?Sized>(
    hook: HookId,
    global: Option<&crate::Hooks<H>>,
    priorities: &Priorities,
    local: &Local<'_, H>,
) -> Vec<CallbackInfo> {
    let tables = Tables { global, session: local.session, txn: local.txn };
    let controls = [local.txn_control, local.session_control];
    let threshold = controls
        .into_iter()
        .flatten()
        .find_map(|c| c.threshold_for(hook))
        .or_else(|| priorities.threshold(hook));
    let mut listed: Vec<(u64, CallbackInfo)> = Vec::new();
    for table in [tables.global, tables.session, tables.txn].into_iter().flatten() {
        for entry in table.entries(hook) {
            if !hook.is_cleanup()
                && controls.into_iter().flatten().any(|c| c.is_removed(entry.id()))
            {
                continue;
            }
            let priority = controls
                .into_iter()
                .flatten()
                .find_map(|c| c.priority_of(entry.id()))
                .unwrap_or(entry.priority());
            let enabled = hook.is_cleanup() || enabled(entry, priority, threshold, local);
            listed.push((
                order_key(priority, entry.level(), entry.seq()),
                CallbackInfo {
                    id: entry.id(),
                    plugin: entry.plugin(),
                    plugin_name: priorities.name(entry.plugin()),
                    priority,
                    level: entry.level(),
                    enabled,
                },
            ));
        }
    }
    listed.sort_by_key(|(key, _)| *key);
    listed.into_iter().map(|(_, info)| info).collect()
}

fn enabled<H: ?Sized>(
    entry: &Entry<H>,
    priority: Priority,
    threshold: Option<Priority>,
    local: &Local<'_, H>,
) -> bool {
    let controls = [local.txn_control, local.session_control];
    if controls.into_iter().flatten().any(|c| c.callback_off(entry.id())) {
        return false;
    }
    if controls.into_iter().flatten().find_map(|c| c.plugin_state(entry.plugin())) == Some(false) {
        return false;
    }
    threshold.is_none_or(|t| priority >= t)
}
