//! Reloads: a new generation for new transactions while old ones finish on theirs; a failed
//! reload changes nothing; graceful shutdown.

use std::sync::atomic::Ordering;

use crate::support::{Client, Origin, config_dir, get, proxy, wait_for, within, write};

#[tokio::test]
async fn in_flight_transactions_finish_on_their_generation() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://www.example.com/ http://{}/\n", a.addr),
    )]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];

    let slow = tokio::spawn(async move { get(addr, "www.example.com", "/slow").await });
    wait_for("the slow request at origin a", || a.slow_waiting.load(Ordering::SeqCst) == 1).await;

    write(dir.path(), "remap.config", &format!("map http://www.example.com/ http://{}/\n", b.addr));
    let report = proxy.reload();
    assert!(report.ok, "{report:?}");
    assert_eq!((report.previous, report.generation), (1, 2));
    assert_eq!(proxy.status().in_flight, 1);

    assert!(get(addr, "www.example.com", "/new").await.body.starts_with("b GET /new"));
    a.release();
    let old = within("the slow request", slow).await.unwrap();
    assert_eq!(old.status, 200);
    assert!(old.body.starts_with("a GET /slow"), "{}", old.body);
}

#[tokio::test]
async fn a_failed_reload_keeps_the_serving_generation() {
    let a = Origin::start("a").await;
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://www.example.com/ http://{}/\n", a.addr),
    )]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];

    write(dir.path(), "remap.config", "map http://www.example.com/\nbogus a b\n");
    write(dir.path(), "hookyard.yaml", "timeouts:\n  idle: never\n");
    let report = proxy.reload();
    assert!(!report.ok);
    assert_eq!((report.previous, report.generation), (1, 1));
    let remap = dir.path().join("remap.config").display().to_string();
    let yaml = dir.path().join("hookyard.yaml").display().to_string();
    assert!(
        report.problems.iter().any(|p| p.starts_with(&format!("{remap}:1: "))),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems.iter().any(|p| p.starts_with(&format!("{remap}:2: "))),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems.iter().any(|p| p.starts_with(&format!("{yaml}:2: "))),
        "{:?}",
        report.problems
    );
    let statuses: Vec<_> =
        report.files.iter().map(|f| serde_json::to_value(&f.status).unwrap()).collect();
    assert_eq!(
        statuses,
        ["failed", "failed", "absent", "absent", "absent"],
        "hookyard.yaml, remap.config, plugin.yaml, strategies.yaml, ssl_multicert.config"
    );

    assert!(get(addr, "www.example.com", "/still").await.body.starts_with("a GET /still"));
    let status = proxy.status();
    assert_eq!((status.generation, status.reloads_failed, status.reloads_ok), (1, 1, 0));
}

#[tokio::test]
async fn shutdown_stops_accepting_and_finishes_in_flight_transactions() {
    let a = Origin::start("a").await;
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://www.example.com/ http://{}/\n", a.addr),
    )]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let mut client = Client::connect(addr).await;
    let slow = tokio::spawn(async move { client.request("GET", "www.example.com", "/slow").await });
    wait_for("the slow request at the origin", || a.slow_waiting.load(Ordering::SeqCst) == 1).await;

    proxy.shutdown();
    let start = std::time::Instant::now();
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(start.elapsed() < crate::support::DEADLINE, "still accepting");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    a.release();
    let answer = within("the in-flight request", slow).await.unwrap();
    assert_eq!(answer.status, 200);
    within("the server threads", tokio::task::spawn_blocking(move || proxy.wait())).await.unwrap();
}
