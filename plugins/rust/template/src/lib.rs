//! A hookyard plugin template: a remap plugin that changes nothing (ATS's "null remap plugin",
//! a baseline for benchmarks).
//!
//! Copy this directory to start a plugin: rename the package, the `[lib]` name (the file is
//! `lib<name>.so`) and the `name` in `plugin!`, point the `hookyard-sdk` dependency in
//! `Cargo.toml` at your SDK (the one edit a copy outside hookyard's repository needs), and keep
//! `clippy.toml`, which enforces the rules that keep a plugin unloadable.
#![forbid(unsafe_code)]

use hookyard_sdk::{Error, InstanceArgs, RemapPlugin, RemapRequest, RemapStatus, Txn};

/// One instance per `@plugin=template.so` in a rule.
struct Template;

impl RemapPlugin for Template {
    fn new_instance(_args: &InstanceArgs<'_>) -> Result<Self, Error> {
        Ok(Template)
    }

    fn do_remap(&self, _txn: &mut Txn<'_>, _request: &mut RemapRequest<'_>) -> RemapStatus {
        RemapStatus::NoRemap
    }
}

hookyard_sdk::plugin! {
    name: "template",
    version: env!("CARGO_PKG_VERSION"),
    remap: Template,
}
