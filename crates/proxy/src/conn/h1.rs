//! One HTTP/1.1 client connection, read and written with our own codec (`hookyard-h1`):
//! request heads parsed in place (names keep their case and order on their way to the origin),
//! each a transaction ([`txn::handle`]), answered in order, kept alive and pipelined.
//!
//! Why not hyper's server: it parses every head into a map and writes every response again
//! (the proxy's largest cost after the transaction itself), lowercases names, and settles a
//! request with both framing fields silently, which a proxy must refuse (request smuggling);
//! the codec refuses every ambiguous framing with its own error, answered here 400 (431 for a
//! head over `limits:`), and the connection closes.
//!
//! A request's body is read as its transaction asks for it ([`ClientBody`]), one piece ahead at
//! most; `Expect: 100-continue` is answered when it first asks. Once the response is ready, a
//! body not read to its end ends the connection after the response. The connection's own
//! timeouts (`timeouts.idle`, `timeouts.header_read`) are the caller's (`server/worker.rs`),
//! which reads [`ConnState`]'s stamps: this module marks when a head starts and ends.
//!
//! A response head is written as `conn/head.rs` says: framed as RFC 9112 and hyper's server
//! frame it, from the origin's fields as received when nothing had to read or change them.

use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::{BufMut, BytesMut};
use hookyard_h1::{BodyKind, Decoded, Decoder, Encoder, Limits, ReasonPhrase};
use http::{Response, StatusCode};
use hyper::body::{Body, Frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tracing::debug;

use super::Conn;
use super::body::{ClientBody, ClientBodyError, Http1Body, Http1Sender, Piece};
use super::date;
use super::head::{self, Asked, BodyFacts, LineFields, MapFields, Status};
use crate::origin::Received;
use crate::txn::fields::ClientFields;
use crate::txn::transform::BoxError;
use crate::txn::{self, TxnBody};

/// The least room a read is given.
const READ_ROOM: usize = 8 * 1024;

/// A response body frame at least this large is written as it is, not copied after its head.
const COPY_LIMIT: usize = 16 * 1024;

/// Serves `io` as one HTTP/1.1 connection of `conn` until the client closes it, a request or
/// response says so, a head breaks `limits` or its framing, or `stopped` turns true between
/// requests. Ends with an I/O error when the connection fails.
pub(crate) async fn serve<S>(
    io: S,
    conn: Arc<Conn>,
    limits: Limits,
    stopped: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut connection = Connection {
        io,
        read: BytesMut::with_capacity(READ_ROOM),
        write: BytesMut::with_capacity(READ_ROOM),
        conn,
        limits,
        stop: Stop::new(stopped),
    };
    let result = connection.run().await;
    // A close: the client reads what was written, then the end.
    let _ = connection.io.shutdown().await;
    result
}

/// The worker's stop signal, as a connection waits for it between requests.
struct Stop {
    signal: watch::Receiver<bool>,
    /// `signal` turning true (or its sender going), waited for by one future for the
    /// connection's life (`None` once it ended): it stays registered with the channel, where a
    /// new wait per request would register and unregister each time.
    wait: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// The waker `wait` was last polled with: until the channel changes, polling it again with
    /// the same one would only find it waiting (and cost a lock).
    polled_with: Option<Waker>,
}

impl Stop {
    fn new(mut signal: watch::Receiver<bool>) -> Stop {
        // Seen now: from here on, an unchanged channel is one that still says false.
        let stopped = *signal.borrow_and_update();
        let wait = (!stopped).then(|| {
            let mut signal = signal.clone();
            Box::pin(async move {
                let _ = signal.wait_for(|stopped| *stopped).await;
            }) as Pin<Box<dyn Future<Output = ()> + Send>>
        });
        Stop { signal, wait, polled_with: None }
    }

    /// Whether the worker is stopping (or gone).
    fn is_stopped(&self) -> bool {
        self.wait.is_none() || (!unchanged(&self.signal) && *self.signal.borrow())
    }

    /// Ready when the worker stops.
    fn poll_stopped(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(wait) = &mut self.wait else { return Poll::Ready(()) };
        let current = self.polled_with.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if current && unchanged(&self.signal) {
            return Poll::Pending;
        }
        self.polled_with = Some(cx.waker().clone());
        let stopped = wait.as_mut().poll(cx);
        if stopped.is_ready() {
            self.wait = None;
        }
        stopped
    }
}

/// Whether nothing was sent on `signal` since it was last seen (false once its sender went).
fn unchanged(signal: &watch::Receiver<bool>) -> bool {
    matches!(signal.has_changed(), Ok(false))
}

struct Connection<S> {
    io: S,
    read: BytesMut,
    write: BytesMut,
    conn: Arc<Conn>,
    limits: Limits,
    stop: Stop,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    async fn run(&mut self) -> std::io::Result<()> {
        while let Some(head) = self.read_head().await? {
            if !self.exchange(head).await? {
                break;
            }
        }
        Ok(())
    }

    /// The next request head; `None` when the connection ends first (closed, stopped, or a
    /// head refused, whose answer is written). Boxed: some 360 bytes, it would be copied at
    /// each step to the transaction (the futures that pass it on hold it by value).
    async fn read_head(&mut self) -> std::io::Result<Option<Box<hookyard_h1::RequestLines>>> {
        let state = &self.conn.state;
        loop {
            if !self.read.is_empty() {
                state.head_begins();
                match hookyard_h1::parse_request_lines(&mut self.read, &self.limits) {
                    Ok(Some(head)) => {
                        state.head_ends();
                        return Ok(Some(Box::new(head)));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        state.head_ends();
                        self.refuse(&e).await?;
                        return Ok(None);
                    }
                }
            }
            self.read.reserve(READ_ROOM);
            let read = if self.read.is_empty() {
                // Between requests a stopping worker closes the connection.
                if self.stop.is_stopped() {
                    return Ok(None);
                }
                let stop = &mut self.stop;
                tokio::select! {
                    biased;
                    read = self.io.read_buf(&mut self.read) => read?,
                    () = std::future::poll_fn(|cx| stop.poll_stopped(cx)) => return Ok(None),
                }
            } else {
                self.io.read_buf(&mut self.read).await?
            };
            if read == 0 {
                // Closed (mid-head too: nothing to answer).
                return Ok(None);
            }
        }
    }

    /// Answers a head the codec refused, as hyper's server does: 431 for one over a limit,
    /// 400 otherwise; then the connection closes.
    async fn refuse(&mut self, error: &hookyard_h1::Error) -> std::io::Result<()> {
        debug!(%error, "request head refused");
        let status = if error.is_limit() {
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        let reason = status.canonical_reason().unwrap_or_default();
        let body = format!("{reason}: {error}\n");
        self.write.clear();
        let _ = write!(
            self.write,
            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
             connection: close\r\n",
            body.len()
        );
        date::write(&mut self.write);
        self.write.put_slice(b"\r\n");
        self.write.put_slice(body.as_bytes());
        self.flush().await
    }

    /// One request and its response; whether the connection goes on.
    async fn exchange(&mut self, head: Box<hookyard_h1::RequestLines>) -> std::io::Result<bool> {
        let asked = Asked {
            method: head.method.clone(),
            version: head.version,
            keep_alive: head.keep_alive(),
        };
        let expects_continue = head.expects_continue();
        let kind = head.body();
        // A request keeps its fields as received until something reads them (see
        // `txn::fields::ClientFields`); one that asks to switch protocols goes into the map now
        // (the upgrade fields are the proxy's to rewrite).
        let (parts, received) = if !head.wants_upgrade() {
            let (parts, lines) = head.into_parts_and_lines();
            (parts, ClientFields::Lines(lines))
        } else {
            match head.into_head() {
                Ok(head) => {
                    let (parts, case) = head.into_parts_and_case();
                    (parts, ClientFields::Case(case))
                }
                Err(e) => {
                    self.refuse(&e).await?;
                    return Ok(false);
                }
            }
        };
        let (body, mut reader) = match kind {
            BodyKind::Empty => (ClientBody::Empty, None),
            kind => {
                let length = match kind {
                    BodyKind::Length(n) => Some(n),
                    _ => None,
                };
                let (body, sender) = Http1Body::channel(length);
                let decoder = Decoder::new(kind, &self.limits);
                let reader = BodyReader::new(decoder, sender, expects_continue);
                (ClientBody::Http1(body), Some(reader))
            }
        };
        let transaction = txn::handle(self.conn.clone(), parts, body, received);
        tokio::pin!(transaction);
        let mut response = loop {
            let Some(reader) = reader.as_mut().filter(|r| r.reading()) else {
                break transaction.await;
            };
            tokio::select! {
                response = &mut transaction => break response,
                read = reader.step(&mut self.io, &mut self.read, &mut self.write) => read?,
            }
        };
        let keep_alive = asked.keep_alive && !self.stop.is_stopped();
        let responded = self.respond(&mut response, &asked, keep_alive, reader.as_mut()).await;
        // TXN_CLOSE runs as the body drops: after its last byte, before the next request.
        drop(response);
        let keep_alive = responded?;
        // A body not read to its end leaves the connection unframed.
        let body_read = reader.is_none_or(|mut r| r.finish(&mut self.read));
        Ok(keep_alive && body_read)
    }

    /// Writes `response` to a request as `asked`, reading on the request's body with `reader`
    /// meanwhile; whether the connection goes on. The response is borrowed where the
    /// transaction left it (some 300 bytes, each move a copy); its fields are taken as its head
    /// is written.
    async fn respond(
        &mut self,
        response: &mut Response<TxnBody>,
        asked: &Asked,
        keep_alive: bool,
        reader: Option<&mut BodyReader>,
    ) -> std::io::Result<bool> {
        let mut headers = std::mem::take(response.headers_mut());
        let body = response.body();
        let facts = BodyFacts { empty: body.is_end_stream(), size: body.size_hint().exact() };
        let reason = response.extensions().get::<ReasonPhrase>().map(ReasonPhrase::as_bytes);
        let status = Status { status: response.status(), reason };
        self.write.clear();
        let dst = &mut self.write;
        let (framing, keep_alive) = match body.received() {
            Some(Received::Lines(lines)) => {
                let mut fields = LineFields::new(lines, &mut headers);
                head::write(&status, &mut fields, facts, asked, keep_alive, dst)
            }
            received => {
                let case = match received {
                    Some(Received::Case(case)) => Some(case),
                    _ => None,
                };
                let mut fields = MapFields { headers: &mut headers, case };
                head::write(&status, &mut fields, facts, asked, keep_alive, dst)
            }
        };
        drop(headers);
        self.send_body(response.body_mut(), framing, reader).await?;
        Ok(keep_alive)
    }

    /// Writes `body` framed as `framing`, after the head in the write buffer; while it waits
    /// for the body, `reader` reads on the request's (a request and its response may stream at
    /// once).
    async fn send_body(
        &mut self,
        body: &mut TxnBody,
        framing: BodyKind,
        mut reader: Option<&mut BodyReader>,
    ) -> std::io::Result<()> {
        let mut encoder = Encoder::new(framing);
        if framing != BodyKind::Empty {
            loop {
                // What is ready goes out with what is buffered; a wait first sends that.
                let frame = match poll_now(body) {
                    Some(frame) => frame,
                    None => {
                        self.flush().await?;
                        self.next_frame(body, reader.as_deref_mut()).await?
                    }
                };
                let Some(frame) = frame else { break };
                let frame = frame.map_err(|e| std::io::Error::other(e.to_string()))?;
                match frame.into_data() {
                    Ok(data) => self.send_data(&mut encoder, &data).await?,
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            encoder
                                .finish(Some(&trailers), &mut self.write)
                                .map_err(std::io::Error::other)?;
                            return self.flush().await;
                        }
                    }
                }
            }
        }
        encoder.finish(None, &mut self.write).map_err(std::io::Error::other)?;
        self.flush().await
    }

    /// The body's next frame, `reader` reading the request's body meanwhile.
    async fn next_frame(
        &mut self,
        body: &mut TxnBody,
        mut reader: Option<&mut BodyReader>,
    ) -> std::io::Result<Option<Result<Frame<bytes::Bytes>, BoxError>>> {
        let mut next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx));
        loop {
            let Some(reader) = reader.as_deref_mut().filter(|r| r.reading()) else {
                return Ok(next.await);
            };
            tokio::select! {
                frame = &mut next => return Ok(frame),
                read = reader.step(&mut self.io, &mut self.read, &mut self.write) => read?,
            }
        }
    }

    /// One data frame of a response body, through `encoder`.
    async fn send_data(&mut self, encoder: &mut Encoder, data: &[u8]) -> std::io::Result<()> {
        if data.len() < COPY_LIMIT {
            return encoder.data(data, &mut self.write).map_err(std::io::Error::other);
        }
        let tail = encoder.frame(data.len(), &mut self.write).map_err(std::io::Error::other)?;
        self.flush().await?;
        self.io.write_all(data).await?;
        self.write.put_slice(tail);
        Ok(())
    }

    /// Writes what the write buffer holds.
    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.write.is_empty() {
            self.io.write_all(&self.write).await?;
            self.write.clear();
        }
        self.io.flush().await
    }
}

/// A request body's reading, on the connection's side.
struct BodyReader {
    decoder: Decoder,
    sender: Option<Http1Sender>,
    /// `100 Continue` is still to be sent when the transaction asks for the body.
    expects_continue: bool,
    /// The body was read to its end.
    done: bool,
}

impl BodyReader {
    fn new(decoder: Decoder, sender: Http1Sender, expects_continue: bool) -> BodyReader {
        BodyReader { decoder, sender: Some(sender), expects_continue, done: false }
    }

    /// Whether it still reads (the transaction may still want pieces).
    fn reading(&self) -> bool {
        self.sender.is_some()
    }

    /// Reads and hands on the next piece once the transaction has room for it; ends reading
    /// when the body ends, fails, or is no longer wanted. Cancel-safe: nothing read is lost.
    async fn step<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        read: &mut BytesMut,
        write: &mut BytesMut,
    ) -> std::io::Result<()> {
        let Some(sender) = &mut self.sender else { return Ok(()) };
        if self.expects_continue {
            if (&mut sender.wanted).await.is_err() {
                // The transaction dropped its body unread.
                self.sender = None;
                return Ok(());
            }
            self.expects_continue = false;
            write.clear();
            write.put_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            io.write_all(write).await?;
            write.clear();
            io.flush().await?;
        }
        let Ok(permit) = sender.pieces.reserve().await else {
            self.sender = None;
            return Ok(());
        };
        loop {
            match self.decoder.decode(read) {
                Ok(Decoded::Data(data)) => {
                    permit.send(Piece::Frame(Frame::data(data)));
                    return Ok(());
                }
                Ok(Decoded::Trailers(trailers)) => {
                    permit.send(Piece::Frame(Frame::trailers(trailers)));
                    return Ok(());
                }
                Ok(Decoded::End) => {
                    permit.send(Piece::End);
                    self.done = true;
                    self.sender = None;
                    return Ok(());
                }
                Ok(Decoded::NeedMore) => {}
                Err(e) => {
                    permit.send(Piece::Error(ClientBodyError::Framing(e)));
                    self.sender = None;
                    return Ok(());
                }
            }
            read.reserve(READ_ROOM);
            let n = match io.read_buf(read).await {
                Ok(n) => n,
                Err(e) => {
                    let error = std::io::Error::new(e.kind(), e.to_string());
                    permit.send(Piece::Error(ClientBodyError::Io(error)));
                    self.sender = None;
                    return Err(e);
                }
            };
            if n == 0 {
                let error = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the client closed the connection before the body's end",
                );
                permit.send(Piece::Error(ClientBodyError::Io(error)));
                self.sender = None;
                return Ok(());
            }
        }
    }

    /// The response is ready: whether the body was read to its end, what of it is still
    /// buffered skipped (else reading stops, and the transaction, should it still read, sees the
    /// body abandoned).
    fn finish(&mut self, read: &mut BytesMut) -> bool {
        self.sender = None;
        while !self.done {
            match self.decoder.decode(read) {
                Ok(Decoded::Data(_) | Decoded::Trailers(_)) => {}
                Ok(Decoded::End) => self.done = true,
                Ok(Decoded::NeedMore) | Err(_) => return false,
            }
        }
        true
    }
}

/// The body's next frame if it is ready now.
fn poll_now(body: &mut TxnBody) -> Option<Option<Result<Frame<bytes::Bytes>, BoxError>>> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(body).poll_frame(&mut cx) {
        Poll::Ready(frame) => Some(frame),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn a_stop_wakes_the_waker_last_polled_with() {
        let (tell, signal) = watch::channel(false);
        let mut stop = Stop::new(signal);
        let (first, first_waker) = waker();
        let (second, second_waker) = waker();
        assert!(!stop.is_stopped());
        for _ in 0..3 {
            assert!(stop.poll_stopped(&mut Context::from_waker(&first_waker)).is_pending());
        }
        // Polled by another task (or through a future that wraps wakers): that one is woken.
        assert!(stop.poll_stopped(&mut Context::from_waker(&second_waker)).is_pending());
        tell.send_replace(true);
        assert_eq!(first.0.load(Ordering::Relaxed), 0);
        assert_eq!(second.0.load(Ordering::Relaxed), 1);
        assert!(stop.is_stopped());
        assert!(stop.poll_stopped(&mut Context::from_waker(&second_waker)).is_ready());
        assert!(stop.poll_stopped(&mut Context::from_waker(&second_waker)).is_ready());
    }

    #[test]
    fn a_stop_before_the_connection_or_a_gone_worker_ends_it() {
        let (_tell, signal) = watch::channel(true);
        let mut stop = Stop::new(signal);
        assert!(stop.is_stopped());
        assert!(stop.poll_stopped(&mut Context::from_waker(Waker::noop())).is_ready());
        let (tell, signal) = watch::channel(false);
        let mut stop = Stop::new(signal);
        let (count, waker) = waker();
        assert!(stop.poll_stopped(&mut Context::from_waker(&waker)).is_pending());
        drop(tell);
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(stop.poll_stopped(&mut Context::from_waker(&waker)).is_ready());
        assert!(stop.is_stopped());
    }

    #[test]
    fn a_stop_sent_while_not_waiting_is_seen_at_the_next_wait() {
        let (tell, signal) = watch::channel(false);
        let mut stop = Stop::new(signal);
        let (_, waker) = waker();
        assert!(stop.poll_stopped(&mut Context::from_waker(&waker)).is_pending());
        // The connection is busy with a request meanwhile: the wake went elsewhere.
        tell.send_replace(true);
        assert!(stop.is_stopped());
        assert!(stop.poll_stopped(&mut Context::from_waker(&waker)).is_ready());
    }
}
