//! systemd's service notification protocol (`sd_notify(3)`): one datagram of `KEY=VALUE` lines
//! to the Unix socket named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace).
//! Without `NOTIFY_SOCKET` (not started by systemd as `Type=notify`) nothing is sent.
//!
//! The proxy sends `READY=1` once it listens, `RELOADING=1` then `READY=1` around every reload,
//! and `STOPPING=1` when a drain starts.

use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::debug;

/// Sends `state` (newline-separated `KEY=VALUE` assignments) to the service manager, if one
/// listens; failures are logged at debug level only, since the manager's absence is normal.
pub(crate) fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
        return;
    };
    let sent = address(&socket).and_then(|addr| {
        let datagram = UnixDatagram::unbound()?;
        datagram.send_to_addr(state.as_bytes(), &addr)
    });
    if let Err(e) = sent {
        debug!(error = %e, ?socket, state, "cannot notify the service manager");
    }
}

/// `NOTIFY_SOCKET`'s address: `@name` is abstract, anything else a path.
fn address(socket: &std::ffi::OsStr) -> std::io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt as _;
    match socket.as_bytes().split_first() {
        Some((b'@', name)) => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(socket),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let path = address(std::ffi::OsStr::new("/run/systemd/notify")).unwrap();
        assert_eq!(path.as_pathname(), Some(std::path::Path::new("/run/systemd/notify")));
        let abstract_ = address(std::ffi::OsStr::new("@/org/freedesktop/systemd1/notify")).unwrap();
        assert_eq!(abstract_.as_abstract_name(), Some(&b"/org/freedesktop/systemd1/notify"[..]));
    }
}
