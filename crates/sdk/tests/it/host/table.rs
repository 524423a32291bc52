//! The test host's `hy_api` functions. Each catches panics (a test-host bug must not unwind into
//! the plugin) and answers `HY_ERROR` for anything the contract does not allow, by the rules
//! every host applies (`hookyard_abi::rules`; `conformance.rs` runs the shared cases).

use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hookyard_abi::{
    self as abi, HY_ERROR, HY_SUCCESS, hy_api, hy_callback_info, hy_cont, hy_cont_handler,
    hy_plugin, hy_return, hy_ssn, hy_str, hy_txn, rules,
};

use super::{
    ContObj, Control, Hook, MSG_TAG, MockConn, MockLifecycleMsg, MockMsg, MockSsn, MockStat,
    MockTransform, MockTxn, PluginRec, lock,
};

/// The table for the plugin at `plugin`.
pub(crate) fn table(plugin: *mut hy_plugin) -> hy_api {
    hookyard_abi::hy_api_table!(plugin, self)
}

fn guarded<R>(fallback: R, f: impl FnOnce() -> Option<R>) -> R {
    catch_unwind(AssertUnwindSafe(f)).ok().flatten().unwrap_or(fallback)
}

fn ok(success: bool) -> Option<hy_return> {
    success.then_some(HY_SUCCESS)
}

/// # Safety
///
/// `plugin` is NULL or the pointer this host put in the table.
unsafe fn plugin<'a>(plugin: *mut hy_plugin) -> Option<&'a PluginRec> {
    // SAFETY: per the contract; the `TestHost` outlives the plugin's calls.
    unsafe { plugin.cast::<PluginRec>().as_ref() }
}

/// # Safety
///
/// `txn` is null or a `hy_txn *` this host lent.
unsafe fn txn<'a>(txn: *mut hy_txn) -> Option<&'a MockTxn> {
    // SAFETY: per the contract.
    unsafe { MockTxn::from_ptr(txn.cast()) }
}

/// # Safety
///
/// `ptr` is NULL (refused unless `len` is 0) or readable for `len` bytes.
unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> Option<&'a [u8]> {
    rules::span(ptr.is_null(), len).ok()?;
    if len == 0 {
        return Some(&[]);
    }
    // SAFETY: per the contract.
    Some(unsafe { std::slice::from_raw_parts(ptr.cast(), len) })
}

/// # Safety
///
/// As [`bytes`].
unsafe fn text<'a>(ptr: *const c_char, len: usize) -> Option<&'a str> {
    // SAFETY: per the contract.
    std::str::from_utf8(unsafe { bytes(ptr, len) }?).ok()
}

/// A rule's answer, for `guarded` closures: `Some(())` to go on, `None` for `HY_ERROR`.
fn rule<T>(checked: rules::Checked<T>) -> Option<T> {
    checked.ok()
}

/// # Safety
///
/// `out` is NULL (nothing is written) or writable.
unsafe fn put(out: *mut hy_str, value: &[u8]) {
    // SAFETY: per the contract.
    if let Some(out) = unsafe { out.as_mut() } {
        *out = hy_str { ptr: value.as_ptr().cast(), len: value.len() };
    }
}

// -- Logging and identity -------------------------------------------------------------------------

unsafe extern "C" fn log_enabled(this: *mut hy_plugin, level: i32) -> i32 {
    // Every level is recorded (an unknown one as debug); a NULL handle gets 0.
    let _ = rules::log_level(level);
    i32::from(!this.is_null())
}

unsafe extern "C" fn log(this: *mut hy_plugin, level: i32, message: *const c_char, len: usize) {
    guarded((), || {
        // SAFETY: the plugin passes its handle and `len` readable bytes.
        let (plugin, message) = unsafe { (plugin(this)?, bytes(message, len)?) };
        plugin.state.log(rules::log_level(level), String::from_utf8_lossy(message).into_owned());
        Some(())
    });
}

unsafe extern "C" fn plugin_name_get(this: *mut hy_plugin, name: *mut hy_str) {
    // SAFETY: the plugin passes its handle and a writable out-parameter; the name lives as long
    // as the host.
    guarded((), || {
        // SAFETY: as stated above.
        unsafe { put(name, plugin(this)?.name.as_bytes()) };
        Some(())
    });
}

unsafe extern "C" fn plugin_version_get(this: *mut hy_plugin, version: *mut hy_str) {
    guarded((), || {
        // SAFETY: as in `plugin_name_get`.
        unsafe { put(version, plugin(this)?.version.as_bytes()) };
        Some(())
    });
}

// -- Messages ---------------------------------------------------------------------------------------

fn msg_mut(data: &mut super::TxnData, msg: i32) -> Option<&mut MockMsg> {
    data.msgs.get_mut(usize::try_from(msg).ok()?)?.as_mut()
}

unsafe extern "C" fn method_get(t: *mut hy_txn, msg: i32, out: *mut hy_str) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; the method stays put until changed.
        let txn = unsafe { txn(t)? };
        rule(rules::request_msg(msg).and(rules::out(out.is_null())))?;
        let mut data = txn.data();
        let m = msg_mut(&mut data, msg)?;
        // SAFETY: writable out-parameter.
        unsafe { put(out, m.method.as_bytes()) };
        ok(true)
    })
}

unsafe extern "C" fn method_set(
    t: *mut hy_txn,
    msg: i32,
    value: *const c_char,
    len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; `len` readable bytes.
        let (txn, value) = unsafe { (txn(t)?, bytes(value, len)?) };
        let value = rule(rules::method_set(msg, value))?;
        value.clone_into(&mut msg_mut(&mut txn.data(), msg)?.method);
        ok(true)
    })
}

unsafe extern "C" fn url_get(t: *mut hy_txn, url: i32, part: i32, out: *mut hy_str) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        rule(rules::url(url).and(rules::url_part(part)).and(rules::out(out.is_null())))?;
        let mut data = txn.data();
        let value = data.urls.get_mut(usize::try_from(url).ok()?)?.as_mut()?.part(part)?;
        // SAFETY: writable out-parameter; the part stays put until changed.
        unsafe { put(out, value.as_bytes()) };
        ok(true)
    })
}

unsafe extern "C" fn url_set(
    t: *mut hy_txn,
    url: i32,
    part: i32,
    value: *const c_char,
    len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; `len` readable bytes.
        let (txn, value) = unsafe { (txn(t)?, bytes(value, len)?) };
        let value = match rule(rules::url_set(url, part, value))? {
            rules::UrlValue::Port(port) => port.map(|p| p.to_string()).unwrap_or_default(),
            rules::UrlValue::Scheme(text)
            | rules::UrlValue::Host(text)
            | rules::UrlValue::Path(text)
            | rules::UrlValue::Query(text) => text.to_owned(),
        };
        let mut data = txn.data();
        *data.urls[0].as_mut()?.part(part)? = value;
        ok(true)
    })
}

unsafe extern "C" fn url_string_get(t: *mut hy_txn, url: i32, out: *mut hy_str) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        rule(rules::url(url).and(rules::out(out.is_null())))?;
        let mut data = txn.data();
        let i = usize::try_from(url).ok()?;
        let s = data.urls[i].as_ref()?.to_string();
        if data.url_strings[i] != s {
            data.url_strings[i] = s;
        }
        // SAFETY: writable out-parameter; the string is kept until the URL changes.
        unsafe { put(out, data.url_strings[i].as_bytes()) };
        ok(true)
    })
}

unsafe extern "C" fn header_get(
    t: *mut hy_txn,
    msg: i32,
    name: *const c_char,
    name_len: usize,
    index: usize,
    out: *mut hy_str,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; `name_len` readable bytes.
        let (txn, name) = unsafe { (txn(t)?, bytes(name, name_len)?) };
        rule(rules::msg(msg).and(rules::out(out.is_null())))?;
        let name = rule(rules::header_name(name))?;
        let mut data = txn.data();
        let m = msg_mut(&mut data, msg)?;
        let value = m.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).nth(index)?;
        // SAFETY: writable out-parameter; the value stays put until the message changes.
        unsafe { put(out, &value.1) };
        ok(true)
    })
}

unsafe extern "C" fn header_field_get(
    t: *mut hy_txn,
    msg: i32,
    position: usize,
    name: *mut hy_str,
    value: *mut hy_str,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        rule(rules::msg(msg).and(rules::out(name.is_null())).and(rules::out(value.is_null())))?;
        let mut data = txn.data();
        let (n, v) = msg_mut(&mut data, msg)?.headers.get(position)?;
        // SAFETY: writable out-parameters; the field stays put until the message changes.
        unsafe {
            put(name, n.as_bytes());
            put(value, v);
        }
        ok(true)
    })
}

/// # Safety
///
/// As the header functions' parameters.
unsafe fn edit(
    t: *mut hy_txn,
    msg: i32,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
    replace: bool,
) -> Option<hy_return> {
    // SAFETY: a lent transaction; readable name and value.
    let (txn, name, value) = unsafe { (txn(t)?, bytes(name, name_len)?, bytes(value, value_len)?) };
    rule(rules::msg(msg).and(rules::header_value(value)))?;
    let name = rule(rules::header_name(name))?;
    let mut data = txn.data();
    let m = msg_mut(&mut data, msg)?;
    if replace {
        m.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
    m.headers.push((name.to_owned(), value.to_vec()));
    ok(true)
}

unsafe extern "C" fn header_set(
    t: *mut hy_txn,
    msg: i32,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> hy_return {
    // SAFETY: forwarded from the plugin.
    guarded(HY_ERROR, || unsafe { edit(t, msg, name, name_len, value, value_len, true) })
}

unsafe extern "C" fn header_add(
    t: *mut hy_txn,
    msg: i32,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> hy_return {
    // SAFETY: forwarded from the plugin.
    guarded(HY_ERROR, || unsafe { edit(t, msg, name, name_len, value, value_len, false) })
}

unsafe extern "C" fn header_remove(
    t: *mut hy_txn,
    msg: i32,
    name: *const c_char,
    name_len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; readable name.
        let (txn, name) = unsafe { (txn(t)?, bytes(name, name_len)?) };
        rule(rules::msg(msg))?;
        let name = rule(rules::header_name(name))?;
        msg_mut(&mut txn.data(), msg)?.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        ok(true)
    })
}

unsafe extern "C" fn status_get(t: *mut hy_txn, msg: i32, status: *mut i32) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        rule(rules::response_msg(msg).and(rules::out(status.is_null())))?;
        let s = msg_mut(&mut txn.data(), msg)?.status;
        // SAFETY: writable out-parameter.
        unsafe { status.write(s) };
        ok(true)
    })
}

unsafe extern "C" fn status_set(t: *mut hy_txn, msg: i32, status: i32) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        let status = i32::from(rule(rules::status_set(msg, status))?);
        let mut data = txn.data();
        let msg = msg_mut(&mut data, msg)?;
        if msg.status != status {
            msg.reason = None;
        }
        msg.status = status;
        ok(true)
    })
}

unsafe extern "C" fn direct_response(
    t: *mut hy_txn,
    status: i32,
    body: *const c_char,
    len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; readable body.
        let (txn, body) = unsafe { (txn(t)?, bytes(body, len)?) };
        rule(rules::direct_status(status))?;
        let mut data = txn.data();
        data.direct = Some((status, body.to_vec()));
        data.msgs[3] = Some(MockMsg {
            method: String::new(),
            status,
            headers: vec![("Content-Length".into(), body.len().to_string().into_bytes())],
            reason: None,
        });
        ok(true)
    })
}

// -- Continuations ----------------------------------------------------------------------------------

/// # Safety
///
/// `cont` is NULL or a live continuation this host made.
unsafe fn cont_obj<'a>(cont: *mut hy_cont) -> Option<&'a ContObj> {
    // SAFETY: per the contract: the host's map holds it while it is live.
    unsafe { cont.cast::<ContObj>().as_ref() }
}

unsafe extern "C" fn cont_create(
    this: *mut hy_plugin,
    handler: Option<hy_cont_handler>,
    data: *mut c_void,
) -> *mut hy_cont {
    guarded(std::ptr::null_mut(), || {
        // SAFETY: the plugin passes its handle.
        let plugin = unsafe { plugin(this)? };
        Some(plugin.state.create_cont(plugin, handler?, data))
    })
}

unsafe extern "C" fn cont_destroy(cont: *mut hy_cont) {
    guarded((), || {
        // SAFETY: a live continuation of this host.
        let state = unsafe { cont_obj(cont) }?.state()?;
        state.destroy_cont(cont);
        Some(())
    });
}

unsafe extern "C" fn cont_data_get(cont: *mut hy_cont) -> *mut c_void {
    // SAFETY: a live continuation of this host.
    guarded(std::ptr::null_mut(), || unsafe { cont_obj(cont) }.map(ContObj::data))
}

unsafe extern "C" fn cont_schedule(cont: *mut hy_cont, delay_ms: u64) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a live continuation of this host.
        let state = unsafe { cont_obj(cont) }?.state()?;
        ok(state.is_live(cont as usize) && state.schedule(cont, Duration::from_millis(delay_ms)))
    })
}

// -- Hooks --------------------------------------------------------------------------------------------

unsafe extern "C" fn hook_add(
    level: i32,
    object: *mut c_void,
    hook: i32,
    cont: *mut hy_cont,
    priority: i32,
    callback: *mut u64,
) -> hy_return {
    guarded(HY_ERROR, || {
        rule(rules::hook_add(level, object.is_null(), hook))?;
        // SAFETY: NULL or a live continuation of this host, created by a plugin whose host is
        // alive.
        let (obj, owner) = unsafe {
            let obj = cont_obj(cont)?;
            (obj, obj.owner())
        };
        let state = obj.state()?;
        if !state.is_live(cont as usize) {
            return None;
        }
        let priority = if priority == abi::HY_PRIORITY_DEFAULT {
            owner.priority.load(std::sync::atomic::Ordering::Relaxed)
        } else {
            priority
        };
        if priority > owner.ceiling {
            return None;
        }
        let id = state.next_callback_id();
        let entry = Hook {
            id,
            hook,
            cont: cont as usize,
            priority,
            level,
            plugin: Arc::clone(&owner.name),
        };
        match level {
            abi::HY_HOOK_LEVEL_GLOBAL if object.is_null() => lock(&state.global_hooks).push(entry),
            abi::HY_HOOK_LEVEL_SESSION => {
                // SAFETY: a lent session.
                let ssn = unsafe { MockSsn::from_ptr(object)? };
                lock(&ssn.data).control.hooks.push(entry);
            }
            abi::HY_HOOK_LEVEL_TXN => {
                // SAFETY: a lent transaction.
                let txn = unsafe { MockTxn::from_ptr(object)? };
                let mut data = txn.data();
                // ATS: the same continuation twice on one hook of a transaction runs once.
                if let Some(existing) =
                    data.control.hooks.iter().find(|h| h.hook == hook && h.cont == cont as usize)
                {
                    let existing = existing.id;
                    drop(data);
                    // SAFETY: writable out-parameter, or NULL.
                    unsafe { callback.as_mut().map(|c| *c = existing) };
                    return ok(true);
                }
                data.control.hooks.push(entry);
            }
            _ => return None,
        }
        // SAFETY: writable out-parameter, or NULL.
        unsafe { callback.as_mut().map(|c| *c = id) };
        ok(true)
    })
}

unsafe extern "C" fn txn_resume(t: *mut hy_txn, result: i32) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a transaction pending on the plugin's hook.
        let txn = unsafe { txn(t)? };
        let result = rule(rules::resume_result(result))?;
        ok(txn.resume(result))
    })
}

unsafe extern "C" fn ssn_resume(s: *mut hy_ssn, result: i32) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent session. This host runs no session hooks, so nothing can be pending.
        let _ssn = unsafe { MockSsn::from_ptr(s.cast())? };
        let _ = result;
        None
    })
}

unsafe extern "C" fn txn_ssn_get(t: *mut hy_txn) -> *mut hy_ssn {
    guarded(std::ptr::null_mut(), || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        Some((&raw const *txn.ssn).cast_mut().cast())
    })
}

// -- User args: one registry per process, as in the real host -------------------------------------

const CAPACITY: [usize; 4] = [16, 8, 4, 128];

struct Registry {
    names: [Vec<(CString, CString)>; 4],
    global: Vec<usize>,
}

static ARGS: Mutex<Registry> = Mutex::new(Registry {
    names: [Vec::new(), Vec::new(), Vec::new(), Vec::new()],
    global: Vec::new(),
});

fn args() -> MutexGuard<'static, Registry> {
    lock(&ARGS)
}

fn kind_of(kind: i32) -> Option<usize> {
    usize::try_from(rule(rules::user_arg_kind(kind))?).ok()
}

/// # Safety
///
/// `s` is null or a C string.
unsafe fn c_str(s: *const c_char) -> Option<CString> {
    // SAFETY: per the contract.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_owned())
}

unsafe extern "C" fn user_arg_reserve(
    kind: i32,
    name: *const c_char,
    description: *const c_char,
    index: *mut i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        let k = kind_of(kind)?;
        rule(rules::out(index.is_null()))?;
        // SAFETY: C strings from the plugin.
        let (name, description) = unsafe { (c_str(name)?, c_str(description).unwrap_or_default()) };
        let mut reg = args();
        let slot = match reg.names[k].iter().position(|(n, _)| *n == name) {
            Some(slot) => slot,
            None if reg.names[k].len() < CAPACITY[k] => {
                reg.names[k].push((name, description));
                reg.names[k].len() - 1
            }
            None => return None,
        };
        // SAFETY: writable out-parameter.
        unsafe { index.write(slot as i32 + (kind + 1) * 1000) };
        ok(true)
    })
}

unsafe extern "C" fn user_arg_name_lookup(
    kind: i32,
    name: *const c_char,
    index: *mut i32,
    description: *mut *const c_char,
) -> hy_return {
    guarded(HY_ERROR, || {
        let k = kind_of(kind)?;
        rule(rules::out(index.is_null()))?;
        // SAFETY: a C string from the plugin.
        let name = unsafe { c_str(name)? };
        let reg = args();
        let slot = reg.names[k].iter().position(|(n, _)| *n == name)?;
        // SAFETY: writable out-parameters; the strings are never freed.
        unsafe {
            index.write(slot as i32 + (kind + 1) * 1000);
            if let Some(d) = description.as_mut() {
                *d = reg.names[k][slot].1.as_ptr();
            }
        }
        ok(true)
    })
}

/// The kind and slot of a raw index.
fn split(index: i32) -> Option<(usize, usize)> {
    let kind = usize::try_from(index / 1000 - 1).ok().filter(|k| *k < 4)?;
    let slot = usize::try_from(index % 1000).ok()?;
    (slot < args().names[kind].len()).then_some((kind, slot))
}

unsafe extern "C" fn user_arg_index_lookup(
    kind: i32,
    index: i32,
    name: *mut *const c_char,
    description: *mut *const c_char,
) -> hy_return {
    guarded(HY_ERROR, || {
        let (k, slot) = split(index).filter(|(k, _)| Some(*k) == kind_of(kind))?;
        let reg = args();
        // SAFETY: writable out-parameters; the strings are never freed.
        unsafe {
            name.as_mut()?.clone_from(&reg.names[k][slot].0.as_ptr());
            if let Some(d) = description.as_mut() {
                *d = reg.names[k][slot].1.as_ptr();
            }
        }
        ok(true)
    })
}

/// The slot of `index` on `object`, read or written by `f`.
///
/// # Safety
///
/// `object` is null, or a lent transaction or session.
unsafe fn with_slot<R>(
    object: *mut c_void,
    index: i32,
    f: impl FnOnce(&mut usize) -> R,
) -> Option<R> {
    let (kind, slot) = split(index)?;
    match kind {
        0 => {
            // SAFETY: per the contract; a session pointer is refused by its tag.
            let txn = unsafe { MockTxn::from_ptr(object)? };
            Some(f(&mut txn.data().args[slot]))
        }
        1 | 2 => {
            // SAFETY: as above.
            let ssn = unsafe { MockSsn::from_ptr(object)? };
            let slot = if kind == 2 { 8 + slot } else { slot };
            Some(f(&mut lock(&ssn.data).args[slot]))
        }
        _ if object.is_null() => {
            let mut reg = args();
            if reg.global.len() <= slot {
                reg.global.resize(slot + 1, 0);
            }
            Some(f(&mut reg.global[slot]))
        }
        _ => None,
    }
}

unsafe extern "C" fn user_arg_get(
    object: *mut c_void,
    index: i32,
    value: *mut *mut c_void,
) -> hy_return {
    guarded(HY_ERROR, || {
        rule(rules::out(value.is_null()))?;
        // SAFETY: the plugin's object; `value` writable.
        unsafe {
            let v = with_slot(object, index, |slot| *slot)?;
            value.write(std::ptr::without_provenance_mut(v));
        }
        ok(true)
    })
}

unsafe extern "C" fn user_arg_set(
    object: *mut c_void,
    index: i32,
    value: *mut c_void,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's object.
        let set = unsafe { with_slot(object, index, |slot| *slot = value as usize) };
        set.map(|()| HY_SUCCESS)
    })
}

// -- Priorities ---------------------------------------------------------------------------------------

unsafe extern "C" fn plugin_priority_get(
    this: *mut hy_plugin,
    priority: *mut i32,
    ceiling: *mut i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        rule(rules::out(priority.is_null()).and(rules::out(ceiling.is_null())))?;
        // SAFETY: the plugin's handle; writable out-parameters.
        unsafe {
            let p = plugin(this)?;
            priority.write(p.priority.load(std::sync::atomic::Ordering::Relaxed));
            ceiling.write(p.ceiling);
        }
        ok(true)
    })
}

unsafe extern "C" fn plugin_priority_set(this: *mut hy_plugin, priority: i32) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's handle.
        let p = unsafe { plugin(this)? };
        if priority > p.ceiling {
            return None;
        }
        p.priority.store(priority, std::sync::atomic::Ordering::Relaxed);
        ok(true)
    })
}

/// The control of a session or transaction scope.
///
/// # Safety
///
/// `object` is a lent session or transaction matching `level`.
unsafe fn control<R>(
    level: i32,
    object: *mut c_void,
    f: impl FnOnce(&mut Control) -> Option<R>,
) -> Option<R> {
    match level {
        // SAFETY: per the contract; the tag refuses the wrong kind.
        abi::HY_HOOK_LEVEL_TXN => f(&mut unsafe { MockTxn::from_ptr(object)? }.data().control),
        abi::HY_HOOK_LEVEL_SESSION => {
            // SAFETY: as above.
            let ssn = unsafe { MockSsn::from_ptr(object)? };
            f(&mut lock(&ssn.data).control)
        }
        _ => None,
    }
}

unsafe extern "C" fn plugin_enable_set(
    this: *mut hy_plugin,
    level: i32,
    object: *mut c_void,
    name: *const c_char,
    len: usize,
    enabled: i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's handle and a readable name.
        let (me, name) = unsafe { (plugin(this)?, text(name, len)?) };
        let allowed = name.as_bytes() == me.name.as_bytes()
            || lock(&me.state.ceilings).get(name).is_some_and(|c| *c < me.ceiling);
        if !allowed {
            return None;
        }
        // SAFETY: the plugin's object for `level`.
        unsafe {
            control(level, object, |c| {
                c.disabled.retain(|d| d != name);
                if enabled == 0 {
                    c.disabled.push(name.to_owned());
                }
                ok(true)
            })
        }
    })
}

unsafe extern "C" fn threshold_get(
    this: *mut hy_plugin,
    level: i32,
    object: *mut c_void,
    hook: i32,
    out: *mut i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        rule(rules::hook_or_any(hook).and(rules::out(out.is_null())))?;
        // SAFETY: the plugin's handle.
        let state = &unsafe { plugin(this) }?.state;
        let value = if level == abi::HY_HOOK_LEVEL_GLOBAL {
            lock(&state.global_thresholds).get(&hook).copied()
        } else {
            // SAFETY: the plugin's object for `level`.
            unsafe { control(level, object, |c| Some(c.thresholds.get(&hook).copied()))? }
        };
        // SAFETY: writable out-parameter.
        unsafe { out.write(value.unwrap_or(abi::HY_THRESHOLD_NONE)) };
        ok(true)
    })
}

unsafe extern "C" fn threshold_set(
    this: *mut hy_plugin,
    level: i32,
    object: *mut c_void,
    hook: i32,
    threshold: i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's handle.
        let me = unsafe { plugin(this)? };
        rule(rules::hook_or_any(hook))?;
        if threshold != abi::HY_THRESHOLD_NONE && threshold > me.ceiling {
            return None;
        }
        let apply = |t: &mut std::collections::HashMap<i32, i32>| {
            if threshold == abi::HY_THRESHOLD_NONE {
                t.remove(&hook);
            } else {
                t.insert(hook, threshold);
            }
            ok(true)
        };
        if level == abi::HY_HOOK_LEVEL_GLOBAL {
            apply(&mut lock(&me.state.global_thresholds))
        } else {
            // SAFETY: the plugin's object for `level`.
            unsafe { control(level, object, |c| apply(&mut c.thresholds)) }
        }
    })
}

unsafe extern "C" fn callback_list(
    t: *mut hy_txn,
    hook: i32,
    infos: *mut hy_callback_info,
    capacity: usize,
    count: *mut usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        rule(rules::hook(hook).and(rules::out(count.is_null())))?;
        if capacity > 0 && infos.is_null() {
            return None;
        }
        let plan = txn.plan(hook);
        let mut data = txn.data();
        for (i, (h, enabled)) in plan.iter().take(capacity).enumerate() {
            let info = hy_callback_info {
                id: h.id,
                plugin: hy_str { ptr: h.plugin.as_ptr(), len: h.plugin.as_bytes().len() },
                hook: h.hook,
                level: h.level,
                priority: h.priority,
                enabled: i32::from(*enabled),
            };
            data.names.push(Arc::clone(&h.plugin));
            // SAFETY: the plugin offers `capacity` entries.
            unsafe { infos.add(i).write(info) };
        }
        // SAFETY: writable out-parameter.
        unsafe { count.write(plan.len()) };
        ok(true)
    })
}

/// The callback `callback` on `hook` as the scope sees it, if the caller may change it.
///
/// # Safety
///
/// As [`control`].
unsafe fn changeable(
    me: &PluginRec,
    level: i32,
    object: *mut c_void,
    hook: i32,
    callback: u64,
) -> Option<Hook> {
    let found = match level {
        // SAFETY: per the contract.
        abi::HY_HOOK_LEVEL_TXN => unsafe { MockTxn::from_ptr(object)? }
            .plan(hook)
            .into_iter()
            .map(|(h, _)| h)
            .find(|h| h.id == callback),
        abi::HY_HOOK_LEVEL_SESSION => {
            // SAFETY: per the contract.
            let ssn = unsafe { MockSsn::from_ptr(object)? };
            let global = lock(&me.state.global_hooks).clone();
            let local = lock(&ssn.data).control.hooks.clone();
            global.into_iter().chain(local).find(|h| h.hook == hook && h.id == callback)
        }
        _ => None,
    }?;
    (found.priority < me.ceiling).then_some(found)
}

unsafe extern "C" fn callback_priority_set(
    this: *mut hy_plugin,
    level: i32,
    object: *mut c_void,
    hook: i32,
    callback: u64,
    priority: i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's handle and object.
        unsafe {
            let me = plugin(this)?;
            changeable(me, level, object, hook, callback)?;
            if priority > me.ceiling {
                return None;
            }
            control(level, object, |c| {
                c.overrides.entry(callback).or_default().priority = Some(priority);
                ok(true)
            })
        }
    })
}

unsafe extern "C" fn callback_enable_set(
    this: *mut hy_plugin,
    level: i32,
    object: *mut c_void,
    hook: i32,
    callback: u64,
    enabled: i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's handle and object.
        unsafe {
            changeable(plugin(this)?, level, object, hook, callback)?;
            control(level, object, |c| {
                c.overrides.entry(callback).or_default().enabled = Some(enabled != 0);
                ok(true)
            })
        }
    })
}

unsafe extern "C" fn callback_remove(
    this: *mut hy_plugin,
    level: i32,
    object: *mut c_void,
    hook: i32,
    callback: u64,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's handle and object.
        unsafe {
            changeable(plugin(this)?, level, object, hook, callback)?;
            control(level, object, |c| {
                c.overrides.entry(callback).or_default().removed = true;
                ok(true)
            })
        }
    })
}

unsafe extern "C" fn server_addr_get(t: *mut hy_txn, out: *mut hy_str) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; the address stays put until set again.
        let txn = unsafe { txn(t)? };
        rule(rules::out(out.is_null()))?;
        let data = txn.data();
        let addr = data.server_addr.as_ref()?;
        // SAFETY: writable out-parameter.
        unsafe { put(out, addr.as_bytes()) };
        ok(true)
    })
}

unsafe extern "C" fn server_addr_set(t: *mut hy_txn, addr: *const c_char, len: usize) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; readable address text.
        let (txn, addr) = unsafe { (txn(t)?, bytes(addr, len)?) };
        let addr = rule(rules::server_addr(addr))?;
        txn.data().server_addr = Some(addr.to_string());
        ok(true)
    })
}

/// Whether `me` may act on the plugin called `name`: itself, or a known plugin it outranks.
fn outranks(me: &PluginRec, name: &str) -> bool {
    name.as_bytes() == me.name.as_bytes()
        || lock(&me.state.ceilings).get(name).is_some_and(|c| *c < me.ceiling)
}

unsafe extern "C" fn plugin_priority_of_get(
    this: *mut hy_plugin,
    name: *const c_char,
    len: usize,
    priority: *mut i32,
    ceiling: *mut i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        rule(rules::out(priority.is_null() || ceiling.is_null()))?;
        // SAFETY: the plugin's handle and a readable name.
        let (me, name) = unsafe { (plugin(this)?, text(name, len)?) };
        let (value, cap) = if name.as_bytes() == me.name.as_bytes() {
            (me.priority.load(std::sync::atomic::Ordering::Relaxed), me.ceiling)
        } else {
            let cap = *lock(&me.state.ceilings).get(name)?;
            (lock(&me.state.priorities).get(name).copied().unwrap_or(0), cap)
        };
        // SAFETY: writable out-parameters (checked).
        unsafe {
            priority.write(value);
            ceiling.write(cap);
        }
        ok(true)
    })
}

unsafe extern "C" fn plugin_priority_of_set(
    this: *mut hy_plugin,
    name: *const c_char,
    len: usize,
    priority: i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's handle and a readable name.
        let (me, name) = unsafe { (plugin(this)?, text(name, len)?) };
        if name.as_bytes() == me.name.as_bytes() {
            // SAFETY: forwarded.
            return Some(unsafe { plugin_priority_set(this, priority) });
        }
        let cap = *lock(&me.state.ceilings).get(name)?;
        if !outranks(me, name) || priority > cap {
            return None;
        }
        lock(&me.state.priorities).insert(name.to_owned(), priority);
        ok(true)
    })
}

#[allow(clippy::too_many_arguments, reason = "one C function of the ABI table")]
unsafe extern "C" fn order_set(
    this: *mut hy_plugin,
    level: i32,
    object: *mut c_void,
    hook: i32,
    first: *const c_char,
    first_len: usize,
    then: *const c_char,
    then_len: usize,
    enabled: i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        rule(rules::hook_or_any(hook))?;
        // SAFETY: the plugin's handle and readable names.
        let (me, first, then) =
            unsafe { (plugin(this)?, text(first, first_len)?, text(then, then_len)?) };
        if first == then || !outranks(me, first) || !outranks(me, then) {
            return None;
        }
        // SAFETY: the plugin's object for `level`.
        unsafe {
            control(level, object, |c| {
                let order = (first.to_owned(), then.to_owned(), hook);
                c.orders.retain(|o| *o != order);
                if enabled != 0 {
                    if c.orders.iter().any(|(f, t, _)| f == then && t == first) {
                        return None;
                    }
                    c.orders.push(order);
                }
                ok(true)
            })
        }
    })
}

// -- The client connection ---------------------------------------------------------------------

/// Writes to `out` what `read` finds in the transaction `t` and its session's connection (`None`
/// for a session of no connection): a view valid until a test changes what it shows.
///
/// # Safety
///
/// `t` is NULL or a `hy_txn *` this host lent; `out` is NULL or writable.
unsafe fn conn_get(
    t: *mut hy_txn,
    out: *mut hy_str,
    read: impl for<'a> FnOnce(&'a super::TxnData, Option<&'a MockConn>) -> Option<&'a [u8]>,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction (contract).
        let txn = unsafe { txn(t)? };
        rule(rules::out(out.is_null()))?;
        // The session's lock first, as everywhere in this host.
        let (ssn, data) = (lock(&txn.ssn.data), txn.data());
        let text = read(&data, ssn.conn.as_ref())?;
        // SAFETY: writable out-parameter (checked).
        unsafe { put(out, text) };
        ok(true)
    })
}

unsafe extern "C" fn client_addr_get(t: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: the plugin's arguments (contract).
    unsafe { conn_get(t, out, |_, conn| Some(conn?.addr.as_bytes())) }
}

unsafe extern "C" fn incoming_addr_get(t: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: the plugin's arguments (contract).
    unsafe { conn_get(t, out, |_, conn| Some(conn?.local.as_bytes())) }
}

unsafe extern "C" fn client_scheme_get(t: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: the plugin's arguments (contract).
    unsafe {
        conn_get(t, out, |_, conn| Some(rules::client_scheme(conn?.tls.is_some()).as_bytes()))
    }
}

unsafe extern "C" fn client_sni_get(t: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: the plugin's arguments (contract).
    unsafe { conn_get(t, out, |_, conn| Some(conn?.tls.as_ref()?.sni.as_ref()?.as_bytes())) }
}

unsafe extern "C" fn client_alpn_get(t: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: the plugin's arguments (contract).
    unsafe { conn_get(t, out, |_, conn| conn?.tls.as_ref()?.alpn.as_deref()) }
}

unsafe extern "C" fn client_tls_version_get(t: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: the plugin's arguments (contract).
    unsafe { conn_get(t, out, |_, conn| Some(conn?.tls.as_ref()?.version.as_bytes())) }
}

unsafe extern "C" fn client_protocol_get(t: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: the plugin's arguments (contract).
    unsafe { conn_get(t, out, |data, _| Some(data.protocol.as_bytes())) }
}

// -- Logging, statistics, messages (1.4) ---------------------------------------------------------

unsafe extern "C" fn log_field_set(
    t: *mut hy_txn,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction and readable spans (contract).
        let (txn, name, value) =
            unsafe { (txn(t)?, bytes(name, name_len)?, bytes(value, value_len)?) };
        let mut data = txn.data();
        let at = data.log_fields.iter().position(|(n, _)| n.as_bytes() == name);
        let (name, value) =
            rule(rules::log_field(name, value, data.log_fields.len(), at.is_some()))?;
        match at {
            Some(at) => data.log_fields[at].1 = value.to_owned(),
            None => data.log_fields.push((name.to_owned(), value.to_owned())),
        }
        ok(true)
    })
}

/// Runs `f` on the statistics of the plugin at `this`.
///
/// # Safety
///
/// As [`plugin`].
unsafe fn with_stats<R>(
    this: *mut hy_plugin,
    f: impl FnOnce(&mut Vec<MockStat>) -> Option<R>,
) -> Option<R> {
    // SAFETY: per the contract.
    let me = unsafe { plugin(this)? };
    let mut stats = lock(&me.state.stats);
    f(stats.entry(me.name.to_str().ok()?.to_owned()).or_default())
}

unsafe extern "C" fn stat_create(
    this: *mut hy_plugin,
    name: *const c_char,
    name_len: usize,
    kind: i32,
    id: *mut i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        rule(rules::out(id.is_null()))?;
        // SAFETY: a readable span (contract).
        let name = rule(rules::stat_create(unsafe { bytes(name, name_len)? }, kind))?;
        // SAFETY: the plugin's own handle (contract).
        let found = unsafe {
            with_stats(this, |stats| {
                let at = stats.iter().position(|(n, _, _)| n == name);
                rule(rules::stat_found(at.map(|at| stats[at].1), kind, stats.len()))?;
                Some(at.unwrap_or_else(|| {
                    stats.push((name.to_owned(), kind, 0));
                    stats.len() - 1
                }))
            })?
        };
        // SAFETY: writable (checked non-null).
        unsafe { *id = i32::try_from(found).ok()? };
        ok(true)
    })
}

/// The statistic `id` of `stats`.
fn stat(stats: &mut [MockStat], id: i32) -> Option<&mut MockStat> {
    stats.get_mut(usize::try_from(id).ok()?)
}

unsafe extern "C" fn stat_increment(this: *mut hy_plugin, id: i32, amount: i64) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's own handle (contract).
        unsafe {
            with_stats(this, |stats| {
                let stat = stat(stats, id)?;
                rule(rules::stat_increment(stat.1, amount))?;
                stat.2 = stat.2.wrapping_add(amount);
                ok(true)
            })
        }
    })
}

unsafe extern "C" fn stat_set(this: *mut hy_plugin, id: i32, value: i64) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's own handle (contract).
        unsafe {
            with_stats(this, |stats| {
                let stat = stat(stats, id)?;
                rule(rules::stat_set(stat.1))?;
                stat.2 = value;
                ok(true)
            })
        }
    })
}

unsafe extern "C" fn stat_get(this: *mut hy_plugin, id: i32, value: *mut i64) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's own handle (contract).
        let found = unsafe { with_stats(this, |stats| Some(stat(stats, id)?.2))? };
        rule(rules::out(value.is_null()))?;
        // SAFETY: writable (checked non-null).
        unsafe { *value = found };
        ok(true)
    })
}

unsafe extern "C" fn msg_reply(
    this: *mut hy_plugin,
    msg: *const abi::hy_lifecycle_msg,
    text: *const c_char,
    len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the plugin's handle, and `msg` NULL or the message of the callback running
        // (its first field); the tag is checked before anything else is read.
        let (me, msg, text) =
            unsafe { (plugin(this)?, msg.cast::<MockLifecycleMsg>().as_ref()?, bytes(text, len)?) };
        if msg.tag != MSG_TAG {
            return None;
        }
        let name = me.name.to_str().ok()?.to_owned();
        let mut replies = lock(&msg.replies);
        let at = match replies.iter().position(|(n, _)| *n == name) {
            Some(at) => at,
            None => {
                replies.push((name, String::new()));
                replies.len() - 1
            }
        };
        let text = rule(rules::msg_reply(text, replies[at].1.len()))?;
        replies[at].1.push_str(text);
        ok(true)
    })
}

// -- Body transforms (since 1.5) ---------------------------------------------------------------

unsafe extern "C" fn transform_add(
    t: *mut hy_txn,
    body: abi::hy_body,
    kind: abi::hy_transform_kind,
    cont: *mut hy_cont,
    priority: i32,
    out: *mut *mut abi::hy_transform,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction (contract).
        let txn = unsafe { txn(t)? };
        let mut data = txn.data();
        let started = |b: rules::transform::Body| data.started[b as usize] || data.direct.is_some();
        let (body, kind) = match rules::transform::transform_add(body, kind, false) {
            Ok((body, kind)) if !started(body) => (body, kind),
            _ => return None,
        };
        let obj = lock(&txn.state.conts).get(&(cont as usize)).cloned()?;
        // SAFETY: the continuation's plugin lives as long as its `TestHost`.
        let owner = unsafe { obj.owner() };
        let priority = if priority == abi::HY_PRIORITY_DEFAULT {
            owner.priority.load(std::sync::atomic::Ordering::Relaxed)
        } else if priority <= owner.ceiling {
            priority
        } else {
            return None;
        };
        let plugin = owner.name.to_str().ok()?.to_owned();
        let transform = Box::new(MockTransform::new(body, kind, cont as usize, priority, plugin));
        if !out.is_null() {
            // SAFETY: optional out-parameter, writable when not NULL.
            unsafe { *out = (&raw const *transform).cast_mut().cast() };
        }
        data.transforms.push(transform);
        ok(true)
    })
}

unsafe extern "C" fn transform_write(
    handle: *mut abi::hy_transform,
    data: *const c_char,
    len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a live transform (contract) and a readable span.
        let (transform, data) = unsafe { (MockTransform::from_ptr(handle)?, bytes(data, len)?) };
        ok(transform.write(data))
    })
}

unsafe extern "C" fn transform_end(handle: *mut abi::hy_transform) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a live transform (contract).
        let transform = unsafe { MockTransform::from_ptr(handle)? };
        ok(transform.end())
    })
}

unsafe extern "C" fn transform_resume(handle: *mut abi::hy_transform, result: i32) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a transform with a pending chunk (contract).
        let transform = unsafe { MockTransform::from_ptr(handle)? };
        ok(transform.resume(result))
    })
}

// -- Reason phrases, the configuration directory (since 1.5) ------------------------------------

unsafe extern "C" fn reason_get(t: *mut hy_txn, msg: i32, reason: *mut hy_str) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        rule(rules::response_msg(msg).and(rules::out(reason.is_null())))?;
        let mut data = txn.data();
        let msg = msg_mut(&mut data, msg)?;
        let standard = u16::try_from(msg.status)
            .ok()
            .and_then(|s| http::StatusCode::from_u16(s).ok())
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let text: &[u8] = match &msg.reason {
            Some(text) => text,
            None => standard.as_bytes(),
        };
        // SAFETY: writable out-parameter; the view lives in the message until it changes.
        unsafe { put(reason, text) };
        ok(true)
    })
}

unsafe extern "C" fn reason_set(
    t: *mut hy_txn,
    msg: i32,
    reason: *const c_char,
    len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction; a readable span.
        let (txn, reason) = unsafe { (txn(t)?, bytes(reason, len)?) };
        let reason = rule(rules::reason_set(msg, reason))?;
        let mut data = txn.data();
        msg_mut(&mut data, msg)?.reason = (!reason.is_empty()).then(|| reason.to_vec());
        ok(true)
    })
}

unsafe extern "C" fn config_dir_get(this: *mut hy_plugin, dir: *mut hy_str) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the pointer this host put in the table, or NULL.
        let plugin = unsafe { plugin(this)? };
        rule(rules::out(dir.is_null()))?;
        let dirs = lock(&plugin.state.config_dir);
        let text = dirs.as_deref()?;
        // SAFETY: writable out-parameter; the text lives until the test changes it.
        unsafe { put(dir, text.as_bytes()) };
        ok(true)
    })
}

unsafe extern "C" fn plugin_dir_get(this: *mut hy_plugin, dir: *mut hy_str) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the pointer this host put in the table, or NULL.
        let plugin = unsafe { plugin(this)? };
        rule(rules::out(dir.is_null()))?;
        let known = lock(&plugin.state.plugin_dir);
        let text = known.as_deref()?;
        // SAFETY: writable out-parameter; the text lives until the test changes it.
        unsafe { put(dir, text.as_bytes()) };
        ok(true)
    })
}

unsafe extern "C" fn host_status_set(
    this: *mut hy_plugin,
    name: *const c_char,
    name_len: usize,
    up: i32,
    reason: *const c_char,
    reason_len: usize,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the pointer this host put in the table, or NULL; readable spans.
        let (plugin, name, reason) =
            unsafe { (plugin(this)?, bytes(name, name_len)?, bytes(reason, reason_len)?) };
        let (name, reason) = rule(rules::host_status_set(name, up, reason))?;
        let mut hosts = lock(&plugin.state.hosts);
        let mark = hosts.get_mut(name)?;
        *mark = reason.map(str::to_owned);
        ok(true)
    })
}

unsafe extern "C" fn host_status_get(
    this: *mut hy_plugin,
    name: *const c_char,
    name_len: usize,
    up: *mut i32,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: the pointer this host put in the table, or NULL; a readable span.
        let (plugin, name) = unsafe { (plugin(this)?, bytes(name, name_len)?) };
        let name = rule(rules::host_name(name))?;
        rule(rules::out(up.is_null()))?;
        let down = lock(&plugin.state.hosts).get(name)?.is_some();
        // SAFETY: writable out-parameter (checked).
        unsafe { *up = i32::from(!down) };
        ok(true)
    })
}

unsafe extern "C" fn remap_param_get(
    t: *mut hy_txn,
    index: usize,
    param: *mut hy_str,
) -> hy_return {
    guarded(HY_ERROR, || {
        // SAFETY: a lent transaction.
        let txn = unsafe { txn(t)? };
        rule(rules::out(param.is_null()))?;
        let data = txn.data();
        let text = data.remap_params.as_ref()?.get(index)?;
        // SAFETY: writable out-parameter; the text lives until do_remap returns.
        unsafe { put(param, text.as_bytes()) };
        ok(true)
    })
}
