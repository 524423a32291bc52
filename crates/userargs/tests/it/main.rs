//! Integration tests of `hookyard-userargs`: ATS's behaviour, limits, reloads, raw indices,
//! slot storage and concurrent use.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod concurrent;
mod limits;
mod model;
mod raw;
mod reload;
mod scenarios;
mod slots;
