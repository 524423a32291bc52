//! What a transparent proxy adds: the forwarding headers (`Via` both ways, `X-Forwarded-For`,
//! `Forwarded`) with their switches.

use std::net::SocketAddr;

use crate::support::{Origin, config_dir, exchange, get, proxy};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The origin's `/headers` answer as lines `name: value`.
fn seen(body: &str) -> Vec<&str> {
    body.lines().collect()
}

/// A proxy to `origin` (`site.test`) with `settings` as `hookyard.yaml`.
fn setup(origin: SocketAddr, settings: &str) -> (tempfile::TempDir, hookyard_proxy::ServerHandle) {
    let remap = format!("map http://site.test/ http://{origin}/\n");
    let dir = config_dir(&[("remap.config", &remap), ("hookyard.yaml", settings)]);
    let proxy = proxy(Some(dir.path()));
    (dir, proxy)
}

#[tokio::test]
async fn via_goes_both_ways_by_default_and_the_others_are_off() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = setup(origin.addr, "forwarding: {via_hostname: edge-1}\n");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200);
    let via = format!("via: http/1.1 edge-1 (hookyard/{VERSION})");
    assert!(seen(&answer.body).contains(&via.as_str()), "{}", answer.body);
    assert!(!answer.body.contains("x-forwarded-for"), "{}", answer.body);
    assert!(!answer.body.contains("forwarded:"), "{}", answer.body);
    assert_eq!(answer.headers["via"], format!("http/1.1 edge-1 (hookyard/{VERSION})").as_str());
}

#[tokio::test]
async fn via_names_the_machine_unless_told_otherwise_and_can_be_switched_off() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = setup(origin.addr, "");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    let via = answer.headers["via"].to_str().unwrap().to_owned();
    assert!(via.starts_with("http/1.1 ") && via.ends_with(&format!(" (hookyard/{VERSION})")));
    assert!(answer.body.contains(&format!("via: {via}")), "{}", answer.body);
    let (_dir, proxy) = setup(origin.addr, "forwarding: {via: false}\n");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert!(!answer.body.contains("via:"), "{}", answer.body);
    assert!(!answer.headers.contains_key("via"));
    let (_dir, proxy) = setup(origin.addr, "forwarding: {via: request}\n");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert!(answer.body.contains("via: http/1.1 "), "{}", answer.body);
    assert!(!answer.headers.contains_key("via"), "ATS's default: the request only");
}

#[tokio::test]
async fn x_forwarded_for_and_forwarded_append_to_what_the_client_sent() {
    let origin = Origin::start("o").await;
    let settings = "forwarding: {via: false, x_forwarded_for: true, forwarded: true}\n";
    let (_dir, proxy) = setup(origin.addr, settings);
    let request = "GET /headers HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\
                   X-Forwarded-For: 203.0.113.9\r\nForwarded: for=203.0.113.9\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let lines = seen(&answer);
    assert!(lines.contains(&"x-forwarded-for: 203.0.113.9, 127.0.0.1"), "{answer}");
    let forwarded = "forwarded: for=203.0.113.9, for=127.0.0.1;proto=http;host=site.test";
    assert!(lines.contains(&forwarded), "{answer}");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    let lines = seen(&answer.body);
    assert!(lines.contains(&"x-forwarded-for: 127.0.0.1"), "{}", answer.body);
    assert!(lines.contains(&"forwarded: for=127.0.0.1;proto=http;host=site.test"), "{lines:?}");
    let settings = "forwarding: {forwarded: [by, for]}\n";
    let (_dir, proxy) = setup(origin.addr, settings);
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    let lines = seen(&answer.body);
    assert!(lines.contains(&"forwarded: for=127.0.0.1;by=127.0.0.1"), "{lines:?}");
    assert!(!answer.body.contains("x-forwarded-for"), "{}", answer.body);
}
