//! Reading YAML with line numbers: `saphyr`'s marked nodes, every problem collected in one pass.
//!
//! serde stops at the first error and has no positions for semantic errors, so configuration
//! files are walked node by node (as `hookyard-hooks` reads `priorities`).

use std::path::Path;
use std::time::Duration;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::Problem;

/// Parses `text` into its first document (`None` for an empty file).
pub(crate) fn load<'i>(file: &Path, text: &'i str) -> Result<Option<MarkedYaml<'i>>, Problem> {
    let mut docs = MarkedYaml::load_from_str(text).map_err(|e| Problem {
        file: file.to_owned(),
        line: e.marker().line(),
        reason: format!("invalid YAML: {}", e.info()),
    })?;
    Ok(if docs.is_empty() { None } else { Some(docs.swap_remove(0)) })
}

/// What a node is, for messages.
pub(crate) fn kind(node: &MarkedYaml<'_>) -> &'static str {
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

/// Whether a node is YAML's null (`~`, `null` or nothing).
pub(crate) fn is_null(node: &MarkedYaml<'_>) -> bool {
    matches!(node.data, YamlData::Value(Scalar::Null))
}

/// Walks one file's nodes and collects its problems.
pub(crate) struct Reader<'f> {
    pub(crate) file: &'f Path,
    pub(crate) problems: Vec<Problem>,
}

impl<'f> Reader<'f> {
    pub(crate) fn new(file: &'f Path) -> Reader<'f> {
        Reader { file, problems: Vec::new() }
    }

    pub(crate) fn error(&mut self, node: &MarkedYaml<'_>, reason: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line: node.span.start.line(),
            reason: reason.into(),
        });
    }

    /// The entries of a mapping whose keys are strings; reports anything else.
    pub(crate) fn mapping<'n, 'i>(
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
            match &key.data {
                YamlData::Value(Scalar::String(name)) => entries.push((&**name, key, value)),
                _ => self.error(key, format!("keys of {what} must be strings")),
            }
        }
        entries
    }

    pub(crate) fn unknown(&mut self, key: &MarkedYaml<'_>, name: &str, what: &str, expected: &str) {
        self.error(key, format!("unknown key `{name}` in {what} (expected {expected})"));
    }

    pub(crate) fn string(&mut self, node: &MarkedYaml<'_>, what: &str) -> Option<String> {
        match &node.data {
            YamlData::Value(Scalar::String(s)) if !s.is_empty() => Some(s.to_string()),
            _ => {
                self.error(
                    node,
                    format!("{what} must be a non-empty string, found {}", kind(node)),
                );
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, node: &MarkedYaml<'_>, what: &str) -> Option<bool> {
        match &node.data {
            YamlData::Value(Scalar::Boolean(b)) => Some(*b),
            _ => {
                self.error(node, format!("{what} must be true or false, found {}", kind(node)));
                None
            }
        }
    }

    /// A positive integer no larger than `max`.
    pub(crate) fn count(&mut self, node: &MarkedYaml<'_>, what: &str, max: u64) -> Option<u64> {
        match &node.data {
            YamlData::Value(Scalar::Integer(n)) if *n > 0 && n.unsigned_abs() <= max => {
                Some(n.unsigned_abs())
            }
            _ => {
                self.error(node, format!("{what} must be an integer from 1 to {max}"));
                None
            }
        }
    }

    /// One string or a list of strings.
    pub(crate) fn strings(&mut self, node: &MarkedYaml<'_>, what: &str) -> Vec<String> {
        match &node.data {
            YamlData::Sequence(items) => items
                .iter()
                .filter_map(|item| self.string(item, &format!("an entry of {what}")))
                .collect(),
            _ => self.string(node, what).into_iter().collect(),
        }
    }

    /// A duration: an integer number of seconds or a string `250ms`, `10s`, `2m`, `1h`; at
    /// most [`MAX_DURATION`].
    pub(crate) fn duration(&mut self, node: &MarkedYaml<'_>, what: &str) -> Option<Duration> {
        let parsed = match &node.data {
            YamlData::Value(Scalar::Integer(n)) if *n > 0 => {
                Some(Duration::from_secs(n.unsigned_abs()))
            }
            YamlData::Value(Scalar::String(s)) => parse_duration(s),
            _ => None,
        };
        let parsed = parsed.filter(|d| *d <= MAX_DURATION);
        if parsed.is_none() {
            self.error(
                node,
                format!("{what} must be a positive duration such as 500ms, 10s, 2m or 1h (or a number of seconds), at most 8760h"),
            );
        }
        parsed
    }
}

/// The longest duration a setting takes: a year. Timeouts are added to the clock (`now + idle`
/// in the workers, `now + header_read` in hyper), and `Instant + Duration` panics on overflow:
/// `idle: 9223372036854775807` used to pass `check` and then panic every worker on its first
/// connection (found with the `settings_yaml` fuzz target's invariant).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses `250ms`, `10s`, `2m`, `1h` (a positive integer and a unit).
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(number)),
        "s" | "" => Some(Duration::from_secs(number)),
        "m" => number.checked_mul(60).map(Duration::from_secs),
        "h" => number.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("ten"), None);
        assert_eq!(parse_duration("5d"), None);
    }
}
