//! Messages: methods, header fields, statuses and direct responses (`hookyard.h`: messages
//! and headers).

use std::ffi::c_char;

use hookyard_abi::{self as abi, HY_ERROR, HY_SUCCESS, hy_msg, hy_return, hy_str, hy_txn, rules};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::{bytes, guard, put, put_i32, state, str_view};
use crate::txn::{ResponseHead, TxnState};

/// The headers of a message, once it exists.
fn headers_of(state: &mut TxnState, msg: hy_msg) -> Option<&mut HeaderMap> {
    match msg {
        abi::HY_MSG_CLIENT_REQUEST => Some(state.request_fields()),
        abi::HY_MSG_ORIGIN_REQUEST => state.origin_request_fields(),
        _ => response_of(state, msg).map(ResponseHead::fields),
    }
}

/// Where a field named `name` added to a message goes: its headers, fields lent unread staying
/// so if they may (see [`crate::Unread::may_add`]).
fn added_to<'s>(
    state: &'s mut TxnState,
    msg: hy_msg,
    name: &HeaderName,
) -> Option<&'s mut HeaderMap> {
    match msg {
        abi::HY_MSG_CLIENT_REQUEST => Some(state.request_fields_to_add(name)),
        abi::HY_MSG_ORIGIN_REQUEST => state.origin_request_fields_to_add(name),
        _ => response_of(state, msg).map(|head| head.fields_to_add(name)),
    }
}

/// A response message, once it exists.
fn response_of(state: &mut TxnState, msg: hy_msg) -> Option<&mut ResponseHead> {
    match msg {
        abi::HY_MSG_ORIGIN_RESPONSE => state.origin_response.as_mut(),
        abi::HY_MSG_CLIENT_RESPONSE => state.client_response.as_mut(),
        _ => None,
    }
}

/// # Safety
///
/// As for `state` and `bytes`, for `txn`, `name` and `value`.
unsafe fn edit_header(
    txn: *mut hy_txn,
    msg: hy_msg,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
    replace: bool,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: per this function's contract.
        let (Some(state), Some(name), Some(value)) =
            (unsafe { state(txn) }, unsafe { bytes(name, name_len) }, unsafe {
                bytes(value, value_len)
            })
        else {
            return HY_ERROR;
        };
        let checked = rules::msg(msg).and(rules::header_name(name)).and(rules::header_value(value));
        if let Err(code) = checked {
            return code;
        }
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        else {
            return HY_ERROR;
        };
        if replace {
            let Some(headers) = headers_of(state, msg) else { return HY_ERROR };
            headers.insert(name, value);
        } else {
            let Some(headers) = added_to(state, msg, &name) else { return HY_ERROR };
            headers.append(name, value);
        }
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn method_get(
    txn: *mut hy_txn,
    msg: hy_msg,
    method: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `txn` is null or a lent `TxnState` (module contract).
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if let Err(code) = rules::request_msg(msg).and(rules::out(method.is_null())) {
            return code;
        }
        let exists = msg == abi::HY_MSG_CLIENT_REQUEST
            || (msg == abi::HY_MSG_ORIGIN_REQUEST && state.origin_request.is_some());
        if !exists {
            return HY_ERROR;
        }
        let view = state.keep(state.method.as_str().to_owned());
        // SAFETY: `method` is null or writable.
        unsafe { put(method, view) }
    })
}

pub(super) unsafe extern "C" fn method_set(
    txn: *mut hy_txn,
    msg: hy_msg,
    method: *const c_char,
    len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`; `method` has `len` readable bytes.
        let (Some(state), Some(bytes)) = (unsafe { state(txn) }, unsafe { bytes(method, len) })
        else {
            return HY_ERROR;
        };
        let method = match rules::method_set(msg, bytes) {
            Ok(method) => method,
            Err(code) => return code,
        };
        let Ok(method) = Method::from_bytes(method.as_bytes()) else { return HY_ERROR };
        state.method = method;
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn header_get(
    txn: *mut hy_txn,
    msg: hy_msg,
    name: *const c_char,
    name_len: usize,
    index: usize,
    value: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_set`.
        let (Some(state), Some(name)) = (unsafe { state(txn) }, unsafe { bytes(name, name_len) })
        else {
            return HY_ERROR;
        };
        let checked =
            rules::msg(msg).and(rules::header_name(name)).and(rules::out(value.is_null()));
        if let Err(code) = checked {
            return code;
        }
        let Some(headers) = headers_of(state, msg) else { return HY_ERROR };
        let Ok(name) = HeaderName::from_bytes(name) else { return HY_ERROR };
        let Some(found) = headers.get_all(&name).iter().nth(index) else { return HY_ERROR };
        let view = hy_str { ptr: found.as_bytes().as_ptr().cast(), len: found.len() };
        // SAFETY: `value` is null or writable; the view stays valid until the header changes.
        unsafe { put(value, view) }
    })
}

pub(super) unsafe extern "C" fn header_field_get(
    txn: *mut hy_txn,
    msg: hy_msg,
    position: usize,
    name: *mut hy_str,
    value: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        let checked =
            rules::msg(msg).and(rules::out(name.is_null())).and(rules::out(value.is_null()));
        if let Err(code) = checked {
            return code;
        }
        let Some(headers) = headers_of(state, msg) else { return HY_ERROR };
        let Some((field, found)) = headers.iter().nth(position) else { return HY_ERROR };
        let name_view = str_view(field.as_str());
        let value_view = hy_str { ptr: found.as_bytes().as_ptr().cast(), len: found.len() };
        // SAFETY: `name` and `value` are null or writable; the views stay valid until the
        // headers change.
        unsafe {
            put(name, name_view);
            put(value, value_view)
        }
    })
}

pub(super) unsafe extern "C" fn header_set(
    txn: *mut hy_txn,
    msg: hy_msg,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> hy_return {
    // SAFETY: forwarded; see `edit_header`.
    unsafe { edit_header(txn, msg, name, name_len, value, value_len, true) }
}

pub(super) unsafe extern "C" fn header_add(
    txn: *mut hy_txn,
    msg: hy_msg,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> hy_return {
    // SAFETY: forwarded; see `edit_header`.
    unsafe { edit_header(txn, msg, name, name_len, value, value_len, false) }
}

pub(super) unsafe extern "C" fn header_remove(
    txn: *mut hy_txn,
    msg: hy_msg,
    name: *const c_char,
    name_len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_set`.
        let (Some(state), Some(name)) = (unsafe { state(txn) }, unsafe { bytes(name, name_len) })
        else {
            return HY_ERROR;
        };
        if let Err(code) = rules::msg(msg).and(rules::header_name(name)) {
            return code;
        }
        let Ok(name) = HeaderName::from_bytes(name) else { return HY_ERROR };
        match headers_of(state, msg) {
            Some(headers) => {
                headers.remove(&name);
                HY_SUCCESS
            }
            None => HY_ERROR,
        }
    })
}

pub(super) unsafe extern "C" fn status_get(
    txn: *mut hy_txn,
    msg: hy_msg,
    status: *mut i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if let Err(code) = rules::response_msg(msg).and(rules::out(status.is_null())) {
            return code;
        }
        let Some(head) = response_of(state, msg) else { return HY_ERROR };
        // SAFETY: `status` is null or writable.
        unsafe { put_i32(status, i32::from(head.status.as_u16())) }
    })
}

pub(super) unsafe extern "C" fn status_set(
    txn: *mut hy_txn,
    msg: hy_msg,
    status: i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        // No 1xx: the proxy writes every response message as final, and HTTP/1 framing has no
        // final 1xx (hyper would take 101 for a protocol switch).
        let code = match rules::status_set(msg, status) {
            Ok(status) => status,
            Err(code) => return code,
        };
        let Some(head) = response_of(state, msg) else { return HY_ERROR };
        let Ok(code) = StatusCode::from_u16(code) else { return HY_ERROR };
        if head.status != code {
            // The old reason phrase was the old status's.
            head.reason = None;
        }
        head.status = code;
        if msg == abi::HY_MSG_CLIENT_RESPONSE
            && let Some((direct, _)) = &mut state.direct
        {
            *direct = code.as_u16();
        }
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn direct_response(
    txn: *mut hy_txn,
    status: i32,
    body: *const c_char,
    body_len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_set`.
        let (Some(state), Some(body)) = (unsafe { state(txn) }, unsafe { bytes(body, body_len) })
        else {
            return HY_ERROR;
        };
        // No 1xx, as in `status_set`.
        let status = match rules::direct_status(status) {
            Ok(status) => status,
            Err(code) => return code,
        };
        let Ok(code) = StatusCode::from_u16(status) else { return HY_ERROR };
        state.direct = Some((status, body.to_vec()));
        state.client_response = Some(ResponseHead::new(code, HeaderMap::new(), None));
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn reason_get(
    txn: *mut hy_txn,
    msg: hy_msg,
    reason: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if let Err(code) = rules::response_msg(msg).and(rules::out(reason.is_null())) {
            return code;
        }
        let Some(head) = response_of(state, msg) else { return HY_ERROR };
        let view = match &head.reason {
            Some(text) => hy_str { ptr: text.as_ptr().cast(), len: text.len() },
            None => str_view(head.status.canonical_reason().unwrap_or("")),
        };
        // SAFETY: `reason` is writable (checked); the view lives in the head until it changes.
        unsafe { put(reason, view) }
    })
}

pub(super) unsafe extern "C" fn reason_set(
    txn: *mut hy_txn,
    msg: hy_msg,
    reason: *const c_char,
    len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_set`.
        let (Some(state), Some(reason)) = (unsafe { state(txn) }, unsafe { bytes(reason, len) })
        else {
            return HY_ERROR;
        };
        let reason = match rules::reason_set(msg, reason) {
            Ok(reason) => reason,
            Err(code) => return code,
        };
        let Some(head) = response_of(state, msg) else { return HY_ERROR };
        head.reason = (!reason.is_empty()).then(|| reason.to_vec());
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn remap_param_get(
    txn: *mut hy_txn,
    index: usize,
    param: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if let Err(code) = rules::out(param.is_null()) {
            return code;
        }
        let Some(text) = state.remap_param(index) else {
            return HY_ERROR;
        };
        // SAFETY: `param` is writable (checked); the instance keeps the text while it runs.
        unsafe { put(param, str_view(text)) }
    })
}
