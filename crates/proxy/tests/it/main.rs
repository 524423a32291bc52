//! End-to-end tests of the `hookyard` proxy: a client, the proxy and an origin, all on
//! 127.0.0.1, in one process.
#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
#![allow(missing_docs, reason = "test functions")]
#![allow(unreachable_pub, reason = "test support shared between modules")]

mod access_log;
mod canary;
mod caps;
mod check;
mod cli;
mod client_conn;
mod conformance;
mod control;
mod coordination;
mod ctl;
mod dns;
mod drain;
mod errors;
mod examples;
mod fleet;
mod forwarding;
mod hooks;
mod http1;
mod http2;
mod limits;
mod metrics;
mod ordering;
mod origin_tls;
mod os_dns;
mod packaging;
mod plugin_ops;
mod plugins;
mod pools;
mod reload;
mod retire;
mod routing;
mod runtime_dir;
mod sessions;
mod streaming;
mod support;
mod systemd;
mod timeouts;
mod tls;
mod transforms;
mod tscompat;
mod upgrade;
mod wasm;
mod watch;
