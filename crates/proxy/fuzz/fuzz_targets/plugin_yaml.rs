//! `plugin.yaml`, on arbitrary text: the proxy's reader (`PluginConfig::parse`, global plugins)
//! and the hooks crate's `PriorityConfig::from_plugin_yaml` (the `priorities` part), which the
//! proxy's reader also calls.
//!
//! Checks, beyond "never panics": every problem points at a line of the text; the proxy's reader
//! fails exactly when it or the priorities reader finds a problem, reports every priorities
//! problem, and keeps the priorities reader's table when it succeeds; no plugin's default
//! priority is above its ceiling.
#![no_main]

use std::path::{Path, PathBuf};

use hookyard_hooks::PriorityConfig;
use hookyard_proxy::config::PluginConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = Path::new("/nonexistent/hookyard-fuzz/plugin.yaml");
    let dirs = [PathBuf::from("/nonexistent/hookyard-fuzz/plugins")];
    // YAML breaks lines at CR, LF and CRLF.
    let lines = text.replace("\r\n", "\n").replace('\r', "\n").split('\n').count() + 1;
    let priorities = PriorityConfig::from_plugin_yaml(file, text);
    let config = PluginConfig::parse(file, text, &dirs);
    if let Err(errors) = &priorities {
        for e in &errors.0 {
            assert!(e.line <= lines, "priorities error outside the text: {e}");
        }
    }
    match (&config, &priorities) {
        (Ok(config), Ok(priorities)) => {
            assert_eq!(&config.priorities, priorities);
            for plugin in &priorities.plugins {
                assert!(plugin.priority <= plugin.max_priority, "{plugin:?}");
            }
            assert!(priorities.default_priority <= priorities.default_max_priority);
            for spec in &config.plugins {
                assert!(spec.line >= 1 && spec.line <= lines, "{spec:?}");
            }
        }
        (Ok(_), Err(errors)) => {
            panic!("the proxy accepted what the priorities reader refused: {errors}")
        }
        (Err(problems), priorities) => {
            for p in problems {
                assert!(p.line <= lines, "problem outside the text: {p}");
            }
            if let Err(errors) = priorities {
                for e in &errors.0 {
                    assert!(
                        problems.iter().any(|p| p.line == e.line && p.reason == e.reason),
                        "priorities problem `{e}` missing from {problems:?}"
                    );
                }
            }
        }
    }
});
