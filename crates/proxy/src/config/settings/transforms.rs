//! `transforms:` of `hookyard.yaml`: what body transforms plugins add may hold.

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::Serialize;

use crate::config::yaml::Reader;

/// The largest `buffer_limit`: 1 GiB.
const MAX_LIMIT: usize = 1 << 30;

/// Body transforms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transforms {
    /// The bytes a transform's output may hold before the reader takes them; past it the
    /// transaction fails (502 before the response head, a closed connection after).
    pub buffer_limit: usize,
}

impl Default for Transforms {
    fn default() -> Transforms {
        Transforms { buffer_limit: 1 << 20 }
    }
}

pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, t: &mut Transforms) {
    for (name, key, value) in r.mapping(value, "`transforms`") {
        match name {
            "buffer_limit" => {
                let what = "`transforms.buffer_limit`";
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
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => t.buffer_limit = n,
                    Ok(_) => r.error(value, format!("{what} must be from 1 byte to 1GiB")),
                    Err(why) => r.error(
                        value,
                        format!("{what} must be a size such as 64KiB or 1MiB: {why}"),
                    ),
                }
            }
            other => r.unknown(key, other, "`transforms`", "buffer_limit"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Settings;

    fn parse(text: &str) -> Result<Transforms, Vec<String>> {
        Settings::parse(Path::new("/c/hookyard.yaml"), Path::new("/c"), text)
            .map(|s| s.transforms)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn sizes_with_and_without_units() {
        assert_eq!(parse("").unwrap().buffer_limit, 1 << 20);
        assert_eq!(parse("transforms: { buffer_limit: 64KiB }").unwrap().buffer_limit, 64 << 10);
        assert_eq!(parse("transforms:\n  buffer_limit: 4096\n").unwrap().buffer_limit, 4096);
    }

    #[test]
    fn bad_sizes_name_file_line_and_reason() {
        assert_eq!(
            parse("workers: 1\ntransforms:\n  buffer_limit: 2TB\n").unwrap_err(),
            vec![
                "/c/hookyard.yaml:3: `transforms.buffer_limit` must be a size such as 64KiB or \
                 1MiB: unknown size unit `TB` (B, KiB, MiB, GiB)"
            ]
        );
        assert_eq!(
            parse("transforms:\n  buffer_limit: 0\n  size: 1\n").unwrap_err(),
            vec![
                "/c/hookyard.yaml:2: `transforms.buffer_limit` must be from 1 byte to 1GiB",
                "/c/hookyard.yaml:3: unknown key `size` in `transforms` (expected buffer_limit)",
            ]
        );
    }
}
