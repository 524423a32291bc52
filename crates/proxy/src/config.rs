//! The configuration directory (`docs/operating.md`): `hookyard.yaml`, `remap.config`,
//! `plugin.yaml`, `strategies.yaml`.
//!
//! Every file is optional. Loading parses everything before anything is used and reports every
//! problem of every file as `file:line: reason`, so a bad directory never half-replaces a good
//! configuration.

mod access_log;
mod forwarding;
pub(crate) mod multicert;
mod origin_tls;
mod plugins;
mod settings;
pub mod strategies;
mod tls;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use hookyard_remap::Rules;
use serde::Serialize;

pub use access_log::AccessLogSettings;
pub use forwarding::{ForwardedParams, Forwarding, Via};
pub use origin_tls::OriginTls;
pub use plugins::{GlobalPluginSpec, PluginConfig, PluginSource, is_wasm};
pub use settings::{
    CpuAffinity, DEFAULT_HEALTH_PATH, DEFAULT_LISTEN, Dns, Drain, DroppedHook, HealthChecks, Http2,
    Limits, OriginPool, Retirement, Settings, Timeouts, Transforms, Wasm,
};
pub use strategies::{STRATEGIES_FILE, Strategies};
pub use tls::{CertFiles, CertSpec, TlsSettings, TlsVersion};

/// The settings file's name.
pub const SETTINGS_FILE: &str = "hookyard.yaml";
/// The remap rules' file name.
pub const REMAP_FILE: &str = "remap.config";
/// The plugin file's name.
pub const PLUGIN_FILE: &str = "plugin.yaml";
/// ATS's list of global plugins, read when there is no `plugin.yaml`.
pub const ATS_PLUGIN_FILE: &str = "plugin.config";
/// The TLS certificate list's name (ATS's), read unless `hookyard.yaml` lists certificates.
pub const MULTICERT_FILE: &str = "ssl_multicert.config";

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based; 0 when the problem is the file itself).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.reason),
            line => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
        }
    }
}

/// Every problem found in a configuration directory; nothing of it was kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            problem.fmt(f)?;
        }
        Ok(())
    }
}

/// Where a configuration came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The configuration built into the binary (`run` without `--config`).
    Embedded,
    /// A configuration directory.
    Dir(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Embedded => f.write_str("embedded default"),
            Source::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// A complete, valid configuration.
#[derive(Debug)]
pub struct Config {
    /// Where it came from.
    pub source: Source,
    /// `hookyard.yaml`.
    pub settings: Settings,
    /// `remap.config`.
    pub rules: Rules,
    /// `plugin.yaml`.
    pub plugins: PluginConfig,
    /// `strategies.yaml`: the origin pools rules name with `@strategy=`.
    pub strategies: Strategies,
    /// The TLS certificates (`ssl_multicert.config`, or `tls.certificates` of `hookyard.yaml`).
    pub(crate) tls: Arc<crate::tls::Certs>,
}

/// What became of one file in a load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Parsed without problems.
    Loaded,
    /// Not there; its defaults apply.
    Absent,
    /// Has problems (listed in the report).
    Failed,
}

/// The report for one file of a load.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    /// The file.
    pub file: PathBuf,
    /// What became of it.
    pub status: FileStatus,
    /// Its problems, as `file:line: reason`.
    pub problems: Vec<String>,
    /// What was accepted but deserves a look, as `file:line: reason`.
    pub warnings: Vec<String>,
    /// Time spent reading and parsing it, in microseconds.
    pub micros: u64,
}

/// `path` made absolute against the working directory (without resolving symbolic links); as
/// given when the working directory cannot be read.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The result of loading a configuration directory.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration, or every problem.
    pub result: Result<Config, Problems>,
    /// One report per file, in load order.
    pub files: Vec<FileReport>,
}

impl Config {
    /// The configuration served by `run` without `--config`: default settings, no rules, a
    /// welcome page at `/` and the health route.
    pub fn embedded() -> Config {
        Config {
            source: Source::Embedded,
            settings: Settings::default(),
            rules: Rules::default(),
            plugins: PluginConfig::default(),
            strategies: Strategies::default(),
            tls: Arc::default(),
        }
    }

    /// Reads every file of a configuration directory, collecting every problem. A relative
    /// `dir` is taken from the working directory once, here: every path read from the files is
    /// then absolute, so nothing below resolves it a second time.
    pub fn load_dir(dir: &Path) -> Loaded {
        let dir = &absolute(dir);
        let mut files = Vec::new();
        let mut problems = Vec::new();
        if !dir.is_dir() {
            let problem = Problem {
                file: dir.to_owned(),
                line: 0,
                reason: "not a readable configuration directory".to_owned(),
            };
            return Loaded { result: Err(Problems(vec![problem])), files };
        }

        let path = dir.join(SETTINGS_FILE);
        let settings = file(&path, &mut files, &mut problems, |text| {
            Settings::parse(&path, dir, text).map(|s| (s, Vec::new()))
        })
        .unwrap_or_default();

        let path = dir.join(REMAP_FILE);
        let rules = timed(&path, &mut files, &mut problems, || {
            if !path.exists() {
                return None;
            }
            Some(match Rules::load(&path) {
                Ok(rules) => {
                    let warnings = rules.warnings().iter().map(ToString::to_string).collect();
                    Ok((rules, warnings))
                }
                Err(errors) => Err(errors
                    .0
                    .into_iter()
                    .map(|e| Problem { file: e.file, line: e.line, reason: e.reason })
                    .collect()),
            })
        })
        .unwrap_or_default();

        let plugins = plugin_list(dir, &settings, &mut files, &mut problems);

        let path = dir.join(STRATEGIES_FILE);
        let before = problems.len();
        let strategies = file(&path, &mut files, &mut problems, |text| {
            strategies::parse(&path, text).map(|s| (s, Vec::new()))
        });
        let strategies = strategies.unwrap_or_default();
        // A strategies file with problems would make every reference to it one more.
        if problems.len() == before {
            strategy_references(&rules, &strategies, &mut problems);
        }

        let tls = certificates(dir, &settings, &mut files, &mut problems).unwrap_or_default();

        let result = if problems.is_empty() {
            let tls = Arc::new(tls);
            let source = Source::Dir(dir.to_owned());
            Ok(Config { source, settings, rules, plugins, strategies, tls })
        } else {
            Err(Problems(problems))
        };
        Loaded { result, files }
    }
}

/// A problem for every rule whose `@strategy=` names no strategy of `strategies` (ATS's message).
fn strategy_references(rules: &Rules, strategies: &Strategies, problems: &mut Vec<Problem>) {
    for rule in rules.rules() {
        if let Some(name) = &rule.strategy
            && strategies.get(name).is_none()
        {
            problems.push(Problem {
                file: rule.file.to_path_buf(),
                line: rule.line,
                reason: format!("no strategy named '{name}' is defined in the config"),
            });
        }
    }
}

/// `hookyard.yaml` of `dir` alone (its defaults when absent): what `ctl --config` and the log
/// setup read without loading the rest of the directory.
///
/// # Errors
///
/// The file cannot be read or has problems (each `file:line: reason`).
pub fn settings_of(dir: &Path) -> Result<Settings, Problems> {
    let dir = &absolute(dir);
    let path = dir.join(SETTINGS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Settings::parse(&path, dir, &text).map_err(Problems),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.is_dir() => {
            Ok(Settings::default())
        }
        Err(e) => {
            let reason = if dir.is_dir() {
                format!("cannot read: {e}")
            } else {
                "not a readable configuration directory".to_owned()
            };
            let file = if dir.is_dir() { path } else { dir.to_owned() };
            Err(Problems(vec![Problem { file, line: 0, reason }]))
        }
    }
}

/// The control socket `settings` give: `admin`, else `admin.sock` in the runtime directory.
pub fn admin_socket(settings: &Settings) -> PathBuf {
    settings
        .admin
        .clone()
        .unwrap_or_else(|| runtime_dir(settings.runtime_dir.as_deref()).join("admin.sock"))
}

/// The certificates `hookyard.yaml` lists, else those of `ssl_multicert.config` (its report
/// recorded), loaded; a problem when TLS listeners are configured without any.
fn certificates(
    dir: &Path,
    settings: &Settings,
    files: &mut Vec<FileReport>,
    problems: &mut Vec<Problem>,
) -> Option<crate::tls::Certs> {
    let provider = crate::tls::provider();
    let load = |specs: &[CertSpec]| crate::tls::Certs::load(specs, &provider);
    let certs = match &settings.tls.certificates {
        Some(specs) => {
            let multicert = dir.join(MULTICERT_FILE);
            let settings_file = dir.join(SETTINGS_FILE);
            if multicert.exists()
                && let Some(report) = files.iter_mut().find(|f| f.file == settings_file)
            {
                report.warnings.push(format!(
                    "{}: `tls.certificates` is given, so {} is not read",
                    settings_file.display(),
                    multicert.display()
                ));
            }
            load(specs).map_err(|found| problems.extend(found)).ok()?
        }
        None => {
            let path = dir.join(MULTICERT_FILE);
            let before = problems.len();
            let certs = file(&path, files, problems, |text| {
                let (specs, warnings) = multicert::parse(&path, dir, text)?;
                load(&specs).map(|certs| (certs, warnings))
            });
            if problems.len() > before {
                return None;
            }
            certs.unwrap_or_default()
        }
    };
    if certs.count() == 0 && !settings.tls_listen.is_empty() {
        problems.push(Problem {
            file: dir.join(SETTINGS_FILE),
            line: settings.tls_listen_line,
            reason: format!(
                "`tls_listen` is set but no certificate is configured (in {MULTICERT_FILE} or \
                 `tls.certificates`)"
            ),
        });
    }
    Some(certs)
}

/// The certificate, key and chain files the configuration of `dir` names as it is on disk
/// (`settings` read from it), leniently: none from an `ssl_multicert.config` that does not parse.
pub(crate) fn certificate_files(dir: &Path, settings: &Settings) -> Vec<PathBuf> {
    let specs = match &settings.tls.certificates {
        Some(specs) => specs.clone(),
        None => {
            let path = dir.join(MULTICERT_FILE);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            multicert::parse(&path, dir, &text).map(|(specs, _)| specs).unwrap_or_default()
        }
    };
    specs.iter().flat_map(CertSpec::files).map(Path::to_owned).collect()
}

/// Reads and parses one optional file, recording its report.
/// The global plugins: `plugin.yaml`, else ATS's `plugin.config` (as ATS chooses).
fn plugin_list(
    dir: &Path,
    settings: &Settings,
    files: &mut Vec<FileReport>,
    problems: &mut Vec<Problem>,
) -> PluginConfig {
    let yaml = dir.join(PLUGIN_FILE);
    let ats = dir.join(ATS_PLUGIN_FILE);
    if !yaml.exists() && ats.exists() {
        return file(&ats, files, problems, |text| {
            PluginConfig::parse_ats(&ats, text, &settings.plugin_dirs)
        })
        .unwrap_or_default();
    }
    file(&yaml, files, problems, |text| {
        let config = PluginConfig::parse(&yaml, text, &settings.plugin_dirs)?;
        let ignored = ats
            .exists()
            .then(|| format!("{}: ignored: {PLUGIN_FILE} lists the global plugins", ats.display()));
        Ok((config, ignored.into_iter().collect()))
    })
    .unwrap_or_default()
}

fn file<T>(
    path: &Path,
    files: &mut Vec<FileReport>,
    problems: &mut Vec<Problem>,
    parse: impl FnOnce(&str) -> Result<(T, Vec<String>), Vec<Problem>>,
) -> Option<T> {
    timed(path, files, problems, || match std::fs::read_to_string(path) {
        Ok(text) => Some(parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(vec![Problem {
            file: path.to_owned(),
            line: 0,
            reason: format!("cannot read: {e}"),
        }])),
    })
}

fn timed<T>(
    path: &Path,
    files: &mut Vec<FileReport>,
    problems: &mut Vec<Problem>,
    load: impl FnOnce() -> Option<Result<(T, Vec<String>), Vec<Problem>>>,
) -> Option<T> {
    let start = Instant::now();
    let outcome = load();
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    let mut report = FileReport {
        file: path.to_owned(),
        status: FileStatus::Absent,
        problems: Vec::new(),
        warnings: Vec::new(),
        micros,
    };
    let value = match outcome {
        None => None,
        Some(Ok((value, warnings))) => {
            report.status = FileStatus::Loaded;
            report.warnings = warnings;
            Some(value)
        }
        Some(Err(found)) => {
            report.status = FileStatus::Failed;
            report.problems = found.iter().map(ToString::to_string).collect();
            problems.extend(found);
            None
        }
    };
    files.push(report);
    value
}

/// The runtime directory (plugin copies, the default control socket): `configured` if given;
/// else the first of these whose filesystem allows exec (plugin copies are mapped executable,
/// and `/run` is mounted `noexec` on some systems): `$XDG_RUNTIME_DIR/hookyard`; for root,
/// `/var/lib/hookyard` (root's own); `hookyard-UID` in the temporary directory;
/// `$HOME/.local/state/hookyard`. When none does, the first, whose use then fails with the
/// reason.
///
/// Whichever it is, it is used only if it is private to the effective user (created 0700, or
/// owned by it and writable by nobody else, and no symbolic link): another user who creates the
/// predictable name in the temporary directory first gets a refusal, not the directory.
pub fn runtime_dir(configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = configured {
        return dir.to_owned();
    }
    let candidates = default_runtime_dirs();
    let exec = candidates.iter().find(|dir| matches!(hookyard_dso::mounted_noexec(dir), Ok(false)));
    match exec.or(candidates.first()) {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join("hookyard"),
    }
}

/// The default runtime directories, in order of preference (see [`runtime_dir`]).
fn default_runtime_dirs() -> Vec<PathBuf> {
    // The owner of /proc/self is this process's effective user: the uid without `unsafe`.
    let euid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut dirs = Vec::new();
    dirs.extend(env("XDG_RUNTIME_DIR").map(|dir| dir.join("hookyard")));
    match euid {
        Ok(0) => dirs.push(PathBuf::from("/var/lib/hookyard")),
        Ok(uid) => dirs.push(std::env::temp_dir().join(format!("hookyard-{uid}"))),
        Err(_) => dirs.push(std::env::temp_dir().join("hookyard")),
    }
    if euid.is_ok_and(|uid| uid != 0) {
        dirs.extend(env("HOME").map(|home| home.join(".local/state/hookyard")));
    }
    dirs
}

/// Why plugin copies could not be mapped in the runtime directory `settings` give, with what to
/// do: `None` when its filesystem allows exec (or cannot be inspected: its use says why).
pub(crate) fn noexec_runtime_dir(settings: &Settings) -> Option<String> {
    let dir = runtime_dir(settings.runtime_dir.as_deref());
    if !matches!(hookyard_dso::mounted_noexec(&dir), Ok(true)) {
        return None;
    }
    let which = if settings.runtime_dir.is_some() {
        format!("`runtime_dir` {}", dir.display())
    } else {
        format!("the default runtime directory {} (every default is)", dir.display())
    };
    Some(format!(
        "{which} is on a filesystem mounted noexec, so plugin copies could not be mapped \
         executable; set `runtime_dir` to a directory on a filesystem that allows exec (as root, \
         /var/lib/hookyard), or remount that filesystem with exec"
    ))
}
