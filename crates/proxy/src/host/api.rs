//! The functions of `hy_api`, as the proxy serves them (see `include/hookyard.h` for each
//! contract). Each one catches panics and checks its pointers.

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

use hookyard_abi::{
    self as abi, HY_ERROR, HY_SUCCESS, hy_api, hy_callback_info, hy_cont, hy_cont_handler,
    hy_hook_id, hy_hook_level, hy_hook_result, hy_log_level, hy_msg, hy_plugin, hy_return, hy_ssn,
    hy_str, hy_txn, hy_url, hy_url_part, hy_user_arg_type,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hookyard_context::Continuation;
use hookyard_hooks::{CallbackId, Control, Entry, HookId, Priorities, Priority, Tables};
use hookyard_userargs::{Conn, Glb, Kind, Ssn, Txn};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::pending::Resumed;
use super::{
    CCont, Callback, PluginState, Registration, ResponseHead, SSN_TAG, SsnState, TXN_TAG, Target,
    TxnState, UrlParts,
};

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

/// # Safety
///
/// As for `state`, for a session.
unsafe fn ssn_state<'a>(ssn: *mut hy_ssn) -> Option<&'a mut SsnState> {
    // SAFETY: per the contract.
    if unsafe { tag(ssn.cast_const().cast()) } != Some(SSN_TAG) {
        return None;
    }
    // SAFETY: tagged as a session.
    unsafe { ssn.cast::<SsnState>().as_mut() }
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
        abi::HY_URL_REMAP_FROM => state.rule.as_ref().map(|r| &r.from),
        abi::HY_URL_REMAP_TO => state.rule.as_ref().map(|r| &r.to),
        _ => None,
    }
}

/// The headers of a message, once it exists.
fn headers_of(state: &mut TxnState, msg: hy_msg) -> Option<&mut HeaderMap> {
    match msg {
        abi::HY_MSG_CLIENT_REQUEST => Some(&mut state.headers),
        abi::HY_MSG_ORIGIN_REQUEST => state.origin_request.as_mut(),
        _ => response_of(state, msg).map(|r| &mut r.headers),
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

unsafe extern "C" fn status_get(txn: *mut hy_txn, msg: hy_msg, status: *mut i32) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        let Some(head) = response_of(state, msg) else { return HY_ERROR };
        // SAFETY: `status` is null or writable.
        unsafe { put_i32(status, i32::from(head.status.as_u16())) }
    })
}

unsafe extern "C" fn status_set(txn: *mut hy_txn, msg: hy_msg, status: i32) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        let Some(head) = response_of(state, msg) else { return HY_ERROR };
        // No 1xx: the proxy writes every response message as final, and HTTP/1 framing has no
        // final 1xx (hyper would take 101 for a protocol switch).
        let Some(code) = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|code| !code.is_informational())
        else {
            return HY_ERROR;
        };
        head.status = code;
        if msg == abi::HY_MSG_CLIENT_RESPONSE
            && let Some((direct, _)) = &mut state.direct
        {
            *direct = code.as_u16();
        }
        HY_SUCCESS
    })
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
            // No 1xx, as in `status_set`.
            Ok(status @ 200..=999) => {
                let Ok(code) = StatusCode::from_u16(status) else { return HY_ERROR };
                state.direct = Some((status, body.to_vec()));
                state.client_response =
                    Some(ResponseHead { status: code, headers: HeaderMap::new() });
                HY_SUCCESS
            }
            _ => HY_ERROR,
        }
    })
}

unsafe extern "C" fn cont_create(
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

unsafe extern "C" fn cont_destroy(cont: *mut hy_cont) {
    guard((), || {
        if !cont.is_null() {
            // SAFETY: a continuation of `cont_create`, destroyed once (contract).
            unsafe { super::destroy(cont.cast_const().cast()) };
        }
    });
}

unsafe extern "C" fn cont_data_get(cont: *mut hy_cont) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: null or a live continuation of `cont_create` (contract).
        unsafe { callback(cont) }.map_or(std::ptr::null_mut(), |c| c.handler().data())
    })
}

unsafe extern "C" fn cont_schedule(cont: *mut hy_cont, delay_ms: u64) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `cont_data_get`.
        let Some(callback) = (unsafe { callback_arc(cont) }) else { return HY_ERROR };
        if callback.handler().is_destroyed() {
            return HY_ERROR;
        }
        if super::schedule(callback, Duration::from_millis(delay_ms)) {
            HY_SUCCESS
        } else {
            HY_ERROR
        }
    })
}

unsafe extern "C" fn hook_add(
    level: hy_hook_level,
    object: *mut c_void,
    hook: hy_hook_id,
    cont: *mut hy_cont,
    priority: i32,
    callback: *mut u64,
) -> hy_return {
    guard(HY_ERROR, || {
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
                ssn.hooks.add(hook, cont, priority, &priorities).ok()
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
        current
            .edit(|table| {
                table.add_with_id(hook, registration.callback, priority, &current.priorities, id)
            })
            .ok()?;
    }
    Some(id)
}

unsafe extern "C" fn txn_resume(txn: *mut hy_txn, result: hy_hook_result) -> hy_return {
    // SAFETY: the caller's contract is this function's.
    unsafe { txn_resume_by(None, txn, result) }
}

unsafe extern "C" fn ssn_resume(ssn: *mut hy_ssn, result: hy_hook_result) -> hy_return {
    // SAFETY: the caller's contract is this function's.
    unsafe { ssn_resume_by(None, ssn, result) }
}

/// `txn_resume` called by plugin version `caller` (`None`: unknown); see `host/pending.rs` for
/// what is refused.
///
/// # Safety
///
/// As `txn_resume`: `txn` is null or a transaction of this host.
pub(super) unsafe fn txn_resume_by(
    caller: Option<u64>,
    txn: *mut hy_txn,
    result: hy_hook_result,
) -> hy_return {
    guard(HY_ERROR, || {
        if !matches!(result, abi::HY_HOOK_CONTINUE | abi::HY_HOOK_ERROR) {
            return HY_ERROR;
        }
        // SAFETY: a transaction of this host (contract); kept while a resume may come.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        match state.resume_handle().resume(caller, result) {
            Resumed::Done => HY_SUCCESS,
            Resumed::Abandoned => {
                // SAFETY: abandoned by its box while pending; ours now, and no reference to
                // it is used after this.
                unsafe { super::free_abandoned(txn.cast::<TxnState>()) };
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
pub(super) unsafe fn ssn_resume_by(
    caller: Option<u64>,
    ssn: *mut hy_ssn,
    result: hy_hook_result,
) -> hy_return {
    guard(HY_ERROR, || {
        if !matches!(result, abi::HY_HOOK_CONTINUE | abi::HY_HOOK_ERROR) {
            return HY_ERROR;
        }
        // SAFETY: a session of this host (contract).
        let Some(state) = (unsafe { ssn_state(ssn) }) else { return HY_ERROR };
        match state.resume_handle().resume(caller, result) {
            Resumed::Done => HY_SUCCESS,
            Resumed::Abandoned => {
                // SAFETY: as in `txn_resume_by`.
                unsafe { super::free_abandoned(ssn.cast::<SsnState>()) };
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

unsafe extern "C" fn txn_ssn_get(txn: *mut hy_txn) -> *mut hy_ssn {
    guard(std::ptr::null_mut(), || {
        // SAFETY: as in `method_get`.
        unsafe { state(txn) }.map_or(std::ptr::null_mut(), |s| s.ssn_ptr().cast())
    })
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
        // SAFETY: a non-null object is a lent transaction or session (contract).
        } else if let Some(state) = unsafe { state(object.cast()) } {
            let Ok(slot) = registry.index::<Txn>(index) else { return HY_ERROR };
            state.slots.get_ptr(slot)
        // SAFETY: as above.
        } else if let Some(ssn) = unsafe { ssn_state(object.cast()) } {
            if let Ok(slot) = registry.index::<Ssn>(index) {
                ssn.slots.get_ptr(slot)
            } else if let Ok(slot) = registry.index::<Conn>(index) {
                ssn.conn_slots.get_ptr(slot)
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
        if let Some(state) = unsafe { state(object.cast()) } {
            let Ok(slot) = registry.index::<Txn>(index) else { return HY_ERROR };
            state.slots.set_ptr(slot, addr);
            return HY_SUCCESS;
        }
        // SAFETY: as in `user_arg_get`.
        let Some(ssn) = (unsafe { ssn_state(object.cast()) }) else { return HY_ERROR };
        if let Ok(slot) = registry.index::<Ssn>(index) {
            ssn.slots.set_ptr(slot, addr);
        } else if let Ok(slot) = registry.index::<Conn>(index) {
            ssn.conn_slots.set_ptr(slot, addr);
        } else {
            return HY_ERROR;
        }
        HY_SUCCESS
    })
}

unsafe extern "C" fn plugin_priority_get(
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

unsafe extern "C" fn plugin_priority_set(this: *mut hy_plugin, priority: i32) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `log`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let Some(priorities) = plugin.priorities() else { return HY_ERROR };
        let id = priorities.plugin(&plugin.name);
        if priorities.set_priority(id, Priority(priority)).is_err() {
            return HY_ERROR;
        }
        if let Some(current) = plugin.serving()
            && Arc::ptr_eq(&current.priorities, &priorities)
        {
            current.edit(|table| table.refresh_priorities(&current.priorities));
        }
        HY_SUCCESS
    })
}

/// The control of a session or transaction object, with the priorities it is judged by.
///
/// # Safety
///
/// `object` is null or a transaction or session lent to the plugin now.
unsafe fn control_of<'a>(
    plugin: &PluginState,
    level: hy_hook_level,
    object: *mut c_void,
) -> Option<(&'a mut Control, Arc<Priorities>)> {
    match level {
        abi::HY_HOOK_LEVEL_TXN => {
            // SAFETY: per the contract.
            let state = unsafe { state(object.cast()) }?;
            let priorities = state.global.priorities.clone();
            Some((&mut state.control, priorities))
        }
        abi::HY_HOOK_LEVEL_SESSION => {
            // SAFETY: per the contract.
            let ssn = unsafe { ssn_state(object.cast()) }?;
            Some((&mut ssn.control, plugin.priorities()?))
        }
        _ => None,
    }
}

fn hook_or_any(hook: i32) -> Option<Option<HookId>> {
    if hook == abi::HY_HOOK_ANY {
        return Some(None);
    }
    u32::try_from(hook).ok().and_then(HookId::from_number).map(Some)
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

unsafe extern "C" fn plugin_enable_set(
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
        // SAFETY: per `control_of`'s contract, which the plugin's contract gives.
        let Some((control, priorities)) = (unsafe { control_of(plugin, level, object) }) else {
            return HY_ERROR;
        };
        let caller = priorities.caller(priorities.plugin(&plugin.name));
        let target = priorities.plugin(name);
        ok(control.set_plugin_enabled(target, enabled != 0, &caller, &priorities))
    })
}

unsafe extern "C" fn threshold_get(
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
            // SAFETY: as in `plugin_enable_set`.
            let Some((control, _)) = (unsafe { control_of(plugin, level, object) }) else {
                return HY_ERROR;
            };
            control.threshold(hook)
        };
        // SAFETY: `threshold` is null or writable.
        unsafe { put_i32(threshold, found.map_or(abi::HY_THRESHOLD_NONE, |p| p.0)) }
    })
}

unsafe extern "C" fn threshold_set(
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
        // SAFETY: as in `plugin_enable_set`.
        let Some((control, priorities)) = (unsafe { control_of(plugin, level, object) }) else {
            return HY_ERROR;
        };
        let caller = priorities.caller(priorities.plugin(&plugin.name));
        ok(control.set_threshold(hook, threshold, &caller))
    })
}

unsafe extern "C" fn callback_list(
    txn: *mut hy_txn,
    hook: hy_hook_id,
    infos: *mut hy_callback_info,
    capacity: usize,
    count: *mut usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        let Some(hook) = u32::try_from(hook).ok().and_then(HookId::from_number) else {
            return HY_ERROR;
        };
        if count.is_null() || (capacity > 0 && infos.is_null()) {
            return HY_ERROR;
        }
        let table = state.global.table.load_full();
        let listed = hookyard_hooks::callbacks(
            hook,
            Some(&*table),
            &state.global.priorities,
            &state.local(),
        );
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
/// As for `control_of`.
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
        let (session, txn): (*mut SsnState, *mut TxnState) = match level {
            abi::HY_HOOK_LEVEL_TXN => {
                // SAFETY: per the contract.
                let Some(state) = (unsafe { state(object.cast()) }) else { return HY_ERROR };
                (state.ssn_ptr(), state)
            }
            abi::HY_HOOK_LEVEL_SESSION => {
                // SAFETY: per the contract.
                let Some(ssn) = (unsafe { ssn_state(object.cast()) }) else { return HY_ERROR };
                (ssn, std::ptr::null_mut())
            }
            _ => return HY_ERROR,
        };
        // SAFETY: both null or lent to the plugin now; only read here.
        let (ssn_ref, txn_ref) = unsafe { (session.as_ref(), txn.as_ref()) };
        let priorities = match txn_ref {
            Some(t) => t.global.priorities.clone(),
            None => match plugin.priorities() {
                Some(p) => p,
                None => return HY_ERROR,
            },
        };
        let global = match txn_ref {
            Some(t) => Some(t.global.table.load_full()),
            None => plugin.serving().map(|g| g.table.load_full()),
        };
        let tables = Tables {
            global: global.as_deref(),
            session: ssn_ref.map(|s| &s.hooks),
            txn: txn_ref.map(|t| &t.hooks),
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
            if txn_ref.is_some() { ssn_ref.map(|s| s.control.clone()) } else { None };
        let mut control = match txn_ref {
            Some(t) => t.control.clone(),
            None => match ssn_ref {
                Some(s) => s.control.clone(),
                None => return HY_ERROR,
            },
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
        // SAFETY: as above; the shared borrows end before this write.
        unsafe {
            if txn.is_null() {
                (*session).control = control;
            } else {
                (*txn).control = control;
            }
        }
        HY_SUCCESS
    })
}

unsafe extern "C" fn callback_priority_set(
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

unsafe extern "C" fn callback_enable_set(
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

unsafe extern "C" fn callback_remove(
    this: *mut hy_plugin,
    level: hy_hook_level,
    object: *mut c_void,
    hook: hy_hook_id,
    callback: u64,
) -> hy_return {
    // SAFETY: forwarded.
    unsafe { change_callback(this, level, object, hook, callback, Change::Remove) }
}
