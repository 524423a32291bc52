//! Test plugins built at test time, and a sandbox of plugin and runtime directories.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use hookyard_dso::{Loader, LoaderConfig, ReloadMode};
use tempfile::TempDir;

/// A C test plugin source under `tests/fixtures/c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CPlugin {
    /// `version.c` compiled with `-DPLUGIN_VERSION=N`.
    Version(i32),
    /// `pin.c`, which pins itself with `RTLD_NODELETE`.
    Pin,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The compiled shared object for `plugin`, built once per test process.
pub(crate) fn compiled(plugin: CPlugin) -> PathBuf {
    static BUILT: OnceLock<Mutex<(TempDir, HashMap<CPlugin, PathBuf>)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new((tempfile::tempdir().unwrap(), HashMap::new())));
    let mut built = built.lock().unwrap();
    if let Some(path) = built.1.get(&plugin) {
        return path.clone();
    }
    let (source, define, name) = match plugin {
        CPlugin::Version(v) => {
            ("version.c", Some(format!("-DPLUGIN_VERSION={v}")), format!("version{v}.so"))
        }
        CPlugin::Pin => ("pin.c", None, "pin.so".to_owned()),
    };
    let out = built.0.path().join(name);
    compile_c(&fixtures_dir().join("c").join(source), define.as_deref(), &out);
    built.1.insert(plugin, out.clone());
    out
}

/// Compiles one C file into a shared object with the system compiler (`$CC`, else `cc`).
pub(crate) fn compile_c(source: &Path, define: Option<&str>, out: &Path) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let mut cmd = Command::new(&cc);
    cmd.args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"]).arg(out).arg(source);
    cmd.args(define);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The Rust test plugin (`tests/fixtures/rust-plugin`), built once into `target/fixtures`.
pub(crate) fn rust_plugin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let target = root.join("target/fixtures");
            let output = Command::new(env!("CARGO"))
                .current_dir(&root)
                .args(["build", "--quiet", "--package", "hookyard-dso-test-plugin", "--target-dir"])
                .arg(&target)
                .output()
                .expect("cannot run cargo");
            assert!(
                output.status.success(),
                "building the Rust test plugin failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            target.join("debug/libhookyard_dso_test_plugin.so")
        })
        .clone()
}

/// A plugin directory and a runtime directory in a fresh temporary directory.
pub(crate) struct Sandbox {
    tmp: TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("plugins")).unwrap();
        Sandbox { tmp }
    }

    pub(crate) fn plugins(&self) -> PathBuf {
        self.tmp.path().join("plugins")
    }

    pub(crate) fn runtime(&self) -> PathBuf {
        self.tmp.path().join("runtime")
    }

    pub(crate) fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub(crate) fn loader(&self, mode: ReloadMode) -> Loader {
        Loader::new(LoaderConfig::new(self.runtime()).search_dir(self.plugins()).mode(mode))
            .unwrap()
    }

    /// Installs `from` as `plugins/<name>` the way deployment tools do: write beside, rename over.
    pub(crate) fn install(&self, from: &Path, name: &str) -> PathBuf {
        let dest = self.plugins().join(name);
        let staging = self.plugins().join(format!(".{name}.tmp"));
        fs::copy(from, &staging).unwrap();
        fs::rename(&staging, &dest).unwrap();
        dest
    }

    /// The version directories under the runtime root.
    pub(crate) fn version_dirs(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(self.runtime()) else { return Vec::new() };
        let mut dirs: Vec<PathBuf> =
            entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        dirs
    }
}

/// Whether any mapping of this process is backed by `path`, read from `/proc/self/maps`.
pub(crate) fn mapped(path: &Path) -> bool {
    let maps = fs::read_to_string("/proc/self/maps").unwrap();
    let wanted = path.to_str().unwrap();
    maps.lines().any(|line| {
        let line = line.strip_suffix(" (deleted)").unwrap_or(line);
        line.ends_with(wanted) && line[..line.len() - wanted.len()].ends_with(' ')
    })
}

pub(crate) type VersionFn = extern "C" fn() -> i32;
