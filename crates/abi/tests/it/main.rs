//! Integration tests of `hookyard-abi`: the header agrees with the Rust definitions, and the
//! load-time rules hold for real shared objects compiled at test time.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod header;
mod load;
mod support;
