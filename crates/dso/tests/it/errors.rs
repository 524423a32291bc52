//! Every kind of bad plugin file gets its own error and leaves nothing behind.

use std::fs;

use hookyard_dso::{Error, ReloadMode};

use crate::support::{CPlugin, Sandbox, VersionFn, compiled};

fn load_error(sandbox: &Sandbox, mode: ReloadMode, name: &str) -> Error {
    let loader = crate::support::loader(sandbox, mode);
    let err = loader.load(name.as_ref()).unwrap_err();
    assert_eq!(loader.stats().failed, 1);
    assert!(loader.snapshot().is_empty());
    assert!(
        sandbox.version_dirs().is_empty(),
        "a failed load leaves no copy: {:?}",
        sandbox.version_dirs()
    );
    err
}

#[test]
fn a_file_that_is_not_a_shared_object_fails_with_the_loaders_message() {
    for mode in [ReloadMode::Dynamic, ReloadMode::Static] {
        let sandbox = Sandbox::new();
        fs::write(sandbox.plugins().join("text.so"), "#!/bin/sh\n# a shell script named like a plugin, long enough to hold an ELF header\nexit 0\n").unwrap();
        match load_error(&sandbox, mode, "text.so") {
            Error::Open { path, message } => {
                assert_eq!(path, fs::canonicalize(sandbox.plugins().join("text.so")).unwrap());
                assert!(message.contains("text.so"), "{message}");
                assert!(message.contains("invalid ELF header"), "{message}");
            }
            other => panic!("{mode:?}: {other:?}"),
        }
    }
}

#[test]
fn an_empty_file_fails_to_open() {
    let sandbox = Sandbox::new();
    fs::write(sandbox.plugins().join("empty.so"), "").unwrap();
    match load_error(&sandbox, ReloadMode::Dynamic, "empty.so") {
        Error::Open { message, .. } => assert!(message.contains("file too short"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_directory_is_not_a_regular_file() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.plugins().join("dir.so")).unwrap();
    let err = load_error(&sandbox, ReloadMode::Dynamic, "dir.so");
    assert!(matches!(err, Error::NotRegularFile { .. }), "{err:?}");
    assert!(err.to_string().ends_with("dir.so` is not a regular file"), "{err}");
}

#[test]
fn a_missing_file_names_the_path_and_every_searched_directory() {
    let sandbox = Sandbox::new();
    let err = load_error(&sandbox, ReloadMode::Dynamic, "missing.so");
    assert_eq!(
        err.to_string(),
        format!(
            "plugin `missing.so` not found in the search directories `{}`",
            sandbox.plugins().display()
        )
    );
    let absolute = sandbox.path().join("nowhere/missing.so");
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    let err = loader.load(&absolute).unwrap_err();
    assert_eq!(err.to_string(), format!("plugin `{}` not found", absolute.display()));
}

#[test]
fn a_missing_symbol_is_named() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let lib = loader.load("plugin.so".as_ref()).unwrap();
    // SAFETY: the type is irrelevant for a symbol that does not exist.
    let err = unsafe { lib.symbol::<VersionFn>("TSRemapInit") }.unwrap_err();
    match &err {
        Error::MissingSymbol { path, symbol } => {
            assert_eq!(path, lib.path());
            assert_eq!(symbol, "TSRemapInit");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().ends_with("does not export the required symbol `TSRemapInit`"));
}
