//! `plugin.yaml`: the global plugins and the plugin priorities (`docs/priorities.md`).
//!
//! ```yaml
//! plugins:
//!   - path: stats.so          # relative: searched in `plugin_dirs`
//!     params: [--verbose]
//!     enabled: true
//!     canary:                 # optional: another version of the same plugin on trial
//!       path: stats-v2.so     # searched like `path`
//!       percent: 5            # its share, 0 to 100 (fractions allowed)
//!       by: client            # client (default: per client IP address) or request
//!       params: [--verbose]   # default: the entry's params
//! priorities: { ... }         # read by hookyard_hooks::PriorityConfig
//! ```

use std::path::{Path, PathBuf};

use hookyard_hooks::PriorityConfig;
use hookyard_host::{SHARE_SCALE, Split};
use saphyr::{MarkedYaml, Scalar, YamlData};

use super::Problem;
use super::yaml::{self, Reader, is_null};

/// One global plugin as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalPluginSpec {
    /// The path as written.
    pub path: String,
    /// Where it was found: the path itself if absolute, else the first `plugin_dirs` entry
    /// holding it.
    pub resolved: Option<PathBuf>,
    /// Its arguments.
    pub params: Vec<String>,
    /// Whether it is loaded (its canary too).
    pub enabled: bool,
    /// Its line.
    pub line: usize,
    /// Another version of the plugin, run by a share of the transactions instead of this one.
    pub canary: Option<CanarySpec>,
    /// A WebAssembly plugin's configuration (`config:`); without one, its params joined by
    /// spaces are.
    pub config: Option<String>,
}

impl GlobalPluginSpec {
    /// Whether it is a WebAssembly (proxy-wasm) module: its path ends in `.wasm`.
    pub fn is_wasm(&self) -> bool {
        is_wasm(&self.path)
    }

    /// A WebAssembly plugin's configuration bytes: `config:`, else the params joined by spaces.
    pub fn wasm_config(&self) -> Vec<u8> {
        match &self.config {
            Some(config) => config.clone().into_bytes(),
            None => self.params.join(" ").into_bytes(),
        }
    }
}

/// Whether `path` names a WebAssembly (proxy-wasm) module: it ends in `.wasm`.
pub fn is_wasm(path: &str) -> bool {
    path.ends_with(".wasm")
}

/// The `canary:` of a global plugin entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanarySpec {
    /// The path as written.
    pub path: String,
    /// Where it was found (as for the entry's `path`).
    pub resolved: Option<PathBuf>,
    /// Its share of transactions (or clients), in millionths of them.
    pub share: u32,
    /// How a transaction's version is chosen.
    pub by: Split,
    /// Its arguments (the entry's unless given).
    pub params: Vec<String>,
    /// The line of its `canary:` mapping.
    pub line: usize,
}

/// The contents of `plugin.yaml` (or of ATS's `plugin.config`, read when there is no
/// `plugin.yaml`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginConfig {
    /// Global plugins, in load order.
    pub plugins: Vec<GlobalPluginSpec>,
    /// The priority table.
    pub priorities: PriorityConfig,
    /// The file the list came from.
    pub source: PluginSource,
}

/// Which file lists the global plugins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PluginSource {
    /// `plugin.yaml`, hookyard's own (also when there is neither file).
    #[default]
    Yaml,
    /// ATS's `plugin.config`: one plugin per line, its path then its arguments.
    AtsConfig,
}

impl PluginSource {
    /// The file's name in the configuration directory.
    pub fn file_name(self) -> &'static str {
        match self {
            PluginSource::Yaml => super::PLUGIN_FILE,
            PluginSource::AtsConfig => super::ATS_PLUGIN_FILE,
        }
    }
}

/// The most arguments a `plugin.config` line may give a plugin (ATS's limit, its path
/// included).
const ATS_MAX_ARGS: usize = 64;

impl PluginConfig {
    /// Parses a `plugin.yaml` text; relative plugin paths are searched in `plugin_dirs`.
    ///
    /// # Errors
    ///
    /// Every problem, each with `file:line: reason`.
    pub fn parse(
        file: &Path,
        text: &str,
        plugin_dirs: &[PathBuf],
    ) -> Result<PluginConfig, Vec<Problem>> {
        let root = yaml::load(file, text).map_err(|p| vec![p])?;
        let mut r = Reader::new(file);
        let mut config = PluginConfig::default();
        if let Some(root) = root.as_ref().filter(|root| !is_null(root)) {
            for (name, key, value) in r.mapping(root, "plugin.yaml") {
                match name {
                    "plugins" => {
                        config.plugins = plugins(&mut r, value, plugin_dirs);
                        too_many_canaries(&mut r, &config.plugins);
                    }
                    // Read below by the hooks crate, with its own messages.
                    "priorities" => {}
                    other => r.unknown(key, other, "plugin.yaml", "plugins, priorities"),
                }
            }
        }
        match PriorityConfig::from_plugin_yaml(file, text) {
            Ok(priorities) => config.priorities = priorities,
            Err(errors) => r.problems.extend(errors.0.into_iter().map(|e| Problem {
                file: e.file,
                line: e.line,
                reason: e.reason,
            })),
        }
        r.problems.sort_by_key(|p| p.line);
        if r.problems.is_empty() { Ok(config) } else { Err(r.problems) }
    }
}

impl PluginConfig {
    /// Parses ATS's `plugin.config`: a plugin per line, its path (searched in `plugin_dirs` when
    /// relative) then its arguments, separated by blanks; `"..."` groups an argument with
    /// blanks; `#` starts a comment line. Warnings come with the list.
    ///
    /// # Errors
    ///
    /// Every problem, each with `file:line: reason`.
    pub fn parse_ats(
        file: &Path,
        text: &str,
        plugin_dirs: &[PathBuf],
    ) -> Result<(PluginConfig, Vec<String>), Vec<Problem>> {
        let mut config = PluginConfig { source: PluginSource::AtsConfig, ..Default::default() };
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let problem = |line, reason: String| Problem { file: file.to_owned(), line, reason };
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let words = match ats_words(raw) {
                Ok(words) => words,
                Err(reason) => {
                    problems.push(problem(line, reason));
                    continue;
                }
            };
            let Some((path, params)) = words.split_first() else { continue };
            if words.len() > ATS_MAX_ARGS {
                let reason = format!("{} arguments: at most {ATS_MAX_ARGS}", words.len());
                problems.push(problem(line, reason));
                continue;
            }
            for param in params.iter().filter(|p| p.starts_with('$')) {
                warnings.push(format!(
                    "{}:{line}: `{param}` is passed as written: hookyard has no records to \
                     expand it from (ATS passes an unknown record's name as written too)",
                    file.display()
                ));
            }
            let resolved = resolve(path, plugin_dirs);
            if resolved.is_none() {
                problems.push(problem(line, not_found(path, plugin_dirs)));
            }
            config.plugins.push(GlobalPluginSpec {
                path: path.clone(),
                resolved,
                params: params.to_vec(),
                enabled: true,
                line,
                canary: None,
                config: None,
            });
        }
        if problems.is_empty() { Ok((config, warnings)) } else { Err(problems) }
    }
}

/// The words of a `plugin.config` line: none for a blank or comment line.
fn ats_words(line: &str) -> Result<Vec<String>, String> {
    let line = line.trim();
    if line.starts_with('#') {
        return Ok(Vec::new());
    }
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(c) => word.push(c),
                    None => return Err("a quoted argument has no closing `\"`".to_owned()),
                }
            }
        } else {
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

fn plugins(
    r: &mut Reader<'_>,
    node: &saphyr::MarkedYaml<'_>,
    dirs: &[PathBuf],
) -> Vec<GlobalPluginSpec> {
    let YamlData::Sequence(items) = &node.data else {
        r.error(node, format!("`plugins` must be a list, found {}", yaml::kind(node)));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let (mut path, mut params, mut enabled) = (None, Vec::new(), true);
        let (mut canary_node, mut config, mut config_node) = (None, None, None);
        for (name, key, value) in r.mapping(item, "a `plugins` entry") {
            match name {
                "path" => path = r.string(value, "`path`"),
                "params" => params = r.strings(value, "`params`"),
                "enabled" => enabled = r.bool(value, "`enabled`").unwrap_or(true),
                "canary" => canary_node = Some(value),
                "config" => {
                    config = r.string(value, "`config`");
                    config_node = Some(key);
                }
                // Ordering constraints: read by hookyard_hooks::PriorityConfig.
                "before" | "after" | "hooks" => {}
                other => r.unknown(
                    key,
                    other,
                    "a `plugins` entry",
                    "path, params, enabled, canary, config, before, after, hooks",
                ),
            }
        }
        let canary = canary_node.and_then(|node| canary(r, node, &params, enabled, dirs));
        let Some(path) = path else {
            if matches!(item.data, YamlData::Mapping(_)) {
                r.error(item, "a `plugins` entry needs a `path`");
            }
            continue;
        };
        if let Some(node) = config_node.filter(|_| !is_wasm(&path)) {
            r.error(node, "`config` is for WebAssembly plugins (a `path` ending in `.wasm`)");
        }
        if is_wasm(&path) && canary_node.is_some() {
            r.error(item, "a WebAssembly plugin has no `canary` (a reload loads its new version)");
        }
        let resolved = resolve(&path, dirs);
        if enabled && resolved.is_none() {
            r.error(item, not_found(&path, dirs));
        }
        if let Some(canary) = &canary
            && let (Some(stable), Some(trial)) = (&resolved, &canary.resolved)
            && same_file(stable, trial)
        {
            r.problems.push(super::Problem {
                file: r.file.to_owned(),
                line: canary.line,
                reason: format!(
                    "canary `{}` is the same file as `{path}`: a canary needs a file of its own",
                    canary.path
                ),
            });
        }
        out.push(GlobalPluginSpec {
            path,
            resolved,
            params,
            enabled,
            line: item.span.start.line(),
            canary,
            config,
        });
    }
    out
}

/// Refuses more canaries than a generation can tell apart.
fn too_many_canaries(r: &mut Reader<'_>, plugins: &[GlobalPluginSpec]) {
    let max = hookyard_hooks::Arms::MAX;
    let mut canaries = plugins.iter().filter(|p| p.enabled).filter_map(|p| p.canary.as_ref());
    if let Some(first_too_many) = canaries.nth(max) {
        r.problems.push(super::Problem {
            file: r.file.to_owned(),
            line: first_too_many.line,
            reason: format!("more than {max} canaries: at most {max} can run at once"),
        });
    }
}

/// A `canary:` mapping; `None` (with its problems reported) when it is not usable.
fn canary(
    r: &mut Reader<'_>,
    node: &MarkedYaml<'_>,
    stable_params: &[String],
    enabled: bool,
    dirs: &[PathBuf],
) -> Option<CanarySpec> {
    let (mut path, mut share, mut by, mut params) = (None, None, Some(Split::Client), None);
    let entries = r.mapping(node, "`canary`");
    if !matches!(node.data, YamlData::Mapping(_)) {
        return None;
    }
    for (name, key, value) in entries {
        match name {
            "path" => path = r.string(value, "`canary.path`"),
            "percent" => share = Some(percent(r, value)),
            "by" => by = split(r, value),
            "params" => params = Some(r.strings(value, "`canary.params`")),
            other => r.unknown(key, other, "`canary`", "path, percent, by, params"),
        }
    }
    let missing: Vec<&str> = [("`path`", path.is_none()), ("`percent`", share.is_none())]
        .into_iter()
        .filter_map(|(what, missing)| missing.then_some(what))
        .collect();
    if !missing.is_empty() && matches!(node.data, YamlData::Mapping(_)) {
        r.error(node, format!("`canary` needs {}", missing.join(" and ")));
    }
    let (path, share, by) = (path?, share??, by?);
    let resolved = resolve(&path, dirs);
    if enabled && resolved.is_none() {
        r.error(node, format!("canary {}", not_found(&path, dirs)));
    }
    Some(CanarySpec {
        path,
        resolved,
        share,
        by,
        params: params.unwrap_or_else(|| stable_params.to_vec()),
        line: node.span.start.line(),
    })
}

/// `percent`: a number from 0 to 100, as millionths; `None` (reported) otherwise.
fn percent(r: &mut Reader<'_>, node: &MarkedYaml<'_>) -> Option<u32> {
    let value = match &node.data {
        YamlData::Value(Scalar::Integer(n)) => Some(*n as f64),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(**f),
        _ => None,
    };
    match value.filter(|v| (0.0..=100.0).contains(v)) {
        Some(v) => Some((v * f64::from(SHARE_SCALE) / 100.0).round() as u32),
        None => {
            let found = match &node.data {
                YamlData::Value(Scalar::Integer(n)) => n.to_string(),
                YamlData::Value(Scalar::FloatingPoint(f)) => f.to_string(),
                _ => yaml::kind(node).to_owned(),
            };
            r.error(
                node,
                format!("`canary.percent` must be a number from 0 to 100, found {found}"),
            );
            None
        }
    }
}

/// `by`: `client` or `request`.
fn split(r: &mut Reader<'_>, node: &MarkedYaml<'_>) -> Option<Split> {
    match r.string(node, "`canary.by`")?.as_str() {
        "client" => Some(Split::Client),
        "request" => Some(Split::Request),
        other => {
            r.error(node, format!("unknown `canary.by` `{other}` (expected client or request)"));
            None
        }
    }
}

fn not_found(path: &str, dirs: &[PathBuf]) -> String {
    let searched = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
    format!("plugin `{path}` not found (searched: {searched})")
}

/// Whether two found plugin paths name one file (as the loader identifies it: canonically).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Finds a plugin file: an absolute path as is, a relative one in the first directory holding it.
pub(crate) fn resolve(path: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_owned());
    }
    dirs.iter().map(|d| d.join(p)).find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PluginConfig, Vec<String>> {
        PluginConfig::parse(Path::new("/c/plugin.yaml"), text, &[PathBuf::from("/nonexistent")])
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    fn parse_ats(text: &str, dirs: &[PathBuf]) -> Result<(PluginConfig, Vec<String>), Vec<String>> {
        PluginConfig::parse_ats(Path::new("/c/plugin.config"), text, dirs)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn ats_plugin_config_lines() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.so", "b.so"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let dirs = [dir.path().to_owned()];
        let text = "# global plugins\n\na.so --x=1 \"two words\"  last\n  b.so $proxy.config.x\n";
        let (config, warnings) = parse_ats(text, &dirs).unwrap();
        assert_eq!(config.source, PluginSource::AtsConfig);
        let got: Vec<(&str, &[String], usize)> =
            config.plugins.iter().map(|p| (p.path.as_str(), &p.params[..], p.line)).collect();
        let a = ["--x=1".to_owned(), "two words".to_owned(), "last".to_owned()];
        let b = ["$proxy.config.x".to_owned()];
        assert_eq!(got, [("a.so", &a[..], 3), ("b.so", &b[..], 4)]);
        assert!(config.plugins.iter().all(|p| p.enabled && p.resolved.is_some()));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("/c/plugin.config:4: `$proxy.config.x` is passed"));

        let errors = parse_ats("a.so \"open\nmissing.so\n", &dirs).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0], "/c/plugin.config:1: a quoted argument has no closing `\"`");
        assert!(errors[1].starts_with("/c/plugin.config:2: "), "{errors:?}");
        assert!(errors[1].contains("missing.so"), "{errors:?}");
        let many = format!("a.so{}\n", " x".repeat(64));
        let errors = parse_ats(&many, &dirs).unwrap_err();
        assert_eq!(errors, ["/c/plugin.config:1: 65 arguments: at most 64"]);
    }

    #[test]
    fn priorities_and_disabled_plugins() {
        let c = parse(
            "plugins:\n  - path: x.so\n    enabled: false\n    params: [a, b]\n\
             priorities:\n  plugins:\n    - {name: auth, max_priority: 10}\n",
        )
        .unwrap();
        assert_eq!(c.plugins.len(), 1);
        assert_eq!(c.plugins[0].params, ["a", "b"]);
        assert_eq!(c.priorities.plugins[0].name, "auth");
    }

    #[test]
    fn a_canary_is_read_with_its_defaults() {
        let c = parse(
            "plugins:\n  - path: x.so\n    enabled: false\n    params: [a]\n    canary:\n      \
             path: y.so\n      percent: 0.5\n  - path: z.so\n    enabled: false\n    canary: \
             {path: w.so, percent: 100, by: request, params: []}\n",
        )
        .unwrap();
        let canary = c.plugins[0].canary.as_ref().unwrap();
        assert_eq!(
            (canary.path.as_str(), canary.share, canary.by, canary.params.as_slice(), canary.line),
            ("y.so", 5_000, Split::Client, &["a".to_owned()][..], 6)
        );
        let canary = c.plugins[1].canary.as_ref().unwrap();
        assert_eq!(
            (canary.share, canary.by, canary.params.len()),
            (SHARE_SCALE, Split::Request, 0)
        );
    }

    #[test]
    fn canary_problems_have_their_lines() {
        let errors = parse(
            "plugins:\n  - path: x.so\n    enabled: false\n    canary:\n      percent: 101\n      \
             by: cookie\n      size: 1\n  - path: y.so\n    enabled: false\n    canary: 5\n  \
             - path: z.so\n    canary: {path: z.so, percent: 1}\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/plugin.yaml:5: `canary.percent` must be a number from 0 to 100, found 101",
                "/c/plugin.yaml:5: `canary` needs `path`",
                "/c/plugin.yaml:6: unknown `canary.by` `cookie` (expected client or request)",
                "/c/plugin.yaml:7: unknown key `size` in `canary` (expected path, percent, by, params)",
                "/c/plugin.yaml:10: `canary` must be a mapping, found an integer",
                "/c/plugin.yaml:11: plugin `z.so` not found (searched: /nonexistent)",
                "/c/plugin.yaml:12: canary plugin `z.so` not found (searched: /nonexistent)",
            ]
        );
    }

    #[test]
    fn a_wasm_entry_takes_config_or_joins_its_params() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.wasm"), b"").unwrap();
        let dirs = [dir.path().to_owned()];
        let text = "plugins:\n  - path: f.wasm\n    params: [a=1, b=2]\n  - path: f.wasm\n    \
                    config: \"x y\"\n";
        let config = PluginConfig::parse(Path::new("/c/plugin.yaml"), text, &dirs).unwrap();
        assert!(config.plugins.iter().all(GlobalPluginSpec::is_wasm));
        assert_eq!(config.plugins[0].wasm_config(), b"a=1 b=2");
        assert_eq!(config.plugins[1].wasm_config(), b"x y");
        let errors = PluginConfig::parse(
            Path::new("/c/plugin.yaml"),
            "plugins:\n  - path: f.wasm\n    canary: { path: f.wasm, percent: 5 }\n  - path: \
             missing.so\n    config: x\n",
            &dirs,
        )
        .unwrap_err();
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            errors.contains(
                &"/c/plugin.yaml:2: a WebAssembly plugin has no `canary` (a reload loads its new \
              version)"
                    .to_owned()
            ),
            "{errors:?}"
        );
        assert!(errors.contains(
            &"/c/plugin.yaml:5: `config` is for WebAssembly plugins (a `path` ending in `.wasm`)"
                .to_owned()
        ), "{errors:?}");
    }

    #[test]
    fn every_problem_in_line_order() {
        let errors = parse(
            "plugins:\n  - path: missing.so\n  - pth: x\nweird: 1\npriorities:\n  bogus: 2\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/plugin.yaml:2: plugin `missing.so` not found (searched: /nonexistent)",
                "/c/plugin.yaml:3: unknown key `pth` in a `plugins` entry (expected path, params, enabled, canary, config, before, after, hooks)",
                "/c/plugin.yaml:3: a `plugins` entry needs a `path`",
                "/c/plugin.yaml:4: unknown key `weird` in plugin.yaml (expected plugins, priorities)",
                "/c/plugin.yaml:6: unknown key `bogus` in `priorities` (expected default, threshold, hooks, plugins)",
            ]
        );
    }
}
