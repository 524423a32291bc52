//! Hook ids and the hook dispatcher.
//!
//! This crate will own: the stable hook ids, registration of continuations at global, session and
//! transaction level, priority-ordered dispatch with thresholds, and per-transaction control of
//! plugins and callbacks (issue 4).
//!
//! It is empty today and provides nothing yet. It will depend on `hookyard-context` only, and must
//! never see a raw pointer or know about remap rules or HTTP.
#![forbid(unsafe_code)]
