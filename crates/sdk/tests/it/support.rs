//! Building the example plugins and the SDK's test plugin, and loading them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use hookyard_dso::{Library, Loader, LoaderConfig, ReloadMode};
pub(crate) use hookyard_fixtures::{Sandbox, mapped};

/// The Rust plugins: package, and the library file cargo writes.
const RUST: &[(&str, &str)] = &[
    ("hookyard-plugin-template", "libtemplate.so"),
    ("hookyard-plugin-rewrite", "librewrite.so"),
    ("hookyard-plugin-request-id", "librequest_id.so"),
    ("hookyard-plugin-delay", "libdelay.so"),
    ("hookyard-plugin-gzip", "libgzip.so"),
    ("hookyard-plugin-substitute", "libsubstitute.so"),
    ("hookyard-plugin-body-hash", "libbody_hash.so"),
    ("hookyard-sdk-test-plugin", "libsdk_test_plugin.so"),
];

/// The C example plugins: `plugins/c/<name>.c`.
const C: &[&str] = &["add_header", "response_header"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every plugin, built once per test process: the library file by short name (`rewrite`,
/// `add_header`, `sdk_test_plugin`, ...).
fn built() -> &'static HashMap<String, PathBuf> {
    static BUILT: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        // `cargo xtask plugins` builds into the same directory, so after it this is a no-op.
        let target = root().join("target/plugins");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root()).args(["build", "--quiet"]).arg("--target-dir").arg(&target);
        for (package, _) in RUST {
            cmd.args(["--package", package]);
        }
        let output = cmd.output().expect("cannot run cargo");
        assert!(
            output.status.success(),
            "building the plugins failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut built: HashMap<String, PathBuf> = RUST
            .iter()
            .map(|(_, file)| {
                let name = file.trim_start_matches("lib").trim_end_matches(".so").to_owned();
                (name, target.join("debug").join(file))
            })
            .collect();
        // Compiled beside, then renamed into place: a concurrent run never loads a half-written
        // file.
        let c_dir = target.join("test-c");
        std::fs::create_dir_all(&c_dir).unwrap();
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
        for name in C {
            let out = c_dir.join(format!("{name}.so"));
            let staging = c_dir.join(format!(".{name}.{}.so", std::process::id()));
            let output = Command::new(&cc)
                .args(["-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
                .arg(hookyard_abi::HEADER_DIR)
                .arg("-o")
                .arg(&staging)
                .arg(root().join("plugins/c").join(format!("{name}.c")))
                .output()
                .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
            assert!(
                output.status.success(),
                "compiling {name}.c failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            std::fs::rename(&staging, &out).unwrap();
            built.insert((*name).into(), out);
        }
        built
    })
}

/// A sandbox and a dynamic-mode loader over it.
pub(crate) struct Env {
    pub(crate) sandbox: Sandbox,
    pub(crate) loader: Loader,
}

impl Env {
    pub(crate) fn new() -> Env {
        let sandbox = Sandbox::new();
        let loader = Loader::new(
            LoaderConfig::new(sandbox.runtime())
                .search_dir(sandbox.plugins())
                .mode(ReloadMode::Dynamic),
        )
        .unwrap();
        Env { sandbox, loader }
    }

    /// Installs plugin `name` as `<name>.so` and loads it.
    pub(crate) fn load(&self, name: &str) -> Library {
        let file = format!("{name}.so");
        self.sandbox.install(&built()[name], &file);
        self.loader.load(file.as_ref()).unwrap()
    }
}
