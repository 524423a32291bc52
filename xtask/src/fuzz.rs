//! `cargo xtask fuzz [TARGET...] [--seconds N] [-- LIBFUZZER ARGS]`: runs the cargo-fuzz
//! targets of every crate (`crates/<crate>/fuzz/fuzz_targets/<target>.rs`), one after the
//! other, each for a fixed time.
//!
//! Outside required CI: cargo-fuzz needs the nightly toolchain (`cargo +nightly fuzz`). Each
//! fuzz crate is its own workspace; all share one build directory, `<target dir>/fuzz`. A
//! target's corpus grows in `crates/<crate>/fuzz/corpus/<target>/` (not committed) from the
//! committed seeds in `seeds/<target>/`; crashes land in `artifacts/<target>/` and fail the task
//! once every target ran. libFuzzer's output goes to `<target dir>/fuzz/logs/<target>.log`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

const HELP: &str = "\
usage: cargo xtask fuzz [TARGET...] [--seconds N] [--list] [-- LIBFUZZER ARGS]

  TARGET        a fuzz target's name (default: every target of every crate)
  --seconds N   how long each target runs (60)
  --list        list the targets and exit
Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
";

/// One fuzz target.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// The fuzz crate's directory (`crates/<crate>/fuzz`).
    dir: PathBuf,
    name: String,
}

/// What one run gave.
struct Outcome {
    target: Target,
    seconds: f64,
    executions: Option<u64>,
    corpus: usize,
    crash: Option<String>,
}

/// `cargo xtask fuzz`.
pub(crate) fn task(root: &Path, args: &[String]) -> Result<()> {
    let mut seconds = 60u64;
    let mut wanted = Vec::new();
    let mut list = false;
    let mut libfuzzer = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--help" | "-h" => {
                print!("{HELP}");
                return Ok(());
            }
            "--seconds" => {
                let v = it.next().context("--seconds needs a value")?;
                seconds = v.parse().with_context(|| format!("--seconds: `{v}` is not a number"))?;
                if seconds == 0 {
                    bail!("--seconds must be at least 1");
                }
            }
            "--list" => list = true,
            "--" => libfuzzer.extend(it.by_ref().cloned()),
            other if other.starts_with('-') => bail!("unknown option `{other}`\n{HELP}"),
            other => wanted.push(other.to_owned()),
        }
    }
    let all = targets(root)?;
    if list {
        for t in &all {
            println!("{:<16} {}", t.name, t.dir.strip_prefix(root).unwrap_or(&t.dir).display());
        }
        return Ok(());
    }
    let chosen: Vec<Target> = if wanted.is_empty() {
        all
    } else {
        let mut chosen = Vec::new();
        for name in &wanted {
            match all.iter().find(|t| &t.name == name) {
                Some(t) => chosen.push(t.clone()),
                None => bail!(
                    "no fuzz target `{name}` (there are: {})",
                    all.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        chosen
    };
    check_tools()?;
    let build_dir = target_dir(root).join("fuzz");
    let logs = build_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut outcomes = Vec::new();
    for target in chosen {
        eprintln!("xtask fuzz: {} for {seconds} s", target.name);
        outcomes.push(run(&target, seconds, &build_dir, &logs, &libfuzzer)?);
    }
    println!();
    println!(
        "{:<16} {:>8} {:>14} {:>10} {:>8}  result",
        "target", "seconds", "executions", "exec/s", "corpus"
    );
    for o in &outcomes {
        let execs = o.executions.map_or("?".to_owned(), |n| n.to_string());
        let rate = o
            .executions
            .map_or("?".to_owned(), |n| format!("{:.0}", n as f64 / o.seconds.max(1e-3)));
        let result = o.crash.as_deref().unwrap_or("ok");
        println!(
            "{:<16} {:>8.0} {:>14} {:>10} {:>8}  {result}",
            o.target.name, o.seconds, execs, rate, o.corpus
        );
    }
    let crashed: Vec<&str> =
        outcomes.iter().filter(|o| o.crash.is_some()).map(|o| o.target.name.as_str()).collect();
    if !crashed.is_empty() {
        bail!("crashes in {} (logs in {})", crashed.join(", "), logs.display());
    }
    Ok(())
}

/// The build directory: `CARGO_TARGET_DIR` (relative to the workspace root), else `target`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Every `crates/*/fuzz/fuzz_targets/*.rs`, sorted.
fn targets(root: &Path) -> Result<Vec<Target>> {
    let mut found = Vec::new();
    for krate in std::fs::read_dir(root.join("crates"))?.flatten() {
        let dir = krate.path().join("fuzz");
        let Ok(entries) = std::fs::read_dir(dir.join("fuzz_targets")) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs")
                && let Some(name) = path.file_stem().and_then(|s| s.to_str())
            {
                found.push(Target { dir: dir.clone(), name: name.to_owned() });
            }
        }
    }
    found.sort_by(|a, b| (&a.dir, &a.name).cmp(&(&b.dir, &b.name)));
    if found.is_empty() {
        bail!("no fuzz targets under {}/crates/*/fuzz/fuzz_targets", root.display());
    }
    Ok(found)
}

/// `cargo +nightly fuzz` must answer.
fn check_tools() -> Result<()> {
    let ok = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        bail!(
            "`cargo +nightly fuzz` does not run: install the nightly toolchain and cargo-fuzz \
             (`cargo install cargo-fuzz`)"
        );
    }
    Ok(())
}

fn run(
    target: &Target,
    seconds: u64,
    build_dir: &Path,
    logs: &Path,
    libfuzzer: &[String],
) -> Result<Outcome> {
    let corpus = target.dir.join("corpus").join(&target.name);
    std::fs::create_dir_all(&corpus)?;
    let seeds = target.dir.join("seeds").join(&target.name);
    let artifacts = target.dir.join("artifacts").join(&target.name);
    let before = listing(&artifacts);
    let log_path = logs.join(format!("{}.log", target.name));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    // `cargo` from PATH (rustup's proxy, which knows `+nightly`), not `$CARGO`, which is the
    // stable cargo running xtask.
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&target.dir)
        .env_remove("CARGO_TARGET_DIR")
        .args(["+nightly", "fuzz", "run", "--target-dir"])
        .arg(build_dir)
        .arg(&target.name)
        .arg(&corpus);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .args(libfuzzer)
        .stdout(log.try_clone()?)
        .stderr(log);
    let started = Instant::now();
    let status = cmd.status().context("cannot run `cargo +nightly fuzz run`")?;
    let elapsed = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let executions = stat(&text, "stat::number_of_executed_units:").or_else(|| done_runs(&text));
    let seconds_fuzzed = done_seconds(&text).unwrap_or(elapsed);
    let crash = if status.success() {
        None
    } else {
        let new: Vec<PathBuf> =
            listing(&artifacts).into_iter().filter(|p| !before.contains(p)).collect();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        eprintln!("xtask fuzz: {} failed ({status}); the end of its log:", target.name);
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
        Some(match new.first() {
            Some(artifact) => format!("CRASH: {}", artifact.display()),
            None => format!("FAILED ({status}), see {}", log_path.display()),
        })
    };
    Ok(Outcome {
        target: target.clone(),
        seconds: seconds_fuzzed,
        executions,
        corpus: listing(&corpus).len(),
        crash,
    })
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// A `-print_final_stats` value.
fn stat(log: &str, key: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
}

/// From libFuzzer's `Done N runs in S second(s)`.
fn done_runs(log: &str) -> Option<u64> {
    let line = log.lines().rev().find(|l| l.starts_with("Done "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn done_seconds(log: &str) -> Option<f64> {
    let line = log.lines().rev().find(|l| l.starts_with("Done "))?;
    line.split_whitespace().nth(4)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_stats() {
        let log =
            "#2 INITED\nDone 78545 runs in 21 second(s)\nstat::number_of_executed_units: 78546\n";
        assert_eq!(stat(log, "stat::number_of_executed_units:"), Some(78546));
        assert_eq!(done_runs(log), Some(78545));
        assert_eq!(done_seconds(log), Some(21.0));
        assert_eq!(done_runs("nothing"), None);
    }

    #[test]
    fn finds_the_targets() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
        let found = targets(root).expect("targets");
        assert!(found.iter().any(|t| t.name == "remap_config"), "{found:?}");
    }
}
