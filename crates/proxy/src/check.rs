//! `hookyard check`: everything `run` and a reload would read, without serving.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{Config, FileStatus, Problem, Problems};
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
    /// The problems, each with its file, line (0: the file itself) and reason.
    pub found: Vec<Problem>,
    /// Each file read and its status (`ok`, `absent`, `FAILED`).
    pub statuses: Vec<(PathBuf, &'static str)>,
    /// The warnings, each as `file:line: reason` (or `file: reason`).
    pub warnings: Vec<String>,
}

impl Check {
    /// The outcome as one JSON object for scripts: `ok`, `files` (`file`, `status`),
    /// `problems` and `warnings` (`file`, `line`, `reason`; line 0: the file itself).
    pub fn to_json(&self) -> serde_json::Value {
        let files: Vec<_> = self
            .statuses
            .iter()
            .map(|(file, status)| serde_json::json!({ "file": file, "status": status }))
            .collect();
        let warnings: Vec<_> = self.warnings.iter().map(|w| located(w)).collect();
        serde_json::json!({
            "ok": self.ok,
            "files": files,
            "problems": self.found,
            "warnings": warnings,
        })
    }
}

/// A `file:line: reason` (or `file: reason`) text as its parts: a warning's text is made that
/// way by every file's parser.
fn located(text: &str) -> Problem {
    let with_line = text.match_indices(": ").find_map(|(at, _)| {
        let (head, reason) = (&text[..at], &text[at + 2..]);
        let (file, line) = head.rsplit_once(':')?;
        let line = line.parse().ok()?;
        Some(Problem { file: PathBuf::from(file), line, reason: reason.to_owned() })
    });
    with_line.unwrap_or_else(|| match text.split_once(": ") {
        Some((file, reason)) => {
            Problem { file: PathBuf::from(file), line: 0, reason: reason.to_owned() }
        }
        None => Problem { file: PathBuf::new(), line: 0, reason: text.to_owned() },
    })
}

/// Checks a configuration directory: every file, and every plugin `run` would load — global
/// plugins and remap plugins — loaded and initialised (remap instances created) in a scratch
/// runtime directory that is removed after, whatever happens.
pub fn check(dir: &Path) -> Check {
    let dir = &crate::config::absolute(dir);
    let mut loaded = Config::load_dir(dir);
    let (mut noexec, mut noexec_problem) = (None, None);
    if let Ok(config) = &loaded.result
        && let Some(reason) = crate::config::noexec_runtime_dir(&config.settings)
    {
        let file = dir.join(crate::config::SETTINGS_FILE);
        let problem = Problem { file, line: config.settings.runtime_dir_line, reason };
        // Without plugins nothing is mapped from there: `run` would serve, but the first
        // plugin added would fail.
        let plugins = !config.plugins.plugins.is_empty()
            || config.rules.rules().iter().any(|rule| !rule.plugins.is_empty());
        if plugins { noexec_problem = Some(problem) } else { noexec = Some(problem.to_string()) }
    }
    if let Ok(config) = &mut loaded.result
        && let Err(found) = load_plugins(config, dir)
    {
        loaded.result = Err(found);
    }
    // Expired certificates and uncovered SNI names are served (a reload only warns of them),
    // but a check exists to catch them before clients do.
    let mut found: Vec<Problem> = match &loaded.result {
        Ok(config) => config.tls.findings().to_vec(),
        Err(found) => found.0.clone(),
    };
    found.extend(noexec_problem);

    let mut problems: Vec<String> = found.iter().map(ToString::to_string).collect();
    let ok = problems.is_empty();
    let (mut files, mut statuses, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(warning) = noexec {
        problems.push(format!("warning: {warning}"));
        warnings.push(warning);
    }
    for file in &loaded.files {
        let status = match file.status {
            FileStatus::Loaded => "ok",
            FileStatus::Absent => "absent",
            FileStatus::Failed => "FAILED",
        };
        files.push(format!("{status:<7}{}", file.file.display()));
        statuses.push((file.file.clone(), status));
        problems.extend(file.warnings.iter().map(|w| format!("warning: {w}")));
        warnings.extend(file.warnings.iter().cloned());
    }
    Check { ok, problems, files, found, statuses, warnings }
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
        strategies: config.strategies.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_split_into_file_line_and_reason() {
        let p = located("/c/remap.config:3: rule shadowed by line 1: never matches");
        assert_eq!((p.file.to_str(), p.line), (Some("/c/remap.config"), 3));
        assert_eq!(p.reason, "rule shadowed by line 1: never matches");
        let p = located("/c/hookyard.yaml: `tls.certificates` is given, so x is not read");
        assert_eq!((p.file.to_str(), p.line), (Some("/c/hookyard.yaml"), 0));
        assert_eq!(p.reason, "`tls.certificates` is given, so x is not read");
    }
}
