//! Listening sockets: bound here (one per worker and address, sharing the port with
//! `SO_REUSEPORT` so the kernel spreads connections over the workers), or inherited (from the
//! process an upgrade takes over, or from systemd's socket activation), then spread over the
//! workers.

use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use super::StartError;

/// One listen address and its sockets: one per worker when bound here; as many as were handed
/// over or activated otherwise (each its own accept queue, so every one must be served).
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) addr: SocketAddr,
    /// TLS, not plain HTTP.
    pub(crate) tls: bool,
    pub(crate) sockets: Vec<TcpListener>,
}

/// Binds every address once per worker: the plain ones, then the TLS ones.
///
/// A port of 0 is chosen by the first socket and reused by the others. A fixed port is first
/// probed without `SO_REUSEPORT`, so a second hookyard (or anything else) already on it is an
/// error rather than a silent sharer of the traffic.
pub(super) fn bind_all(
    plain: &[SocketAddr],
    tls: &[SocketAddr],
    workers: usize,
) -> Result<Vec<Bound>, StartError> {
    let all = plain.iter().map(|a| (*a, false)).chain(tls.iter().map(|a| (*a, true)));
    let mut bound = Vec::new();
    for (addr, tls) in all {
        let err = |source| StartError::Bind { what: addr.to_string(), source };
        if addr.port() != 0 {
            drop(socket(addr, false).map_err(err)?);
        }
        let mut actual = addr;
        let mut sockets = Vec::with_capacity(workers);
        for _ in 0..workers {
            let listener = socket(actual, true).map_err(err)?;
            actual = listener.local_addr().map_err(err)?;
            sockets.push(listener);
        }
        bound.push(Bound { addr: actual, tls, sockets });
    }
    Ok(bound)
}

/// A listener of one worker: the socket, for a TLS one its index among the TLS addresses, and
/// its index among all listen addresses, plain then TLS (where its metrics count).
pub(super) type WorkerListener = (TcpListener, Option<usize>, usize);

/// Spreads the sockets over `workers`, every socket served: with at least one socket per
/// worker, worker `w` takes sockets `w`, `w + workers`, ...; with fewer (systemd's one socket
/// per address), the workers share them, each through its own descriptor.
///
/// # Errors
///
/// A socket cannot be duplicated.
pub(super) fn per_worker(
    bound: Vec<Bound>,
    workers: usize,
) -> std::io::Result<Vec<Vec<WorkerListener>>> {
    let mut out: Vec<Vec<WorkerListener>> = (0..workers).map(|_| Vec::new()).collect();
    let plain = bound.iter().filter(|b| !b.tls).count();
    let (mut plain_index, mut tls_index) = (0, 0);
    for Bound { tls, sockets, .. } in bound {
        let (endpoint, listener) = if tls {
            tls_index += 1;
            (Some(tls_index - 1), plain + tls_index - 1)
        } else {
            plain_index += 1;
            (None, plain_index - 1)
        };
        if sockets.len() >= workers {
            for (at, socket) in sockets.into_iter().enumerate() {
                out[at % workers].push((socket, endpoint, listener));
            }
        } else {
            for (worker, listeners) in out.iter_mut().enumerate() {
                let socket = sockets[worker % sockets.len()].try_clone()?;
                listeners.push((socket, endpoint, listener));
            }
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn count(spread: &[Vec<WorkerListener>]) -> Vec<usize> {
        spread.iter().map(Vec::len).collect()
    }

    #[test]
    fn every_socket_is_served_and_every_worker_listens() {
        let local = "127.0.0.1:0".parse().unwrap();
        let bound = bind_all(&[local], &[local], 3).unwrap();
        assert_eq!(
            bound.iter().map(|b| (b.tls, b.sockets.len())).collect::<Vec<_>>(),
            [(false, 3), (true, 3)]
        );
        // Handed over by a process with 3 workers to one with 2: worker 0 serves two.
        let spread = per_worker(bind_all(&[local], &[], 3).unwrap(), 2).unwrap();
        assert_eq!(count(&spread), [2, 1]);
        // One activated socket, 3 workers: each its own descriptor of it.
        let mut one = bind_all(&[local], &[local], 1).unwrap();
        let addr = one[1].addr;
        one[1].sockets.truncate(1);
        let spread = per_worker(one, 3).unwrap();
        assert_eq!(count(&spread), [2, 2, 2]);
        for listeners in &spread {
            assert_eq!(listeners[0].1, None);
            assert_eq!(listeners[1].1, Some(0));
            assert_eq!(listeners[1].0.local_addr().unwrap(), addr);
        }
    }
}
