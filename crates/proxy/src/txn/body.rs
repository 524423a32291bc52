//! What outlives a transaction's handler: the response body hyper sends (with the plugin state
//! whose TXN_CLOSE runs when it is done with), and the in-flight count.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Either;
use hyper::body::{Frame, SizeHint};

use super::Body;
use super::transform::{BoxError, Transformed};
use super::wasm::WasmBody;
use crate::access_log::Logging;
use crate::conn::Conn;
use crate::conn::io::ConnState;
use crate::origin::Received;
use hookyard_host::TxnBox;

/// A response body as it goes: as the phases left it, or through plugins' transforms.
pub(crate) enum Sent {
    /// As it is.
    Plain(Body),
    /// Through transforms.
    Transformed(Box<Transformed<Body>>),
    /// Through WebAssembly filters' body callbacks.
    Wasm(Box<WasmBody<Body>>),
    /// Through WebAssembly filters, then transforms.
    WasmTransformed(Box<Transformed<WasmBody<Body>>>),
}

impl Sent {
    fn is_end_stream(&self) -> bool {
        match self {
            Sent::Plain(body) => hyper::body::Body::is_end_stream(body),
            Sent::Transformed(body) => hyper::body::Body::is_end_stream(&**body),
            Sent::Wasm(body) => hyper::body::Body::is_end_stream(&**body),
            Sent::WasmTransformed(body) => hyper::body::Body::is_end_stream(&**body),
        }
    }

    /// The fields of the origin's head, if the body is still the origin's (through filters and
    /// transforms, which keep the head's names).
    fn received(&self) -> Option<&Received> {
        match self.origin() {
            Either::Left(body) => body.received(),
            Either::Right(_) => None,
        }
    }

    /// The body as the phases left it, under any filters and transforms.
    fn origin(&self) -> &Body {
        match self {
            Sent::Plain(body) => body,
            Sent::Transformed(body) => body.input(),
            Sent::Wasm(body) => body.input(),
            Sent::WasmTransformed(body) => body.input().input(),
        }
    }

    pub(super) fn size_hint(&self) -> SizeHint {
        match self {
            Sent::Plain(body) => hyper::body::Body::size_hint(body),
            Sent::Transformed(body) => hyper::body::Body::size_hint(&**body),
            Sent::Wasm(body) => hyper::body::Body::size_hint(&**body),
            Sent::WasmTransformed(body) => hyper::body::Body::size_hint(&**body),
        }
    }
}

/// The body hyper sends: a [`Sent`] body, and the transaction's plugin state, whose TXN_CLOSE
/// runs when the body is done with.
pub(crate) struct TxnBody {
    pub(super) inner: Sent,
    pub(super) state: Option<TxnBox>,
    /// An answered transaction's start and its connection, whose listener's duration
    /// histogram gets the time from request head to the end of this body.
    pub(super) timing: Option<(Instant, Arc<ConnState>)>,
    /// The access log line, counting the body's bytes; queued when the body is dropped.
    pub(super) log: Option<Logging>,
}

impl TxnBody {
    /// The fields of the origin's head this body follows; `None` for a response the proxy
    /// made.
    pub(crate) fn received(&self) -> Option<&Received> {
        self.inner.received()
    }
}

impl hyper::body::Body for TxnBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let poll = match &mut this.inner {
            Sent::Plain(Either::Left(body)) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Sent::Plain(Either::Right(body)) => {
                Pin::new(body).poll_frame(cx).map_err(|never| match never {})
            }
            Sent::Transformed(body) => Pin::new(&mut **body).poll_frame(cx),
            Sent::Wasm(body) => Pin::new(&mut **body).poll_frame(cx),
            Sent::WasmTransformed(body) => Pin::new(&mut **body).poll_frame(cx),
        };
        if let Some(entry) = this.log.as_mut().and_then(Logging::entry) {
            match &poll {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        entry.response_body += data.len() as u64;
                    }
                    if this.inner.is_end_stream() {
                        entry.finished = true;
                    }
                }
                Poll::Ready(None) => entry.finished = true,
                _ => {}
            }
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TxnBody {
    fn drop(&mut self) {
        if let Some((started, conn)) = self.timing.take()
            && let Some(listener) = conn.listener()
        {
            listener.duration.record(started.elapsed());
        }
        // A body that was empty from the start (or a HEAD response's) is never polled.
        if self.inner.is_end_stream()
            && let Some(entry) = self.log.as_mut().and_then(Logging::entry)
        {
            entry.finished = true;
        }
        if let Some(state) = self.state.take() {
            match self.log.take() {
                // The line goes once TXN_CLOSE is over, with the fields plugins set.
                Some(mut log) => state.close_then(move |fields| {
                    if let Some(entry) = log.entry() {
                        entry.plugin = fields;
                    }
                }),
                None => state.close(),
            }
        }
    }
}

/// Counts a transaction in flight, on its connection and its worker, until it has its response
/// or is dropped on the way (its client left): every path ends the count.
pub(super) struct InFlight<'a> {
    conn: &'a Conn,
    answered: bool,
}

impl<'a> InFlight<'a> {
    pub(super) fn start(conn: &'a Conn) -> InFlight<'a> {
        conn.state.in_flight.fetch_add(1, Ordering::Relaxed);
        conn.worker.stats().in_flight_started.fetch_add(1, Ordering::Relaxed);
        InFlight { conn, answered: false }
    }

    pub(super) fn answered(&mut self, status: u16) {
        self.conn.worker.stats().response(status);
        self.answered = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.conn.state.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.answered {
            self.conn.worker.stats().abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}
