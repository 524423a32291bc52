//! Raw indices and kinds as the C side passes them: every bad one is a checked error.

use hookyard_userargs::{Conn, Error, Glb, Kind, Registry, Ssn, Txn};

/// A registry with every slot of every kind reserved, so only the range checks can fail.
fn full() -> Registry {
    let registry = Registry::new();
    for kind in Kind::ALL {
        for n in 0..kind.default_capacity() {
            registry.reserve_raw(kind, &format!("{n}"), "").unwrap();
        }
    }
    registry
}

/// `Ok(slot)`, or the error's variant name.
fn check<K: hookyard_userargs::SlotKind>(registry: &Registry, index: i32) -> Result<usize, String> {
    registry.index::<K>(index).map(|i| i.slot()).map_err(|e| match e {
        Error::InvalidIndex { .. } => "invalid".to_owned(),
        Error::WrongKind { .. } => "wrong kind".to_owned(),
        Error::NotReserved { .. } => "not reserved".to_owned(),
        other => format!("{other:?}"),
    })
}

/// The boundaries of ATS's `test_PluginUserArgs.cc`, plus what lies past the capacity.
#[test]
fn raw_indices_are_checked_against_kind_range_and_reservation() {
    let registry = full();
    let invalid = Err("invalid".to_owned());
    let wrong = Err("wrong kind".to_owned());
    let unreserved = Err("not reserved".to_owned());
    for index in [i32::MIN, -1, 0, 1, 999, 5000, i32::MAX] {
        assert_eq!(check::<Txn>(&registry, index), invalid, "{index}");
        assert_eq!(check::<Glb>(&registry, index), invalid, "{index}");
    }
    assert_eq!(check::<Txn>(&registry, 1000), Ok(0));
    assert_eq!(check::<Txn>(&registry, 1001), Ok(1));
    assert_eq!(check::<Txn>(&registry, 1015), Ok(15));
    assert_eq!(check::<Txn>(&registry, 1016), unreserved);
    assert_eq!(check::<Txn>(&registry, 1999), unreserved);
    assert_eq!(check::<Txn>(&registry, 2000), wrong);
    assert_eq!(check::<Ssn>(&registry, 1000), wrong);
    assert_eq!(check::<Ssn>(&registry, 2000), Ok(0));
    assert_eq!(check::<Ssn>(&registry, 2007), Ok(7));
    assert_eq!(check::<Ssn>(&registry, 2008), unreserved);
    assert_eq!(check::<Ssn>(&registry, 2999), unreserved);
    assert_eq!(check::<Ssn>(&registry, 3000), wrong);
    assert_eq!(check::<Conn>(&registry, 2000), wrong);
    assert_eq!(check::<Conn>(&registry, 3000), Ok(0));
    assert_eq!(check::<Conn>(&registry, 3003), Ok(3));
    assert_eq!(check::<Conn>(&registry, 3004), unreserved);
    assert_eq!(check::<Glb>(&registry, 3000), wrong);
    assert_eq!(check::<Glb>(&registry, 4000), Ok(0));
    assert_eq!(check::<Glb>(&registry, 4127), Ok(127));
    assert_eq!(check::<Glb>(&registry, 4128), unreserved);
    assert_eq!(check::<Glb>(&registry, 4999), unreserved);
}

#[test]
fn an_unreserved_slot_in_range_is_not_addressable() {
    let registry = Registry::new();
    assert!(matches!(
        registry.index::<Txn>(1000),
        Err(Error::NotReserved { kind: Kind::Transaction, index: 1000 })
    ));
    let index = registry.reserve::<Txn>("a", "").unwrap();
    assert_eq!(registry.index::<Txn>(1000).unwrap(), index);
}

#[test]
fn describe_raw_checks_the_kind_too() {
    let registry = full();
    assert!(matches!(
        registry.describe_raw(Kind::Transaction, 4000),
        Err(Error::WrongKind { index: 4000, expected: Kind::Transaction, actual: Kind::Global })
    ));
    assert!(matches!(
        registry.describe_raw(Kind::Global, 42),
        Err(Error::InvalidIndex { index: 42 })
    ));
    assert_eq!(registry.describe_raw(Kind::Connection, 3002).unwrap().name(), "2");
}

#[test]
fn c_kind_values_are_checked() {
    for (value, kind) in
        [(0, Kind::Transaction), (1, Kind::Session), (2, Kind::Connection), (3, Kind::Global)]
    {
        assert_eq!(Kind::try_from(value).unwrap(), kind);
    }
    for value in [-1, 4, 1000] {
        assert!(
            matches!(Kind::try_from(value), Err(Error::InvalidKind { value: v }) if v == value)
        );
    }
}

#[test]
fn names_and_descriptions_with_nul_bytes_are_refused() {
    let registry = Registry::new();
    let err = registry.reserve_raw(Kind::Global, "a\0b", "").unwrap_err();
    assert!(matches!(err, Error::Nul { field: "name", .. }), "{err:?}");
    let err = registry.reserve::<Txn>("ok", "bad\0").unwrap_err();
    assert!(matches!(err, Error::Nul { field: "description", .. }), "{err:?}");
    assert_eq!(err.to_string(), "the description of user arg `ok` contains a nul byte");
    assert_eq!(registry.reserved(Kind::Transaction), 0, "a refused name takes no slot");
    assert_eq!(registry.reserve::<Txn>("ok", "good").unwrap().raw(), 1000);
}

#[test]
fn the_empty_name_is_a_name_like_any_other() {
    let registry = Registry::new();
    assert_eq!(registry.reserve_raw(Kind::Session, "", "").unwrap(), 2000);
    assert_eq!(registry.reserve_raw(Kind::Session, "", "").unwrap(), 2000);
    assert_eq!(registry.find_raw(Kind::Session, "").unwrap().raw_index(), 2000);
}
