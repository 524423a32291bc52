//! The host side of hookyard's plugin C ABI.
//!
//! Plugins call the host through one `hy_api` table per plugin version, with raw pointers to
//! the things the host lends them. This crate owns that table and everything its functions act
//! on: the state of each plugin version ([`PluginState`], with its calls counted per hook), a
//! generation's global hooks ([`GlobalHooks`]) and the [`Link`] through which plugin calls reach
//! the serving one, the state of a transaction ([`TxnBox`]) and of a session ([`SsnBox`]) while
//! plugins may see them, the continuations plugins make (and the scheduler thread that runs
//! their events), and the pending/resume state machine of hooks that answer PENDING. A
//! generation may run two versions of one global plugin as a [`Canary`]: each transaction
//! chooses one when its state is made (by its client's address, or at random) and runs only
//! that version's global callbacks.
//!
//! It knows nothing of the proxy: not of sockets, TLS, HTTP framing, configuration files,
//! metrics or the control channel; of a client connection only what its caller tells a session
//! ([`ClientConn`]). It exposes data (counters, hook tables, the state a hook left) and its
//! caller formats it.
//!
//! Ownership of what plugins get pointers to:
//! - `hy_plugin *` is a [`PluginState`], kept by the version's table (an `Arc`; continuations
//!   hold it too).
//! - `hy_txn *` is a [`TxnState`] owned by a [`TxnBox`]: the transaction's task uses it between
//!   plugin calls; a plugin uses it during its call, or from any thread while its hook is pending.
//!   A transaction dropped while a hook is pending (the client left) leaves the state to the
//!   `txn_resume` that must come, which frees it; when none comes within the pending limit (and
//!   a grace period), the host frees it. A state whose wait expired is freed only after that
//!   grace period too, so that the late resume finds it and is refused (`pending.rs`).
//! - `hy_ssn *` is a [`SsnState`], reference-counted: its connection's [`SsnBox`] and the state
//!   of each of its transactions hold it, so it lives as long as the last of them (a plugin
//!   pending on a transaction hook still finds the session of `txn_ssn_get` after the
//!   connection ended). Several transactions (HTTP/2 streams, a TXN_CLOSE still pending while
//!   the next request runs) and plugin threads reach it at once: what plugins can change in it
//!   is behind its lock, which the host never holds while plugin code runs. A session abandoned
//!   while its own hook is pending keeps the box's count for the resume, as a transaction does.
//!   The session counts its open transactions, so SSN_CLOSE can wait for their TXN_CLOSE.
//! - `hy_transform *` is a transform's shared state (`transform.rs`), reference-counted: the
//!   transaction holds it until its body starts, then the [`Stage`] running it; a stage dropped
//!   while the plugin holds a chunk leaves it to the `transform_resume` that must come.
//! - `hy_cont *` is a `Continuation<CCont>` the plugin holds one reference of (`Arc::into_raw`);
//!   hook tables and scheduled events hold others.
//!
//! It has `unsafe` because C calls in with raw pointers: the `extern "C"` functions (`api` and
//! its modules), the states they point to (`txn`, `ssn`, `dispatch`), continuations (`cont`) and
//! the per-version resume entry points (`caller`). Every function of the table checks its
//! pointers, catches panics, and answers `HY_ERROR` for what the contract does not allow; every
//! `unsafe` block says why it is sound in a `// SAFETY:` comment.

mod api;
mod caller;
mod canary;
mod cont;
mod dispatch;
mod global;
mod kept;
mod message;
mod pending;
mod plugin;
mod shard;
mod ssn;
mod stats;
mod transform;
mod txn;

use std::sync::OnceLock;

use hookyard_userargs::Registry;

pub use canary::{Canary, SHARE_SCALE, Split};
pub use cont::{CCont, Callback};
pub use global::GlobalHooks;
pub use kept::Kept;
pub use message::Delivery;
pub use plugin::{
    CallsSnapshot, HostStatus, LATENCY_BUCKETS_US, Link, PluginState, plugin_state, tables,
};
pub use ssn::{ClientConn, ClientTls, SsnBox, SsnState};
pub use stats::{StatValue, plugin_stats};
pub use transform::{Output, Stage};
pub use txn::{PendingHook, ResponseHead, RuleUrls, TxnBox, TxnState, Unread, UrlParts};

/// The user-arg slots of the process, shared by every plugin.
pub(crate) fn user_args() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}
