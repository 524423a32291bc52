//! Body transforms (`hookyard.h`: body transforms, since 1.5).

use std::ffi::c_char;

use hookyard_abi::rules::transform as rules;
use hookyard_abi::{
    self as abi, HY_ERROR, HY_SUCCESS, hy_body, hy_cont, hy_hook_result, hy_return, hy_transform,
    hy_transform_kind, hy_txn,
};
use hookyard_hooks::Priority;

use super::{bytes, callback_arc, guard, state};
use crate::transform::{self, Registered};

pub(super) unsafe extern "C" fn transform_add(
    txn: *mut hy_txn,
    body: hy_body,
    kind: hy_transform_kind,
    cont: *mut hy_cont,
    priority: i32,
    out: *mut *mut hy_transform,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: a transaction handle lent to the plugin now (contract).
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        let started = |body| state.body_started(body) || state.direct.is_some();
        let (body, kind) = match rules::transform_add(body, kind, false) {
            Ok((body, kind)) if !started(body) => (body, kind),
            _ => return HY_ERROR,
        };
        // SAFETY: as in `hook_add`.
        let Some(cont) = (unsafe { callback_arc(cont) }) else { return HY_ERROR };
        if cont.handler().is_destroyed() {
            return HY_ERROR;
        }
        let priorities = state.global.priorities.clone();
        let id = priorities.plugin(&cont.handler().plugin().name);
        let priority = if priority == abi::HY_PRIORITY_DEFAULT {
            priorities.priority(id)
        } else if Priority(priority) <= priorities.ceiling(id) {
            Priority(priority)
        } else {
            return HY_ERROR;
        };
        let shared = transform::new(cont, body, kind, priority);
        if !out.is_null() {
            // SAFETY: optional out-parameter, writable when not NULL (contract).
            unsafe { *out = shared.ptr() };
        }
        state.transforms.push(Registered(shared));
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn transform_write(
    handle: *mut hy_transform,
    data: *const c_char,
    len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: a transform of this host, live while its handler runs or a chunk is pending
        // (contract); or another handle, told apart by its tag.
        let Some(shared) = (unsafe { transform::shared(handle) }) else { return HY_ERROR };
        // SAFETY: `len` readable bytes (contract).
        let Some(data) = (unsafe { bytes(data, len) }) else { return HY_ERROR };
        transform::write(&shared, data)
    })
}

pub(super) unsafe extern "C" fn transform_end(handle: *mut hy_transform) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `transform_write`.
        let Some(shared) = (unsafe { transform::shared(handle) }) else { return HY_ERROR };
        transform::end(&shared)
    })
}

pub(super) unsafe extern "C" fn transform_resume(
    handle: *mut hy_transform,
    result: hy_hook_result,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `transform_write`: a chunk is pending, so the transform lives.
        let Some(shared) = (unsafe { transform::shared(handle) }) else { return HY_ERROR };
        transform::resume(&shared, result)
    })
}
