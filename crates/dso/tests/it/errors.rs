//! Every kind of bad plugin file gets its own error and leaves nothing behind.

use std::fs;

use hookyard_dso::{Error, ReloadMode};

use crate::support::{CPlugin, Sandbox, VersionFn, compiled};

fn load_error(sandbox: &Sandbox, mode: ReloadMode, name: &str) -> Error {
    let loader = crate::support::loader(sandbox, mode);
    let err = loader.load(name.as_ref()).unwrap_err();
    assert_eq!(loader.stats().failed, 1);
    assert!(loader.snapshot().is_empty());
    assert!(
        sandbox.version_dirs().is_empty(),
        "a failed load leaves no copy: {:?}",
        sandbox.version_dirs()
    );
    err
}

#[test]
fn a_file_that_is_not_a_shared_object_fails_with_the_loaders_message() {
    for mode in [ReloadMode::Dynamic, ReloadMode::Static] {
        let sandbox = Sandbox::new();
        fs::write(sandbox.plugins().join("text.so"), "#!/bin/sh\n# a shell script named like a plugin, long enough to hold an ELF header\nexit 0\n").unwrap();
        match load_error(&sandbox, mode, "text.so") {
            Error::Open { path, message } => {
                assert_eq!(path, fs::canonicalize(sandbox.plugins().join("text.so")).unwrap());
                assert!(message.contains("text.so"), "{message}");
                assert!(message.contains("invalid ELF header"), "{message}");
            }
            other => panic!("{mode:?}: {other:?}"),
        }
    }
}

#[test]
fn an_empty_file_fails_to_open() {
    let sandbox = Sandbox::new();
    fs::write(sandbox.plugins().join("empty.so"), "").unwrap();
    match load_error(&sandbox, ReloadMode::Dynamic, "empty.so") {
        Error::Open { message, .. } => assert!(message.contains("file too short"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_directory_is_not_a_regular_file() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.plugins().join("dir.so")).unwrap();
    let err = load_error(&sandbox, ReloadMode::Dynamic, "dir.so");
    assert!(matches!(err, Error::NotRegularFile { .. }), "{err:?}");
    assert!(err.to_string().ends_with("dir.so` is not a regular file"), "{err}");
}

#[test]
fn a_missing_file_names_the_path_and_every_searched_directory() {
    let sandbox = Sandbox::new();
    let err = load_error(&sandbox, ReloadMode::Dynamic, "missing.so");
    assert_eq!(
        err.to_string(),
        format!(
            "plugin `missing.so` not found in the search directories `{}`",
            sandbox.plugins().display()
        )
    );
    let absolute = sandbox.path().join("nowhere/missing.so");
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    let err = loader.load(&absolute).unwrap_err();
    assert_eq!(err.to_string(), format!("plugin `{}` not found", absolute.display()));
}

#[test]
fn a_missing_symbol_is_named() {
    let sandbox = Sandbox::new();
    let loader = crate::support::loader(&sandbox, ReloadMode::Dynamic);
    sandbox.install(&compiled(CPlugin::Version(1)), "plugin.so");
    let lib = loader.load("plugin.so".as_ref()).unwrap();
    // SAFETY: the type is irrelevant for a symbol that does not exist.
    let err = unsafe { lib.symbol::<VersionFn>("TSRemapInit") }.unwrap_err();
    match &err {
        Error::MissingSymbol { path, symbol } => {
            assert_eq!(path, lib.path());
            assert_eq!(symbol, "TSRemapInit");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().ends_with("does not export the required symbol `TSRemapInit`"));
}

/// The fields of a little-endian ELF64 file that say where its tables and segments are.
struct Layout {
    phoff: usize,
    phnum: usize,
    /// `(p_offset, p_filesz)` of every loadable segment.
    loads: Vec<(usize, usize)>,
}

fn layout(bytes: &[u8]) -> Layout {
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let u64_at = |at: usize| {
        usize::try_from(u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())).unwrap()
    };
    assert_eq!((bytes[4], bytes[5]), (2, 1), "the test plugin is a little-endian ELF64 file");
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    let loads = (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&ph| u32::from_le_bytes(bytes[ph..ph + 4].try_into().unwrap()) == 1)
        .map(|ph| (u64_at(ph + 8), u64_at(ph + 32)))
        .collect();
    Layout { phoff, phnum, loads }
}

#[test]
fn a_truncated_or_foreign_elf_file_is_refused_before_the_dynamic_loader_maps_it() {
    let whole = fs::read(compiled(CPlugin::Version(1))).unwrap();
    if (whole[4], whole[5]) != (2, 1) {
        eprintln!("not a little-endian ELF64 host; this test checks nothing here");
        return;
    }
    let l = layout(&whole);
    let (last_offset, last_size) = *l.loads.iter().max_by_key(|(offset, _)| *offset).unwrap();
    assert!(last_size > 2, "the last loadable segment has bytes in the file");
    let mut cases: Vec<(String, Vec<u8>, &str)> = vec![
        ("header only".into(), whole[..64].to_vec(), "program header table"),
        (
            "mid program headers".into(),
            whole[..l.phoff + l.phnum * 56 / 2].to_vec(),
            "program header table",
        ),
        (
            "mid last loadable segment".into(),
            whole[..last_offset + last_size / 2].to_vec(),
            "loadable segment",
        ),
        ("one byte short".into(), whole[..whole.len() - 1].to_vec(), "extends past the end"),
        ("mid header".into(), whole[..30].to_vec(), "too short for an ELF header"),
    ];
    let mut wrong_class = whole.clone();
    wrong_class[4] = 1;
    cases.push(("32-bit".into(), wrong_class, "32-bit ELF file; this process is 64-bit"));
    let mut wrong_machine = whole.clone();
    let foreign: u16 = if whole[18..20] == 183u16.to_le_bytes() { 62 } else { 183 };
    wrong_machine[18..20].copy_from_slice(&foreign.to_le_bytes());
    cases.push(("foreign machine".into(), wrong_machine, "built for machine"));
    let mut object = whole.clone();
    object[16] = 1;
    cases.push(("relocatable object".into(), object, "not a shared object"));

    for mode in [ReloadMode::Dynamic, ReloadMode::Static] {
        for (what, bytes, reason) in &cases {
            let sandbox = Sandbox::new();
            fs::write(sandbox.plugins().join("cut.so"), bytes).unwrap();
            match load_error(&sandbox, mode, "cut.so") {
                Error::InvalidElf { path, reason: said } => {
                    assert!(path.ends_with("cut.so"), "{path:?}");
                    assert!(said.contains(reason), "{mode:?} {what}: `{said}`");
                }
                other => panic!("{mode:?} {what}: {other:?}"),
            }
            // The process is fine, and the whole file loads from the same place.
            sandbox.install(&compiled(CPlugin::Version(1)), "cut.so");
            let loader = crate::support::loader(&sandbox, mode);
            let lib = loader.load("cut.so".as_ref()).unwrap();
            // SAFETY: version.c defines `int hy_test_version(void)`.
            let version = unsafe { lib.symbol::<VersionFn>("hy_test_version") }.unwrap();
            assert_eq!(version(), 1);
        }
    }
}
