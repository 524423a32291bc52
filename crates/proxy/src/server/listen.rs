//! Listening sockets: one per worker and address, sharing the port with `SO_REUSEPORT` so the
//! kernel spreads connections over the workers.

use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use super::StartError;

/// Binds every address once per worker; `result[worker][address]`.
///
/// A port of 0 is chosen by the first socket and reused by the others. A fixed port is first
/// probed without `SO_REUSEPORT`, so a second hookyard (or anything else) already on it is an
/// error rather than a silent sharer of the traffic.
pub(super) fn bind_all(
    addrs: &[SocketAddr],
    workers: usize,
) -> Result<Vec<Vec<TcpListener>>, StartError> {
    let mut per_worker: Vec<Vec<TcpListener>> = (0..workers).map(|_| Vec::new()).collect();
    for &addr in addrs {
        let err = |source| StartError::Bind { what: addr.to_string(), source };
        if addr.port() != 0 {
            drop(socket(addr, false).map_err(err)?);
        }
        let mut actual = addr;
        for listeners in &mut per_worker {
            let listener = socket(actual, true).map_err(err)?;
            actual = listener.local_addr().map_err(err)?;
            listeners.push(listener);
        }
    }
    Ok(per_worker)
}

fn socket(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}
