use std::ffi::CString;
use std::path::Path;

use super::*;
use crate::Error;

fn fields(major: u16, minor: u16) -> DescriptorFields {
    DescriptorFields {
        abi_major: major,
        abi_minor: minor,
        name: Some(CString::new("rewrite").unwrap()),
        version: Some(CString::new("2.1.0").unwrap()),
        flags: 0,
        reserved: 0,
    }
}

const PATH: &str = "/plugins/rewrite.so";

fn check(fields: &DescriptorFields) -> Result<PluginIdentity, Error> {
    check_descriptor(Path::new(PATH), fields)
}

#[test]
fn the_magic_is_hypl_little_endian() {
    assert_eq!(HY_PLUGIN_MAGIC, 0x4C50_5948);
    assert!(check_magic(Path::new(PATH), Some(HY_PLUGIN_MAGIC)).is_ok());
}

#[test]
fn a_missing_descriptor_and_a_bad_magic_name_the_path_and_what_to_do() {
    let err = check_magic(Path::new(PATH), None).unwrap_err();
    assert!(matches!(err, Error::MissingDescriptor { .. }));
    assert_eq!(
        err.to_string(),
        "plugin `/plugins/rewrite.so` is not a hookyard plugin: it exports no \
         `hy_plugin_descriptor`; build it with HY_PLUGIN_DESCRIPTOR from hookyard.h or with \
         hookyard-sdk's `plugin!` macro"
    );
    let err = check_magic(Path::new(PATH), Some(0xdead_beef)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin `/plugins/rewrite.so` has no valid descriptor: `hy_plugin_descriptor` starts \
         with 0xdeadbeef, not the magic 0x4c505948; rebuild it with HY_PLUGIN_DESCRIPTOR from \
         hookyard.h or with hookyard-sdk"
    );
}

#[test]
fn the_current_version_and_every_older_minor_pass() {
    for minor in 0..=HY_ABI_MINOR {
        let id = check(&fields(HY_ABI_MAJOR, minor)).unwrap();
        assert_eq!(
            (id.name.as_str(), id.version.as_str(), id.abi_minor),
            ("rewrite", "2.1.0", minor)
        );
        assert!(!id.cannot_unload());
    }
}

#[test]
fn another_major_is_refused_with_both_versions_and_what_to_do() {
    let err = check(&fields(HY_ABI_MAJOR + 1, 0)).unwrap_err();
    assert!(matches!(err, Error::MajorMismatch { plugin_abi: (2, 0), host_abi: (1, 6), .. }));
    assert_eq!(
        err.to_string(),
        "plugin rewrite 2.1.0 (`/plugins/rewrite.so`) was built for plugin ABI 2.0, but this \
         hookyard provides ABI 1.6: rebuild the plugin against this hookyard's hookyard.h or \
         hookyard-sdk, or run a hookyard that provides ABI 2.x"
    );
    assert!(matches!(check(&fields(0, 0)), Err(Error::MajorMismatch { .. })));
}

#[test]
fn a_newer_minor_is_refused_with_both_versions_and_what_to_do() {
    let err = check(&fields(HY_ABI_MAJOR, HY_ABI_MINOR + 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin rewrite 2.1.0 (`/plugins/rewrite.so`) was built for plugin ABI 1.7, newer than \
         this hookyard's ABI 1.6: upgrade hookyard to one that provides ABI 1.7 or later, or \
         rebuild the plugin against ABI 1.6"
    );
}

#[test]
fn a_version_mismatch_is_reported_even_when_the_name_is_unreadable() {
    let mut f = fields(HY_ABI_MAJOR + 1, 0);
    f.name = None;
    f.version = Some(CString::new(vec![0xff, b'1']).unwrap());
    let err = check(&f).unwrap_err().to_string();
    assert!(
        err.starts_with("plugin (unnamed) \u{fffd}1 (`/plugins/rewrite.so`) was built for"),
        "{err}"
    );
}

#[test]
fn names_versions_flags_and_the_reserved_field_are_checked() {
    let reason = |f: DescriptorFields| match check(&f).unwrap_err() {
        Error::InvalidDescriptor { reason, .. } => reason,
        other => panic!("unexpected {other}"),
    };
    let mut f = fields(HY_ABI_MAJOR, HY_ABI_MINOR);
    f.name = None;
    assert_eq!(reason(f), "its name is NULL");
    let mut f = fields(HY_ABI_MAJOR, HY_ABI_MINOR);
    f.name = Some(CString::default());
    assert_eq!(reason(f), "its name is empty");
    let mut f = fields(HY_ABI_MAJOR, HY_ABI_MINOR);
    f.version = Some(CString::new(vec![0xc3]).unwrap());
    assert_eq!(reason(f), "its version is not UTF-8");
    let mut f = fields(HY_ABI_MAJOR, HY_ABI_MINOR);
    f.reserved = 7;
    assert_eq!(reason(f), "its reserved field is not zero");

    let mut f = fields(HY_ABI_MAJOR, HY_ABI_MINOR);
    f.flags = HY_PLUGIN_FLAG_CANNOT_UNLOAD | 0x30;
    let err = check(&f).unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin rewrite 2.1.0 (`/plugins/rewrite.so`) sets descriptor flags 0x30 that this \
         hookyard does not know: rebuild it against this hookyard's hookyard.h or hookyard-sdk"
    );
    let mut f = fields(HY_ABI_MAJOR, HY_ABI_MINOR);
    f.flags = HY_PLUGIN_FLAG_CANNOT_UNLOAD;
    assert!(check(&f).unwrap().cannot_unload());
}
