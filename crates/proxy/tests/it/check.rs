//! `hookyard check`: exit codes and every problem as `file:line: reason`.

use std::process::Command;

use crate::support::config_dir;

fn check(dir: &std::path::Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["check", "--config"])
        .arg(dir)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    (output.status.code().unwrap(), String::from_utf8(output.stdout).unwrap())
}

#[test]
fn a_good_directory_passes() {
    let dir = config_dir(&[
        ("hookyard.yaml", "listen: 127.0.0.1:8080\ntimeouts: {idle: 30s}\n"),
        ("remap.config", "map http://www.example.com/ http://127.0.0.1:9/\n"),
        ("plugin.yaml", "priorities:\n  plugins:\n    - {name: auth, max_priority: 100}\n"),
    ]);
    let (code, out) = check(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": ok"), "{out}");
}

#[test]
fn an_empty_directory_passes() {
    let dir = config_dir(&[]);
    let (code, out) = check(dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("absent"), "{out}");
}

#[test]
fn every_problem_of_every_file_is_listed() {
    let dir = config_dir(&[
        ("hookyard.yaml", "listen: 127.0.0.1:8080\nlisten_backlog: 5\n"),
        (
            "remap.config",
            "map http://a.example.com/ http://127.0.0.1:9/\nmap http://b.example.com/\n",
        ),
        (
            "plugin.yaml",
            "priorities:\n  plugins:\n    - {name: auth, priority: 5, max_priority: 1}\n",
        ),
    ]);
    let (code, out) = check(dir.path());
    assert_eq!(code, 1, "{out}");
    let path = |name: &str| dir.path().join(name).display().to_string();
    for expected in [
        format!("{}:2: unknown key `listen_backlog` in hookyard.yaml", path("hookyard.yaml")),
        format!("{}:2: ", path("remap.config")),
        format!(
            "{}:3: priority 5 of plugin `auth` is above its max_priority 1",
            path("plugin.yaml")
        ),
    ] {
        assert!(out.contains(&expected), "missing `{expected}` in:\n{out}");
    }
}

#[test]
fn a_remap_plugin_that_cannot_be_found_names_every_searched_directory() {
    let dir = config_dir(&[(
        "remap.config",
        "map http://a.example.com/ http://127.0.0.1:9/ @plugin=rewrite.so\n",
    )]);
    let (code, out) = check(dir.path());
    assert_eq!(code, 1, "{out}");
    let expected = format!(
        "remap.config:1: plugin `rewrite.so` not found in the search directories `{}`",
        dir.path().display()
    );
    assert!(out.contains(&expected), "{out}");
}

#[test]
fn a_missing_directory_fails() {
    let (code, out) = check(std::path::Path::new("/nonexistent/hookyard-config"));
    assert_eq!(code, 1);
    assert!(
        out.contains("/nonexistent/hookyard-config: not a readable configuration directory"),
        "{out}"
    );
}
