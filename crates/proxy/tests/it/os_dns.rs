//! OS_DNS and the origin's address: a plugin sees the address the origin host resolved to and
//! may connect the transaction elsewhere; one set earlier skips the resolution.

use crate::hooks::probe;
use crate::support::{Origin, config_dir, get, proxy, write};

/// A rule to a closed port on 127.0.0.1, the probe loaded with `params`.
fn closed_origin_with(params: &str) -> tempfile::TempDir {
    let dir = config_dir(&[("remap.config", "map http://site.test/ http://127.0.0.1:9/\n")]);
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    let yaml = format!(
        "runtime_dir: {}\nplugin_dirs: [{}]\n",
        dir.path().join("run").display(),
        dir.path().join("plugins").display()
    );
    write(dir.path(), "hookyard.yaml", &yaml);
    write(
        dir.path(),
        "plugin.yaml",
        &format!("plugins:\n  - path: probe.so\n    params: [{params}]\n"),
    );
    probe(dir.path(), "probe", "probe.so");
    dir
}

#[tokio::test]
async fn an_os_dns_callback_sees_the_resolved_address_and_may_replace_it() {
    let origin = Origin::start("o").await;
    let dir = closed_origin_with(&format!("dns={}", origin.addr));
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("x-probe-dns-was: 127.0.0.1:9"), "{}", answer.body);
    assert!(answer.body.contains("host: 127.0.0.1:9"), "the Host stays the URL's: {}", answer.body);
}

#[tokio::test]
async fn an_address_set_before_os_dns_is_connected_to_without_resolving() {
    let origin = Origin::start("o").await;
    let dir = closed_origin_with(&format!("addr={}", origin.addr));
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(!answer.body.contains("x-probe-dns-was"), "no OS_DNS callback: {}", answer.body);
}

#[tokio::test]
async fn a_host_that_does_not_resolve_for_os_dns_answers_502() {
    let dir = closed_origin_with("dns=127.0.0.1:9");
    write(dir.path(), "remap.config", "map http://site.test/ http://no-such-host.invalid/\n");
    // Bounded whatever the resolver does without a network.
    let yaml = std::fs::read_to_string(dir.path().join("hookyard.yaml")).unwrap();
    write(dir.path(), "hookyard.yaml", &format!("{yaml}timeouts: {{origin_connect: 1s}}\n"));
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/").await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert!(answer.body.contains("does not resolve"), "{}", answer.body);
}

#[tokio::test]
async fn os_dns_sees_the_host_a_strategy_chose_and_may_replace_it() {
    let origin = Origin::start("o").await;
    let dir = closed_origin_with(&format!("dns={}", origin.addr));
    write(
        dir.path(),
        "strategies.yaml",
        "strategies:\n  - strategy: pool\n    policy: first_live\n    groups:\n      - - host: 127.0.0.1\n          protocol: [{scheme: http, port: 9}]\n",
    );
    write(dir.path(), "remap.config", "map http://site.test/ http://origin.test/ @strategy=pool\n");
    let proxy = proxy(Some(dir.path()));
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("x-probe-dns-was: 127.0.0.1:9"), "{}", answer.body);
    assert!(answer.body.contains("host: origin.test"), "the Host is the rule's: {}", answer.body);
}
