//! The remap.config parser: every error with `file:line: reason`, in one pass.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;

use crate::Rules;
use crate::acl::{Filter, IpEntry};
use crate::lex::{self, Token};
use crate::rule::{HostRegex, PluginSpec, Rule, RuleKind};
use crate::source::read_config;
use crate::table::Inserted;
use crate::url::RuleUrl;

/// One problem (or warning) in a remap configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based; 0 when the problem is the file itself).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
        }
    }
}

/// Every problem found in a remap configuration; nothing of it was kept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

/// The most `.include` levels followed (a cycle is reported before this).
const MAX_INCLUDE_DEPTH: usize = 16;

/// The most `$N` markers in a `regex_` rule's TO host (ATS's limit).
const MAX_SUBSTITUTIONS: usize = 10;

pub(crate) struct Parser {
    rules: Rules,
    errors: Vec<LoadError>,
    filters: HashMap<String, Filter>,
    active: Vec<String>,
    /// Files being read, outermost first (for cycle detection).
    stack: Vec<PathBuf>,
    /// Where relative `.include` paths start.
    config_dir: PathBuf,
}

impl Parser {
    pub(crate) fn new(config_dir: &Path) -> Parser {
        Parser {
            rules: Rules::default(),
            errors: Vec::new(),
            filters: HashMap::new(),
            active: Vec::new(),
            stack: Vec::new(),
            config_dir: config_dir.to_owned(),
        }
    }

    pub(crate) fn finish(self) -> Result<Rules, LoadErrors> {
        if self.errors.is_empty() { Ok(self.rules) } else { Err(LoadErrors(self.errors)) }
    }

    fn error(&mut self, file: &Path, line: usize, reason: impl Into<String>) {
        self.errors.push(LoadError { file: file.to_owned(), line, reason: reason.into() });
    }

    fn warn(&mut self, file: &Path, line: usize, reason: impl Into<String>) {
        let warning = LoadError { file: file.to_owned(), line, reason: reason.into() };
        tracing::warn!(%warning, "remap.config");
        self.rules.warnings.push(warning);
    }

    /// Reads a top-level file; a missing one is an empty configuration (as ATS).
    pub(crate) fn file(&mut self, path: &Path) {
        match read_config(path) {
            Ok(text) => self.text(path, &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => self.error(path, 0, format!("cannot read: {e}")),
        }
    }

    pub(crate) fn text(&mut self, file: &Path, text: &str) {
        self.stack.push(file.to_owned());
        let file: Arc<Path> = Arc::from(file);
        for line in lex::lines(text) {
            let Some(Token::Param(first)) = line.tokens.first() else {
                self.error(
                    &file,
                    line.number,
                    "malformed line: a line starts with a rule type or a directive",
                );
                continue;
            };
            if first.starts_with('.') {
                let first = first.clone();
                self.directive(&file, line.number, &first, &line.tokens[1..]);
            } else {
                self.rule(&file, line.number, &line.tokens);
            }
        }
        self.stack.pop();
    }

    fn directive(&mut self, file: &Path, line: usize, name: &str, rest: &[Token]) {
        let params: Vec<&str> = rest.iter().filter_map(param).collect();
        let options: Vec<&str> = rest.iter().filter_map(option).collect();
        match name {
            ".include" => {
                if params.is_empty() {
                    return self.error(
                        file,
                        line,
                        "directive \".include\" must have a path argument",
                    );
                }
                for include in params {
                    self.include(file, line, include);
                }
            }
            ".definefilter" | ".deffilter" | ".defflt" => {
                let Some(filter_name) = params.first() else {
                    return self.error(
                        file,
                        line,
                        format!("directive \"{name}\" must have name argument"),
                    );
                };
                if options.is_empty() {
                    return self.error(
                        file,
                        line,
                        format!("directive \"{name}\" must have filter parameter(s)"),
                    );
                }
                let mut filter = self.filters.remove(*filter_name).unwrap_or_else(|| Filter {
                    name: Some((*filter_name).to_owned()),
                    allow: true,
                    ..Filter::default()
                });
                let mut action_seen = false;
                for opt in &options {
                    match filter_option(&mut filter, opt, &mut action_seen) {
                        Ok(true) => {}
                        Ok(false) => self.error(file, line, format!("Unknown option - \"@{opt}\"")),
                        Err(reason) => self.error(file, line, reason),
                    }
                }
                self.filters.insert((*filter_name).to_owned(), filter);
            }
            ".deletefilter" | ".delfilter" | ".delflt" => match params.first() {
                Some(filter_name) => {
                    self.filters.remove(*filter_name);
                    self.active.retain(|a| a != filter_name);
                }
                None => {
                    self.error(file, line, format!("directive \"{name}\" must have name argument"))
                }
            },
            ".usefilter" | ".activefilter" | ".activatefilter" | ".useflt" => {
                match params.first() {
                    Some(&"ip_allow") => {
                        self.warn(file, line, "ip_allow.yaml is not consulted by hookyard; the directive has no effect");
                    }
                    Some(filter_name) if self.filters.contains_key(*filter_name) => {
                        if !self.active.iter().any(|a| a == filter_name) {
                            self.active.push((*filter_name).to_owned());
                        }
                    }
                    Some(filter_name) => {
                        self.error(
                            file,
                            line,
                            format!("Undefined filter \"{filter_name}\" in directive \"{name}\""),
                        );
                    }
                    None => self.error(
                        file,
                        line,
                        format!("directive \"{name}\" must have name argument"),
                    ),
                }
            }
            ".unusefilter" | ".deactivatefilter" | ".unactivefilter" | ".deuseflt"
            | ".unuseflt" => match params.first() {
                Some(&"ip_allow") => {}
                Some(filter_name) if self.filters.contains_key(*filter_name) => {
                    self.active.retain(|a| a != filter_name);
                }
                Some(filter_name) => {
                    self.error(
                        file,
                        line,
                        format!("Undefined filter \"{filter_name}\" in directive \"{name}\""),
                    );
                }
                None => {
                    self.error(file, line, format!("directive \"{name}\" must have name argument"))
                }
            },
            _ => self.error(file, line, format!("Unknown directive \"{name}\"")),
        }
    }

    fn include(&mut self, file: &Path, line: usize, include: &str) {
        let path = if Path::new(include).is_absolute() {
            PathBuf::from(include)
        } else {
            self.config_dir.join(include)
        };
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return self.error(
                file,
                line,
                format!("\"{include}\" is included {MAX_INCLUDE_DEPTH} levels deep"),
            );
        }
        let canonical = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.stack.iter().any(|f| fs::canonicalize(f).is_ok_and(|f| f == canonical)) {
            return self.error(file, line, format!("\"{include}\" includes itself"));
        }
        let files = if path.is_dir() {
            match fs::read_dir(&path) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .flatten()
                        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                        .map(|e| e.path())
                        .collect();
                    files.sort();
                    files
                }
                Err(e) => {
                    return self.error(
                        file,
                        line,
                        format!("failed to parse included directory {include}: {e}"),
                    );
                }
            }
        } else {
            vec![path]
        };
        for included in files {
            match read_config(&included) {
                Ok(text) => self.text(&included, &text),
                Err(e) => {
                    self.error(
                        file,
                        line,
                        format!("failed to parse included file {}: {e}", included.display()),
                    );
                }
            }
        }
    }

    fn rule(&mut self, file: &Arc<Path>, line: usize, tokens: &[Token]) {
        let params: Vec<&str> = tokens.iter().filter_map(param).collect();
        if params.len() < 3 {
            return self.error(
                file,
                line,
                "malformed line: a rule needs a type, a from URL and a to URL",
            );
        }
        let (regex, base) = match params[0].get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("regex_") => (true, &params[0][6..]),
            _ => (false, params[0]),
        };
        let Some(mut kind) = RuleKind::parse(base) else {
            return self.error(file, line, format!("unknown mapping type `{}`", params[0]));
        };
        let errors_before = self.errors.len();
        let mut inline = Filter { allow: true, ..Filter::default() };
        let (mut has_inline, mut action_seen) = (false, false);
        let mut plugins: Vec<PluginSpec> = Vec::new();
        let mut early_params: Vec<String> = Vec::new();
        let mut map_id = None;
        let mut origin_tls_verify = None;
        let mut strategy: Option<String> = None;
        for opt in tokens.iter().filter_map(option) {
            let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
            match key.to_ascii_lowercase().as_str() {
                "plugin" => {
                    if value.is_empty() {
                        self.error(file, line, "Can't find remap plugin file name in \"@plugin=\"");
                    } else {
                        let mut params = std::mem::take(&mut early_params);
                        params.retain(|p| !p.is_empty());
                        plugins.push(PluginSpec { path: value.to_owned(), params });
                    }
                }
                "pparam" if value.is_empty() => {}
                "pparam" => match plugins.last_mut() {
                    Some(plugin) => plugin.params.push(value.to_owned()),
                    None => early_params.push(value.to_owned()),
                },
                "mapid" => match value.parse::<i64>() {
                    Ok(id) => map_id = Some(id),
                    Err(_) => {
                        self.error(file, line, format!("@mapid= needs a number, not `{value}`"))
                    }
                },
                "origin_tls_verify" => match origin_tls_verify_value(value) {
                    Some(verify) => origin_tls_verify = Some(verify),
                    None => self.error(
                        file,
                        line,
                        format!("@origin_tls_verify= must be `on` or `off`, not `{value}`"),
                    ),
                },
                "map_with_referer" => kind = RuleKind::MapWithReferer,
                "volume" => match check_volume(value) {
                    Ok(()) => self.warn(
                        file,
                        line,
                        "@volume= selects cache volumes; hookyard has no cache, so it is ignored",
                    ),
                    Err(reason) => self.error(file, line, reason),
                },
                "strategy" if value.is_empty() => {
                    self.error(file, line, "@strategy= needs the name of a strategy");
                }
                "strategy" => match &strategy {
                    Some(first) => self.error(
                        file,
                        line,
                        format!("a second @strategy= (`{value}`): the rule already uses `{first}`"),
                    ),
                    None => strategy = Some(value.to_owned()),
                },
                _ => match filter_option(&mut inline, opt, &mut action_seen) {
                    Ok(true) => has_inline = true,
                    Ok(false) => self.error(file, line, format!("unknown remap option \"@{opt}\"")),
                    Err(reason) => self.error(file, line, reason),
                },
            }
        }
        if strategy.is_some() && !kind.is_forward() {
            self.error(
                file,
                line,
                format!("@strategy= is only for map rules, not {}", kind.name()),
            );
        }
        if !early_params.is_empty() && plugins.is_empty() {
            self.error(file, line, "@pparam= without a @plugin= on the line");
        }
        if !plugins.is_empty() && !kind.is_forward() {
            self.warn(
                file,
                line,
                format!("@plugin= is ignored on {} rules (as in ATS)", kind.name()),
            );
            plugins.clear();
        }
        let from = match RuleUrl::parse_from(params[1]) {
            Ok(from) => from,
            Err(reason) => return self.error(file, line, reason),
        };
        let to = match RuleUrl::parse_to(params[2]) {
            Ok(to) => to,
            Err(reason) => return self.error(file, line, reason),
        };
        if let Err(reason) = check_schemes(kind, &from, &to) {
            return self.error(file, line, reason);
        }
        let host_regex = if regex {
            match compile_host(&from.host, &to.host) {
                Ok(host_regex) => Some(host_regex),
                Err(reason) => return self.error(file, line, reason),
            }
        } else {
            None
        };
        if self.errors.len() > errors_before {
            return;
        }
        let mut filters: Vec<Arc<Filter>> = Vec::new();
        if has_inline {
            filters.push(Arc::new(inline));
        }
        for name in &self.active {
            if let Some(filter) = self.filters.get(name) {
                filters.push(Arc::new(filter.clone()));
            }
        }
        let store = self.rules.store_mut(kind);
        let rank = store.len();
        let rule = Rule {
            kind,
            regex,
            from,
            to,
            filters,
            plugins,
            map_id,
            origin_tls_verify,
            strategy,
            file: Arc::clone(file),
            line,
            rank,
            index: self.rules.rules.len(),
            host_regex,
        };
        let index = rule.index;
        match self.rules.store_mut(kind).insert(index, &rule) {
            Ok(Inserted::Ok) => self.rules.rules.push(rule),
            Ok(Inserted::Shadowed(earlier)) => {
                let earlier = &self.rules.rules[earlier];
                let message = format!(
                    "{} (line {}) shadows this rule: it matches every request this one would",
                    earlier, earlier.line
                );
                self.rules.rules.push(rule);
                self.warn(file, line, message);
            }
            Err(earlier) => {
                let earlier_line = self.rules.rules[earlier].line;
                self.error(
                    file,
                    line,
                    format!("unable to add mapping rule to lookup table: the same rule is on line {earlier_line}"),
                );
            }
        }
    }
}

/// The value of `@origin_tls_verify=`: `on` or `off`, or ATS's names for the policy
/// (`proxy.config.ssl.client.verify.server.policy`): `ENFORCED` or `DISABLED`, in any case.
fn origin_tls_verify_value(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "enforced" => Some(true),
        "off" | "disabled" => Some(false),
        _ => None,
    }
}

fn param(token: &Token) -> Option<&str> {
    match token {
        Token::Param(p) => Some(p),
        Token::Opt(_) => None,
    }
}

fn option(token: &Token) -> Option<&str> {
    match token {
        Token::Opt(o) => Some(o),
        Token::Param(_) => None,
    }
}

/// Applies one filter option; `Ok(false)` when it is not a filter option.
fn filter_option(filter: &mut Filter, opt: &str, action_seen: &mut bool) -> Result<bool, String> {
    let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
    let key = key.to_ascii_lowercase();
    if key.starts_with("internal") {
        filter.internal = true;
        return Ok(true);
    }
    match key.as_str() {
        "action" => {
            if *action_seen {
                return Err("Only one @action= is allowed per remap ACL".into());
            }
            *action_seen = true;
            filter.action_set = true;
            filter.allow = match value.to_ascii_lowercase().as_str() {
                "allow" | "add_allow" | "set_allow" | "on" | "enable" | "1" => true,
                "deny" | "add_deny" | "set_deny" | "off" | "disable" | "0" => false,
                _ => {
                    return Err(format!(
                        "invalid @action= value `{value}` (expected allow or deny)"
                    ));
                }
            };
        }
        "method" if value.is_empty() => return Err("@method= needs a method".into()),
        "method" => filter.methods.push(value.to_ascii_uppercase()),
        "src_ip" => filter.src_ip.push(IpEntry::parse(value)?),
        "in_ip" => filter.in_ip.push(IpEntry::parse(value)?),
        "src_ip_category" => {
            return Err("@src_ip_category= is not supported: hookyard has no IP categories".into());
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn check_volume(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("Empty @volume= directive".into());
    }
    if value.ends_with(',') {
        return Err(format!("Invalid @volume= directive '{value}' (trailing comma)"));
    }
    for part in value.split(',') {
        let n: u32 = part.parse().map_err(|_| {
            format!("Invalid @volume= directive '{value}' (expected comma-separated numbers 1-255)")
        })?;
        if !(1..=255).contains(&n) {
            return Err(format!("Volume number {n} out of range (1-255)"));
        }
    }
    Ok(())
}

fn check_schemes(kind: RuleKind, from: &RuleUrl, to: &RuleUrl) -> Result<(), String> {
    const FROM: [&str; 8] =
        ["http", "https", "file", "tunnel", "ws", "wss", "http+unix", "https+unix"];
    const TO: [&str; 5] = ["http", "https", "tunnel", "ws", "wss"];
    if !FROM.contains(&from.scheme.as_str()) || !TO.contains(&to.scheme.as_str()) {
        return Err(
            "only http, https, http+unix, https+unix, ws, wss, and tunnel remappings are supported"
                .into(),
        );
    }
    if matches!(from.scheme.as_str(), "ws" | "wss") && !matches!(to.scheme.as_str(), "ws" | "wss") {
        return Err("WS or WSS can only be mapped out to WS or WSS.".into());
    }
    if from.host.is_empty() && !kind.is_forward() {
        return Err("remap source in reverse mappings requires a hostname".into());
    }
    Ok(())
}

/// Compiles a `regex_` FROM host (anchored at both ends) and checks the TO host's `$N` markers.
fn compile_host(host: &str, to_host: &str) -> Result<HostRegex, String> {
    let regex = Regex::new(&format!("^(?:{host})$")).map_err(|e| {
        // The regex crate's message spans lines (pattern, caret, reason): keep the reason.
        let message = e.to_string();
        let reason =
            message.lines().last().unwrap_or_default().trim_start_matches("error: ").to_owned();
        format!("invalid host regex `{host}`: {reason}")
    })?;
    let captures = regex.captures_len() - 1;
    if captures > MAX_SUBSTITUTIONS - 1 {
        return Err(format!("host regex `{host}` has {captures} groups; at most 9 are allowed"));
    }
    let markers: Vec<usize> = substitution_markers(to_host).collect();
    if markers.len() > MAX_SUBSTITUTIONS {
        return Err(format!(
            "the To host `{to_host}` has {} substitutions; at most 10 are allowed",
            markers.len()
        ));
    }
    if let Some(bad) = markers.iter().find(|&&n| n > captures) {
        return Err(format!(
            "the To host `{to_host}` uses ${bad} but the host regex has {captures} groups"
        ));
    }
    Ok(HostRegex { regex })
}

/// The group numbers of the `$0`..`$9` markers in a TO host.
pub(crate) fn substitution_markers(to_host: &str) -> impl Iterator<Item = usize> + '_ {
    to_host
        .as_bytes()
        .windows(2)
        .filter(|w| w[0] == b'$' && w[1].is_ascii_digit())
        .map(|w| usize::from(w[1] - b'0'))
}
