//! Zero-downtime upgrade: a new `hookyard run --takeover` takes the listening sockets of the
//! running one over its control socket, serves on them, then tells it to drain.
//!
//! The exchange, on one control-socket connection:
//!
//! 1. the successor calls `takeover` (params: its control socket's path); the running server
//!    answers the listen addresses, how many sockets each has, its metrics address, whether it
//!    hands over its control socket (the same path) and its plugin runtime directory, and sends
//!    duplicates of those sockets with the answer (`SCM_RIGHTS`): listeners in order, then the
//!    metrics socket, then the control socket;
//! 2. the successor serves on them (both processes accept from the same queues meanwhile, so
//!    no connection waits on a socket nobody serves, and none is refused);
//! 3. the successor calls `drain` on the same connection: the predecessor stops serving its
//!    control socket and metrics (they are the successor's now) and drains.
//!
//! A successor that fails before step 3 (its configuration, a plugin) closes the connection and
//! leaves the running server as it was. Sockets are the kernel's: closing the predecessor's
//! descriptors later never closes the successor's, so nothing queued on them is lost.

use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::Interest;
use tokio::sync::watch;

use super::listen::Bound;

/// The most descriptors one answer carries (the kernel's `SCM_MAX_FD`).
const MAX_FDS: usize = 253;

/// How long the successor waits for each answer of the predecessor.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The running server's side: duplicates of its sockets, kept for a successor until the server
/// stops.
#[derive(Debug)]
pub(crate) struct Handover {
    sockets: Mutex<Option<Kept>>,
    /// The plugin runtime directory this server's loader uses (or would).
    plugin_root: PathBuf,
    /// Turns true once a successor took the sockets over and asked this server to drain.
    handed_over: watch::Sender<bool>,
    /// The control socket went with an offer.
    admin_offered: AtomicBool,
}

#[derive(Debug)]
struct Kept {
    listeners: Vec<Bound>,
    metrics: Option<TcpListener>,
    admin: Option<(PathBuf, UnixListener)>,
}

/// What the predecessor answers `takeover` with (its descriptors travel beside it).
#[derive(Debug, Serialize, Deserialize)]
struct Offer {
    listeners: Vec<OfferedAddr>,
    metrics: Option<SocketAddr>,
    /// Whether the control socket (at the successor's path) is handed over.
    admin: bool,
    plugin_root: PathBuf,
    pid: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct OfferedAddr {
    addr: SocketAddr,
    tls: bool,
    sockets: usize,
}

impl Handover {
    /// Keeps duplicates of `listeners`, the metrics socket and the control socket (at `path`).
    pub(crate) fn keep(
        listeners: &[Bound],
        metrics: Option<&TcpListener>,
        admin: Option<(&Path, &UnixListener)>,
        plugin_root: PathBuf,
    ) -> std::io::Result<Handover> {
        let listeners = listeners
            .iter()
            .map(|b| {
                let sockets =
                    b.sockets.iter().map(TcpListener::try_clone).collect::<Result<_, _>>()?;
                Ok(Bound { addr: b.addr, tls: b.tls, sockets })
            })
            .collect::<std::io::Result<_>>()?;
        let metrics = metrics.map(TcpListener::try_clone).transpose()?;
        let admin =
            admin.map(|(path, l)| l.try_clone().map(|l| (path.to_owned(), l))).transpose()?;
        Ok(Handover {
            sockets: Mutex::new(Some(Kept { listeners, metrics, admin })),
            plugin_root,
            handed_over: watch::Sender::new(false),
            admin_offered: AtomicBool::new(false),
        })
    }

    /// A receiver that turns true once a successor took over.
    pub(crate) fn subscribe(&self) -> watch::Receiver<bool> {
        self.handed_over.subscribe()
    }

    /// Whether a successor took over and now serves this server's control socket.
    pub(crate) fn took_admin(&self) -> bool {
        *self.handed_over.borrow() && self.admin_offered.load(Ordering::Relaxed)
    }

    /// Drops the duplicates: a stopping server's sockets must close with its listeners (a
    /// queue nobody serves would take connections only to reset them at exit).
    pub(crate) fn release(&self) {
        *self.sockets.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The successor took over: this server's control socket and metrics are its now. False
    /// when another successor did already (one upgrade at a time).
    pub(crate) fn commit(&self) -> bool {
        !self.handed_over.send_replace(true)
    }

    /// Answers a successor's `takeover` on `stream`: the offer, one JSON-RPC line, with the
    /// descriptors.
    ///
    /// # Errors
    ///
    /// The server stopped (nothing kept), too many sockets, or the stream broke.
    pub(crate) async fn offer(
        &self,
        id: Value,
        successor_admin: Option<&Path>,
        stream: &tokio::net::unix::OwnedWriteHalf,
    ) -> Result<(), String> {
        let (line, fds) = {
            let kept = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(kept) = kept.as_ref() else {
                return Err("this server is stopping: nothing to take over".to_owned());
            };
            // The same socket file, however each process spells its path.
            let same = |path: &Path| {
                let ours = std::fs::canonicalize(path).ok();
                ours.is_some()
                    && ours == successor_admin.and_then(|p| std::fs::canonicalize(p).ok())
            };
            let admin = kept.admin.as_ref().filter(|(path, _)| same(path)).map(|(_, l)| l);
            self.admin_offered.store(admin.is_some(), Ordering::Relaxed);
            let offer = Offer {
                listeners: kept
                    .listeners
                    .iter()
                    .map(|b| OfferedAddr { addr: b.addr, tls: b.tls, sockets: b.sockets.len() })
                    .collect(),
                metrics: kept.metrics.as_ref().and_then(|m| m.local_addr().ok()),
                admin: admin.is_some(),
                plugin_root: self.plugin_root.clone(),
                pid: std::process::id(),
            };
            let mut fds: Vec<OwnedFd> = Vec::new();
            for socket in kept.listeners.iter().flat_map(|b| &b.sockets) {
                fds.push(socket.as_fd().try_clone_to_owned().map_err(|e| e.to_string())?);
            }
            if let Some(metrics) = &kept.metrics {
                fds.push(metrics.as_fd().try_clone_to_owned().map_err(|e| e.to_string())?);
            }
            if let Some(admin) = admin {
                fds.push(admin.as_fd().try_clone_to_owned().map_err(|e| e.to_string())?);
            }
            if fds.len() > MAX_FDS {
                return Err(format!(
                    "{} sockets to hand over, more than one message carries ({MAX_FDS})",
                    fds.len()
                ));
            }
            let answer = json!({ "jsonrpc": "2.0", "id": id, "result": offer });
            (answer.to_string() + "\n", fds)
        };
        let sent = send_with_fds(stream, line.as_bytes(), &fds).await.map_err(|e| e.to_string())?;
        // The descriptors went with the first bytes; the rest of the line as it fits.
        let stream: &tokio::net::UnixStream = stream.as_ref();
        let mut rest = &line.as_bytes()[sent..];
        while !rest.is_empty() {
            stream.writable().await.map_err(|e| e.to_string())?;
            match stream.try_write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }
}

/// `sendmsg` of (a first part of) `bytes` with `fds` attached; how many bytes went.
async fn send_with_fds(
    stream: &tokio::net::unix::OwnedWriteHalf,
    bytes: &[u8],
    fds: &[OwnedFd],
) -> std::io::Result<usize> {
    let stream: &tokio::net::UnixStream = stream.as_ref();
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    stream
        .async_io(Interest::WRITABLE, || {
            let mut control = SendAncillaryBuffer::new(&mut space);
            if !borrowed.is_empty() && !control.push(SendAncillaryMessage::ScmRights(&borrowed)) {
                return Err(std::io::Error::other("the descriptors do not fit one message"));
            }
            let sent = rustix::net::sendmsg(
                stream,
                &[IoSlice::new(bytes)],
                &mut control,
                SendFlags::NOSIGNAL,
            )?;
            Ok(sent)
        })
        .await
}

/// The successor's side: the predecessor's sockets, received, and the connection on which it
/// is told to drain once they serve.
#[derive(Debug)]
pub(crate) struct Predecessor {
    stream: UnixStream,
    /// The predecessor's process id.
    pub(crate) pid: u32,
    pub(crate) listeners: Vec<Bound>,
    pub(crate) metrics: Option<TcpListener>,
    pub(crate) admin: Option<UnixListener>,
    /// The plugin runtime directory the predecessor uses.
    pub(crate) plugin_root: PathBuf,
}

/// Asks the hookyard at `path` for its sockets; `own_admin` is the path the successor's
/// control socket would have.
///
/// # Errors
///
/// The socket cannot be reached, the predecessor refused (it drains already), or its answer
/// does not match the descriptors that came with it.
pub(crate) fn take_over(path: &Path, own_admin: &Path) -> std::io::Result<Predecessor> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    let request = json!({
        "jsonrpc": "2.0", "id": 1, "method": "takeover", "params": { "admin": own_admin },
    });
    stream.write_all((request.to_string() + "\n").as_bytes())?;
    let (line, fds) = receive_line(&stream)?;
    let answer: Value = serde_json::from_slice(&line).map_err(std::io::Error::other)?;
    if let Some(error) = answer.get("error") {
        return Err(std::io::Error::other(format!(
            "it refused: {}",
            error["message"].as_str().unwrap_or("no reason given")
        )));
    }
    let offer: Offer =
        serde_json::from_value(answer["result"].clone()).map_err(std::io::Error::other)?;
    let expected = offer.listeners.iter().map(|l| l.sockets).sum::<usize>()
        + usize::from(offer.metrics.is_some())
        + usize::from(offer.admin);
    if fds.len() != expected {
        return Err(std::io::Error::other(format!(
            "it sent {} descriptors for {expected} sockets",
            fds.len()
        )));
    }
    let mut fds = fds.into_iter();
    let mut listeners = Vec::new();
    for offered in offer.listeners {
        let mut sockets = Vec::new();
        for fd in fds.by_ref().take(offered.sockets) {
            let socket = TcpListener::from(fd);
            let addr = socket.local_addr()?;
            if addr != offered.addr {
                return Err(std::io::Error::other(format!(
                    "a socket said to be on {} is on {addr}",
                    offered.addr
                )));
            }
            socket.set_nonblocking(true)?;
            sockets.push(socket);
        }
        listeners.push(Bound { addr: offered.addr, tls: offered.tls, sockets });
    }
    let metrics = match offer.metrics {
        Some(_) => fds.next().map(TcpListener::from),
        None => None,
    };
    let admin = if offer.admin { fds.next().map(UnixListener::from) } else { None };
    for socket in metrics.iter() {
        socket.set_nonblocking(true)?;
    }
    for socket in admin.iter() {
        socket.set_nonblocking(true)?;
    }
    Ok(Predecessor {
        stream,
        pid: offer.pid,
        listeners,
        metrics,
        admin,
        plugin_root: offer.plugin_root,
    })
}

impl Predecessor {
    /// Tells the predecessor to drain (the successor serves): the last step of a takeover.
    ///
    /// # Errors
    ///
    /// The connection broke, or the predecessor answered an error (another successor took
    /// over first: [`std::io::ErrorKind::AlreadyExists`]).
    pub(crate) fn commit(mut self) -> std::io::Result<()> {
        let request = json!({ "jsonrpc": "2.0", "id": 2, "method": "drain" });
        self.stream.write_all((request.to_string() + "\n").as_bytes())?;
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while self.stream.read(&mut byte)? == 1 && byte[0] != b'\n' {
            answer.push(byte[0]);
        }
        let answer: Value = serde_json::from_slice(&answer).map_err(std::io::Error::other)?;
        match answer.get("error") {
            Some(error) => Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                error["message"].as_str().unwrap_or("refused").to_owned(),
            )),
            None => Ok(()),
        }
    }
}

/// Reads one line with `recvmsg`, collecting the descriptors that come with it.
fn receive_line(stream: &UnixStream) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut line = Vec::new();
    let mut fds = Vec::new();
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received = rustix::net::recvmsg(
            stream,
            &mut [IoSliceMut::new(&mut buffer)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = message {
                fds.extend(received);
            }
        }
        if received.bytes == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the connection closed before the answer ended",
            ));
        }
        let bytes = &buffer[..received.bytes];
        match bytes.iter().position(|b| *b == b'\n') {
            Some(end) => {
                line.extend_from_slice(&bytes[..end]);
                return Ok((line, fds));
            }
            None => line.extend_from_slice(bytes),
        }
    }
}
