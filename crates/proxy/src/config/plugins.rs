//! `plugin.yaml`: the global plugins and the plugin priorities (`docs/priorities.md`).
//!
//! ```yaml
//! plugins:
//!   - path: stats.so          # relative: searched in `plugin_dirs`
//!     params: [--verbose]
//!     enabled: true
//! priorities: { ... }         # read by hookyard_hooks::PriorityConfig
//! ```

use std::path::{Path, PathBuf};

use hookyard_hooks::PriorityConfig;
use saphyr::YamlData;

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
    /// Whether it is loaded.
    pub enabled: bool,
    /// Its line.
    pub line: usize,
}

/// The contents of `plugin.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginConfig {
    /// Global plugins, in load order.
    pub plugins: Vec<GlobalPluginSpec>,
    /// The priority table.
    pub priorities: PriorityConfig,
}

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
                    "plugins" => config.plugins = plugins(&mut r, value, plugin_dirs),
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
        for (name, key, value) in r.mapping(item, "a `plugins` entry") {
            match name {
                "path" => path = r.string(value, "`path`"),
                "params" => params = r.strings(value, "`params`"),
                "enabled" => enabled = r.bool(value, "`enabled`").unwrap_or(true),
                // Ordering constraints: read by hookyard_hooks::PriorityConfig.
                "before" | "after" | "hooks" => {}
                other => r.unknown(
                    key,
                    other,
                    "a `plugins` entry",
                    "path, params, enabled, before, after, hooks",
                ),
            }
        }
        let Some(path) = path else {
            if matches!(item.data, YamlData::Mapping(_)) {
                r.error(item, "a `plugins` entry needs a `path`");
            }
            continue;
        };
        let resolved = resolve(&path, dirs);
        if enabled && resolved.is_none() {
            let searched =
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
            r.error(item, format!("plugin `{path}` not found (searched: {searched})"));
        }
        out.push(GlobalPluginSpec {
            path,
            resolved,
            params,
            enabled,
            line: item.span.start.line(),
        });
    }
    out
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
    fn every_problem_in_line_order() {
        let errors = parse(
            "plugins:\n  - path: missing.so\n  - pth: x\nweird: 1\npriorities:\n  bogus: 2\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/plugin.yaml:2: plugin `missing.so` not found (searched: /nonexistent)",
                "/c/plugin.yaml:3: unknown key `pth` in a `plugins` entry (expected path, params, enabled, before, after, hooks)",
                "/c/plugin.yaml:3: a `plugins` entry needs a `path`",
                "/c/plugin.yaml:4: unknown key `weird` in plugin.yaml (expected plugins, priorities)",
                "/c/plugin.yaml:6: unknown key `bogus` in `priorities` (expected default, threshold, hooks, plugins)",
            ]
        );
    }
}
