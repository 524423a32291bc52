//! Loading, reuse and side-by-side versions.

use std::fs::{self, File};
use std::os::unix::fs::symlink;
use std::time::{Duration, SystemTime};

use hookyard_dso::{ReloadMode, VersionState};

use crate::support::{AddFn, CPlugin, Sandbox, VersionFn, compiled, mapped};

#[test]
fn a_changed_file_loads_beside_the_old_version_which_unloads_when_released() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let v1 = loader.load("plugin.so".as_ref()).unwrap();
    // SAFETY: version.c defines `int hy_test_version(void)`.
    let v1_version = unsafe { v1.symbol::<VersionFn>("hy_test_version") }.unwrap();
    assert_eq!(v1_version(), 1);

    sandbox.install(&compiled(CPlugin::Version(2)), "plugin.so");
    let v2 = loader.load("plugin.so".as_ref()).unwrap();
    // SAFETY: as above.
    let v2_version = unsafe { v2.symbol::<VersionFn>("hy_test_version") }.unwrap();
    assert_eq!(v2_version(), 2);
    assert_eq!(v1_version(), 1, "the old version keeps running its own code");

    assert_ne!(v1.id(), v2.id());
    assert_eq!(v1.path(), v2.path());
    assert_ne!(v1.runtime_path(), v2.runtime_path());
    for lib in [&v1, &v2] {
        let dir = lib.runtime_path().parent().unwrap();
        assert_eq!(dir.parent().unwrap(), loader.runtime_root());
        assert!(uuid_named(dir), "{}", dir.display());
        assert_eq!(lib.runtime_path().file_name().unwrap(), "plugin.so");
        assert!(mapped(lib.runtime_path()));
    }
    assert_eq!(sandbox.version_dirs().len(), 2);
    let snapshot = loader.snapshot();
    assert_eq!(snapshot.len(), 2);
    assert!(snapshot.iter().all(|v| v.state == VersionState::Live));
    assert_eq!(snapshot[0].references, 2, "the handle and the symbol");

    let v1_runtime = v1.runtime_path().to_owned();
    drop(v1_version);
    drop(v1);
    loader.flush_unloads();
    assert!(!mapped(&v1_runtime), "v1 must really leave memory");
    assert!(!v1_runtime.parent().unwrap().exists(), "v1's copy and directory are removed");
    assert_eq!(sandbox.version_dirs().len(), 1);
    assert_eq!(v2_version(), 2);
    let snapshot = loader.snapshot();
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].id, v2.id());

    let stats = loader.stats();
    assert_eq!((stats.loaded, stats.reused, stats.unloaded, stats.pinned), (2, 0, 1, 0));
}

fn uuid_named(dir: &std::path::Path) -> bool {
    let name = dir.file_name().unwrap().to_str().unwrap();
    name.len() == 36 && name.chars().filter(|&c| c == '-').count() == 4
}

/// A withheld version (a retired plugin) is not handed out again: the same, unchanged file
/// loads as a fresh copy in dynamic mode; static mode has one image and returns it.
#[test]
fn a_withheld_version_is_not_reused() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let old = loader.load("plugin.so".as_ref()).unwrap();
    assert!(old.is_reusable());
    old.withhold();
    assert!(!old.is_reusable());
    let fresh = loader.load("plugin.so".as_ref()).unwrap();
    assert_ne!(fresh.id(), old.id(), "a fresh version, not the withheld one");
    assert_ne!(fresh.runtime_path(), old.runtime_path());
    assert!(fresh.is_reusable());
    assert_eq!(
        loader.load("plugin.so".as_ref()).unwrap().id(),
        fresh.id(),
        "the fresh one is reused"
    );
    assert_eq!(sandbox.version_dirs().len(), 2);

    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Static);
    sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let only = loader.load("plugin.so".as_ref()).unwrap();
    only.withhold();
    assert_eq!(loader.load("plugin.so".as_ref()).unwrap().id(), only.id(), "one image per file");
}

#[test]
fn an_unchanged_file_is_reused() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let a = loader.load("plugin.so".as_ref()).unwrap();
    let b = loader.load(&sandbox.plugins().join("plugin.so")).unwrap();
    assert_eq!(a.id(), b.id());
    assert_eq!(a.runtime_path(), b.runtime_path());
    assert_eq!(a.references(), 2);
    assert_eq!(sandbox.version_dirs().len(), 1);
    let stats = loader.stats();
    assert_eq!((stats.loaded, stats.reused), (1, 1));
}

#[test]
fn a_touched_file_with_the_same_content_is_reused_without_a_second_copy() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    let installed = sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let a = loader.load("plugin.so".as_ref()).unwrap();
    let later = SystemTime::now() + Duration::from_secs(60);
    File::options().write(true).open(&installed).unwrap().set_modified(later).unwrap();
    let b = loader.load("plugin.so".as_ref()).unwrap();
    let c = loader.load("plugin.so".as_ref()).unwrap();
    assert_eq!(a.id(), b.id());
    assert_eq!(a.id(), c.id());
    assert_eq!(sandbox.version_dirs().len(), 1, "the discarded copy is removed");
    assert_eq!(loader.stats().loaded, 1);
}

#[test]
fn a_rewrite_that_restores_the_modification_time_is_a_new_version() {
    // ATS compares modification times only and would reuse the old code here.
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    let installed = sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let mtime = fs::metadata(&installed).unwrap().modified().unwrap();
    let v1 = loader.load("plugin.so".as_ref()).unwrap();
    fs::write(&installed, fs::read(compiled(CPlugin::Version(2))).unwrap()).unwrap();
    File::options().write(true).open(&installed).unwrap().set_modified(mtime).unwrap();
    let v2 = loader.load("plugin.so".as_ref()).unwrap();
    assert_ne!(v1.id(), v2.id());
    // SAFETY: version.c defines `int hy_test_version(void)`.
    let version = unsafe { v2.symbol::<VersionFn>("hy_test_version") }.unwrap();
    assert_eq!(version(), 2);
}

#[test]
fn static_mode_opens_in_place_and_keeps_the_loaded_version_until_released() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Static);
    let installed = sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let v1 = loader.load("plugin.so".as_ref()).unwrap();
    assert_eq!(v1.runtime_path(), fs::canonicalize(&installed).unwrap());
    assert!(sandbox.version_dirs().is_empty(), "no copy in static mode");

    sandbox.install(&compiled(CPlugin::Version(2)), "plugin.so");
    let again = loader.load("plugin.so".as_ref()).unwrap();
    assert_eq!(again.id(), v1.id());
    // SAFETY: version.c defines `int hy_test_version(void)`.
    let version = unsafe { again.symbol::<VersionFn>("hy_test_version") }.unwrap();
    assert_eq!(version(), 1, "reloading in static mode does nothing while a version is loaded");

    drop((v1, again, version));
    let v2 = loader.load("plugin.so".as_ref()).unwrap();
    // SAFETY: as above.
    let version = unsafe { v2.symbol::<VersionFn>("hy_test_version") }.unwrap();
    assert_eq!(version(), 2, "once released, the next load opens the file afresh");
    assert!(installed.exists(), "unloading never removes the installed file");
    let stats = loader.stats();
    assert_eq!((stats.loaded, stats.reused, stats.unloaded, stats.pinned), (2, 1, 1, 0));
}

#[test]
fn relative_paths_resolve_in_search_order_and_symlinks_to_their_target() {
    let sandbox = Sandbox::new();
    let dirs: Vec<_> = ["s1", "s2", "s3"].iter().map(|d| sandbox.path().join(d)).collect();
    for dir in &dirs {
        fs::create_dir(dir).unwrap();
    }
    fs::copy(compiled(CPlugin::Version(2)), dirs[1].join("p.so")).unwrap();
    fs::copy(compiled(CPlugin::Version(3)), dirs[2].join("p.so")).unwrap();
    symlink(dirs[2].join("p.so"), dirs[0].join("link.so")).unwrap();
    let config = dirs
        .iter()
        .fold(hookyard_dso::LoaderConfig::new(sandbox.runtime()), |c, d| c.search_dir(d));
    let loader = hookyard_dso::Loader::new(config).unwrap();

    assert_eq!(
        loader.resolve("p.so".as_ref()).unwrap(),
        fs::canonicalize(dirs[1].join("p.so")).unwrap()
    );
    let lib = loader.load("p.so".as_ref()).unwrap();
    // SAFETY: version.c defines `int hy_test_version(void)`.
    assert_eq!(unsafe { lib.symbol::<VersionFn>("hy_test_version") }.unwrap()(), 2);

    let linked = loader.load("link.so".as_ref()).unwrap();
    assert_eq!(linked.path(), fs::canonicalize(dirs[2].join("p.so")).unwrap());
    let direct = loader.load(&dirs[2].join("p.so")).unwrap();
    assert_eq!(linked.id(), direct.id(), "the canonical path is the identity");
    assert_eq!(linked.runtime_path().file_name().unwrap(), "p.so");
}

#[test]
fn symbols_keep_their_library_loaded_and_statics_resolve() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Version(5)), "plugin.so");
    let lib = loader.load("plugin.so".as_ref()).unwrap();
    // SAFETY: version.c defines `int hy_test_add(int, int)` and `int hy_test_calls(void)`.
    let (add, calls) = unsafe {
        (
            lib.symbol::<AddFn>("hy_test_add").unwrap(),
            lib.symbol::<VersionFn>("hy_test_calls").unwrap(),
        )
    };
    // SAFETY: version.c defines `const int hy_test_data`.
    let data = unsafe { lib.symbol::<*const i32>("hy_test_data") }.unwrap();
    // SAFETY: `data` points to a static of the library, which `data` keeps loaded.
    assert_eq!(unsafe { **data }, 1005);
    let runtime = lib.runtime_path().to_owned();
    drop(lib);
    loader.flush_unloads();
    assert!(mapped(&runtime), "a live symbol keeps its library mapped");
    assert_eq!(add(20, 22), 42);
    assert_eq!(calls(), 1);
    assert!(Option::is_none(
        // SAFETY: the type is irrelevant for a symbol that does not exist.
        &unsafe { add.library().optional_symbol::<VersionFn>("hy_no_such_symbol") }.unwrap()
    ));
    drop((add, calls, data));
    loader.flush_unloads();
    assert!(!mapped(&runtime));
}
