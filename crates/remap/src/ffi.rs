//! The host side of the remap plugin C ABI: reading a plugin's descriptor and calling its entry
//! points. This module holds the crate's `unsafe`; each call states what makes it sound.
//!
//! Every function pointer here is a [`Symbol`] and so holds its [`Library`]: no pointer outlives
//! the code it points into.

use std::ffi::{CStr, CString, c_char, c_int, c_void};

use hookyard_abi::{
    self as abi, DescriptorFields, ErrorBuffer, PluginIdentity, PluginKind, Probe, hy_api,
    hy_descriptor, hy_remap_request_info, hy_txn, symbol,
};
use hookyard_dso::{Library, Symbol};

/// Reads a plugin's descriptor and exports through its library.
struct LibraryProbe<'a>(&'a Library);

impl LibraryProbe<'_> {
    fn descriptor_ptr(&self) -> Option<*const hy_descriptor> {
        // SAFETY: the ABI declares `hy_plugin_descriptor` as a static `hy_descriptor`; only its
        // address is taken here.
        let symbol = unsafe { self.0.optional_symbol::<*const hy_descriptor>(symbol::DESCRIPTOR) };
        symbol.ok().flatten().map(|s| *s)
    }
}

/// # Safety
///
/// `ptr` is null or a NUL-terminated string that lives while the library is loaded.
unsafe fn c_string(ptr: *const c_char) -> Option<CString> {
    // SAFETY: per the contract.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_owned())
}

impl Probe for LibraryProbe<'_> {
    fn magic(&mut self) -> Option<u32> {
        // SAFETY: every descriptor of every ABI major starts with the magic, and the static
        // lives while the library is loaded.
        self.descriptor_ptr().map(|d| unsafe { std::ptr::addr_of!((*d).magic).read() })
    }

    fn descriptor(&mut self) -> DescriptorFields {
        let Some(d) = self.descriptor_ptr() else {
            return DescriptorFields {
                abi_major: 0,
                abi_minor: 0,
                name: None,
                version: None,
                flags: 0,
                reserved: 0,
            };
        };
        // SAFETY: `validate` asks for the fields only after the magic matched, and the first
        // five fields never move in any major; `flags` and `reserved` are read by it only when
        // the major is ours, so the whole struct is this major's layout then. The strings are
        // static in the library.
        unsafe {
            let d = d.read();
            DescriptorFields {
                abi_major: d.abi_major,
                abi_minor: d.abi_minor,
                name: c_string(d.name),
                version: c_string(d.version),
                flags: d.flags,
                reserved: d.reserved,
            }
        }
    }

    fn exports(&mut self, name: &str) -> bool {
        // SAFETY: only the address is looked at.
        unsafe { self.0.optional_symbol::<*const u8>(name) }.is_ok_and(|s| s.is_some())
    }
}

/// Checks a remap plugin's descriptor, then ATS's entry-point rules, before anything is called.
pub(crate) fn validate(library: &Library, config_path: &str) -> Result<PluginIdentity, abi::Error> {
    abi::validate(PluginKind::Remap, config_path, library.path(), &mut LibraryProbe(library))
}

fn optional<T: Copy>(library: &Library, name: &str) -> Option<Symbol<T>> {
    // SAFETY: every caller names an entry point with its type from `hookyard_abi`.
    unsafe { library.optional_symbol::<T>(name) }.ok().flatten()
}

/// An instance handle as a number, so instances can cross threads; the plugin owns what it
/// points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InstanceHandle(usize);

/// A remap plugin's entry points.
pub(crate) struct Entries {
    init: Symbol<abi::hy_remap_init_fn>,
    do_remap: Symbol<abi::hy_remap_do_remap_fn>,
    new_instance: Option<Symbol<abi::hy_remap_new_instance_fn>>,
    delete_instance: Option<Symbol<abi::hy_remap_delete_instance_fn>>,
    done: Option<Symbol<abi::hy_remap_done_fn>>,
    pre_reload: Option<Symbol<abi::hy_remap_pre_config_reload_fn>>,
    post_reload: Option<Symbol<abi::hy_remap_post_config_reload_fn>>,
    os_response: Option<Symbol<abi::hy_remap_os_response_fn>>,
}

unsafe extern "C" {
    // glibc's getopt state, reset before each new_instance so plugins can parse argv with getopt.
    static mut optind: c_int;
    static mut opterr: c_int;
    static mut optarg: *mut c_char;
}

impl Entries {
    /// Resolves the entry points of a validated plugin; `None` if a required one vanished.
    pub(crate) fn resolve(library: &Library) -> Option<Entries> {
        Some(Entries {
            init: optional(library, symbol::REMAP_INIT)?,
            do_remap: optional(library, symbol::REMAP_DO_REMAP)?,
            new_instance: optional(library, symbol::REMAP_NEW_INSTANCE),
            delete_instance: optional(library, symbol::REMAP_DELETE_INSTANCE),
            done: optional(library, symbol::REMAP_DONE),
            pre_reload: optional(library, symbol::REMAP_PRE_CONFIG_RELOAD),
            post_reload: optional(library, symbol::REMAP_POST_CONFIG_RELOAD),
            os_response: optional(library, symbol::REMAP_OS_RESPONSE),
        })
    }

    /// Calls `hy_remap_init` with the host table and a zeroed 2048-byte error buffer (2047
    /// offered).
    ///
    /// # Safety
    ///
    /// `api` points to a table that stays valid until the plugin's `done` returned.
    pub(crate) unsafe fn init(&self, api: *const hy_api) -> Result<(), ErrorBuffer> {
        let mut errbuf = ErrorBuffer::new();
        // SAFETY: the entry point's type; `api` per the contract; the error buffer is writable
        // for the size offered.
        let status = unsafe { (*self.init)(api, errbuf.as_mut_ptr(), errbuf.size()) };
        if status == abi::HY_SUCCESS { Ok(()) } else { Err(errbuf) }
    }

    /// Calls `hy_remap_new_instance` with `argv` (from URL, to URL, parameters); without that
    /// entry point the instance is a null handle (as ATS).
    pub(crate) fn new_instance(&self, argv: &[CString]) -> Result<InstanceHandle, ErrorBuffer> {
        let Some(new_instance) = &self.new_instance else { return Ok(InstanceHandle(0)) };
        let mut pointers: Vec<*mut c_char> = argv.iter().map(|a| a.as_ptr().cast_mut()).collect();
        pointers.push(std::ptr::null_mut());
        let mut ih: *mut c_void = std::ptr::null_mut();
        let mut errbuf = ErrorBuffer::new();
        // SAFETY: config loading is serialised (the caller holds the lifecycle lock), so no
        // other new_instance uses getopt's globals now; they are plain C ints and a pointer.
        unsafe {
            optind = 0;
            opterr = 0;
            optarg = std::ptr::null_mut();
        }
        // SAFETY: `argc` NUL-terminated strings (plus a terminating null, as C's argv) valid for
        // the call, a writable `ih`, the error buffer writable for the size offered.
        let status = unsafe {
            (**new_instance)(
                argv.len() as i32,
                pointers.as_mut_ptr(),
                &mut ih,
                errbuf.as_mut_ptr(),
                errbuf.size(),
            )
        };
        if status == abi::HY_SUCCESS { Ok(InstanceHandle(ih as usize)) } else { Err(errbuf) }
    }

    /// Calls `hy_remap_do_remap`.
    ///
    /// # Safety
    ///
    /// `txn` is a transaction handle of the host valid for the call, `rri` a request info
    /// valid and exclusively lent for the call, `instance` from this plugin's new_instance and
    /// not yet deleted.
    pub(crate) unsafe fn do_remap(
        &self,
        instance: InstanceHandle,
        txn: *mut hy_txn,
        rri: *mut hy_remap_request_info,
    ) -> i32 {
        // SAFETY: per the contract.
        unsafe { (*self.do_remap)(instance.0 as *mut c_void, txn, rri) }
    }

    /// Calls `hy_remap_os_response` if exported.
    ///
    /// # Safety
    ///
    /// As for [`Entries::do_remap`].
    pub(crate) unsafe fn os_response(
        &self,
        instance: InstanceHandle,
        txn: *mut hy_txn,
        state: i32,
    ) {
        if let Some(f) = &self.os_response {
            // SAFETY: per the contract.
            unsafe { (**f)(instance.0 as *mut c_void, txn, state) };
        }
    }

    /// Calls `hy_remap_delete_instance` if exported; `instance` must not be used again.
    pub(crate) fn delete_instance(&self, instance: InstanceHandle) {
        if let Some(f) = &self.delete_instance {
            // SAFETY: an instance from this plugin's new_instance, deleted once (the caller
            // consumes it).
            unsafe { (**f)(instance.0 as *mut c_void) };
        }
    }

    /// Calls `hy_remap_done` if exported.
    pub(crate) fn done(&self) {
        if let Some(f) = &self.done {
            // SAFETY: the entry point's type; it takes nothing.
            unsafe { (**f)() };
        }
    }

    /// Calls `hy_remap_pre_config_reload` if exported.
    pub(crate) fn pre_reload(&self) {
        if let Some(f) = &self.pre_reload {
            // SAFETY: the entry point's type; it takes nothing.
            unsafe { (**f)() };
        }
    }

    /// Calls `hy_remap_post_config_reload` if exported.
    pub(crate) fn post_reload(&self, status: i32) {
        if let Some(f) = &self.post_reload {
            // SAFETY: the entry point's type; `status` is one of `HY_RELOAD_*`.
            unsafe { (**f)(status) };
        }
    }
}

/// Checks a global plugin's descriptor and entry points, before anything is called.
pub(crate) fn validate_global(
    library: &Library,
    config_path: &str,
) -> Result<PluginIdentity, abi::Error> {
    abi::validate(PluginKind::Global, config_path, library.path(), &mut LibraryProbe(library))
}

/// A global plugin's entry points.
pub(crate) struct GlobalEntries {
    init: Symbol<abi::hy_plugin_init_fn>,
    done: Option<Symbol<abi::hy_plugin_done_fn>>,
    pre_reload: Option<Symbol<abi::hy_plugin_pre_config_reload_fn>>,
    post_reload: Option<Symbol<abi::hy_plugin_post_config_reload_fn>>,
}

impl GlobalEntries {
    /// Resolves the entry points of a validated global plugin; `None` if init vanished.
    pub(crate) fn resolve(library: &Library) -> Option<GlobalEntries> {
        Some(GlobalEntries {
            init: optional(library, symbol::PLUGIN_INIT)?,
            done: optional(library, symbol::PLUGIN_DONE),
            pre_reload: optional(library, symbol::PLUGIN_PRE_CONFIG_RELOAD),
            post_reload: optional(library, symbol::PLUGIN_POST_CONFIG_RELOAD),
        })
    }

    /// Calls `hy_plugin_init` with the host table, `argv` (the path, then the params) and a
    /// zeroed error buffer.
    ///
    /// # Safety
    ///
    /// `api` points to a table that stays valid until the plugin's `done` returned.
    pub(crate) unsafe fn init(
        &self,
        api: *const hy_api,
        argv: &[CString],
    ) -> Result<(), ErrorBuffer> {
        let mut pointers: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        pointers.push(std::ptr::null());
        let mut errbuf = ErrorBuffer::new();
        // SAFETY: the entry point's type; `api` per the contract; `argc` NUL-terminated strings
        // plus a terminating null, valid for the call; the error buffer writable for the size
        // offered.
        let status = unsafe {
            (*self.init)(
                api,
                argv.len() as i32,
                pointers.as_mut_ptr(),
                errbuf.as_mut_ptr(),
                errbuf.size(),
            )
        };
        if status == abi::HY_SUCCESS { Ok(()) } else { Err(errbuf) }
    }

    /// Calls `hy_plugin_done` if exported.
    pub(crate) fn done(&self) {
        if let Some(f) = &self.done {
            // SAFETY: the entry point's type; it takes nothing.
            unsafe { (**f)() };
        }
    }

    /// Calls `hy_plugin_pre_config_reload` if exported.
    pub(crate) fn pre_reload(&self) {
        if let Some(f) = &self.pre_reload {
            // SAFETY: the entry point's type; it takes nothing.
            unsafe { (**f)() };
        }
    }

    /// Calls `hy_plugin_post_config_reload` if exported.
    pub(crate) fn post_reload(&self, status: i32) {
        if let Some(f) = &self.post_reload {
            // SAFETY: the entry point's type; `status` is one of `HY_RELOAD_*`.
            unsafe { (**f)(status) };
        }
    }
}
