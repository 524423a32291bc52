//! The functions of `hy_api`, as the host serves them (see `include/hookyard.h` for each
//! contract), grouped as the header's sections are. Each one catches panics and checks its
//! pointers; this module holds what they share: the panic guard and the checked reads of the
//! pointers plugins pass.

mod client;
mod cont;
mod hooks;
mod message;
mod observe;
mod origin;
mod plugin;
mod priority;
mod transform;
mod url;
mod userargs;

#[cfg(test)]
mod tests;

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use hookyard_abi::{
    HY_ERROR, HY_SUCCESS, hy_api, hy_cont, hy_plugin, hy_return, hy_ssn, hy_str, hy_txn, rules,
};

use crate::cont::Callback;
use crate::plugin::PluginState;
use crate::ssn::{SSN_TAG, SsnState};
use crate::txn::{TXN_TAG, TxnState};

use client::{
    client_addr_get, client_alpn_get, client_protocol_get, client_scheme_get, client_sni_get,
    client_tls_version_get, incoming_addr_get,
};
use cont::{cont_create, cont_data_get, cont_destroy, cont_schedule};
use hooks::{hook_add, ssn_resume, txn_resume, txn_ssn_get};
pub(crate) use hooks::{ssn_resume_by, txn_resume_by};
use message::{
    direct_response, header_add, header_field_get, header_get, header_remove, header_set,
    method_get, method_set, reason_get, reason_set, remap_param_get, status_get, status_set,
};
use observe::{log_field_set, msg_reply, stat_create, stat_get, stat_increment, stat_set};
use origin::{server_addr_get, server_addr_set};
use plugin::{
    config_dir_get, host_status_get, host_status_set, log, log_enabled, plugin_dir_get,
    plugin_name_get, plugin_version_get,
};
use priority::{
    callback_enable_set, callback_list, callback_priority_set, callback_remove, order_set,
    plugin_enable_set, plugin_priority_get, plugin_priority_of_get, plugin_priority_of_set,
    plugin_priority_set, threshold_get, threshold_set,
};
use transform::{transform_add, transform_end, transform_resume, transform_write};
use url::{url_get, url_set, url_string_get};
use userargs::{
    user_arg_get, user_arg_index_lookup, user_arg_name_lookup, user_arg_reserve, user_arg_set,
};

/// The table for the plugin version whose state is at `plugin`.
pub(crate) fn table(plugin: *mut hy_plugin) -> hy_api {
    hookyard_abi::hy_api_table!(plugin, self)
}

/// Runs `f`, turning a panic into `default` (nothing unwinds into the plugin).
fn guard<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        tracing::error!("a host function panicked; the plugin gets an error");
        default
    })
}

/// # Safety
///
/// `this` is null or the plugin state of a table of this host.
unsafe fn plugin<'a>(this: *mut hy_plugin) -> Option<&'a PluginState> {
    // SAFETY: per the contract; the state lives as long as the table.
    unsafe { this.cast::<PluginState>().as_ref() }
}

/// # Safety
///
/// `this` is null or the plugin state of a table of this host.
unsafe fn plugin_arc(this: *mut hy_plugin) -> Option<Arc<PluginState>> {
    if this.is_null() {
        return None;
    }
    let this: *const PluginState = this.cast_const().cast();
    // SAFETY: per the contract the state is an `Arc` its table keeps alive; one more count is
    // taken for the `Arc` made here.
    unsafe {
        Arc::increment_strong_count(this);
        Some(Arc::from_raw(this))
    }
}

/// # Safety
///
/// `cont` is null or a live continuation of `cont_create`.
unsafe fn callback<'a>(cont: *mut hy_cont) -> Option<&'a Callback> {
    // SAFETY: per the contract.
    unsafe { cont.cast_const().cast::<Callback>().as_ref() }
}

/// # Safety
///
/// As for `callback`.
unsafe fn callback_arc(cont: *mut hy_cont) -> Option<Arc<Callback>> {
    if cont.is_null() {
        return None;
    }
    let cont: *const Callback = cont.cast_const().cast();
    // SAFETY: the plugin holds a reference (contract); one more is taken here.
    unsafe {
        Arc::increment_strong_count(cont);
        Some(Arc::from_raw(cont))
    }
}

/// The tag at the start of a transaction or session state.
///
/// # Safety
///
/// `object` is null or a transaction or session state.
unsafe fn tag(object: *const c_void) -> Option<u32> {
    // SAFETY: both states are `repr(C)` and start with their `u32` tag.
    (!object.is_null()).then(|| unsafe { object.cast::<u32>().read() })
}

/// # Safety
///
/// `txn` is null or a transaction or session state lent for the current plugin call (or
/// pending on the plugin's hook), not otherwise borrowed.
unsafe fn state<'a>(txn: *mut hy_txn) -> Option<&'a mut TxnState> {
    // SAFETY: per the contract.
    if unsafe { tag(txn.cast_const().cast()) } != Some(TXN_TAG) {
        return None;
    }
    // SAFETY: tagged as a transaction.
    unsafe { txn.cast::<TxnState>().as_mut() }
}

/// A session's state, shared: what plugins may change in it is behind its lock.
///
/// # Safety
///
/// `ssn` is null or a transaction or session state lent for the current plugin call (or
/// pending on the plugin's hook), or the session of such a transaction.
unsafe fn ssn_state<'a>(ssn: *mut hy_ssn) -> Option<&'a SsnState> {
    // SAFETY: per the contract.
    if unsafe { tag(ssn.cast_const().cast()) } != Some(SSN_TAG) {
        return None;
    }
    // SAFETY: tagged as a session; only ever borrowed shared (see `SsnState`).
    unsafe { ssn.cast_const().cast::<SsnState>().as_ref() }
}

/// # Safety
///
/// `ptr` is null (then `len` is 0) or points to `len` readable bytes.
unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> Option<&'a [u8]> {
    rules::span(ptr.is_null(), len).ok()?;
    if ptr.is_null() {
        return Some(&[]);
    }
    // SAFETY: per the contract.
    Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// # Safety
///
/// `ptr` is null or a NUL-terminated string.
unsafe fn c_str<'a>(ptr: *const c_char) -> Option<&'a str> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: per the contract.
    unsafe { CStr::from_ptr(ptr) }.to_str().ok()
}

fn str_view(text: &str) -> hy_str {
    hy_str { ptr: text.as_ptr().cast(), len: text.len() }
}

/// # Safety
///
/// `out` is null or writable.
unsafe fn put(out: *mut hy_str, view: hy_str) -> hy_return {
    if out.is_null() {
        return HY_ERROR;
    }
    // SAFETY: per the contract.
    unsafe { *out = view };
    HY_SUCCESS
}

/// # Safety
///
/// `out` is null or writable.
unsafe fn put_i32(out: *mut i32, value: i32) -> hy_return {
    if out.is_null() {
        return HY_ERROR;
    }
    // SAFETY: per the contract.
    unsafe { *out = value };
    HY_SUCCESS
}

/// # Safety
///
/// `out` is null (then nothing is written) or writable.
unsafe fn put_c(out: *mut *const c_char, value: *const c_char) {
    if !out.is_null() {
        // SAFETY: per the contract.
        unsafe { *out = value };
    }
}
