//! The stable C plugin ABI.
//!
//! This crate will own: the `#[repr(C)]` types shared with plugins, the entry-point symbol names,
//! the ABI version and the plugin descriptor, mirrored by a checked-in `include/hookyard.h`
//! (issue 6).
//!
//! It is empty today and provides nothing yet. It depends on no other workspace crate.
#![forbid(unsafe_code)]
