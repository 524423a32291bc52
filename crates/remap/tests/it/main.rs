//! Integration tests of `hookyard-remap`: parsing, matching, rewriting.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod acl;
mod matching;
mod parsing;
mod support;
