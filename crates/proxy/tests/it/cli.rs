//! The `hookyard` binary as an operator runs it: relative paths, start-up errors, log output.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use hookyard_fixtures::{abi_include_dir, compile_c_with};

use crate::support::{DEADLINE, config_dir, write};

fn hookyard(cwd: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookyard"));
    command.current_dir(cwd).env_remove("RUST_LOG").stdin(Stdio::null());
    command
}

/// A configuration in `conf/` whose settings name `../plugins` and `../run` relatively, with a
/// global plugin (by a relative name) and a remap plugin.
fn relative_layout(root: &Path) {
    let conf = root.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(root.join("plugins")).unwrap();
    let probe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/hook_probe.c");
    compile_c_with(&probe, &[], &[&abi_include_dir()], &root.join("plugins/probe.so"));
    let add_header = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/c/add_header.c");
    compile_c_with(&add_header, &[], &[&abi_include_dir()], &root.join("plugins/add_header.so"));
    write(&conf, "hookyard.yaml", "plugin_dirs: [../plugins]\nruntime_dir: ../run\n");
    write(&conf, "plugin.yaml", "plugins:\n  - path: probe.so\n");
    write(
        &conf,
        "remap.config",
        "map http://site.test/ http://127.0.0.1:9/ @plugin=add_header.so @pparam=X-A:b\n",
    );
}

#[test]
fn check_takes_a_relative_config_and_relative_plugin_dirs() {
    let root = tempfile::tempdir().unwrap();
    relative_layout(root.path());
    let output = hookyard(root.path()).args(["check", "--config", "conf"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn run_takes_a_relative_config_and_relative_plugin_dirs() {
    let root = tempfile::tempdir().unwrap();
    relative_layout(root.path());
    let mut child = hookyard(root.path())
        .args(["run", "--config", "conf", "--listen", "127.0.0.1:0", "--admin", "admin.sock"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    let mut seen = Vec::new();
    let listening = loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        match received.recv_timeout(left) {
            Ok(line) if line.contains("listening on http://") => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "the proxy did not start:\n{}", seen.join("\n"));
    assert!(root.path().join("run/plugins").is_dir(), "the relative runtime_dir is used");
}

#[test]
fn a_start_up_error_is_said_once_in_plain_text() {
    let dir = config_dir(&[("remap.config", "map http://a.test/\n")]);
    let output = hookyard(dir.path())
        .args(["run", "--config", ".", "--listen", "127.0.0.1:0", "--admin", "admin.sock"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.matches("remap.config:1:").count(), 1, "{stderr}");
    assert!(stderr.contains("hookyard: cannot start: the configuration has problems"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no colour codes when stderr is not a terminal: {stderr}");
}
