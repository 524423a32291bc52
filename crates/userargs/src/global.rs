//! The one table of global slots, shared by every thread.
//!
//! A slot holds nothing, an address, or a typed value, never two at once. The address is read
//! with one atomic load, because C plugins read global args on every transaction; typed values
//! and every write go through a per-slot lock, which also keeps the address and the typed value
//! from being set together.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::Error;
use crate::kind::{Glb, Kind, SlotIndex};

type Shared = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
struct GlobalSlot {
    /// The address, 0 when the slot holds none; written only under `typed`'s write lock.
    addr: AtomicUsize,
    typed: RwLock<Option<Shared>>,
}

/// The process-wide slot table for [`Kind::Global`], owned by a [`Registry`](crate::Registry).
///
/// Safe to share; reading an address takes no lock. Values are never freed by the table except
/// typed values it owns, which drop when replaced, cleared, or when the table goes.
pub struct GlobalSlots {
    slots: Box<[GlobalSlot]>,
}

impl GlobalSlots {
    pub(crate) fn new(capacity: usize) -> GlobalSlots {
        GlobalSlots { slots: (0..capacity).map(|_| GlobalSlot::default()).collect() }
    }

    fn slot(&self, index: SlotIndex<Glb>) -> Result<&GlobalSlot, Error> {
        self.slots.get(index.slot()).ok_or(Error::ForeignIndex {
            kind: Kind::Global,
            index: index.raw(),
            capacity: self.slots.len(),
        })
    }

    /// The address stored in the slot (ATS `TSUserArgGet(NULL, index)`); 0, the C side's NULL,
    /// when it holds none.
    ///
    /// Pairs with [`set_ptr`](Self::set_ptr) like a release store and an acquire load, so what
    /// the setter wrote before storing the address is visible to whoever reads it.
    pub fn get_ptr(&self, index: SlotIndex<Glb>) -> usize {
        self.slots.get(index.slot()).map_or(0, |slot| slot.addr.load(Ordering::Acquire))
    }

    /// Stores an address in the slot, replacing what it held; 0 empties it.
    ///
    /// The address is opaque: never dereferenced, never freed.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignIndex`] when `index` comes from a registry with more global slots.
    pub fn set_ptr(&self, index: SlotIndex<Glb>, addr: usize) -> Result<(), Error> {
        let slot = self.slot(index)?;
        let old = {
            let mut typed = slot.typed.write().unwrap_or_else(PoisonError::into_inner);
            slot.addr.store(addr, Ordering::Release);
            typed.take()
        };
        // A replaced value drops outside the lock: its destructor is the user's code.
        drop(old);
        Ok(())
    }

    /// The typed value in the slot, if it holds a `T`.
    pub fn get<T: Any + Send + Sync>(&self, index: SlotIndex<Glb>) -> Option<Arc<T>> {
        let slot = self.slots.get(index.slot())?;
        let value = slot.typed.read().unwrap_or_else(PoisonError::into_inner).clone()?;
        value.downcast::<T>().ok()
    }

    /// Stores a typed value in the slot, replacing what it held.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignIndex`] when `index` comes from a registry with more global slots.
    pub fn set<T: Any + Send + Sync>(&self, index: SlotIndex<Glb>, value: T) -> Result<(), Error> {
        let slot = self.slot(index)?;
        let value: Shared = Arc::new(value);
        let old = {
            let mut typed = slot.typed.write().unwrap_or_else(PoisonError::into_inner);
            slot.addr.store(0, Ordering::Release);
            typed.replace(value)
        };
        drop(old);
        Ok(())
    }

    /// Empties the slot.
    ///
    /// # Errors
    ///
    /// [`Error::ForeignIndex`] when `index` comes from a registry with more global slots.
    pub fn clear(&self, index: SlotIndex<Glb>) -> Result<(), Error> {
        self.set_ptr(index, 0)
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

impl fmt::Debug for GlobalSlots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let used = self
            .slots
            .iter()
            .filter(|slot| {
                slot.addr.load(Ordering::Relaxed) != 0
                    || slot.typed.read().unwrap_or_else(PoisonError::into_inner).is_some()
            })
            .count();
        f.debug_struct("GlobalSlots")
            .field("capacity", &self.slots.len())
            .field("used", &used)
            .finish()
    }
}
