//! Plugin retirement through the proxy: a reload retires the versions it drops, and
//! `hookyard ctl plugin retire NAME [--force]` retires a plugin's versions on demand. Retired
//! versions drain for `retirement.drain`, then their events are dropped (counted in `ctl plugins`
//! and the metrics), transactions go on (or fail with `retirement.dropped_hook: error`), and the
//! code unloads when the last reference goes. Uses the C `hook_probe` plugin.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::Ordering;

use hookyard_fixtures::mapped;
use hookyard_proxy::{AdminSocket, PluginVersion, ServerHandle};
use tempfile::TempDir;

use crate::hooks::{all, setup};
use crate::support::{Client, Origin, get, proxy, proxy_with, wait_for, within, write};

/// `setup`'s configuration with `extra` appended to its `hookyard.yaml`.
fn configured(origin: &Origin, plugin_yaml: &str, extra: &str) -> TempDir {
    let dir = setup(origin, plugin_yaml, &[("alpha", "alpha.so")]);
    let yaml = std::fs::read_to_string(dir.path().join("hookyard.yaml")).unwrap();
    write(dir.path(), "hookyard.yaml", &format!("{yaml}{extra}"));
    dir
}

/// The loaded versions of plugin `name`, as `ctl plugins` lists them.
fn versions(proxy: &ServerHandle, name: &str) -> Vec<PluginVersion> {
    proxy.plugins().into_iter().filter(|v| v.name == name).collect()
}

/// The one loaded version of `name`.
fn only(proxy: &ServerHandle, name: &str) -> PluginVersion {
    let mut found = versions(proxy, name);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// The version with loader id `id`, if still loaded.
fn by_id(proxy: &ServerHandle, id: u64) -> Option<PluginVersion> {
    proxy.plugins().into_iter().find(|v| v.id == id)
}

/// Runs `hookyard ctl --admin ADMIN ARGS...` (the real binary) off the test's runtime.
async fn ctl(admin: &Path, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hookyard"));
    command.arg("ctl").arg("--admin").arg(admin).args(args).env_remove("RUST_LOG");
    within("hookyard ctl", tokio::task::spawn_blocking(move || command.output().unwrap()))
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The metric line of `plugin`'s dropped events, its value.
fn dropped_metric(proxy: &ServerHandle, plugin: &str) -> Option<u64> {
    let prefix =
        format!("hookyard_plugin_events_dropped_total{{plugin=\"{plugin}\",version=\"1.0.0\"}} ");
    let metrics = proxy.metrics_text();
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap())
}

/// (a) A reload drops a global plugin with a periodic scheduled continuation: during the drain
/// its events still dispatch (its ticks, and the hooks of a transaction still on the old
/// generation); after it the next tick is dropped, counted and shown.
#[tokio::test]
async fn a_reload_retires_a_dropped_plugin_which_drains_then_drops_its_events() {
    let origin = Origin::start("o").await;
    let yaml = "plugins:\n  - path: alpha.so\n    params: [tick=20, linger]\n";
    let dir = configured(&origin, yaml, "retirement:\n  drain: 2s\n");
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let before = only(&proxy, "alpha");
    assert_eq!((before.retirement.as_str(), before.dropped_events), ("active", 0));
    assert_eq!(dropped_metric(&proxy, "alpha"), Some(0));

    // A transaction on generation 1, held at the origin across the reload.
    let slow = tokio::spawn(async move { get(addr, "site.test", "/slow").await });
    wait_for("the slow request at the origin", || origin.slow_waiting.load(Ordering::SeqCst) == 1)
        .await;
    write(dir.path(), "plugin.yaml", "plugins: []\n");
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    assert!(all(&get(addr, "site.test", "/").await, "x-probe-order").is_empty(), "not serving");

    let retired = only(&proxy, "alpha");
    assert_eq!(retired.retirement, "retired", "{retired:?}");
    assert!(retired.drain_left_ms.is_some_and(|ms| ms <= 2000), "{retired:?}");
    // Its ticks go on while it drains.
    let ticks = retired.scheduled_events;
    wait_for("ticks during the drain", || only(&proxy, "alpha").scheduled_events >= ticks + 3)
        .await;
    origin.release();
    let answer = within("the slow request", slow).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(all(&answer, "x-probe-order"), ["alpha"], "its hook ran for the old generation");
    let draining = only(&proxy, "alpha");
    assert_eq!(
        (draining.retirement.as_str(), draining.dropped_events),
        ("retired", 0),
        "all of that happened during the drain: {draining:?}"
    );

    // Past the deadline the next tick is dropped (and, not dispatched, schedules no other).
    wait_for("a dropped tick", || only(&proxy, "alpha").dropped_events == 1).await;
    let after = only(&proxy, "alpha");
    assert_eq!(after.retirement, "force-retired", "{after:?}");
    assert_eq!(after.drain_left_ms, None);
    assert_eq!(dropped_metric(&proxy, "alpha"), Some(1));
    assert_eq!(after.id, before.id);
}

/// Past the drain, a transaction still on the retired version's generation runs without its
/// hooks (as if they answered CONTINUE); when that generation ends the version is done and its
/// code unloads.
#[tokio::test]
async fn a_retired_version_whose_generation_ended_unloads() {
    let origin = Origin::start("o").await;
    let dir =
        configured(&origin, "plugins:\n  - path: alpha.so\n", "retirement:\n  drain: 300ms\n");
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let version = only(&proxy, "alpha");
    let slow = tokio::spawn(async move { get(addr, "site.test", "/slow").await });
    wait_for("the slow request at the origin", || origin.slow_waiting.load(Ordering::SeqCst) == 1)
        .await;
    write(dir.path(), "plugin.yaml", "plugins: []\n");
    assert!(proxy.reload().ok);
    wait_for("the drain to end", || only(&proxy, "alpha").retirement == "force-retired").await;

    origin.release();
    let answer = within("the slow request", slow).await.unwrap();
    assert_eq!(answer.status, 200, "a dropped hook goes on: {}", answer.body);
    assert!(all(&answer, "x-probe-order").is_empty(), "its SEND_RESPONSE_HDR was dropped");
    // SEND_RESPONSE_HDR, the transaction's own callback, TXN_CLOSE.
    wait_for("the dropped hooks counted", || {
        by_id(&proxy, version.id).is_none_or(|v| v.dropped_events >= 3)
    })
    .await;

    let runtime = std::path::PathBuf::from(&version.runtime_path);
    wait_for("the retired version unloaded", || {
        proxy.settle_plugins();
        by_id(&proxy, version.id).is_none()
    })
    .await;
    assert!(!mapped(&runtime), "its code is unmapped");
    assert!(!runtime.exists(), "its runtime copy is removed");
}

/// (b) `ctl plugin retire NAME --force` on a serving plugin is a kill switch: the generation
/// keeps serving without it, and its dropped events are counted.
/// (e) A reload that still lists it loads its file again as a fresh version, which runs.
#[tokio::test]
async fn a_forced_retire_is_a_kill_switch_until_a_reload_loads_a_fresh_version() {
    let origin = Origin::start("o").await;
    let dir = configured(&origin, "plugins:\n  - path: alpha.so\n", "");
    let admin = dir.path().join("admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(admin.clone()));
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    let answer = client.request("GET", "site.test", "/headers").await;
    assert!(answer.body.contains("x-probe: alpha"), "{}", answer.body);
    let old = only(&proxy, "alpha");

    let out = ctl(&admin, &["plugin", "retire", "alpha", "--force"]).await;
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains(&format!("#{}", old.id)) && said.contains("alpha"), "{said}");
    assert!(said.contains("force-retired"), "{said}");

    for _ in 0..3 {
        let answer = client.request("GET", "site.test", "/headers").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(!answer.body.contains("x-probe"), "its callbacks no longer run: {}", answer.body);
        assert!(all(&answer, "x-probe-order").is_empty());
    }
    let fresh = get(addr, "site.test", "/headers").await;
    assert!(!fresh.body.contains("x-probe"), "a new connection too: {}", fresh.body);
    let killed = only(&proxy, "alpha");
    assert_eq!(killed.retirement, "force-retired");
    // Per request at least READ_REQUEST_HDR and SEND_RESPONSE_HDR.
    assert!(killed.dropped_events >= 8, "{killed:?}");
    assert!(dropped_metric(&proxy, "alpha").unwrap() >= 8);
    let listed = ctl(&admin, &["plugins"]).await;
    let listed = text(&listed.stdout);
    assert!(listed.contains("force-retired") && listed.contains("dropped="), "{listed}");

    // The plugin is still listed: a reload loads its file anew, and the fresh version runs.
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    let statuses: Vec<&str> = report.plugins.iter().map(|p| p.status.as_str()).collect();
    assert_eq!(statuses, ["loaded"], "{report:?}");
    let answer = get(addr, "site.test", "/headers").await;
    assert!(answer.body.contains("x-probe: alpha"), "{}", answer.body);
    assert_eq!(all(&answer, "x-probe-order"), ["alpha"]);
    let current = versions(&proxy, "alpha");
    let new = current.iter().find(|v| v.id != old.id).unwrap();
    assert_eq!((new.retirement.as_str(), new.dropped_events), ("active", 0), "{current:?}");
    assert_ne!(new.runtime_path, old.runtime_path, "a fresh copy");

    drop(client);
    wait_for("the killed version unloaded", || {
        proxy.settle_plugins();
        by_id(&proxy, old.id).is_none()
    })
    .await;
    assert!(!mapped(Path::new(&old.runtime_path)));
}

/// (c) With `retirement.dropped_hook: error`, a transaction whose hook of a retired plugin was
/// dropped answers 500, as for a hook that answered ERROR.
#[tokio::test]
async fn a_dropped_hook_fails_the_transaction_when_configured() {
    let origin = Origin::start("o").await;
    let yaml = "plugins:\n  - path: alpha.so\n";
    let dir = configured(&origin, yaml, "retirement:\n  dropped_hook: error\n");
    let admin = dir.path().join("admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(admin.clone()));
    let addr = proxy.addrs()[0];
    assert_eq!(get(addr, "site.test", "/").await.status, 200);
    let config = ctl(&admin, &["--json", "config"]).await;
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap();
    assert_eq!(config["retirement"]["dropped_hook"], "error", "{config}");

    let out = ctl(&admin, &["plugin", "retire", "alpha", "--force"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    for _ in 0..3 {
        let answer = get(addr, "site.test", "/headers").await;
        assert_eq!(answer.status, 500, "{}", answer.body);
        assert!(all(&answer, "x-probe-order").is_empty());
    }
    assert!(only(&proxy, "alpha").dropped_events >= 3);
}

/// (d) Without `--force` the plugin keeps running until the drain deadline, then its events
/// are dropped.
#[tokio::test]
async fn a_retire_without_force_drains_first() {
    let origin = Origin::start("o").await;
    let dir = configured(&origin, "plugins:\n  - path: alpha.so\n", "retirement:\n  drain: 1s\n");
    let admin = dir.path().join("admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(admin.clone()));
    let mut client = Client::connect(proxy.addrs()[0]).await;
    assert_eq!(client.request("GET", "site.test", "/").await.status, 200);

    let out = ctl(&admin, &["--json", "plugin", "retire", "alpha"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let retired: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(retired[0]["name"], "alpha", "{retired}");
    assert_eq!(retired[0]["state"], "retired", "{retired}");
    assert!(retired[0]["drain_left_ms"].as_u64().is_some_and(|ms| ms <= 1000), "{retired}");

    let answer = client.request("GET", "site.test", "/").await;
    assert_eq!(all(&answer, "x-probe-order"), ["alpha"], "still dispatched while it drains");
    let draining = only(&proxy, "alpha");
    assert_eq!((draining.retirement.as_str(), draining.dropped_events), ("retired", 0));

    wait_for("the drain deadline", || only(&proxy, "alpha").retirement == "force-retired").await;
    let answer = client.request("GET", "site.test", "/").await;
    assert_eq!(answer.status, 200);
    assert!(all(&answer, "x-probe-order").is_empty(), "dropped after the deadline");
    assert!(only(&proxy, "alpha").dropped_events >= 2);
}

/// (f) An unknown name is an error naming it and the loaded plugins; nothing is retired.
#[tokio::test]
async fn retiring_an_unknown_plugin_fails() {
    let origin = Origin::start("o").await;
    let dir = configured(&origin, "plugins:\n  - path: alpha.so\n", "");
    let admin = dir.path().join("admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(admin.clone()));
    let out = ctl(&admin, &["plugin", "retire", "gamma", "--force"]).await;
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(said.contains("`gamma`") && said.contains("loaded: alpha"), "{said}");
    assert_eq!(only(&proxy, "alpha").retirement, "active");
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(all(&answer, "x-probe-order"), ["alpha"]);
}

/// In static mode (`dynamic_reload: false`) a file has one image: a reload that still lists a
/// retired plugin keeps the retired version, and its report says so.
#[tokio::test]
async fn static_mode_keeps_a_retired_version_and_says_so() {
    let origin = Origin::start("o").await;
    let dir = configured(&origin, "plugins:\n  - path: alpha.so\n", "dynamic_reload: false\n");
    let proxy = proxy(Some(dir.path()));
    let old = only(&proxy, "alpha");
    let retired = proxy.retire("alpha", true).unwrap();
    assert_eq!(retired.len(), 1);
    assert_eq!((retired[0].id, retired[0].state.as_str()), (old.id, "force-retired"));

    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.plugins[0].status, "retired", "{report:?}");
    assert!(
        report.notes.iter().any(|n| n.contains("alpha") && n.contains("retired")),
        "{:?}",
        report.notes
    );
    assert_eq!(only(&proxy, "alpha").id, old.id);
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert!(all(&answer, "x-probe-order").is_empty(), "its events stay dropped");
}

/// A serving remap plugin retired for good is skipped by its rule's chain (as NO_REMAP): the rule
/// keeps serving without it, and the skipped calls are counted.
#[tokio::test]
async fn a_forced_retire_of_a_remap_plugin_skips_its_do_remap() {
    let origin = Origin::start("o").await;
    let dir = configured(&origin, "plugins: []\n", "");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/c/add_header.c");
    let out = dir.path().join("plugins/add_header.so");
    hookyard_fixtures::compile_c_with(&source, &[], &[&hookyard_fixtures::abi_include_dir()], &out);
    let remap = format!(
        "map http://site.test/ http://{}/ @plugin=add_header.so @pparam=X-Added:yes\n",
        origin.addr
    );
    write(dir.path(), "remap.config", &remap);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    assert!(get(addr, "site.test", "/headers").await.body.contains("x-added: yes"));

    let retired = proxy.retire("add_header", true).unwrap();
    assert_eq!(retired.len(), 1, "{retired:?}");
    for _ in 0..2 {
        let answer = get(addr, "site.test", "/headers").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(!answer.body.contains("x-added"), "{}", answer.body);
    }
    let killed = only(&proxy, "add_header");
    assert_eq!((killed.kind.as_str(), killed.retirement.as_str()), ("remap", "force-retired"));
    // Per request: do_remap, and the origin's answer told to the chain's first plugin.
    assert_eq!(killed.dropped_events, 4);
    assert_eq!(dropped_metric(&proxy, "add_header"), Some(4));
}
