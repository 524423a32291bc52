//! Integration tests of `hookyard-hooks`: dispatch order, control, outcomes, concurrency.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod concurrent;
mod constraints;
mod control;
mod order;
mod outcome;
mod props;
mod reentry;
mod support;
