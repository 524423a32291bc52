//! Property tests of the parser and the matcher.

use std::path::Path;

use hookyard_remap::{Remap, Request, Rules};
use proptest::prelude::*;

fn request<'a>(host: &'a str, path: &'a str) -> Request<'a> {
    Request {
        scheme: "http",
        host,
        port: None,
        path,
        query: None,
        recv_port: Some(80),
        http10: false,
    }
}

proptest! {
    /// Whatever the text, parsing answers rules or errors with lines inside the text: it never
    /// panics.
    #[test]
    fn parsing_any_text_never_panics(text in "(\\PC|[ \\t\\n\\\\@#.=/:])*") {
        match Rules::parse(Path::new("remap.config"), &text) {
            Ok(rules) => prop_assert!(rules.rules().iter().all(|r| r.line >= 1)),
            Err(errors) => {
                let lines = text.split('\n').count();
                prop_assert!(errors.0.iter().all(|e| e.line >= 1 && e.line <= lines), "{errors}");
            }
        }
    }

    /// Every `map` rule of a generated file is found for a request to its own FROM URL, unless an
    /// earlier rule of the same host whose path is a prefix of it wins (ATS's earliest-prefix rule).
    #[test]
    fn each_rule_matches_its_own_from_url_or_an_earlier_prefix(
        rules in prop::collection::vec(("[a-c]{1,2}", "[a-c/]{0,4}"), 1..20)
    ) {
        let mut text = String::new();
        let mut seen = std::collections::HashSet::new();
        let mut kept = Vec::new();
        for (host, path) in rules {
            if seen.insert((host.clone(), path.clone())) {
                text.push_str(&format!("map http://{host}.test/{path} http://origin-{}/\n", kept.len()));
                kept.push((host, path));
            }
        }
        let parsed = Rules::parse(Path::new("remap.config"), &text).unwrap();
        for (index, (host, path)) in kept.iter().enumerate() {
            let host = format!("{host}.test");
            let winner = parsed.find(&request(&host, path)).unwrap();
            let expected = kept
                .iter()
                .position(|(h, p)| format!("{h}.test") == host && path.starts_with(p.as_str()))
                .unwrap();
            prop_assert!(expected <= index);
            prop_assert_eq!(winner.index, expected);
            let Remap::Map { target, .. } = parsed.remap(&request(&host, path)) else {
                panic!("a map rule matched");
            };
            prop_assert_eq!(target.host.as_ref(), format!("origin-{expected}"));
        }
    }
}
