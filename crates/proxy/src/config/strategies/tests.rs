use std::path::Path;

use super::*;

fn parsed(text: &str) -> Strategies {
    match parse(Path::new("strategies.yaml"), text) {
        Ok(s) => s,
        Err(problems) => panic!("{problems:?}"),
    }
}

fn problems(text: &str) -> Vec<String> {
    match parse(Path::new("strategies.yaml"), text) {
        Ok(s) => panic!("parsed: {s:?}"),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

/// ATS's example (Debian's /etc/trafficserver/strategies.yaml), uncommented.
const ATS_EXAMPLE: &str = "\
hosts:
  - &p1
    host: p1.foo.com
    hash_string: slsklslsk
    protocol:
      - scheme: http
        port:  80
        health_check_url: http://192.168.1.1:80
      - scheme: https
        port: 443
        health_check_url: https://192.168.1.1:443
  - &p2
    host: p2.foo.com
    protocol:
      - scheme: http
        port: 8080
        health_check_url: http://192.168.1.2:80/health
      - scheme: https
        port: 443
        health_check_url: https://192.168.1.2:443
groups:
  - &g1
    - <<: *p1
      weight: 0.5
    - <<: *p2
      weight: 2
strategies:
  - strategy: 'mid-tier-north'
    policy: rr_ip
    hash_key: hostname
    go_direct: true
    parent_is_proxy: false
    cache_peer_result: true
    groups:
      - *g1
    scheme: http
    failover:
      max_simple_retries: 2
      ring_mode: exhaust_ring
      response_codes:
        - 404
        - 502
        - 503
      health_check:
        - passive
        - active
  - strategy: 'mid-tier-south'
    policy: latched
    hash_key: uri
    go_direct: false
    groups:
      - *g1
    scheme: https
    failover:
      ring_mode: alternate_ring
      health_check: [passive, active]
";

#[test]
fn atss_example_with_anchors_and_merge_keys() {
    let s = parsed(ATS_EXAMPLE);
    let north = s.get("mid-tier-north").expect("north");
    assert_eq!(north.policy, Policy::RrIp);
    assert_eq!(north.hash_key, HashKey::Hostname);
    assert!(north.go_direct);
    assert_eq!(north.failover.max_simple_retries, 2);
    assert_eq!(north.failover.response_codes, [404, 502, 503]);
    assert!(north.failover.passive && north.failover.active);
    let hosts = &north.groups[0];
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0].name(), "p1.foo.com:80");
    assert_eq!(hosts[0].hash_string.as_deref(), Some("slsklslsk"));
    assert!((hosts[0].weight - 0.5).abs() < f64::EPSILON);
    assert_eq!(hosts[1].name(), "p2.foo.com:8080");
    assert!((hosts[1].weight - 2.0).abs() < f64::EPSILON);
    let url = hosts[1].health_check_url.as_ref().expect("url");
    assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("192.168.1.2", 80, "/health"));
    let south = s.get("mid-tier-south").expect("south");
    assert_eq!(south.policy, Policy::Latched);
    assert_eq!(south.scheme, Scheme::Https);
    assert_eq!(south.groups[0][0].port, 443);
    assert!(!south.go_direct);
    assert_eq!(south.failover.ring_mode, RingMode::AlternateRing);
    assert_eq!(south.failover.max_simple_retries, 1);
    assert!(south.failover.passive && south.failover.active);
    let url = south.groups[0][0].health_check_url.as_ref().expect("an https url");
    assert_eq!((url.tls, url.host.as_str(), url.port), (true, "192.168.1.1", 443));
}

#[test]
fn a_host_without_protocol_takes_the_schemes_port_and_groups_may_be_inline() {
    let s = parsed(
        "strategies:\n  - strategy: s\n    policy: round_robin\n    groups:\n      - - host: a\n        - host: b\n          weight: 3\n      - - host: c\n",
    );
    let s = s.get("s").expect("s");
    assert_eq!(s.policy, Policy::RoundRobin);
    assert_eq!(s.hash_key, HashKey::Path);
    let names: Vec<Vec<String>> =
        s.groups.iter().map(|g| g.iter().map(HostSpec::name).collect()).collect();
    assert_eq!(names, [vec!["a:80", "b:80"], vec!["c:80"]]);
}

#[test]
fn every_problem_with_its_line() {
    let text = "\
strategies:
  - strategy: a
    policy: fastest
    groups:
      - - host: h
          protocol:
            - scheme: https
              port: 443
  - strategy: b
    policy: first_live
    colour: blue
    groups:
      - - host: h
          weight: -1
    failover:
      ring_mode: peering_ring
      health_check: [active]
  - policy: latched
    groups: [[{host: x}]]
  - strategy: b
    policy: latched
    groups: [[{host: x, protocol: [{scheme: http, port: 70000}]}]]
#include hosts.yaml
";
    assert_eq!(
        problems(text),
        [
            "strategies.yaml:3: unknown policy `fastest` (expected consistent_hash, first_live, rr_strict, rr_ip, latched or round_robin)",
            "strategies.yaml:7: host `h` has no protocol for scheme http",
            "strategies.yaml:11: unknown key `colour` in a strategy (expected strategy, policy, hash_key, go_direct, scheme, groups, failover, parent_is_proxy, cache_peer_result, ignore_self_detect)",
            "strategies.yaml:14: `weight` must be a positive number",
            "strategies.yaml:16: ring_mode `peering_ring` is for peer caches; hookyard has no cache",
            "strategies.yaml:18: a strategy needs a name (`strategy: NAME`)",
            "strategies.yaml:22: `port` must be from 1 to 65535",
            "strategies.yaml:23: `#include` is not supported: write hosts, groups and strategies in strategies.yaml itself",
        ]
    );
    assert_eq!(
        problems(
            "strategies:\n  - strategy: a\n    policy: latched\n    groups: [[{host: x}]]\n  - strategy: a\n    policy: latched\n    groups: [[{host: y}]]\n"
        ),
        ["strategies.yaml:5: strategy `a` is defined twice (first on line 2)"]
    );
    assert_eq!(
        problems(
            "strategies:\n  - strategy: a\n    policy: latched\n    groups: [[{host: x}]]\n    failover: {health_check: [active]}\n"
        ),
        [
            "strategies.yaml:4: host `x` has no health_check_url for http but strategy `a` checks its hosts actively"
        ]
    );
}

#[test]
fn health_check_urls_are_http_with_a_host_and_port() {
    let url = HealthUrl::parse("http://10.0.0.1:8080/up?deep=1").unwrap();
    assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("10.0.0.1", 8080, "/up?deep=1"));
    let url = HealthUrl::parse("http://[::1]/").unwrap();
    assert_eq!((url.host.as_str(), url.port), ("::1", 80));
    let url = HealthUrl::parse("http://h").unwrap();
    assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("h", 80, "/"));
    let url = HealthUrl::parse("http://[::1]:9000/h").unwrap();
    assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("::1", 9000, "/h"));
    assert!(HealthUrl::parse("http://[::1]x/").is_err());
    let url = HealthUrl::parse("https://h/").unwrap();
    assert_eq!((url.tls, url.port), (true, 443));
    assert!(HealthUrl::parse("ftp://h/").is_err());
    assert!(HealthUrl::parse("http://:80/").is_err());
    assert!(HealthUrl::parse("http://h:0/").is_err());
    assert!(HealthUrl::parse("http://h:port/").is_err());
}
