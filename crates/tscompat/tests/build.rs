//! `build_plugin`: the entry points it links, what the result exports, and its errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use hookyard_tscompat::{EntryPoints, Error, build_plugin};

fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins").join(name)
}

/// The dynamic symbols a shared object defines.
fn exported(object: &Path) -> Vec<String> {
    let output = Command::new("nm")
        .args(["-D", "--defined-only", "-P"])
        .arg(object)
        .output()
        .expect("nm runs");
    assert!(output.status.success());
    let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn a_global_plugin_exports_the_global_entry_points_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rewrite_headers.so");
    let entry = build_plugin(&[source("rewrite_headers.c")], &out).unwrap();
    assert_eq!(entry, EntryPoints { global: true, remap: false });
    // The compatibility layer's own functions (TSContCreate, ...) stay hidden.
    assert_eq!(
        exported(&out),
        ["TSPluginInit", "hy_plugin_descriptor", "hy_plugin_done", "hy_plugin_init"]
    );
}

#[test]
fn a_remap_plugin_exports_the_remap_entry_points_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("set_header_remap.so");
    let entry = build_plugin(&[source("set_header_remap.c")], &out).unwrap();
    assert_eq!(entry, EntryPoints { global: false, remap: true });
    let symbols = exported(&out);
    assert!(
        symbols.iter().all(|s| s.starts_with("hy_") || s.starts_with("TSRemap")),
        "{symbols:?}"
    );
    assert!(symbols.contains(&"hy_remap_do_remap".to_owned()));
    assert!(!symbols.iter().any(|s| s.starts_with("hy_plugin_init")));
}

#[test]
fn sources_without_an_entry_point_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("nothing.c");
    std::fs::write(&src, "#include <ts/ts.h>\nint helper(void) { return 1; }\n").unwrap();
    let err = build_plugin(&[src], &dir.path().join("nothing.so")).unwrap_err();
    assert!(matches!(err, Error::NoEntryPoint), "{err}");
    assert!(!dir.path().join("nothing.so").exists());
}

#[test]
fn a_call_outside_the_subset_fails_at_compile_time() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("unported.c");
    std::fs::write(
        &src,
        "#include <ts/ts.h>\nvoid TSPluginInit(int argc, const char *argv[]) {\n  \
         (void)argc; (void)argv;\n  TSCacheKeyCreate();\n}\n",
    )
    .unwrap();
    let err = build_plugin(&[src], &dir.path().join("unported.so")).unwrap_err();
    assert!(matches!(err, Error::Tool { .. }), "{err}");
}

#[test]
fn an_output_name_that_is_no_plugin_name_is_refused() {
    let err =
        build_plugin(&[source("rewrite_headers.c")], Path::new("/tmp/bad name.so")).unwrap_err();
    assert!(matches!(err, Error::BadName(_)), "{err}");
}

#[test]
fn cpp_plugins_build_with_ats_10_debug_controls() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("dbg.cc");
    std::fs::write(
        &src,
        "#include <ts/ts.h>\nnamespace { DbgCtl dbg{\"dbg_tag\"}; }\n\
         void TSPluginInit(int argc, const char *argv[]) {\n  \
         Dbg(dbg, \"%d arguments, the first %s\", argc, argv[0]);\n  \
         if (dbg.on()) { TSDebug(dbg.tag(), \"on\"); }\n}\n",
    )
    .unwrap();
    let out = dir.path().join("dbg.so");
    let entry = build_plugin(&[src], &out).unwrap();
    assert_eq!(entry, EntryPoints { global: true, remap: false });
    assert!(exported(&out).contains(&"hy_plugin_init".to_owned()));
}
