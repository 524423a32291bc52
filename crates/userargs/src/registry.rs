//! Reservation of slots by name, and look-ups both ways.
//!
//! Each kind has a fixed table of entries. A reservation takes the kind's lock, answers an
//! existing name with its slot (remap plugins re-run their init code on every reload, and a new
//! slot per reload would leak one each time), and otherwise fills the next entry and publishes
//! it by raising the kind's count. The count never passes the capacity: ATS lets its counter run
//! on after the table is full, then scans past the end of the table on look-ups.
//!
//! Entries are write-once, so look-ups by index need no lock: an entry below the published count
//! is complete and never changes.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use tracing::{debug, warn};

use crate::Error;
use crate::global::GlobalSlots;
use crate::kind::{Kind, MAX_CAPACITY, SlotIndex, SlotKind};

/// The number of slots of each kind, fixed when a [`Registry`] is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacities {
    per_kind: [usize; 4],
}

impl Capacities {
    /// The capacities of ATS: 16 transaction, 8 session, 4 connection and 128 global slots.
    pub const fn ats() -> Capacities {
        Capacities {
            per_kind: [
                Kind::Transaction.default_capacity(),
                Kind::Session.default_capacity(),
                Kind::Connection.default_capacity(),
                Kind::Global.default_capacity(),
            ],
        }
    }

    /// These capacities with `kind` changed to `capacity` slots (at most [`MAX_CAPACITY`],
    /// checked by [`Registry::with_capacities`]).
    #[must_use]
    pub const fn with(mut self, kind: Kind, capacity: usize) -> Capacities {
        self.per_kind[kind.position()] = capacity;
        self
    }

    /// The number of slots of `kind`.
    pub const fn get(&self, kind: Kind) -> usize {
        self.per_kind[kind.position()]
    }
}

impl Default for Capacities {
    fn default() -> Capacities {
        Capacities::ats()
    }
}

/// One reserved slot: its kind, number, name and description.
///
/// Lives as long as the [`Registry`], so the C side may hand out pointers to its strings.
#[derive(Debug)]
pub struct Reservation {
    kind: Kind,
    slot: u16,
    name: Box<str>,
    description: Box<str>,
    c_name: CString,
    c_description: CString,
}

impl Reservation {
    fn new(kind: Kind, slot: u16, name: &str, description: &str) -> Result<Reservation, Error> {
        let nul = |field, source| Error::Nul { field, name: name.to_owned(), source };
        let c_name = CString::new(name).map_err(|e| nul("name", e))?;
        let c_description = CString::new(description).map_err(|e| nul("description", e))?;
        Ok(Reservation {
            kind,
            slot,
            name: name.into(),
            description: description.into(),
            c_name,
            c_description,
        })
    }

    /// The kind of object the slot lives on.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The slot number within the kind, from 0.
    pub fn slot(&self) -> usize {
        usize::from(self.slot)
    }

    /// The ATS-compatible raw index of the slot (1000 for the first transaction slot).
    pub fn raw_index(&self) -> i32 {
        self.kind.raw_index(self.slot)
    }

    /// The name the slot was reserved under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description given by the first reservation of the name (possibly empty).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// [`name`](Self::name) as a C string, for the C side.
    pub fn name_c(&self) -> &CStr {
        &self.c_name
    }

    /// [`description`](Self::description) as a C string, for the C side.
    pub fn description_c(&self) -> &CStr {
        &self.c_description
    }
}

/// The reservations of one kind.
struct Table {
    kind: Kind,
    /// Entry `i` is set exactly when `i < names.len()`, and only under the `names` lock.
    entries: Box<[OnceLock<Reservation>]>,
    /// How many entries are set, published after the entry itself; never above the capacity.
    reserved: AtomicUsize,
    /// Name to slot; its lock serialises reservations of this kind.
    names: Mutex<HashMap<Box<str>, u16>>,
}

impl Table {
    fn new(kind: Kind, capacity: usize) -> Table {
        Table {
            kind,
            entries: (0..capacity).map(|_| OnceLock::new()).collect(),
            reserved: AtomicUsize::new(0),
            names: Mutex::new(HashMap::new()),
        }
    }

    fn reserve(&self, name: &str, description: &str) -> Result<&Reservation, Error> {
        // Nothing that can panic runs between the first and the last change below (logging runs
        // before or after them), so a poisoned lock still guards consistent tables.
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&slot) = names.get(name) {
            return self.entry(usize::from(slot)).ok_or_else(|| self.not_reserved(slot));
        }
        let next = names.len();
        let Some(entry) = self.entries.get(next) else {
            warn!(kind = %self.kind, name, capacity = self.entries.len(), "user arg slots exhausted");
            return Err(Error::Full {
                kind: self.kind,
                capacity: self.entries.len(),
                name: name.to_owned(),
            });
        };
        // `next` is below the capacity, which is at most MAX_CAPACITY (1000).
        let slot = next as u16;
        let reservation = Reservation::new(self.kind, slot, name, description)?;
        // The entry is empty: entries are set only here, in order, under this lock.
        let stored = entry.get_or_init(|| reservation);
        names.insert(name.into(), slot);
        self.reserved.store(next + 1, Ordering::Release);
        debug!(kind = %self.kind, name, index = stored.raw_index(), "user arg reserved");
        Ok(stored)
    }

    fn find(&self, name: &str) -> Option<&Reservation> {
        let slot = *self.names.lock().unwrap_or_else(PoisonError::into_inner).get(name)?;
        self.entry(usize::from(slot))
    }

    /// The published entry at `slot`, if any.
    fn entry(&self, slot: usize) -> Option<&Reservation> {
        if slot < self.reserved.load(Ordering::Acquire) {
            self.entries.get(slot)?.get()
        } else {
            None
        }
    }

    fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Acquire)
    }

    /// The reserved slot a raw index names, checked to be of this table's kind.
    fn check(&self, index: i32) -> Result<u16, Error> {
        let actual = Kind::of_raw_index(index).ok_or(Error::InvalidIndex { index })?;
        if actual != self.kind {
            return Err(Error::WrongKind { index, expected: self.kind, actual });
        }
        // The index is in this kind's range, so the slot is in 0..1000.
        let slot = u16::try_from(index - self.kind.raw_offset()).ok();
        slot.filter(|&slot| usize::from(slot) < self.reserved())
            .ok_or(Error::NotReserved { kind: self.kind, index })
    }

    fn not_reserved(&self, slot: u16) -> Error {
        Error::NotReserved { kind: self.kind, index: self.kind.raw_index(slot) }
    }
}

/// The slot reservations of one process, and its global slot table.
///
/// Safe to share between threads; reservations of the same name from several threads at once
/// get one slot. Usually built once at start and kept for the life of the process: C plugins
/// may hold pointers to the names and descriptions it stores.
pub struct Registry {
    tables: [Table; 4],
    global: GlobalSlots,
}

impl Registry {
    /// A registry with the capacities of ATS ([`Capacities::ats`]).
    pub fn new() -> Registry {
        Registry::build(Capacities::ats())
    }

    /// A registry with the given capacities.
    ///
    /// # Errors
    ///
    /// [`Error::Capacity`] when a capacity exceeds [`MAX_CAPACITY`], the size of a kind's range
    /// of raw indices.
    pub fn with_capacities(capacities: Capacities) -> Result<Registry, Error> {
        for kind in Kind::ALL {
            let requested = capacities.get(kind);
            if requested > MAX_CAPACITY {
                return Err(Error::Capacity { kind, requested, max: MAX_CAPACITY });
            }
        }
        Ok(Registry::build(capacities))
    }

    fn build(capacities: Capacities) -> Registry {
        Registry {
            tables: Kind::ALL.map(|kind| Table::new(kind, capacities.get(kind))),
            global: GlobalSlots::new(capacities.get(Kind::Global)),
        }
    }

    fn table(&self, kind: Kind) -> &Table {
        &self.tables[kind.position()]
    }

    /// Reserves a slot of kind `K` under `name`, or returns the slot already reserved under it.
    ///
    /// Names are compared exactly and are per kind. A repeated reservation keeps the first
    /// description.
    ///
    /// # Errors
    ///
    /// [`Error::Full`] when the name is new and every slot of the kind is taken;
    /// [`Error::Nul`] when the name or description holds a NUL byte.
    pub fn reserve<K: SlotKind>(
        &self,
        name: &str,
        description: &str,
    ) -> Result<SlotIndex<K>, Error> {
        let reservation = self.table(K::KIND).reserve(name, description)?;
        Ok(SlotIndex::new(reservation.slot))
    }

    /// [`reserve`](Self::reserve) for a kind known only at run time (the C side); returns the
    /// raw index.
    ///
    /// # Errors
    ///
    /// As for [`reserve`](Self::reserve).
    pub fn reserve_raw(&self, kind: Kind, name: &str, description: &str) -> Result<i32, Error> {
        Ok(self.table(kind).reserve(name, description)?.raw_index())
    }

    /// The slot of kind `K` reserved under `name`, with its reservation.
    pub fn find<K: SlotKind>(&self, name: &str) -> Option<(SlotIndex<K>, &Reservation)> {
        let reservation = self.table(K::KIND).find(name)?;
        Some((SlotIndex::new(reservation.slot), reservation))
    }

    /// The reservation of kind `kind` under `name`.
    pub fn find_raw(&self, kind: Kind, name: &str) -> Option<&Reservation> {
        self.table(kind).find(name)
    }

    /// The reservation behind `index`; `None` only for an index from another registry.
    pub fn describe<K: SlotKind>(&self, index: SlotIndex<K>) -> Option<&Reservation> {
        self.table(K::KIND).entry(index.slot())
    }

    /// The reservation behind the raw index `index`, which must be of kind `kind`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidIndex`], [`Error::WrongKind`] or [`Error::NotReserved`], as for
    /// [`index`](Self::index).
    pub fn describe_raw(&self, kind: Kind, index: i32) -> Result<&Reservation, Error> {
        let table = self.table(kind);
        let slot = table.check(index)?;
        table.entry(usize::from(slot)).ok_or_else(|| table.not_reserved(slot))
    }

    /// The typed index for the raw index `index`, checked to name a reserved slot of kind `K`.
    ///
    /// This is the one gate between a C plugin's number and slot storage.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidIndex`] when `index` is in no kind's range; [`Error::WrongKind`] when it
    /// is in another kind's range; [`Error::NotReserved`] when no slot is reserved there.
    pub fn index<K: SlotKind>(&self, index: i32) -> Result<SlotIndex<K>, Error> {
        Ok(SlotIndex::new(self.table(K::KIND).check(index)?))
    }

    /// The number of slots of `kind`.
    pub fn capacity(&self, kind: Kind) -> usize {
        self.table(kind).entries.len()
    }

    /// The number of slots of `kind` reserved so far; never above its capacity.
    pub fn reserved(&self, kind: Kind) -> usize {
        self.table(kind).reserved()
    }

    /// The reservations of `kind`, in slot order.
    pub fn reservations(&self, kind: Kind) -> impl Iterator<Item = &Reservation> {
        let table = self.table(kind);
        table.entries.iter().take(table.reserved()).filter_map(OnceLock::get)
    }

    /// The process-wide table of global slots.
    pub fn global(&self) -> &GlobalSlots {
        &self.global
    }
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::new()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Registry");
        for table in &self.tables {
            let usage = format!("{}/{} reserved", table.reserved(), table.entries.len());
            out.field(table.kind.name(), &usage);
        }
        out.finish()
    }
}
