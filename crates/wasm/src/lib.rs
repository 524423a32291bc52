//! WebAssembly plugins on the proxy-wasm ABI (0.2.1, the one Envoy's SDKs target), hosted with
//! wasmtime.
//!
//! A [`Plugin`] is one version of a module with its configuration: compiled once per content
//! (the [`Runtime`] caches modules by SHA-256, so a reload of an unchanged module compiles
//! nothing), instantiated once per worker slot on first use, with a root context that was
//! started (`proxy_on_vm_start`) and configured (`proxy_on_configure`). A transaction gets an
//! [`HttpFilter`] — one HTTP context — whose callbacks see the request and response heads and
//! bodies the caller moves in, and answer a [`Verdict`]: go on, answer locally, or wait for HTTP
//! calls the caller makes.
//!
//! Every callback runs under the plugin's [`Limits`]: a memory ceiling per instance and a
//! deadline per callback (wasmtime's epoch interruption, advanced by one thread). A trap, a
//! deadline or a limit is a [`Failure`] of that call only: the instance is dropped (the next
//! transaction starts a fresh one), the failure counted, and after too many failures within a
//! window the plugin version is quarantined: its filters are skipped until it is loaded again.
//!
//! It knows nothing of hookyard's hooks, configuration files or sockets; its caller maps the
//! callbacks onto its transaction. It has no `unsafe`: wasmtime's safe API checks every access
//! to a module's memory.

#![forbid(unsafe_code)]

mod abi;
mod call;
mod filter;
mod host;
mod plugin;
mod runtime;
mod vm;

pub use call::{
    HttpCall, HttpCallResponse, LocalResponse, Properties, RequestHead, ResponseHead, Unread,
};
pub use filter::{BodyVerdict, HttpFilter, Verdict};
pub use plugin::{Counts, Limits, Plugin, PluginSpec};
pub use runtime::{CompiledModule, Runtime};

/// Why a plugin version could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine could not be made.
    #[error("the WebAssembly engine could not start: {0}")]
    Engine(String),
    /// The bytes are not a valid module.
    #[error("not a valid WebAssembly module: {0}")]
    Compile(String),
    /// The module's imports could not be linked.
    #[error("the module cannot be linked: {0}")]
    Link(String),
    /// The first instance failed to start or refused its configuration.
    #[error("the module failed to start: {0}")]
    Start(String),
}

/// How a callback failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The module trapped (`unreachable`, a panic, a bad memory access, a missing import).
    Trap,
    /// The callback ran past its deadline.
    Deadline,
    /// The instance reached its memory limit.
    Memory,
    /// An instance could not be started.
    Broken,
}

impl FailureKind {
    /// Its name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Trap => "trap",
            FailureKind::Deadline => "deadline",
            FailureKind::Memory => "memory",
            FailureKind::Broken => "broken",
        }
    }
}

/// A failed callback: the transaction that ran it fails.
#[derive(Clone, Debug, thiserror::Error)]
#[error("wasm plugin {plugin}: {} ({message})", kind.as_str())]
pub struct Failure {
    /// The plugin's name.
    pub plugin: String,
    /// How it failed.
    pub kind: FailureKind,
    /// What wasmtime said.
    pub message: String,
}

impl Failure {
    pub(crate) fn of(plugin: &str, error: &wasmtime::Error) -> Failure {
        let message = format!("{error:#}");
        let kind = match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => FailureKind::Deadline,
            _ if message.contains("growing memory") => FailureKind::Memory,
            _ => FailureKind::Trap,
        };
        Failure { plugin: plugin.to_owned(), kind, message }
    }
}
