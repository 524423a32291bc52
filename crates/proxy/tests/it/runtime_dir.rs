//! The runtime directory on a filesystem mounted `noexec` (as `/run` is on some Debian
//! systems): `check` says what to do, and the default directory is one that allows exec.
//! These tests mount a `noexec` tmpfs, so they need root; elsewhere they say so and check
//! nothing.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hookyard_fixtures::{abi_include_dir, compile_c_with};

use crate::cli::hookyard;
use crate::support::{config_dir, write};

/// A `noexec` tmpfs, unmounted when dropped.
struct NoexecMount {
    dir: tempfile::TempDir,
}

impl NoexecMount {
    /// Mounts one, if this process may (root, and `mount` allowed here).
    fn new() -> Option<NoexecMount> {
        if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
            eprintln!("not root: cannot mount a noexec filesystem; this test checks nothing here");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "noexec,size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("cannot run mount");
        if !status.success() {
            eprintln!("mount refused a tmpfs here; this test checks nothing here");
            return None;
        }
        Some(NoexecMount { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NoexecMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// `check --config DIR`: its exit code and standard output.
fn check(dir: &Path) -> (Option<i32>, String) {
    let output = hookyard(dir).args(["check", "--config", "."]).output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn check_says_what_to_do_when_the_runtime_dir_is_noexec() {
    let Some(mount) = NoexecMount::new() else { return };
    let run = mount.path().join("run");
    let dir = config_dir(&[]);
    let settings = format!("workers: 1\nruntime_dir: {}\n", run.display());
    write(dir.path(), "hookyard.yaml", &settings);
    // No plugin: nothing would be mapped from there, so only a warning.
    write(dir.path(), "remap.config", "map http://a.test/ http://127.0.0.1:9/\n");
    let (code, out) = check(dir.path());
    assert_eq!(code, Some(0), "{out}");
    let yaml = dir.path().join("hookyard.yaml");
    let warning = format!(
        "warning: {}:2: `runtime_dir` {} is on a filesystem mounted noexec",
        yaml.display(),
        run.display()
    );
    assert!(out.contains(&warning), "{out}");

    let plugin: PathBuf = dir.path().join("add_header.so");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/c/add_header.c");
    compile_c_with(&source, &[], &[&abi_include_dir()], &plugin);
    write(
        dir.path(),
        "remap.config",
        "map http://a.test/ http://127.0.0.1:9/ @plugin=add_header.so @pparam=X-A:b\n",
    );
    let (code, out) = check(dir.path());
    assert_eq!(code, Some(1), "{out}");
    let problem = format!(
        "{}:2: `runtime_dir` {} is on a filesystem mounted noexec, so plugin copies could not be mapped executable; set `runtime_dir` to a directory on a filesystem that allows exec",
        yaml.display(),
        run.display()
    );
    assert!(out.lines().any(|l| l.starts_with(&problem)), "{out}");
    assert!(!run.exists(), "check creates nothing in the runtime directory");
}

#[test]
fn the_default_runtime_dir_passes_over_a_noexec_xdg_runtime_dir() {
    let Some(mount) = NoexecMount::new() else { return };
    let output = Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["ctl", "status"])
        .env("RUST_LOG", "off")
        .env("XDG_RUNTIME_DIR", mount.path())
        .output()
        .unwrap();
    assert!(!output.status.success(), "nothing listens there");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/var/lib/hookyard/admin.sock"), "root's exec default: {stderr}");
    assert!(!stderr.contains(&mount.path().display().to_string()), "{stderr}");
}
