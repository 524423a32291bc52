//! Sessions through the proxy, with the C `hook_probe` test plugin: a session's state outlives
//! its connection while a transaction of it is pending, and SSN_CLOSE follows every TXN_CLOSE.

use crate::hooks::{all, setup};
use crate::support::{Client, Origin, get, proxy, wait_for};

/// The client leaves while the probe's TXN_CLOSE callback is pending; 300 ms later the probe's
/// thread takes the transaction's session (`txn_ssn_get`), counts the resume in a session user
/// arg and resumes. The session's state must still be there (it was freed with the connection),
/// and SSN_CLOSE must run after that resume, seeing its count (ATS's order).
#[tokio::test]
async fn ssn_close_waits_for_a_pending_txn_close_that_uses_its_session() {
    let origin = Origin::start("o").await;
    let yaml = "plugins:\n  - path: alpha.so\n    params: [close_pending=300]\n";
    let dir = setup(&origin, yaml, &[("alpha", "alpha.so")]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    let first = client.request("GET", "site.test", "/").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(all(&first, "x-probe-close-order"), ["resumed=0 ssn_close=0 saw=0"]);
    // Its TXN_CLOSE runs once the body is sent, and pends; the client leaves meanwhile.
    drop(client);
    // Counted closed once its SSN_CLOSE ran.
    wait_for("the session closed", || proxy.status().connections == 0).await;
    let next = get(addr, "site.test", "/").await;
    assert_eq!(next.status, 200, "{}", next.body);
    assert_eq!(
        all(&next, "x-probe-close-order"),
        ["resumed=1 ssn_close=2 saw=1"],
        "the TXN_CLOSE resume came first, and SSN_CLOSE saw what it wrote in the session"
    );
    assert_eq!(all(&next, "x-probe-refused"), ["0"], "the resume was accepted");
    assert_eq!(all(&next, "x-probe-sessions"), ["2/1"]);
}
