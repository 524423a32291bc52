//! `access_log:` of `hookyard.yaml`: where the access log goes, in which format, for which
//! listeners, and when it rotates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::Serialize;

use super::yaml::{Reader, is_null};
use crate::access_log::Format;

/// The access log's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessLogSettings {
    /// The file (relative paths: from the configuration directory).
    pub path: PathBuf,
    /// How lines are written.
    pub format: Format,
    /// The listen addresses whose transactions are logged; `None`: every listener.
    pub listeners: Option<Vec<SocketAddr>>,
    /// Rotate before a line would make the file larger than this many bytes.
    pub rotate_size: Option<u64>,
    /// Rotate a file this long after it was opened.
    pub rotate_interval: Option<Duration>,
    /// How many lines may wait for the writer; more are dropped (read at start only).
    pub queue: usize,
}

/// Serializes `access_log` for `ctl config` (serde has no `Arc` without its `rc` feature).
pub(super) fn serialize<S: serde::Serializer>(
    value: &Option<Arc<AccessLogSettings>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    value.as_deref().serialize(s)
}

const KEYS: &str = "path, format, format_string, listeners, rotate_size, rotate_interval, queue";

/// `access_log:` (`~` turns it off).
pub(super) fn parse(
    r: &mut Reader<'_>,
    dir: &Path,
    value: &MarkedYaml<'_>,
) -> Option<Arc<AccessLogSettings>> {
    if is_null(value) {
        return None;
    }
    let mut path = None;
    let mut format = None;
    let mut format_string: Option<(Format, &MarkedYaml<'_>)> = None;
    let mut settings = AccessLogSettings {
        path: PathBuf::new(),
        format: Format::builtin("squid")?,
        listeners: None,
        rotate_size: None,
        rotate_interval: None,
        queue: crate::access_log::DEFAULT_QUEUE,
    };
    for (name, key, value) in r.mapping(value, "`access_log`") {
        match name {
            "path" => path = r.string(value, "`access_log.path`").map(|p| (dir.join(p), value)),
            "format" => {
                if let Some(name) = r.string(value, "`access_log.format`") {
                    match Format::builtin(&name) {
                        Some(f) => format = Some(f),
                        None => r.error(
                            value,
                            format!(
                                "`access_log.format`: `{name}` is not squid, common, extended, \
                                 extended2, combined or json"
                            ),
                        ),
                    }
                }
            }
            "format_string" => {
                if let Some(text) = r.string(value, "`access_log.format_string`") {
                    match Format::parse(&text) {
                        Ok(f) => format_string = Some((f, value)),
                        Err(e) => r.error(value, format!("`access_log.format_string`: {e}")),
                    }
                }
            }
            "listeners" => {
                let mut addrs = Vec::new();
                for text in r.strings(value, "`access_log.listeners`") {
                    match text.parse::<SocketAddr>() {
                        Ok(addr) => addrs.push(addr),
                        Err(_) => r.error(
                            value,
                            format!("`access_log.listeners`: `{text}` is not an IP:PORT address"),
                        ),
                    }
                }
                settings.listeners = Some(addrs);
            }
            "rotate_size" => settings.rotate_size = size(r, value),
            "rotate_interval" => {
                settings.rotate_interval = r.duration(value, "`access_log.rotate_interval`")
            }
            "queue" => {
                if let Some(n) = r.count(value, "`access_log.queue`", 1 << 24) {
                    settings.queue = n as usize;
                }
            }
            other => r.unknown(key, other, "`access_log`", KEYS),
        }
    }
    match (format, format_string) {
        (Some(_), Some((_, node))) => {
            r.error(node, "`access_log`: give `format` or `format_string`, not both")
        }
        (Some(f), None) | (None, Some((f, _))) => settings.format = f,
        (None, None) => {}
    }
    let Some((path, node)) = path else {
        r.error(value, "`access_log` needs a `path`");
        return None;
    };
    // A missing directory is made when the file is opened; one that cannot be is refused here.
    let existing = path.ancestors().skip(1).find(|a| a.exists());
    if let Some(file) = existing.filter(|a| !a.is_dir()) {
        r.error(node, format!("`access_log.path`: {} is not a directory", file.display()));
    } else if path.is_dir() {
        r.error(node, format!("`access_log.path`: {} is a directory", path.display()));
    }
    settings.path = path;
    Some(Arc::new(settings))
}

/// A size: bytes, or a number with `K`, `M` or `G` (powers of 1024).
fn size(r: &mut Reader<'_>, value: &MarkedYaml<'_>) -> Option<u64> {
    let parsed = match &value.data {
        YamlData::Value(Scalar::Integer(n)) if *n > 0 => Some(n.unsigned_abs()),
        YamlData::Value(Scalar::String(s)) => {
            let s = s.trim();
            let (number, unit) =
                s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let shift = match unit.trim() {
                "" => Some(0),
                "K" | "KB" | "KiB" => Some(10),
                "M" | "MB" | "MiB" => Some(20),
                "G" | "GB" | "GiB" => Some(30),
                _ => None,
            };
            number
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .zip(shift)
                .and_then(|(n, shift)| n.checked_mul(1 << shift))
        }
        _ => None,
    };
    if parsed.is_none() {
        r.error(
            value,
            "`access_log.rotate_size` must be a positive size such as 1048576, 512K, 100M or 1G",
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use std::path::Path;

    fn parse(text: &str) -> Result<Settings, Vec<String>> {
        Settings::parse(Path::new("/tmp/hookyard.yaml"), Path::new("/tmp"), text)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults_and_values() {
        assert!(parse("").unwrap().access_log.is_none());
        let s = parse("access_log: {path: logs/new/a.log}\n").unwrap().access_log.unwrap();
        assert_eq!(s.path, Path::new("/tmp/logs/new/a.log"), "made when opened");
        assert_eq!(
            parse("access_log: {path: /tmp}\n").unwrap_err(),
            ["/tmp/hookyard.yaml:1: `access_log.path`: /tmp is a directory"]
        );
        assert!(parse("access_log: ~\n").unwrap().access_log.is_none());
        let s = parse("access_log: {path: access.log}\n").unwrap().access_log.unwrap();
        assert_eq!(s.path, Path::new("/tmp/access.log"));
        assert_eq!(s.format.name, "squid");
        assert!(s.listeners.is_none() && s.rotate_size.is_none() && s.rotate_interval.is_none());
        let s = parse(
            "access_log:\n  path: /tmp/a.log\n  format: json\n  listeners: [127.0.0.1:80]\n  \
             rotate_size: 10M\n  rotate_interval: 1h\n  queue: 2\n",
        )
        .unwrap()
        .access_log
        .unwrap();
        assert_eq!(s.format.name, "json");
        assert_eq!(s.listeners.as_deref(), Some(&["127.0.0.1:80".parse().unwrap()][..]));
        assert_eq!(s.rotate_size, Some(10 << 20));
        assert_eq!(s.rotate_interval, Some(std::time::Duration::from_secs(3600)));
        assert_eq!(s.queue, 2);
        for format in ["squid", "common", "extended", "combined"] {
            let text = format!("access_log: {{path: a.log, format: {format}}}\n");
            assert_eq!(parse(&text).unwrap().access_log.unwrap().format.name, format);
        }
        let s = parse("access_log: {path: a.log, format_string: '%<chi> %<{tag}plf>'}\n").unwrap();
        assert_eq!(s.access_log.unwrap().format.name, "custom");
    }

    #[test]
    fn problems_with_their_lines() {
        let errors = parse(
            "access_log:\n  path: /etc/hostname/a.log\n  format: welf\n  rotate_size: big\n  \
             listeners: [here]\n  format_string: '%<nope>'\n  queue: 0\n  colour: red\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "/tmp/hookyard.yaml:3: `access_log.format`: `welf` is not squid, common, extended, extended2, combined or json",
                "/tmp/hookyard.yaml:4: `access_log.rotate_size` must be a positive size such as 1048576, 512K, 100M or 1G",
                "/tmp/hookyard.yaml:5: `access_log.listeners`: `here` is not an IP:PORT address",
                format!("/tmp/hookyard.yaml:6: `access_log.format_string`: unknown field `%<nope>` (known: {})", crate::access_log::format::FIELDS).as_str(),
                "/tmp/hookyard.yaml:7: `access_log.queue` must be an integer from 1 to 16777216",
                "/tmp/hookyard.yaml:8: unknown key `colour` in `access_log` (expected path, format, format_string, listeners, rotate_size, rotate_interval, queue)",
                "/tmp/hookyard.yaml:2: `access_log.path`: /etc/hostname is not a directory",
            ]
        );
        assert_eq!(
            parse("access_log: {format: squid}\n").unwrap_err(),
            ["/tmp/hookyard.yaml:1: `access_log` needs a `path`"]
        );
        assert_eq!(
            parse("access_log: {path: a.log, format: json, format_string: '%<chi>'}\n")
                .unwrap_err(),
            ["/tmp/hookyard.yaml:1: `access_log`: give `format` or `format_string`, not both"]
        );
    }
}
