//! The Rust plugin template builds outside hookyard's workspace with the one edit
//! `docs/plugins.md` documents: copied to a temporary directory, its `hookyard-sdk` dependency
//! pointed at this checkout's `crates/sdk`, built with `cargo build --offline` (the registry
//! cache is warm from the workspace's own build, and the SDK needs nothing else).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The dependency line as the template has it, and the path it names from the template.
const SDK_LINE: &str = r#"hookyard-sdk = { path = "../../../crates/sdk" }"#;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// The `key = value` lines of the TOML table `[name]`.
fn table(text: &str, name: &str) -> Vec<String> {
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .map(|line| line.split('#').next().unwrap().trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn the_template_keeps_the_workspace_lints() {
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let template =
        std::fs::read_to_string(root().join("plugins/rust/template/Cargo.toml")).unwrap();
    for kind in ["rust", "clippy"] {
        let expected = table(&workspace, &format!("workspace.lints.{kind}"));
        assert!(!expected.is_empty(), "no [workspace.lints.{kind}]");
        assert_eq!(table(&template, &format!("lints.{kind}")), expected, "[lints.{kind}]");
    }
}

#[test]
fn the_template_builds_outside_the_workspace_with_one_edit() {
    let root = root();
    // Outside any workspace: a directory of its own under the system's temporary directory.
    let work = std::env::temp_dir().join(format!("hookyard-template-{}", std::process::id()));
    let plugin = work.join("my-plugin");
    copy_dir(&root.join("plugins/rust/template"), &plugin);
    let manifest = plugin.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(text.matches(SDK_LINE).count(), 1, "the line docs/plugins.md tells to edit");
    let sdk = root.join("crates/sdk");
    let edited =
        text.replace(SDK_LINE, &format!("hookyard-sdk = {{ path = {:?} }}", sdk.to_str().unwrap()));
    std::fs::write(&manifest, edited).unwrap();

    // Its own target directory, kept between runs under the workspace's: a rebuild is quick,
    // and the workspace's own build is never touched.
    let target = root.join("target/template-outside");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&plugin)
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "the template does not build outside the workspace:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(target.join("debug/libtemplate.so").is_file());
    assert!(plugin.join("Cargo.lock").is_file(), "built as a workspace of its own");
    std::fs::remove_dir_all(&work).unwrap();
}
