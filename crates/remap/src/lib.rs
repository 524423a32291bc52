//! remap.config rules, remap plugin chains and configuration generations.
//!
//! This crate will own: the ATS 9.2 `remap.config` parser and matcher, the remap plugin lifecycle
//! (init, instances, do-remap chains, reload notifications), and the generations that new
//! transactions take while old ones finish on theirs (issue 7).
//!
//! It is empty today and provides nothing yet. It must not know about HTTP connections or the
//! control channel.
#![forbid(unsafe_code)]
