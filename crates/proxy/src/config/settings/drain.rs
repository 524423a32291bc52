//! `drain:` of `hookyard.yaml`: how a draining proxy (`hookyard ctl drain`, SIGTERM, SIGINT, or
//! the old process of an upgrade) winds down.

use std::time::Duration;

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::Serialize;

use crate::config::yaml::Reader;

/// How a drain proceeds: the health route answers 503 at once, the listeners accept for
/// `grace`, then close; transactions still running finish until `deadline` (counted from the
/// start of the drain), and the process exits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Drain {
    /// How long the listeners keep accepting after the drain starts (0: they close at once),
    /// so that load balancers see the health route fail and move traffic away first.
    pub grace: Duration,
    /// The longest a drain takes, from its start: transactions still running then are cut.
    pub deadline: Duration,
}

impl Default for Drain {
    fn default() -> Drain {
        Drain { grace: Duration::from_secs(5), deadline: Duration::from_secs(30) }
    }
}

const KEYS: &str = "grace, deadline";

/// `drain:` of `hookyard.yaml`, into `d`.
pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, d: &mut Drain) {
    let mut deadline_node = None;
    for (name, key, value) in r.mapping(value, "`drain`") {
        let what = format!("`drain.{name}`");
        match name {
            "grace" => {
                if let Some(grace) =
                    if is_zero(value) { Some(Duration::ZERO) } else { r.duration(value, &what) }
                {
                    d.grace = grace;
                }
            }
            "deadline" => {
                if let Some(deadline) = r.duration(value, &what) {
                    d.deadline = deadline;
                    deadline_node = Some(value);
                }
            }
            other => r.unknown(key, other, "`drain`", KEYS),
        }
    }
    if d.deadline < d.grace {
        let message = format!(
            "`drain.deadline` ({:?}) must not be shorter than `drain.grace` ({:?}): the deadline \
             counts from the start of the drain",
            d.deadline, d.grace
        );
        match deadline_node {
            Some(node) => r.error(node, message),
            None => r.error(value, message),
        }
    }
}

/// `0`, `0s` or `0ms`: no grace at all.
fn is_zero(value: &MarkedYaml<'_>) -> bool {
    match &value.data {
        YamlData::Value(Scalar::Integer(0)) => true,
        YamlData::Value(Scalar::String(s)) => matches!(s.trim(), "0" | "0s" | "0ms"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Settings;

    fn parse(text: &str) -> Result<Drain, Vec<String>> {
        Settings::parse(Path::new("/c/hookyard.yaml"), Path::new("/c"), text)
            .map(|s| s.drain)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(parse("").unwrap(), Drain::default());
        let d = parse("drain: {grace: 2s, deadline: 1m}\n").unwrap();
        assert_eq!((d.grace, d.deadline), (Duration::from_secs(2), Duration::from_secs(60)));
        let d = parse("drain:\n  grace: 0\n  deadline: 250ms\n").unwrap();
        assert_eq!((d.grace, d.deadline), (Duration::ZERO, Duration::from_millis(250)));
        assert_eq!(parse("drain: {grace: 0s}\n").unwrap().grace, Duration::ZERO);
    }

    #[test]
    fn every_problem_with_its_line() {
        let errors = parse("drain:\n  grace: soon\n  deadline: 0\n  linger: 1s\n").unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/hookyard.yaml:2: `drain.grace` must be a positive duration such as 500ms, 10s, 2m or 1h (or a number of seconds), at most 8760h",
                "/c/hookyard.yaml:3: `drain.deadline` must be a positive duration such as 500ms, 10s, 2m or 1h (or a number of seconds), at most 8760h",
                "/c/hookyard.yaml:4: unknown key `linger` in `drain` (expected grace, deadline)",
            ]
        );
        assert_eq!(
            parse("drain:\n  grace: 10s\n  deadline: 5s\n").unwrap_err(),
            [
                "/c/hookyard.yaml:3: `drain.deadline` (5s) must not be shorter than `drain.grace` (10s): the deadline counts from the start of the drain"
            ]
        );
        assert_eq!(
            parse("drain:\n  grace: 1m\n").unwrap_err(),
            [
                "/c/hookyard.yaml:2: `drain.deadline` (30s) must not be shorter than `drain.grace` (60s): the deadline counts from the start of the drain"
            ]
        );
    }
}
