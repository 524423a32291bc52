//! Global plugins and hook dispatch through the proxy, with the C `hook_probe` test plugin
//! (`tests/plugins/hook_probe.c`) built under two names: priorities, transaction hooks, pending
//! callbacks resumed from another thread, per-transaction disable, direct responses, failures,
//! TXN_CLOSE, scheduled continuations, reloads of a changed global plugin.

use std::path::{Path, PathBuf};

use hookyard_fixtures::{abi_include_dir, compile_c_with, mapped};
use tempfile::TempDir;

use hookyard_proxy::AdminSocket;

use crate::support::{Answer, Client, Origin, config_dir, get, proxy, proxy_with, raw, write};

/// Builds the probe as plugin `name` into `dir/plugins/<file>`.
pub fn probe(dir: &Path, name: &str, file: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/hook_probe.c");
    let out = dir.join("plugins").join(file);
    let define = format!("-DPROBE_NAME=\"{name}\"");
    compile_c_with(&source, &[&define], &[&abi_include_dir()], &out);
    out
}

/// A configuration directory with one map to `origin` and the given `plugin.yaml`.
pub fn setup(origin: &Origin, plugin_yaml: &str, probes: &[(&str, &str)]) -> TempDir {
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir = config_dir(&[("remap.config", &remap), ("plugin.yaml", plugin_yaml)]);
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    let yaml = format!(
        "runtime_dir: {}\nplugin_dirs: [{}]\n",
        dir.path().join("run").display(),
        dir.path().join("plugins").display()
    );
    write(dir.path(), "hookyard.yaml", &yaml);
    for (name, file) in probes {
        probe(dir.path(), name, file);
    }
    dir
}

pub fn all(answer: &Answer, name: &str) -> Vec<String> {
    answer.headers.get_all(name).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

const TWO: &str = "plugins:\n  - path: alpha.so\n  - path: beta.so\n\
priorities:\n  plugins:\n    - name: alpha\n      max_priority: 10\n      priority: 10\n    \
- name: beta\n      max_priority: 100\n      priority: 20\n";

#[tokio::test]
async fn global_hooks_run_in_priority_order_with_transaction_hooks_and_txn_close() {
    let origin = Origin::start("o").await;
    let dir = setup(&origin, TWO, &[("alpha", "alpha.so"), ("beta", "beta.so")]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("x-probe: beta"), "{}", answer.body);
    assert!(answer.body.contains("x-probe: alpha"), "{}", answer.body);
    // beta (priority 20) before alpha (10), although alpha is listed (and loaded) first.
    assert_eq!(all(&answer, "x-probe-order"), ["beta", "alpha"]);
    assert_eq!(all(&answer, "x-probe-txn"), ["beta", "alpha"]);
    let hooks = proxy.hooks();
    let send = hooks.iter().find(|h| h.hook == "SEND_RESPONSE_HDR").unwrap();
    let listed: Vec<(&str, i32, &str)> =
        send.callbacks.iter().map(|c| (c.plugin.as_str(), c.priority, c.level.as_str())).collect();
    assert_eq!(listed, [("beta", 20, "global"), ("alpha", 10, "global")]);
    let plugins = proxy.plugins();
    let shown: Vec<(&str, &str, u64)> =
        plugins.iter().map(|p| (p.name.as_str(), p.kind.as_str(), p.continuations)).collect();
    // Each build made three continuations in init (global hooks, transaction hook, timer).
    assert_eq!(shown, [("alpha", "global", 3), ("beta", "global", 3)]);
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(proxy.hooks(), hooks, "reused versions keep their registrations and ids");
    let kinds: Vec<(&str, &str)> =
        report.plugins.iter().map(|p| (p.name.as_str(), p.status.as_str())).collect();
    assert_eq!(kinds, [("alpha", "reused"), ("beta", "reused")]);
    // TXN_CLOSE of earlier transactions ran (after their bodies were sent), and the
    // continuation each build scheduled in init ran once, on the host's scheduler.
    let addr = proxy.addrs()[0];
    let mut last = Vec::new();
    for _ in 0..100 {
        let answer = get(addr, "site.test", "/headers").await;
        let closed: Vec<u32> =
            all(&answer, "x-probe-closed").iter().map(|v| v.parse().unwrap()).collect();
        last =
            [closed.iter().map(ToString::to_string).collect(), all(&answer, "x-probe-scheduled")]
                .concat();
        if closed.iter().all(|c| *c >= 1) && all(&answer, "x-probe-scheduled") == ["1", "1"] {
            let metrics = proxy.metrics_text();
            for series in [
                "hookyard_plugin_hook_seconds_count{plugin=\"alpha\",version=\"1.0.0\",hook=\"READ_REQUEST_HDR\"}",
                "hookyard_plugin_hook_seconds_bucket{plugin=\"beta\",version=\"1.0.0\",hook=\"TXN_CLOSE\",le=\"+Inf\"}",
                "hookyard_plugin_versions{state=\"live\"} 2",
            ] {
                assert!(metrics.contains(series), "{series} missing in:\n{metrics}");
            }
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("TXN_CLOSE or the scheduled event never seen: {last:?}");
}

#[tokio::test]
async fn a_pending_hook_is_resumed_from_another_thread() {
    let origin = Origin::start("o").await;
    let yaml = "plugins:\n  - path: alpha.so\n    params: [pending]\n";
    let dir = setup(&origin, yaml, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    for _ in 0..3 {
        let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains("x-probe-resumed: alpha"), "{}", answer.body);
    }
}

#[tokio::test]
async fn a_plugin_disables_another_for_one_transaction() {
    let origin = Origin::start("o").await;
    let yaml = format!(
        "plugins:\n  - path: alpha.so\n  - path: beta.so\n    params: [disable=alpha]\n{}",
        &TWO[TWO.find("priorities").unwrap()..]
    );
    let dir = setup(&origin, &yaml, &[("alpha", "alpha.so"), ("beta", "beta.so")]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("x-probe: beta"), "{}", answer.body);
    assert!(!answer.body.contains("x-probe: alpha"), "alpha is off: {}", answer.body);
    assert_eq!(all(&answer, "x-probe-order"), ["beta"]);
}

#[tokio::test]
async fn direct_responses_and_failures_answer_without_the_origin() {
    let origin = Origin::start("o").await;
    let yaml = "plugins:\n  - path: alpha.so\n    params: [deny]\n";
    let dir = setup(&origin, yaml, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body, "denied\n");
    assert_eq!(all(&answer, "x-denied-by"), ["alpha"]);
    assert_eq!(all(&answer, "x-probe-order"), ["alpha"], "SEND_RESPONSE_HDR runs too");

    write(dir.path(), "plugin.yaml", "plugins:\n  - path: beta.so\n    params: [fail]\n");
    probe(dir.path(), "beta", "beta.so");
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(all(&answer, "x-probe-order"), ["beta"]);
}

/// A 1xx status is no final response: HTTP/1 framing has no room for it (hyper would answer
/// 101 as a protocol switch). Plugins cannot answer with one nor set one on the client response;
/// other statuses work as before.
#[tokio::test]
async fn a_plugin_cannot_answer_with_or_set_a_1xx_status() {
    let origin = Origin::start("o").await;
    let request = b"GET /headers HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n";
    for status in ["101", "100", "199"] {
        let yaml = format!("plugins:\n  - path: alpha.so\n    params: [status={status}]\n");
        let dir = setup(&origin, &yaml, &[("alpha", "alpha.so")]);
        let proxy = proxy(Some(dir.path()));
        let answer = raw(proxy.addrs()[0], request, "").await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{status}: {answer:?}");
        assert!(answer.contains(&format!("x-direct-refused: {status}")), "{status}: {answer:?}");
        assert!(answer.contains("\r\nx-status-set: refused\r\n"), "{status}: {answer:?}");
    }
    let yaml = "plugins:\n  - path: alpha.so\n    params: [status=418]\n";
    let dir = setup(&origin, yaml, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let answer = raw(proxy.addrs()[0], request, "").await;
    assert!(answer.starts_with("HTTP/1.1 418 I'm a teapot\r\n"), "{answer:?}");
    assert!(answer.contains("\r\nx-status-set: ok\r\n"), "{answer:?}");
    assert!(answer.ends_with("\r\n\r\ndirect\n"), "{answer:?}");
}

#[tokio::test]
async fn a_failing_init_refuses_the_reload_and_a_changed_plugin_loads_beside_the_old() {
    let origin = Origin::start("o").await;
    let yaml = "plugins:\n  - path: alpha.so\n";
    let dir = setup(&origin, yaml, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    assert_eq!(all(&get(proxy.addrs()[0], "site.test", "/").await, "x-probe-order"), ["alpha"]);
    let first = proxy.plugin_versions();
    assert_eq!(first.len(), 1);

    write(
        dir.path(),
        "plugin.yaml",
        "plugins:\n  - path: alpha.so\n  - path: beta.so\n    params: [init-fails]\n",
    );
    probe(dir.path(), "beta", "beta.so");
    let report = proxy.reload();
    assert!(!report.ok);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].contains("plugin.yaml:3:")
            && report.problems[0].contains("init refused on purpose"),
        "{:?}",
        report.problems
    );
    assert_eq!(
        all(&get(proxy.addrs()[0], "site.test", "/").await, "x-probe-order"),
        ["alpha"],
        "the old generation still serves"
    );

    // A rebuilt file (new content) is a new version: it loads beside the old, which is done and
    // unloaded once nothing uses it.
    write(dir.path(), "plugin.yaml", "plugins:\n  - path: alpha.so\n");
    let replacement = probe(dir.path(), "gamma", "alpha.so.new");
    std::fs::rename(&replacement, dir.path().join("plugins/alpha.so")).unwrap();
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.plugins[0].status, "loaded");
    assert_eq!(all(&get(proxy.addrs()[0], "site.test", "/").await, "x-probe-order"), ["gamma"]);
    // The old generation lasts until the server has closed the sessions that started on it
    // (after their clients had their answers): wait for that, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let versions = loop {
        proxy.settle_plugins();
        let versions = proxy.plugin_versions();
        if versions.len() == 1 || std::time::Instant::now() > deadline {
            break versions;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_ne!(versions[0].id, first[0].id);
    assert!(!mapped(&first[0].runtime_path), "the old version is unmapped");
    assert!(!first[0].runtime_path.exists(), "its runtime copy is removed");
}

/// A session's SSN_CLOSE runs on the generation its SSN_START ran on: a plugin added by a
/// reload meanwhile sees no close of a session it never saw start.
#[tokio::test]
async fn a_session_closes_on_the_generation_it_started_on() {
    let origin = Origin::start("o").await;
    let dir = setup(&origin, "plugins:\n  - path: alpha.so\n", &[("alpha", "alpha.so")]);
    probe(dir.path(), "beta", "beta.so");
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    assert_eq!(client.request("GET", "site.test", "/").await.status, 200);
    write(dir.path(), "plugin.yaml", "plugins:\n  - path: alpha.so\n  - path: beta.so\n");
    assert!(proxy.reload().ok);
    drop(client);
    // Counted closed after its SSN_CLOSE ran.
    crate::support::wait_for("the session closed", || proxy.status().connections == 0).await;
    // Alpha saw it close; beta, loaded after it started, saw nothing of it (STARTS/CLOSES).
    let answer = get(addr, "site.test", "/").await;
    assert_eq!(all(&answer, "x-probe-sessions"), ["2/1", "1/0"]);
}

/// A version no generation uses any more, kept loaded by a continuation it did not destroy,
/// is still listed with its name and version.
#[tokio::test]
async fn a_version_kept_only_by_continuations_is_listed_by_name() {
    let origin = Origin::start("o").await;
    let dir = setup(
        &origin,
        "plugins:\n  - path: alpha.so\n    params: [linger]\n",
        &[("alpha", "alpha.so")],
    );
    let proxy = proxy(Some(dir.path()));
    write(dir.path(), "plugin.yaml", "plugins: []\n");
    assert!(proxy.reload().ok);
    // The old generation goes when the last thread holding it lets go, which may be a moment
    // after the reload (the health checker's first look at it, on a busy machine): wait for
    // its plugin's teardown (`hy_plugin_done` destroys two of its three continuations),
    // bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let listed = loop {
        proxy.settle_plugins();
        let listed = proxy.plugins();
        let done = listed.first().is_some_and(|p| p.continuations == 1);
        if done || std::time::Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(listed.len(), 1, "kept loaded by its continuation: {listed:?}");
    assert_eq!((listed[0].name.as_str(), listed[0].version.as_str()), ("alpha", "1.0.0"));
    assert_eq!(listed[0].continuations, 1);
}

#[tokio::test]
async fn a_panicking_rust_plugin_fails_only_its_transaction() {
    let origin = Origin::start("o").await;
    let remap = format!(
        "map http://site.test/ http://{}/ @plugin=sdk_test.so @pparam=a=1 @pparam=b\n",
        origin.addr
    );
    let yaml = "plugins:\n  - path: sdk_test.so\n";
    let dir = setup(&origin, yaml, &[]);
    write(dir.path(), "remap.config", &remap);
    let built = hookyard_fixtures::rust_cdylib("hookyard-sdk-test-plugin", "sdk_test_plugin");
    std::fs::copy(built, dir.path().join("plugins/sdk_test.so")).unwrap();
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let request = |header: &str| {
        format!("GET /headers HTTP/1.1\r\nHost: site.test\r\n{header}Connection: close\r\n\r\n")
    };
    // The global READ_REQUEST_HDR hook panics: caught in the plugin, the transaction fails.
    let answer = raw(addr, request("X-Panic-Hook: 1\r\n").as_bytes(), "").await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    // do_remap panics: a direct 500 for that transaction.
    let answer = raw(addr, request("X-Panic: 1\r\n").as_bytes(), "").await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    // The next transaction is fine, and went through the plugin's do_remap.
    let answer = raw(addr, request("").as_bytes(), "").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-echo-method: get"), "{answer}");
    // do_remap read its instance's arguments again (remap_param_get, ABI 1.5).
    let params = format!("x-echo-params: http://site.test/|http://{}/|a=1|b", origin.addr);
    assert!(answer.to_ascii_lowercase().contains(&params), "{answer}");
}

#[tokio::test]
async fn a_client_leaving_while_a_hook_is_pending_harms_nothing() {
    let origin = Origin::start("o").await;
    let yaml = "plugins:\n  - path: alpha.so\n    params: [pending]\n";
    let dir = setup(&origin, yaml, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    for _ in 0..5 {
        // The plugin resumes 20 ms later, after the connection (and its transaction) is gone.
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(
            &mut stream,
            b"GET /headers HTTP/1.1\r\nHost: site.test\r\n\r\n",
        )
        .await
        .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        drop(stream);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let answer = get(addr, "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("x-probe-resumed: alpha"), "{}", answer.body);
}

#[tokio::test]
async fn session_and_lifecycle_hooks_run() {
    let origin = Origin::start("o").await;
    let marker = tempfile::tempdir().unwrap();
    let file = marker.path().join("shutdown");
    let yaml = format!("plugins:\n  - path: alpha.so\n    params: [shutdown={}]\n", file.display());
    let dir = setup(&origin, &yaml, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    // Each `get` is a connection of its own: SSN_START ran for it before its transaction.
    let first = get(addr, "site.test", "/").await;
    assert_eq!(all(&first, "x-probe-loaded"), ["1"], "PLUGINS_LOADED once per generation");
    assert_eq!(all(&first, "x-probe-sessions"), ["1/0"]);
    let mut seen = Vec::new();
    for _ in 0..100 {
        let answer = get(addr, "site.test", "/").await;
        seen = all(&answer, "x-probe-sessions");
        let (starts, closes) = seen[0].split_once('/').unwrap();
        if closes.parse::<u32>().unwrap() >= 1 {
            assert!(starts.parse::<u32>().unwrap() >= 2);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_ne!(seen, ["1/0"], "SSN_CLOSE never ran");
    assert!(proxy.reload().ok);
    let after = get(addr, "site.test", "/").await;
    assert_eq!(all(&after, "x-probe-loaded"), ["2"], "and again for the reloaded generation");
    assert!(!file.exists());
    proxy.shutdown();
    tokio::task::spawn_blocking(move || proxy.wait()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "shutdown", "SHUTDOWN ran at the end");
}

#[tokio::test]
async fn the_rust_request_id_example_runs_as_a_global_plugin() {
    let origin = Origin::start("o").await;
    let yaml = "plugins:\n  - path: request_id.so\n    params: [header=X-Request-Id, skip=/skipped, priority=50]\n\
                priorities:\n  plugins:\n    - name: request_id\n      max_priority: 100\n";
    let dir = setup(&origin, yaml, &[]);
    let built = hookyard_fixtures::rust_cdylib("hookyard-plugin-request-id", "request_id");
    std::fs::copy(built, dir.path().join("plugins/request_id.so")).unwrap();
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let answer = get(addr, "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let id = all(&answer, "x-request-id");
    assert_eq!(id.len(), 1, "{:?}", answer.headers);
    assert!(
        answer.body.contains(&format!("x-request-id: {}", id[0])),
        "the origin saw the same id: {}",
        answer.body
    );
    let next = get(addr, "site.test", "/headers").await;
    assert_ne!(all(&next, "x-request-id"), id, "one id per transaction");
    let skipped = get(addr, "site.test", "/skipped/page").await;
    assert!(all(&skipped, "x-request-id").is_empty(), "the plugin switched itself off");
    let hooks = proxy.hooks();
    let read = hooks.iter().find(|h| h.hook == "READ_REQUEST_HDR").unwrap();
    assert_eq!(read.callbacks[0].plugin, "request_id");
    assert_eq!(read.callbacks[0].priority, 50, "set by its priority= param");
}

#[tokio::test]
async fn ctl_hooks_txn_sample_shows_a_transactions_own_callbacks() {
    let origin = Origin::start("o").await;
    let dir = setup(&origin, "plugins:\n  - path: alpha.so\n", &[("alpha", "alpha.so")]);
    let admin = dir.path().join("admin.sock");
    let proxy = proxy_with(Some(dir.path()), AdminSocket::At(admin.clone()));
    let sample = tokio::task::spawn_blocking(move || {
        hookyard_proxy::ctl::call_with(&admin, "hooks", serde_json::json!({ "txn_sample": true }))
    });
    let addr = proxy.addrs()[0];
    // Requests until the sampler is armed and answered.
    for _ in 0..200 {
        get(addr, "site.test", "/").await;
        if sample.is_finished() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let sample = sample.await.unwrap().unwrap();
    let send = sample
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hook"] == "SEND_RESPONSE_HDR")
        .unwrap_or_else(|| panic!("{sample}"));
    let levels: Vec<&str> = send["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["global", "transaction"], "{sample}");
    let text = hookyard_proxy::ctl::render("hooks", &sample);
    assert!(text.contains("SEND_RESPONSE_HDR") && text.contains("transaction"), "{text}");
}
