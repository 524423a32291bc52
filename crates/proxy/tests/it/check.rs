//! `hookyard check`: exit codes and every problem as `file:line: reason`.

use std::path::Path;
use std::process::Command;

use crate::support::config_dir;

fn check(dir: &std::path::Path) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    check_in(dir, tmp.path())
}

/// Runs `hookyard check` with `tmp` as its temporary directory; a death by signal fails the test.
fn check_in(dir: &Path, tmp: &Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["check", "--config"])
        .arg(dir)
        .env("RUST_LOG", "off")
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let code = output.status.code().unwrap_or_else(|| {
        panic!("hookyard check died: {:?}\n{stdout}", output.status);
    });
    (code, stdout)
}

/// A configuration directory with a `plugins` directory searched for plugins.
fn with_plugins(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = config_dir(files);
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    let yaml = format!("plugin_dirs: [{}]\n", dir.path().join("plugins").display());
    crate::support::write(dir.path(), "hookyard.yaml", &yaml);
    dir
}

/// What `hookyard check` left in its temporary directory.
fn leftovers(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("hookyard-check-"))
        .collect()
}

#[test]
fn a_truncated_remap_plugin_fails_with_its_line_and_the_reason_without_a_crash() {
    let dir = with_plugins(&[(
        "remap.config",
        "map http://a.example.com/ http://127.0.0.1:9/\n\
         map http://b.example.com/ http://127.0.0.1:9/ @plugin=cut.so\n",
    )]);
    let whole = std::fs::read(hookyard_fixtures::recorder(&[])).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Header only, then half the file (inside its segments), then one byte short.
    for len in [64, whole.len() / 2, whole.len() - 1] {
        std::fs::write(dir.path().join("plugins/cut.so"), &whole[..len]).unwrap();
        let (code, out) = check_in(dir.path(), tmp.path());
        assert_eq!(code, 1, "{out}");
        let expected = format!("{}:2: plugin `", dir.path().join("remap.config").display());
        assert!(out.contains(&expected), "missing `{expected}` in:\n{out}");
        assert!(out.contains("cut.so` is not a loadable shared object: its "), "{out}");
        assert!(out.contains("extends past the end of the file"), "{out}");
        assert_eq!(leftovers(tmp.path()), Vec::<String>::new(), "the scratch directory is removed");
    }
}

#[test]
fn a_global_plugin_that_refuses_init_fails_the_check_as_it_would_fail_run() {
    let dir = with_plugins(&[
        ("remap.config", "map http://a.example.com/ http://127.0.0.1:9/\n"),
        ("plugin.yaml", "plugins:\n  - path: beta.so\n    params: [init-fails]\n"),
    ]);
    crate::hooks::probe(dir.path(), "beta", "beta.so");
    let tmp = tempfile::tempdir().unwrap();
    let (code, out) = check_in(dir.path(), tmp.path());
    assert_eq!(code, 1, "{out}");
    let expected = format!("{}:2: ", dir.path().join("plugin.yaml").display());
    assert!(out.contains(&expected), "missing `{expected}` in:\n{out}");
    assert!(out.contains("init refused on purpose"), "{out}");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new(), "the scratch directory is removed");

    // Without the refusal the same directory passes.
    crate::support::write(dir.path(), "plugin.yaml", "plugins:\n  - path: beta.so\n");
    let (code, out) = check_in(dir.path(), tmp.path());
    assert_eq!(code, 0, "{out}");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new(), "the scratch directory is removed");
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
