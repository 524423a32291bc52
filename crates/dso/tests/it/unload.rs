//! Unloads are real: the code leaves memory, threads that ran it exit safely afterwards, and a
//! version that cannot leave is reported pinned.

use std::sync::mpsc;

use hookyard_dso::{Library, Loader, PinReason, ReloadMode, VersionState};

use crate::support::{CPlugin, Sandbox, VersionFn, compiled, mapped, rust_plugin};

/// Calls the plugin on a spawned thread, unloads it while that thread still lives, then lets the
/// thread exit: a plugin that registered a thread-exit destructor would crash the process here.
fn unload_while_a_caller_thread_lives(
    loader: &Loader,
    lib: Library,
    call: fn(&Library) -> i64,
    expect: i64,
) {
    let runtime = lib.runtime_path().to_owned();
    let (called_tx, called_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    let caller = std::thread::spawn(move || {
        let answer = call(&lib);
        drop(lib);
        called_tx.send(answer).unwrap();
        exit_rx.recv().unwrap();
    });
    assert_eq!(called_rx.recv().unwrap(), expect);
    // The caller dropped the last handle before answering, so its unload is queued.
    loader.flush_unloads();
    assert!(!mapped(&runtime), "unloaded while the caller thread still lives");
    assert!(!runtime.parent().unwrap().exists(), "its copy and directory are gone");
    exit_tx.send(()).unwrap();
    caller.join().expect("the caller thread exits cleanly after the unload");
    let stats = loader.stats();
    assert_eq!((stats.unloaded, stats.pinned), (1, 0));
    assert!(loader.snapshot().is_empty());
}

#[test]
fn a_rust_plugin_unloads_and_its_caller_thread_exits_safely_afterwards() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&rust_plugin(), "rust_plugin.so");
    let lib = loader.load("rust_plugin.so".as_ref()).unwrap();
    let call = |lib: &Library| {
        // SAFETY: the Rust test plugin defines these two `extern "C"` functions.
        let (version, sum) = unsafe {
            (
                lib.symbol::<VersionFn>("hy_test_version").unwrap(),
                lib.symbol::<extern "C" fn(u32) -> u64>("hy_test_sum").unwrap(),
            )
        };
        i64::from(version()) * 1_000_000 + sum(100) as i64
    };
    unload_while_a_caller_thread_lives(&loader, lib, call, 42_004_950);
}

#[test]
fn a_c_plugin_unloads_and_its_caller_thread_exits_safely_afterwards() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Version(4)), "plugin.so");
    let lib = loader.load("plugin.so".as_ref()).unwrap();
    // SAFETY: version.c defines `int hy_test_version(void)`.
    let call =
        |lib: &Library| i64::from(unsafe { lib.symbol::<VersionFn>("hy_test_version") }.unwrap()());
    unload_while_a_caller_thread_lives(&loader, lib, call, 4);
}

#[test]
fn a_plugin_that_pins_itself_is_reported_pinned_and_keeps_its_copy() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Pin), "pin.so");
    let lib = loader.load("pin.so".as_ref()).unwrap();
    let (id, runtime) = (lib.id(), lib.runtime_path().to_owned());
    // SAFETY: pin.c defines `int hy_test_pin_self(void)`.
    assert_eq!(unsafe { lib.symbol::<VersionFn>("hy_test_pin_self") }.unwrap()(), 0);
    drop(lib);
    loader.flush_unloads();

    assert!(mapped(&runtime));
    assert!(runtime.exists(), "a pinned version's copy stays for debuggers and perf");
    let snapshot = loader.snapshot();
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].id, id);
    assert_eq!(snapshot[0].state, VersionState::Pinned(PinReason::StillMapped));
    assert_eq!(snapshot[0].references, 0);
    let stats = loader.stats();
    assert_eq!((stats.unloaded, stats.pinned), (0, 1));
}

#[test]
fn a_version_declared_unable_to_unload_is_pinned_by_declaration() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Version(6)), "plugin.so");
    let lib = loader.load("plugin.so".as_ref()).unwrap();
    lib.pin().unwrap();
    assert!(lib.is_pinned());
    let runtime = lib.runtime_path().to_owned();
    drop(lib);
    loader.flush_unloads();
    assert!(mapped(&runtime));
    assert_eq!(loader.snapshot()[0].state, VersionState::Pinned(PinReason::Declared));
}
