//! Remap plugins through the proxy: the C example `add_header` and the recording test plugin,
//! loaded from a plugin directory, run in the rule's chain, refused with file:line when bad.

use std::path::{Path, PathBuf};

use hookyard_fixtures::{abi_include_dir, compile_c_with, recorder};
use tempfile::TempDir;

use crate::support::{Origin, config_dir, get, proxy, write};

/// A configuration directory whose `hookyard.yaml` points plugins and copies into it.
fn plugin_dir(remap: &str) -> TempDir {
    let dir = config_dir(&[("remap.config", remap)]);
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    let yaml = format!(
        "runtime_dir: {}\nplugin_dirs: [{}]\n",
        dir.path().join("run").display(),
        dir.path().join("plugins").display()
    );
    write(dir.path(), "hookyard.yaml", &yaml);
    dir
}

/// Builds the example C plugin `add_header` into `into/plugins/add_header.so`.
pub fn add_header(into: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/c/add_header.c");
    let out = into.join("plugins/add_header.so");
    compile_c_with(&source, &[], &[&abi_include_dir()], &out);
    out
}

#[tokio::test]
async fn add_header_adds_request_headers_the_origin_sees() {
    let origin = Origin::start("o").await;
    let remap = format!(
        "map http://site.test/ http://{}/ @plugin=add_header.so @pparam=X-Served-By:hookyard @pparam=X-Team:edge\n\
         map http://plain.test/ http://{}/\n",
        origin.addr, origin.addr
    );
    let dir = plugin_dir(&remap);
    add_header(dir.path());
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("x-served-by: hookyard"), "{}", answer.body);
    assert!(answer.body.contains("x-team: edge"), "{}", answer.body);
    let plain = get(proxy.addrs()[0], "plain.test", "/headers").await;
    assert!(!plain.body.contains("x-served-by"), "only the rule with the plugin: {}", plain.body);
}

/// A transaction with a remap plugin and no hooks passes its hook points without dispatch; a
/// direct response its plugin asks for as the origin answers (`os_response`) still ends it, as
/// READ_RESPONSE_HDR's dispatch ends one with hooks.
#[tokio::test]
async fn a_direct_response_asked_for_in_os_response_answers_the_client() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/ @plugin=os_direct.so\n", origin.addr);
    let dir = plugin_dir(&remap);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/os_direct.c");
    compile_c_with(&source, &[], &[&abi_include_dir()], &dir.path().join("plugins/os_direct.so"));
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.body, "answered by os_response\n");
}

#[tokio::test]
async fn a_plugin_that_sets_the_redirect_flag_redirects_to_the_request_url() {
    let origin = Origin::start("o").await;
    let remap = format!(
        "map http://go.test/ http://{}/there/ @plugin=recorder.so @pparam=status=1 @pparam=redirect\n",
        origin.addr
    );
    let dir = plugin_dir(&remap);
    std::fs::copy(recorder(&[]), dir.path().join("plugins/recorder.so")).unwrap();
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "go.test", "/page?x=1").await;
    assert_eq!(answer.status, 302);
    let location = answer.headers.get("location").unwrap().to_str().unwrap();
    assert_eq!(location, format!("http://{}/there/page?x=1", origin.addr));
}

#[tokio::test]
async fn a_failing_plugin_refuses_the_reload_and_the_old_rules_keep_serving() {
    let origin = Origin::start("o").await;
    let dir =
        plugin_dir(&format!("map http://site.test/ http://{}/ @plugin=recorder.so\n", origin.addr));
    std::fs::copy(recorder(&[]), dir.path().join("plugins/recorder.so")).unwrap();
    let proxy = proxy(Some(dir.path()));
    assert_eq!(get(proxy.addrs()[0], "site.test", "/a").await.status, 200);
    let rules = proxy.rules();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].rule.ends_with("@plugin=recorder.so"), "{:?}", rules[0]);
    assert_eq!(rules[0].plugins.len(), 1);
    assert!(rules[0].plugins[0].starts_with("recorder test (#"), "{:?}", rules[0].plugins);
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.plugins.len(), 1);
    assert_eq!(
        (
            report.plugins[0].path.as_str(),
            report.plugins[0].name.as_str(),
            report.plugins[0].status.as_str()
        ),
        ("recorder.so", "recorder", "reused"),
        "an unchanged plugin file is reused"
    );

    write(
        dir.path(),
        "remap.config",
        &format!(
            "map http://site.test/ http://{}/ @plugin=recorder.so @pparam=fail\n",
            origin.addr
        ),
    );
    let report = proxy.reload();
    assert!(!report.ok);
    assert!(report.plugins.is_empty(), "a refused reload reports no plugin of its own");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].ends_with(
            "remap.config:1: failed to create instance for plugin recorder.so: bad args"
        ),
        "{:?}",
        report.problems
    );
    assert_eq!(
        get(proxy.addrs()[0], "site.test", "/a").await.status,
        200,
        "still serving generation 1"
    );

    write(
        dir.path(),
        "remap.config",
        &format!("map http://site.test/ http://{}/ @plugin=missing.so\n", origin.addr),
    );
    let report = proxy.reload();
    assert!(
        report.problems[0]
            .contains("remap.config:1: plugin `missing.so` not found in the search directories"),
        "{:?}",
        report.problems
    );
}

#[test]
fn check_loads_and_initialises_plugins_in_a_scratch_directory() {
    let dir = plugin_dir(
        "map http://site.test/ http://127.0.0.1:9/ @plugin=add_header.so @pparam=X-A:b\n",
    );
    add_header(dir.path());
    let check = hookyard_proxy::check(dir.path());
    assert!(check.ok, "{:?}", check.problems);
    assert!(
        !dir.path().join("run").exists(),
        "check leaves no runtime directory of its own behind"
    );

    write(
        dir.path(),
        "remap.config",
        "map http://site.test/ http://127.0.0.1:9/ @plugin=add_header.so @pparam=no-colon\n",
    );
    let check = hookyard_proxy::check(dir.path());
    assert!(!check.ok);
    assert!(
        check.problems[0]
            .contains("remap.config:1: failed to create instance for plugin add_header.so"),
        "{:?}",
        check.problems
    );
}

/// Issue 9: requests keep flowing while 100 reloads alternate the plugin file between two
/// versions (replaced by rename, as deployment tools do). No request fails, every response came
/// from version 1 or 2, and afterwards exactly one version stays loaded with one copy on disk.
#[tokio::test]
async fn reloads_under_load_alternate_plugin_versions_without_a_failed_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use hookyard_fixtures::versioned;

    use crate::support::{Client, within};

    const RELOADS: usize = 100;
    const CLIENTS: usize = 4;

    let origin = Origin::start("o").await;
    let dir = plugin_dir(&format!(
        "map http://site.test/ http://{}/ @plugin=versioned.so\n",
        origin.addr
    ));
    let plugins = dir.path().join("plugins");
    let install = move |version: u32| {
        let staging = plugins.join(".versioned.so.tmp");
        std::fs::copy(versioned(version), &staging).unwrap();
        std::fs::rename(&staging, plugins.join("versioned.so")).unwrap();
    };
    install(1);
    let proxy = Arc::new(proxy(Some(dir.path())));
    let addr = proxy.addrs()[0];

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (stop, seen) = (stop.clone(), seen.clone());
        clients.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let answer = client.request("GET", "site.test", "/headers").await;
                match (
                    answer.status.as_u16(),
                    answer.body.contains("x-plugin-version: 1"),
                    answer.body.contains("x-plugin-version: 2"),
                ) {
                    (200, true, false) => seen[0].fetch_add(1, Ordering::Relaxed),
                    (200, false, true) => seen[1].fetch_add(1, Ordering::Relaxed),
                    _ => {
                        failures.push(format!("{} {}", answer.status, answer.body));
                        0
                    }
                };
            }
            failures
        }));
    }
    let reloader = {
        let proxy = proxy.clone();
        let seen = seen.clone();
        tokio::task::spawn_blocking(move || {
            let mut refused = Vec::new();
            for i in 0..RELOADS {
                // Let some requests through on each version before the next swap.
                let before = seen[0].load(Ordering::Relaxed) + seen[1].load(Ordering::Relaxed);
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while seen[0].load(Ordering::Relaxed) + seen[1].load(Ordering::Relaxed)
                    < before + CLIENTS
                    && std::time::Instant::now() < deadline
                {
                    std::thread::yield_now();
                }
                install(if i % 2 == 0 { 2 } else { 1 });
                let report = proxy.reload();
                if !report.ok {
                    refused.push(report.problems.join("; "));
                }
            }
            refused
        })
    };
    let refused = within("100 reloads", reloader).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for client in clients {
        failures.extend(within("the clients", client).await.unwrap());
    }
    assert!(refused.is_empty(), "refused reloads: {refused:?}");
    assert!(
        failures.is_empty(),
        "{} failed requests, first: {:?}",
        failures.len(),
        failures.first()
    );
    let (v1, v2) = (seen[0].load(Ordering::Relaxed), seen[1].load(Ordering::Relaxed));
    assert!(v1 > 0 && v2 > 0, "both versions served: {v1} / {v2}");
    eprintln!("{RELOADS} reloads under load: {v1} responses from v1, {v2} from v2, 0 failed");

    // The last install was version 1 (100 swaps from 1). Once the old generations are gone,
    // exactly one version stays loaded, with one copy on disk. A version a reload dropped is
    // retired and never reused, so the last v1 is a fresh copy; the clients' connections, still
    // closing on the proxy's side, may hold an older one a moment longer.
    crate::support::wait_for("the old versions unloaded", || {
        proxy.settle_plugins();
        proxy.plugin_versions().len() == 1
    })
    .await;
    let versions = proxy.plugin_versions();
    assert_eq!(versions.len(), 1, "{versions:#?}");
    assert_eq!(versions[0].state, hookyard_dso::VersionState::Live);
    let copies: Vec<_> = std::fs::read_dir(dir.path().join("run/plugins"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_dir())
        .collect();
    assert_eq!(copies.len(), 1, "one runtime copy left");
    let answer = get(addr, "site.test", "/headers").await;
    assert!(answer.body.contains("x-plugin-version: 1"), "{}", answer.body);
}

/// The Rust example `rewrite`, built with the SDK, through the proxy's real host table.
#[tokio::test]
async fn the_rust_rewrite_example_rewrites_redirects_and_denies() {
    let origin = Origin::start("o").await;
    let dir = plugin_dir(&format!(
        "map http://site.test/ http://{}/ @plugin=rewrite.so \
         @pparam=deny=/admin/ @pparam=redirect=/old/:/new/ @pparam=rewrite=/v1/:/api/v1/\n",
        origin.addr
    ));
    let built = hookyard_fixtures::rust_cdylib("hookyard-plugin-rewrite", "rewrite");
    std::fs::copy(built, dir.path().join("plugins/rewrite.so")).unwrap();
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];

    let rewritten = get(addr, "site.test", "/v1/users?id=7").await;
    assert_eq!(rewritten.status, 200, "{}", rewritten.body);
    assert_eq!(rewritten.body, format!("o GET /api/v1/users?id=7 host={}", origin.addr));
    let denied = get(addr, "site.test", "/admin/panel").await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    let redirected = get(addr, "site.test", "/old/page").await;
    assert_eq!(redirected.status, 302);
    let location = redirected.headers.get("location").unwrap().to_str().unwrap();
    assert!(location.ends_with("/new/page"), "{location}");
    let untouched = get(addr, "site.test", "/other").await;
    assert_eq!(untouched.body, format!("o GET /other host={}", origin.addr));
}
