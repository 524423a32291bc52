//! Named per-object plugin slots.
//!
//! This crate will own: reservation of slot indices by name for global, session, transaction and
//! connection objects, and the slot storage embedded in those objects (issue 5).
//!
//! It is empty today and provides nothing yet. It depends on no other workspace crate.
#![forbid(unsafe_code)]
