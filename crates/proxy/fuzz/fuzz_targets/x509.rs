//! The certificate reader (`tls/x509.rs`) on arbitrary bytes, as a corrupt PEM file gives it.
//!
//! Checks, beyond "never panics": names it returns are lowercase.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((names, _, _)) = hookyard_proxy::fuzzing::certificate_facts(data) {
        assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()), "{names:?}");
    }
});
