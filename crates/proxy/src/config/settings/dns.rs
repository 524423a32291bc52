//! `dns:` of `hookyard.yaml`: how origin host names are resolved.

use std::net::SocketAddr;
use std::time::Duration;

use saphyr::MarkedYaml;
use serde::Serialize;

use crate::config::yaml::Reader;

/// The resolver of origin host names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dns {
    /// The name servers asked, in order (`IP` or `IP:PORT`); empty: those of
    /// `/etc/resolv.conf`, and `/etc/hosts` first.
    pub nameservers: Vec<SocketAddr>,
    /// Answers kept at most (each for its TTL).
    pub cache_size: u64,
    /// How long an answer that a name does not exist is kept at least.
    pub negative_ttl: Duration,
    /// How long any answer is kept at most, whatever its TTL.
    pub max_ttl: Duration,
}

impl Default for Dns {
    fn default() -> Dns {
        Dns {
            nameservers: Vec::new(),
            cache_size: 1024,
            negative_ttl: Duration::from_secs(5),
            max_ttl: Duration::from_secs(3600),
        }
    }
}

pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, d: &mut Dns) {
    for (name, key, value) in r.mapping(value, "`dns`") {
        let what = format!("`dns.{name}`");
        match name {
            "nameservers" => {
                d.nameservers.clear();
                for text in r.strings(value, &what) {
                    let parsed = text
                        .parse::<SocketAddr>()
                        .or_else(|_| text.parse().map(|ip| SocketAddr::new(ip, 53)));
                    match parsed {
                        Ok(addr) => d.nameservers.push(addr),
                        Err(_) => r.error(
                            value,
                            format!("{what}: `{text}` is not an IP address or IP:PORT"),
                        ),
                    }
                }
            }
            "cache_size" => d.cache_size = r.count(value, &what, 1 << 20).unwrap_or(d.cache_size),
            "negative_ttl" => d.negative_ttl = r.duration(value, &what).unwrap_or(d.negative_ttl),
            "max_ttl" => d.max_ttl = r.duration(value, &what).unwrap_or(d.max_ttl),
            other => {
                r.unknown(key, other, "`dns`", "nameservers, cache_size, negative_ttl, max_ttl")
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
    fn dns_settings_parse_with_defaults_and_errors() {
        let (file, dir) = (Path::new("hookyard.yaml"), Path::new("/etc/hookyard"));
        let s = Settings::parse(file, dir, "dns: {nameservers: [10.0.0.53, '127.0.0.1:5353']}\n")
            .unwrap();
        let expected: Vec<SocketAddr> =
            vec!["10.0.0.53:53".parse().unwrap(), "127.0.0.1:5353".parse().unwrap()];
        assert_eq!(s.dns.nameservers, expected);
        assert_eq!(s.dns.cache_size, 1024);
        let errors: Vec<String> =
            Settings::parse(file, dir, "dns:\n  nameservers: [resolver]\n  ttl: 1s\n")
                .unwrap_err()
                .iter()
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            errors,
            [
                "hookyard.yaml:2: `dns.nameservers`: `resolver` is not an IP address or IP:PORT",
                "hookyard.yaml:3: unknown key `ttl` in `dns` (expected nameservers, cache_size, negative_ttl, max_ttl)",
            ]
        );
    }
}
