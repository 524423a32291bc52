//! Safe Rust SDK for plugin authors.
//!
//! This crate will own: safe wrappers over the host function table and the plugin entry points,
//! so that a Rust plugin needs no `unsafe` and cannot unwind into the host or pin itself in memory
//! (issue 6).
//!
//! It is empty today and provides nothing yet. It will depend on `hookyard-abi` only.
#![forbid(unsafe_code)]
