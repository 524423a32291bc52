//! User args: reserving and looking up named slots, and reading and writing them on an object
//! (`hookyard.h`: user args).

use std::ffi::{c_char, c_void};

use hookyard_abi::rules;
use hookyard_abi::{HY_ERROR, HY_SUCCESS, hy_return, hy_user_arg_type};
use hookyard_userargs::{Conn, Glb, Kind, Ssn, Txn};

use super::{c_str, guard, put_c, put_i32, ssn_state, state};
use crate::user_args;

pub(super) unsafe extern "C" fn user_arg_reserve(
    kind: hy_user_arg_type,
    name: *const c_char,
    description: *const c_char,
    index: *mut i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `name` and `description` are null or NUL-terminated (contract).
        let (Some(name), description) = (unsafe { c_str(name) }, unsafe { c_str(description) })
        else {
            return HY_ERROR;
        };
        if let Err(code) = rules::user_arg_kind(kind).and(rules::out(index.is_null())) {
            return code;
        }
        let Ok(kind) = Kind::try_from(kind) else { return HY_ERROR };
        match user_args().reserve_raw(kind, name, description.unwrap_or("")) {
            // SAFETY: `index` is null or writable.
            Ok(raw) => unsafe { put_i32(index, raw) },
            Err(_) => HY_ERROR,
        }
    })
}

pub(super) unsafe extern "C" fn user_arg_name_lookup(
    kind: hy_user_arg_type,
    name: *const c_char,
    index: *mut i32,
    description: *mut *const c_char,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `user_arg_reserve`.
        let Some(name) = (unsafe { c_str(name) }) else { return HY_ERROR };
        if let Err(code) = rules::user_arg_kind(kind).and(rules::out(index.is_null())) {
            return code;
        }
        let Ok(kind) = Kind::try_from(kind) else { return HY_ERROR };
        let Some(found) = user_args().find_raw(kind, name) else { return HY_ERROR };
        // SAFETY: the out-pointers are null or writable; the strings live as long as the process.
        unsafe {
            put_i32(index, found.raw_index());
            put_c(description, found.description_c().as_ptr());
        }
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn user_arg_index_lookup(
    kind: hy_user_arg_type,
    index: i32,
    name: *mut *const c_char,
    description: *mut *const c_char,
) -> hy_return {
    guard(HY_ERROR, || {
        if let Err(code) = rules::user_arg_kind(kind).and(rules::out(name.is_null())) {
            return code;
        }
        let Ok(kind) = Kind::try_from(kind) else { return HY_ERROR };
        let Ok(found) = user_args().describe_raw(kind, index) else { return HY_ERROR };
        // SAFETY: as in `user_arg_name_lookup`.
        unsafe {
            put_c(name, found.name_c().as_ptr());
            put_c(description, found.description_c().as_ptr());
        }
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn user_arg_get(
    object: *mut c_void,
    index: i32,
    value: *mut *mut c_void,
) -> hy_return {
    guard(HY_ERROR, || {
        let registry = user_args();
        let addr = if object.is_null() {
            let Ok(slot) = registry.index::<Glb>(index) else { return HY_ERROR };
            registry.global().get_ptr(slot)
        // SAFETY: a non-null object is a lent transaction or session (contract).
        } else if let Some(state) = unsafe { state(object.cast()) } {
            let Ok(slot) = registry.index::<Txn>(index) else { return HY_ERROR };
            state.slots.get_ptr(slot)
        // SAFETY: as above.
        } else if let Some(ssn) = unsafe { ssn_state(object.cast()) } {
            if let Ok(slot) = registry.index::<Ssn>(index) {
                ssn.lock().slots.get_ptr(slot)
            } else if let Ok(slot) = registry.index::<Conn>(index) {
                ssn.lock().conn_slots.get_ptr(slot)
            } else {
                return HY_ERROR;
            }
        } else {
            return HY_ERROR;
        };
        if value.is_null() {
            return HY_ERROR;
        }
        // SAFETY: `value` is writable (checked non-null); the address is the plugin's own.
        unsafe { *value = std::ptr::with_exposed_provenance_mut(addr) };
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn user_arg_set(
    object: *mut c_void,
    index: i32,
    value: *mut c_void,
) -> hy_return {
    guard(HY_ERROR, || {
        let registry = user_args();
        let addr = value.expose_provenance();
        if object.is_null() {
            let Ok(slot) = registry.index::<Glb>(index) else { return HY_ERROR };
            return if registry.global().set_ptr(slot, addr).is_ok() {
                HY_SUCCESS
            } else {
                HY_ERROR
            };
        }
        // SAFETY: as in `user_arg_get`.
        if let Some(state) = unsafe { state(object.cast()) } {
            let Ok(slot) = registry.index::<Txn>(index) else { return HY_ERROR };
            state.slots.set_ptr(slot, addr);
            return HY_SUCCESS;
        }
        // SAFETY: as in `user_arg_get`.
        let Some(ssn) = (unsafe { ssn_state(object.cast()) }) else { return HY_ERROR };
        if let Ok(slot) = registry.index::<Ssn>(index) {
            ssn.lock().slots.set_ptr(slot, addr);
        } else if let Ok(slot) = registry.index::<Conn>(index) {
            ssn.lock().conn_slots.set_ptr(slot, addr);
        } else {
            return HY_ERROR;
        }
        HY_SUCCESS
    })
}
