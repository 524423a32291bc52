//! The stable C plugin ABI of hookyard.
//!
//! This crate owns the contract between the proxy and its plugins: the `#[repr(C)]` types and
//! constants (named as in C, prefix `hy_` / `HY_`), the entry-point symbol names, the ABI
//! version, and the plugin descriptor. It is mirrored by the checked-in
//! `include/hookyard.h`, which documents every function of the host table; the crate's tests
//! compile a C program against that header and fail on any difference in a constant, a layout or
//! a function type ([`layout`] describes the Rust side for that check).
//!
//! It also owns the pure rules a host applies to a freshly loaded plugin, so that every host
//! applies them alike: [`validate`] checks the descriptor (magic, then ABI versions, then name
//! and flags) before any other symbol, then ATS's required-entry-point rules
//! ([`check_symbols`]); [`ErrorBuffer`] and [`Error::init_failed`] implement ATS's error-buffer
//! rules and messages. [`rules`] holds the validity rules of every host function (which values
//! are valid, what a NULL pointer or a handle of the wrong kind gets), called by every host;
//! `conformance` is the table of cases their tests run.
//!
//! It knows nothing of how plugins are loaded, of hooks, remap rules or HTTP (beyond what the
//! host functions accept: tokens, statuses, URL parts), and depends on no workspace crate. It
//! has no `unsafe`: reading a descriptor out of a loaded library, and calling through the types
//! defined here, is the host's (`remap`, `host`) and the SDK's job.
//!
//! # Examples
//!
//! ```
//! use std::ffi::CString;
//! use std::path::Path;
//!
//! use hookyard_abi::{DescriptorFields, HY_ABI_MAJOR, HY_ABI_MINOR, PluginKind, Probe};
//!
//! /// A plugin that exports a good descriptor and only `hy_remap_init`.
//! struct Fake;
//! impl Probe for Fake {
//!     fn magic(&mut self) -> Option<u32> {
//!         Some(hookyard_abi::HY_PLUGIN_MAGIC)
//!     }
//!     fn descriptor(&mut self) -> DescriptorFields {
//!         DescriptorFields {
//!             abi_major: HY_ABI_MAJOR,
//!             abi_minor: HY_ABI_MINOR,
//!             name: Some(CString::new("fake").unwrap()),
//!             version: Some(CString::new("1.0").unwrap()),
//!             flags: 0,
//!             reserved: 0,
//!         }
//!     }
//!     fn exports(&mut self, symbol: &str) -> bool {
//!         symbol == "hy_remap_init"
//!     }
//! }
//!
//! let err = hookyard_abi::validate(PluginKind::Remap, "fake.so", Path::new("/p/fake.so"), &mut Fake)
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "plugin fake.so missing required function hy_remap_do_remap");
//! ```
#![forbid(unsafe_code)]
#![allow(non_camel_case_types, reason = "the C names, so that Rust and hookyard.h read alike")]

#[doc(hidden)]
pub mod conformance;
pub mod layout;
pub mod rules;

mod api;
mod descriptor;
mod errbuf;
mod error;
mod global;
mod remap;
mod symbols;
mod validate;
mod version;

pub use api::*;
pub use descriptor::{
    DescriptorFields, HY_PLUGIN_FLAG_CANNOT_UNLOAD, KNOWN_FLAGS, PluginIdentity, check_descriptor,
    check_magic, hy_descriptor,
};
pub use errbuf::{ErrorBuffer, UNKNOWN_PLUGIN_ERROR};
pub use error::Error;
pub use global::*;
pub use remap::*;
pub use symbols::{PluginKind, check_symbols};
pub use validate::{Probe, validate};
pub use version::*;

/// Symbol names of the descriptor and the entry points.
pub mod symbol {
    pub use crate::symbols::{
        DESCRIPTOR, GLOBAL_ALL, PLUGIN_DONE, PLUGIN_INIT, PLUGIN_POST_CONFIG_RELOAD,
        PLUGIN_PRE_CONFIG_RELOAD, REMAP_ALL, REMAP_DELETE_INSTANCE, REMAP_DO_REMAP, REMAP_DONE,
        REMAP_INIT, REMAP_NEW_INSTANCE, REMAP_OS_RESPONSE, REMAP_POST_CONFIG_RELOAD,
        REMAP_PRE_CONFIG_RELOAD,
    };
}

/// The directory holding the checked-in C header `hookyard.h` (this crate's `include/`), for
/// `-I` when building C plugins from this source tree.
pub const HEADER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/include");
