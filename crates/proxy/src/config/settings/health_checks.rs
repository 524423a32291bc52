//! `health_checks:` of `hookyard.yaml`: how the hosts of strategies are checked and marked.

use std::time::Duration;

use saphyr::MarkedYaml;
use serde::Serialize;

use crate::config::yaml::Reader;

/// How hosts of `strategies.yaml` are checked: actively (an HTTP GET of their
/// `health_check_url`) and passively (by the transactions sent to them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthChecks {
    /// Time between two active checks of a host.
    pub interval: Duration,
    /// How long an active check may take; a slower one failed.
    pub timeout: Duration,
    /// Failures in a row that mark a host down: active checks, or transactions (connect
    /// errors, timeouts, 5xx answers) for passive checks.
    pub fall: u32,
    /// Passed active checks in a row that bring a host marked down by them back.
    pub rise: u32,
    /// How long passive marking keeps a host down before a transaction tries it again (ATS's
    /// `proxy.config.http.parent_proxy.retry_time`).
    pub retry: Duration,
}

impl Default for HealthChecks {
    fn default() -> HealthChecks {
        HealthChecks {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            fall: 3,
            rise: 2,
            retry: Duration::from_secs(10),
        }
    }
}

pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, h: &mut HealthChecks) {
    for (name, key, value) in r.mapping(value, "`health_checks`") {
        let what = format!("`health_checks.{name}`");
        match name {
            "interval" => h.interval = r.duration(value, &what).unwrap_or(h.interval),
            "timeout" => h.timeout = r.duration(value, &what).unwrap_or(h.timeout),
            "retry" => h.retry = r.duration(value, &what).unwrap_or(h.retry),
            "fall" | "rise" => {
                let n = r.count(value, &what, 100).and_then(|n| u32::try_from(n).ok());
                let field = if name == "fall" { &mut h.fall } else { &mut h.rise };
                *field = n.unwrap_or(*field);
            }
            other => {
                r.unknown(key, other, "`health_checks`", "interval, timeout, fall, rise, retry");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Settings;

    #[test]
    fn health_checks_parse_with_defaults_and_errors() {
        let dir = Path::new("/etc/hookyard");
        let file = Path::new("hookyard.yaml");
        let s = Settings::parse(file, dir, "health_checks: {interval: 250ms, fall: 2}\n").unwrap();
        assert_eq!(s.health_checks.interval, Duration::from_millis(250));
        assert_eq!(s.health_checks.fall, 2);
        assert_eq!(s.health_checks.rise, 2);
        let errors = Settings::parse(file, dir, "health_checks:\n  rise: 0\n  every: 1s\n")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>();
        assert_eq!(
            errors,
            [
                "hookyard.yaml:2: `health_checks.rise` must be an integer from 1 to 100",
                "hookyard.yaml:3: unknown key `every` in `health_checks` (expected interval, timeout, fall, rise, retry)",
            ]
        );
    }
}
