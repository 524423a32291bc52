//! `cargo xtask`: the one entry point for hookyard's development workflows.
//!
//! Each subcommand runs `$CARGO` (or other tools) from the workspace root, which is found from
//! this crate's `CARGO_MANIFEST_DIR`, so the tasks work from any directory.
#![forbid(unsafe_code)]

mod bench;
mod demo;
mod fuzz;
mod layers;
mod plugins;
mod soak;
mod tidy;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci         everything CI checks: fmt, tidy, clippy -D warnings, tests, docs, layers
  test       build the test and example plugins, then run every test of the workspace
  layers     fail on a crate dependency that ARCHITECTURE.md's layering does not allow
  tidy       fail on a file that cites notes outside the repository
  fixtures   build the Rust test plugins into target/fixtures
  plugins    build the example plugins into target/plugins/<name>.so [--release], and the
             proxy-wasm filters into target/plugins/<name>.wasm
  demo       hookyard with example plugins in front of an origin, with commands to try;
             --check runs it non-interactively and verifies every answer
  bench      the criterion benchmarks of every crate, then the load comparison of hookyard,
             nginx and ATS (docs/benchmarks.md; `cargo xtask bench --help` for its options)
  fuzz       run the cargo-fuzz targets, 60 s each [TARGET...] [--seconds N] (nightly)
  soak       reloads under load for 10 minutes, RSS and fds sampled [--minutes N] (local)
  ts-plugin  build an ATS plugin against ts/ts.h and ts/remap.h: SRC... -o OUT.so
             (docs/porting.md)
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some(task) = args.first() else {
        eprint!("{USAGE}");
        bail!("no task given");
    };
    let rest = &args[1..];
    match task.as_str() {
        "ci" => ci(),
        "test" => test(rest),
        "layers" => layers::check(&root()),
        "tidy" => tidy::check(&root()),
        "fixtures" => fixtures(),
        "plugins" => plugins::task(&root(), rest),
        "bench" => bench::task(&root(), rest),
        "fuzz" => fuzz::task(&root(), rest),
        "soak" => soak::task(&root(), rest),
        "demo" => demo::task(&root(), rest),
        "ts-plugin" => ts_plugin(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown task `{other}`")
        }
    }
}

fn ci() -> Result<()> {
    step("fmt", || cargo(&["fmt", "--all", "--check"], &[]))?;
    step("tidy", || tidy::check(&root()))?;
    step("clippy", || {
        cargo(
            &["clippy", "--workspace", "--all-targets", "--locked"],
            &["--".into(), "-D".into(), "warnings".into()],
        )
    })?;
    step("test", || test(&[]))?;
    step("doc", || {
        let mut cmd = cargo_cmd();
        cmd.args(["doc", "--workspace", "--no-deps", "--locked"]);
        cmd.env("RUSTDOCFLAGS", "-D warnings");
        status(cmd)
    })?;
    step("layers", || layers::check(&root()))?;
    eprintln!("xtask ci: all checks passed");
    Ok(())
}

fn test(extra: &[String]) -> Result<()> {
    fixtures()?;
    plugins::for_tests(&root())?;
    cargo(&["test", "--workspace", "--locked"], extra)?;
    if extra.is_empty() {
        // End to end with the binary and plugins just built: about 2 s.
        demo::check_built(&root())?;
    }
    Ok(())
}

/// The Rust test plugins are built into their own target directory, so a test that needs one can
/// build it (a no-op when this already ran) without waiting on the lock of the main build.
fn fixtures() -> Result<()> {
    let target = root().join("target").join("fixtures");
    let target = target.to_str().context("target path is not UTF-8")?;
    cargo(
        &[
            "build",
            "--locked",
            "--package",
            "hookyard-fixtures-rust-plugin",
            "--target-dir",
            target,
        ],
        &[],
    )
}

/// `cargo xtask ts-plugin SRC... -o OUT.so`: paths are taken relative to the caller's
/// directory, not the workspace root.
fn ts_plugin(args: &[String]) -> Result<()> {
    let mut sources = Vec::new();
    let mut out = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-o" => out = Some(PathBuf::from(args.next().context("-o needs a file name")?)),
            flag if flag.starts_with('-') => bail!("ts-plugin: unknown option `{flag}`"),
            source => sources.push(PathBuf::from(source)),
        }
    }
    let out = out.context("usage: cargo xtask ts-plugin SRC... -o OUT.so")?;
    let entry = hookyard_tscompat::build_plugin(&sources, &out)?;
    let kinds = match (entry.global, entry.remap) {
        (true, true) => "global and remap",
        (true, false) => "global",
        _ => "remap",
    };
    eprintln!("ts-plugin: built {} ({kinds} plugin)", out.display());
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("xtask ci: {name}");
    f().with_context(|| format!("step `{name}` failed"))
}

fn cargo(args: &[&str], extra: &[String]) -> Result<()> {
    let mut cmd = cargo_cmd();
    cmd.args(args).args(extra);
    status(cmd)
}

fn cargo_cmd() -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root());
    cmd
}

fn status(mut cmd: Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} exited with {status}");
    }
    Ok(())
}

/// The workspace root: the parent of this crate's manifest directory.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::{root, ts_plugin};

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn ts_plugin_builds_the_named_output() {
        let dir = std::env::temp_dir().join(format!("xtask-ts-plugin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("deny_with_stats.so");
        let source = root().join("crates/tscompat/plugins/deny_with_stats.c");
        ts_plugin(&args(&[source.to_str().unwrap(), "-o", out.to_str().unwrap()])).unwrap();
        assert!(std::fs::metadata(&out).unwrap().len() > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ts_plugin_refuses_a_missing_output_and_unknown_options() {
        let err = ts_plugin(&args(&["a.c"])).unwrap_err();
        assert!(err.to_string().contains("usage: cargo xtask ts-plugin"), "{err}");
        let err = ts_plugin(&args(&["a.c", "--fast", "-o", "a.so"])).unwrap_err();
        assert!(err.to_string().contains("unknown option `--fast`"), "{err}");
        let err = ts_plugin(&args(&["a.c", "-o"])).unwrap_err();
        assert!(err.to_string().contains("-o needs a file name"), "{err}");
    }
}
