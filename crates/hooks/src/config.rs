//! The `priorities` part of `plugin.yaml`.
//!
//! ```yaml
//! priorities:
//!   default: { priority: 0, max_priority: 0 }   # plugins not listed below
//!   threshold: -100                              # callbacks below it are skipped
//!   hooks:
//!     READ_REQUEST_HDR: { threshold: 10 }
//!   plugins:
//!     - name: auth
//!       max_priority: 1000                       # its ceiling
//!       priority: 900                            # its default
//!     - name: logger
//!       after: [auth]                            # every hook: auth's callbacks first
//!       hooks:
//!         SEND_RESPONSE_HDR: { before: [stats] } # one hook only
//! ```
//!
//! `before`, `after` and `hooks` may also be written in a global plugin's entry of the top-level
//! `plugins` list; they are read here as [`Subject::Global`] and resolved once the plugin is
//! loaded and its name known ([`Orders::resolve`](crate::Orders::resolve)).
//!
//! Every problem is reported with `file:line: reason`, all of them in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::id::HookId;
use crate::order::{OrderSpec, Relation, Subject};
use crate::priority::Priority;

/// One plugin's configured priorities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginPriorityConfig {
    /// The plugin's name (its context's name).
    pub name: String,
    /// Its ceiling.
    pub max_priority: Priority,
    /// Its default priority (at most its ceiling).
    pub priority: Priority,
    /// The line that names it.
    pub line: usize,
}

/// The operator's priority configuration.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PriorityConfig {
    /// Default priority of plugins not listed.
    pub default_priority: Priority,
    /// Ceiling of plugins not listed.
    pub default_max_priority: Priority,
    /// The global threshold.
    pub threshold: Option<Priority>,
    /// Per-hook thresholds.
    pub hook_thresholds: Vec<(HookId, Priority)>,
    /// Listed plugins, in file order.
    pub plugins: Vec<PluginPriorityConfig>,
    /// Ordering constraints (`before`, `after`, per hook under `hooks`) of `priorities.plugins`
    /// entries and of the global plugins' entries in `plugins`, in file order.
    pub orders: Vec<OrderSpec>,
}

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// Every problem found in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            error.fmt(f)?;
        }
        Ok(())
    }
}

impl PriorityConfig {
    /// Reads the `priorities` key of a `plugin.yaml` text; the file's other keys are its
    /// caller's to check. A file without `priorities` gives the defaults.
    ///
    /// # Errors
    ///
    /// Every problem, each with `file:line: reason`.
    pub fn from_plugin_yaml(file: &Path, text: &str) -> Result<PriorityConfig, ConfigErrors> {
        let docs = MarkedYaml::load_from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: file.to_owned(),
                line: e.marker().line(),
                reason: format!("invalid YAML: {}", e.info()),
            }])
        })?;
        let mut reader = Reader { file, errors: Vec::new() };
        let mut config = PriorityConfig::default();
        if let Some(root) = docs.first() {
            match &root.data {
                YamlData::Mapping(map) => {
                    let mut orders = Vec::new();
                    for (key, value) in map {
                        match key_name(key) {
                            Some("priorities") => config = reader.priorities(value),
                            Some("plugins") => orders = reader.global_orders(value),
                            _ => {}
                        }
                    }
                    // The global plugins' constraints come first, as their entries are first.
                    orders.append(&mut config.orders);
                    config.orders = orders;
                }
                YamlData::Value(Scalar::Null) => {}
                _ => reader.error(root, "a plugin.yaml file must be a mapping"),
            }
        }
        if reader.errors.is_empty() { Ok(config) } else { Err(ConfigErrors(reader.errors)) }
    }

    /// Reads the value of a `priorities` key.
    ///
    /// # Errors
    ///
    /// Every problem, each with `file:line: reason`.
    pub fn from_node(file: &Path, node: &MarkedYaml<'_>) -> Result<PriorityConfig, ConfigErrors> {
        let mut reader = Reader { file, errors: Vec::new() };
        let config = reader.priorities(node);
        if reader.errors.is_empty() { Ok(config) } else { Err(ConfigErrors(reader.errors)) }
    }
}

fn key_name<'a>(key: &'a MarkedYaml<'_>) -> Option<&'a str> {
    match &key.data {
        YamlData::Value(Scalar::String(s)) => Some(s),
        _ => None,
    }
}

fn kind(node: &MarkedYaml<'_>) -> &'static str {
    match &node.data {
        YamlData::Value(Scalar::Null) => "nothing",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) => "an integer",
        YamlData::Value(Scalar::FloatingPoint(_)) => "a number with a fraction",
        YamlData::Value(Scalar::String(_)) => "a string",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a mapping",
        _ => "an unsupported value",
    }
}

/// The keys of a plugin's entry that state ordering constraints.
const ORDER_KEYS: [&str; 3] = ["before", "after", "hooks"];

struct Reader<'f> {
    file: &'f Path,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn error(&mut self, node: &MarkedYaml<'_>, reason: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line: node.span.start.line(),
            reason: reason.into(),
        });
    }

    /// The entries of a mapping whose keys are strings; reports anything else.
    fn mapping<'n, 'i>(
        &mut self,
        node: &'n MarkedYaml<'i>,
        what: &str,
    ) -> Vec<(&'n str, &'n MarkedYaml<'i>, &'n MarkedYaml<'i>)> {
        let YamlData::Mapping(map) = &node.data else {
            self.error(node, format!("{what} must be a mapping, found {}", kind(node)));
            return Vec::new();
        };
        let mut entries = Vec::new();
        for (key, value) in map {
            match key_name(key) {
                Some(name) => entries.push((name, key, value)),
                None => self.error(key, format!("keys of {what} must be strings")),
            }
        }
        entries
    }

    fn priority(&mut self, node: &MarkedYaml<'_>, what: &str) -> Option<Priority> {
        match &node.data {
            YamlData::Value(Scalar::Integer(n)) => match i32::try_from(*n) {
                Ok(n) => Some(Priority(n)),
                Err(_) => {
                    self.error(
                        node,
                        format!("{what} {n} is out of range ({}..={})", i32::MIN, i32::MAX),
                    );
                    None
                }
            },
            _ => {
                self.error(node, format!("{what} must be an integer, found {}", kind(node)));
                None
            }
        }
    }

    fn priorities(&mut self, node: &MarkedYaml<'_>) -> PriorityConfig {
        let mut config = PriorityConfig::default();
        for (name, key, value) in self.mapping(node, "`priorities`") {
            match name {
                "default" => {
                    let (priority, max) = self.pair(value, "`priorities.default`", &[]);
                    match (priority, max) {
                        (Some(p), Some(m)) if p > m => self.error(
                            value,
                            format!("default priority {p} is above the default max_priority {m}"),
                        ),
                        _ => {}
                    }
                    config.default_max_priority = max.or(priority).unwrap_or_default();
                    config.default_priority = priority.or(max).unwrap_or_default();
                }
                "threshold" => config.threshold = self.priority(value, "`threshold`"),
                "hooks" => config.hook_thresholds = self.hooks(value),
                "plugins" => config.plugins = self.plugins(value, &mut config.orders),
                other => self.error(
                    key,
                    format!("unknown key `{other}` in `priorities` (expected default, threshold, hooks, plugins)"),
                ),
            }
        }
        config
    }

    /// Reads `priority` and `max_priority` (and accepts the extra keys given).
    fn pair(
        &mut self,
        node: &MarkedYaml<'_>,
        what: &str,
        extra: &[&str],
    ) -> (Option<Priority>, Option<Priority>) {
        let (mut priority, mut max) = (None, None);
        for (name, key, value) in self.mapping(node, what) {
            match name {
                "priority" => priority = self.priority(value, "`priority`"),
                "max_priority" => max = self.priority(value, "`max_priority`"),
                other if extra.contains(&other) => {}
                other => self.error(
                    key,
                    format!("unknown key `{other}` in {what} (expected priority, max_priority)"),
                ),
            }
        }
        (priority, max)
    }

    fn hooks(&mut self, node: &MarkedYaml<'_>) -> Vec<(HookId, Priority)> {
        let mut thresholds = Vec::new();
        for (name, key, value) in self.mapping(node, "`priorities.hooks`") {
            let hook = match name.parse::<HookId>() {
                Ok(hook) => Some(hook),
                Err(e) => {
                    self.error(key, e.to_string());
                    None
                }
            };
            let what = format!("`priorities.hooks.{name}`");
            for (field, field_key, field_value) in self.mapping(value, &what) {
                match field {
                    "threshold" => {
                        if let (Some(hook), Some(t)) =
                            (hook, self.priority(field_value, "`threshold`"))
                        {
                            thresholds.push((hook, t));
                        }
                    }
                    other => {
                        self.error(
                            field_key,
                            format!("unknown key `{other}` in {what} (expected threshold)"),
                        );
                    }
                }
            }
        }
        thresholds
    }

    fn plugins(
        &mut self,
        node: &MarkedYaml<'_>,
        orders: &mut Vec<OrderSpec>,
    ) -> Vec<PluginPriorityConfig> {
        let YamlData::Sequence(items) = &node.data else {
            self.error(node, format!("`priorities.plugins` must be a list, found {}", kind(node)));
            return Vec::new();
        };
        let mut plugins: Vec<PluginPriorityConfig> = Vec::new();
        for item in items {
            let mut name = None;
            let mut has_orders = false;
            for (field, _key, value) in self.mapping(item, "a `priorities.plugins` entry") {
                has_orders |= ORDER_KEYS.contains(&field);
                if field == "name" {
                    match &value.data {
                        YamlData::Value(Scalar::String(s)) if !s.is_empty() => {
                            name = Some(s.to_string())
                        }
                        _ => self.error(
                            value,
                            format!("`name` must be a non-empty string, found {}", kind(value)),
                        ),
                    }
                }
            }
            let (priority, max) = self.pair(
                item,
                "a `priorities.plugins` entry",
                &["name", "before", "after", "hooks"],
            );
            let line = item.span.start.line();
            let Some(name) = name else {
                if matches!(item.data, YamlData::Mapping(_)) {
                    self.error(item, "a `priorities.plugins` entry needs a `name`");
                }
                continue;
            };
            if let Some(first) = plugins.iter().find(|p| p.name == name) {
                let first = first.line;
                self.error(
                    item,
                    format!("plugin `{name}` is listed twice (first on line {first})"),
                );
                continue;
            }
            self.orders(item, &Subject::Named(name.clone()), orders);
            let (priority, max) = match (priority, max) {
                (None, None) if has_orders => continue,
                (None, None) => {
                    self.error(
                        item,
                        format!(
                            "plugin `{name}` needs `priority`, `max_priority`, `before` or `after`"
                        ),
                    );
                    continue;
                }
                (p, m) => (p.or(m).unwrap_or_default(), m.or(p).unwrap_or_default()),
            };
            if priority > max {
                self.error(
                    item,
                    format!(
                        "priority {priority} of plugin `{name}` is above its max_priority {max}"
                    ),
                );
                continue;
            }
            plugins.push(PluginPriorityConfig { name, max_priority: max, priority, line });
        }
        plugins
    }

    /// The constraints of the top-level `plugins` entries (their other keys are the proxy's).
    fn global_orders(&mut self, node: &MarkedYaml<'_>) -> Vec<OrderSpec> {
        let mut orders = Vec::new();
        if let YamlData::Sequence(items) = &node.data {
            for (index, item) in items.iter().enumerate() {
                if matches!(item.data, YamlData::Mapping(_)) {
                    self.orders(item, &Subject::Global(index), &mut orders);
                }
            }
        }
        orders
    }

    /// Reads `before`, `after` and `hooks: {HOOK: {before, after}}` of one plugin's entry.
    fn orders(&mut self, entry: &MarkedYaml<'_>, subject: &Subject, out: &mut Vec<OrderSpec>) {
        let YamlData::Mapping(map) = &entry.data else { return };
        for (key, value) in map {
            match key_name(key) {
                Some("before") => self.names(value, subject, Relation::Before, None, out),
                Some("after") => self.names(value, subject, Relation::After, None, out),
                Some("hooks") => {
                    for (name, key, fields) in self.mapping(value, "a plugin's `hooks`") {
                        let hook = match name.parse::<HookId>() {
                            Ok(hook) => hook,
                            Err(e) => {
                                self.error(key, e.to_string());
                                continue;
                            }
                        };
                        let what = format!("`hooks.{name}`");
                        for (field, field_key, names) in self.mapping(fields, &what) {
                            let relation = match field {
                                "before" => Relation::Before,
                                "after" => Relation::After,
                                other => {
                                    self.error(
                                        field_key,
                                        format!("unknown key `{other}` in {what} (expected before, after)"),
                                    );
                                    continue;
                                }
                            };
                            self.names(names, subject, relation, Some(hook), out);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// A list of plugin names (a single name is accepted too).
    fn names(
        &mut self,
        node: &MarkedYaml<'_>,
        subject: &Subject,
        relation: Relation,
        hook: Option<HookId>,
        out: &mut Vec<OrderSpec>,
    ) {
        let items = match &node.data {
            YamlData::Sequence(items) => items.iter().collect(),
            _ => vec![node],
        };
        for item in items {
            match &item.data {
                YamlData::Value(Scalar::String(name)) if !name.is_empty() => out.push(OrderSpec {
                    subject: subject.clone(),
                    relation,
                    other: name.to_string(),
                    hook,
                    line: item.span.start.line(),
                }),
                _ => self.error(
                    item,
                    format!(
                        "a plugin name in `before`/`after` must be a string, found {}",
                        kind(item)
                    ),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests;
