//! systemd socket activation: the listening sockets systemd passes a service started by a
//! `.socket` unit (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`; `sd_listen_fds(3)`).
//!
//! Activated sockets replace `listen` and `tls_listen`. A socket serves TLS when its name
//! (`FileDescriptorName=` in the socket unit) is `tls`, or when its address is one of
//! `tls_listen`; plain HTTP otherwise. One socket per address is shared by every worker.

use std::net::{SocketAddr, TcpListener};

use crate::server::listen::Bound;

/// One socket systemd passed.
#[derive(Debug)]
pub struct Activated {
    /// Its name (`FileDescriptorName=`; systemd's default is the socket unit's name).
    pub name: String,
    /// The listening socket.
    pub listener: TcpListener,
    /// The address it listens on.
    pub addr: SocketAddr,
}

/// Why the passed sockets cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("socket activation: descriptor {index} (named `{name}`) is not a listening TCP socket")]
pub struct ActivationError {
    /// Its index among the passed descriptors (the descriptor is 3 + index).
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The sockets systemd passed to this process, if it passed any (`None` when `LISTEN_PID`
/// names another process or `LISTEN_FDS` is not set). The variables are cleared, so a child
/// process does not take them for its own.
///
/// # Errors
///
/// A passed descriptor is not a TCP socket.
pub fn activated() -> Result<Option<Vec<Activated>>, ActivationError> {
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let names: Vec<&str> = names.split(':').collect();
    let mut sockets = Vec::with_capacity(fds.len());
    for index in 0..fds.len() {
        let name = names.get(index).copied().unwrap_or_default().to_owned();
        let error = |source| ActivationError { index, name: name.clone(), source };
        let listener = fds
            .take_tcp_listener(index)
            .map_err(error)?
            .ok_or_else(|| error(std::io::Error::other("already taken")))?;
        let addr = listener.local_addr().map_err(error)?;
        listener.set_nonblocking(true).map_err(error)?;
        sockets.push(Activated { name, listener, addr });
    }
    Ok(Some(sockets))
}

/// The activated sockets as the server's listeners: TLS by name or by `tls_listen`.
pub(crate) fn bound(sockets: Vec<Activated>, tls_listen: &[SocketAddr]) -> Vec<Bound> {
    let (tls, plain): (Vec<_>, Vec<_>) =
        sockets.into_iter().partition(|s| s.name == "tls" || tls_listen.contains(&s.addr));
    plain
        .into_iter()
        .map(|s| (s, false))
        .chain(tls.into_iter().map(|s| (s, true)))
        .map(|(s, tls)| Bound { addr: s.addr, tls, sockets: vec![s.listener] })
        .collect()
}
