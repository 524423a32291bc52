//! `cargo xtask bench`'s floor: the least an HTTP/1 forwarder on tokio does per request, run
//! beside hookyard and nginx so that each run says how far the machine's network work alone
//! lets a proxy go.
//!
//! Per request it parses the client's head, forwards its bytes with one field added (as the
//! bench's `add_header` rule does) on a kept-alive origin connection of its worker, parses the
//! response head and forwards it with its `Content-Length` body: what any proxy must do, and
//! nothing more (and a request an idle origin connection failed on before any answer is sent
//! once more on a new one). No URL is read, no rule matched, no field checked, nothing logged
//! or counted, no timeout kept. It is not a proxy: a request with a body, a response without a length, or
//! anything it cannot parse closes the connection.
//!
//! `bench-floor LISTEN ORIGIN [WORKERS]`: one thread per worker (default: one per CPU), each
//! pinned to its CPU, with a current-thread runtime and its own `SO_REUSEPORT` listener, as
//! hookyard's workers are with `worker_cpu_affinity: auto`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The field added to each request.
const ADDED: &[u8] = b"X-Bench: floor\r\n";

/// Fields of a head it parses, at most.
const MAX_FIELDS: usize = 64;

/// A worker's idle origin connections.
type Idle = Rc<RefCell<Vec<TcpStream>>>;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(origin)) = (args.next(), args.next()) else {
        exit("usage: bench-floor LISTEN ORIGIN [WORKERS]");
    };
    let listen: SocketAddr = listen.parse().unwrap_or_else(|_| exit("LISTEN: not an address"));
    let origin: SocketAddr = origin.parse().unwrap_or_else(|_| exit("ORIGIN: not an address"));
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = match args.next() {
        Some(n) => n.parse().unwrap_or_else(|_| exit("WORKERS: not a number")),
        None => cpus,
    };
    let threads: Vec<_> = (0..workers)
        .map(|index| std::thread::spawn(move || worker(index % cpus, listen, origin)))
        .collect();
    for thread in threads {
        if thread.join().is_err() {
            exit("a worker failed");
        }
    }
}

fn exit(why: &str) -> ! {
    eprintln!("bench-floor: {why}");
    std::process::exit(2)
}

/// One worker, on `cpu`, until the process ends.
fn worker(cpu: usize, listen: SocketAddr, origin: SocketAddr) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    if let Err(e) = rustix::thread::sched_setaffinity(None, &set) {
        eprintln!("bench-floor: not pinned to CPU {cpu}: {e}");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap_or_else(|e| exit(&format!("runtime: {e}")));
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(listen, origin));
}

/// Accepts connections and serves each on a task of its own.
async fn serve(listen: SocketAddr, origin: SocketAddr) {
    let listener = (|| {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseport(true)?;
        socket.set_reuseaddr(true)?;
        socket.bind(listen)?;
        socket.listen(1024)
    })()
    .unwrap_or_else(|e| exit(&format!("listen on {listen}: {e}")));
    let idle = Idle::default();
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        if client.set_nodelay(true).is_ok() {
            tokio::task::spawn_local(connection(client, origin, idle.clone()));
        }
    }
}

/// A client connection's requests, one after the other, until it ends or fails.
async fn connection(mut client: TcpStream, origin: SocketAddr, idle: Idle) -> Option<()> {
    let (mut from_client, mut to_origin) = (Vec::with_capacity(8192), Vec::with_capacity(8192));
    let mut from_origin = Vec::with_capacity(16384);
    loop {
        let Head { len: head, close } = request_head(&mut client, &mut from_client).await?;
        to_origin.clear();
        // The head less its last CRLF, the field, the CRLF.
        to_origin.extend_from_slice(&from_client[..head - 2]);
        to_origin.extend_from_slice(ADDED);
        to_origin.extend_from_slice(b"\r\n");
        from_client.drain(..head);
        let mut pooled = idle.borrow_mut().pop();
        let (upstream, answer) = loop {
            let reused = pooled.is_some();
            let mut upstream = match pooled.take() {
                Some(upstream) => upstream,
                None => connect(origin).await?,
            };
            from_origin.clear();
            if upstream.write_all(&to_origin).await.is_ok()
                && let Some(answer) = response(&mut upstream, &mut from_origin).await
            {
                break (upstream, answer);
            }
            // An idle connection the origin closed meanwhile, nothing received: once more, on
            // a new one.
            if !reused || !from_origin.is_empty() {
                return None;
            }
        };
        client.write_all(&from_origin[..answer.len]).await.ok()?;
        if !answer.close {
            idle.borrow_mut().push(upstream);
        }
        if close {
            return Some(());
        }
    }
}

/// A new connection to `origin`.
async fn connect(origin: SocketAddr) -> Option<TcpStream> {
    let upstream = TcpStream::connect(origin).await.ok()?;
    upstream.set_nodelay(true).ok()?;
    Some(upstream)
}

/// A message read: its length (a request's head, a response's head and body), and whether its
/// sender closes the connection after it (`Connection: close`).
struct Head {
    len: usize,
    close: bool,
}

/// Whether `fields` have `Connection: close`.
fn closes(fields: &[httparse::Header<'_>]) -> bool {
    fields.iter().any(|f| {
        f.name.eq_ignore_ascii_case("connection")
            && f.value.split(|b| *b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

/// Reads a request head without body into `buf`.
async fn request_head(client: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Head> {
    loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut request = httparse::Request::new(&mut fields);
        if let httparse::Status::Complete(len) = request.parse(buf).ok()? {
            let bodiless = request.headers.iter().all(|f| {
                !f.name.eq_ignore_ascii_case("transfer-encoding")
                    && (!f.name.eq_ignore_ascii_case("content-length") || f.value == b"0")
            });
            return bodiless.then(|| Head { len, close: closes(request.headers) });
        }
        read_more(client, buf).await?;
    }
}

/// Reads a response's head and `Content-Length` body into `buf` (empty).
async fn response(upstream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Head> {
    let (len, close) = loop {
        let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut response = httparse::Response::new(&mut fields);
        if let httparse::Status::Complete(head) = response.parse(buf).ok()? {
            let length =
                response.headers.iter().find(|f| f.name.eq_ignore_ascii_case("content-length"))?;
            let body: usize = std::str::from_utf8(length.value).ok()?.trim().parse().ok()?;
            break (head + body, closes(response.headers));
        }
        read_more(upstream, buf).await?;
    };
    while buf.len() < len {
        read_more(upstream, buf).await?;
    }
    // Bytes past the response (the origin sent more than asked): the connection is not reused.
    (buf.len() == len).then_some(Head { len, close })
}

/// Reads what `stream` has into `buf`; `None` at its end or on an error.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8192);
    }
    match stream.read_buf(buf).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(()),
    }
}
