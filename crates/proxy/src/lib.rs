//! The `hookyard` reverse proxy.
//!
//! This crate will own: the `hookyard` binary (`run`, `check`, `ctl`), the HTTP server and origin
//! client, transactions through hooks and remap, the host side of the plugin ABI, reloads, the
//! control channel and metrics (issue 8).
//!
//! It is empty today and provides nothing yet.
#![forbid(unsafe_code)]
