//! Integration tests of `hookyard-context`.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod inherit;
mod retire;
mod scope;
mod stress;
mod unload;
