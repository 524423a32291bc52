//! Named per-object plugin slots ("user args", after ATS's `TSUserArg*` API).
//!
//! A plugin reserves a slot by name on one of four kinds of object — transaction, session,
//! connection, or the process (global) — and then keeps one value per object in it. The
//! [`Registry`] hands out the slots: reserving a name again returns the same slot, because remap
//! plugins re-run their init code on every reload and must not leak a slot each time. Each kind
//! has a fixed capacity (ATS's 16 / 8 / 4 / 128 unless configured); a full kind answers with
//! [`Error::Full`] and its count never passes the capacity. Reservation is safe from several
//! threads at once.
//!
//! A slot is named two ways. Rust code holds a [`SlotIndex<K>`], where `K` is a marker ([`Txn`],
//! [`Ssn`], [`Conn`], [`Glb`]), so an index of one kind used on another kind's storage does not
//! compile. C plugins hold ATS's raw number, `slot + (kind + 1) * 1000` (transaction 1000…,
//! session 2000…, connection 3000…, global 4000…), and [`Registry::index`] turns it into a
//! `SlotIndex` or a typed error (wrong kind, out of range, not reserved), never an abort.
//!
//! The values live in [`Slots<K>`], embedded in each session, transaction and connection and
//! read and written without locks by the object's owner, and in the registry's one
//! [`GlobalSlots`] table, shared by every thread. A slot holds either an opaque address (what C
//! plugins store: a `void *` carried as a `usize`, 0 for NULL, never dereferenced nor freed
//! here) or a typed value of any `'static + Send + Sync` type (what Rust code stores, owned by
//! the slot), never both.
//!
//! This crate owns the reservation tables and the slot storage. It knows nothing of hooks,
//! plugins, the C ABI's function table, or the objects that embed its slots, and depends on no
//! other workspace crate. It has no `unsafe`: addresses are integers, so turning them back into
//! pointers (`std::ptr::with_exposed_provenance_mut`) is the ABI layer's business.
//!
//! # Examples
//!
//! ```
//! use hookyard_userargs::{Error, Glb, Registry, Slots, Ssn, Txn};
//!
//! # fn main() -> Result<(), Error> {
//! let registry = Registry::new();
//! let request_id = registry.reserve::<Txn>("request-id", "id set at read-request-header")?;
//! assert_eq!(request_id.raw(), 1000);
//! // A reload runs the plugin's init again: same name, same slot.
//! assert_eq!(registry.reserve::<Txn>("request-id", "")?, request_id);
//!
//! // In each transaction object:
//! let mut txn = Slots::<Txn>::new();
//! txn.set(request_id, String::from("abc-123"));
//! assert_eq!(txn.get::<String>(request_id).map(String::as_str), Some("abc-123"));
//!
//! // From a C plugin: a raw number, checked against the object's kind.
//! let index = registry.index::<Txn>(1000)?;
//! txn.set_ptr(index, 0x7f00_dead_b000);
//! assert_eq!(txn.get_ptr(index), 0x7f00_dead_b000);
//! assert!(matches!(registry.index::<Txn>(2000), Err(Error::WrongKind { .. })));
//!
//! // The global table, shared by every thread.
//! let config = registry.reserve::<Glb>("config", "")?;
//! registry.global().set_ptr(config, 0x1000)?;
//! assert_eq!(registry.global().get_ptr(config), 0x1000);
//! # let _ = registry.reserve::<Ssn>("unused", "")?;
//! # Ok(())
//! # }
//! ```
//!
//! A session index does not fit a transaction's slots:
//!
//! ```compile_fail
//! use hookyard_userargs::{Registry, Slots, Ssn, Txn};
//!
//! let registry = Registry::new();
//! let index = registry.reserve::<Ssn>("a", "").unwrap();
//! Slots::<Txn>::new().set_ptr(index, 1);
//! ```
//!
//! and global slots live only in the shared table:
//!
//! ```compile_fail
//! use hookyard_userargs::{Glb, Slots};
//!
//! let slots = Slots::<Glb>::new();
//! ```
#![forbid(unsafe_code)]

mod error;
mod global;
mod kind;
mod registry;
mod slots;

pub use error::Error;
pub use global::GlobalSlots;
pub use kind::{Conn, Glb, Kind, MAX_CAPACITY, ObjectKind, SlotIndex, SlotKind, Ssn, Txn};
pub use registry::{Capacities, Registry, Reservation};
pub use slots::Slots;
