//! Canaries of a global plugin (`plugin.yaml` `canary:`): the `hook_probe` test plugin built
//! twice as plugin `stamp`, versions 1.0.0 and 2.0.0, each stamping `X-Probe-Version` on the
//! responses of the transactions it runs. Shares at 0 and 100 %, by request and by client
//! address, the per-version counter, configuration errors, and promotion by editing the file.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use hookyard_fixtures::{abi_include_dir, compile_c_with};
use tempfile::TempDir;

use crate::hooks::{all, setup};
use crate::support::{Answer, Client, Origin, get, proxy, wait_for, write};

/// Builds the probe as plugin `stamp` of `version` into `dir/plugins/<file>`.
fn stamp(dir: &Path, file: &str, name: &str, version: &str) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/hook_probe.c");
    let defines = [format!("-DPROBE_NAME=\"{name}\""), format!("-DPROBE_VERSION=\"{version}\"")];
    let defines: Vec<&str> = defines.iter().map(String::as_str).collect();
    compile_c_with(&source, &defines, &[&abi_include_dir()], &dir.join("plugins").join(file));
}

/// A configuration with `stamp.so` (1.0.0) and `stamp-v2.so` (2.0.0) built, and `yaml`.
fn stamped(origin: &Origin, yaml: &str) -> TempDir {
    let dir = setup(origin, yaml, &[]);
    stamp(dir.path(), "stamp.so", "stamp", "1.0.0");
    stamp(dir.path(), "stamp-v2.so", "stamp", "2.0.0");
    dir
}

fn canary_yaml(percent: &str, by: &str) -> String {
    format!(
        "plugins:\n  - path: stamp.so\n    canary:\n      path: stamp-v2.so\n      \
         percent: {percent}\n      by: {by}\n"
    )
}

/// The one version that ran the transaction; fails unless exactly one did (and ran all of its
/// callbacks: the global one and the transaction one it registered).
fn version(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let versions = all(answer, "x-probe-version");
    assert_eq!(versions.len(), 1, "exactly one version per transaction: {:?}", answer.headers);
    assert_eq!(all(answer, "x-probe-order"), ["stamp"], "{:?}", answer.headers);
    assert_eq!(all(answer, "x-probe-txn"), ["stamp"], "{:?}", answer.headers);
    versions.into_iter().next().unwrap_or_default()
}

/// `hookyard_canary_transactions_total` by (version, arm).
fn canary_counts(metrics: &str) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for line in metrics.lines().filter(|l| l.starts_with("hookyard_canary_transactions_total{")) {
        let (labels, value) = line.rsplit_once(' ').unwrap();
        let label = |name: &str| {
            let start = labels.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            labels[start..].split('"').next().unwrap().to_owned()
        };
        assert_eq!(label("plugin"), "stamp", "{line}");
        counts.insert((label("version"), label("arm")), value.parse().unwrap());
    }
    counts
}

fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

#[tokio::test]
async fn a_share_of_zero_never_runs_the_canary_and_one_hundred_always_does() {
    let origin = Origin::start("o").await;
    let dir = stamped(&origin, &canary_yaml("0", "client"));
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    for n in 1..=20 {
        let mut client = Client::connect_from(addr, loopback(n)).await;
        for _ in 0..2 {
            assert_eq!(version(&client.request("GET", "site.test", "/").await), "1.0.0");
        }
    }
    // Both versions are loaded, each with its side and share.
    let roles: Vec<(String, String, f64)> = proxy
        .plugins()
        .iter()
        .map(|p| {
            let role = p.canary.as_ref().expect("both versions are in the canary");
            (p.version.clone(), role.arm.clone(), role.percent)
        })
        .collect();
    assert_eq!(
        roles,
        [("1.0.0".into(), "stable".into(), 100.0), ("2.0.0".into(), "canary".into(), 0.0)]
    );
    // Every callback of the plugin shows its side; both are listed on each hook.
    let hooks = proxy.hooks();
    let send = hooks.iter().find(|h| h.hook == "SEND_RESPONSE_HDR").unwrap();
    let arms: Vec<Option<&str>> = send.callbacks.iter().map(|c| c.arm.as_deref()).collect();
    assert_eq!(arms, [Some("stable"), Some("canary")]);

    write(dir.path(), "plugin.yaml", &canary_yaml("100", "request"));
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    let statuses: Vec<&str> = report.plugins.iter().map(|p| p.status.as_str()).collect();
    assert_eq!(statuses, ["reused", "reused"], "a changed share initialises nothing again");
    let mut client = Client::connect(addr).await;
    for _ in 0..40 {
        assert_eq!(version(&client.request("GET", "site.test", "/").await), "2.0.0");
    }
}

/// With `by: client`, session hooks run the client's version only: the stable version's
/// SSN_START never saw the sessions of clients that were on the canary.
#[tokio::test]
async fn by_client_session_hooks_run_the_clients_version_only() {
    let origin = Origin::start("o").await;
    let dir = stamped(&origin, &canary_yaml("100", "client"));
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    for n in 1..=3 {
        let answer = get(addr, "site.test", "/").await;
        assert_eq!(version(&answer), "2.0.0");
        assert!(all(&answer, "x-probe-sessions")[0].starts_with(&format!("{n}/")));
    }
    wait_for("the sessions closed", || proxy.status().connections == 0).await;
    write(dir.path(), "plugin.yaml", &canary_yaml("0", "client"));
    assert!(proxy.reload().ok);
    let answer = get(addr, "site.test", "/").await;
    assert_eq!(version(&answer), "1.0.0");
    // This session's start only; none of the three earlier sessions started or closed here.
    assert_eq!(all(&answer, "x-probe-sessions"), ["1/0"]);
}

#[tokio::test]
async fn by_request_each_transaction_runs_exactly_one_version_and_the_counter_splits() {
    let origin = Origin::start("o").await;
    let dir = stamped(&origin, &canary_yaml("50", "request"));
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..4 {
        let mut client = Client::connect(addr).await;
        for _ in 0..100 {
            *seen.entry(version(&client.request("GET", "site.test", "/").await)).or_default() += 1;
        }
    }
    let (v1, v2) = (seen.get("1.0.0").copied(), seen.get("2.0.0").copied());
    assert_eq!(seen.len(), 2, "both versions ran: {seen:?}");
    // 400 draws at 50 %: 200 ± 10 is one standard deviation; outside 100..300 is p < 1e-20.
    assert!((100..=300).contains(&v2.unwrap_or(0)), "{seen:?}");
    let counts = canary_counts(&proxy.metrics_text());
    let expected = BTreeMap::from([
        (("1.0.0".to_owned(), "stable".to_owned()), v1.unwrap_or(0)),
        (("2.0.0".to_owned(), "canary".to_owned()), v2.unwrap_or(0)),
    ]);
    assert_eq!(counts, expected, "the counter matches the responses, and sums to 400");
    let roles: Vec<(String, u64)> = proxy
        .plugins()
        .iter()
        .filter_map(|p| p.canary.as_ref().map(|c| (c.arm.clone(), c.transactions)))
        .collect();
    assert_eq!(roles, [("stable".into(), v1.unwrap_or(0)), ("canary".into(), v2.unwrap_or(0))]);
}

#[tokio::test]
async fn by_client_keeps_each_client_on_one_version_and_splits_clients_by_share() {
    let origin = Origin::start("o").await;
    let dir = stamped(&origin, &canary_yaml("30", "client"));
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let clients: Vec<IpAddr> = (1..=200).map(loopback).collect();
    let mut on_canary = Vec::new();
    for ip in &clients {
        // Three requests on one connection and one on another (another source port).
        let mut client = Client::connect_from(addr, *ip).await;
        let mut versions = Vec::new();
        for _ in 0..3 {
            versions.push(version(&client.request("GET", "site.test", "/").await));
        }
        drop(client);
        let mut again = Client::connect_from(addr, *ip).await;
        versions.push(version(&again.request("GET", "site.test", "/").await));
        assert!(versions.iter().all(|v| *v == versions[0]), "{ip}: {versions:?}");
        on_canary.push(versions[0] == "2.0.0");
    }
    let canaries = on_canary.iter().filter(|c| **c).count();
    // 200 clients at 30 %: 60 ± 6.5 (one standard deviation); the bucket hash is fixed, so
    // this count is the same on every run.
    assert!((30..=90).contains(&canaries), "{canaries} of 200 clients on the canary");
    let counts = canary_counts(&proxy.metrics_text());
    assert_eq!(counts.values().sum::<u64>(), 800, "{counts:?}");
    assert_eq!(counts[&("2.0.0".to_owned(), "canary".to_owned())], canaries as u64 * 4);

    // Raising the share moves clients to the canary, never back.
    write(dir.path(), "plugin.yaml", &canary_yaml("60", "client"));
    assert!(proxy.reload().ok);
    let mut now_on_canary = 0;
    for (ip, was) in clients.iter().zip(&on_canary) {
        let mut client = Client::connect_from(addr, *ip).await;
        let is = version(&client.request("GET", "site.test", "/").await) == "2.0.0";
        assert!(is || !was, "{ip} left the canary when its share grew");
        now_on_canary += usize::from(is);
    }
    assert!(now_on_canary > canaries && (90..=150).contains(&now_on_canary), "{now_on_canary}");
}

#[tokio::test]
async fn a_bad_canary_is_refused_with_its_line_and_the_serving_generation_stays() {
    let origin = Origin::start("o").await;
    let dir = stamped(&origin, &canary_yaml("5", "client"));
    stamp(dir.path(), "other.so", "other", "1.0.0");
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let head = "plugins:\n  - path: stamp.so\n    canary:\n";
    let cases: &[(&str, &[&str])] = &[
        ("      by: client\n", &["plugin.yaml:4: `canary` needs `path` and `percent`"]),
        (
            "      path: stamp-v2.so\n      percent: 100.5\n",
            &["plugin.yaml:5: `canary.percent` must be a number from 0 to 100, found 100.5"],
        ),
        (
            "      path: stamp-v2.so\n      percent: -1\n",
            &["plugin.yaml:5: `canary.percent` must be a number from 0 to 100, found -1"],
        ),
        (
            "      path: stamp-v2.so\n      percent: 5\n      by: cookie\n",
            &["plugin.yaml:6: unknown `canary.by` `cookie` (expected client or request)"],
        ),
        (
            "      path: stamp-v2.so\n      percent: 5\n      weight: 3\n",
            &[
                "plugin.yaml:6: unknown key `weight` in `canary` (expected path, percent, by, params)",
            ],
        ),
        (
            "      path: nope.so\n      percent: 5\n",
            &["plugin.yaml:4: canary plugin `nope.so` not found"],
        ),
        (
            "      path: stamp.so\n      percent: 5\n",
            &["plugin.yaml:4: canary `stamp.so` is the same file as `stamp.so`"],
        ),
        (
            "      path: other.so\n      percent: 5\n",
            &[
                "plugin.yaml:4: canary `",
                "other.so` is plugin `other`, but its stable version `",
                "stamp.so` is plugin `stamp`",
            ],
        ),
    ];
    for (canary, expected) in cases {
        write(dir.path(), "plugin.yaml", &format!("{head}{canary}"));
        let report = proxy.reload();
        assert!(!report.ok, "{canary}");
        assert_eq!(report.problems.len(), 1, "{canary}: {:?}", report.problems);
        for part in *expected {
            assert!(report.problems[0].contains(part), "{part:?} not in {:?}", report.problems);
        }
        // Still the 5 % canary of generation 1: both versions, the first client on stable.
        let answer = get(addr, "site.test", "/").await;
        assert!(["1.0.0", "2.0.0"].contains(&version(&answer).as_str()));
        assert_eq!(proxy.status().generation, 1);
        assert_eq!(proxy.plugins().iter().filter(|p| p.canary.is_some()).count(), 2);
    }
}

#[tokio::test]
async fn promoting_the_canary_by_editing_the_file_keeps_it_and_unloads_the_old_stable() {
    let origin = Origin::start("o").await;
    let dir = stamped(&origin, &canary_yaml("50", "request"));
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    for _ in 0..20 {
        version(&client.request("GET", "site.test", "/").await);
    }
    drop(client);
    let before = proxy.plugins();
    let id_of = |version: &str| before.iter().find(|p| p.version == version).unwrap().id;
    let (stable, canary) = (id_of("1.0.0"), id_of("2.0.0"));
    let loaded = |answer: &Answer| all(answer, "x-probe-loaded");

    write(dir.path(), "plugin.yaml", "plugins:\n  - path: stamp-v2.so\n");
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    let shown: Vec<(&str, &str)> =
        report.plugins.iter().map(|p| (p.version.as_str(), p.status.as_str())).collect();
    assert_eq!(shown, [("2.0.0", "reused")], "the canary is kept, not initialised again");
    let mut client = Client::connect(addr).await;
    for _ in 0..20 {
        let answer = client.request("GET", "site.test", "/").await;
        assert_eq!(version(&answer), "2.0.0");
        // PLUGINS_LOADED of the first generation and of this one: one version, never re-inited.
        assert_eq!(loaded(&answer), ["2"]);
    }
    drop(client);
    assert!(proxy.plugins().iter().all(|p| p.canary.is_none()), "no canary is serving");
    assert!(proxy.hooks().iter().flat_map(|h| &h.callbacks).all(|c| c.arm.is_none()));

    // The old stable version is done and unloaded once its generation's last transaction and
    // session ended.
    wait_for("the connections closed", || proxy.status().connections == 0).await;
    wait_for("the old stable version unloaded", || {
        proxy.settle_plugins();
        let ids: Vec<u64> = proxy.plugin_versions().iter().map(|v| v.id.get()).collect();
        ids == [canary]
    })
    .await;
    assert_ne!(stable, canary);
}
