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

/// Builds `tests/plugins/order_probe.c` as plugin `name` into `dir/plugins/<name>.so`.
fn order_probe(dir: &std::path::Path, name: &str) {
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/order_probe.c");
    let out = dir.join("plugins").join(format!("{name}.so"));
    let define = format!("-DPROBE_NAME=\"{name}\"");
    hookyard_fixtures::compile_c_with(
        &source,
        &[&define],
        &[&hookyard_fixtures::abi_include_dir()],
        &out,
    );
}

/// a (priority 20, ceiling 50), b (10, 10), c (7, 7), each an `order_probe` with `params`.
async fn three(
    origin: &Origin,
    params: [&str; 3],
) -> (tempfile::TempDir, hookyard_proxy::ServerHandle) {
    let [a, b, c] = params;
    let yaml = format!(
        "plugins:\n  - {{ path: a.so, params: [{a}] }}\n  - {{ path: b.so, params: [{b}] }}\n  - {{ path: c.so, params: [{c}] }}\n\
         priorities:\n  plugins:\n    - {{ name: a, priority: 20, max_priority: 50 }}\n    - {{ name: b, priority: 10, max_priority: 10 }}\n    - {{ name: c, priority: 7, max_priority: 7 }}\n"
    );
    let dir = setup(origin, &yaml, &[]);
    for name in ["a", "b", "c"] {
        order_probe(dir.path(), name);
    }
    let proxy = proxy(Some(dir.path()));
    (dir, proxy)
}

#[tokio::test]
async fn a_plugin_orders_plugins_it_outranks_for_one_transaction() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = three(&origin, ["order=b>a", "", ""]).await;
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(all(&answer, "x-order-set"), ["a=0"]);
    // a (20) would run first; its transaction constraint puts b (10) before it.
    assert_eq!(all(&answer, "x-order"), ["b", "a", "c"]);
}

#[tokio::test]
async fn ordering_a_plugin_above_the_callers_ceiling_is_refused() {
    let origin = Origin::start("o").await;
    // b's ceiling (10) is not above a's (50): b may not put itself before a.
    let (_dir, proxy) = three(&origin, ["", "order=b>a", "order=c>b"]).await;
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(all(&answer, "x-order-set"), ["b=-1", "c=-1"]);
    assert_eq!(all(&answer, "x-order"), ["a", "b", "c"]);
}

#[tokio::test]
async fn a_session_constraint_orders_every_transaction_of_the_session() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = three(&origin, ["ssn-order=c>a", "", ""]).await;
    let mut client = crate::support::Client::connect(proxy.addrs()[0]).await;
    for _ in 0..2 {
        let answer = client.request("GET", "site.test", "/").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(all(&answer, "x-order"), ["b", "c", "a"]);
    }
}

#[tokio::test]
async fn a_plugin_changes_the_priority_of_a_plugin_it_outranks_for_the_generation() {
    let origin = Origin::start("o").await;
    // a lowers b below c; c may not touch a; a may not raise b above b's own ceiling.
    let (_dir, proxy) = three(&origin, ["priority-of=b:5", "", "priority-of=a:1"]).await;
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(all(&answer, "x-priority-of"), ["b=0,5/10", "a=-1,20/50"]);
    assert_eq!(all(&answer, "x-order"), ["a", "c", "b"]);
    // Never above the target's own ceiling (b's max_priority 10).
    let (_dir, proxy) = three(&origin, ["priority-of=b:11", "", ""]).await;
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(all(&answer, "x-priority-of"), ["b=-1,10/10"]);
    assert_eq!(all(&answer, "x-order"), ["a", "b", "c"]);
}
