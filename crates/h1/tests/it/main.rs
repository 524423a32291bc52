//! `hookyard-h1`'s tests: heads, framing rules, body coders, round trips, arbitrary input, and
//! a differential test against hyper's HTTP/1 server.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod arbitrary;
mod bodies;
mod differential;
mod heads;
mod responses;
mod roundtrip;
mod rules;
mod support;
