//! The runtime directory: checked at start, swept of earlier runs' copies.

use std::fs;
use std::process::Command;

use hookyard_dso::{Error, Loader, LoaderConfig, ReloadMode};

use crate::support::{CPlugin, Sandbox, compiled};

#[test]
fn copies_left_by_an_earlier_run_are_swept_at_start() {
    let sandbox = Sandbox::new();
    // What a crashed run leaves: version directories holding copies.
    fs::create_dir(sandbox.runtime()).unwrap();
    for uuid in ["0b0e5b8e-3c1e-4f43-9a53-3d1f7c1d2e01", "9f6a2d4c-77aa-4b7e-8d0b-5e9d4c3b2a10"] {
        fs::create_dir(sandbox.runtime().join(uuid)).unwrap();
        fs::copy(compiled(CPlugin::Version(1)), sandbox.runtime().join(uuid).join("plugin.so"))
            .unwrap();
    }
    assert_eq!(sandbox.version_dirs().len(), 2);
    fs::write(sandbox.runtime().join("operator-notes.txt"), "keep").unwrap();

    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    assert_eq!(loader.stats().swept, 2);
    assert!(sandbox.version_dirs().is_empty());
    assert!(
        sandbox.runtime().join("operator-notes.txt").exists(),
        "only version directories are swept"
    );
}

#[test]
fn a_noexec_runtime_directory_is_refused_with_a_clear_error() {
    let sandbox = Sandbox::new();
    let mount_point = sandbox.path().join("noexec");
    fs::create_dir(&mount_point).unwrap();
    // SAFETY: `geteuid` has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: cannot mount a noexec filesystem; this test checks nothing here");
        return;
    }
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "noexec,size=1m", "tmpfs"])
        .arg(&mount_point)
        .status()
        .expect("cannot run mount");
    assert!(status.success(), "mounting a noexec tmpfs failed");
    let result = Loader::new(LoaderConfig::new(mount_point.join("runtime")));
    let _ = Command::new("umount").arg(&mount_point).status();
    let err = result.err().expect("a noexec runtime directory must be refused");
    assert!(matches!(err, Error::RuntimeRoot { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("mounted noexec"), "{message}");
    assert!(message.contains("runtime"), "{message}");
}

#[test]
fn a_runtime_directory_that_cannot_be_created_is_refused() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("file");
    fs::write(&file, "").unwrap();
    let err = Loader::new(LoaderConfig::new(file.join("runtime"))).err().unwrap();
    assert!(err.to_string().contains("is unusable: it cannot be created"), "{err}");
}

/// Skips a test that needs root to give a file away; says so on stderr.
fn is_root() -> bool {
    // SAFETY: `geteuid` has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("not root: cannot chown to another user; this test checks nothing here");
    }
    root
}

#[test]
fn a_runtime_directory_owned_by_another_user_is_refused_naming_the_owner() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new();
    let runtime = sandbox.runtime();
    fs::create_dir(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(65534), Some(65534)).unwrap();
    let err = Loader::new(LoaderConfig::new(&runtime)).err().expect("must be refused");
    assert!(matches!(err, Error::RuntimeRoot { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&runtime.display().to_string()), "{message}");
    assert!(message.contains("owned by uid 65534"), "{message}");
    assert!(!runtime.join(".hookyard-dso.lock").exists(), "nothing written into it");
}

#[test]
fn a_runtime_directory_writable_by_group_or_others_is_refused_naming_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let runtime = sandbox.runtime();
    fs::create_dir(&runtime).unwrap();
    for mode in [0o777, 0o1777, 0o770] {
        fs::set_permissions(&runtime, fs::Permissions::from_mode(mode)).unwrap();
        let err = Loader::new(LoaderConfig::new(&runtime)).err().expect("must be refused");
        let message = err.to_string();
        assert!(message.contains(&format!("mode {mode:04o}")), "{message}");
        assert!(message.contains(&runtime.display().to_string()), "{message}");
    }
    assert!(!runtime.join(".hookyard-dso.lock").exists(), "nothing written into it");
}

#[test]
fn a_symbolic_link_in_place_of_the_runtime_directory_is_refused() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, sandbox.runtime()).unwrap();
    let err = Loader::new(LoaderConfig::new(sandbox.runtime())).err().expect("must be refused");
    let message = err.to_string();
    assert!(message.contains("symbolic link"), "{message}");
    assert!(fs::read_dir(&elsewhere).unwrap().next().is_none(), "nothing written through it");
}

#[test]
fn missing_parents_of_the_runtime_directory_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let runtime = sandbox.path().join("a/b/runtime");
    let _loader = Loader::new(LoaderConfig::new(&runtime)).unwrap();
    for dir in ["a", "a/b", "a/b/runtime"] {
        let mode = fs::metadata(sandbox.path().join(dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{dir}");
    }
}

#[test]
fn a_symbolic_link_in_place_of_the_lock_file_is_refused_and_its_target_untouched() {
    let sandbox = Sandbox::new();
    let runtime = sandbox.runtime();
    fs::create_dir(&runtime).unwrap();
    let victim = sandbox.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, runtime.join(".hookyard-dso.lock")).unwrap();
    let err = Loader::new(LoaderConfig::new(&runtime)).err().expect("must be refused");
    let message = err.to_string();
    assert!(message.contains(".hookyard-dso.lock"), "{message}");
    assert!(message.contains("symbolic link"), "{message}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn a_lock_file_hard_linked_to_another_file_is_refused_and_left_untouched() {
    let sandbox = Sandbox::new();
    let runtime = sandbox.runtime();
    fs::create_dir(&runtime).unwrap();
    let victim = sandbox.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    fs::hard_link(&victim, runtime.join(".hookyard-dso.lock")).unwrap();
    let err = Loader::new(LoaderConfig::new(&runtime)).err().expect("must be refused");
    assert!(err.to_string().contains(".hookyard-dso.lock"), "{err}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn ensure_private_dir_refuses_a_directory_of_another_user() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("theirs");
    fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
    let err = hookyard_dso::ensure_private_dir(&dir).unwrap_err();
    assert!(matches!(err, Error::NotPrivate { .. }), "{err:?}");
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    hookyard_dso::ensure_private_dir(&sandbox.path().join("mine/below")).unwrap();
}
