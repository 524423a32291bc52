//! The glue behind [`plugin!`](crate::plugin): the descriptor static and the generic bodies of
//! the exported entry points. Not part of the API; public only for the macro.
//!
//! Every entry point runs its plugin code inside [`guard`], which catches panics (nothing
//! unwinds into the host) and turns them into the entry point's error value. The first entry
//! point also installs a panic hook in this plugin's copy of `std` that logs through the host
//! and, unlike the default hook, never calls `std::thread::current()` (which would register a
//! thread-exit destructor in the plugin and crash the process after an unload).

use std::any::Any;
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, Once, PoisonError};

use hookyard_abi::{self as abi, hy_api, hy_descriptor, hy_remap_request_info, hy_txn};

use crate::error::Error;
use crate::global::GlobalPlugin;
use crate::host::{self, LogLevel};
use crate::remap::{InstanceArgs, ReloadStatus, RemapPlugin, RemapRequest, ServerState};
use crate::txn::Txn;

/// The descriptor static a plugin exports as `hy_plugin_descriptor`.
#[repr(transparent)]
pub struct Descriptor(hy_descriptor);

// SAFETY: the descriptor is immutable and its pointers are to static C strings.
unsafe impl Sync for Descriptor {}

impl Descriptor {
    /// A descriptor for this ABI version.
    pub const fn new(
        name: &'static CStr,
        version: &'static CStr,
        cannot_unload: bool,
    ) -> Descriptor {
        Descriptor(hy_descriptor {
            magic: abi::HY_PLUGIN_MAGIC,
            abi_major: abi::HY_ABI_MAJOR,
            abi_minor: abi::HY_ABI_MINOR,
            name: name.as_ptr(),
            version: version.as_ptr(),
            flags: if cannot_unload { abi::HY_PLUGIN_FLAG_CANNOT_UNLOAD } else { 0 },
            reserved: 0,
        })
    }

    /// The descriptor's fields.
    pub const fn get(&self) -> &hy_descriptor {
        &self.0
    }
}

/// `s` (which must end with its only NUL) as a C string, at compile time.
pub const fn c_str(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(s) => s,
        Err(_) => panic!("a plugin name or version must not contain a NUL byte"),
    }
}

/// Where a global plugin's value lives between init and done.
pub struct GlobalSlot<P>(Mutex<Option<Arc<P>>>);

impl<P> GlobalSlot<P> {
    /// An empty slot.
    pub const fn new() -> GlobalSlot<P> {
        GlobalSlot(Mutex::new(None))
    }

    fn get(&self) -> Option<Arc<P>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set(&self, value: Option<Arc<P>>) -> Option<Arc<P>> {
        std::mem::replace(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner), value)
    }
}

impl<P> Default for GlobalSlot<P> {
    fn default() -> GlobalSlot<P> {
        GlobalSlot::new()
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload")
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = panic_message(info.payload());
            match info.location() {
                Some(at) => crate::__log(
                    LogLevel::Error,
                    format_args!("panicked at {}:{}: {message}", at.file(), at.line()),
                ),
                None => crate::__log(LogLevel::Error, format_args!("panicked: {message}")),
            }
        }));
    });
}

/// Runs plugin code for the entry point `entry`; a panic becomes `Err` with its message.
fn guard<R>(entry: &str, f: impl FnOnce() -> R) -> Result<R, String> {
    install_panic_hook();
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = format!("panicked in {entry}: {}", panic_message(&*payload));
        crate::__log(LogLevel::Error, format_args!("{message}"));
        message
    })
}

/// Writes `message` into the host's error buffer as a C string that fits in `size` bytes
/// including the NUL, cut at a character boundary.
///
/// # Safety
///
/// `errbuf` is null or writable for `size` bytes.
unsafe fn write_errbuf(errbuf: *mut c_char, size: i32, message: &str) {
    let Ok(size) = usize::try_from(size) else { return };
    if errbuf.is_null() || size == 0 {
        return;
    }
    let mut len = message.len().min(size - 1);
    while !message.is_char_boundary(len) {
        len -= 1;
    }
    // SAFETY: `len + 1 <= size` bytes are writable per the caller's contract.
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), errbuf.cast::<u8>(), len);
        errbuf.add(len).write(0);
    }
}

/// Runs an init-like entry point: `Ok` is success, `Err` and panics go to the error buffer.
///
/// # Safety
///
/// As [`write_errbuf`].
unsafe fn init_like(
    entry: &str,
    errbuf: *mut c_char,
    size: i32,
    f: impl FnOnce() -> Result<(), Error>,
) -> abi::hy_return {
    let message = match guard(entry, f) {
        Ok(Ok(())) => return abi::HY_SUCCESS,
        Ok(Err(err)) => err.to_string(),
        Err(panic) => panic,
    };
    // SAFETY: forwarded to the caller.
    unsafe { write_errbuf(errbuf, size, &message) };
    abi::HY_ERROR
}

/// Releases the host table unless the init it was installed for succeeded (also when the
/// plugin's init panics).
struct Installed(bool);

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.0 {
            host::release();
        }
    }
}

/// Reads `argc` C strings.
///
/// # Safety
///
/// `argv` points to `argc` valid C strings (or `argc` is 0).
unsafe fn args<'a, T>(argc: i32, argv: *const *const T) -> Result<Vec<&'a str>, Error> {
    let argc = usize::try_from(argc).map_err(|_| Error::new("negative argc"))?;
    (0..argc)
        .map(|i| {
            // SAFETY: per the caller's contract.
            let arg = unsafe { CStr::from_ptr(argv.add(i).read().cast::<c_char>()) };
            arg.to_str().map_err(|_| Error::new(format_args!("argument {i} is not UTF-8")))
        })
        .collect()
}

// -- Remap plugins --------------------------------------------------------------------------------

/// `hy_remap_init`.
///
/// # Safety
///
/// Called by the host as `hookyard.h` documents.
pub unsafe fn remap_init<P: RemapPlugin>(
    api: *const hy_api,
    errbuf: *mut c_char,
    size: i32,
) -> abi::hy_return {
    // SAFETY: the host's contract.
    unsafe {
        init_like("hy_remap_init", errbuf, size, || {
            let host = host::install(api)?;
            let mut installed = Installed(false);
            P::init(host)?;
            installed.0 = true;
            Ok(())
        })
    }
}

/// `hy_remap_new_instance`.
///
/// # Safety
///
/// Called by the host as `hookyard.h` documents.
pub unsafe fn remap_new_instance<P: RemapPlugin>(
    argc: i32,
    argv: *mut *mut c_char,
    ih: *mut *mut c_void,
    errbuf: *mut c_char,
    size: i32,
) -> abi::hy_return {
    // SAFETY: the host's contract: `argc` strings at `argv`, `ih` writable.
    unsafe {
        init_like("hy_remap_new_instance", errbuf, size, || {
            let all = args(argc, argv.cast_const().cast::<*const c_char>())?;
            let [from_url, to_url, params @ ..] = all.as_slice() else {
                return Err(Error::new(
                    "expected the rule's from and to URLs as the first arguments",
                ));
            };
            let instance =
                P::new_instance(&InstanceArgs { from_url, to_url, params: params.to_vec() })?;
            ih.write(Box::into_raw(Box::new(instance)).cast());
            Ok(())
        })
    }
}

/// `hy_remap_do_remap`.
///
/// # Safety
///
/// Called by the host as `hookyard.h` documents, with an `ih` from `remap_new_instance::<P>`.
pub unsafe fn remap_do_remap<P: RemapPlugin>(
    ih: *mut c_void,
    txn: *mut hy_txn,
    rri: *mut hy_remap_request_info,
) -> abi::hy_remap_status {
    let result = guard("hy_remap_do_remap", || {
        let Some(api) = host::api() else { return abi::HY_REMAP_ERROR };
        // SAFETY: `ih` is our instance, live until delete_instance, which the host never runs
        // concurrently with do_remap on it; `txn` and `rri` are lent for this call.
        unsafe {
            let (Some(instance), Some(mut txn), Some(rri)) =
                (ih.cast::<P>().as_ref(), Txn::from_raw(txn, api, None), rri.as_mut())
            else {
                return abi::HY_REMAP_ERROR;
            };
            instance.do_remap(&mut txn, &mut RemapRequest::new(rri)).raw()
        }
    });
    result.unwrap_or_else(|_| {
        // A panic fails this transaction with a 500: hosts treat negative answers as NO_REMAP
        // (ATS's code), so the failure is a direct response, and the chain stops here.
        if let Some(api) = host::api() {
            const BODY: &str = "Internal Server Error\n";
            // SAFETY: `txn` is lent for this call (as above); the body is valid for the call.
            unsafe { (api.direct_response)(txn, 500, BODY.as_ptr().cast(), BODY.len()) };
        }
        abi::HY_REMAP_NO_REMAP_STOP
    })
}

/// `hy_remap_delete_instance`.
///
/// # Safety
///
/// Called by the host once per instance from `remap_new_instance::<P>`.
pub unsafe fn remap_delete_instance<P: RemapPlugin>(ih: *mut c_void) {
    let _ = guard("hy_remap_delete_instance", || {
        if !ih.is_null() {
            // SAFETY: `ih` came from `Box::into_raw` in new_instance and is deleted once.
            drop(unsafe { Box::from_raw(ih.cast::<P>()) });
        }
    });
}

/// `hy_remap_done`.
pub fn remap_done<P: RemapPlugin>() {
    let _ = guard("hy_remap_done", P::done);
    host::release();
}

/// `hy_remap_pre_config_reload`.
pub fn remap_pre_config_reload<P: RemapPlugin>() {
    let _ = guard("hy_remap_pre_config_reload", P::pre_config_reload);
}

/// `hy_remap_post_config_reload`.
pub fn remap_post_config_reload<P: RemapPlugin>(status: abi::hy_reload_status) {
    let _ = guard("hy_remap_post_config_reload", || {
        P::post_config_reload(ReloadStatus::from_raw(status))
    });
}

/// `hy_remap_os_response`.
///
/// # Safety
///
/// As [`remap_do_remap`].
pub unsafe fn remap_os_response<P: RemapPlugin>(
    ih: *mut c_void,
    txn: *mut hy_txn,
    state: abi::hy_server_state,
) {
    let _ = guard("hy_remap_os_response", || {
        let Some(api) = host::api() else { return };
        // SAFETY: as in `remap_do_remap`.
        unsafe {
            if let (Some(instance), Some(mut txn)) =
                (ih.cast::<P>().as_ref(), Txn::from_raw(txn, api, None))
            {
                instance.os_response(&mut txn, ServerState(state));
            }
        }
    });
}

// -- Global plugins -------------------------------------------------------------------------------

/// `hy_plugin_init`.
///
/// # Safety
///
/// Called by the host as `hookyard.h` documents.
pub unsafe fn plugin_init<P: GlobalPlugin>(
    slot: &GlobalSlot<P>,
    api: *const hy_api,
    argc: i32,
    argv: *mut *const c_char,
    errbuf: *mut c_char,
    size: i32,
) -> abi::hy_return {
    // SAFETY: the host's contract: `argc` strings at `argv`.
    unsafe {
        init_like("hy_plugin_init", errbuf, size, || {
            let args = args(argc, argv.cast_const())?;
            let host = host::install(api)?;
            let mut installed = Installed(false);
            let plugin = P::init(host, &args)?;
            drop(slot.set(Some(Arc::new(plugin))));
            installed.0 = true;
            Ok(())
        })
    }
}

/// `hy_plugin_done`: drops the plugin's value.
pub fn plugin_done<P: GlobalPlugin>(slot: &GlobalSlot<P>) {
    let _ = guard("hy_plugin_done", || drop(slot.set(None)));
    host::release();
}

/// `hy_plugin_pre_config_reload`.
pub fn plugin_pre_config_reload<P: GlobalPlugin>(slot: &GlobalSlot<P>) {
    let _ = guard("hy_plugin_pre_config_reload", || {
        if let Some(plugin) = slot.get() {
            plugin.pre_config_reload();
        }
    });
}

/// `hy_plugin_post_config_reload`.
pub fn plugin_post_config_reload<P: GlobalPlugin>(
    slot: &GlobalSlot<P>,
    status: abi::hy_reload_status,
) {
    let _ = guard("hy_plugin_post_config_reload", || {
        if let Some(plugin) = slot.get() {
            plugin.post_config_reload(ReloadStatus::from_raw(status));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(size: i32, message: &str) -> Vec<u8> {
        let mut buf = vec![0xAAu8; 16];
        // SAFETY: the buffer has 16 writable bytes, and every size used is at most 16.
        unsafe { write_errbuf(buf.as_mut_ptr().cast(), size, message) };
        buf
    }

    #[test]
    fn the_error_buffer_gets_a_c_string_that_fits_cut_at_a_character_boundary() {
        assert_eq!(&written(16, "boom")[..5], b"boom\0");
        let cut = written(4, "abcdef");
        assert_eq!(&cut[..4], b"abc\0");
        assert_eq!(cut[4], 0xAA, "nothing past the offered size");
        // "é" is two bytes: cutting inside it backs off to before it.
        assert_eq!(&written(3, "aé")[..2], b"a\0");
        assert_eq!(written(0, "x"), vec![0xAA; 16]);
    }

    #[test]
    fn panic_messages_come_from_str_and_string_payloads() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&7_u8), "a non-string panic payload");
    }

    #[test]
    fn descriptors_are_built_at_compile_time() {
        static D: Descriptor = Descriptor::new(c_str("name\0"), c_str("1.2\0"), true);
        let d = D.get();
        assert_eq!(
            (d.magic, d.abi_major, d.abi_minor),
            (abi::HY_PLUGIN_MAGIC, abi::HY_ABI_MAJOR, abi::HY_ABI_MINOR)
        );
        assert_eq!(d.flags, abi::HY_PLUGIN_FLAG_CANNOT_UNLOAD);
        // SAFETY: the pointers come from static C strings.
        unsafe {
            assert_eq!(CStr::from_ptr(d.name), c"name");
            assert_eq!(CStr::from_ptr(d.version), c"1.2");
        }
    }
}
