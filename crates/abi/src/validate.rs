//! The order in which a host checks a freshly loaded plugin.

use std::path::Path;

use crate::descriptor::{DescriptorFields, PluginIdentity, check_descriptor, check_magic};
use crate::error::Error;
use crate::symbols::{PluginKind, check_symbols};

/// What a host can find out about a loaded plugin file. The host implements it over its
/// library handle (reading the descriptor is `unsafe` and belongs to the host).
pub trait Probe {
    /// The descriptor's `magic` field, or `None` when the plugin exports no
    /// `hy_plugin_descriptor`.
    fn magic(&mut self) -> Option<u32>;
    /// The descriptor's other fields. Called only after the magic matched. Read `flags` and
    /// `reserved` only when `abi_major` is [`HY_ABI_MAJOR`](crate::HY_ABI_MAJOR) (another major
    /// may place them elsewhere) and report them as 0 otherwise: the first five fields never
    /// move.
    fn descriptor(&mut self) -> DescriptorFields;
    /// Whether the plugin exports `symbol`.
    fn exports(&mut self, symbol: &str) -> bool;
}

/// Checks a loaded plugin before anything of it is called: the descriptor first (magic, then
/// versions, name, flags), then, only if it passed, the entry points its `kind` requires.
///
/// `config_path` is the path as the configuration wrote it (ATS's messages use it); `path` is
/// the plugin file (descriptor messages use it).
///
/// # Errors
///
/// The first failure, as [`check_magic`], [`check_descriptor`] and [`check_symbols`] report it.
pub fn validate(
    kind: PluginKind,
    config_path: &str,
    path: &Path,
    probe: &mut impl Probe,
) -> Result<PluginIdentity, Error> {
    check_magic(path, probe.magic())?;
    let identity = check_descriptor(path, &probe.descriptor())?;
    check_symbols(kind, config_path, |symbol| probe.exports(symbol))?;
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use super::*;
    use crate::{HY_ABI_MAJOR, HY_ABI_MINOR, HY_PLUGIN_MAGIC};

    /// A plugin with a given magic that exports every symbol, recording what was asked.
    struct Recorder {
        magic: Option<u32>,
        major: u16,
        asked: Vec<String>,
    }

    impl Probe for Recorder {
        fn magic(&mut self) -> Option<u32> {
            self.asked.push("magic".into());
            self.magic
        }
        fn descriptor(&mut self) -> DescriptorFields {
            self.asked.push("descriptor".into());
            DescriptorFields {
                abi_major: self.major,
                abi_minor: HY_ABI_MINOR,
                name: Some(CString::new("r").unwrap()),
                version: Some(CString::new("1").unwrap()),
                flags: 0,
                reserved: 0,
            }
        }
        fn exports(&mut self, symbol: &str) -> bool {
            self.asked.push(symbol.into());
            true
        }
    }

    fn run(magic: Option<u32>, major: u16) -> (Result<PluginIdentity, Error>, Vec<String>) {
        let mut probe = Recorder { magic, major, asked: Vec::new() };
        let result = validate(PluginKind::Remap, "r.so", Path::new("/r.so"), &mut probe);
        (result, probe.asked)
    }

    #[test]
    fn no_symbol_is_probed_before_the_descriptor_passed() {
        let (result, asked) = run(None, HY_ABI_MAJOR);
        assert!(matches!(result, Err(Error::MissingDescriptor { .. })));
        assert_eq!(asked, ["magic"]);

        let (result, asked) = run(Some(1), HY_ABI_MAJOR);
        assert!(matches!(result, Err(Error::BadMagic { found: 1, .. })));
        assert_eq!(asked, ["magic"], "a bad magic: the other fields are not even read");

        let (result, asked) = run(Some(HY_PLUGIN_MAGIC), HY_ABI_MAJOR + 1);
        assert!(matches!(result, Err(Error::MajorMismatch { .. })));
        assert_eq!(asked, ["magic", "descriptor"]);
    }

    #[test]
    fn symbols_are_probed_after_a_good_descriptor() {
        let (result, asked) = run(Some(HY_PLUGIN_MAGIC), HY_ABI_MAJOR);
        assert_eq!(result.unwrap().name, "r");
        assert_eq!(&asked[..2], ["magic", "descriptor"]);
        assert!(asked[2..].iter().all(|s| s.starts_with("hy_remap_")), "{asked:?}");
    }
}
