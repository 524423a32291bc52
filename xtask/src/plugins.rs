//! `cargo xtask plugins`: builds the example plugins into `target/plugins/<name>.so`, and the
//! proxy-wasm example filters into `target/plugins/<name>.wasm`.
//!
//! Rust plugins are built with cargo into `target/plugins` (their own target directory, which
//! the SDK's tests share, so a test run after this task builds nothing); C plugins are compiled
//! with the system compiler (`$CC`, else `cc`) against `crates/abi/include/hookyard.h`; the
//! filters of `plugins/wasm` (a workspace of its own) with cargo for `wasm32-unknown-unknown`,
//! always in release, into `target/wasm-plugins` (where the tests look for them).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The example Rust plugins: package, and library name (`lib<name>.so`).
const RUST: &[(&str, &str)] = &[
    ("hookyard-plugin-template", "template"),
    ("hookyard-plugin-rewrite", "rewrite"),
    ("hookyard-plugin-request-id", "request_id"),
    ("hookyard-plugin-delay", "delay"),
    ("hookyard-plugin-gzip", "gzip"),
    ("hookyard-plugin-substitute", "substitute"),
    ("hookyard-plugin-body-hash", "body_hash"),
];

/// The example C plugins: `plugins/c/<name>.c`.
const C: &[&str] = &["add_header", "response_header", "txn_hooks"];

/// The proxy-wasm example filters: `plugins/wasm/<name>`.
const WASM: &[&str] = &["add_header", "body_inspect", "http_call", "misbehave", "request_header"];

/// The SDK's own test plugin, built with the examples before `cargo xtask test`.
const TEST_PLUGIN: &str = "hookyard-sdk-test-plugin";

/// `cargo xtask plugins [--release]`.
pub(crate) fn task(root: &Path, args: &[String]) -> Result<()> {
    let release = match args {
        [] => false,
        [flag] if flag == "--release" => true,
        _ => bail!("usage: cargo xtask plugins [--release]"),
    };
    for plugin in build(root, release, &[])? {
        println!("{}", plugin.display());
    }
    Ok(())
}

/// Builds every example plugin and the SDK's test plugin as the tests do (debug), so the
/// tests find them built.
pub(crate) fn for_tests(root: &Path) -> Result<()> {
    build(root, false, &[TEST_PLUGIN]).map(drop)
}

fn cargo_build(root: &Path, release: bool, extra: &[&str]) -> Result<PathBuf> {
    let target = root.join("target").join("plugins");
    let mut cmd = super::cargo_cmd();
    cmd.args(["build", "--locked"]).arg("--target-dir").arg(&target);
    if release {
        cmd.arg("--release");
    }
    for package in RUST.iter().map(|(p, _)| *p).chain(extra.iter().copied()) {
        cmd.args(["--package", package]);
    }
    super::status(cmd)?;
    Ok(target)
}

/// Builds every example plugin (and the `extra` packages); returns the installed files.
fn build(root: &Path, release: bool, extra: &[&str]) -> Result<Vec<PathBuf>> {
    let target = cargo_build(root, release, extra)?;
    let profile = if release { "release" } else { "debug" };
    let mut out = Vec::new();
    for (_, name) in RUST {
        let built = target.join(profile).join(format!("lib{name}.so"));
        let dest = target.join(format!("{name}.so"));
        install(&built, &dest)?;
        out.push(dest);
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    for name in C {
        let dest = target.join(format!("{name}.so"));
        let staging = target.join(format!(".{name}.so.tmp"));
        let mut cmd = Command::new(&cc);
        cmd.args(["-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
            .arg(root.join("crates/abi/include"))
            .arg("-o")
            .arg(&staging)
            .arg(root.join("plugins/c").join(format!("{name}.c")));
        super::status(cmd)?;
        std::fs::rename(&staging, &dest)
            .with_context(|| format!("cannot install {}", dest.display()))?;
        out.push(dest);
    }
    let wasm_target = root.join("target/wasm-plugins");
    let mut cmd = super::cargo_cmd();
    cmd.current_dir(root.join("plugins/wasm"))
        .args(["build", "--locked", "--release", "--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(&wasm_target);
    super::status(cmd).context(
        "building plugins/wasm needs the wasm32-unknown-unknown target: \
         rustup target add wasm32-unknown-unknown",
    )?;
    for name in WASM {
        let built = wasm_target.join(format!("wasm32-unknown-unknown/release/{name}.wasm"));
        let dest = target.join(format!("{name}.wasm"));
        let staging = target.join(format!(".{name}.wasm.tmp"));
        std::fs::copy(&built, &staging)
            .with_context(|| format!("cannot copy {}", built.display()))?;
        std::fs::rename(&staging, &dest)
            .with_context(|| format!("cannot install {}", dest.display()))?;
        out.push(dest);
    }
    Ok(out)
}

/// Copies beside, then renames over: a process loading the old file never sees a partial one.
fn install(from: &Path, to: &Path) -> Result<()> {
    let staging = to.with_extension("so.tmp");
    std::fs::copy(from, &staging).with_context(|| format!("cannot copy {}", from.display()))?;
    std::fs::rename(&staging, to).with_context(|| format!("cannot install {}", to.display()))
}
