//! Entry points for the fuzz targets in `crates/proxy/fuzz/`. Not an API: hidden from the
//! documentation, changed with the code they reach, never used by the proxy itself.
//!
//! They reach what an operator's TLS files meet: the `ssl_multicert.config` parser and the
//! certificate reader of `tls/x509.rs`; and what clients and plugins put in the access log
//! (`access_log_line`). A client's bytes are fuzzed through the whole proxy (the
//! `request_head` target) and through the HTTP/1 codec itself (`crates/h1/fuzz`).

use http::{HeaderValue, Request};

/// Parses an `ssl_multicert.config` text (paths from `/nonexistent`): the lines of its entries,
/// or of its problems.
pub fn multicert_lines(text: &str) -> Result<Vec<usize>, Vec<usize>> {
    let dir = std::path::Path::new("/nonexistent");
    match crate::config::multicert::parse(&dir.join("ssl_multicert.config"), dir, text) {
        Ok((specs, _)) => Ok(specs.iter().map(|s| s.line).collect()),
        Err(problems) => Err(problems.iter().map(|p| p.line).collect()),
    }
}

/// Reads a DER certificate's DNS names and validity period (start, end), as the proxy does to
/// choose and check certificates.
pub fn certificate_facts(der: &[u8]) -> Option<(Vec<String>, i64, i64)> {
    let facts = crate::tls::x509::facts(der).ok()?;
    Some((facts.names, facts.not_before, facts.not_after))
}

/// The access log line of a transaction `GET /p` whose `User-Agent` and `X-Any` request fields
/// and plugin fields `a` and `b` hold `values` (those a field can hold), in the format
/// `format` (a built-in's name, else a format string); `None` for a format that does not parse.
pub fn access_log_line(format: &str, values: &[&str]) -> Option<String> {
    use crate::access_log::{Format, record::Entry};
    let format = match Format::builtin(format) {
        Some(builtin) => builtin,
        None => Format::parse(format).ok()?,
    };
    let settings = std::sync::Arc::new(crate::config::AccessLogSettings {
        path: std::path::PathBuf::from("/nonexistent/access.log"),
        format,
        listeners: None,
        rotate_size: None,
        rotate_interval: None,
        queue: 1,
    });
    let mut request = Request::get("http://h.test/p").body(()).ok()?;
    let names = ["user-agent", "x-any"];
    for (name, value) in names.iter().zip(values) {
        if let Ok(value) = HeaderValue::from_str(value) {
            request.headers_mut().append(*name, value);
        }
    }
    let (parts, ()) = request.into_parts();
    let client = std::net::SocketAddr::from(([192, 0, 2, 1], 40000));
    let mut entry = Entry::start(settings.clone(), 1, client, "http", &parts, &parts.headers);
    entry.plugin =
        ["a", "b"].iter().zip(values).map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    let mut line = String::new();
    settings.format.write(&entry, &mut line);
    Some(line)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_access_log_line_is_one_line_whatever_the_values() {
        let hostile = ["a\"b\\c", "x\ny\r\u{1b}[31m", "é\u{7f}"];
        for format in ["squid", "common", "extended", "combined", "json", "%<{a}plf>|%<{x-any}cqh>"]
        {
            let line = super::access_log_line(format, &hostile).unwrap();
            assert_eq!(line.matches('\n').count(), 1, "{format}: {line:?}");
            assert!(line.ends_with('\n'));
            assert!(!line.contains(['\r', '\u{1b}', '\u{7f}']), "{format}: {line:?}");
            if format == "json" {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                assert_eq!(v["plugin"]["b"], hostile[1]);
            }
        }
        let line = super::access_log_line("%<{a}plf>|%<{b}plf>", &hostile).unwrap();
        assert_eq!(line, "a\\x22b\\x5Cc|x\\x0Ay\\x0D\\x1B[31m\n");
        assert!(super::access_log_line("%<bogus>", &[]).is_none());
    }
}
