use std::path::Path;

use super::*;

fn strategy(yaml: &str, hosts: &HostTable) -> Strategy {
    let parsed = crate::config::strategies::parse(Path::new("strategies.yaml"), yaml).unwrap();
    Strategy::new(&parsed.strategies[0], hosts)
}

fn hosts_yaml(policy: &str, n: usize) -> String {
    let hosts: Vec<String> =
        (0..n).map(|i| format!("{{host: h{i}, protocol: [{{scheme: http, port: 80}}]}}")).collect();
    format!(
        "strategies:\n  - strategy: s\n    policy: {policy}\n    groups:\n      - [{}]\n",
        hosts.join(", ")
    )
}

fn pick(s: &Strategy, hash: u64) -> Option<String> {
    s.select(hash, &mut Attempts::default()).map(|m| m.host.name.clone())
}

#[test]
fn consistent_hash_keeps_keys_and_moves_about_one_nth_when_a_host_goes() {
    let table = HostTable::default();
    let s = strategy(&hosts_yaml("consistent_hash", 5), &table);
    let keys: Vec<u64> =
        (0..10_000).map(|i| key_hash(HashKey::Path, "http", "x", &format!("/k{i}"), "")).collect();
    let before: Vec<String> = keys.iter().map(|&k| pick(&s, k).unwrap()).collect();
    let again: Vec<String> = keys.iter().map(|&k| pick(&s, k).unwrap()).collect();
    assert_eq!(before, again, "the same host while the set is unchanged");
    for i in 0..5 {
        let share = before.iter().filter(|h| **h == format!("h{i}:80")).count();
        assert!((1400..2600).contains(&share), "h{i} has {share} of 10000 keys");
    }
    table
        .mark("h2", Some("test"), &s.members().map(|m| m.host.clone()).collect::<Vec<_>>())
        .unwrap();
    let after: Vec<String> = keys.iter().map(|&k| pick(&s, k).unwrap()).collect();
    let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    let on_h2 = before.iter().filter(|h| *h == "h2:80").count();
    assert_eq!(moved, on_h2, "only the keys of the host that went move");
    assert!(after.iter().all(|h| h != "h2:80"));
    assert!((1400..2600).contains(&moved), "about 1/5 moved: {moved}");
}

#[test]
fn round_robin_follows_weights_and_skips_hosts_down() {
    let table = HostTable::default();
    let yaml = "strategies:\n  - strategy: s\n    policy: rr_strict\n    groups:\n      - [{host: a, weight: 1}, {host: b, weight: 3}]\n";
    let s = strategy(yaml, &table);
    let turns: Vec<String> = (0..8).map(|_| pick(&s, 0).unwrap()).collect();
    assert_eq!(turns.iter().filter(|h| *h == "a:80").count(), 2, "{turns:?}");
    let members: Vec<_> = s.members().map(|m| m.host.clone()).collect();
    table.mark("b:80", Some("maintenance"), &members).unwrap();
    assert!((0..8).all(|_| pick(&s, 0).unwrap() == "a:80"));
    table.mark("a", Some("maintenance"), &members).unwrap();
    assert_eq!(pick(&s, 0), None, "every host down: none");
    table.mark("a", None, &members).unwrap();
    table.mark("b:80", None, &members).unwrap();
    assert!((0..8).any(|_| pick(&s, 0).unwrap() == "b:80"));
    assert!(table.mark("c", None, &members).is_err());
}

#[test]
fn retries_go_to_hosts_not_tried_then_to_the_next_group() {
    let table = HostTable::default();
    let yaml = "strategies:\n  - strategy: s\n    policy: first_live\n    groups:\n      - [{host: p1}, {host: p2}]\n      - [{host: s1}]\n";
    let s = strategy(yaml, &table);
    let mut attempts = Attempts::default();
    let order: Vec<String> =
        std::iter::from_fn(|| s.select(0, &mut attempts).map(|m| m.host.name.clone())).collect();
    assert_eq!(order, ["p1:80", "p2:80", "s1:80"]);
    let alternate =
        yaml.replace("first_live", "first_live\n    failover: {ring_mode: alternate_ring}");
    let s = strategy(&alternate, &HostTable::default());
    let mut attempts = Attempts::default();
    let order: Vec<String> =
        std::iter::from_fn(|| s.select(0, &mut attempts).map(|m| m.host.name.clone())).collect();
    assert_eq!(order, ["p1:80", "s1:80", "p2:80"]);
}

#[test]
fn latched_stays_on_a_host_until_it_fails() {
    let table = HostTable::default();
    let s = strategy(&hosts_yaml("latched", 3), &table);
    assert!((0..5).all(|_| pick(&s, 0).unwrap() == "h0:80"));
    let host = table.host("h0", 80);
    host.failed(Some((1, std::time::Duration::from_secs(60))));
    assert!((0..5).all(|_| pick(&s, 0).unwrap() == "h1:80"), "latched onto the next");
    host.succeeded();
    assert_eq!(pick(&s, 0).unwrap(), "h1:80", "stays latched after the first recovers");
}

#[test]
fn passive_marking_takes_fall_failures_in_a_row_and_a_success_ends_it() {
    let host = HostTable::default().host("h", 80);
    let passive = Some((3, std::time::Duration::from_secs(60)));
    host.failed(passive);
    host.failed(passive);
    host.succeeded();
    host.failed(passive);
    host.failed(passive);
    assert!(host.is_up(), "two in a row after a success");
    host.failed(passive);
    assert!(!host.is_up());
    assert_eq!(host.info().reason, "passive");
    host.failed(Some((3, std::time::Duration::from_millis(1))));
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert!(host.is_up(), "tried again once the retry time passed");
}

#[test]
fn an_operators_mark_covers_every_port_of_a_host_and_hosts_named_later() {
    let table = HostTable::default();
    let (a80, a81) = (table.host("a", 80), table.host("a", 81));
    let known = vec![a80.clone(), a81.clone()];
    assert_eq!(table.mark("a", Some("rack"), &known).unwrap(), ["a:80", "a:81"]);
    assert!(!a80.is_up() && !a81.is_up());
    assert_eq!(a81.info().reason, "rack");
    // A reload adding a port of the marked host: marked too.
    let a82 = table.host("a", 82);
    assert!(!a82.is_up());
    let known = vec![a80.clone(), a81.clone(), a82.clone()];
    table.mark("a:81", None, &known).unwrap();
    assert!(a81.is_up(), "up on one port clears the host's mark for it");
    assert!(table.mark("b", Some("x"), &known).is_err(), "no host b");
    table.mark("a", None, &known).unwrap();
    assert!(known.iter().all(|h| h.is_up()));
    assert_eq!(a80.info().state, "up");
}
