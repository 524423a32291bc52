//! Inspection: the callbacks a hook would run for a transaction, in order.

use crate::control::Tables;
use crate::dispatch::Local;
use crate::id::{HookId, Level};
use crate::order::{self, OrderSource};
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
    /// Whether it would run (its canary side chosen, not switched off, not below the
    /// threshold).
    pub enabled: bool,
    /// Why it is where it is: the ordering constraints in force between its plugin and another
    /// plugin listed on the hook (`after auth (plugin.yaml:12)`); empty: by priority alone.
    pub constraints: Vec<String>,
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
            let enabled = local.arms.runs(entry.arm())
                && (hook.is_cleanup() || enabled(entry, priority, threshold, local));
            listed.push((
                order_key(priority, entry.level(), entry.seq()),
                CallbackInfo {
                    id: entry.id(),
                    plugin: entry.plugin(),
                    plugin_name: priorities.name(entry.plugin()),
                    priority,
                    level: entry.level(),
                    enabled,
                    constraints: Vec::new(),
                },
            ));
        }
    }
    let edges = order::edges(hook, priorities, local.session_control, local.txn_control);
    order::arrange(&mut listed, |(key, _)| *key, |(_, info)| info.plugin, &edges);
    let mut listed: Vec<CallbackInfo> = listed.into_iter().map(|(_, info)| info).collect();
    explain(hook, priorities, local, &mut listed);
    listed
}

/// Fills in each callback's `constraints`.
fn explain<H: ?Sized>(
    hook: HookId,
    priorities: &Priorities,
    local: &Local<'_, H>,
    listed: &mut [CallbackInfo],
) {
    let configured = priorities.orders().on(hook).map(|(o, source)| (*o, source.clone()));
    let session = local.session_control.into_iter().flat_map(|c| c.orders());
    let txn = local.txn_control.into_iter().flat_map(|c| c.orders());
    let in_force: Vec<_> = configured
        .chain(session.filter(|o| o.applies(hook)).map(|o| (*o, OrderSource::Session)))
        .chain(txn.filter(|o| o.applies(hook)).map(|o| (*o, OrderSource::Transaction)))
        .collect();
    if in_force.is_empty() {
        return;
    }
    let plugins: Vec<PluginId> = listed.iter().map(|c| c.plugin).collect();
    for info in listed.iter_mut() {
        for (order, source) in &in_force {
            let (relation, other) = if order.then == info.plugin {
                ("after", order.first)
            } else if order.first == info.plugin {
                ("before", order.then)
            } else {
                continue;
            };
            if plugins.contains(&other) {
                info.constraints.push(format!("{relation} {} ({source})", priorities.name(other)));
            }
        }
    }
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
