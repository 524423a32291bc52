//! Hook ids and the one dispatcher for global, session and transaction hooks.
//!
//! Plugins register callbacks — [`Continuation`](hookyard_context::Continuation)s, so each knows
//! its plugin — on a [`HookId`] at one of three [`Level`]s: in the configuration's global
//! [`Hooks`] table, a session's, or a transaction's. A [`Dispatch`] runs a hook's callbacks for
//! one transaction: higher [`Priority`] first, then global before session before transaction,
//! then in registration order; each callback answers [`Outcome::Continue`], [`Outcome::Error`]
//! (the rest is skipped, except on the cleanup hooks `TXN_CLOSE` and `SSN_CLOSE`), or
//! [`Outcome::Pending`] (it resumes the dispatch later, from any thread).
//!
//! The operator gives each plugin a ceiling and a default priority, and thresholds globally and
//! per hook ([`PriorityConfig`], the `priorities` part of `plugin.yaml`; [`Priorities`] at run
//! time). A session or transaction [`Control`] switches plugins or single callbacks off, changes a
//! callback's priority, or sets thresholds for that session or transaction only, each change
//! limited by the caller's ceiling. [`callbacks`] lists what a hook would run, in order.
//!
//! Canaries: a global callback may belong to one side of a canary of its table ([`Arm`]: two
//! versions of one plugin, each transaction running one); a dispatch's [`Local`] carries the
//! sides it chose ([`Arms`]), and callbacks of the other side are skipped, on every hook. A
//! dispatch that chose nothing runs both sides.
//!
//! This crate never sees a raw pointer, knows nothing of HTTP, remap rules or the C ABI, and has
//! no `unsafe`. It depends on `hookyard-context` only.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//!
//! use hookyard_context::{Context, Continuation};
//! use hookyard_hooks::{Dispatch, HookId, Hooks, Level, Local, Outcome, Priorities, Priority, Progress};
//!
//! type Handler = dyn Fn(&mut Vec<&'static str>) -> Outcome + Send + Sync;
//! let priorities = Priorities::default();
//! let mut global: Hooks<Handler> = Hooks::new(Level::Global);
//! let callback = |name: &'static str| -> Arc<Continuation<Handler>> {
//!     Context::builtin(name).run(|| {
//!         Arc::new(Continuation::new(move |log: &mut Vec<&'static str>| {
//!             log.push(name);
//!             Outcome::Continue
//!         }))
//!     })
//! };
//! global.add(HookId::ReadRequestHdr, callback("late"), Some(Priority(-1)), &priorities).unwrap();
//! global.add(HookId::ReadRequestHdr, callback("early"), None, &priorities).unwrap();
//!
//! let mut log = Vec::new();
//! let progress = Dispatch::new(HookId::ReadRequestHdr).run(
//!     Some(&global),
//!     &priorities,
//!     &mut log,
//!     |_| Local::default(),
//!     |handler, _hook, log| handler(log),
//! );
//! assert_eq!(progress, Progress::Done(Outcome::Continue));
//! assert_eq!(log, ["early", "late"]);
//! ```
#![forbid(unsafe_code)]

mod canary;
mod config;
mod control;
mod dispatch;
mod error;
mod id;
mod inspect;
mod order;
mod priority;
mod table;

pub use canary::{Arm, Arms};
pub use config::{ConfigError, ConfigErrors, PluginPriorityConfig, PriorityConfig};
pub use control::{Control, Tables};
pub use dispatch::{Dispatch, Local, Next, Outcome, Progress};
pub use error::Error;
pub use id::{HookId, HookScope, Level, UnknownHook};
pub use inspect::{CallbackInfo, callbacks};
pub use order::{Order, OrderSource, OrderSpec, Orders, Relation, Subject};
pub use priority::{Caller, PluginId, Priorities, Priority};
pub use table::{CallbackId, Entry, Hooks};
