//! The functions of `hy_api`, as the proxy serves them (see `include/hookyard.h` for each
//! contract). Each one catches panics and checks its pointers.

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use hookyard_abi::{
    self as abi, HY_ERROR, HY_SUCCESS, hy_api, hy_callback_info, hy_cont, hy_cont_handler,
    hy_hook_id, hy_hook_level, hy_hook_result, hy_log_level, hy_msg, hy_plugin, hy_return, hy_ssn,
    hy_str, hy_txn, hy_url, hy_url_part, hy_user_arg_type,
};
use hookyard_userargs::{Glb, Kind, Txn};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::{PluginState, TXN_TAG, TxnState, UrlParts};

/// The table for the plugin version whose state is at `plugin`.
pub(super) fn table(plugin: *mut hy_plugin) -> hy_api {
    hookyard_abi::hy_api_table!(plugin, self)
}

/// Runs `f`, turning a panic into `default` (nothing unwinds into the plugin).
fn guard<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        tracing::error!("a host function panicked; the plugin gets an error");
        default
    })
}

/// Logs once per function that this build does not serve it yet.
fn unavailable(function: &'static str) {
    static SEEN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !seen.contains(&function) {
        seen.push(function);
        tracing::warn!(
            function,
            "a plugin called a host function this build does not serve yet; it gets HY_ERROR"
        );
    }
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
/// `txn` is null or a `TxnState` lent for the current plugin call, not otherwise borrowed.
unsafe fn state<'a>(txn: *mut hy_txn) -> Option<&'a mut TxnState> {
    // SAFETY: per the contract.
    let state = unsafe { txn.cast::<TxnState>().as_mut() }?;
    (state.tag == TXN_TAG).then_some(state)
}

/// # Safety
///
/// `ptr` is null (then `len` is 0) or points to `len` readable bytes.
unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return (len == 0).then_some(&[][..]);
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

fn url_of(state: &TxnState, url: hy_url) -> Option<&UrlParts> {
    match url {
        abi::HY_URL_REQUEST => Some(&state.url),
        abi::HY_URL_PRISTINE => Some(&state.pristine),
        abi::HY_URL_REMAP_FROM => Some(&state.from),
        abi::HY_URL_REMAP_TO => Some(&state.to),
        _ => None,
    }
}

/// The headers of a message; only the client request exists while a remap chain runs.
fn headers_of(state: &mut TxnState, msg: hy_msg) -> Option<&mut HeaderMap> {
    (msg == abi::HY_MSG_CLIENT_REQUEST).then_some(&mut state.headers)
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
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        else {
            return HY_ERROR;
        };
        let Some(headers) = headers_of(state, msg) else { return HY_ERROR };
        if replace {
            headers.insert(name, value);
        } else {
            headers.append(name, value);
        }
        HY_SUCCESS
    })
}

unsafe extern "C" fn log_enabled(this: *mut hy_plugin, level: hy_log_level) -> i32 {
    guard(0, || {
        let _ = this;
        i32::from(match level {
            abi::HY_LOG_ERROR => tracing::enabled!(tracing::Level::ERROR),
            abi::HY_LOG_WARN => tracing::enabled!(tracing::Level::WARN),
            abi::HY_LOG_INFO => tracing::enabled!(tracing::Level::INFO),
            _ => tracing::enabled!(tracing::Level::DEBUG),
        })
    })
}

unsafe extern "C" fn log(
    this: *mut hy_plugin,
    level: hy_log_level,
    message: *const c_char,
    len: usize,
) {
    guard((), || {
        // SAFETY: `this` is null or the table's own plugin state (contract of `hy_api.plugin`).
        let Some(plugin) = (unsafe { plugin(this) }) else { return };
        // SAFETY: the plugin passes `len` readable bytes (or null with 0).
        let Some(bytes) = (unsafe { bytes(message, len) }) else { return };
        let message = String::from_utf8_lossy(bytes);
        let (name, version) = (plugin.name.as_str(), plugin.version.as_str());
        match level {
            abi::HY_LOG_ERROR => tracing::error!(plugin = name, version, "{message}"),
            abi::HY_LOG_WARN => tracing::warn!(plugin = name, version, "{message}"),
            abi::HY_LOG_INFO => tracing::info!(plugin = name, version, "{message}"),
            _ => tracing::debug!(plugin = name, version, "{message}"),
        }
    })
}

unsafe extern "C" fn plugin_name_get(this: *mut hy_plugin, name: *mut hy_str) {
    guard((), || {
        // SAFETY: as in `log`.
        if let Some(plugin) = unsafe { plugin(this) } {
            // SAFETY: `name` is null or writable; the string lives as long as the table.
            unsafe { put(name, str_view(&plugin.name)) };
        }
    })
}

unsafe extern "C" fn plugin_version_get(this: *mut hy_plugin, version: *mut hy_str) {
    guard((), || {
        // SAFETY: as in `log`.
        if let Some(plugin) = unsafe { plugin(this) } {
            // SAFETY: as in `plugin_name_get`.
            unsafe { put(version, str_view(&plugin.version)) };
        }
    })
}

unsafe extern "C" fn method_get(txn: *mut hy_txn, msg: hy_msg, method: *mut hy_str) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `txn` is null or a lent `TxnState` (module contract).
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if msg != abi::HY_MSG_CLIENT_REQUEST {
            return HY_ERROR;
        }
        let view = state.keep(state.method.as_str().to_owned());
        // SAFETY: `method` is null or writable.
        unsafe { put(method, view) }
    })
}

unsafe extern "C" fn method_set(
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
        match (msg, Method::from_bytes(bytes)) {
            (abi::HY_MSG_CLIENT_REQUEST, Ok(m)) => {
                state.method = m;
                HY_SUCCESS
            }
            _ => HY_ERROR,
        }
    })
}

unsafe extern "C" fn url_get(
    txn: *mut hy_txn,
    url: hy_url,
    part: hy_url_part,
    value: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        let Some(parts) = url_of(state, url) else { return HY_ERROR };
        let text = match part {
            abi::HY_URL_PART_SCHEME => parts.scheme.clone(),
            abi::HY_URL_PART_HOST => parts.host.clone(),
            abi::HY_URL_PART_PORT => parts.port.map(|p| p.to_string()).unwrap_or_default(),
            abi::HY_URL_PART_PATH => parts.path.clone(),
            abi::HY_URL_PART_QUERY => parts.query.clone(),
            _ => return HY_ERROR,
        };
        let view = state.keep(text);
        // SAFETY: `value` is null or writable.
        unsafe { put(value, view) }
    })
}

unsafe extern "C" fn url_set(
    txn: *mut hy_txn,
    url: hy_url,
    part: hy_url_part,
    value: *const c_char,
    len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_set`.
        let (Some(state), Some(bytes)) = (unsafe { state(txn) }, unsafe { bytes(value, len) })
        else {
            return HY_ERROR;
        };
        let Ok(text) = std::str::from_utf8(bytes) else { return HY_ERROR };
        if url != abi::HY_URL_REQUEST || text.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return HY_ERROR;
        }
        let parts = &mut state.url;
        match part {
            abi::HY_URL_PART_SCHEME if matches!(text, "http" | "https") => {
                parts.scheme = text.to_owned()
            }
            abi::HY_URL_PART_HOST if !text.is_empty() && !text.contains(['/', '?', '#', '@']) => {
                parts.host = text.to_owned();
            }
            abi::HY_URL_PART_PORT if text.is_empty() => parts.port = None,
            abi::HY_URL_PART_PORT => match text.parse::<u16>() {
                Ok(port) if port > 0 => parts.port = Some(port),
                _ => return HY_ERROR,
            },
            abi::HY_URL_PART_PATH if text.starts_with('/') && !text.contains(['?', '#']) => {
                parts.path = text.to_owned();
            }
            abi::HY_URL_PART_QUERY if !text.contains('#') => parts.query = text.to_owned(),
            _ => return HY_ERROR,
        }
        HY_SUCCESS
    })
}

unsafe extern "C" fn url_string_get(
    txn: *mut hy_txn,
    url: hy_url,
    value: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        let Some(parts) = url_of(state, url) else { return HY_ERROR };
        let text = parts.to_url_string();
        let view = state.keep(text);
        // SAFETY: `value` is null or writable.
        unsafe { put(value, view) }
    })
}

unsafe extern "C" fn header_get(
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
        let Some(headers) = headers_of(state, msg) else { return HY_ERROR };
        let Ok(name) = HeaderName::from_bytes(name) else { return HY_ERROR };
        let Some(found) = headers.get_all(&name).iter().nth(index) else { return HY_ERROR };
        let view = hy_str { ptr: found.as_bytes().as_ptr().cast(), len: found.len() };
        // SAFETY: `value` is null or writable; the view stays valid until the header changes.
        unsafe { put(value, view) }
    })
}

unsafe extern "C" fn header_field_get(
    txn: *mut hy_txn,
    msg: hy_msg,
    position: usize,
    name: *mut hy_str,
    value: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
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

unsafe extern "C" fn header_set(
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

unsafe extern "C" fn header_add(
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

unsafe extern "C" fn header_remove(
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

unsafe extern "C" fn status_get(_txn: *mut hy_txn, _msg: hy_msg, _status: *mut i32) -> hy_return {
    unavailable("status_get");
    HY_ERROR
}

unsafe extern "C" fn status_set(_txn: *mut hy_txn, _msg: hy_msg, _status: i32) -> hy_return {
    unavailable("status_set");
    HY_ERROR
}

unsafe extern "C" fn direct_response(
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
        match u16::try_from(status) {
            Ok(status @ 100..=999) => {
                state.direct = Some((status, body.to_vec()));
                HY_SUCCESS
            }
            _ => HY_ERROR,
        }
    })
}

unsafe extern "C" fn cont_create(
    _this: *mut hy_plugin,
    _handler: hy_cont_handler,
    _data: *mut c_void,
) -> *mut hy_cont {
    unavailable("cont_create");
    std::ptr::null_mut()
}

unsafe extern "C" fn cont_destroy(_cont: *mut hy_cont) {
    unavailable("cont_destroy");
}

unsafe extern "C" fn cont_data_get(_cont: *mut hy_cont) -> *mut c_void {
    unavailable("cont_data_get");
    std::ptr::null_mut()
}

unsafe extern "C" fn cont_schedule(_cont: *mut hy_cont, _delay_ms: u64) -> hy_return {
    unavailable("cont_schedule");
    HY_ERROR
}

unsafe extern "C" fn hook_add(
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: hy_hook_id,
    _cont: *mut hy_cont,
    _priority: i32,
    _callback: *mut u64,
) -> hy_return {
    unavailable("hook_add");
    HY_ERROR
}

unsafe extern "C" fn txn_resume(_txn: *mut hy_txn, _result: hy_hook_result) -> hy_return {
    unavailable("txn_resume");
    HY_ERROR
}

unsafe extern "C" fn ssn_resume(_ssn: *mut hy_ssn, _result: hy_hook_result) -> hy_return {
    unavailable("ssn_resume");
    HY_ERROR
}

unsafe extern "C" fn txn_ssn_get(_txn: *mut hy_txn) -> *mut hy_ssn {
    unavailable("txn_ssn_get");
    std::ptr::null_mut()
}

unsafe extern "C" fn user_arg_reserve(
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
        let Ok(kind) = Kind::try_from(kind) else { return HY_ERROR };
        match super::user_args().reserve_raw(kind, name, description.unwrap_or("")) {
            // SAFETY: `index` is null or writable.
            Ok(raw) => unsafe { put_i32(index, raw) },
            Err(_) => HY_ERROR,
        }
    })
}

unsafe extern "C" fn user_arg_name_lookup(
    kind: hy_user_arg_type,
    name: *const c_char,
    index: *mut i32,
    description: *mut *const c_char,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `user_arg_reserve`.
        let Some(name) = (unsafe { c_str(name) }) else { return HY_ERROR };
        let Ok(kind) = Kind::try_from(kind) else { return HY_ERROR };
        let Some(found) = super::user_args().find_raw(kind, name) else { return HY_ERROR };
        // SAFETY: the out-pointers are null or writable; the strings live as long as the process.
        unsafe {
            put_i32(index, found.raw_index());
            put_c(description, found.description_c().as_ptr());
        }
        HY_SUCCESS
    })
}

unsafe extern "C" fn user_arg_index_lookup(
    kind: hy_user_arg_type,
    index: i32,
    name: *mut *const c_char,
    description: *mut *const c_char,
) -> hy_return {
    guard(HY_ERROR, || {
        let Ok(kind) = Kind::try_from(kind) else { return HY_ERROR };
        let Ok(found) = super::user_args().describe_raw(kind, index) else { return HY_ERROR };
        // SAFETY: as in `user_arg_name_lookup`.
        unsafe {
            put_c(name, found.name_c().as_ptr());
            put_c(description, found.description_c().as_ptr());
        }
        HY_SUCCESS
    })
}

unsafe extern "C" fn user_arg_get(
    object: *mut c_void,
    index: i32,
    value: *mut *mut c_void,
) -> hy_return {
    guard(HY_ERROR, || {
        let registry = super::user_args();
        let addr = if object.is_null() {
            let Ok(slot) = registry.index::<Glb>(index) else { return HY_ERROR };
            registry.global().get_ptr(slot)
        } else {
            // SAFETY: a non-null object of a transaction index is a lent `TxnState`.
            let Some(state) = (unsafe { state(object.cast()) }) else { return HY_ERROR };
            let Ok(slot) = registry.index::<Txn>(index) else { return HY_ERROR };
            state.slots.get_ptr(slot)
        };
        if value.is_null() {
            return HY_ERROR;
        }
        // SAFETY: `value` is writable (checked non-null); the address is the plugin's own.
        unsafe { *value = std::ptr::with_exposed_provenance_mut(addr) };
        HY_SUCCESS
    })
}

unsafe extern "C" fn user_arg_set(
    object: *mut c_void,
    index: i32,
    value: *mut c_void,
) -> hy_return {
    guard(HY_ERROR, || {
        let registry = super::user_args();
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
        let Some(state) = (unsafe { state(object.cast()) }) else { return HY_ERROR };
        let Ok(slot) = registry.index::<Txn>(index) else { return HY_ERROR };
        state.slots.set_ptr(slot, addr);
        HY_SUCCESS
    })
}

unsafe extern "C" fn plugin_priority_get(
    _this: *mut hy_plugin,
    _priority: *mut i32,
    _ceiling: *mut i32,
) -> hy_return {
    unavailable("plugin_priority_get");
    HY_ERROR
}

unsafe extern "C" fn plugin_priority_set(_this: *mut hy_plugin, _priority: i32) -> hy_return {
    unavailable("plugin_priority_set");
    HY_ERROR
}

unsafe extern "C" fn plugin_enable_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _plugin: *const c_char,
    _len: usize,
    _enabled: i32,
) -> hy_return {
    unavailable("plugin_enable_set");
    HY_ERROR
}

unsafe extern "C" fn threshold_get(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: i32,
    _threshold: *mut i32,
) -> hy_return {
    unavailable("threshold_get");
    HY_ERROR
}

unsafe extern "C" fn threshold_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: i32,
    _threshold: i32,
) -> hy_return {
    unavailable("threshold_set");
    HY_ERROR
}

unsafe extern "C" fn callback_list(
    _txn: *mut hy_txn,
    _hook: hy_hook_id,
    _infos: *mut hy_callback_info,
    _capacity: usize,
    _count: *mut usize,
) -> hy_return {
    unavailable("callback_list");
    HY_ERROR
}

unsafe extern "C" fn callback_priority_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: hy_hook_id,
    _callback: u64,
    _priority: i32,
) -> hy_return {
    unavailable("callback_priority_set");
    HY_ERROR
}

unsafe extern "C" fn callback_enable_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: hy_hook_id,
    _callback: u64,
    _enabled: i32,
) -> hy_return {
    unavailable("callback_enable_set");
    HY_ERROR
}

unsafe extern "C" fn callback_remove(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: hy_hook_id,
    _callback: u64,
) -> hy_return {
    unavailable("callback_remove");
    HY_ERROR
}
