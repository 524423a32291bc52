//! The `hookyard` reverse proxy: the library behind the `hookyard` binary.
//!
//! It owns the configuration directory ([`config`]: `hookyard.yaml`, `remap.config`,
//! `plugin.yaml`, `strategies.yaml`, `ssl_multicert.config`), origin pools (`pool.rs`: hosts
//! chosen per strategy, checked and marked, names resolved with a cache), the HTTP/1.1 server (plain and TLS listeners, TLS
//! certificates chosen by SNI) and its pooled origin clients ([`Server`]: one current-thread
//! runtime per worker, each with its own `SO_REUSEPORT` listener and origin pool,
//! so a connection never leaves the worker that accepted it; `ARCHITECTURE.md` gives the
//! measurements behind that choice), transactions routed by `hookyard-remap`'s rules,
//! generations swapped atomically on reload (SIGHUP, `ctl reload`, or a change of a watched
//! file: `watch`), the control channel ([`ctl`], JSON-RPC 2.0 over a 0600 Unix socket),
//! Prometheus metrics, the access log ([`access_log`]: one line per transaction, formatted and
//! written by its own thread), `hookyard check` ([`check()`]), and a fleet node's and the
//! fleet commands' use of `hookyard-fleet` ([`fleet`]).
//!
//! Plugins run, served by the host side of the C ABI (`hookyard-host`): remap plugins as each rule's
//! `@plugin=` chain, with the whole ATS lifecycle across reloads (`hookyard-remap`'s
//! generations); global plugins from `plugin.yaml`, initialised once per version and reused by
//! every generation that keeps them. The transaction (`txn.rs`) dispatches the hooks in ATS order
//! to global, session and transaction callbacks, ordered by `plugin.yaml`'s priorities; a
//! callback may answer pending and resume the transaction from any thread. `docs/hooks.md` is
//! the plugin author's view. A plugin version a reload drops, or the operator retires
//! (`ctl plugin retire`), drains for `retirement.drain`; then its events are dropped and counted.
//!
//! Only this crate installs a `tracing` subscriber (in `main.rs`). It has no `unsafe`: the raw
//! pointers of the C ABI stay in `hookyard-host`.
#![forbid(unsafe_code)]

pub mod access_log;
mod admin;
#[doc(hidden)]
pub mod benching;
mod check;
mod clock;
pub mod config;
mod conn;
mod control;
pub mod ctl;
mod dns;
mod drain;
pub mod fleet;
mod forwarding;
#[doc(hidden)]
pub mod fuzzing;
mod generation;
mod limit;
pub mod log;
mod metrics;
mod notify;
mod origin;
mod pool;
mod process;
mod reload;
mod report;
mod sample;
mod server;
mod signals;
mod stats;
pub mod systemd;
mod tls;
mod txn;
mod versions;
mod wasm;
mod watch;

pub use check::{Check, check};
pub use config::runtime_dir;
pub use generation::Generation;
pub use report::{
    CallbackEntry, Draining, HookInfo, PluginVersion, ReloadReport, RuleInfo, Status,
};
pub use server::{AdminSocket, Listeners, Server, ServerConfig, ServerHandle, StartError};
pub use signals::SignalHandlers;
pub use txn::Body;
pub use versions::{RetiredVersion, UnknownPlugin};
