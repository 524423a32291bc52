//! Ordering constraints (`before`/`after` in `plugin.yaml`) through the proxy: the order the
//! callbacks run in on a real request, `ctl hooks` saying why, and bad constraints refused by
//! `check` and by a reload with `plugin.yaml:LINE`.

use std::process::Command;

use hookyard_proxy::AdminSocket;

use crate::hooks::{all, probe, setup};
use crate::support::{Origin, get, proxy, proxy_with, write};

/// alpha (priority 10) and beta (20): by priority beta's callbacks run first.
const PRIORITIES: &str = "priorities:\n  plugins:\n    - { name: alpha, priority: 10, max_priority: 30 }\n    - { name: beta, priority: 20, max_priority: 20 }\n";

#[tokio::test]
async fn a_before_constraint_in_a_plugins_entry_beats_priorities() {
    let origin = Origin::start("o").await;
    let yaml = format!(
        "plugins:\n  - path: alpha.so\n    before: [beta]\n  - path: beta.so\n{PRIORITIES}"
    );
    let dir = setup(&origin, &yaml, &[("alpha", "alpha.so"), ("beta", "beta.so")]);
    let admin = dir.path().join("admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(admin.clone()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // SEND_RESPONSE_HDR stamps in the order the callbacks ran: alpha first, as constrained.
    assert_eq!(all(&answer, "x-probe-order"), ["alpha", "beta"]);
    let hooks = hookyard_proxy::ctl::call(&admin, "hooks").unwrap();
    let text = hookyard_proxy::ctl::render("hooks", &hooks);
    assert!(
        text.contains("alpha") && text.contains("before beta (plugin.yaml:3)"),
        "ctl hooks must say why:\n{text}"
    );
    assert!(text.contains("after alpha (plugin.yaml:3)"), "{text}");
}

#[tokio::test]
async fn a_per_hook_constraint_orders_that_hook_only() {
    let origin = Origin::start("o").await;
    let yaml = format!(
        "plugins:\n  - path: alpha.so\n  - path: beta.so\n{PRIORITIES}    - name: gamma\n      priority: 0\n      max_priority: 30\n      hooks:\n        SEND_RESPONSE_HDR: {{ after: [alpha] }}\n"
    );
    let dir = setup(&origin, &yaml, &[("alpha", "alpha.so"), ("beta", "beta.so")]);
    // A `priorities.plugins` entry constraining another plugin: gamma is loaded too.
    probe(dir.path(), "gamma", "gamma.so");
    let yaml = yaml.replace("  - path: beta.so\n", "  - path: beta.so\n  - path: gamma.so\n");
    write(dir.path(), "plugin.yaml", &yaml);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // gamma (priority 0) runs after alpha (10) anyway; beta (20) first by priority.
    assert_eq!(all(&answer, "x-probe-order"), ["beta", "alpha", "gamma"]);
    // Now put beta after gamma on SEND_RESPONSE_HDR: transitively after alpha too.
    let yaml = yaml.replace(
        "    - { name: beta, priority: 20, max_priority: 20 }\n",
        "    - { name: beta, priority: 20, max_priority: 20, hooks: { SEND_RESPONSE_HDR: { after: [gamma] } } }\n",
    );
    write(dir.path(), "plugin.yaml", &yaml);
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(all(&answer, "x-probe-order"), ["alpha", "gamma", "beta"]);
}

#[tokio::test]
async fn a_bad_constraint_refuses_the_reload_and_the_old_order_stays() {
    let origin = Origin::start("o").await;
    let yaml = format!("plugins:\n  - path: alpha.so\n  - path: beta.so\n{PRIORITIES}");
    let dir = setup(&origin, &yaml, &[("alpha", "alpha.so"), ("beta", "beta.so")]);
    let proxy = proxy(Some(dir.path()));
    let cases = [
        (
            "plugins:\n  - path: alpha.so\n    before: [beta]\n  - path: beta.so\n    before: [alpha]\n",
            "plugin.yaml:3: ordering cycle on every hook: alpha before beta (plugin.yaml:3), beta before alpha (plugin.yaml:5)",
        ),
        (
            "plugins:\n  - path: alpha.so\n    after: [betta]\n  - path: beta.so\n",
            "plugin.yaml:3: `betta` is no plugin of this configuration (plugins: alpha, beta)",
        ),
        ("plugins:\n  - path: alpha.so\n  - path: beta.so\n    before: [alpha]\n", ""),
    ];
    for (plugins, expected) in cases {
        write(dir.path(), "plugin.yaml", &format!("{plugins}{PRIORITIES}"));
        let report = proxy.reload();
        if expected.is_empty() {
            // beta's ceiling (20) is not below alpha's priority (10): allowed.
            assert!(report.ok, "{:?}", report.problems);
            continue;
        }
        assert!(!report.ok);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].ends_with(expected), "{:?}", report.problems);
        let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
        assert_eq!(answer.status, 200);
    }
    // gamma (default ceiling 0) may not run before alpha (priority 10).
    probe(dir.path(), "gamma", "gamma.so");
    write(
        dir.path(),
        "plugin.yaml",
        &format!(
            "plugins:\n  - path: alpha.so\n  - path: beta.so\n  - path: gamma.so\n    before: [alpha]\n{PRIORITIES}"
        ),
    );
    let report = proxy.reload();
    assert!(!report.ok);
    assert!(
        report.problems[0].ends_with(
            "plugin.yaml:5: `gamma` before `alpha` contradicts a ceiling: `gamma`'s max_priority 0 is below `alpha`'s priority 10"
        ),
        "{:?}",
        report.problems
    );
}

#[test]
fn check_reports_a_cycle_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    probe(dir.path(), "alpha", "alpha.so");
    probe(dir.path(), "beta", "beta.so");
    write(
        dir.path(),
        "hookyard.yaml",
        &format!("plugin_dirs: [{}]\n", dir.path().join("plugins").display()),
    );
    write(
        dir.path(),
        "plugin.yaml",
        "plugins:\n  - path: alpha.so\n    hooks: { READ_REQUEST_HDR: { before: [beta] } }\n  - path: beta.so\n    after: [alpha]\n    before: [alpha]\n",
    );
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hookyard"))
        .args(["check", "--config"])
        .arg(dir.path())
        .env("RUST_LOG", "off")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("plugin.yaml:5: ordering cycle on every hook: alpha before beta (plugin.yaml:5), beta before alpha (plugin.yaml:6)"),
        "{stdout}"
    );
}
