//! `hookyard check`: everything `run` and a reload would read, without serving.

use std::path::Path;

use crate::config::{Config, FileStatus};

/// The outcome of a check.
#[derive(Debug)]
pub struct Check {
    /// Whether the directory would load.
    pub ok: bool,
    /// Problems as `file:line: reason`, then warnings prefixed `warning: `.
    pub problems: Vec<String>,
    /// One line per file: its status and path.
    pub files: Vec<String>,
}

/// Checks a configuration directory.
pub fn check(dir: &Path) -> Check {
    let loaded = Config::load_dir(dir);
    let mut problems = match &loaded.result {
        Ok(_) => Vec::new(),
        Err(found) => found.0.iter().map(ToString::to_string).collect(),
    };
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
    Check { ok: loaded.result.is_ok(), problems, files }
}
