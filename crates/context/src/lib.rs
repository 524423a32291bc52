//! Plugin contexts and continuation tracking.
//!
//! This crate will own: the plugin context (a plugin's name, its DSO version and the handle that
//! keeps that version loaded), the core context, the thread-local *current context* with its scope
//! guard, and continuations that capture the context that created them (issue 3).
//!
//! It is empty today and provides nothing yet. It will depend on `hookyard-dso` only, and must not
//! know about hooks, remap rules or the proxy.
#![forbid(unsafe_code)]
