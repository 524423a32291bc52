//! `wasm:` of `hookyard.yaml`: the limits WebAssembly plugins run under.
//!
//! ```yaml
//! wasm:
//!   memory: 64MiB          # linear memory per instance
//!   deadline: 100ms        # per callback
//!   quarantine_after: 5    # failures within `quarantine_window` (0: never quarantine)
//!   quarantine_window: 60s
//! ```

use std::time::Duration;

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::Serialize;

use crate::config::yaml::Reader;

/// The largest `memory`: 4 GiB, all a 32-bit module can address.
const MAX_MEMORY: usize = 4 << 30;

/// The limits of WebAssembly plugins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Wasm {
    /// The linear memory one instance may have, in bytes.
    pub memory: usize,
    /// How long one callback may run before it fails its transaction.
    pub deadline: Duration,
    /// Failures within `quarantine_window` that quarantine a plugin version; 0 never does.
    pub quarantine_after: u32,
    /// The window failures are counted in.
    pub quarantine_window: Duration,
}

impl Default for Wasm {
    fn default() -> Wasm {
        let limits = hookyard_wasm::Limits::default();
        Wasm {
            memory: limits.memory,
            deadline: limits.deadline,
            quarantine_after: 5,
            quarantine_window: Duration::from_secs(60),
        }
    }
}

impl Wasm {
    /// The plugin limits these settings give.
    pub fn limits(&self) -> hookyard_wasm::Limits {
        hookyard_wasm::Limits {
            memory: self.memory,
            deadline: self.deadline,
            quarantine_after: self.quarantine_after,
            window: self.quarantine_window,
        }
    }
}

pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, w: &mut Wasm) {
    for (name, key, value) in r.mapping(value, "`wasm`") {
        match name {
            "memory" => {
                let what = "`wasm.memory`";
                let parsed = match &value.data {
                    YamlData::Value(Scalar::Integer(n)) => {
                        usize::try_from(*n).map_err(|_| format!("`{n}` is negative"))
                    }
                    YamlData::Value(Scalar::String(s)) => {
                        hookyard_abi::rules::transform::byte_size(s)
                    }
                    _ => Err("not a size".to_owned()),
                };
                match parsed {
                    Ok(n) if ((64 << 10)..=MAX_MEMORY).contains(&n) => w.memory = n,
                    Ok(_) => r.error(value, format!("{what} must be from 64KiB to 4GiB")),
                    Err(why) => r.error(
                        value,
                        format!("{what} must be a size such as 16MiB or 1GiB: {why}"),
                    ),
                }
            }
            "deadline" => {
                if let Some(d) = r.duration(value, "`wasm.deadline`") {
                    w.deadline = d;
                }
            }
            "quarantine_after" => match &value.data {
                YamlData::Value(Scalar::Integer(n)) if (0..=1_000_000).contains(n) => {
                    w.quarantine_after = *n as u32;
                }
                _ => r.error(
                    value,
                    "`wasm.quarantine_after` must be an integer from 0 (never) to 1000000",
                ),
            },
            "quarantine_window" => {
                if let Some(d) = r.duration(value, "`wasm.quarantine_window`") {
                    w.quarantine_window = d;
                }
            }
            other => r.unknown(
                key,
                other,
                "`wasm`",
                "memory, deadline, quarantine_after, quarantine_window",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Settings;

    fn parse(text: &str) -> Result<Wasm, Vec<String>> {
        Settings::parse(Path::new("/c/hookyard.yaml"), Path::new("/c"), text)
            .map(|s| s.wasm)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn limits_are_read() {
        assert_eq!(parse("").unwrap(), Wasm::default());
        let w = parse(
            "wasm:\n  memory: 16MiB\n  deadline: 20ms\n  quarantine_after: 0\n  \
             quarantine_window: 2m\n",
        )
        .unwrap();
        assert_eq!(w.memory, 16 << 20);
        assert_eq!(w.deadline, Duration::from_millis(20));
        assert_eq!(w.quarantine_after, 0);
        assert_eq!(w.quarantine_window, Duration::from_secs(120));
    }

    #[test]
    fn bad_limits_name_file_line_and_reason() {
        assert_eq!(
            parse("wasm:\n  memory: 1KiB\n  deadline: soon\n  quarantine_after: -1\n  fuel: 3\n")
                .unwrap_err(),
            vec![
                "/c/hookyard.yaml:2: `wasm.memory` must be from 64KiB to 4GiB",
                "/c/hookyard.yaml:3: `wasm.deadline` must be a positive duration such as 500ms, \
                 10s, 2m or 1h (or a number of seconds), at most 8760h",
                "/c/hookyard.yaml:4: `wasm.quarantine_after` must be an integer from 0 (never) \
                 to 1000000",
                "/c/hookyard.yaml:5: unknown key `fuel` in `wasm` (expected memory, deadline, \
                 quarantine_after, quarantine_window)",
            ]
        );
    }
}
