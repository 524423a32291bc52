//! Plugin contexts and continuation tracking.
//!
//! Every piece of plugin code runs *in a context*: the [`Context`] of the plugin that owns it, or
//! the core context for what the proxy itself does. A context holds its plugin's name and the
//! [`Library`](hookyard_dso::Library) handle that keeps the plugin's code loaded, and counts the
//! plugin's live continuations, invocations and time spent in its code.
//!
//! The *current context* is thread-local. [`Context::run`] sets it for the duration of a closure
//! and restores the previous one when the closure returns or unwinds (a scope guard on the stack
//! does it; the previous value never lives in shared state). A [`Continuation`] captures the
//! current context when created and
//! enters it whenever it is invoked, so a continuation created by plugin code, at any depth,
//! belongs to that plugin and keeps its code loaded until it is destroyed.
//!
//! A context can be retired when its configuration generation is gone: its continuations keep
//! running until destroyed, and the plugin version unloads after the last one. Past an optional
//! drain deadline, or when force-retired, events for its continuations are dropped and counted,
//! never dispatched.
//!
//! This crate knows plugin code only as "a library handle and a name"; it knows nothing of hooks,
//! remap rules or the C ABI. Its one `unsafe` block is in the private `current` module: the
//! current context is a borrowed pointer, so entering a context costs no atomic operation, and
//! that module's header states the invariant that makes it sound.
//!
//! # Examples
//!
//! ```
//! use hookyard_context::{Context, Continuation};
//!
//! let plugin = Context::builtin("stats");
//! let outer = plugin.run(|| {
//!     Continuation::new(|n: u32| {
//!         // Created inside the handler: inherits the plugin's context.
//!         Continuation::new(move |m: u32| n + m)
//!     })
//! });
//! assert_eq!(outer.context(), plugin);
//! let inner = outer.invoke(|make| make(1)).unwrap();
//! assert_eq!(inner.context(), plugin);
//! assert_eq!(inner.invoke(|add| add(2)).unwrap(), 3);
//! assert_eq!(plugin.snapshot().live_continuations, 2);
//! ```
#![deny(unsafe_code)]

mod context;
mod continuation;
#[allow(unsafe_code, reason = "the current context is a borrowed pointer; see the module")]
mod current;

pub use context::{Context, ContextInfo, ContextState};
pub use continuation::{Continuation, EventDropped};
