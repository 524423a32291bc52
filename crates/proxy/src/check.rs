//! `hookyard check`: everything `run` and a reload would read, without serving.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{Config, FileStatus, Problems};
use crate::generation::{load_plugins as load, problems, remap_generations};

/// The outcome of a check.
#[derive(Debug)]
pub struct Check {
    /// Whether the directory would load, with no certificate expired, not yet valid or not
    /// covering a configured SNI name.
    pub ok: bool,
    /// Problems as `file:line: reason`, then warnings prefixed `warning: `.
    pub problems: Vec<String>,
    /// One line per file: its status and path.
    pub files: Vec<String>,
}

/// Checks a configuration directory: every file, and every plugin `run` would load — global
/// plugins and remap plugins — loaded and initialised (remap instances created) in a scratch
/// runtime directory that is removed after, whatever happens.
pub fn check(dir: &Path) -> Check {
    let dir = &crate::config::absolute(dir);
    let mut loaded = Config::load_dir(dir);
    if let Ok(config) = &mut loaded.result
        && let Err(found) = load_plugins(config, dir)
    {
        loaded.result = Err(found);
    }
    // Expired certificates and uncovered SNI names are served (a reload only warns of them),
    // but a check exists to catch them before clients do.
    let mut problems: Vec<String> = match &loaded.result {
        Ok(config) => config.tls.findings().iter().map(ToString::to_string).collect(),
        Err(found) => found.0.iter().map(ToString::to_string).collect(),
    };
    let ok = problems.is_empty();
    let mut files = Vec::new();
    for file in &loaded.files {
        let status = match file.status {
            FileStatus::Loaded => "ok",
            FileStatus::Absent => "absent",
            FileStatus::Failed => "FAILED",
        };
        files.push(format!("{status:<7}{}", file.file.display()));
        problems.extend(file.warnings.iter().map(|w| format!("warning: {w}")));
    }
    Check { ok, problems, files }
}

/// A scratch directory, removed with everything in it when this goes (a return, an error, a
/// panic unwinding).
struct Scratch(PathBuf);

impl Scratch {
    /// A new, unique name in the temporary directory; the loader creates it on its first load.
    fn new() -> Scratch {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Scratch(std::env::temp_dir().join(format!("hookyard-check-{}-{nanos}", std::process::id())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.0.display(), error = %e, "cannot remove the check's scratch directory");
        }
    }
}

/// Loads and initialises the configuration's plugins (global and remap) in a scratch runtime
/// directory, as `run` does.
fn load_plugins(config: &mut Config, dir: &Path) -> Result<(), Problems> {
    let scratch = Scratch::new();
    let mut settings = config.settings.clone();
    settings.runtime_dir = Some(scratch.0.clone());
    let mut scratch_config = Config {
        source: config.source.clone(),
        settings,
        rules: std::mem::take(&mut config.rules),
        plugins: config.plugins.clone(),
        tls: config.tls.clone(),
    };
    // Everything that can hold the loader (and so its lock file in the scratch directory) is
    // dropped before the scratch directory.
    let (generations, link) = remap_generations(
        &scratch_config.settings,
        Some(dir),
        crate::generation::default_plugin_root(&scratch_config.settings),
    );
    let result = load(&generations, &link, &mut scratch_config).map(drop).map_err(problems);
    generations.plugins().flush();
    drop((generations, link));
    result
}
