//! Calling a loaded plugin's entry points the way a host does: descriptor first, ATS's rules,
//! the error buffer, argv.

use std::ffi::{CStr, CString, c_char, c_void};

use hookyard_abi::{
    self as abi, DescriptorFields, ErrorBuffer, PluginIdentity, PluginKind, Probe, hy_descriptor,
    hy_remap_request_info, hy_str, symbol,
};
use hookyard_dso::{Library, Symbol};

use crate::host::{MockTxn, TestHost};

/// Reads a loaded library's descriptor and exports.
struct LibraryProbe<'a>(&'a Library);

impl LibraryProbe<'_> {
    fn descriptor_ptr(&self) -> Option<*const hy_descriptor> {
        // SAFETY: the ABI declares `hy_plugin_descriptor` as a static `hy_descriptor`.
        unsafe { self.0.optional_symbol::<*const hy_descriptor>(symbol::DESCRIPTOR) }
            .unwrap()
            .map(|s| *s)
    }
}

/// # Safety
///
/// `ptr` is null or a C string that lives while the library is loaded.
unsafe fn c_string(ptr: *const c_char) -> Option<CString> {
    // SAFETY: per the contract.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_owned())
}

impl Probe for LibraryProbe<'_> {
    fn magic(&mut self) -> Option<u32> {
        // SAFETY: the magic is the first field of every descriptor.
        self.descriptor_ptr().map(|d| unsafe { std::ptr::addr_of!((*d).magic).read() })
    }

    fn descriptor(&mut self) -> DescriptorFields {
        let d = self.descriptor_ptr().unwrap();
        // SAFETY: the magic matched, so this is a descriptor of this major (the test plugins
        // are built against this ABI); its strings are static in the library.
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
        unsafe { self.0.optional_symbol::<*const u8>(name) }.unwrap().is_some()
    }
}

/// Validates `library` as a plugin of `kind`, as a host does before calling anything.
pub(crate) fn validate(
    library: &Library,
    kind: PluginKind,
    config_path: &str,
) -> Result<PluginIdentity, abi::Error> {
    abi::validate(kind, config_path, library.path(), &mut LibraryProbe(library))
}

fn optional<T: Copy>(library: &Library, name: &str) -> Option<Symbol<T>> {
    // SAFETY: callers name each entry point with its type from `hookyard_abi`.
    unsafe { library.optional_symbol::<T>(name) }.unwrap()
}

/// A remap plugin's entry points.
pub(crate) struct Remap {
    config_path: String,
    init: Symbol<abi::hy_remap_init_fn>,
    do_remap: Symbol<abi::hy_remap_do_remap_fn>,
    new_instance: Option<Symbol<abi::hy_remap_new_instance_fn>>,
    delete_instance: Option<Symbol<abi::hy_remap_delete_instance_fn>>,
    done: Option<Symbol<abi::hy_remap_done_fn>>,
    pre_reload: Option<Symbol<abi::hy_remap_pre_config_reload_fn>>,
    post_reload: Option<Symbol<abi::hy_remap_post_config_reload_fn>>,
    os_response: Option<Symbol<abi::hy_remap_os_response_fn>>,
    /// Each instance's argv, for `remap_param_get` during its do_remap.
    argv: std::sync::Mutex<std::collections::HashMap<usize, Vec<String>>>,
}

/// One instance's handle.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Instance(usize);

impl Remap {
    /// Validates and resolves; `config_path` is the name a rule would use.
    pub(crate) fn load(library: &Library, config_path: &str) -> Remap {
        validate(library, PluginKind::Remap, config_path).unwrap();
        Remap {
            config_path: config_path.to_owned(),
            init: optional(library, symbol::REMAP_INIT).unwrap(),
            do_remap: optional(library, symbol::REMAP_DO_REMAP).unwrap(),
            new_instance: optional(library, symbol::REMAP_NEW_INSTANCE),
            delete_instance: optional(library, symbol::REMAP_DELETE_INSTANCE),
            done: optional(library, symbol::REMAP_DONE),
            pre_reload: optional(library, symbol::REMAP_PRE_CONFIG_RELOAD),
            post_reload: optional(library, symbol::REMAP_POST_CONFIG_RELOAD),
            os_response: optional(library, symbol::REMAP_OS_RESPONSE),
            argv: std::sync::Mutex::default(),
        }
    }

    /// Which optional entry points the plugin exports.
    pub(crate) fn exports(&self) -> [bool; 4] {
        [
            self.done.is_some(),
            self.pre_reload.is_some(),
            self.post_reload.is_some(),
            self.os_response.is_some(),
        ]
    }

    pub(crate) fn init(&self, host: &TestHost) -> Result<(), abi::Error> {
        let mut errbuf = ErrorBuffer::new();
        // SAFETY: the entry point's type; the table lives as long as `host`, which outlives the
        // plugin's use of it in every test.
        let r = unsafe { (*self.init)(host.api(), errbuf.as_mut_ptr(), errbuf.size()) };
        if r == abi::HY_SUCCESS {
            Ok(())
        } else {
            Err(abi::Error::init_failed(&self.config_path, &errbuf))
        }
    }

    pub(crate) fn new_instance(
        &self,
        from: &str,
        to: &str,
        params: &[&str],
    ) -> Result<Instance, abi::Error> {
        let Some(new_instance) = &self.new_instance else { return Ok(Instance(0)) };
        let args: Vec<CString> =
            [from, to].iter().chain(params).map(|a| CString::new(*a).unwrap()).collect();
        let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
        let mut ih: *mut c_void = std::ptr::null_mut();
        let mut errbuf = ErrorBuffer::new();
        // SAFETY: argc strings valid for the call, a writable `ih`, the error buffer.
        let r = unsafe {
            (**new_instance)(
                argv.len() as i32,
                argv.as_mut_ptr(),
                &mut ih,
                errbuf.as_mut_ptr(),
                errbuf.size(),
            )
        };
        if r == abi::HY_SUCCESS {
            let argv = [from, to].iter().chain(params).map(|a| (*a).to_owned()).collect();
            crate::host::lock(&self.argv).insert(ih as usize, argv);
            Ok(Instance(ih as usize))
        } else {
            assert!(ih.is_null(), "a failed new_instance leaves ih alone");
            Err(abi::Error::instance_failed(&self.config_path, &errbuf))
        }
    }

    /// Runs do_remap with the rule `from -> to` on `txn`: the status and the redirect flag.
    pub(crate) fn do_remap(
        &self,
        instance: Instance,
        txn: &MockTxn,
        from: &str,
        to: &str,
    ) -> (i32, bool) {
        txn.set_rule(from, to);
        let view = |s: &str| hy_str { ptr: s.as_ptr().cast(), len: s.len() };
        let mut rri = hy_remap_request_info {
            size: size_of::<hy_remap_request_info>() as u32,
            redirect: 0,
            from_url: view(from),
            to_url: view(to),
        };
        let argv = crate::host::lock(&self.argv).get(&instance.0).cloned();
        txn.data().remap_params = Some(argv.unwrap_or_else(|| vec![from.into(), to.into()]));
        // SAFETY: the instance from new_instance, a lent transaction, a request info valid for
        // the call.
        let status = unsafe { (*self.do_remap)(instance.0 as *mut c_void, txn.ptr(), &mut rri) };
        txn.data().remap_params = None;
        (status, rri.redirect != 0)
    }

    pub(crate) fn os_response(&self, instance: Instance, txn: &MockTxn, state: i32) {
        if let Some(f) = &self.os_response {
            // SAFETY: as in `do_remap`.
            unsafe { (**f)(instance.0 as *mut c_void, txn.ptr(), state) };
        }
    }

    pub(crate) fn delete_instance(&self, instance: Instance) {
        if let Some(f) = &self.delete_instance {
            // SAFETY: an instance from new_instance, deleted once.
            unsafe { (**f)(instance.0 as *mut c_void) };
        }
    }

    pub(crate) fn pre_reload(&self) {
        if let Some(f) = &self.pre_reload {
            // SAFETY: the entry point's type.
            unsafe { (**f)() };
        }
    }

    pub(crate) fn post_reload(&self, status: i32) {
        if let Some(f) = &self.post_reload {
            // SAFETY: the entry point's type.
            unsafe { (**f)(status) };
        }
    }

    pub(crate) fn done(&self) {
        if let Some(f) = &self.done {
            // SAFETY: the entry point's type.
            unsafe { (**f)() };
        }
    }
}

/// A global plugin's entry points.
pub(crate) struct Global {
    config_path: String,
    init: Symbol<abi::hy_plugin_init_fn>,
    done: Option<Symbol<abi::hy_plugin_done_fn>>,
    pre_reload: Option<Symbol<abi::hy_plugin_pre_config_reload_fn>>,
    post_reload: Option<Symbol<abi::hy_plugin_post_config_reload_fn>>,
}

impl Global {
    pub(crate) fn load(library: &Library, config_path: &str) -> Global {
        validate(library, PluginKind::Global, config_path).unwrap();
        Global {
            config_path: config_path.to_owned(),
            init: optional(library, symbol::PLUGIN_INIT).unwrap(),
            done: optional(library, symbol::PLUGIN_DONE),
            pre_reload: optional(library, symbol::PLUGIN_PRE_CONFIG_RELOAD),
            post_reload: optional(library, symbol::PLUGIN_POST_CONFIG_RELOAD),
        }
    }

    /// Calls init with `argv[0]` the plugin path, then `params`.
    pub(crate) fn init(&self, host: &TestHost, params: &[&str]) -> Result<(), abi::Error> {
        let args: Vec<CString> = std::iter::once(self.config_path.as_str())
            .chain(params.iter().copied())
            .map(|a| CString::new(a).unwrap())
            .collect();
        let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let mut errbuf = ErrorBuffer::new();
        // SAFETY: the table outlives the plugin's use; argc strings; the error buffer.
        let r = unsafe {
            (*self.init)(
                host.api(),
                argv.len() as i32,
                argv.as_mut_ptr(),
                errbuf.as_mut_ptr(),
                errbuf.size(),
            )
        };
        if r == abi::HY_SUCCESS {
            Ok(())
        } else {
            Err(abi::Error::init_failed(&self.config_path, &errbuf))
        }
    }

    pub(crate) fn pre_reload(&self) {
        if let Some(f) = &self.pre_reload {
            // SAFETY: the entry point's type.
            unsafe { (**f)() };
        }
    }

    pub(crate) fn post_reload(&self, status: i32) {
        if let Some(f) = &self.post_reload {
            // SAFETY: the entry point's type.
            unsafe { (**f)(status) };
        }
    }

    pub(crate) fn done(&self) {
        if let Some(f) = &self.done {
            // SAFETY: the entry point's type.
            unsafe { (**f)() };
        }
    }
}
