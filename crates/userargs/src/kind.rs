//! The four kinds of objects that carry user args, and the indices that name their slots.
//!
//! A slot is named two ways. Rust code holds a [`SlotIndex<K>`], whose marker type `K` makes
//! using it on another kind's storage a compile error. C plugins hold the ATS-compatible raw
//! number, `slot + (kind + 1) * 1000`, which the [`Registry`](crate::Registry) checks on the way
//! in.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use crate::Error;

/// How many raw indices each kind owns; also the largest capacity a kind may have.
pub const MAX_CAPACITY: usize = 1000;

/// `MAX_CAPACITY` as the C side's integer type (1000 fits).
const RAW_SPAN: i32 = 1000;

/// The kind of object a slot lives on.
///
/// The discriminants are ATS's `TSUserArgType` values (`TS_USER_ARGS_TXN` = 0 …
/// `TS_USER_ARGS_GLB` = 3), so the C side passes them through unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// One HTTP transaction; its slots start empty for every transaction.
    Transaction = 0,
    /// One client session; its slots persist across the session's transactions.
    Session = 1,
    /// One connection (ATS's `VCONN`).
    Connection = 2,
    /// The process: one table shared by everything.
    Global = 3,
}

impl Kind {
    /// Every kind, in the order of their C values.
    pub const ALL: [Kind; 4] = [Kind::Transaction, Kind::Session, Kind::Connection, Kind::Global];

    /// The number of slots ATS gives this kind (`MAX_USER_ARGS`): 16, 8, 4 and 128.
    pub const fn default_capacity(self) -> usize {
        match self {
            Kind::Transaction => 16,
            Kind::Session => 8,
            Kind::Connection => 4,
            Kind::Global => 128,
        }
    }

    /// The C value of this kind (`TSUserArgType`).
    pub const fn as_raw(self) -> i32 {
        self as i32
    }

    /// The raw index of this kind's slot 0: 1000, 2000, 3000 or 4000.
    ///
    /// The kind owns the raw indices from here up to, not including, the next multiple of 1000.
    pub const fn raw_offset(self) -> i32 {
        (self as i32 + 1) * RAW_SPAN
    }

    /// The kind whose range holds the raw index `index`, if any.
    ///
    /// This is ATS's `SanityCheckUserIndex`: `offset <= index < offset + 1000`.
    pub const fn of_raw_index(index: i32) -> Option<Kind> {
        // Negative numbers divide to 0 or less, so they land in no range.
        match index / RAW_SPAN {
            1 => Some(Kind::Transaction),
            2 => Some(Kind::Session),
            3 => Some(Kind::Connection),
            4 => Some(Kind::Global),
            _ => None,
        }
    }

    /// The kind's name in messages: `transaction`, `session`, `connection` or `global`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Kind::Transaction => "transaction",
            Kind::Session => "session",
            Kind::Connection => "connection",
            Kind::Global => "global",
        }
    }

    /// The position of this kind in per-kind arrays.
    pub(crate) const fn position(self) -> usize {
        self as usize
    }

    /// The raw index of `slot`, which is below [`MAX_CAPACITY`].
    pub(crate) const fn raw_index(self, slot: u16) -> i32 {
        self.raw_offset() + slot as i32
    }
}

impl TryFrom<i32> for Kind {
    type Error = Error;

    /// Reads a C `TSUserArgType`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKind`] for a value outside `0..4`.
    fn try_from(value: i32) -> Result<Kind, Error> {
        match value {
            0 => Ok(Kind::Transaction),
            1 => Ok(Kind::Session),
            2 => Ok(Kind::Connection),
            3 => Ok(Kind::Global),
            _ => Err(Error::InvalidKind { value }),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A marker type standing for one [`Kind`] at the type level.
///
/// Implemented by [`Txn`], [`Ssn`], [`Conn`] and [`Glb`] only.
pub trait SlotKind: sealed::Sealed + 'static {
    /// The kind this marker stands for.
    const KIND: Kind;
}

/// A [`SlotKind`] whose slots live in each object ([`Slots`](crate::Slots)) rather than in the
/// one global table.
pub trait ObjectKind: SlotKind {}

/// Marker for [`Kind::Transaction`] (ATS `TS_USER_ARGS_TXN`).
#[derive(Debug)]
pub enum Txn {}

/// Marker for [`Kind::Session`] (ATS `TS_USER_ARGS_SSN`).
#[derive(Debug)]
pub enum Ssn {}

/// Marker for [`Kind::Connection`] (ATS `TS_USER_ARGS_VCONN`).
#[derive(Debug)]
pub enum Conn {}

/// Marker for [`Kind::Global`] (ATS `TS_USER_ARGS_GLB`).
#[derive(Debug)]
pub enum Glb {}

macro_rules! marker {
    ($marker:ty, $kind:expr) => {
        impl sealed::Sealed for $marker {}
        impl SlotKind for $marker {
            const KIND: Kind = $kind;
        }
    };
}

marker!(Txn, Kind::Transaction);
marker!(Ssn, Kind::Session);
marker!(Conn, Kind::Connection);
marker!(Glb, Kind::Global);

impl ObjectKind for Txn {}
impl ObjectKind for Ssn {}
impl ObjectKind for Conn {}

/// A reserved slot of kind `K`.
///
/// Only a [`Registry`](crate::Registry) hands these out, from a reservation or from a checked
/// raw index, so the slot number is always below [`MAX_CAPACITY`].
pub struct SlotIndex<K: SlotKind> {
    slot: u16,
    // `fn() -> K` keeps the index `Send`, `Sync` and covariant whatever `K` is.
    kind: PhantomData<fn() -> K>,
}

impl<K: SlotKind> SlotIndex<K> {
    /// An index for `slot`, which the caller has checked to be below the kind's capacity.
    pub(crate) const fn new(slot: u16) -> Self {
        SlotIndex { slot, kind: PhantomData }
    }

    /// The slot number within the kind, from 0.
    pub const fn slot(self) -> usize {
        self.slot as usize
    }

    /// The ATS-compatible number the C side uses for this slot, e.g. 1000 for the first
    /// transaction slot.
    pub const fn raw(self) -> i32 {
        K::KIND.raw_index(self.slot)
    }

    /// The kind of object this slot lives on.
    pub const fn kind(self) -> Kind {
        K::KIND
    }
}

impl<K: SlotKind> Clone for SlotIndex<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: SlotKind> Copy for SlotIndex<K> {}

impl<K: SlotKind> PartialEq for SlotIndex<K> {
    fn eq(&self, other: &Self) -> bool {
        self.slot == other.slot
    }
}

impl<K: SlotKind> Eq for SlotIndex<K> {}

impl<K: SlotKind> PartialOrd for SlotIndex<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: SlotKind> Ord for SlotIndex<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.slot.cmp(&other.slot)
    }
}

impl<K: SlotKind> Hash for SlotIndex<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.slot.hash(state);
    }
}

impl<K: SlotKind> fmt::Debug for SlotIndex<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlotIndex({} {})", K::KIND, self.raw())
    }
}

impl<K: SlotKind> fmt::Display for SlotIndex<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::{Kind, MAX_CAPACITY, RAW_SPAN, SlotIndex, Txn};

    #[test]
    fn raw_span_matches_max_capacity() {
        assert_eq!(usize::try_from(RAW_SPAN).ok(), Some(MAX_CAPACITY));
    }

    #[test]
    fn offsets_are_those_of_ats() {
        let offsets: Vec<i32> = Kind::ALL.iter().map(|k| k.raw_offset()).collect();
        assert_eq!(offsets, [1000, 2000, 3000, 4000]);
        let raw: Vec<i32> = Kind::ALL.iter().map(|k| k.as_raw()).collect();
        assert_eq!(raw, [0, 1, 2, 3]);
    }

    /// The boundaries of ATS's `test_PluginUserArgs.cc` for `SanityCheckUserIndex`.
    #[test]
    fn raw_ranges_follow_sanity_check_user_index() {
        let cases: &[(i32, Option<Kind>)] = &[
            (i32::MIN, None),
            (-1, None),
            (0, None),
            (1, None),
            (999, None),
            (1000, Some(Kind::Transaction)),
            (1001, Some(Kind::Transaction)),
            (1999, Some(Kind::Transaction)),
            (2000, Some(Kind::Session)),
            (2001, Some(Kind::Session)),
            (2999, Some(Kind::Session)),
            (3000, Some(Kind::Connection)),
            (3999, Some(Kind::Connection)),
            (4000, Some(Kind::Global)),
            (4999, Some(Kind::Global)),
            (5000, None),
            (i32::MAX, None),
        ];
        for &(index, kind) in cases {
            assert_eq!(Kind::of_raw_index(index), kind, "raw index {index}");
        }
    }

    #[test]
    fn c_kind_values_round_trip_and_others_are_rejected() {
        for kind in Kind::ALL {
            assert_eq!(Kind::try_from(kind.as_raw()).ok(), Some(kind));
        }
        for value in [-1, 4, i32::MAX] {
            let err = Kind::try_from(value).err().map(|e| e.to_string());
            assert_eq!(
                err.as_deref(),
                Some(format!("user arg kind {value} is not 0 to 3").as_str())
            );
        }
    }

    #[test]
    fn slot_index_shows_kind_and_raw_number() {
        let index = SlotIndex::<Txn>::new(3);
        assert_eq!((index.slot(), index.raw(), index.kind()), (3, 1003, Kind::Transaction));
        assert_eq!(format!("{index:?} {index}"), "SlotIndex(transaction 1003) 1003");
    }
}
