//! The slots embedded in each session, transaction and connection.
//!
//! The owning object reaches its slots through `&self` and `&mut self`, so there is no lock and
//! no atomic: a get is a bounds check and a match. The array grows on the first write, so an
//! object whose plugins never store anything allocates nothing.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroUsize;

use crate::kind::{ObjectKind, SlotIndex};

/// What one slot holds.
#[derive(Debug, Default)]
enum Value {
    #[default]
    Empty,
    Addr(NonZeroUsize),
    Typed(Box<dyn Any + Send + Sync>),
}

/// The user arg slots of one object of kind `K` ([`Txn`](crate::Txn), [`Ssn`](crate::Ssn) or
/// [`Conn`](crate::Conn)), to embed in that object.
///
/// A slot holds nothing, an opaque address (what C plugins store), or a typed value (what Rust
/// code stores), never two at once. Addresses are never dereferenced nor freed; typed values
/// drop when replaced, cleared, or with the `Slots`. A transaction's slots start empty for every
/// transaction (a new `Slots`); a session's live as long as the session.
pub struct Slots<K: ObjectKind> {
    values: Vec<Value>,
    kind: PhantomData<fn() -> K>,
}

impl<K: ObjectKind> Slots<K> {
    /// Empty slots; allocates nothing until the first value is stored.
    pub const fn new() -> Slots<K> {
        Slots { values: Vec::new(), kind: PhantomData }
    }

    /// The address stored at `index`; 0, the C side's NULL, when the slot holds none.
    #[inline]
    pub fn get_ptr(&self, index: SlotIndex<K>) -> usize {
        match self.values.get(index.slot()) {
            Some(Value::Addr(addr)) => addr.get(),
            _ => 0,
        }
    }

    /// Stores an address at `index`, replacing what the slot held; 0 empties it.
    #[inline]
    pub fn set_ptr(&mut self, index: SlotIndex<K>, addr: usize) {
        let value = NonZeroUsize::new(addr).map_or(Value::Empty, Value::Addr);
        if let Some(slot) = self.values.get_mut(index.slot()) {
            *slot = value;
        } else if !matches!(value, Value::Empty) {
            *self.grow_to(index) = value;
        }
    }

    /// The typed value at `index`, if the slot holds a `T`.
    #[inline]
    pub fn get<T: Any>(&self, index: SlotIndex<K>) -> Option<&T> {
        match self.values.get(index.slot()) {
            Some(Value::Typed(value)) => (**value).downcast_ref::<T>(),
            _ => None,
        }
    }

    /// The typed value at `index` for changing in place, if the slot holds a `T`.
    #[inline]
    pub fn get_mut<T: Any>(&mut self, index: SlotIndex<K>) -> Option<&mut T> {
        match self.values.get_mut(index.slot()) {
            Some(Value::Typed(value)) => (**value).downcast_mut::<T>(),
            _ => None,
        }
    }

    /// Stores a typed value at `index`, replacing what the slot held.
    pub fn set<T: Any + Send + Sync>(&mut self, index: SlotIndex<K>, value: T) {
        let value = Value::Typed(Box::new(value));
        match self.values.get_mut(index.slot()) {
            Some(slot) => *slot = value,
            None => *self.grow_to(index) = value,
        }
    }

    /// Removes and returns the typed value at `index` if the slot holds a `T`; otherwise leaves
    /// the slot as it is.
    pub fn take<T: Any>(&mut self, index: SlotIndex<K>) -> Option<T> {
        let slot = self.values.get_mut(index.slot())?;
        match std::mem::take(slot) {
            Value::Typed(value) => match value.downcast::<T>() {
                Ok(value) => Some(*value),
                Err(other) => {
                    *slot = Value::Typed(other);
                    None
                }
            },
            other => {
                *slot = other;
                None
            }
        }
    }

    /// Empties the slot at `index`, dropping a typed value it held.
    pub fn clear(&mut self, index: SlotIndex<K>) {
        if let Some(slot) = self.values.get_mut(index.slot()) {
            *slot = Value::Empty;
        }
    }

    /// Whether the slot at `index` holds an address or a typed value.
    pub fn is_set(&self, index: SlotIndex<K>) -> bool {
        !matches!(self.values.get(index.slot()), None | Some(Value::Empty))
    }

    /// Extends the array to hold `index` and returns that slot.
    #[cold]
    fn grow_to(&mut self, index: SlotIndex<K>) -> &mut Value {
        let slot = index.slot();
        if self.values.capacity() == 0 {
            // One allocation for the kind's usual capacity, instead of one per growth.
            self.values.reserve_exact(K::KIND.default_capacity().max(slot + 1));
        }
        self.values.resize_with(slot + 1, Value::default);
        &mut self.values[slot]
    }
}

impl<K: ObjectKind> Default for Slots<K> {
    fn default() -> Slots<K> {
        Slots::new()
    }
}

impl<K: ObjectKind> fmt::Debug for Slots<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for (slot, value) in self.values.iter().enumerate() {
            match value {
                Value::Empty => {}
                Value::Addr(addr) => {
                    list.entry(&slot, &format_args!("{:#x}", addr.get()));
                }
                Value::Typed(_) => {
                    list.entry(&slot, &format_args!("typed"));
                }
            }
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{Slots, Value};
    use crate::kind::{SlotIndex, Txn};

    #[test]
    fn first_write_allocates_the_kinds_capacity_once() {
        let mut slots = Slots::<Txn>::new();
        assert_eq!(slots.values.capacity(), 0);
        slots.set_ptr(SlotIndex::new(0), 0);
        assert_eq!(slots.values.capacity(), 0, "storing NULL in a missing slot allocates nothing");
        slots.set_ptr(SlotIndex::new(2), 7);
        assert_eq!((slots.values.len(), slots.values.capacity()), (3, 16));
        slots.set(SlotIndex::new(15), 1_u8);
        assert_eq!((slots.values.len(), slots.values.capacity()), (16, 16));
        slots.set_ptr(SlotIndex::new(40), 1);
        assert_eq!(slots.values.len(), 41, "an index from a larger registry still fits");
    }

    #[test]
    fn a_value_is_small() {
        assert!(size_of::<Value>() <= 24, "{}", size_of::<Value>());
    }
}
