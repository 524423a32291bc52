//! The host's function table, and what a plugin asks of the host outside a transaction:
//! logging, its own identity and priority, user arg slots, global thresholds.
//!
//! The table is kept in a process-wide atomic pointer of this plugin's copy of the SDK: each
//! plugin shared object links its own copy, so two plugins (or two versions of one) never see
//! each other's. It is set by the first init entry point and cleared by the last done.

use std::ffi::{CStr, CString, c_char};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use hookyard_abi::{self as abi, hy_api};

use crate::error::Error;
use crate::hook::HookId;

static API: AtomicPtr<hy_api> = AtomicPtr::new(ptr::null_mut());
/// How many of the plugin's roles (remap, global) are initialised.
static ROLES: AtomicUsize = AtomicUsize::new(0);

/// Checks and installs the table handed to an init entry point.
///
/// # Safety
///
/// `api` is null or points to a table that stays valid until the matching done entry point
/// returns (the host's promise).
pub(crate) unsafe fn install(api: *const hy_api) -> Result<Host, Error> {
    if api.is_null() {
        return Err(Error::new("the host passed no function table"));
    }
    // SAFETY: non-null, and valid per the caller's contract; `size` and `version` are the first
    // fields in every version of the table.
    let table: &'static hy_api = unsafe { &*api };
    let major = table.version >> 16;
    if major != u32::from(abi::HY_ABI_MAJOR) {
        return Err(Error::new(format_args!(
            "the host's function table is for ABI major {major}, this plugin's SDK for {}",
            abi::HY_ABI_MAJOR
        )));
    }
    if (table.size as usize) < size_of::<hy_api>() {
        return Err(Error::new(format_args!(
            "the host's function table has {} bytes, this plugin needs {}",
            table.size,
            size_of::<hy_api>()
        )));
    }
    API.store(api.cast_mut(), Ordering::Release);
    ROLES.fetch_add(1, Ordering::AcqRel);
    Ok(Host { api: table })
}

/// Forgets the table when the last initialised role is done.
pub(crate) fn release() {
    let previous = ROLES.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    if previous == Ok(1) {
        API.store(ptr::null_mut(), Ordering::Release);
    }
}

/// The installed table, if any.
pub(crate) fn api() -> Option<&'static hy_api> {
    let api = API.load(Ordering::Acquire);
    // SAFETY: only `install` stores a non-null pointer, to a table the host keeps valid until
    // the done entry point, where `release` clears it.
    (!api.is_null()).then(|| unsafe { &*api })
}

/// The host, as seen by this plugin: available from the first init entry point until the last
/// done entry point.
#[derive(Clone, Copy, Debug)]
pub struct Host {
    pub(crate) api: &'static hy_api,
}

/// A log level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Errors.
    Error,
    /// Warnings.
    Warn,
    /// Information.
    Info,
    /// Debugging.
    Debug,
    /// Tracing.
    Trace,
}

impl LogLevel {
    /// The C value (`HY_LOG_*`).
    pub const fn raw(self) -> abi::hy_log_level {
        match self {
            LogLevel::Error => abi::HY_LOG_ERROR,
            LogLevel::Warn => abi::HY_LOG_WARN,
            LogLevel::Info => abi::HY_LOG_INFO,
            LogLevel::Debug => abi::HY_LOG_DEBUG,
            LogLevel::Trace => abi::HY_LOG_TRACE,
        }
    }
}

/// The kind of object a user arg slot lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// One transaction (indices 1000..).
    Txn,
    /// One session (indices 2000..).
    Ssn,
    /// One session's connection (indices 3000..).
    Conn,
    /// The process (indices 4000..).
    Global,
}

impl ArgKind {
    /// The C value (`HY_USER_ARG_*`).
    pub const fn raw(self) -> abi::hy_user_arg_type {
        match self {
            ArgKind::Txn => abi::HY_USER_ARG_TXN,
            ArgKind::Ssn => abi::HY_USER_ARG_SSN,
            ArgKind::Conn => abi::HY_USER_ARG_CONN,
            ArgKind::Global => abi::HY_USER_ARG_GLB,
        }
    }
}

/// A reserved user arg slot. Its value is an address-sized number: store an id, or a pointer you
/// free yourself (at `TXN_CLOSE` for transaction slots).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserArg {
    kind: ArgKind,
    index: i32,
}

impl UserArg {
    /// The kind of object the slot lives on.
    pub fn kind(self) -> ArgKind {
        self.kind
    }

    /// The raw index (ATS numbering: `slot + (kind + 1) * 1000`).
    pub fn index(self) -> i32 {
        self.index
    }

    pub(crate) fn expect(self, kind: ArgKind) -> Result<i32, Error> {
        if self.kind == kind {
            Ok(self.index)
        } else {
            Err(Error::new(format_args!(
                "user arg {} is a {:?} slot, used on a {kind:?} object",
                self.index, self.kind
            )))
        }
    }
}

fn check(result: abi::hy_return, function: &str) -> Result<(), Error> {
    if result == abi::HY_SUCCESS { Ok(()) } else { Err(Error::host(function)) }
}

pub(crate) fn c_string(s: &str, what: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error::new(format_args!("{what} `{s}` contains a NUL byte")))
}

/// Copies a host string view.
///
/// # Safety
///
/// `s` was just filled by the host: `len` readable bytes at `ptr` (or `len` 0).
pub(crate) unsafe fn copy_view(s: abi::hy_str) -> String {
    // SAFETY: forwarded to the caller.
    String::from_utf8_lossy(unsafe { view(&s) }).into_owned()
}

/// Borrows a host string view; the caller picks a lifetime no longer than the host promises.
///
/// # Safety
///
/// `s` was filled by the host: `len` readable bytes at `ptr` (or `len` 0), unchanged for `'a`.
pub(crate) unsafe fn view<'a>(s: &abi::hy_str) -> &'a [u8] {
    if s.len == 0 || s.ptr.is_null() {
        return &[];
    }
    // SAFETY: forwarded to the caller.
    unsafe { std::slice::from_raw_parts(s.ptr.cast::<u8>(), s.len) }
}

impl Host {
    /// The host, between the plugin's init and done entry points.
    pub fn get() -> Option<Host> {
        api().map(|api| Host { api })
    }

    /// The host, or an error saying it is not available.
    pub(crate) fn require() -> Result<Host, Error> {
        Host::get().ok_or_else(Error::no_host)
    }

    /// The host's ABI version (major, minor).
    pub fn abi_version(self) -> (u16, u16) {
        ((self.api.version >> 16) as u16, (self.api.version & 0xffff) as u16)
    }

    /// Whether a message at `level` would be logged.
    pub fn log_enabled(self, level: LogLevel) -> bool {
        // SAFETY: the table is valid while installed; `plugin` is this plugin's handle.
        unsafe { (self.api.log_enabled)(self.api.plugin, level.raw()) != 0 }
    }

    /// Logs `message`, tagged by the host with this plugin's name and version.
    pub fn log(self, level: LogLevel, message: &str) {
        // SAFETY: the message is valid for the call; the host copies what it keeps.
        unsafe {
            (self.api.log)(self.api.plugin, level.raw(), message.as_ptr().cast(), message.len())
        }
    }

    /// This plugin's name, as the host knows it (from the descriptor).
    pub fn plugin_name(self) -> String {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: `out` is a valid out-parameter; the host fills it with a view valid until
        // done, copied at once.
        unsafe {
            (self.api.plugin_name_get)(self.api.plugin, &mut out);
            copy_view(out)
        }
    }

    /// The proxy's configuration directory (since ABI 1.5), to find the plugin's own files;
    /// `None` for a configuration without one (the embedded default).
    pub fn config_dir(self) -> Option<std::path::PathBuf> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: a valid out-parameter; the view is copied at once.
        unsafe {
            if (self.api.config_dir_get)(self.api.plugin, &mut out) != abi::HY_SUCCESS {
                return None;
            }
            Some(copy_view(out).into())
        }
    }

    /// The directory of the plugin file this version was loaded from, as the operator installed
    /// it (since ABI 1.6; ATS's `TSPluginDirGet`); `None` when the host knows none.
    pub fn plugin_dir(self) -> Option<std::path::PathBuf> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: a valid out-parameter; the view is copied at once.
        unsafe {
            if (self.api.plugin_dir_get)(self.api.plugin, &mut out) != abi::HY_SUCCESS {
                return None;
            }
            Some(copy_view(out).into())
        }
    }

    /// Marks the origin host `name` of the proxy's strategies (`host:port`, or a host for each
    /// of its ports) down with `reason`, or up again with `None` (since ABI 1.6; ATS's
    /// `TSHostStatusSet`). The mark is the operator's: it holds across reloads until changed.
    ///
    /// # Errors
    ///
    /// When no serving strategy has a host called `name`, or `reason` is refused (over 256
    /// bytes, control characters).
    pub fn set_host_status(self, name: &str, reason: Option<&str>) -> Result<(), Error> {
        let (up, reason) = match reason {
            Some(reason) => (0, reason),
            None => (1, ""),
        };
        // SAFETY: valid spans for the call.
        let r = unsafe {
            (self.api.host_status_set)(
                self.api.plugin,
                name.as_ptr().cast(),
                name.len(),
                up,
                reason.as_ptr().cast(),
                reason.len(),
            )
        };
        if r == abi::HY_SUCCESS {
            Ok(())
        } else {
            Err(Error::new(format_args!("host `{name}`: status refused")))
        }
    }

    /// Whether the origin host `name` takes transactions now (since ABI 1.6); `None` when no
    /// serving strategy has a host called `name`.
    pub fn host_up(self, name: &str) -> Option<bool> {
        let mut up = 0;
        // SAFETY: a valid span and out-parameter for the call.
        let r = unsafe {
            (self.api.host_status_get)(self.api.plugin, name.as_ptr().cast(), name.len(), &mut up)
        };
        (r == abi::HY_SUCCESS).then_some(up != 0)
    }

    /// This plugin's version, as the host knows it (from the descriptor).
    pub fn plugin_version(self) -> String {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: as in `plugin_name`.
        unsafe {
            (self.api.plugin_version_get)(self.api.plugin, &mut out);
            copy_view(out)
        }
    }

    /// Reserves a user arg slot by name, or finds the one already reserved under that name
    /// (safe to repeat on every reload).
    ///
    /// # Errors
    ///
    /// When the kind is full, or a string contains a NUL byte.
    pub fn reserve_arg(
        self,
        kind: ArgKind,
        name: &str,
        description: &str,
    ) -> Result<UserArg, Error> {
        let name_c = c_string(name, "user arg name")?;
        let description = c_string(description, "user arg description")?;
        let mut index = 0;
        // SAFETY: C strings valid for the call; `index` a valid out-parameter.
        let result = unsafe {
            (self.api.user_arg_reserve)(
                kind.raw(),
                name_c.as_ptr(),
                description.as_ptr(),
                &mut index,
            )
        };
        check(result, "user_arg_reserve")?;
        Ok(UserArg { kind, index })
    }

    /// The slot reserved under `name`, if any.
    pub fn find_arg(self, kind: ArgKind, name: &str) -> Option<UserArg> {
        let name = c_string(name, "user arg name").ok()?;
        let mut index = 0;
        // SAFETY: C string valid for the call; `index` a valid out-parameter; NULL description
        // is allowed.
        let result = unsafe {
            (self.api.user_arg_name_lookup)(kind.raw(), name.as_ptr(), &mut index, ptr::null_mut())
        };
        (result == abi::HY_SUCCESS).then_some(UserArg { kind, index })
    }

    /// The name a slot was reserved under.
    pub fn arg_name(self, arg: UserArg) -> Option<String> {
        let mut name: *const c_char = ptr::null();
        // SAFETY: `name` a valid out-parameter; NULL description allowed; the host's strings
        // live as long as the process and are copied at once.
        unsafe {
            let result = (self.api.user_arg_index_lookup)(
                arg.kind.raw(),
                arg.index,
                &mut name,
                ptr::null_mut(),
            );
            (result == abi::HY_SUCCESS && !name.is_null())
                .then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
        }
    }

    /// The value of a global slot (0 when unset).
    ///
    /// # Errors
    ///
    /// When `arg` is not a global slot or not reserved.
    pub fn global_arg(self, arg: UserArg) -> Result<usize, Error> {
        let index = arg.expect(ArgKind::Global)?;
        let mut value = ptr::null_mut();
        // SAFETY: NULL object means the global table; `value` a valid out-parameter.
        let result = unsafe { (self.api.user_arg_get)(ptr::null_mut(), index, &mut value) };
        check(result, "user_arg_get")?;
        Ok(value as usize)
    }

    /// Sets the value of a global slot.
    ///
    /// # Errors
    ///
    /// When `arg` is not a global slot or not reserved.
    pub fn set_global_arg(self, arg: UserArg, value: usize) -> Result<(), Error> {
        let index = arg.expect(ArgKind::Global)?;
        // SAFETY: NULL object means the global table; the value is opaque to the host.
        let result = unsafe {
            (self.api.user_arg_set)(ptr::null_mut(), index, ptr::without_provenance_mut(value))
        };
        check(result, "user_arg_set")
    }

    /// This plugin's current priority and its operator-given ceiling.
    ///
    /// # Errors
    ///
    /// When the host refuses.
    pub fn priority(self) -> Result<(i32, i32), Error> {
        let (mut priority, mut ceiling) = (0, 0);
        // SAFETY: valid out-parameters.
        let result =
            unsafe { (self.api.plugin_priority_get)(self.api.plugin, &mut priority, &mut ceiling) };
        check(result, "plugin_priority_get")?;
        Ok((priority, ceiling))
    }

    /// Sets this plugin's priority for its later registrations (at most its ceiling).
    ///
    /// # Errors
    ///
    /// Above the ceiling.
    pub fn set_priority(self, priority: i32) -> Result<(), Error> {
        // SAFETY: plain values.
        check(
            unsafe { (self.api.plugin_priority_set)(self.api.plugin, priority) },
            "plugin_priority_set",
        )
    }

    /// The priority and ceiling of the plugin called `plugin` (since ABI 1.2).
    ///
    /// # Errors
    ///
    /// For a plugin the configuration generation does not know.
    pub fn priority_of(self, plugin: &str) -> Result<(i32, i32), Error> {
        let (mut priority, mut ceiling) = (0, 0);
        // SAFETY: the name is valid for the call; valid out-parameters.
        let result = unsafe {
            (self.api.plugin_priority_of_get)(
                self.api.plugin,
                plugin.as_ptr().cast(),
                plugin.len(),
                &mut priority,
                &mut ceiling,
            )
        };
        check(result, "plugin_priority_of_get")?;
        Ok((priority, ceiling))
    }

    /// Sets the priority of the plugin called `plugin` for the rest of this configuration
    /// generation: this plugin itself, or one whose ceiling is below this plugin's; never above
    /// that plugin's own ceiling (since ABI 1.2).
    ///
    /// # Errors
    ///
    /// When this plugin may not, or above the target's ceiling.
    pub fn set_priority_of(self, plugin: &str, priority: i32) -> Result<(), Error> {
        // SAFETY: the name is valid for the call.
        let result = unsafe {
            (self.api.plugin_priority_of_set)(
                self.api.plugin,
                plugin.as_ptr().cast(),
                plugin.len(),
                priority,
            )
        };
        check(result, "plugin_priority_of_set")
    }

    /// The global threshold for `hook` (`None`: for every hook), if one is set.
    pub fn global_threshold(self, hook: Option<HookId>) -> Option<i32> {
        threshold_get(self.api, abi::HY_HOOK_LEVEL_GLOBAL, ptr::null_mut(), hook)
    }

    /// Sets (`Some`) or clears (`None`) the global threshold for `hook` (`None`: every hook)
    /// until the next configuration generation.
    ///
    /// # Errors
    ///
    /// Above the plugin's ceiling.
    pub fn set_global_threshold(
        self,
        hook: Option<HookId>,
        threshold: Option<i32>,
    ) -> Result<(), Error> {
        threshold_set(self.api, abi::HY_HOOK_LEVEL_GLOBAL, ptr::null_mut(), hook, threshold)
    }
}

pub(crate) fn threshold_get(
    api: &hy_api,
    level: abi::hy_hook_level,
    object: *mut std::ffi::c_void,
    hook: Option<HookId>,
) -> Option<i32> {
    let mut threshold = 0;
    let hook = hook.map_or(abi::HY_HOOK_ANY, HookId::raw);
    // SAFETY: `object` matches `level` (the callers pass their own handle); valid out-parameter.
    let result = unsafe { (api.threshold_get)(api.plugin, level, object, hook, &mut threshold) };
    (result == abi::HY_SUCCESS && threshold != abi::HY_THRESHOLD_NONE).then_some(threshold)
}

pub(crate) fn threshold_set(
    api: &hy_api,
    level: abi::hy_hook_level,
    object: *mut std::ffi::c_void,
    hook: Option<HookId>,
    threshold: Option<i32>,
) -> Result<(), Error> {
    let hook = hook.map_or(abi::HY_HOOK_ANY, HookId::raw);
    let threshold = threshold.unwrap_or(abi::HY_THRESHOLD_NONE);
    // SAFETY: `object` matches `level` (the callers pass their own handle).
    check(
        unsafe { (api.threshold_set)(api.plugin, level, object, hook, threshold) },
        "threshold_set",
    )
}

pub(crate) fn checked(result: abi::hy_return, function: &str) -> Result<(), Error> {
    check(result, function)
}

/// Logs through the host at `level` if the host is available and the level enabled; formats
/// only then. Used by the logging macros.
#[doc(hidden)]
pub fn __log(level: LogLevel, args: std::fmt::Arguments<'_>) {
    if let Some(host) = Host::get()
        && host.log_enabled(level)
    {
        match args.as_str() {
            Some(s) => host.log(level, s),
            None => host.log(level, &args.to_string()),
        }
    }
}
