//! Per-object and global slot storage: addresses, typed values, ownership.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hookyard_userargs::{
    Capacities, Conn, Error, Glb, GlobalSlots, Kind, Registry, Reservation, SlotIndex, Slots, Ssn,
    Txn,
};

/// Counts its drops, to see who owns a typed value.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn drops() -> (Arc<AtomicUsize>, impl Fn() -> usize) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    (count, move || seen.load(Ordering::SeqCst))
}

#[test]
fn typed_values_are_found_by_their_type_only() {
    let registry = Registry::new();
    let a = registry.reserve::<Txn>("a", "").unwrap();
    let b = registry.reserve::<Txn>("b", "").unwrap();
    let mut txn = Slots::<Txn>::new();
    assert!(!txn.is_set(a));
    txn.set(a, 7_u32);
    assert!(txn.is_set(a));
    assert_eq!(txn.get::<u32>(a), Some(&7));
    assert_eq!(txn.get::<u64>(a), None, "another type is not found");
    assert_eq!(txn.get::<u32>(b), None);
    assert_eq!(txn.get_ptr(a), 0, "a typed value is no address");
    *txn.get_mut::<u32>(a).unwrap() += 1;
    assert_eq!(txn.take::<i32>(a), None, "take of another type leaves the value");
    assert_eq!(txn.take::<u32>(a), Some(8));
    assert!(!txn.is_set(a));
    assert_eq!(txn.take::<u32>(a), None);
}

#[test]
fn an_address_and_a_typed_value_replace_each_other() {
    let registry = Registry::new();
    let index = registry.reserve::<Ssn>("s", "").unwrap();
    let mut ssn = Slots::<Ssn>::new();
    ssn.set_ptr(index, 0xdead_0000);
    assert_eq!(ssn.get::<usize>(index), None, "an address is no typed value");
    assert_eq!(ssn.take::<usize>(index), None);
    assert_eq!(ssn.get_ptr(index), 0xdead_0000, "a failed take leaves the address");
    ssn.set(index, String::from("x"));
    assert_eq!(ssn.get_ptr(index), 0);
    ssn.set_ptr(index, 0xbeef_0000);
    assert_eq!((ssn.get_ptr(index), ssn.get::<String>(index)), (0xbeef_0000, None));
    ssn.set_ptr(index, 0);
    assert!(!ssn.is_set(index), "NULL empties the slot");
}

#[test]
fn typed_values_drop_when_replaced_cleared_or_with_their_object() {
    let registry = Registry::new();
    let index = registry.reserve::<Conn>("c", "").unwrap();
    let (count, dropped) = drops();
    let mut conn = Slots::<Conn>::new();
    conn.set(index, Counted(Arc::clone(&count)));
    conn.set(index, Counted(Arc::clone(&count)));
    assert_eq!(dropped(), 1, "replaced");
    conn.set_ptr(index, 0x10);
    assert_eq!(dropped(), 2, "replaced by an address");
    conn.set(index, Counted(Arc::clone(&count)));
    conn.clear(index);
    assert_eq!(dropped(), 3, "cleared");
    conn.set(index, Counted(Arc::clone(&count)));
    drop(conn);
    assert_eq!(dropped(), 4, "dropped with the object");
}

#[test]
fn each_transaction_has_its_own_slots() {
    let registry = Registry::new();
    let indices: Vec<SlotIndex<Txn>> =
        (0..16).map(|n| registry.reserve::<Txn>(&format!("{n}"), "").unwrap()).collect();
    let mut first = Slots::<Txn>::new();
    let mut second = Slots::<Txn>::new();
    for (n, &index) in indices.iter().enumerate() {
        first.set_ptr(index, 0x1000 + n);
        second.set(index, n);
    }
    for (n, &index) in indices.iter().enumerate() {
        assert_eq!((first.get_ptr(index), first.get::<usize>(index)), (0x1000 + n, None));
        assert_eq!((second.get_ptr(index), second.get::<usize>(index)), (0, Some(&n)));
    }
    assert_eq!(format!("{:?}", Slots::<Txn>::new()), "{}");
}

#[test]
fn the_global_table_holds_addresses_and_shared_values() {
    let registry = Registry::new();
    let index = registry.reserve::<Glb>("g", "").unwrap();
    let global = registry.global();
    assert_eq!((global.get_ptr(index), global.get::<u8>(index)), (0, None));
    global.set(index, String::from("shared")).unwrap();
    let value = global.get::<String>(index).unwrap();
    assert_eq!(value.as_str(), "shared");
    assert_eq!(global.get::<u8>(index), None);
    assert_eq!(global.get_ptr(index), 0);
    global.set_ptr(index, 0x40).unwrap();
    assert_eq!((global.get_ptr(index), global.get::<String>(index)), (0x40, None));
    assert_eq!(value.as_str(), "shared", "a reader's value outlives its replacement");
    global.clear(index).unwrap();
    assert_eq!(global.get_ptr(index), 0);
    assert_eq!(format!("{global:?}"), "GlobalSlots { capacity: 128, used: 0 }");
}

#[test]
fn the_global_table_drops_what_it_owns() {
    let registry = Registry::new();
    let index = registry.reserve::<Glb>("g", "").unwrap();
    let (count, dropped) = drops();
    registry.global().set(index, Counted(Arc::clone(&count))).unwrap();
    registry.global().set(index, Counted(Arc::clone(&count))).unwrap();
    assert_eq!(dropped(), 1);
    let held = registry.global().get::<Counted>(index).unwrap();
    registry.global().clear(index).unwrap();
    assert_eq!(dropped(), 1, "a reader still holds it");
    drop(held);
    assert_eq!(dropped(), 2);
    registry.global().set(index, Counted(Arc::clone(&count))).unwrap();
    drop(registry);
    assert_eq!(dropped(), 3);
}

#[test]
fn an_index_from_a_larger_registry_is_refused_not_a_panic() {
    let large = Registry::with_capacities(Capacities::ats().with(Kind::Global, 200)).unwrap();
    let small = Registry::new();
    let mut last = None;
    for n in 0..200 {
        last = Some(large.reserve::<Glb>(&format!("{n}"), "").unwrap());
    }
    let foreign = last.unwrap();
    assert_eq!(foreign.raw(), 4199);
    let err = small.global().set_ptr(foreign, 1).unwrap_err();
    assert!(matches!(err, Error::ForeignIndex { index: 4199, capacity: 128, .. }), "{err:?}");
    assert!(small.global().set(foreign, 1_u8).is_err());
    assert!(small.global().clear(foreign).is_err());
    assert_eq!((small.global().get_ptr(foreign), small.global().get::<u8>(foreign)), (0, None));
    assert!(small.describe(foreign).is_none());
    let txn = large.reserve::<Txn>("t", "").unwrap();
    assert!(small.describe(txn).is_none());
    assert_eq!(large.describe(txn).unwrap().name(), "t");
}

#[test]
fn shared_types_are_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Registry>();
    shared::<GlobalSlots>();
    shared::<Reservation>();
    shared::<Slots<Txn>>();
    shared::<SlotIndex<Ssn>>();
    shared::<Error>();
}
