//! Access log formats and lines, on arbitrary text: a format string (ATS's `%<field>` syntax)
//! and the values of request fields and plugin fields (`access_log/format.rs`, `record.rs`).
//!
//! Input: text split on the first three `\0`: the format (or a built-in's name), then up to
//! three values.
//!
//! Checks, beyond "never panics": whatever the values, a line is exactly one line (one `\n`,
//! at its end) with no other control byte, so nothing a client or plugin sends can forge a log
//! line; a `json` line is one object.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\0');
    let format = parts.next().unwrap_or_default();
    let values: Vec<&str> = parts.collect();
    let Some(line) = hookyard_proxy::fuzzing::access_log_line(format, &values) else { return };
    assert!(line.ends_with('\n'), "{line:?}");
    let body = &line[..line.len() - 1];
    assert!(!body.contains(|c: char| c.is_control() && c != '\t'), "{line:?}");
    if format == "json" {
        // (The unit test parses JSON lines; this crate stays without serde_json.)
        assert!(body.starts_with('{') && body.ends_with('}'), "{line:?}");
    }
});
