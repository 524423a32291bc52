//! The SDK follows the rules it sets for plugin code: nothing in its source (comments aside)
//! registers a thread-local destructor or asks for the current thread's handle, and nothing
//! prints instead of logging through the host.

use std::fs;
use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "thread_local!",
    "thread::current",
    "thread::park",
    "thread::scope",
    "println!",
    "eprintln!",
    "print!",
    "eprint!",
    "dbg!",
    "stdout()",
    "stderr()",
];

fn offenders(dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            offenders(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        for (n, line) in fs::read_to_string(&path).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap();
            for word in FORBIDDEN.iter().filter(|w| code.contains(*w)) {
                out.push(format!("{}:{}: {word}", path.display(), n + 1));
            }
        }
    }
}

#[test]
fn the_sdk_and_the_example_plugins_follow_the_plugin_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in [root.join("src"), root.join("test-plugin/src"), root.join("../../plugins/rust")] {
        offenders(&dir, &mut found);
    }
    assert!(found.is_empty(), "plugin code must stay unloadable:\n{}", found.join("\n"));

    // The scan sees what it looks for.
    let tmp = tempdir();
    fs::write(tmp.join("bad.rs"), "fn f() { let _ = std::thread::current(); } // thread_local!\n")
        .unwrap();
    let mut found = Vec::new();
    offenders(&tmp, &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("bad.rs:1: thread::current"));
    fs::remove_dir_all(&tmp).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hookyard-sdk-tidy-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir
}
