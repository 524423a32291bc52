//! Hooks: registration at each level, resuming a pending hook, and a transaction's session
//! (`hookyard.h`: hooks).

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hookyard_abi::rules;
use hookyard_abi::{
    self as abi, HY_ERROR, HY_SUCCESS, hy_cont, hy_hook_id, hy_hook_level, hy_hook_result,
    hy_return, hy_ssn, hy_txn,
};
use hookyard_hooks::{CallbackId, HookId, Priority};

use super::{callback_arc, guard, ssn_state, state};
use crate::cont::Callback;
use crate::dispatch::free_abandoned;
use crate::pending::Resumed;
use crate::plugin::{PluginState, Registration};
use crate::ssn::SsnState;
use crate::txn::TxnState;

pub(super) unsafe extern "C" fn hook_add(
    level: hy_hook_level,
    object: *mut c_void,
    hook: hy_hook_id,
    cont: *mut hy_cont,
    priority: i32,
    callback: *mut u64,
) -> hy_return {
    guard(HY_ERROR, || {
        if let Err(code) = rules::hook_add(level, object.is_null(), hook) {
            return code;
        }
        let Some(hook) = u32::try_from(hook).ok().and_then(HookId::from_number) else {
            return HY_ERROR;
        };
        // SAFETY: as in `cont_data_get`.
        let Some(cont) = (unsafe { callback_arc(cont) }) else { return HY_ERROR };
        if cont.handler().is_destroyed() {
            return HY_ERROR;
        }
        let priority = (priority != abi::HY_PRIORITY_DEFAULT).then_some(Priority(priority));
        let plugin = cont.handler().plugin().clone();
        let added = match level {
            abi::HY_HOOK_LEVEL_GLOBAL if object.is_null() => {
                add_global(&plugin, hook, cont, priority)
            }
            abi::HY_HOOK_LEVEL_SESSION => {
                // SAFETY: a session handle lent to the plugin now (contract).
                let Some(ssn) = (unsafe { ssn_state(object.cast()) }) else { return HY_ERROR };
                let Some(priorities) = plugin.priorities() else { return HY_ERROR };
                ssn.add_hook(hook, cont, priority, &priorities)
            }
            abi::HY_HOOK_LEVEL_TXN => {
                // SAFETY: a transaction handle lent to the plugin now (contract).
                let Some(state) = (unsafe { state(object.cast()) }) else { return HY_ERROR };
                let priorities = state.global.priorities.clone();
                state.hooks.add(hook, cont, priority, &priorities).ok()
            }
            _ => None,
        };
        let Some(id) = added else { return HY_ERROR };
        if !callback.is_null() {
            // SAFETY: `callback` is writable (checked non-null).
            unsafe { *callback = id.get() };
        }
        HY_SUCCESS
    })
}

/// A global registration: kept with the plugin version (for every generation that uses it) and
/// added to the serving table if the serving generation has the version.
fn add_global(
    plugin: &Arc<PluginState>,
    hook: HookId,
    callback: Arc<Callback>,
    priority: Option<Priority>,
) -> Option<CallbackId> {
    let priorities = plugin.priorities()?;
    let ceiling = priorities.ceiling(priorities.plugin(&plugin.name));
    if priority.is_some_and(|p| p > ceiling) {
        return None;
    }
    let id = CallbackId::fresh();
    let registration = Registration { hook, callback, priority, id };
    plugin.add_registration(registration.clone());
    if let Some(current) = plugin.serving()
        && current.members().iter().any(|m| Arc::ptr_eq(m, plugin))
    {
        let arm = current.arm_of(plugin);
        current
            .edit(|table| {
                let added = table.add_with_id(
                    hook,
                    registration.callback,
                    priority,
                    &current.priorities,
                    id,
                );
                table.set_arm(id, arm);
                added
            })
            .ok()?;
    }
    Some(id)
}

pub(super) unsafe extern "C" fn txn_resume(txn: *mut hy_txn, result: hy_hook_result) -> hy_return {
    // SAFETY: the caller's contract is this function's.
    unsafe { txn_resume_by(None, txn, result) }
}

pub(super) unsafe extern "C" fn ssn_resume(ssn: *mut hy_ssn, result: hy_hook_result) -> hy_return {
    // SAFETY: the caller's contract is this function's.
    unsafe { ssn_resume_by(None, ssn, result) }
}

/// `txn_resume` called by plugin version `caller` (`None`: unknown); see `pending.rs` for
/// what is refused.
///
/// # Safety
///
/// As `txn_resume`: `txn` is null or a transaction of this host.
pub(crate) unsafe fn txn_resume_by(
    caller: Option<u64>,
    txn: *mut hy_txn,
    result: hy_hook_result,
) -> hy_return {
    guard(HY_ERROR, || {
        if let Err(code) = rules::resume_result(result) {
            return code;
        }
        // SAFETY: a transaction of this host (contract); kept while a resume may come.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        match state.resume_handle().resume(caller, result) {
            Resumed::Done => HY_SUCCESS,
            Resumed::Abandoned => {
                if let Some(abandoned) = NonNull::new(txn.cast::<TxnState>()) {
                    // SAFETY: abandoned by its box while pending; ours now, and no reference
                    // to it is used after this.
                    unsafe { free_abandoned(abandoned) };
                }
                HY_SUCCESS
            }
            Resumed::Refused => {
                match caller.and_then(|id| state.global.member(id)) {
                    Some(plugin) => plugin.stray_resume("txn_resume"),
                    None => stray_resume_of_unknown("txn_resume"),
                }
                HY_ERROR
            }
        }
    })
}

/// `ssn_resume` called by plugin version `caller`; as [`txn_resume_by`].
///
/// # Safety
///
/// As `ssn_resume`: `ssn` is null or a session of this host.
pub(crate) unsafe fn ssn_resume_by(
    caller: Option<u64>,
    ssn: *mut hy_ssn,
    result: hy_hook_result,
) -> hy_return {
    guard(HY_ERROR, || {
        if let Err(code) = rules::resume_result(result) {
            return code;
        }
        // SAFETY: a session of this host (contract).
        let Some(state) = (unsafe { ssn_state(ssn) }) else { return HY_ERROR };
        match state.resume_handle().resume(caller, result) {
            Resumed::Done => HY_SUCCESS,
            Resumed::Abandoned => {
                if let Some(abandoned) = NonNull::new(ssn.cast::<SsnState>()) {
                    // SAFETY: as in `txn_resume_by`: the strong count its box gave up is ours.
                    unsafe { free_abandoned(abandoned) };
                }
                HY_SUCCESS
            }
            Resumed::Refused => {
                stray_resume_of_unknown("ssn_resume");
                HY_ERROR
            }
        }
    })
}

/// Logs, once in the process, a refused resume whose plugin is not known.
fn stray_resume_of_unknown(what: &str) {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if !LOGGED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            what,
            "a resume was refused: nothing of the caller's was pending; logged once"
        );
    }
}

pub(super) unsafe extern "C" fn txn_ssn_get(txn: *mut hy_txn) -> *mut hy_ssn {
    guard(std::ptr::null_mut(), || {
        // SAFETY: as in `method_get`.
        unsafe { state(txn) }.map_or(std::ptr::null_mut(), |s| s.ssn_ptr().cast())
    })
}
