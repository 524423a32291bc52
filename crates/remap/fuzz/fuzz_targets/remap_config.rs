//! `remap.config` parsing and look-ups, on arbitrary text.
//!
//! Checks, beyond "never panics": every error points at a line of the text; a parsed `map` rule
//! (not regex, not by receiving port) is found for a request to its own FROM URL (itself or an
//! earlier rule); a plain rule printed as `ctl rules` shows it parses again to the same URLs; and
//! remapping or reverse-mapping any such request does not panic.
//!
//! Inputs naming `.include` are skipped: the parser would read the machine's files.
#![no_main]

use std::path::Path;

use hookyard_remap::{Remap, Request, RuleKind, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.contains(".include") {
        return;
    }
    let file = Path::new("/nonexistent/hookyard-fuzz/remap.config");
    let rules = match Rules::parse(file, text) {
        Ok(rules) => rules,
        Err(errors) => {
            let lines = text.split('\n').count();
            for e in &errors.0 {
                assert!(e.line >= 1 && e.line <= lines, "error outside the text: {e}");
                assert_eq!(&*e.file, file, "{e}");
            }
            return;
        }
    };
    for rule in rules.rules() {
        let from = &rule.from;
        let request = Request {
            scheme: &from.scheme,
            host: &from.host,
            port: from.port,
            path: &from.path,
            query: Some("q=1"),
            recv_port: Some(80),
            http10: false,
        };
        let _ = rules.remap(&request);
        let _ = rules.reverse(&format!("{}://{}/{}", rule.to.scheme, rule.to.host, rule.to.path));
        if rule.regex {
            continue;
        }
        if matches!(rule.kind, RuleKind::Map | RuleKind::MapWithReferer) {
            let found = rules.find(&request).map(|r| r.index);
            assert!(
                found.is_some_and(|i| i <= rule.index),
                "rule {} ({rule}) is not found for its own FROM URL (found {found:?})",
                rule.index
            );
            assert!(!matches!(rules.remap(&request), Remap::NotFound));
        }
        if rule.plugins.is_empty() && rule.filters.is_empty() {
            let shown = rule.to_string();
            match Rules::parse(file, &shown) {
                Ok(again) => {
                    let again = &again.rules()[0];
                    assert_eq!((&again.from, &again.to), (&rule.from, &rule.to), "{shown}");
                }
                Err(e) => panic!("`{shown}` (from `{text}`) does not parse again: {e}"),
            }
        }
    }
});
