//! Integration tests of `hookyard-dso` against real shared objects compiled at test time.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod errors;
mod load;
mod runtime;
mod stress;
mod support;
mod unload;
