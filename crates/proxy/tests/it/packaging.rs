//! Packaging: the systemd units (checked by `systemd-analyze verify` where it exists), the
//! Dockerfile's structure, and the completions and man pages generated from the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::hookyard;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap()
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `systemd-analyze verify` on both units, with `/usr/bin/hookyard` pointed at the test build
/// (verify checks that every `Exec*` binary exists).
#[test]
fn systemd_units_verify() {
    let service = read("packaging/systemd/hookyard.service");
    let socket = read("packaging/systemd/hookyard.socket");
    for line in ["Type=notify", "ExecReload=/usr/bin/hookyard ctl", "KillSignal=SIGTERM"] {
        assert!(service.lines().any(|l| l.starts_with(line)), "{line} in the service");
    }
    assert!(socket.lines().any(|l| l.starts_with("ListenStream=")));
    if !installed("systemd-analyze") {
        eprintln!("skipped systemd-analyze verify: systemd-analyze is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_hookyard");
    let service = service.replace("/usr/bin/hookyard", binary);
    std::fs::write(dir.path().join("hookyard.service"), service).unwrap();
    std::fs::write(dir.path().join("hookyard.socket"), socket).unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        // The man page named by `Documentation=` is installed with the package, not here.
        .arg("--man=no")
        .arg(dir.path().join("hookyard.socket"))
        .arg(dir.path().join("hookyard.service"))
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    // Outside a booted systemd (containers, CI) verify cannot reach the manager for units the
    // files do not name; anything about the files themselves fails the test.
    let about_ours: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("hookyard.service") || l.contains("hookyard.socket"))
        .collect();
    assert!(about_ours.is_empty(), "systemd-analyze verify:\n{said}");
    assert!(output.status.success() || !said.contains("hookyard"), "{said}");
}

/// The Dockerfile: two stages, the runtime one slim and not root, every `COPY` source present and
/// not excluded by `.dockerignore`, the exec form for the entry point.
#[test]
fn dockerfile_is_multi_stage_slim_and_copies_what_exists() {
    let dockerfile = read("Dockerfile");
    let ignore = read(".dockerignore");
    let instructions: Vec<String> = dockerfile
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let known =
        ["FROM", "RUN", "WORKDIR", "COPY", "USER", "EXPOSE", "STOPSIGNAL", "ENTRYPOINT", "CMD"];
    for line in &instructions {
        let word = line.split_whitespace().next().unwrap();
        assert!(known.contains(&word), "unexpected instruction: {line}");
    }
    let stages: Vec<&String> = instructions.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].ends_with(" AS build"), "{stages:?}");
    assert!(stages[1].contains("-slim"), "a slim runtime: {stages:?}");
    let runtime: Vec<&String> =
        instructions.iter().skip_while(|l| !l.starts_with("FROM debian")).collect();
    assert!(runtime.iter().any(|l| l.starts_with("COPY --from=build ")));
    let user = runtime.iter().rev().find(|l| l.starts_with("USER ")).expect("a USER");
    assert!(!user.ends_with(" root") && !user.ends_with(" 0"), "{user}");
    for l in instructions.iter().filter(|l| l.starts_with("ENTRYPOINT") || l.starts_with("CMD")) {
        let json = l.split_once(' ').unwrap().1;
        serde_json::from_str::<Vec<String>>(json).unwrap_or_else(|e| panic!("{l}: {e}"));
    }
    let excluded: Vec<&str> =
        ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for l in instructions.iter().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
        let parts: Vec<&str> = l.split_whitespace().collect();
        for source in &parts[1..parts.len() - 1] {
            if *source == "." {
                continue;
            }
            assert!(repo().join(source).exists(), "{source} of `{l}` exists");
            let kept = excluded.iter().all(|e| !source.starts_with(e.trim_end_matches('/')));
            assert!(kept, "{source} is excluded by .dockerignore");
        }
    }
    // What the build stage compiles must reach it.
    for needed in ["Cargo.toml", "Cargo.lock", "crates/", "plugins/", "xtask/"] {
        assert!(excluded.iter().all(|e| !needed.starts_with(e.trim_end_matches('/'))), "{needed}");
    }
}

#[test]
fn bash_completion_knows_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let output = hookyard(dir.path()).args(["completions", "bash"]).output().unwrap();
    assert!(output.status.success());
    let script = String::from_utf8(output.stdout).unwrap();
    assert!(script.contains("complete -F _hookyard"), "{script}");
    for word in ["run", "check", "ctl", "completions", "man", "drain", "reload", "--config"] {
        assert!(script.split_whitespace().any(|w| w == word), "{word} in the bash completion");
    }
    if installed("bash") {
        let file = dir.path().join("hookyard.bash");
        std::fs::write(&file, &script).unwrap();
        let sourced = Command::new("bash")
            .arg("-c")
            .arg(format!("source {} && complete -p hookyard", file.display()))
            .output()
            .unwrap();
        assert!(sourced.status.success(), "{}", String::from_utf8_lossy(&sourced.stderr));
    }
    for shell in ["zsh", "fish"] {
        let output = hookyard(dir.path()).args(["completions", shell]).output().unwrap();
        assert!(output.status.success() && !output.stdout.is_empty(), "{shell}");
    }
    let output = hookyard(dir.path()).args(["completions", "tcsh"]).output().unwrap();
    assert!(!output.status.success(), "an unknown shell is refused");
}

#[test]
fn man_pages_render() {
    let dir = tempfile::tempdir().unwrap();
    let output = hookyard(dir.path()).arg("man").output().unwrap();
    assert!(output.status.success());
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH hookyard 1"), "{page}");
    let status = hookyard(dir.path()).args(["man", "--dir", "."]).status().unwrap();
    assert!(status.success());
    for name in ["hookyard.1", "hookyard-run.1", "hookyard-ctl.1", "hookyard-ctl-drain.1"] {
        assert!(dir.path().join(name).is_file(), "{name}");
    }
    if !installed("man") {
        eprintln!("skipped man -l: man is not installed");
        return;
    }
    let rendered = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("hookyard-ctl.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    assert!(text.contains("NAME") && text.contains("drain"), "{text}");
}

/// Output into a pipe nobody reads any more (`hookyard man | head`) ends quietly: no panic,
/// no error, success.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["completions", "bash"][..], &["man"], &["check", "--config", "."]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = hookyard(dir.path()).args(args).stdout(writer).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}
