//! The floor contender: `bench-floor` (`xtask/floor`), the least an HTTP/1 forwarder on tokio
//! does per request, in front of the same origin. Its req/s and instructions say how far the
//! machine's network work alone lets a proxy go, so a ratio to nginx reads against what is
//! possible at all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

/// Builds `bench-floor` in release (as hookyard is built) and returns its path.
pub(crate) fn build(root: &Path) -> Result<PathBuf> {
    super::build_release(root, "bench-floor", "bench-floor")
}

/// The command serving on `addr` in front of `origin`, with `workers` workers (default: one
/// per CPU, pinned, as hookyard's and nginx's are).
pub(crate) fn command(
    binary: &Path,
    addr: SocketAddr,
    origin: u16,
    workers: Option<u32>,
) -> Command {
    let mut cmd = Command::new(binary);
    cmd.arg(addr.to_string()).arg(format!("127.0.0.1:{origin}"));
    if let Some(workers) = workers {
        cmd.arg(workers.to_string());
    }
    cmd
}
