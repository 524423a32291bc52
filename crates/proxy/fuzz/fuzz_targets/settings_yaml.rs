//! `hookyard.yaml`, on arbitrary text (`Settings::parse`).
//!
//! Checks, beyond "never panics": every problem points at a line of the text; accepted settings
//! keep their documented bounds, and every timeout can be added to the current time (the
//! workers compute `last activity + idle`, hyper `now + header_read`).
#![no_main]

use std::path::Path;
use std::time::Instant;

use hookyard_proxy::config::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let dir = Path::new("/nonexistent/hookyard-fuzz");
    let file = dir.join("hookyard.yaml");
    // YAML breaks lines at CR, LF and CRLF.
    let lines = text.replace("\r\n", "\n").replace('\r', "\n").split('\n').count() + 1;
    match Settings::parse(&file, dir, text) {
        Ok(settings) => {
            assert!(!settings.listen.is_empty());
            assert!(settings.workers.is_none_or(|w| (1..=1024).contains(&w)));
            assert!((1..=1 << 20).contains(&settings.limits.max_header_bytes));
            assert!((1..=10_000).contains(&settings.limits.max_headers));
            // h2 panics on a window over 2^31-1.
            let h2 = &settings.http2;
            assert!((1..=100_000).contains(&h2.max_concurrent_streams));
            assert!(h2.max_header_list_size.is_none_or(|n| (1..=1 << 20).contains(&n)));
            for window in [h2.initial_stream_window, h2.initial_connection_window] {
                assert!((65_535..=(1 << 31) - 1).contains(&window), "window {window}");
            }
            let t = &settings.timeouts;
            let now = Instant::now();
            for (name, timeout) in [
                ("header_read", t.header_read),
                ("origin_connect", t.origin_connect),
                ("origin_response", t.origin_response),
                ("idle", t.idle),
                ("shutdown", t.shutdown),
                // A retirement's drain deadline is `now + drain`.
                ("retirement.drain", settings.retirement.drain),
                ("http2.keepalive_timeout", settings.http2.keepalive_timeout),
                ("http2.keepalive_interval", settings.http2.keepalive_interval.unwrap_or(t.idle)),
            ] {
                assert!(!timeout.is_zero(), "{name} is zero");
                assert!(
                    now.checked_add(timeout).is_some(),
                    "{name} = {timeout:?} overflows an Instant"
                );
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for p in &problems {
                assert!(p.line <= lines, "problem outside the text: {p}");
            }
        }
    }
});
