//! `ssl_multicert.config`, on arbitrary text (the `config/multicert.rs` parser).
//!
//! Checks, beyond "never panics": every entry and every problem is on a line of the text, and
//! entries come in line order.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.lines().count();
    match hookyard_proxy::fuzzing::multicert_lines(text) {
        Ok(entries) => {
            assert!(entries.iter().all(|&l| (1..=lines).contains(&l)), "{entries:?}");
            assert!(entries.windows(2).all(|w| w[0] < w[1]), "{entries:?}");
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            assert!(problems.iter().all(|&l| (1..=lines).contains(&l)), "{problems:?}");
        }
    }
});
