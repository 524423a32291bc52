//! A value held through what owns it.
//!
//! A transaction's state refers to values of its generation (the global hook table, its rule's
//! URLs) that every worker's transactions share. Each taking its own count of such a value would
//! change one count from every worker at every transaction, moving its cache line from core to
//! core; a [`Kept`] instead counts the owner its caller hands in, which can be a handle that one
//! worker alone counts (the proxy's hold of its generation), and reaches the value inside it.

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

/// A `T` that its owner keeps alive: a clone counts the owner, not the `T`.
pub struct Kept<T: 'static> {
    owner: Arc<dyn Send + Sync>,
    value: NonNull<T>,
}

// SAFETY: a `Kept` gives out only `&T`, as an `Arc<T>` does, and its owner is `Send + Sync`:
// sending or sharing it shares `T`, which `T: Sync` allows.
unsafe impl<T: Sync> Send for Kept<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Kept<T> {}

impl<T: Send + Sync + 'static> Kept<T> {
    /// `value`, kept by itself.
    pub fn new(value: Arc<T>) -> Kept<T> {
        let at = NonNull::from(&*value);
        Kept { owner: value, value: at }
    }
}

impl<T: 'static> Kept<T> {
    /// The `T` that `part` finds in `owner`, kept by `owner`.
    pub fn part_of<O: Send + Sync + 'static>(
        owner: Arc<O>,
        part: impl for<'o> FnOnce(&'o O) -> &'o T,
    ) -> Kept<T> {
        let value = NonNull::from(part(&owner));
        Kept { owner, value }
    }

    /// [`part_of`](Kept::part_of), when `part` finds one.
    pub fn try_part_of<O: Send + Sync + 'static>(
        owner: Arc<O>,
        part: impl for<'o> FnOnce(&'o O) -> Option<&'o T>,
    ) -> Option<Kept<T>> {
        let value = NonNull::from(part(&owner)?);
        Some(Kept { owner, value })
    }
}

impl<T: 'static> Deref for Kept<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `value` is the owner itself or was borrowed from it, shared, for as long as
        // the borrow of the owner; the owner stays where it is (behind its `Arc`) and alive as
        // long as this `Kept`, and nothing gives it out mutably while it is shared.
        unsafe { self.value.as_ref() }
    }
}

impl<T: 'static> Clone for Kept<T> {
    fn clone(&self) -> Kept<T> {
        Kept { owner: Arc::clone(&self.owner), value: self.value }
    }
}

impl<T: std::fmt::Debug + 'static> std::fmt::Debug for Kept<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Owner {
        name: String,
        parts: Vec<Arc<String>>,
    }

    #[test]
    fn a_part_lives_as_long_as_its_owner_and_counts_only_the_owner() {
        let part = Arc::new("part".to_owned());
        let owner = Arc::new(Owner { name: "owner".to_owned(), parts: vec![part.clone()] });
        let kept = Kept::part_of(owner.clone(), |o| &*o.parts[0]);
        let name = Kept::part_of(owner.clone(), |o| &o.name);
        let copies: Vec<Kept<String>> = (0..3).map(|_| kept.clone()).collect();
        assert_eq!(Arc::strong_count(&part), 2, "the part itself is not counted");
        assert_eq!(Arc::strong_count(&owner), 6);
        drop((owner, part));
        assert_eq!(*name, "owner");
        assert!(copies.iter().all(|c| **c == "part"));
        assert_eq!(*kept, "part");
    }

    #[test]
    fn a_part_may_not_be_there() {
        let owner = Arc::new(Owner { name: String::new(), parts: Vec::new() });
        assert!(Kept::try_part_of(owner.clone(), |o| o.parts.first().map(|p| &**p)).is_none());
        let whole = Kept::new(Arc::new(7_u32));
        assert_eq!(*whole.clone(), 7);
    }
}
