//! Origin pools (`strategies.yaml`, `@strategy=`): `hookyard check`, host selection, retries,
//! host status (`ctl host down|up`, `ctl hosts`) and reloads, on the real binary with three
//! local origins.

use std::path::Path;

use crate::cli::hookyard;
use crate::support::config_dir;

/// `hookyard check --config DIR`: its exit code and output.
fn check(dir: &Path) -> (i32, String) {
    let output = hookyard(dir).args(["check", "--config", "."]).env("RUST_LOG", "off").output();
    let output = output.unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn check_validates_strategies_and_every_strategy_reference() {
    let good = config_dir(&[
        (
            "strategies.yaml",
            "hosts:\n  - &a\n    host: 127.0.0.1\n    protocol: [{scheme: http, port: 9}]\n\
             groups:\n  - &g\n    - <<: *a\n      weight: 2\n\
             strategies:\n  - strategy: pool\n    policy: consistent_hash\n    groups: [*g]\n",
        ),
        ("remap.config", "map http://site.test/ http://origin.test/ @strategy=pool\n"),
    ]);
    let (code, out) = check(good.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("strategies.yaml"), "the file is listed:\n{out}");

    let bad = config_dir(&[
        (
            "strategies.yaml",
            "strategies:\n  - strategy: pool\n    policy: fastest\n    groups: [[{host: a}]]\n",
        ),
        ("remap.config", "map http://site.test/ http://origin.test/ @strategy=pool\n"),
    ]);
    let (code, out) = check(bad.path());
    assert_eq!(code, 1, "{out}");
    let file = bad.path().join("strategies.yaml");
    assert!(out.contains(&format!("{}:3: unknown policy `fastest`", file.display())), "{out}");

    let unknown = config_dir(&[
        (
            "strategies.yaml",
            "strategies:\n  - strategy: pool\n    policy: latched\n    groups: [[{host: a}]]\n",
        ),
        (
            "remap.config",
            "map http://a.test/ http://o.test/ @strategy=pool\n\
             map http://b.test/ http://o.test/ @strategy=elsewhere\n",
        ),
    ]);
    let (code, out) = check(unknown.path());
    assert_eq!(code, 1, "{out}");
    let remap = unknown.path().join("remap.config");
    let expected =
        format!("{}:2: no strategy named 'elsewhere' is defined in the config", remap.display());
    assert!(out.contains(&expected), "{out}");
}
