//! Source compatibility with Apache Traffic Server (ATS 9.2) plugins: an ATS plugin's sources,
//! rebuilt against this crate's `ts/ts.h`, `ts/remap.h` and `ts/apidefs.h`, become a hookyard
//! plugin (`cargo xtask ts-plugin SRC... -o OUT.so`, docs/porting.md).
//!
//! The crate owns the headers (`include/ts/`), their implementation (`csrc/`, C over the
//! hookyard function table `hy_api`) and [`build_plugin`], which compiles a plugin with both.
//!
//! Why C, compiled into each plugin: the plugin's only link to the host stays the `hy_api`
//! table it gets in its init entry point, exactly as for a native C plugin, so the host never
//! exports or needs ATS symbols and two ATS plugins never share compatibility state. A Rust
//! staticlib would bring the Rust standard library into every plugin and export its symbols;
//! the C layer is a few kilobytes and needs only libc and pthreads. Its symbols are hidden
//! (`-fvisibility=hidden`): the finished object exports the hookyard entry points only, besides
//! whatever the plugin's own sources export.
//!
//! The crate knows nothing of the host's internals: it sees the C ABI's header,
//! `crates/abi/include/hookyard.h`, like any plugin. It has no `unsafe`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a plugin could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read, written or renamed.
    #[error("{what}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The compiler, linker or `nm` failed (its own messages went to standard error).
    #[error("`{command}` failed: {status}")]
    Tool {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
    },
    /// No source file was given.
    #[error("no source files given")]
    NoSources,
    /// The sources define neither entry point of an ATS plugin.
    #[error("the sources define neither TSPluginInit nor TSRemapInit")]
    NoEntryPoint,
    /// The output name cannot be a plugin name.
    #[error("{0}: the file name must be a plugin name: letters, digits, '_', '-', '.'")]
    BadName(PathBuf),
}

/// The directory to put on the include path: it holds `ts/ts.h`, `ts/remap.h` and
/// `ts/apidefs.h`.
pub fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn abi_include_dir() -> PathBuf {
    crate_dir().join("../abi/include")
}

/// The entry points an ATS plugin's objects define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryPoints {
    /// `TSPluginInit`: a global plugin (plugin.yaml).
    pub global: bool,
    /// `TSRemapInit`: a remap plugin (remap.config `@plugin=`).
    pub remap: bool,
}

/// Builds the ATS plugin `sources` (C, or C++ for `.cc`, `.cpp`, `.cxx`) into the hookyard
/// plugin `out`, named after its file name without extension. The compilers are `$CC` (else
/// `cc`) and `$CXX` (else `c++`); `$NM` (else `nm`) finds the entry points.
///
/// `out` is replaced atomically: a proxy loading it never sees a partial file.
///
/// # Errors
///
/// When a tool fails (a call outside the subset fails here, naming the function), when the
/// sources define neither `TSPluginInit` nor `TSRemapInit`, and on I/O errors.
pub fn build_plugin(sources: &[PathBuf], out: &Path) -> Result<EntryPoints, Error> {
    if sources.is_empty() {
        return Err(Error::NoSources);
    }
    let name = out
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        })
        .ok_or_else(|| Error::BadName(out.to_owned()))?;
    let work =
        tempfile::Builder::new().prefix("hookyard-ts-plugin").tempdir().map_err(|source| {
            Error::Io { what: "cannot create a temporary directory".into(), source }
        })?;
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let cxx = std::env::var_os("CXX").unwrap_or_else(|| "c++".into());
    let mut objects = Vec::new();
    let mut any_cxx = false;
    for (i, source) in sources.iter().enumerate() {
        let is_cxx =
            matches!(source.extension().and_then(|e| e.to_str()), Some("cc" | "cpp" | "cxx" | "C"));
        any_cxx |= is_cxx;
        let object = work.path().join(format!("plugin{i}.o"));
        let mut cmd = Command::new(if is_cxx { &cxx } else { &cc });
        cmd.args(["-c", "-fPIC", "-O2", "-g", "-Wall", "-I"]).arg(include_dir());
        if !is_cxx {
            // A call outside the subset is undeclared: an error, not C's implicit declaration.
            cmd.arg("-Werror=implicit-function-declaration");
        }
        cmd.arg("-o").arg(&object).arg(source);
        run(cmd)?;
        objects.push(object);
    }
    let entry = entry_points(&objects)?;
    if !entry.global && !entry.remap {
        return Err(Error::NoEntryPoint);
    }
    let mut layer =
        vec!["core.c", "iobuffer.c", "mime.c", "schedule.c", "transform.c", "txn.c", "url.c"];
    if entry.global {
        layer.push("plugin_entry.c");
    }
    if entry.remap {
        layer.push("remap_entry.c");
    }
    for file in layer {
        let object = work.path().join(file.replace(".c", ".o"));
        let mut cmd = Command::new(&cc);
        cmd.args(["-c", "-fPIC", "-O2", "-g", "-std=c11", "-Wall", "-Wextra", "-Werror"])
            .arg("-fvisibility=hidden")
            .arg(format!("-DHY_TS_PLUGIN_NAME=\"{name}\""))
            .arg("-I")
            .arg(include_dir())
            .arg("-I")
            .arg(abi_include_dir())
            .arg("-o")
            .arg(&object)
            .arg(crate_dir().join("csrc").join(file));
        run(cmd)?;
        objects.push(object);
    }
    let mut staging = OsString::from(out.as_os_str());
    staging.push(".tmp");
    let staging = PathBuf::from(staging);
    let mut cmd = Command::new(if any_cxx { &cxx } else { &cc });
    // Every symbol must resolve now (to the layer or libc), never at load time.
    cmd.args(["-shared", "-Wl,--no-undefined", "-o"]).arg(&staging).args(&objects).arg("-pthread");
    run(cmd)?;
    std::fs::rename(&staging, out).map_err(|source| Error::Io {
        what: format!("cannot install {}", out.display()),
        source,
    })?;
    Ok(entry)
}

/// Which ATS entry points the objects define, read with `nm`.
fn entry_points(objects: &[PathBuf]) -> Result<EntryPoints, Error> {
    let nm = std::env::var_os("NM").unwrap_or_else(|| "nm".into());
    let mut cmd = Command::new(nm);
    cmd.args(["--defined-only", "-g", "-P"]).args(objects);
    let shown = format!("{cmd:?}");
    let output =
        cmd.output().map_err(|source| Error::Io { what: format!("cannot run {shown}"), source })?;
    if !output.status.success() {
        return Err(Error::Tool { command: shown, status: output.status.to_string() });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let defined = |symbol: &str| text.lines().any(|l| l.split_whitespace().next() == Some(symbol));
    Ok(EntryPoints { global: defined("TSPluginInit"), remap: defined("TSRemapInit") })
}

fn run(mut cmd: Command) -> Result<(), Error> {
    let shown = format!("{cmd:?}");
    let status =
        cmd.status().map_err(|source| Error::Io { what: format!("cannot run {shown}"), source })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Tool { command: shown, status: status.to_string() })
    }
}
