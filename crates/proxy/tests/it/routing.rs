//! Routing by remap rules: map, absolute-form, host-less, regex, redirects, reverse_map, ACL,
//! the health route, the embedded default, and keep-alive on both sides.

use std::sync::atomic::Ordering;

use crate::support::{Client, Origin, config_dir, get, proxy, raw};

#[tokio::test]
async fn map_rewrites_the_host_and_keeps_path_and_query() {
    let origin = Origin::start("a").await;
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://www.example.com/ http://{}/\n", origin.addr),
    )]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "www.example.com", "/some/path?x=1").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, format!("a GET /some/path?x=1 host={}", origin.addr));
}

#[tokio::test]
async fn absolute_form_targets_route_by_their_host() {
    let origin = Origin::start("a").await;
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://www.example.com/ http://{}/base/\n", origin.addr),
    )]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "", "http://www.example.com/abs").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, format!("a GET /base/abs host={}", origin.addr));
}

#[tokio::test]
async fn host_less_rules_are_the_fallback() {
    let (a, b) = (Origin::start("a").await, Origin::start("b").await);
    let remap =
        format!("map / http://{}/\nmap http://www.example.com/ http://{}/\n", b.addr, a.addr);
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    assert!(get(addr, "www.example.com", "/p").await.body.starts_with("a GET /p"));
    assert!(get(addr, "other.example.com", "/p").await.body.starts_with("b GET /p"));
    // No Host header at all: only host-less rules can match.
    let answer = raw(addr, b"GET /q HTTP/1.1\r\nConnection: close\r\n\r\n", "").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("b GET /q"), "{answer}");
}

#[tokio::test]
async fn regex_rules_expand_their_groups() {
    let origin = Origin::start("a").await;
    let remap = format!(
        "regex_map http://ip([0-9]+).example.com/ http://127.0.0.$1:{}/\n",
        origin.addr.port()
    );
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "ip1.example.com", "/r").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, format!("a GET /r host=127.0.0.1:{}", origin.addr.port()));
    assert_eq!(get(proxy.addrs()[0], "xip1.example.com", "/r").await.status, 404);
}

#[tokio::test]
async fn redirects_answer_301_307_and_302_for_http10() {
    let remap = "redirect http://old.example.com/ http://new.example.com/\n\
                 redirect_temporary http://tmp.example.com/ http://new.example.com/t/\n";
    let dir = config_dir(&[("remap.config", remap)]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    let answer = get(addr, "old.example.com", "/a?b=c").await;
    assert_eq!(answer.status, 301);
    assert_eq!(answer.headers["location"], "http://new.example.com/a?b=c");
    let answer = get(addr, "tmp.example.com", "/a").await;
    assert_eq!(answer.status, 307);
    assert_eq!(answer.headers["location"], "http://new.example.com/t/a");
    let answer = raw(addr, b"GET /a HTTP/1.0\r\nHost: tmp.example.com\r\n\r\n", "").await;
    assert!(answer.starts_with("HTTP/1.0 302"), "{answer}");
    assert!(answer.contains("location: http://new.example.com/t/a"), "{answer}");
}

#[tokio::test]
async fn reverse_map_rewrites_the_origin_location() {
    let origin = Origin::start("a").await;
    let remap = format!(
        "map http://www.example.com/y/ http://{0}/x/\nreverse_map http://{0}/x/ http://www.example.com/y/\n",
        origin.addr
    );
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "www.example.com", "/y/location").await;
    assert_eq!(answer.status, 302);
    assert_eq!(answer.headers["location"], "http://www.example.com/y/moved?q=1");
    // No reverse rule matches this one: unchanged.
    assert_eq!(answer.headers["content-location"], "http://elsewhere.example/x/moved");
}

#[tokio::test]
async fn unmapped_is_404_and_acl_denied_is_403() {
    let origin = Origin::start("a").await;
    let remap = format!(
        "map http://acl.example.com/ http://{}/ @action=deny @method=DELETE\n",
        origin.addr
    );
    let dir = config_dir(&[("remap.config", &remap)]);
    let proxy = proxy(Some(dir.path()));
    let addr = proxy.addrs()[0];
    assert_eq!(get(addr, "nowhere.example.com", "/").await.status, 404);
    let mut client = Client::connect(addr).await;
    assert_eq!(client.request("GET", "acl.example.com", "/").await.status, 200);
    let denied = client.request("DELETE", "acl.example.com", "/").await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body, "Access Denied\n");
}

#[tokio::test]
async fn the_embedded_default_answers() {
    let proxy = proxy(None);
    let addr = proxy.addrs()[0];
    let welcome = get(addr, "localhost", "/").await;
    assert_eq!(welcome.status, 200);
    assert!(welcome.body.contains("hookyard is running"), "{}", welcome.body);
    let health = get(addr, "localhost", "/_hookyard/health").await;
    assert_eq!((health.status.as_u16(), health.body.as_str()), (200, "ok\n"));
    assert_eq!(get(addr, "localhost", "/elsewhere").await.status, 404);
    assert_eq!(proxy.status().source, "embedded default");
}

#[tokio::test]
async fn keep_alive_on_both_sides() {
    let origin = Origin::start("a").await;
    let dir = config_dir(&[(
        "remap.config",
        &format!("map http://www.example.com/ http://{}/\n", origin.addr),
    )]);
    let proxy = proxy(Some(dir.path()));
    let mut client = Client::connect(proxy.addrs()[0]).await;
    for i in 0..5 {
        let answer = client.request("GET", "www.example.com", &format!("/{i}")).await;
        assert_eq!(answer.status, 200);
    }
    // One client connection, served by one worker, whose pool kept one origin connection.
    assert_eq!(origin.connections.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.status().requests, 5);
}
