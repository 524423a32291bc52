//! ATS's `TSUserArg*` behaviour (`include/tscore/PluginUserArgs.h`, and its unit test
//! `src/tscore/unit_tests/test_PluginUserArgs.cc`), through the calls the C side makes.

use hookyard_userargs::{Error, Kind, Registry, Slots, Ssn, Txn};

/// The objects `TSUserArgGet`/`TSUserArgSet` receive as `data`: NULL for the global table, or
/// a transaction, session or connection.
enum Object<'a> {
    Global,
    Txn(&'a mut Slots<Txn>),
    Ssn(&'a mut Slots<Ssn>),
}

/// `TSUserArgSet(data, index, arg)` as the host's ABI layer does it.
fn user_arg_set(
    registry: &Registry,
    object: Object<'_>,
    index: i32,
    addr: usize,
) -> Result<(), Error> {
    match object {
        Object::Global => registry.global().set_ptr(registry.index(index)?, addr),
        Object::Txn(slots) => {
            slots.set_ptr(registry.index(index)?, addr);
            Ok(())
        }
        Object::Ssn(slots) => {
            slots.set_ptr(registry.index(index)?, addr);
            Ok(())
        }
    }
}

/// `TSUserArgGet(data, index)` as the host's ABI layer does it.
fn user_arg_get(registry: &Registry, object: Object<'_>, index: i32) -> Result<usize, Error> {
    Ok(match object {
        Object::Global => registry.global().get_ptr(registry.index(index)?),
        Object::Txn(slots) => slots.get_ptr(registry.index(index)?),
        Object::Ssn(slots) => slots.get_ptr(registry.index(index)?),
    })
}

#[test]
fn reserve_is_idempotent_by_name_and_per_kind() {
    let registry = Registry::new();
    assert_eq!(registry.reserve_raw(Kind::Transaction, "a", "first").unwrap(), 1000);
    assert_eq!(registry.reserve_raw(Kind::Transaction, "a", "second").unwrap(), 1000);
    assert_eq!(registry.reserve_raw(Kind::Transaction, "b", "").unwrap(), 1001);
    assert_eq!(registry.reserve_raw(Kind::Session, "a", "").unwrap(), 2000);
    assert_eq!(registry.reserve_raw(Kind::Transaction, "A", "").unwrap(), 1002, "case matters");
    assert_eq!(
        registry.find_raw(Kind::Transaction, "a").unwrap().description(),
        "first",
        "a repeated reservation keeps the first description"
    );
    assert_eq!(registry.reserved(Kind::Transaction), 3);
}

#[test]
fn the_seventeenth_transaction_slot_is_refused() {
    let registry = Registry::new();
    for n in 0..16 {
        assert_eq!(
            registry.reserve_raw(Kind::Transaction, &format!("t{n}"), "").unwrap(),
            1000 + n
        );
    }
    let err = registry.reserve_raw(Kind::Transaction, "t16", "").unwrap_err();
    assert!(
        matches!(&err, Error::Full { kind: Kind::Transaction, capacity: 16, name } if name == "t16"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "all 16 transaction user arg slots are reserved; none is left for `t16`"
    );
    // The other kinds' limits are in `limits.rs`.
}

#[test]
fn look_ups_by_name_and_by_index() {
    let registry = Registry::new();
    registry.reserve_raw(Kind::Transaction, "a", "slot a").unwrap();
    registry.reserve_raw(Kind::Transaction, "b", "slot b").unwrap();

    let b = registry.find_raw(Kind::Transaction, "b").unwrap();
    assert_eq!((b.raw_index(), b.description()), (1001, "slot b"));
    let (typed, same) = registry.find::<Txn>("b").unwrap();
    assert_eq!((typed.raw(), same.name()), (1001, "b"));
    assert!(registry.find_raw(Kind::Transaction, "unknown").is_none());
    assert!(registry.find_raw(Kind::Session, "b").is_none(), "names are per kind");

    let by_index = registry.describe_raw(Kind::Transaction, 1001).unwrap();
    assert_eq!((by_index.name(), by_index.description()), ("b", "slot b"));
    assert_eq!(by_index.name_c().to_bytes_with_nul(), b"b\0");
    assert_eq!(by_index.description_c().to_str().unwrap(), "slot b");
    assert!(matches!(
        registry.describe_raw(Kind::Transaction, 1002),
        Err(Error::NotReserved { kind: Kind::Transaction, index: 1002 })
    ));

    // After overflow attempts the unreserved part of the range stays unreserved.
    for n in 0..40 {
        let _ = registry.reserve_raw(Kind::Transaction, &format!("x{n}"), "");
    }
    assert_eq!(registry.reserved(Kind::Transaction), 16);
    for index in [1016, 1017, 1040, 1999] {
        assert!(
            matches!(
                registry.describe_raw(Kind::Transaction, index),
                Err(Error::NotReserved { .. })
            ),
            "{index}"
        );
    }
    assert!(registry.find_raw(Kind::Transaction, "x39").is_none());
    assert_eq!(registry.describe_raw(Kind::Transaction, 1015).unwrap().name(), "x13");
}

#[test]
fn values_per_object_and_global() {
    let registry = Registry::new();
    assert_eq!(registry.reserve_raw(Kind::Transaction, "t", "").unwrap(), 1000);
    assert_eq!(registry.reserve_raw(Kind::Session, "s", "").unwrap(), 2000);
    assert_eq!(registry.reserve_raw(Kind::Global, "g", "").unwrap(), 4000);
    let (p, q) = (0x7f00_0000_1000_usize, 0x7f00_0000_2000_usize);

    let mut txn = Slots::<Txn>::new();
    let mut other_txn = Slots::<Txn>::new();
    user_arg_set(&registry, Object::Txn(&mut txn), 1000, p).unwrap();
    assert_eq!(user_arg_get(&registry, Object::Txn(&mut txn), 1000).unwrap(), p);
    assert_eq!(user_arg_get(&registry, Object::Txn(&mut other_txn), 1000).unwrap(), 0);

    user_arg_set(&registry, Object::Global, 4000, q).unwrap();
    assert_eq!(user_arg_get(&registry, Object::Global, 4000).unwrap(), q);

    // ATS aborts here; hookyard answers with an error and changes nothing.
    let err = user_arg_get(&registry, Object::Txn(&mut txn), 2000).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongKind { index: 2000, expected: Kind::Transaction, actual: Kind::Session }
        ),
        "{err:?}"
    );
    let mut ssn = Slots::<Ssn>::new();
    assert!(matches!(
        user_arg_set(&registry, Object::Ssn(&mut ssn), 1000, p),
        Err(Error::WrongKind { expected: Kind::Session, actual: Kind::Transaction, .. })
    ));
    assert!(matches!(
        user_arg_set(&registry, Object::Global, 2000, p),
        Err(Error::WrongKind { expected: Kind::Global, actual: Kind::Session, .. })
    ));
    assert_eq!(user_arg_get(&registry, Object::Ssn(&mut ssn), 2000).unwrap(), 0);
    assert_eq!(user_arg_get(&registry, Object::Txn(&mut txn), 1000).unwrap(), p);
}
