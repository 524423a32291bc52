//! Reloads: remap plugins run their init code again, reserving the same names.

use hookyard_userargs::{Conn, Glb, Kind, Registry, Slots, Ssn, Txn};

/// What a plugin's init does: reserve its names, in its own order.
fn plugin_init(registry: &Registry, names: &[&str]) -> Vec<i32> {
    let mut indices = Vec::new();
    for name in names {
        indices.push(registry.reserve::<Txn>(name, "txn").unwrap().raw());
        indices.push(registry.reserve::<Ssn>(name, "ssn").unwrap().raw());
        indices.push(registry.reserve::<Conn>(name, "conn").unwrap().raw());
        indices.push(registry.reserve::<Glb>(name, "glb").unwrap().raw());
    }
    indices
}

#[test]
fn reserving_the_same_names_again_gives_the_same_indices() {
    let registry = Registry::new();
    let names = ["header-rewrite", "request-id", "rate-limit", "cache-key"];
    let first = plugin_init(&registry, &names);
    assert_eq!(first[..4], [1000, 2000, 3000, 4000]);
    // Far more reloads than any kind has slots: nothing leaks.
    for _ in 0..1_000 {
        assert_eq!(plugin_init(&registry, &names), first);
    }
    for kind in Kind::ALL {
        assert_eq!(registry.reserved(kind), names.len(), "{kind}");
    }
}

#[test]
fn a_reload_that_adds_a_name_keeps_the_old_ones() {
    let registry = Registry::new();
    let before = plugin_init(&registry, &["a", "b"]);
    let after = plugin_init(&registry, &["c", "b", "a"]);
    assert_eq!(after[0..4], [1002, 2002, 3002, 4002], "the new name takes the next slot");
    assert_eq!(after[4..8], before[4..8]);
    assert_eq!(after[8..12], before[0..4]);
}

#[test]
fn values_survive_a_reload_because_the_slot_does() {
    let registry = Registry::new();
    let index = registry.reserve::<Ssn>("session-state", "").unwrap();
    let mut session = Slots::<Ssn>::new();
    session.set(index, vec![1_u8, 2, 3]);
    let again = registry.reserve::<Ssn>("session-state", "").unwrap();
    assert_eq!(session.get::<Vec<u8>>(again), Some(&vec![1, 2, 3]));
}
