//! Loaders over a fixtures sandbox.

use hookyard_dso::{Loader, LoaderConfig, ReloadMode};
pub(crate) use hookyard_fixtures::{
    AddFn, CPlugin, Sandbox, VersionFn, c_plugin as compiled, mapped, rust_plugin,
};

/// A loader whose runtime directory and single search directory are the sandbox's.
pub(crate) fn loader(sandbox: &Sandbox, mode: ReloadMode) -> Loader {
    Loader::new(LoaderConfig::new(sandbox.runtime()).search_dir(sandbox.plugins()).mode(mode))
        .unwrap()
}
