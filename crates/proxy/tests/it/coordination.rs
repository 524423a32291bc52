//! The coordination functions of the ABI through the proxy: thresholds at every scope, changing,
//! switching off and removing another plugin's callbacks, switching plugins off, listing
//! callbacks, a plugin's own priority, and the refusals above a plugin's ceiling. The C
//! `coord_probe` (`tests/plugins/coord_probe.c`) is built as `alpha` (priority 100, ceiling 100),
//! `beta` (20, ceiling 50) and `gamma` (10, ceiling 10); each request's `X-Coord` fields tell a
//! build what to do, and the order the callbacks ran in is read where it arrives: `X-Read`
//! (READ_REQUEST_HDR) and `X-Send` (SEND_REQUEST_HDR) at the origin, `X-Respond`
//! (SEND_RESPONSE_HDR) at the client.

use std::net::SocketAddr;
use std::path::Path;

use hookyard_fixtures::{abi_include_dir, compile_c_with};
use hookyard_proxy::ServerHandle;
use tempfile::TempDir;

use crate::hooks::{all, setup};
use crate::support::{Answer, Client, DEADLINE, Origin, proxy};

/// The three builds, listed in the order opposite to their priorities.
const PLUGINS: &str = "plugins:\n  - path: gamma.so\n  - path: beta.so\n  - path: alpha.so\n";

const PRIORITIES: &str = "priorities:\n  plugins:\n    \
- name: alpha\n      max_priority: 100\n      priority: 100\n    \
- name: beta\n      max_priority: 50\n      priority: 20\n    \
- name: gamma\n      max_priority: 10\n      priority: 10\n";

/// Every callback ran, in configured order.
const ALL: [&str; 3] = ["alpha,beta,gamma", "alpha,beta,gamma", "alpha,beta,gamma"];

/// Builds the coordination probe as plugin `name` into `dir/plugins/<name>.so`.
fn build(dir: &Path, name: &str) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plugins/coord_probe.c");
    let out = dir.join("plugins").join(format!("{name}.so"));
    let define = format!("-DPROBE_NAME=\"{name}\"");
    compile_c_with(&source, &[&define], &[&abi_include_dir()], &out);
}

/// A proxy in front of `origin` with the three builds loaded by `plugins` (a `plugin.yaml`
/// `plugins:` section) and the priorities above.
fn start(origin: &Origin, plugins: &str) -> (TempDir, ServerHandle) {
    let dir = setup(origin, &format!("{plugins}{PRIORITIES}"), &[]);
    for name in ["alpha", "beta", "gamma"] {
        build(dir.path(), name);
    }
    let proxy = proxy(Some(dir.path()));
    (dir, proxy)
}

/// What one transaction showed: the stamps of each hook, and the actions' results.
#[derive(Debug)]
struct Seen {
    /// READ_REQUEST_HDR's order, as the origin received it.
    read: String,
    /// SEND_REQUEST_HDR's order, as the origin received it.
    send: String,
    /// SEND_RESPONSE_HDR's order, as the client received it.
    respond: String,
    /// One `OP=ARGS -> RESULT` per action performed.
    results: Vec<String>,
}

impl Seen {
    fn of(answer: &Answer) -> Seen {
        assert_eq!(answer.status, 200, "{}", answer.body);
        let echoed = |name: &str| {
            let prefix = format!("{name}: ");
            answer.body.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default().to_owned()
        };
        Seen {
            read: echoed("x-read"),
            send: echoed("x-send"),
            respond: all(answer, "x-respond").join(","),
            results: all(answer, "x-coord-result"),
        }
    }

    /// The three hooks' orders.
    fn order(&self) -> [&str; 3] {
        [&self.read, &self.send, &self.respond]
    }
}

/// One request on `client` with one `X-Coord` field per action.
async fn send(client: &mut Client, actions: &[&str]) -> Seen {
    let fields: Vec<(&str, &str)> = actions.iter().map(|a| ("x-coord", *a)).collect();
    Seen::of(&client.request_with("GET", "site.test", "/headers", &fields).await)
}

/// One request on a new connection.
async fn once(addr: SocketAddr, actions: &[&str]) -> Seen {
    send(&mut Client::connect(addr).await, actions).await
}

#[tokio::test]
async fn callbacks_run_in_configured_order_and_are_listed_as_configured() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(
        &origin,
        "plugins:\n  - path: gamma.so\n    params: [txn=SEND_REQUEST_HDR]\n  \
         - path: beta.so\n    params: [ssn=SEND_REQUEST_HDR]\n  - path: alpha.so\n",
    );
    let addr = proxy.addrs()[0];
    // gamma runs last on READ_REQUEST_HDR: by then beta added its session callback and gamma
    // its transaction callback. Equal priorities: global, then session, then transaction.
    let seen = once(addr, &["gamma list=SEND_REQUEST_HDR", "gamma list=SEND_RESPONSE_HDR"]).await;
    assert_eq!(
        seen.order(),
        ["alpha,beta,gamma", "alpha,beta,beta/ssn,gamma,gamma/txn", "alpha,beta,gamma"]
    );
    assert_eq!(
        seen.results,
        [
            "list=SEND_REQUEST_HDR -> 0 alpha:100:global:1 beta:20:global:1 \
             beta:20:session:1 gamma:10:global:1 gamma:10:txn:1",
            "list=SEND_RESPONSE_HDR -> 0 alpha:100:global:1 beta:20:global:1 gamma:10:global:1",
        ]
    );
    // The proxy's own listing of the global callbacks agrees.
    let hooks = proxy.hooks();
    let send_hook = hooks.iter().find(|h| h.hook == "SEND_REQUEST_HDR").unwrap();
    let listed: Vec<(&str, i32, &str)> = send_hook
        .callbacks
        .iter()
        .map(|c| (c.plugin.as_str(), c.priority, c.level.as_str()))
        .collect();
    assert_eq!(listed, [("alpha", 100, "global"), ("beta", 20, "global"), ("gamma", 10, "global")]);

    // A switched-off callback and those below a threshold are listed as not running, and do
    // not run.
    let seen = once(
        addr,
        &[
            "alpha disable=txn:beta:SEND_REQUEST_HDR",
            "alpha threshold=txn:SEND_REQUEST_HDR:15",
            "gamma list=SEND_REQUEST_HDR",
        ],
    )
    .await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta/ssn", "alpha,beta,gamma"]);
    assert_eq!(
        seen.results,
        [
            "disable=txn:beta:SEND_REQUEST_HDR -> 0",
            "threshold=txn:SEND_REQUEST_HDR:15 -> 0",
            "list=SEND_REQUEST_HDR -> 0 alpha:100:global:1 beta:20:global:0 \
             beta:20:session:1 gamma:10:global:0 gamma:10:txn:0",
        ]
    );
}

#[tokio::test]
async fn a_transaction_threshold_for_all_hooks_skips_lower_callbacks_but_not_txn_close() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    // Set in alpha's READ_REQUEST_HDR callback: gamma's, later in the same dispatch, is
    // skipped already.
    let seen = send(&mut client, &["alpha threshold=txn:ANY:15"]).await;
    assert_eq!(seen.order(), ["alpha,beta"; 3]);
    assert_eq!(seen.results, ["threshold=txn:ANY:15 -> 0"]);
    // The next transaction of the same session has no threshold.
    assert_eq!(send(&mut client, &[]).await.order(), ALL);
    // gamma's TXN_CLOSE ran for the transaction whose other gamma callbacks were skipped.
    unseen_closes(addr, "gamma=1").await;
}

/// TXN_CLOSE runs for a plugin switched off, below a session's threshold, or whose TXN_CLOSE
/// callback was switched off.
#[tokio::test]
async fn txn_close_runs_whatever_switches_and_thresholds_say() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    assert_eq!(once(addr, &["alpha plugin=txn:gamma:off"]).await.order(), ["alpha,beta"; 3]);
    unseen_closes(addr, "gamma=1").await;
    assert_eq!(once(addr, &["alpha threshold=session:ANY:15"]).await.order(), ["alpha,beta"; 3]);
    unseen_closes(addr, "gamma=2").await;
    let actions = ["alpha disable=txn:gamma:TXN_CLOSE", "alpha plugin=session:gamma:off"];
    let seen = once(addr, &actions).await;
    assert_eq!(seen.results, ["disable=txn:gamma:TXN_CLOSE -> 0", "plugin=session:gamma:off -> 0"]);
    unseen_closes(addr, "gamma=3").await;
}

/// Requests until the client is told `X-Unseen-Closes: expected` (TXN_CLOSE runs after a
/// response was sent), failing past the deadline.
async fn unseen_closes(addr: SocketAddr, expected: &str) {
    told(addr, "x-unseen-closes", expected).await;
}

/// Requests until the client is told `field: expected`, failing past the deadline.
async fn told(addr: SocketAddr, field: &str, expected: &str) {
    let start = std::time::Instant::now();
    loop {
        let answer = Client::connect(addr).await.request("GET", "site.test", "/").await;
        let values = all(&answer, field);
        if values.iter().any(|u| u == expected) {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "never told {field}: {expected}: {values:?}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Removing a TXN_CLOSE callback does not skip it: cleanup hooks run every callback, also when
/// the transaction changed a callback's priority (which takes dispatch off its fast path).
#[tokio::test]
async fn a_removed_txn_close_callback_still_runs() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let seen = once(addr, &["alpha remove=txn:gamma:TXN_CLOSE"]).await;
    assert_eq!(seen.results, ["remove=txn:gamma:TXN_CLOSE -> 0"]);
    let seen = once(
        addr,
        &["alpha priority=txn:beta:SEND_REQUEST_HDR:30", "alpha remove=txn:gamma:TXN_CLOSE"],
    )
    .await;
    assert_eq!(seen.order(), ALL);
    // Only the asking transaction is open: gamma's TXN_CLOSE freed both transactions' state.
    told(addr, "x-open", "gamma=1").await;
}

#[tokio::test]
async fn a_transaction_threshold_for_one_hook_beats_the_one_for_all_hooks() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let seen = once(addr, &["alpha threshold=txn:SEND_REQUEST_HDR:15"]).await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta", "alpha,beta,gamma"]);

    let seen = once(
        addr,
        &[
            "alpha threshold=txn:ANY:50",
            "alpha threshold=txn:SEND_RESPONSE_HDR:0",
            "alpha threshold-get=txn:ANY",
            "alpha threshold-get=txn:SEND_RESPONSE_HDR",
            "alpha threshold-get=txn:SEND_REQUEST_HDR",
        ],
    )
    .await;
    assert_eq!(seen.order(), ["alpha", "alpha", "alpha,beta,gamma"]);
    assert_eq!(
        seen.results,
        [
            "threshold=txn:ANY:50 -> 0",
            "threshold=txn:SEND_RESPONSE_HDR:0 -> 0",
            "threshold-get=txn:ANY -> 0 50",
            "threshold-get=txn:SEND_RESPONSE_HDR -> 0 0",
            "threshold-get=txn:SEND_REQUEST_HDR -> 0 none",
        ]
    );
}

#[tokio::test]
async fn clearing_a_transaction_threshold_restores_the_callbacks() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let seen = once(
        proxy.addrs()[0],
        &[
            "alpha threshold=txn:ANY:50",
            "alpha threshold=txn:SEND_REQUEST_HDR:50",
            "alpha threshold=txn:ANY:none",
            "alpha threshold=txn:SEND_REQUEST_HDR:none",
            "alpha threshold-get=txn:ANY",
        ],
    )
    .await;
    assert_eq!(seen.order(), ALL);
    assert_eq!(
        seen.results,
        [
            "threshold=txn:ANY:50 -> 0",
            "threshold=txn:SEND_REQUEST_HDR:50 -> 0",
            "threshold=txn:ANY:none -> 0",
            "threshold=txn:SEND_REQUEST_HDR:none -> 0",
            "threshold-get=txn:ANY -> 0 none",
        ]
    );
}

#[tokio::test]
async fn a_session_threshold_holds_for_later_requests_on_the_connection_only() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    let seen = send(&mut client, &["alpha threshold=session:ANY:15"]).await;
    assert_eq!(seen.order(), ["alpha,beta"; 3], "the setting transaction is in the session");
    assert_eq!(send(&mut client, &[]).await.order(), ["alpha,beta"; 3]);
    assert_eq!(once(addr, &[]).await.order(), ALL, "another connection has no threshold");
    // A transaction's threshold beats its session's.
    assert_eq!(send(&mut client, &["alpha threshold=txn:ANY:0"]).await.order(), ALL);
    // A session threshold for one hook beats the session's for all hooks.
    let seen = send(&mut client, &["alpha threshold=session:SEND_REQUEST_HDR:0"]).await;
    assert_eq!(seen.order(), ["alpha,beta", "alpha,beta,gamma", "alpha,beta"]);
    // Cleared, both: every callback runs again on the connection.
    let seen = send(
        &mut client,
        &[
            "alpha threshold=session:ANY:none",
            "alpha threshold=session:SEND_REQUEST_HDR:none",
            "alpha threshold-get=session:ANY",
        ],
    )
    .await;
    assert_eq!(seen.order(), ALL, "cleared before beta's and gamma's READ_REQUEST_HDR");
    assert_eq!(seen.results[2], "threshold-get=session:ANY -> 0 none");
    assert_eq!(send(&mut client, &[]).await.order(), ALL);
}

#[tokio::test]
async fn a_global_threshold_set_at_run_time_holds_until_cleared_or_reloaded() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let seen = once(addr, &["alpha threshold=global:SEND_REQUEST_HDR:15"]).await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta", "alpha,beta,gamma"]);
    // Every new connection and transaction sees it.
    let seen = once(addr, &["alpha threshold-get=global:SEND_REQUEST_HDR"]).await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta", "alpha,beta,gamma"]);
    assert_eq!(seen.results, ["threshold-get=global:SEND_REQUEST_HDR -> 0 15"]);
    let seen = once(addr, &["alpha threshold=global:SEND_REQUEST_HDR:none"]).await;
    assert_eq!(seen.order(), ALL);
    assert_eq!(once(addr, &[]).await.order(), ALL);

    // For all hooks; a reload's new generation starts from the configured thresholds.
    let seen = once(addr, &["alpha threshold=global:ANY:15"]).await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta", "alpha,beta"]);
    assert_eq!(once(addr, &[]).await.order(), ["alpha,beta"; 3]);
    let report = proxy.reload();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(once(addr, &[]).await.order(), ALL);
}

#[tokio::test]
async fn changing_another_plugins_callback_priority_flips_the_order_for_one_transaction() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let mut client = Client::connect(proxy.addrs()[0]).await;
    let seen = send(
        &mut client,
        &[
            "alpha priority=txn:gamma:SEND_REQUEST_HDR:50",
            "alpha priority=txn:beta:READ_REQUEST_HDR:5",
            "alpha list=SEND_REQUEST_HDR",
        ],
    )
    .await;
    // Also on the hook being dispatched: beta and gamma had not run yet.
    assert_eq!(seen.order(), ["alpha,gamma,beta", "alpha,gamma,beta", "alpha,beta,gamma"]);
    assert_eq!(
        seen.results,
        [
            "priority=txn:gamma:SEND_REQUEST_HDR:50 -> 0",
            "priority=txn:beta:READ_REQUEST_HDR:5 -> 0",
            "list=SEND_REQUEST_HDR -> 0 alpha:100:global:1 gamma:50:global:1 beta:20:global:1",
        ]
    );
    assert_eq!(send(&mut client, &[]).await.order(), ALL, "the next transaction: as configured");
}

/// A change made while the hook runs affects only the callbacks still to come: a callback
/// that ran does not run again when moved after the current one, and one still to come still
/// runs when moved before it.
#[tokio::test]
async fn a_priority_change_mid_dispatch_runs_each_callback_once() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let seen = once(addr, &["beta priority=txn:beta:READ_REQUEST_HDR:5"]).await;
    assert_eq!(seen.order(), ALL, "beta ran once on READ_REQUEST_HDR");
    assert_eq!(seen.results, ["priority=txn:beta:READ_REQUEST_HDR:5 -> 0"]);
    let seen = once(addr, &["beta priority=txn:gamma:READ_REQUEST_HDR:50"]).await;
    assert_eq!(seen.order(), ALL, "gamma, still to come, still ran");
}

#[tokio::test]
async fn switching_off_and_removing_another_plugins_callback_for_one_transaction() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let mut client = Client::connect(proxy.addrs()[0]).await;
    let seen = send(
        &mut client,
        &[
            "alpha disable=txn:beta:SEND_REQUEST_HDR",
            "alpha remove=txn:gamma:SEND_RESPONSE_HDR",
            "alpha list=SEND_REQUEST_HDR",
            "alpha list=SEND_RESPONSE_HDR",
            // Removed: no longer listed, so nothing to act on.
            "alpha enable=txn:gamma:SEND_RESPONSE_HDR",
            // Switched off and on again: it runs.
            "alpha disable=txn:gamma:READ_REQUEST_HDR",
            "alpha enable=txn:gamma:READ_REQUEST_HDR",
        ],
    )
    .await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,gamma", "alpha,beta"]);
    assert_eq!(
        seen.results,
        [
            "disable=txn:beta:SEND_REQUEST_HDR -> 0",
            "remove=txn:gamma:SEND_RESPONSE_HDR -> 0",
            "list=SEND_REQUEST_HDR -> 0 alpha:100:global:1 beta:20:global:0 gamma:10:global:1",
            "list=SEND_RESPONSE_HDR -> 0 alpha:100:global:1 beta:20:global:1",
            "enable=txn:gamma:SEND_RESPONSE_HDR -> none",
            "disable=txn:gamma:READ_REQUEST_HDR -> 0",
            "enable=txn:gamma:READ_REQUEST_HDR -> 0",
        ]
    );
    assert_eq!(send(&mut client, &[]).await.order(), ALL, "the next transaction: as configured");
}

/// Another plugin's session- and transaction-level callbacks are found and changed like its
/// global ones: alpha acts on SEND_REQUEST_HDR, after beta and gamma added theirs.
#[tokio::test]
async fn another_plugins_session_and_transaction_callbacks_are_changed_too() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(
        &origin,
        "plugins:\n  - path: gamma.so\n    params: [txn=SEND_RESPONSE_HDR]\n  \
         - path: beta.so\n    params: [ssn=SEND_RESPONSE_HDR]\n  \
         - path: alpha.so\n    params: [act=SEND_REQUEST_HDR]\n",
    );
    let mut client = Client::connect(proxy.addrs()[0]).await;
    let full = "alpha,beta,beta/ssn,gamma,gamma/txn";
    assert_eq!(send(&mut client, &[]).await.respond, full);
    let seen = send(
        &mut client,
        &[
            "alpha disable=txn:beta:SEND_RESPONSE_HDR",
            "alpha remove=txn:gamma:SEND_RESPONSE_HDR",
            "alpha list=SEND_RESPONSE_HDR",
        ],
    )
    .await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta,gamma", "alpha"]);
    assert_eq!(
        seen.results,
        [
            "disable=txn:beta:SEND_RESPONSE_HDR -> 0,0",
            "remove=txn:gamma:SEND_RESPONSE_HDR -> 0,0",
            "list=SEND_RESPONSE_HDR -> 0 alpha:100:global:1 beta:20:global:0 beta:20:session:0",
        ]
    );
    assert_eq!(send(&mut client, &[]).await.respond, full, "for one transaction");
}

#[tokio::test]
async fn callback_changes_for_a_session_hold_for_its_later_transactions_only() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    let seen = send(
        &mut client,
        &[
            "alpha priority=session:gamma:SEND_REQUEST_HDR:50",
            "alpha remove=session:beta:SEND_RESPONSE_HDR",
        ],
    )
    .await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,gamma,beta", "alpha,gamma"]);
    assert_eq!(send(&mut client, &[]).await.order(), seen.order());
    assert_eq!(once(addr, &[]).await.order(), ALL, "another connection: as configured");
    // A transaction's change beats its session's.
    let seen = send(&mut client, &["alpha priority=txn:gamma:SEND_REQUEST_HDR:5"]).await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta,gamma", "alpha,gamma"]);
}

#[tokio::test]
async fn switching_a_plugin_off_for_a_session_and_back_on_for_one_transaction() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    let seen = send(&mut client, &["alpha plugin=session:beta:off"]).await;
    assert_eq!(seen.order(), ["alpha,gamma"; 3]);
    assert_eq!(seen.results, ["plugin=session:beta:off -> 0"]);
    assert_eq!(send(&mut client, &[]).await.order(), ["alpha,gamma"; 3]);
    assert_eq!(once(addr, &[]).await.order(), ALL, "another connection: as configured");
    // beta switched off cannot switch itself back on (its callbacks do not run), alpha can.
    let seen = send(&mut client, &["alpha plugin=txn:beta:on"]).await;
    assert_eq!(seen.order(), ["alpha,beta,gamma"; 3]);
    assert_eq!(send(&mut client, &[]).await.order(), ["alpha,gamma"; 3], "for one transaction");
    // And for a transaction only.
    let mut other = Client::connect(addr).await;
    assert_eq!(send(&mut other, &["alpha plugin=txn:gamma:off"]).await.order(), ["alpha,beta"; 3]);
    assert_eq!(send(&mut other, &[]).await.order(), ALL);
    // A plugin may switch itself off although its ceiling is not above its own.
    let seen = send(&mut other, &["gamma plugin=txn:gamma:off"]).await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta", "alpha,beta"]);
}

#[tokio::test]
async fn changes_above_the_callers_ceiling_are_refused_and_change_nothing() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    // beta (priority 20, ceiling 50) acts after alpha (100) stamped READ_REQUEST_HDR.
    let refused = [
        // alpha's callbacks (priority 100) are not below beta's ceiling.
        "beta priority=txn:alpha:SEND_REQUEST_HDR:5",
        "beta disable=txn:alpha:SEND_REQUEST_HDR",
        "beta remove=txn:alpha:SEND_RESPONSE_HDR",
        "beta disable=session:alpha:SEND_RESPONSE_HDR",
        // alpha's ceiling (100) is not below beta's.
        "beta plugin=txn:alpha:off",
        "beta plugin=session:alpha:off",
        // Above beta's own ceiling.
        "beta priority=txn:gamma:SEND_REQUEST_HDR:51",
        "beta threshold=txn:ANY:51",
        "beta threshold=session:SEND_REQUEST_HDR:51",
        "beta threshold=global:ANY:51",
        "beta own-priority=51",
    ];
    let seen = once(addr, &refused).await;
    assert_eq!(seen.order(), ALL, "the transaction is otherwise unaffected");
    let expected: Vec<String> = refused.iter().map(|a| format!("{} -> -1", &a[5..])).collect();
    assert_eq!(seen.results, expected);
    // Nothing was half-done for the session, the generation or beta's priority.
    let seen = once(addr, &["beta own-priority-get", "beta threshold-get=global:ANY"]).await;
    assert_eq!(seen.order(), ALL);
    assert_eq!(seen.results, ["own-priority-get -> 0 20/50", "threshold-get=global:ANY -> 0 none"]);
    // gamma (ceiling 10) may act on nothing of beta's (20) nor alpha's.
    let seen =
        once(addr, &["gamma disable=txn:beta:SEND_RESPONSE_HDR", "gamma plugin=txn:beta:off"])
            .await;
    assert_eq!(seen.order(), ALL);
    assert_eq!(
        seen.results,
        ["disable=txn:beta:SEND_RESPONSE_HDR -> -1", "plugin=txn:beta:off -> -1"]
    );
}

/// A name no plugin has is refused, as the SDK's test host refuses it, rather than taken for a
/// plugin with the default ceiling (which any plugin above it could then "switch").
#[tokio::test]
async fn switching_a_plugin_no_one_has_is_refused() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let actions = ["alpha plugin=txn:nosuch:off", "alpha plugin=session:Gamma:off"];
    let seen = once(proxy.addrs()[0], &actions).await;
    assert_eq!(seen.order(), ALL);
    assert_eq!(seen.results, ["plugin=txn:nosuch:off -> -1", "plugin=session:Gamma:off -> -1"]);
}

#[tokio::test]
async fn a_callback_raised_to_the_callers_ceiling_is_out_of_its_reach() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    // Up to the ceiling (50) is allowed; a callback at 50 is no longer below it.
    let seen = once(
        proxy.addrs()[0],
        &[
            "beta priority=txn:gamma:SEND_RESPONSE_HDR:50",
            "beta disable=txn:gamma:SEND_RESPONSE_HDR",
            "beta priority=txn:gamma:SEND_REQUEST_HDR:49",
            "beta disable=txn:gamma:SEND_REQUEST_HDR",
        ],
    )
    .await;
    assert_eq!(seen.order(), ["alpha,beta,gamma", "alpha,beta", "alpha,gamma,beta"]);
    assert_eq!(
        seen.results,
        [
            "priority=txn:gamma:SEND_RESPONSE_HDR:50 -> 0",
            "disable=txn:gamma:SEND_RESPONSE_HDR -> -1",
            "priority=txn:gamma:SEND_REQUEST_HDR:49 -> 0",
            "disable=txn:gamma:SEND_REQUEST_HDR -> 0",
        ]
    );
}

#[tokio::test]
async fn a_plugin_lowers_its_own_priority_and_is_refused_above_its_ceiling() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = start(&origin, PLUGINS);
    let addr = proxy.addrs()[0];
    let seen =
        once(addr, &["beta own-priority=51", "beta own-priority=5", "beta own-priority-get"]).await;
    assert_eq!(
        seen.results,
        ["own-priority=51 -> -1", "own-priority=5 -> 0", "own-priority-get -> 0 5/50"]
    );
    // Later transactions run beta's callbacks (registered with its default) after gamma's.
    let seen = once(addr, &["alpha list=SEND_REQUEST_HDR"]).await;
    assert_eq!(seen.order(), ["alpha,gamma,beta"; 3]);
    assert_eq!(
        seen.results,
        ["list=SEND_REQUEST_HDR -> 0 alpha:100:global:1 gamma:10:global:1 beta:5:global:1"]
    );
    // Back up to its ceiling, which is allowed.
    assert_eq!(once(addr, &["beta own-priority=50"]).await.results, ["own-priority=50 -> 0"]);
    assert_eq!(once(addr, &[]).await.order(), ALL);
}
