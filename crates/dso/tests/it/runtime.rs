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
