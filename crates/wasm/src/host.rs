//! The host functions a proxy-wasm module imports (`env::proxy_*`), acting on the store's
//! [`HostState`]. Every pointer a module passes is checked against its memory: a bad one is
//! answered `BAD_ARGUMENT`, never followed. Imports this host does not offer (gRPC, shared
//! queues, foreign functions) trap when called, naming the import.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use smallvec::SmallVec;
use tracing::{Level, debug, error, info, trace, warn};
use wasmtime::{Caller, Linker, Memory, StoreLimits, TypedFunc};

use crate::abi::{self, buffer, map, status};
use crate::call::{Call, HttpCall, Properties, REQUEST_PSEUDO};

/// What a plugin's instances share: its name, configuration, tick period and metrics.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) config: Vec<u8>,
    pub(crate) tick_ms: AtomicU32,
    pub(crate) metrics: Mutex<Vec<Metric>>,
}

/// A metric a module defined (`proxy_define_metric`).
#[derive(Debug)]
pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) kind: u32,
    pub(crate) value: AtomicI64,
}

/// The data of one instance's store.
pub(crate) struct HostState {
    pub(crate) limits: StoreLimits,
    pub(crate) shared: Arc<Shared>,
    pub(crate) memory: Option<Memory>,
    /// The module's allocator (shared: a typed function's clone costs more than a count).
    pub(crate) alloc: Option<Arc<TypedFunc<i32, i32>>>,
    pub(crate) call: Call,
    pub(crate) next_token: u32,
}

type Ctx<'a> = Caller<'a, HostState>;
type Answer = wasmtime::Result<i32>;

/// The `len` bytes at `ptr` of a module's memory `data`; `None` when out of bounds.
fn span(data: &[u8], ptr: i32, len: i32) -> Option<&[u8]> {
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    data.get(ptr..ptr.checked_add(len)?)
}

/// Reads `len` bytes at `ptr` of the module's memory; `None` when out of bounds.
fn read(caller: &Ctx<'_>, ptr: i32, len: i32) -> Option<Vec<u8>> {
    let memory = caller.data().memory?;
    span(memory.data(caller), ptr, len).map(<[u8]>::to_vec)
}

/// A field name the module passed (`len` bytes at `ptr`), lowercased; `None` when out of
/// bounds. Short names stay on the stack.
fn read_name(caller: &Ctx<'_>, ptr: i32, len: i32) -> Option<SmallVec<[u8; 64]>> {
    let memory = caller.data().memory?;
    let mut name = SmallVec::from_slice(span(memory.data(caller), ptr, len)?);
    name.make_ascii_lowercase();
    Some(name)
}

/// Writes `bytes` at `ptr`; false when out of bounds.
fn write(caller: &mut Ctx<'_>, ptr: i32, bytes: &[u8]) -> bool {
    let Some(memory) = caller.data().memory else { return false };
    memory.write(caller, ptr as u32 as usize, bytes).is_ok()
}

/// Copies `bytes` into memory the module allocates, and writes its address and length to
/// `ptr_out` and `len_out`.
fn give(caller: &mut Ctx<'_>, bytes: &[u8], ptr_out: i32, len_out: i32) -> Answer {
    let at = if bytes.is_empty() {
        0
    } else {
        let Some(alloc) = caller.data().alloc.clone() else { return Ok(status::INTERNAL_FAILURE) };
        let at = alloc.call(&mut *caller, bytes.len() as i32)?;
        if at == 0 || !write(caller, at, bytes) {
            return Ok(status::INTERNAL_FAILURE);
        }
        at
    };
    let ok = write(caller, ptr_out, &at.to_le_bytes())
        && write(caller, len_out, &(bytes.len() as u32).to_le_bytes());
    Ok(if ok { status::OK } else { status::BAD_ARGUMENT })
}

/// The pseudo-headers and fields of map `kind`, if the current callback has it.
fn pairs(call: &mut Call, kind: i32) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    fn fields(headers: &HeaderMap) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
        headers.iter().map(|(k, v)| (k.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
    }
    match kind {
        map::REQUEST_HEADERS => call.request.as_mut().map(|r| {
            r.fields();
            REQUEST_PSEUDO
                .iter()
                .filter_map(|k| Some((k.as_bytes().to_vec(), r.pseudo(k.as_bytes())?.to_vec())))
                .chain(fields(&r.headers))
                .collect()
        }),
        map::RESPONSE_HEADERS => call.response.as_mut().map(|r| {
            std::iter::once((b":status".to_vec(), r.status.to_string().into_bytes()))
                .chain(fields(r.headers()))
                .collect()
        }),
        map::HTTP_CALL_RESPONSE_HEADERS => call.call_response.as_ref().map(|r| {
            r.status
                .map(|s| (b":status".to_vec(), s.to_string().into_bytes()))
                .into_iter()
                .chain(fields(&r.headers))
                .collect()
        }),
        map::REQUEST_TRAILERS | map::RESPONSE_TRAILERS => Some(Vec::new()),
        _ => None,
    }
}

/// The first value of field `key` (lowercase; a pseudo-header too) of map `kind`, if the
/// current callback has the map and the map the field.
fn value(call: &mut Call, kind: i32, key: &[u8]) -> Option<Vec<u8>> {
    let status = |code: u16| code.to_string().into_bytes();
    let headers = match kind {
        map::REQUEST_HEADERS => {
            let r = call.request.as_mut()?;
            if let Some(pseudo) = r.pseudo(key) {
                return Some(pseudo.to_vec());
            }
            r.fields()
        }
        map::RESPONSE_HEADERS => {
            let r = call.response.as_mut()?;
            if key == b":status" {
                return Some(status(r.status));
            }
            r.headers()
        }
        map::HTTP_CALL_RESPONSE_HEADERS => {
            let r = call.call_response.as_ref()?;
            if key == b":status" {
                return r.status.map(status);
            }
            &r.headers
        }
        _ => return None,
    };
    let name = std::str::from_utf8(key).ok()?;
    headers.get(name).map(|v| v.as_bytes().to_vec())
}

/// How a header map is changed.
#[derive(Clone, Copy)]
enum Edit {
    Replace,
    Add,
    Remove,
}

/// Applies `edit` of `key` (to `value`) to map `kind`; a status.
fn edit(call: &mut Call, kind: i32, edit: Edit, key: &[u8], value: &[u8]) -> i32 {
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let name = HeaderName::from_bytes(key);
    let headers = match kind {
        map::REQUEST_HEADERS => {
            let Some(r) = call.request.as_mut() else { return status::NOT_FOUND };
            if key.starts_with(b":") {
                // A pseudo-header is always there: it can be set, never removed.
                let set = match edit {
                    Edit::Replace | Edit::Add => r.set_pseudo(key, value) == Some(true),
                    Edit::Remove => false,
                };
                return if set { status::OK } else { status::BAD_ARGUMENT };
            }
            match (edit, &name) {
                (Edit::Add, Ok(name)) => r.fields_to_add(name),
                _ => r.fields(),
            }
        }
        map::RESPONSE_HEADERS => {
            let Some(r) = call.response.as_mut() else { return status::NOT_FOUND };
            if key == b":status" {
                return match (edit, text(value).parse::<u16>()) {
                    (Edit::Replace | Edit::Add, Ok(code)) if (100..1000).contains(&code) => {
                        r.status = code;
                        status::OK
                    }
                    _ => status::BAD_ARGUMENT,
                };
            }
            match (edit, &name) {
                (Edit::Add, Ok(name)) => r.fields_to_add(name),
                _ => r.headers(),
            }
        }
        // Trailers are not offered: a change of them has nothing to act on.
        map::REQUEST_TRAILERS | map::RESPONSE_TRAILERS => return status::OK,
        _ => return status::BAD_ARGUMENT,
    };
    let Ok(name) = name else { return status::BAD_ARGUMENT };
    match edit {
        Edit::Remove => {
            headers.remove(&name);
        }
        Edit::Replace | Edit::Add => {
            let Ok(value) = HeaderValue::from_bytes(value) else { return status::BAD_ARGUMENT };
            if matches!(edit, Edit::Replace) {
                headers.insert(name, value);
            } else {
                headers.append(name, value);
            }
        }
    }
    status::OK
}

/// Replaces map `kind` whole with `pairs`; a status.
fn set_pairs(call: &mut Call, kind: i32, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> i32 {
    match kind {
        map::REQUEST_HEADERS => match call.request.as_mut() {
            Some(r) => r.fields().clear(),
            None => return status::NOT_FOUND,
        },
        map::RESPONSE_HEADERS => match call.response.as_mut() {
            Some(r) => r.headers().clear(),
            None => return status::NOT_FOUND,
        },
        map::REQUEST_TRAILERS | map::RESPONSE_TRAILERS => return status::OK,
        _ => return status::BAD_ARGUMENT,
    }
    for (key, value) in pairs {
        let answer = edit(call, kind, Edit::Add, &key, &value);
        if answer != status::OK {
            return answer;
        }
    }
    status::OK
}

/// The value of property `path` (its parts NUL-separated), as Envoy encodes it: strings as
/// their bytes, numbers as 8 little-endian bytes.
fn property(state: &HostState, path: &[u8]) -> Option<Vec<u8>> {
    let props: &Properties = state.call.properties.as_ref()?;
    if let Some(custom) = props.custom.get(path) {
        return Some(custom.clone());
    }
    let parts: Vec<&[u8]> = path.split(|b| *b == 0).collect();
    let number = |n: u64| Some(n.to_le_bytes().to_vec());
    let request = props.request.as_ref();
    match parts.as_slice() {
        [b"request", b"path"] => request.map(|r| r.path.as_str().as_bytes().to_vec()),
        [b"request", b"url_path"] => request.map(|r| r.path.path().as_bytes().to_vec()),
        [b"request", b"method"] => request.map(|r| r.method.as_str().as_bytes().to_vec()),
        [b"request", b"host"] => request.map(|r| r.authority.as_bytes().to_vec()),
        [b"request", b"scheme"] => request.map(|r| r.scheme.as_str().as_bytes().to_vec()),
        [b"request", b"protocol"] => Some(props.protocol.as_bytes().to_vec()),
        [b"source", b"address"] => props.source.map(|a| a.to_string().into_bytes()),
        [b"source", b"port"] => props.source.and_then(|a| number(u64::from(a.port()))),
        [b"destination", b"address"] => props.destination.map(|a| a.to_string().into_bytes()),
        [b"destination", b"port"] => props.destination.and_then(|a| number(u64::from(a.port()))),
        [b"response", b"code"] => props.response_code.and_then(|c| number(u64::from(c))),
        [b"plugin_name"] | [b"plugin_root_id"] => Some(state.shared.name.clone().into_bytes()),
        [b"plugin_vm_id"] => Some(Vec::new()),
        _ => None,
    }
}

/// Values by plugin name and key, each with its compare-and-swap number.
type SharedData = HashMap<(String, Vec<u8>), (Vec<u8>, u32)>;

/// Shared data (`proxy_get/set_shared_data`): per plugin name, so every instance and every
/// version of a plugin sees the same; each value with its compare-and-swap number.
fn shared_data() -> &'static Mutex<SharedData> {
    static DATA: OnceLock<Mutex<SharedData>> = OnceLock::new();
    DATA.get_or_init(Default::default)
}

/// The level proxy-wasm numbers for what `tracing` lets through for this crate.
fn log_level() -> i32 {
    if tracing::enabled!(Level::TRACE) {
        0
    } else if tracing::enabled!(Level::DEBUG) {
        1
    } else if tracing::enabled!(Level::INFO) {
        2
    } else if tracing::enabled!(Level::WARN) {
        3
    } else {
        4
    }
}

/// Defines every host function this host offers.
pub(crate) fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap("env", "proxy_log", |c: Ctx<'_>, level: i32, ptr: i32, len: i32| {
        let Some(bytes) = read(&c, ptr, len) else { return status::BAD_ARGUMENT };
        let message = String::from_utf8_lossy(&bytes);
        let plugin = c.data().shared.name.as_str();
        match level {
            0 => trace!(plugin, "{message}"),
            1 => debug!(plugin, "{message}"),
            2 => info!(plugin, "{message}"),
            3 => warn!(plugin, "{message}"),
            _ => error!(plugin, "{message}"),
        }
        status::OK
    })?;
    linker.func_wrap("env", "proxy_get_log_level", |mut c: Ctx<'_>, out: i32| {
        if write(&mut c, out, &log_level().to_le_bytes()) {
            status::OK
        } else {
            status::BAD_ARGUMENT
        }
    })?;
    linker.func_wrap("env", "proxy_get_current_time_nanoseconds", |mut c: Ctx<'_>, out: i32| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        if write(&mut c, out, &now.to_le_bytes()) { status::OK } else { status::BAD_ARGUMENT }
    })?;
    linker.func_wrap("env", "proxy_set_tick_period_milliseconds", |c: Ctx<'_>, period: i32| {
        c.data().shared.tick_ms.store(period as u32, Ordering::Relaxed);
        status::OK
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut c: Ctx<'_>, kind: i32, start: i32, max: i32, ptr_out: i32, len_out: i32| -> Answer {
            // Shared, not copied: a body chunk or the configuration is only read here.
            let state = c.data();
            let whole: Bytes = match kind {
                buffer::PLUGIN_CONFIGURATION => Bytes::copy_from_slice(&state.shared.config),
                buffer::VM_CONFIGURATION => Bytes::new(),
                buffer::REQUEST_BODY | buffer::RESPONSE_BODY => match &state.call.body {
                    Some((k, body)) if *k == kind => body.clone(),
                    _ => return Ok(status::NOT_FOUND),
                },
                buffer::HTTP_CALL_RESPONSE_BODY => match &state.call.call_response {
                    Some(r) => Bytes::copy_from_slice(&r.body),
                    None => return Ok(status::NOT_FOUND),
                },
                _ => return Ok(status::NOT_FOUND),
            };
            let start = (start as u32 as usize).min(whole.len());
            let end = start.saturating_add(max as u32 as usize).min(whole.len());
            give(&mut c, &whole[start..end], ptr_out, len_out)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut c: Ctx<'_>, kind: i32, len_out: i32, flags_out: i32| {
            let state = c.data();
            let len = match kind {
                buffer::PLUGIN_CONFIGURATION => state.shared.config.len(),
                buffer::VM_CONFIGURATION => 0,
                buffer::REQUEST_BODY | buffer::RESPONSE_BODY => match &state.call.body {
                    Some((k, body)) if *k == kind => body.len(),
                    _ => return status::NOT_FOUND,
                },
                buffer::HTTP_CALL_RESPONSE_BODY => match &state.call.call_response {
                    Some(r) => r.body.len(),
                    None => return status::NOT_FOUND,
                },
                _ => return status::NOT_FOUND,
            };
            let ok = write(&mut c, len_out, &(len as u32).to_le_bytes())
                && write(&mut c, flags_out, &0u32.to_le_bytes());
            if ok { status::OK } else { status::BAD_ARGUMENT }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut c: Ctx<'_>, kind: i32, start: i32, size: i32, ptr: i32, len: i32| {
            let Some(data) = read(&c, ptr, len) else { return status::BAD_ARGUMENT };
            match &mut c.data_mut().call.body {
                Some((k, body)) if *k == kind => {
                    let start = (start as u32 as usize).min(body.len());
                    let end = start.saturating_add(size as u32 as usize).min(body.len());
                    // A chunk is copied only when a filter changes it.
                    let mut changed = Vec::with_capacity(body.len() - (end - start) + data.len());
                    changed.extend_from_slice(&body[..start]);
                    changed.extend_from_slice(&data);
                    changed.extend_from_slice(&body[end..]);
                    *body = Bytes::from(changed);
                    status::OK
                }
                _ => status::NOT_FOUND,
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: Ctx<'_>, kind: i32, ptr_out: i32, len_out: i32| -> Answer {
            let Some(pairs) = pairs(&mut c.data_mut().call, kind) else {
                return Ok(status::NOT_FOUND);
            };
            let encoded = abi::encode_map(pairs.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
            give(&mut c, &encoded, ptr_out, len_out)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: Ctx<'_>, kind: i32, ptr: i32, len: i32| {
            let Some(bytes) = read(&c, ptr, len) else { return status::BAD_ARGUMENT };
            let Some(pairs) = abi::decode_map(&bytes) else {
                return status::SERIALIZATION_FAILURE;
            };
            set_pairs(&mut c.data_mut().call, kind, pairs)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut c: Ctx<'_>, kind: i32, out: i32| {
            let Some(pairs) = pairs(&mut c.data_mut().call, kind) else { return status::NOT_FOUND };
            let size = abi::encode_map(pairs.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
                .len() as u32;
            if write(&mut c, out, &size.to_le_bytes()) { status::OK } else { status::BAD_ARGUMENT }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut c: Ctx<'_>, kind: i32, kptr: i32, klen: i32, ptr_out: i32, len_out: i32| -> Answer {
            let Some(key) = read_name(&c, kptr, klen) else { return Ok(status::BAD_ARGUMENT) };
            match value(&mut c.data_mut().call, kind, &key) {
                Some(value) => give(&mut c, &value, ptr_out, len_out),
                None => Ok(status::NOT_FOUND),
            }
        },
    )?;
    for (name, how) in [
        ("proxy_replace_header_map_value", Edit::Replace),
        ("proxy_add_header_map_value", Edit::Add),
    ] {
        linker.func_wrap(
            "env",
            name,
            move |mut c: Ctx<'_>, kind: i32, kptr: i32, klen: i32, vptr: i32, vlen: i32| {
                let Some(key) = read_name(&c, kptr, klen) else { return status::BAD_ARGUMENT };
                let Some(memory) = c.data().memory else { return status::BAD_ARGUMENT };
                // The value is read in place: the map takes its own copy.
                let (data, state) = memory.data_and_store_mut(&mut c);
                let Some(value) = span(data, vptr, vlen) else { return status::BAD_ARGUMENT };
                edit(&mut state.call, kind, how, &key, value)
            },
        )?;
    }
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: Ctx<'_>, kind: i32, kptr: i32, klen: i32| {
            let Some(key) = read_name(&c, kptr, klen) else { return status::BAD_ARGUMENT };
            edit(&mut c.data_mut().call, kind, Edit::Remove, &key, &[])
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut c: Ctx<'_>, pptr: i32, plen: i32, ptr_out: i32, len_out: i32| -> Answer {
            let Some(path) = read(&c, pptr, plen) else { return Ok(status::BAD_ARGUMENT) };
            match property(c.data(), &path) {
                Some(value) => give(&mut c, &value, ptr_out, len_out),
                None => Ok(status::NOT_FOUND),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut c: Ctx<'_>, pptr: i32, plen: i32, vptr: i32, vlen: i32| {
            let (Some(path), Some(value)) = (read(&c, pptr, plen), read(&c, vptr, vlen)) else {
                return status::BAD_ARGUMENT;
            };
            match c.data_mut().call.properties.as_mut() {
                Some(props) => {
                    props.custom.insert(path, value);
                    status::OK
                }
                None => status::NOT_FOUND,
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut c: Ctx<'_>,
         kptr: i32,
         klen: i32,
         ptr_out: i32,
         len_out: i32,
         cas_out: i32|
         -> Answer {
            let Some(key) = read(&c, kptr, klen) else { return Ok(status::BAD_ARGUMENT) };
            let found = {
                let data = shared_data().lock().unwrap_or_else(PoisonError::into_inner);
                data.get(&(c.data().shared.name.clone(), key)).cloned()
            };
            let Some((value, cas)) = found else { return Ok(status::NOT_FOUND) };
            let answer = give(&mut c, &value, ptr_out, len_out)?;
            if answer == status::OK && !write(&mut c, cas_out, &cas.to_le_bytes()) {
                return Ok(status::BAD_ARGUMENT);
            }
            Ok(answer)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |c: Ctx<'_>, kptr: i32, klen: i32, vptr: i32, vlen: i32, cas: i32| {
            let (Some(key), Some(value)) = (read(&c, kptr, klen), read(&c, vptr, vlen)) else {
                return status::BAD_ARGUMENT;
            };
            let mut data = shared_data().lock().unwrap_or_else(PoisonError::into_inner);
            let entry = data.entry((c.data().shared.name.clone(), key)).or_insert((Vec::new(), 0));
            if cas != 0 && entry.1 != cas as u32 {
                return status::CAS_MISMATCH;
            }
            // Never 0 again: 0 means "no compare" to a setter.
            entry.1 = entry.1.wrapping_add(1).max(1);
            entry.0 = value;
            status::OK
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut c: Ctx<'_>,
         code: i32,
         _details_ptr: i32,
         _details_len: i32,
         bptr: i32,
         blen: i32,
         hptr: i32,
         hlen: i32,
         _grpc: i32| {
            let (Some(body), Some(headers)) = (read(&c, bptr, blen), read(&c, hptr, hlen)) else {
                return status::BAD_ARGUMENT;
            };
            let Some(headers) = abi::decode_map(&headers) else {
                return status::SERIALIZATION_FAILURE;
            };
            let Ok(code) = u16::try_from(code) else { return status::BAD_ARGUMENT };
            if !(200..1000).contains(&code) {
                return status::BAD_ARGUMENT;
            }
            let headers = headers
                .into_iter()
                .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
                .collect();
            c.data_mut().call.local = Some(crate::LocalResponse { status: code, headers, body });
            status::OK
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut c: Ctx<'_>,
         uptr: i32,
         ulen: i32,
         hptr: i32,
         hlen: i32,
         bptr: i32,
         blen: i32,
         _tptr: i32,
         _tlen: i32,
         timeout: i32,
         token_out: i32| {
            let (Some(upstream), Some(headers), Some(body)) =
                (read(&c, uptr, ulen), read(&c, hptr, hlen), read(&c, bptr, blen))
            else {
                return status::BAD_ARGUMENT;
            };
            let Some(headers) = abi::decode_map(&headers) else {
                return status::SERIALIZATION_FAILURE;
            };
            let state = c.data_mut();
            if state.call.request.is_none() && state.call.response.is_none() {
                // Only a filter callback can wait for the answer.
                return status::BAD_ARGUMENT;
            }
            state.next_token = state.next_token.wrapping_add(1).max(1);
            let token = state.next_token;
            state.call.calls.push(HttpCall {
                token,
                upstream: String::from_utf8_lossy(&upstream).into_owned(),
                headers: headers
                    .into_iter()
                    .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
                    .collect(),
                body,
                timeout_ms: timeout as u32,
            });
            if write(&mut c, token_out, &token.to_le_bytes()) {
                status::OK
            } else {
                status::BAD_ARGUMENT
            }
        },
    )?;
    // The filter chain goes on when the callback returns; what these would resume runs then.
    linker.func_wrap("env", "proxy_continue_stream", |_: Ctx<'_>, _kind: i32| status::OK)?;
    linker.func_wrap("env", "proxy_close_stream", |_: Ctx<'_>, _kind: i32| status::OK)?;
    linker.func_wrap("env", "proxy_continue_request", |_: Ctx<'_>| status::OK)?;
    linker.func_wrap("env", "proxy_continue_response", |_: Ctx<'_>| status::OK)?;
    linker.func_wrap("env", "proxy_set_effective_context", |_: Ctx<'_>, _id: i32| status::OK)?;
    linker.func_wrap("env", "proxy_done", |_: Ctx<'_>| status::OK)?;
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: Ctx<'_>, kind: i32, nptr: i32, nlen: i32, out: i32| {
            let Some(name) = read(&c, nptr, nlen) else { return status::BAD_ARGUMENT };
            let name = String::from_utf8_lossy(&name).into_owned();
            let id = {
                let mut metrics =
                    c.data().shared.metrics.lock().unwrap_or_else(PoisonError::into_inner);
                match metrics.iter().position(|m| m.name == name) {
                    Some(at) => at,
                    None => {
                        metrics.push(Metric { name, kind: kind as u32, value: AtomicI64::new(0) });
                        metrics.len() - 1
                    }
                }
            };
            if write(&mut c, out, &(id as u32).to_le_bytes()) {
                status::OK
            } else {
                status::BAD_ARGUMENT
            }
        },
    )?;
    linker.func_wrap("env", "proxy_increment_metric", |c: Ctx<'_>, id: i32, by: i64| {
        let metrics = c.data().shared.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        match metrics.get(id as u32 as usize) {
            Some(m) => {
                m.value.fetch_add(by, Ordering::Relaxed);
                status::OK
            }
            None => status::NOT_FOUND,
        }
    })?;
    linker.func_wrap("env", "proxy_record_metric", |c: Ctx<'_>, id: i32, value: i64| {
        let metrics = c.data().shared.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        match metrics.get(id as u32 as usize) {
            Some(m) => {
                m.value.store(value, Ordering::Relaxed);
                status::OK
            }
            None => status::NOT_FOUND,
        }
    })?;
    linker.func_wrap("env", "proxy_get_metric", |mut c: Ctx<'_>, id: i32, out: i32| {
        let value = {
            let metrics = c.data().shared.metrics.lock().unwrap_or_else(PoisonError::into_inner);
            match metrics.get(id as u32 as usize) {
                Some(m) => m.value.load(Ordering::Relaxed),
                None => return status::NOT_FOUND,
            }
        };
        if write(&mut c, out, &value.to_le_bytes()) { status::OK } else { status::BAD_ARGUMENT }
    })?;
    Ok(())
}
