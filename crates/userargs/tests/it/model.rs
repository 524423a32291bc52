//! Property: any sequence of reservations behaves like a per-kind list of names clamped at the
//! capacity.

use std::collections::HashMap;

use hookyard_userargs::{Capacities, Error, Kind, Registry};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(Kind::ALL.to_vec())
}

proptest! {
    #[test]
    fn reservations_match_the_model(
        capacities in prop::array::uniform4(0_usize..6),
        ops in prop::collection::vec((kind(), 0_u8..10), 0..80),
    ) {
        let mut config = Capacities::ats();
        for (kind, capacity) in Kind::ALL.into_iter().zip(capacities) {
            config = config.with(kind, capacity);
        }
        let registry = Registry::with_capacities(config).unwrap();
        let mut model: HashMap<Kind, Vec<String>> = HashMap::new();
        for (kind, n) in ops {
            let name = format!("n{n}");
            let names = model.entry(kind).or_default();
            let expected = match names.iter().position(|known| *known == name) {
                Some(slot) => Some(slot),
                None if names.len() < config.get(kind) => {
                    names.push(name.clone());
                    Some(names.len() - 1)
                }
                None => None,
            };
            let got = registry.reserve_raw(kind, &name, "");
            match expected {
                Some(slot) => prop_assert_eq!(got.ok(), Some(kind.raw_offset() + i32::try_from(slot).unwrap())),
                None => prop_assert!(matches!(got, Err(Error::Full { .. })), "{:?}", got),
            }
        }
        for kind in Kind::ALL {
            let names = model.remove(&kind).unwrap_or_default();
            prop_assert_eq!(registry.reserved(kind), names.len());
            let listed: Vec<&str> = registry.reservations(kind).map(|r| r.name()).collect();
            prop_assert_eq!(&listed, &names);
            for (slot, name) in names.iter().enumerate() {
                let index = kind.raw_offset() + i32::try_from(slot).unwrap();
                prop_assert_eq!(registry.find_raw(kind, name).map(|r| r.raw_index()), Some(index));
                prop_assert_eq!(registry.describe_raw(kind, index).unwrap().name(), name.as_str());
            }
            let past = kind.raw_offset() + i32::try_from(names.len()).unwrap();
            prop_assert!(
                matches!(registry.describe_raw(kind, past), Err(Error::NotReserved { .. })),
                "an unreserved index is not addressable",
            );
        }
    }
}
