//! Safe Rust SDK for writing hookyard plugins.
//!
//! A plugin is a `cdylib` crate that implements [`RemapPlugin`], [`GlobalPlugin`] or both, and
//! names them in one [`plugin!`] invocation. The macro exports the descriptor the host checks
//! first and every entry point of `hookyard.h`; each entry point catches panics, so a bug in a
//! plugin becomes an error for one configuration load or a 500 for one transaction, never a
//! crash of the proxy. A plugin needs no `unsafe`.
//!
//! ```
//! use hookyard_sdk::{InstanceArgs, Msg, RemapPlugin, RemapRequest, RemapStatus, Txn, Error};
//!
//! struct AddHeader { name: String, value: String }
//!
//! impl RemapPlugin for AddHeader {
//!     fn new_instance(args: &InstanceArgs<'_>) -> Result<Self, Error> {
//!         let [name, value] = args.params[..] else { return Err(Error::new("want: name value")) };
//!         Ok(AddHeader { name: name.into(), value: value.into() })
//!     }
//!     fn do_remap(&self, txn: &mut Txn<'_>, _: &mut RemapRequest<'_>) -> RemapStatus {
//!         match txn.add_header(Msg::ClientRequest, &self.name, &self.value) {
//!             Ok(()) => RemapStatus::NoRemap,
//!             Err(_) => RemapStatus::Error,
//!         }
//!     }
//! }
//!
//! hookyard_sdk::plugin! { name: "add_header", version: env!("CARGO_PKG_VERSION"), remap: AddHeader }
//! ```
//!
//! # Rules for plugin code: stay unloadable
//!
//! hookyard unloads a plugin version once nothing uses it, and a thread that ran plugin code
//! may exit long after. Code that registers something the process calls later *inside* the
//! plugin's own copy of `std` either keeps the library mapped forever or crashes the process
//! when that thread exits after the unload (rust-lang/rust#59629, #91979). So in a plugin:
//!
//! - no `thread_local!` (a value with a destructor registers a thread-exit callback in the
//!   plugin; keep per-thread state in the host's user args or in a `Mutex`);
//! - no `std::thread::current()`, `std::thread::park()` or anything that asks for the current
//!   thread's handle (it lives in a thread-local with a destructor);
//! - no `println!`, `eprintln!`, `dbg!` or `std::io::stdout()` / `stderr()` (their locks ask
//!   for the current thread); log with [`info!`] and friends, which go through the host;
//! - threads the plugin starts are joined before its done entry point returns;
//! - a [`Continuation`] keeps the plugin loaded while it lives: keep them in the plugin's
//!   state, dropped at done;
//! - build with `panic = "unwind"` (the default): [`plugin!`] refuses to compile with `abort`.
//!
//! The SDK itself follows these rules (its panic hook never asks for the current thread). The
//! template under `plugins/rust/template` carries a `clippy.toml` whose `disallowed-methods`
//! and `disallowed-macros` enforce the first three. A plugin that cannot follow them declares
//! it (`cannot_unload: true` in [`plugin!`]) and is never unloaded.
//!
//! # What this crate owns
//!
//! Safe wrappers over the host table of `hookyard_abi` ([`Host`], [`Txn`], [`Ssn`],
//! [`Continuation`], [`Resume`]) and the entry-point glue. It depends on `hookyard-abi` only and
//! knows nothing of how the host implements the table.
//!
//! `unsafe` lives where the C boundary is crossed: the table calls in `host`, `txn` and `cont`,
//! and the entry points in `entry`; each block says why it holds. Plugin authors never need it.
#![deny(unsafe_code)]

#[allow(unsafe_code, reason = "calls through the host table and the continuation trampoline")]
mod cont;
#[allow(unsafe_code, reason = "the exported entry points receive raw pointers from the host")]
mod entry;
mod error;
mod global;
mod hook;
#[allow(unsafe_code, reason = "calls through the host table")]
mod host;
#[allow(unsafe_code, reason = "reads the message the host lends")]
mod lifecycle_msg;
mod message;
#[allow(unsafe_code, reason = "reads the remap request info the host lends")]
mod remap;
#[allow(unsafe_code, reason = "calls through the host table")]
mod stat;
#[allow(unsafe_code, reason = "reads the chunks the host lends, calls through the host table")]
mod transform;
#[allow(unsafe_code, reason = "calls through the host table on a lent transaction")]
mod txn;

pub use cont::{Continuation, Event, schedule};
pub use error::Error;
pub use global::GlobalPlugin;
pub use hook::{CallbackId, CallbackInfo, HookId, HookResult, Level};
/// The C ABI this SDK wraps.
pub use hookyard_abi as abi;
#[doc(hidden)]
pub use host::__log;
pub use host::{ArgKind, Host, LogLevel, UserArg};
pub use lifecycle_msg::LifecycleMsg;
pub use message::{Msg, Url, UrlPart};
pub use remap::{InstanceArgs, ReloadStatus, RemapPlugin, RemapRequest, RemapStatus, ServerState};
pub use stat::{Stat, StatKind};
pub use transform::{BodyKind, Chunk, Deferred, Transform, TransformKind};
pub use txn::{Resume, Ssn, Txn};

/// Not part of the API: what [`plugin!`] expands to.
#[doc(hidden)]
pub mod __private {
    pub use crate::entry::*;
}

/// Exports a plugin: its descriptor and the entry points of its kinds.
///
/// ```
/// use hookyard_sdk::{Error, GlobalPlugin, Host, InstanceArgs, RemapPlugin, RemapRequest};
/// use hookyard_sdk::{RemapStatus, Txn};
///
/// struct Rewrite;
/// impl RemapPlugin for Rewrite {
///     fn new_instance(_: &InstanceArgs<'_>) -> Result<Self, Error> {
///         Ok(Rewrite)
///     }
///     fn do_remap(&self, _: &mut Txn<'_>, _: &mut RemapRequest<'_>) -> RemapStatus {
///         RemapStatus::NoRemap
///     }
/// }
///
/// struct Stats;
/// impl GlobalPlugin for Stats {
///     fn init(_: Host, _: &[&str]) -> Result<Self, Error> {
///         Ok(Stats)
///     }
/// }
///
/// hookyard_sdk::plugin! {
///     name: "rewrite",                      // the plugin's identity (priorities, logs)
///     version: env!("CARGO_PKG_VERSION"),
///     remap: Rewrite,                       // a RemapPlugin (optional)
///     global: Stats,                        // a GlobalPlugin (optional)
///     cannot_unload: false,                 // optional: true pins the plugin in memory
/// }
/// # assert_eq!(hy_plugin_descriptor.get().flags, 0);
/// ```
///
/// `name` and `version` must be string literals or macros expanding to them (`env!`).
#[macro_export]
macro_rules! plugin {
    (
        name: $name:expr,
        version: $version:expr
        $(, remap: $remap:ty)?
        $(, global: $global:ty)?
        $(, cannot_unload: $cannot_unload:expr)?
        $(,)?
    ) => {
        #[cfg(panic = "abort")]
        ::core::compile_error!(
            "hookyard plugins must be built with panic = \"unwind\": the SDK turns a panic into \
             an error, an abort would take the proxy down"
        );

        /// The descriptor the host reads before anything else.
        #[unsafe(no_mangle)]
        #[allow(non_upper_case_globals, reason = "the C symbol name")]
        pub static hy_plugin_descriptor: $crate::__private::Descriptor =
            $crate::__private::Descriptor::new(
                $crate::__private::c_str(::core::concat!($name, "\0")),
                $crate::__private::c_str(::core::concat!($version, "\0")),
                false $(|| $cannot_unload)?,
            );

        $( $crate::__remap_entry_points!($remap); )?
        $( $crate::__global_entry_points!($global); )?
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __remap_entry_points {
    ($t:ty) => {
        /// `hy_remap_init` (see `hookyard.h`).
        ///
        /// # Safety
        ///
        /// Called by the host only.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn hy_remap_init(
            api: *const $crate::abi::hy_api,
            errbuf: *mut ::core::ffi::c_char,
            errbuf_size: i32,
        ) -> $crate::abi::hy_return {
            // SAFETY: the host calls this as hookyard.h documents.
            unsafe { $crate::__private::remap_init::<$t>(api, errbuf, errbuf_size) }
        }

        /// `hy_remap_new_instance` (see `hookyard.h`).
        ///
        /// # Safety
        ///
        /// Called by the host only.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn hy_remap_new_instance(
            argc: i32,
            argv: *mut *mut ::core::ffi::c_char,
            ih: *mut *mut ::core::ffi::c_void,
            errbuf: *mut ::core::ffi::c_char,
            errbuf_size: i32,
        ) -> $crate::abi::hy_return {
            // SAFETY: the host calls this as hookyard.h documents.
            unsafe {
                $crate::__private::remap_new_instance::<$t>(argc, argv, ih, errbuf, errbuf_size)
            }
        }

        /// `hy_remap_do_remap` (see `hookyard.h`).
        ///
        /// # Safety
        ///
        /// Called by the host only.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn hy_remap_do_remap(
            ih: *mut ::core::ffi::c_void,
            txn: *mut $crate::abi::hy_txn,
            rri: *mut $crate::abi::hy_remap_request_info,
        ) -> $crate::abi::hy_remap_status {
            // SAFETY: the host calls this as hookyard.h documents.
            unsafe { $crate::__private::remap_do_remap::<$t>(ih, txn, rri) }
        }

        /// `hy_remap_delete_instance` (see `hookyard.h`).
        ///
        /// # Safety
        ///
        /// Called by the host only.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn hy_remap_delete_instance(ih: *mut ::core::ffi::c_void) {
            // SAFETY: the host calls this as hookyard.h documents.
            unsafe { $crate::__private::remap_delete_instance::<$t>(ih) }
        }

        /// `hy_remap_done` (see `hookyard.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn hy_remap_done() {
            $crate::__private::remap_done::<$t>()
        }

        /// `hy_remap_pre_config_reload` (see `hookyard.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn hy_remap_pre_config_reload() {
            $crate::__private::remap_pre_config_reload::<$t>()
        }

        /// `hy_remap_post_config_reload` (see `hookyard.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn hy_remap_post_config_reload(status: $crate::abi::hy_reload_status) {
            $crate::__private::remap_post_config_reload::<$t>(status)
        }

        /// `hy_remap_os_response` (see `hookyard.h`).
        ///
        /// # Safety
        ///
        /// Called by the host only.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn hy_remap_os_response(
            ih: *mut ::core::ffi::c_void,
            txn: *mut $crate::abi::hy_txn,
            state: $crate::abi::hy_server_state,
        ) {
            // SAFETY: the host calls this as hookyard.h documents.
            unsafe { $crate::__private::remap_os_response::<$t>(ih, txn, state) }
        }

        // The exported functions have exactly the ABI's types.
        const _: () = {
            let _: $crate::abi::hy_remap_init_fn = hy_remap_init;
            let _: $crate::abi::hy_remap_new_instance_fn = hy_remap_new_instance;
            let _: $crate::abi::hy_remap_do_remap_fn = hy_remap_do_remap;
            let _: $crate::abi::hy_remap_delete_instance_fn = hy_remap_delete_instance;
            let _: $crate::abi::hy_remap_done_fn = hy_remap_done;
            let _: $crate::abi::hy_remap_pre_config_reload_fn = hy_remap_pre_config_reload;
            let _: $crate::abi::hy_remap_post_config_reload_fn = hy_remap_post_config_reload;
            let _: $crate::abi::hy_remap_os_response_fn = hy_remap_os_response;
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __global_entry_points {
    ($t:ty) => {
        static __HOOKYARD_GLOBAL: $crate::__private::GlobalSlot<$t> =
            $crate::__private::GlobalSlot::new();

        /// `hy_plugin_init` (see `hookyard.h`).
        ///
        /// # Safety
        ///
        /// Called by the host only.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn hy_plugin_init(
            api: *const $crate::abi::hy_api,
            argc: i32,
            argv: *mut *const ::core::ffi::c_char,
            errbuf: *mut ::core::ffi::c_char,
            errbuf_size: i32,
        ) -> $crate::abi::hy_return {
            // SAFETY: the host calls this as hookyard.h documents.
            unsafe {
                $crate::__private::plugin_init::<$t>(
                    &__HOOKYARD_GLOBAL,
                    api,
                    argc,
                    argv,
                    errbuf,
                    errbuf_size,
                )
            }
        }

        /// `hy_plugin_done` (see `hookyard.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn hy_plugin_done() {
            $crate::__private::plugin_done::<$t>(&__HOOKYARD_GLOBAL)
        }

        /// `hy_plugin_pre_config_reload` (see `hookyard.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn hy_plugin_pre_config_reload() {
            $crate::__private::plugin_pre_config_reload::<$t>(&__HOOKYARD_GLOBAL)
        }

        /// `hy_plugin_post_config_reload` (see `hookyard.h`).
        #[unsafe(no_mangle)]
        pub extern "C" fn hy_plugin_post_config_reload(status: $crate::abi::hy_reload_status) {
            $crate::__private::plugin_post_config_reload::<$t>(&__HOOKYARD_GLOBAL, status)
        }

        // The exported functions have exactly the ABI's types.
        const _: () = {
            let _: $crate::abi::hy_plugin_init_fn = hy_plugin_init;
            let _: $crate::abi::hy_plugin_done_fn = hy_plugin_done;
            let _: $crate::abi::hy_plugin_pre_config_reload_fn = hy_plugin_pre_config_reload;
            let _: $crate::abi::hy_plugin_post_config_reload_fn = hy_plugin_post_config_reload;
        };
    };
}

/// Logs at error level through the host (formats only when the level is enabled).
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::__log($crate::LogLevel::Error, ::core::format_args!($($arg)*)) };
}

/// Logs at warning level through the host.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::__log($crate::LogLevel::Warn, ::core::format_args!($($arg)*)) };
}

/// Logs at info level through the host.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::__log($crate::LogLevel::Info, ::core::format_args!($($arg)*)) };
}

/// Logs at debug level through the host.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::__log($crate::LogLevel::Debug, ::core::format_args!($($arg)*)) };
}

/// Logs at trace level through the host.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::__log($crate::LogLevel::Trace, ::core::format_args!($($arg)*)) };
}
