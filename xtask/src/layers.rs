//! The layering check: every dependency edge between workspace crates must be one that the
//! diagram in `ARCHITECTURE.md` (Layering) allows, and only `hookyard-dso` may depend on
//! `libloading`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The workspace crates each workspace crate may depend on (all dependency kinds).
///
/// Packages not listed here (example and test plugins) may depend on the plugin-facing crates
/// only: [`PLUGIN_ALLOWED`].
const ALLOWED: &[(&str, &[&str])] = &[
    ("hookyard-dso", &[]),
    ("hookyard-userargs", &[]),
    ("hookyard-abi", &[]),
    ("hookyard-fleet", &[]),
    ("hookyard-wasm", &[]),
    ("hookyard-h1", &[]),
    ("hookyard-context", &["hookyard-dso"]),
    ("hookyard-hooks", &["hookyard-context"]),
    ("hookyard-sdk", &["hookyard-abi"]),
    (
        "hookyard-remap",
        &[
            "hookyard-hooks",
            "hookyard-userargs",
            "hookyard-abi",
            "hookyard-dso",
            "hookyard-context",
        ],
    ),
    (
        "hookyard-host",
        &[
            "hookyard-remap",
            "hookyard-hooks",
            "hookyard-userargs",
            "hookyard-abi",
            "hookyard-dso",
            "hookyard-context",
        ],
    ),
    (
        "hookyard-proxy",
        &[
            "hookyard-fleet",
            "hookyard-wasm",
            "hookyard-h1",
            "hookyard-host",
            "hookyard-remap",
            "hookyard-hooks",
            "hookyard-userargs",
            "hookyard-abi",
            "hookyard-dso",
            "hookyard-context",
        ],
    ),
    ("hookyard-fixtures", &[]),
    ("hookyard-tscompat", &[]),
    ("xtask", &["hookyard-tscompat"]),
];

/// Edges allowed as dev-dependencies only: the ABI's and the SDK's tests load real plugins with
/// the loader. Neither crate is below `hookyard-dso`, so no cycle arises.
/// The proxy's tests build ATS plugins with the compatibility layer's builder.
const DEV_ALLOWED: &[(&str, &[&str])] = &[
    ("hookyard-abi", &["hookyard-dso"]),
    ("hookyard-sdk", &["hookyard-dso"]),
    ("hookyard-proxy", &["hookyard-tscompat"]),
];

/// Test support that any crate may use, as a dev-dependency only.
const TEST_SUPPORT: &str = "hookyard-fixtures";

const PLUGIN_ALLOWED: &[&str] = &["hookyard-sdk", "hookyard-abi"];

/// The only crate allowed to open shared objects.
const LOADER_CRATE: &str = "hookyard-dso";

pub(crate) fn check(root: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata output")?;
    let problems = violations(&metadata)?;
    if problems.is_empty() {
        eprintln!("layers: every dependency edge is allowed");
        return Ok(());
    }
    for problem in &problems {
        eprintln!("layers: {problem}");
    }
    bail!("{} layering violation(s)", problems.len())
}

/// Lists every forbidden edge in `cargo metadata` output.
fn violations(metadata: &Value) -> Result<Vec<String>> {
    let packages = metadata["packages"].as_array().context("metadata has no packages")?;
    let workspace: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package["name"].as_str().context("package without a name")?;
        let permitted = allowed.get(name).copied().unwrap_or(PLUGIN_ALLOWED);
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().context("dependency without a name")?;
            let kind = dep["kind"].as_str().unwrap_or("normal");
            if dep_name == "libloading" && name != LOADER_CRATE {
                problems.push(format!(
                    "{name} depends on libloading ({kind}); only {LOADER_CRATE} may open shared objects"
                ));
            }
            let test_support = dep_name == TEST_SUPPORT && kind == "dev";
            let dev_allowed = kind == "dev"
                && DEV_ALLOWED.iter().any(|(from, to)| *from == name && to.contains(&dep_name));
            if workspace.contains(&dep_name)
                && !permitted.contains(&dep_name)
                && !test_support
                && !dev_allowed
            {
                problems.push(format!(
                    "{name} depends on {dep_name} ({kind}), which the layering does not allow (ARCHITECTURE.md)"
                ));
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::violations;

    fn package(name: &str, deps: &[(&str, &str)]) -> serde_json::Value {
        let deps: Vec<_> = deps.iter().map(|(n, k)| json!({ "name": n, "kind": k })).collect();
        json!({ "name": name, "dependencies": deps })
    }

    #[test]
    fn allowed_edges_pass() {
        let metadata = json!({ "packages": [
            package("hookyard-dso", &[("libloading", "normal")]),
            package("hookyard-context", &[("hookyard-dso", "normal")]),
            package("some-plugin", &[("hookyard-sdk", "normal")]),
            package("hookyard-sdk", &[]),
            package("hookyard-fixtures", &[]),
            package("hookyard-abi", &[("hookyard-fixtures", "dev"), ("hookyard-dso", "dev")]),
        ]});
        assert_eq!(violations(&metadata).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn dev_only_edges_are_refused_as_normal_dependencies() {
        let metadata = json!({ "packages": [
            package("hookyard-dso", &[]),
            package("hookyard-sdk", &[("hookyard-abi", "normal"), ("hookyard-dso", "normal")]),
        ]});
        let problems = violations(&metadata).unwrap();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("hookyard-sdk depends on hookyard-dso (normal)"));
    }

    #[test]
    fn upward_edge_and_stray_libloading_fail() {
        let metadata = json!({ "packages": [
            package("hookyard-dso", &[("hookyard-context", "dev")]),
            package("hookyard-context", &[("hookyard-dso", "normal"), ("libloading", "normal")]),
            package("some-plugin", &[("hookyard-dso", "normal")]),
            package("hookyard-hooks", &[("hookyard-fixtures", "normal")]),
            package("hookyard-fixtures", &[]),
        ]});
        let problems = violations(&metadata).unwrap();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].starts_with("hookyard-dso depends on hookyard-context (dev)"));
        assert!(problems[1].contains("only hookyard-dso may open shared objects"));
        assert!(problems[2].starts_with("some-plugin depends on hookyard-dso"));
        assert!(problems[3].starts_with("hookyard-hooks depends on hookyard-fixtures (normal)"));
    }
}
