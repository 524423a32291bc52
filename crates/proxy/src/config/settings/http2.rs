//! `http2:` of `hookyard.yaml`: what an HTTP/2 client connection may use (streams, header list,
//! flow-control windows, keep-alive pings), whether plain listeners detect h2c and whether TLS
//! listeners offer `h2` by ALPN.

use std::time::Duration;

use saphyr::MarkedYaml;
use serde::Serialize;

use crate::config::yaml::{Reader, is_null};

/// The largest flow-control window HTTP/2 allows (RFC 9113 §6.9.1).
const MAX_WINDOW: u64 = (1 << 31) - 1;

/// The window every HTTP/2 peer starts with (RFC 9113 §6.5.2); a smaller one only slows.
const MIN_WINDOW: u64 = 65_535;

/// HTTP/2 to clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Http2 {
    /// Whether plain (`listen`) listeners serve HTTP/2 to a client that starts with the HTTP/2
    /// connection preface (h2c with prior knowledge).
    pub h2c: bool,
    /// Whether TLS listeners offer HTTP/2 by ALPN (`h2` before `http/1.1`).
    pub tls: bool,
    /// The most streams a client may have open at once on one connection; a stream over it is
    /// refused (`RST_STREAM` with `REFUSED_STREAM`).
    pub max_concurrent_streams: u32,
    /// The largest header list (RFC 9113 §6.5.2, names and values plus 32 bytes a field) a
    /// request may have; larger: 431. `None`: `limits.max_header_bytes`.
    pub max_header_list_size: Option<u32>,
    /// The flow-control window of each stream, in bytes: how much request body a client may
    /// send on a stream before the proxy reads it.
    pub initial_stream_window: u32,
    /// The flow-control window of the connection, over all its streams.
    pub initial_connection_window: u32,
    /// How often an idle-looking connection is pinged; `None`: never.
    pub keepalive_interval: Option<Duration>,
    /// How long a ping may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
}

impl Default for Http2 {
    fn default() -> Http2 {
        Http2 {
            h2c: true,
            tls: true,
            max_concurrent_streams: 100,
            max_header_list_size: None,
            initial_stream_window: 1024 * 1024,
            initial_connection_window: 1024 * 1024,
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
        }
    }
}

impl Http2 {
    /// The header list limit in force: the one set, else `max_header_bytes`.
    pub fn header_list_limit(&self, max_header_bytes: usize) -> u32 {
        self.max_header_list_size.unwrap_or(u32::try_from(max_header_bytes).unwrap_or(u32::MAX))
    }
}

const KEYS: &str = "h2c, tls, max_concurrent_streams, max_header_list_size, initial_stream_window, \
                    initial_connection_window, keepalive_interval, keepalive_timeout";

/// `http2:` of `hookyard.yaml`, into `h`.
pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, h: &mut Http2) {
    for (name, key, value) in r.mapping(value, "`http2`") {
        let what = format!("`http2.{name}`");
        match name {
            "h2c" => {
                if let Some(on) = r.bool(value, &what) {
                    h.h2c = on;
                }
            }
            "tls" => {
                if let Some(on) = r.bool(value, &what) {
                    h.tls = on;
                }
            }
            "max_concurrent_streams" => {
                if let Some(n) = r.count(value, &what, 100_000) {
                    h.max_concurrent_streams = n as u32;
                }
            }
            "max_header_list_size" => {
                if let Some(n) = r.count(value, &what, 1 << 20) {
                    h.max_header_list_size = Some(n as u32);
                }
            }
            "initial_stream_window" => {
                if let Some(n) = window(r, value, &what) {
                    h.initial_stream_window = n;
                }
            }
            "initial_connection_window" => {
                if let Some(n) = window(r, value, &what) {
                    h.initial_connection_window = n;
                }
            }
            "keepalive_interval" => {
                h.keepalive_interval = if is_null(value) { None } else { r.duration(value, &what) }
            }
            "keepalive_timeout" => {
                if let Some(d) = r.duration(value, &what) {
                    h.keepalive_timeout = d;
                }
            }
            other => r.unknown(key, other, "`http2`", KEYS),
        }
    }
}

/// A flow-control window: from the protocol's initial 65535 to its largest.
fn window(r: &mut Reader<'_>, value: &MarkedYaml<'_>, what: &str) -> Option<u32> {
    let n = r.count(value, what, MAX_WINDOW)?;
    if n < MIN_WINDOW {
        r.error(value, format!("{what} must be at least {MIN_WINDOW} (HTTP/2's initial window)"));
        return None;
    }
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Settings;

    fn parse(text: &str) -> Result<Http2, Vec<String>> {
        Settings::parse(Path::new("/c/hookyard.yaml"), Path::new("/c"), text)
            .map(|s| s.http2)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn defaults() {
        let h = parse("").unwrap();
        assert!(h.h2c);
        assert!(h.tls);
        assert_eq!(h.max_concurrent_streams, 100);
        assert_eq!(h.header_list_limit(32 * 1024), 32 * 1024);
        assert!(h.initial_stream_window >= 65_535 && h.initial_connection_window >= 65_535);
        assert_eq!(h.keepalive_interval, None);
    }

    #[test]
    fn every_key() {
        let h = parse(
            "http2:\n  h2c: false\n  tls: false\n  max_concurrent_streams: 7\n  max_header_list_size: 4096\n  \
             initial_stream_window: 65535\n  initial_connection_window: 2147483647\n  \
             keepalive_interval: 30s\n  keepalive_timeout: 5s\n",
        )
        .unwrap();
        assert!(!h.h2c);
        assert!(!h.tls);
        assert_eq!(h.max_concurrent_streams, 7);
        assert_eq!(h.header_list_limit(32 * 1024), 4096);
        assert_eq!(h.initial_stream_window, 65_535);
        assert_eq!(h.initial_connection_window, 2_147_483_647);
        assert_eq!(h.keepalive_interval, Some(Duration::from_secs(30)));
        assert_eq!(h.keepalive_timeout, Duration::from_secs(5));
        let h = parse("http2: {keepalive_interval: ~}\n").unwrap();
        assert_eq!(h.keepalive_interval, None);
    }

    #[test]
    fn every_problem_with_its_line() {
        let errors = parse(
            "http2:\n  max_concurrent_streams: 0\n  initial_stream_window: 1000\n  \
             initial_connection_window: 2147483648\n  h2c: yes please\n  \
             keepalive_timeout: soon\n  streams: 3\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/hookyard.yaml:2: `http2.max_concurrent_streams` must be an integer from 1 to 100000",
                "/c/hookyard.yaml:3: `http2.initial_stream_window` must be at least 65535 (HTTP/2's initial window)",
                "/c/hookyard.yaml:4: `http2.initial_connection_window` must be an integer from 1 to 2147483647",
                "/c/hookyard.yaml:5: `http2.h2c` must be true or false, found a string",
                "/c/hookyard.yaml:6: `http2.keepalive_timeout` must be a positive duration such as 500ms, 10s, 2m or 1h (or a number of seconds), at most 8760h",
                "/c/hookyard.yaml:7: unknown key `streams` in `http2` (expected h2c, tls, max_concurrent_streams, max_header_list_size, initial_stream_window, initial_connection_window, keepalive_interval, keepalive_timeout)",
            ]
        );
        assert_eq!(
            parse("http2: 5\n").unwrap_err(),
            ["/c/hookyard.yaml:1: `http2` must be a mapping, found an integer"]
        );
    }
}
