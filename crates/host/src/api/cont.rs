//! Continuations: create, destroy, data, schedule (`hookyard.h`: continuations).

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use hookyard_abi::{HY_ERROR, HY_SUCCESS, hy_cont, hy_cont_handler, hy_plugin, hy_return};
use hookyard_context::Continuation;

use super::{callback, callback_arc, guard, plugin_arc};
use crate::cont::{CCont, destroy, schedule};

pub(super) unsafe extern "C" fn cont_create(
    this: *mut hy_plugin,
    handler: Option<hy_cont_handler>,
    data: *mut c_void,
) -> *mut hy_cont {
    guard(std::ptr::null_mut(), || {
        // SAFETY: `this` is null or the table's own plugin state.
        let (Some(plugin), Some(handler)) = (unsafe { plugin_arc(this) }, handler) else {
            return std::ptr::null_mut();
        };
        let context = plugin.context.clone();
        let callback =
            Arc::new(Continuation::in_context(&context, CCont::new(handler, data, plugin)));
        let raw = Arc::into_raw(callback);
        // SAFETY: just made, alive (the plugin's reference).
        unsafe { (*raw).handler().set_me(raw.cast_mut().cast()) };
        raw.cast_mut().cast()
    })
}

pub(super) unsafe extern "C" fn cont_destroy(cont: *mut hy_cont) {
    guard((), || {
        if !cont.is_null() {
            // SAFETY: a continuation of `cont_create`, destroyed once (contract).
            unsafe { destroy(cont.cast_const().cast()) };
        }
    });
}

pub(super) unsafe extern "C" fn cont_data_get(cont: *mut hy_cont) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: null or a live continuation of `cont_create` (contract).
        unsafe { callback(cont) }.map_or(std::ptr::null_mut(), |c| c.handler().data())
    })
}

pub(super) unsafe extern "C" fn cont_schedule(cont: *mut hy_cont, delay_ms: u64) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `cont_data_get`.
        let Some(callback) = (unsafe { callback_arc(cont) }) else { return HY_ERROR };
        if callback.handler().is_destroyed() {
            return HY_ERROR;
        }
        if schedule(callback, Duration::from_millis(delay_ms)) { HY_SUCCESS } else { HY_ERROR }
    })
}
