//! The capacity of every kind: ATS's defaults, configured ones, and what happens at the edge.

use hookyard_userargs::{Capacities, Error, Kind, MAX_CAPACITY, Registry};

/// Fills `kind` and checks the numbering, the refusal, and that the count stays clamped.
fn fill_and_overflow(registry: &Registry, kind: Kind, capacity: usize) {
    assert_eq!(registry.capacity(kind), capacity, "{kind}");
    let offset = kind.raw_offset();
    for n in 0..capacity {
        let index = registry.reserve_raw(kind, &format!("{kind}-{n}"), "").unwrap();
        assert_eq!(index, offset + i32::try_from(n).unwrap(), "{kind} slot {n}");
    }
    for attempt in 0..3 * MAX_CAPACITY {
        let name = format!("{kind}-over-{attempt}");
        let err = registry.reserve_raw(kind, &name, "").unwrap_err();
        assert!(
            matches!(&err, Error::Full { kind: k, capacity: c, .. } if *k == kind && *c == capacity),
            "{err:?}"
        );
    }
    assert_eq!(registry.reserved(kind), capacity, "{kind}: the count never passes the capacity");
    assert_eq!(registry.reservations(kind).count(), capacity);
    if capacity > 0 {
        let last = capacity - 1;
        let index = registry.reserve_raw(kind, &format!("{kind}-{last}"), "").unwrap();
        assert_eq!(index, registry.describe_raw(kind, index).unwrap().raw_index());
        assert_eq!(
            index,
            offset + i32::try_from(last).unwrap(),
            "a full kind still answers known names"
        );
    }
    let past = offset + i32::try_from(capacity).unwrap();
    let err = registry.describe_raw(kind, past).unwrap_err();
    if capacity < MAX_CAPACITY {
        assert!(matches!(err, Error::NotReserved { .. }), "{kind} {past}: {err:?}");
        let last_in_range = registry.describe_raw(kind, offset + 999).unwrap_err();
        assert!(matches!(last_in_range, Error::NotReserved { .. }), "{kind}: {last_in_range:?}");
    } else {
        assert!(matches!(err, Error::InvalidIndex { .. }), "{kind} {past}: {err:?}");
    }
}

#[test]
fn every_kind_has_the_capacity_of_ats() {
    let registry = Registry::new();
    let expected =
        [(Kind::Transaction, 16), (Kind::Session, 8), (Kind::Connection, 4), (Kind::Global, 128)];
    for (kind, capacity) in expected {
        assert_eq!(kind.default_capacity(), capacity);
        fill_and_overflow(&registry, kind, capacity);
    }
}

#[test]
fn a_full_kind_leaves_the_others_alone() {
    let registry = Registry::new();
    fill_and_overflow(&registry, Kind::Connection, 4);
    for kind in [Kind::Transaction, Kind::Session, Kind::Global] {
        assert_eq!(registry.reserved(kind), 0);
        assert_eq!(registry.reserve_raw(kind, "connection-0", "").unwrap(), kind.raw_offset());
    }
}

#[test]
fn configured_capacities_are_honoured() {
    let capacities = Capacities::ats()
        .with(Kind::Transaction, 40)
        .with(Kind::Session, 0)
        .with(Kind::Connection, 1)
        .with(Kind::Global, MAX_CAPACITY);
    let registry = Registry::with_capacities(capacities).unwrap();
    assert_eq!(registry.global().capacity(), MAX_CAPACITY);
    for kind in Kind::ALL {
        fill_and_overflow(&registry, kind, capacities.get(kind));
    }
    assert_eq!(registry.reserve_raw(Kind::Global, "global-999", "").unwrap(), 4999);
}

#[test]
fn a_capacity_beyond_the_raw_range_is_refused() {
    for kind in Kind::ALL {
        let err =
            Registry::with_capacities(Capacities::ats().with(kind, MAX_CAPACITY + 1)).unwrap_err();
        assert!(
            matches!(err, Error::Capacity { kind: k, requested: 1001, max: 1000 } if k == kind),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("{kind} user arg capacity 1001 exceeds the maximum of 1000")
        );
    }
}

#[test]
fn defaults_are_those_of_ats() {
    assert_eq!(Capacities::default(), Capacities::ats());
    let registry = Registry::default();
    let capacities: Vec<usize> = Kind::ALL.iter().map(|&k| registry.capacity(k)).collect();
    assert_eq!(capacities, [16, 8, 4, 128]);
    assert_eq!(
        format!("{registry:?}"),
        "Registry { transaction: \"0/16 reserved\", session: \"0/8 reserved\", \
         connection: \"0/4 reserved\", global: \"0/128 reserved\" }"
    );
}
