//! Transactions that do not end by themselves: clients that leave mid-way, hooks that stay
//! pending, transactions past their active timeout. Each ends, is counted once, and frees its
//! state.

use std::sync::atomic::Ordering;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{Origin, config_dir, proxy, wait_for};

#[tokio::test]
async fn clients_leaving_mid_transaction_leave_nothing_in_flight() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let dir = config_dir(&[("remap.config", &remap)]);
    let handle = proxy(Some(dir.path()));
    let addr = handle.addrs()[0];
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET /slow/{i} HTTP/1.1\r\nHost: site.test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        clients.push(stream);
    }
    wait_for("20 requests waiting at the origin", || {
        origin.slow_waiting.load(Ordering::SeqCst) == 20
    })
    .await;
    assert_eq!(handle.status().in_flight, 20);
    drop(clients);
    wait_for("no transaction left in flight", || handle.status().in_flight == 0).await;
    wait_for("no connection left open", || handle.status().connections == 0).await;
    let text = handle.metrics_text();
    assert!(text.contains("hookyard_transactions_abandoned_total 20"), "{text}");
    origin.release();
}
