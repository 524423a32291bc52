//! Priorities: a plugin's own, switching plugins off, thresholds, and listing and changing
//! callbacks (`hookyard.h`: priorities).

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use hookyard_abi::rules;
use hookyard_abi::{
    self as abi, HY_ERROR, HY_SUCCESS, hy_callback_info, hy_hook_id, hy_hook_level, hy_plugin,
    hy_return, hy_txn,
};
use hookyard_hooks::{Control, Entry, HookId, Order, PluginId, Priorities, Priority, Tables};

use super::{bytes, guard, plugin, put_i32, ssn_state, state};
use crate::plugin::PluginState;
use crate::ssn::SsnState;
use crate::txn::TxnState;

pub(super) unsafe extern "C" fn plugin_priority_get(
    this: *mut hy_plugin,
    priority: *mut i32,
    ceiling: *mut i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let Some(priorities) = plugin.priorities() else { return HY_ERROR };
        let id = priorities.plugin(&plugin.name);
        if priority.is_null() || ceiling.is_null() {
            return HY_ERROR;
        }
        // SAFETY: both writable (checked non-null).
        unsafe {
            *priority = priorities.priority(id).0;
            *ceiling = priorities.ceiling(id).0;
        }
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn plugin_priority_set(
    this: *mut hy_plugin,
    priority: i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let Some(priorities) = plugin.priorities() else { return HY_ERROR };
        let id = priorities.plugin(&plugin.name);
        set_priority(plugin, &priorities, id, Priority(priority))
    })
}

/// Sets `target`'s priority in `priorities` and re-sorts the serving table if they are its.
fn set_priority(
    plugin: &PluginState,
    priorities: &Arc<Priorities>,
    target: PluginId,
    priority: Priority,
) -> hy_return {
    if let Err(e) = priorities.set_priority(target, priority) {
        tracing::debug!(error = %e, "a plugin's priority change was refused");
        return HY_ERROR;
    }
    if let Some(current) = plugin.serving()
        && Arc::ptr_eq(&current.priorities, priorities)
    {
        current.edit(|table| table.refresh_priorities(&current.priorities));
    }
    HY_SUCCESS
}

/// The name lent by a plugin, as text.
///
/// # Safety
///
/// `name` is null or has `len` readable bytes.
unsafe fn name<'a>(name: *const c_char, len: usize) -> Option<&'a str> {
    // SAFETY: per the contract.
    std::str::from_utf8(unsafe { bytes(name, len) }?).ok()
}

pub(super) unsafe extern "C" fn plugin_priority_of_get(
    this: *mut hy_plugin,
    target: *const c_char,
    len: usize,
    priority: *mut i32,
    ceiling: *mut i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`; `target` has `len` readable bytes.
        let (Some(plugin), Some(target)) = (unsafe { plugin(this) }, unsafe { name(target, len) })
        else {
            return HY_ERROR;
        };
        let Some(priorities) = plugin.priorities() else { return HY_ERROR };
        let Some(id) = priorities.find(target) else { return HY_ERROR };
        if priority.is_null() || ceiling.is_null() {
            return HY_ERROR;
        }
        // SAFETY: both writable (checked non-null).
        unsafe {
            *priority = priorities.priority(id).0;
            *ceiling = priorities.ceiling(id).0;
        }
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn plugin_priority_of_set(
    this: *mut hy_plugin,
    target: *const c_char,
    len: usize,
    priority: i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`; `target` has `len` readable bytes.
        let (Some(plugin), Some(target)) = (unsafe { plugin(this) }, unsafe { name(target, len) })
        else {
            return HY_ERROR;
        };
        let Some(priorities) = plugin.priorities() else { return HY_ERROR };
        let Some(id) = priorities.find(target) else { return HY_ERROR };
        let caller = priorities.caller(priorities.plugin(&plugin.name));
        let ceiling = priorities.ceiling(id);
        if id != caller.plugin && !caller.outranks(ceiling) {
            tracing::debug!(plugin = %plugin.name, target, "a plugin may not change the priority \
                of a plugin whose ceiling is not below its own");
            return HY_ERROR;
        }
        let was = priorities.priority(id);
        let result = set_priority(plugin, &priorities, id, Priority(priority));
        if result == HY_SUCCESS && id != caller.plugin {
            tracing::info!(plugin = %plugin.name, target, from = was.0, to = priority,
                "a plugin changed another plugin's priority for this configuration generation");
        }
        result
    })
}

#[allow(clippy::too_many_arguments, reason = "one C function of the ABI table")]
pub(super) unsafe extern "C" fn order_set(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    hook: i32,
    first: *const c_char,
    first_len: usize,
    then: *const c_char,
    then_len: usize,
    enabled: i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`; each name has its length in readable bytes.
        let (Some(plugin), Some(first), Some(then)) =
            (unsafe { (plugin(this), name(first, first_len), name(then, then_len)) })
        else {
            return HY_ERROR;
        };
        let Some(hook) = hook_or_any(hook) else { return HY_ERROR };
        let set = |control: &mut Control, priorities: &Priorities, session: Option<&Control>| {
            let (Some(first), Some(then)) = (priorities.find(first), priorities.find(then)) else {
                return HY_ERROR;
            };
            let caller = priorities.caller(priorities.plugin(&plugin.name));
            let order = Order { first, then, hook };
            ok(control.set_order(order, enabled != 0, &caller, priorities, session))
        };
        match level {
            abi::HY_HOOK_LEVEL_TXN => {
                // SAFETY: per the contract.
                let Some(state) = (unsafe { state(object.cast()) }) else { return HY_ERROR };
                let session = state.session_arc().map(|s| s.lock().control.clone());
                let priorities = state.global.priorities.clone();
                set(&mut state.control, &priorities, session.as_ref())
            }
            abi::HY_HOOK_LEVEL_SESSION => {
                // SAFETY: per the contract.
                let Some(ssn) = (unsafe { ssn_state(object.cast()) }) else { return HY_ERROR };
                let Some(priorities) = plugin.priorities() else { return HY_ERROR };
                set(&mut ssn.lock_for_control().control, &priorities, None)
            }
            _ => HY_ERROR,
        }
    })
}

/// Runs `f` on the control of a session or transaction object, with the priorities it is
/// judged by (a session's under its lock); `None` for an object not of `level`.
///
/// # Safety
///
/// `object` is null or a transaction or session lent to the plugin now.
unsafe fn with_control<R>(
    plugin: &PluginState,
    level: hy_hook_level,
    object: *mut c_void,
    f: impl FnOnce(&mut Control, &Priorities) -> R,
) -> Option<R> {
    match level {
        abi::HY_HOOK_LEVEL_TXN => {
            // SAFETY: per the contract.
            let state = unsafe { state(object.cast()) }?;
            let priorities = state.global.priorities.clone();
            Some(f(&mut state.control, &priorities))
        }
        abi::HY_HOOK_LEVEL_SESSION => {
            // SAFETY: per the contract.
            let ssn = unsafe { ssn_state(object.cast()) }?;
            let priorities = plugin.priorities()?;
            Some(f(&mut ssn.lock_for_control().control, &priorities))
        }
        _ => None,
    }
}

fn hook_or_any(hook: i32) -> Option<Option<HookId>> {
    match rules::hook_or_any(hook).ok()? {
        None => Some(None),
        Some(hook) => u32::try_from(hook).ok().and_then(HookId::from_number).map(Some),
    }
}

fn ok(result: Result<(), hookyard_hooks::Error>) -> hy_return {
    match result {
        Ok(()) => HY_SUCCESS,
        Err(e) => {
            tracing::debug!(error = %e, "a plugin's priority request was refused");
            HY_ERROR
        }
    }
}

pub(super) unsafe extern "C" fn plugin_enable_set(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    name: *const c_char,
    len: usize,
    enabled: i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`; `name` has `len` readable bytes.
        let (Some(plugin), Some(name)) = (unsafe { plugin(this) }, unsafe { bytes(name, len) })
        else {
            return HY_ERROR;
        };
        let Ok(name) = std::str::from_utf8(name) else { return HY_ERROR };
        let set = |control: &mut Control, priorities: &Priorities| {
            let caller = priorities.caller(priorities.plugin(&plugin.name));
            // A name no plugin has is refused, not entered into the generation's table.
            let Some(target) = priorities.find(name) else {
                tracing::debug!(plugin = name, "switching an unknown plugin was refused");
                return HY_ERROR;
            };
            ok(control.set_plugin_enabled(target, enabled != 0, &caller, priorities))
        };
        // SAFETY: per `with_control`'s contract, which the plugin's contract gives.
        unsafe { with_control(plugin, level, object, set) }.unwrap_or(HY_ERROR)
    })
}

pub(super) unsafe extern "C" fn threshold_get(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    hook: i32,
    threshold: *mut i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let Some(hook) = hook_or_any(hook) else { return HY_ERROR };
        let found = if level == abi::HY_HOOK_LEVEL_GLOBAL {
            let Some(priorities) = plugin.priorities() else { return HY_ERROR };
            priorities.threshold_at(hook)
        } else {
            let get = |control: &mut Control, _: &Priorities| control.threshold(hook);
            // SAFETY: as in `plugin_enable_set`.
            let Some(found) = (unsafe { with_control(plugin, level, object, get) }) else {
                return HY_ERROR;
            };
            found
        };
        // SAFETY: `threshold` is null or writable.
        unsafe { put_i32(threshold, found.map_or(abi::HY_THRESHOLD_NONE, |p| p.0)) }
    })
}

pub(super) unsafe extern "C" fn threshold_set(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    hook: i32,
    threshold: i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let Some(hook) = hook_or_any(hook) else { return HY_ERROR };
        let threshold = (threshold != abi::HY_THRESHOLD_NONE).then_some(Priority(threshold));
        if level == abi::HY_HOOK_LEVEL_GLOBAL {
            let Some(priorities) = plugin.priorities() else { return HY_ERROR };
            let caller = priorities.caller(priorities.plugin(&plugin.name));
            return ok(priorities.set_threshold(hook, threshold, &caller));
        }
        let set = |control: &mut Control, priorities: &Priorities| {
            let caller = priorities.caller(priorities.plugin(&plugin.name));
            ok(control.set_threshold(hook, threshold, &caller))
        };
        // SAFETY: as in `plugin_enable_set`.
        unsafe { with_control(plugin, level, object, set) }.unwrap_or(HY_ERROR)
    })
}

pub(super) unsafe extern "C" fn callback_list(
    txn: *mut hy_txn,
    hook: hy_hook_id,
    infos: *mut hy_callback_info,
    capacity: usize,
    count: *mut usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if let Err(code) = rules::hook(hook).and(rules::out(count.is_null())) {
            return code;
        }
        let Some(hook) = u32::try_from(hook).ok().and_then(HookId::from_number) else {
            return HY_ERROR;
        };
        if capacity > 0 && infos.is_null() {
            return HY_ERROR;
        }
        let table = state.global.table.load_full();
        let listed = state.with_local(|local| {
            hookyard_hooks::callbacks(hook, Some(&*table), &state.global.priorities, local)
        });
        // SAFETY: `count` is writable (checked).
        unsafe { *count = listed.len() };
        for (at, info) in listed.into_iter().take(capacity).enumerate() {
            let plugin = state.keep(info.plugin_name);
            let entry = hy_callback_info {
                id: info.id.get(),
                plugin,
                hook: hook.number() as i32,
                level: info.level as i32,
                priority: info.priority.0,
                enabled: i32::from(info.enabled),
            };
            // SAFETY: `infos` has room for `capacity` entries (contract) and `at < capacity`.
            unsafe { infos.add(at).write(entry) };
        }
        HY_SUCCESS
    })
}

/// What a callback change acts on.
enum Change {
    Priority(i32),
    Enabled(bool),
    Remove,
}

/// # Safety
///
/// As for `with_control`.
unsafe fn change_callback(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    hook: hy_hook_id,
    callback: u64,
    change: Change,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let Some(hook) = u32::try_from(hook).ok().and_then(HookId::from_number) else {
            return HY_ERROR;
        };
        let held: Option<Arc<SsnState>>;
        let (session, txn): (Option<&SsnState>, Option<&mut TxnState>) = match level {
            abi::HY_HOOK_LEVEL_TXN => {
                // SAFETY: per the contract.
                let Some(state) = (unsafe { state(object.cast()) }) else { return HY_ERROR };
                held = state.session_arc().cloned();
                (held.as_deref(), Some(state))
            }
            abi::HY_HOOK_LEVEL_SESSION => {
                // SAFETY: per the contract.
                let Some(ssn) = (unsafe { ssn_state(object.cast()) }) else { return HY_ERROR };
                (Some(ssn), None)
            }
            _ => return HY_ERROR,
        };
        // Held to the end: the change is checked against the tables it then writes (the
        // session's control when the change is the session's).
        let mut data = match &txn {
            Some(_) => session.map(SsnState::lock),
            None => session.map(SsnState::lock_for_control),
        };
        let priorities = match &txn {
            Some(t) => t.global.priorities.clone(),
            None => match plugin.priorities() {
                Some(p) => p,
                None => return HY_ERROR,
            },
        };
        let global = match &txn {
            Some(t) => Some(t.global.table.load_full()),
            None => plugin.serving().map(|g| g.table.load_full()),
        };
        let tables = Tables {
            global: global.as_deref(),
            session: data.as_deref().map(|d| &d.hooks),
            txn: txn.as_deref().map(|t| &t.hooks),
        };
        let Some(id) = [tables.global, tables.session, tables.txn]
            .into_iter()
            .flatten()
            .flat_map(|t| t.entries(hook))
            .map(Entry::id)
            .find(|id| id.get() == callback)
        else {
            return HY_ERROR;
        };
        let caller = priorities.caller(priorities.plugin(&plugin.name));
        let session_control =
            if txn.is_some() { data.as_deref().map(|d| d.control.clone()) } else { None };
        let mut control = match (&txn, data.as_deref()) {
            (Some(t), _) => t.control.clone(),
            (None, Some(d)) => d.control.clone(),
            (None, None) => return HY_ERROR,
        };
        let result = match change {
            Change::Priority(p) => control.set_callback_priority(
                &tables,
                session_control.as_ref(),
                hook,
                id,
                Priority(p),
                &caller,
            ),
            Change::Enabled(on) => control.set_callback_enabled(
                &tables,
                session_control.as_ref(),
                hook,
                id,
                on,
                &caller,
            ),
            Change::Remove => {
                control.remove_callback(&tables, session_control.as_ref(), hook, id, &caller)
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "a plugin's callback change was refused");
            return HY_ERROR;
        }
        match (txn, data.as_deref_mut()) {
            (Some(t), _) => t.control = control,
            (None, Some(d)) => d.control = control,
            (None, None) => return HY_ERROR,
        }
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn callback_priority_set(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    hook: hy_hook_id,
    callback: u64,
    priority: i32,
) -> hy_return {
    // SAFETY: forwarded.
    unsafe { change_callback(this, level, object, hook, callback, Change::Priority(priority)) }
}

pub(super) unsafe extern "C" fn callback_enable_set(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    hook: hy_hook_id,
    callback: u64,
    enabled: i32,
) -> hy_return {
    // SAFETY: forwarded.
    unsafe { change_callback(this, level, object, hook, callback, Change::Enabled(enabled != 0)) }
}

pub(super) unsafe extern "C" fn callback_remove(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    hook: hy_hook_id,
    callback: u64,
) -> hy_return {
    // SAFETY: forwarded.
    unsafe { change_callback(this, level, object, hook, callback, Change::Remove) }
}
