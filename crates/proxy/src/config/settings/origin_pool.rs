//! `origin_pool:` of `hookyard.yaml`: each worker's connections per origin host.

use std::time::Duration;

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::Serialize;

use crate::config::yaml::Reader;

/// Each worker's connections to one origin host (`host:port`, a strategy's host included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OriginPool {
    /// How long a connection stays idle in the pool before it is closed.
    pub idle_timeout: Duration,
    /// Idle connections kept per host; more are closed when their response ends.
    pub max_idle: usize,
    /// Connections open at once per host (0: no limit). Past it a request goes to another
    /// host of its strategy, else it is answered 502.
    pub max_connections: usize,
    /// Requests sent on one connection before it is closed (0: no limit).
    pub max_requests: u64,
}

impl Default for OriginPool {
    fn default() -> OriginPool {
        OriginPool {
            idle_timeout: Duration::from_secs(90),
            max_idle: 1024,
            max_connections: 0,
            max_requests: 0,
        }
    }
}

pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, p: &mut OriginPool) {
    for (name, key, value) in r.mapping(value, "`origin_pool`") {
        let what = format!("`origin_pool.{name}`");
        let number = |r: &mut Reader<'_>, max: u64| match &value.data {
            YamlData::Value(Scalar::Integer(n))
                if (0..=max).contains(&n.unsigned_abs()) && *n >= 0 =>
            {
                Some(n.unsigned_abs())
            }
            _ => {
                r.error(value, format!("{what} must be an integer from 0 to {max}"));
                None
            }
        };
        match name {
            "idle_timeout" => p.idle_timeout = r.duration(value, &what).unwrap_or(p.idle_timeout),
            "max_idle" => {
                let n = number(r, 1 << 20).and_then(|n| usize::try_from(n).ok());
                p.max_idle = n.unwrap_or(p.max_idle);
            }
            "max_connections" => {
                let n = number(r, 1 << 20).and_then(|n| usize::try_from(n).ok());
                p.max_connections = n.unwrap_or(p.max_connections);
            }
            "max_requests" => p.max_requests = number(r, 1 << 40).unwrap_or(p.max_requests),
            other => r.unknown(
                key,
                other,
                "`origin_pool`",
                "idle_timeout, max_idle, max_connections, max_requests",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Settings;

    #[test]
    fn origin_pool_settings_parse_with_defaults_and_errors() {
        let (file, dir) = (Path::new("hookyard.yaml"), Path::new("/etc/hookyard"));
        let s =
            Settings::parse(file, dir, "origin_pool: {max_connections: 8, max_requests: 100}\n")
                .unwrap();
        assert_eq!((s.origin_pool.max_connections, s.origin_pool.max_requests), (8, 100));
        assert_eq!(s.origin_pool.idle_timeout, Duration::from_secs(90));
        let errors: Vec<String> =
            Settings::parse(file, dir, "origin_pool:\n  max_idle: -1\n  size: 3\n")
                .unwrap_err()
                .iter()
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            errors,
            [
                "hookyard.yaml:2: `origin_pool.max_idle` must be an integer from 0 to 1048576",
                "hookyard.yaml:3: unknown key `size` in `origin_pool` (expected idle_timeout, max_idle, max_connections, max_requests)",
            ]
        );
    }
}
