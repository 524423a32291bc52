//! Integration tests of `hookyard-remap`: parsing, matching, rewriting, plugin lifecycle.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

mod acl;
mod host;
mod lifecycle;
mod matching;
mod parsing;
mod props;
mod support;
