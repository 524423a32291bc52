//! Integration tests of `hookyard-sdk` and the example plugins: each plugin is built, loaded
//! with `hookyard-dso`, validated like a host does, and driven through a test host that
//! implements the whole `hy_api` table.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod conformance;
mod examples;
mod host;
mod panics;
mod plugin;
mod support;
mod template;
mod tidy;
mod unload;
