//! A response body read from its origin connection as it is polled.
//!
//! The body owns the connection while it reads: no task reads ahead, no channel carries the
//! data. When the body ends where its framing says, the connection goes back to the pool if it
//! may carry another request; a body dropped before its end, or one that ends when the origin
//! closes, takes the connection with it (closed).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hookyard_h1::{BodyKind, Decoded, Decoder, FieldLines, HeaderCase};
use http::{HeaderMap, HeaderName};
use hyper::body::{Body, Frame, SizeHint};

use super::Idle;
use super::conn::{ExchangeError, OriginConn, RESPONSE_LIMITS, Sending};
use crate::txn::fields::{append_all, count_forwarded, remove_hop_by_hop};
use crate::txn::transform::BoxError;

/// A response body as its origin sends it.
pub struct OriginBody {
    reading: Option<Box<Reading>>,
    /// A failure, reported at the next poll (see [`OriginBody::fail`]).
    failed: Option<OriginBodyError>,
    /// The fields of the head this body follows, as the client gets them. They go with the
    /// body, so that a response the proxy makes instead has none.
    received: Option<Received>,
}

/// The fields of an origin's response head, as they travel with its body.
#[derive(Debug)]
pub(crate) enum Received {
    /// Still as received, not in the response's map, which holds only the fields added
    /// since: nothing has had to read or change them (see [`OriginBody::fields_into`]).
    Lines(FieldLines),
    /// In the response's map: how the origin spelt and ordered them.
    Case(HeaderCase),
}

/// Puts an origin's received fields `lines` into `headers` (the response's map), before the
/// fields added there since; `trim` is first given the received ones alone. A `Content-Length`
/// beside a `Transfer-Encoding` is dropped (the coding frames the body). How the origin spelt
/// and ordered them.
///
/// # Errors
///
/// A field the map cannot hold (see [`FieldLines::to_map`]).
pub(crate) fn put_received(
    lines: &FieldLines,
    headers: &mut HeaderMap,
    trim: impl FnOnce(&mut HeaderMap),
) -> Result<HeaderCase, hookyard_h1::Error> {
    let (mut map, case) = lines.to_map()?;
    super::drop_conflicting_length(&mut map);
    trim(&mut map);
    append_all(&mut map, std::mem::take(headers));
    *headers = map;
    Ok(case)
}

/// An origin's response fields as received, lent to what may read them (wasm filters, plugin
/// callbacks): put into the head's map, as the proxy would have put them (without those of one
/// hop), only when one reads or changes them.
#[derive(Debug)]
pub(crate) struct LentFields {
    lines: FieldLines,
    /// What putting them gave: how the origin spelt them, or why the map could not hold them.
    put: Option<Result<HeaderCase, hookyard_h1::Error>>,
}

impl LentFields {
    /// How many fields the map gets when they are put.
    fn count(&self) -> usize {
        count_forwarded(&self.lines)
    }

    /// Puts them into `headers`, before the fields there.
    fn put(&mut self, headers: &mut HeaderMap) {
        self.put = Some(put_received(&self.lines, headers, remove_hop_by_hop));
    }

    /// Any field may be added beside them: what removes fields of one hop and those the
    /// origin's `Connection` names runs on the received ones alone when they are put
    /// ([`put_received`]), as when they stay (`conn/head.rs`' writer), and every other reading
    /// of the framing fields (a length, a coding, `Connection`, `Date`) reads the added ones
    /// after the received ones either way.
    fn may_add(&self, _: &HeaderName) -> bool {
        true
    }
}

impl hookyard_wasm::Unread for LentFields {
    fn count(&self) -> usize {
        LentFields::count(self)
    }

    fn put(&mut self, headers: &mut HeaderMap) {
        LentFields::put(self, headers);
    }

    fn may_add(&self, name: &HeaderName) -> bool {
        LentFields::may_add(self, name)
    }
}

impl hookyard_host::Unread for LentFields {
    fn put(&mut self, headers: &mut HeaderMap) {
        LentFields::put(self, headers);
    }

    fn may_add(&self, name: &HeaderName) -> bool {
        LentFields::may_add(self, name)
    }
}

/// A body still being read.
struct Reading {
    conn: Box<OriginConn>,
    decoder: Decoder,
    /// Bytes left of a body framed by its length.
    left: Option<u64>,
    /// Where the connection goes when the body ends, if it may be used again.
    back: Option<Back>,
    /// The origin closed the connection.
    eof: bool,
    /// The rest of the request's body, sent as this body is read (see [`Exchanged::rest`]).
    ///
    /// [`Exchanged::rest`]: super::conn::Exchanged::rest
    sending: Option<Sending>,
}

/// A pool's idle lists, and the key a connection goes back under.
pub(super) struct Back {
    pub(super) idle: Arc<Idle>,
    pub(super) key: String,
}

/// Why a response body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum OriginBodyError {
    /// Reading the connection failed.
    #[error("reading the origin's response body failed: {0}")]
    Io(#[source] io::Error),
    /// The body's framing is malformed, or the connection closed before its end.
    #[error("malformed origin response body: {0}")]
    Codec(#[source] hookyard_h1::Error),
    /// The request's body, still being sent, failed.
    #[error("the request body failed while the response was read: {0}")]
    Request(#[source] BoxError),
}

impl OriginBody {
    /// A body with nothing in it.
    pub(crate) fn empty() -> OriginBody {
        OriginBody { reading: None, failed: None, received: None }
    }

    /// The body, with the fields of the head it follows, as received.
    pub(crate) fn with_lines(self, lines: FieldLines) -> OriginBody {
        OriginBody { received: Some(Received::Lines(lines)), ..self }
    }

    /// The fields of the head this body follows.
    pub(crate) fn received(&self) -> Option<&Received> {
        self.received.as_ref()
    }

    /// Whether the head's fields are still as received and one is named `name` (any case).
    pub(crate) fn received_has(&self, name: &[u8]) -> bool {
        let Some(Received::Lines(lines)) = &self.received else { return false };
        lines.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// Puts the head's fields, if they are still as received, into `headers` (the response's
    /// map), as [`put_received`] does.
    ///
    /// # Errors
    ///
    /// A field the map cannot hold (see [`FieldLines::to_map`]).
    pub(crate) fn fields_into(
        &mut self,
        headers: &mut HeaderMap,
        trim: impl FnOnce(&mut HeaderMap),
    ) -> Result<(), hookyard_h1::Error> {
        let Some(Received::Lines(lines)) = &self.received else { return Ok(()) };
        let case = put_received(lines, headers, trim)?;
        self.received = Some(Received::Case(case));
        Ok(())
    }

    /// Lends the head's fields if they are still as received; they come back with
    /// [`OriginBody::give_back`].
    pub(crate) fn lend(&mut self) -> Option<LentFields> {
        match self.received.take() {
            Some(Received::Lines(lines)) => Some(LentFields { lines, put: None }),
            other => {
                self.received = other;
                None
            }
        }
    }

    /// Takes back the head's fields lent with [`OriginBody::lend`]: as received, or in the
    /// response's map if they were put there.
    ///
    /// # Errors
    ///
    /// They were put, and the map could not hold one (see [`FieldLines::to_map`]).
    pub(crate) fn give_back(&mut self, lent: LentFields) -> Result<(), hookyard_h1::Error> {
        self.received = Some(match lent.put {
            None => Received::Lines(lent.lines),
            Some(put) => Received::Case(put?),
        });
        Ok(())
    }

    /// The body framed as `kind` that follows a head read on `conn`; `back` says where the
    /// connection goes after it, `sending` is the rest of the request's body to send meanwhile.
    pub(super) fn new(
        conn: Box<OriginConn>,
        kind: BodyKind,
        back: Option<Back>,
        sending: Option<Sending>,
    ) -> OriginBody {
        let left = match kind {
            BodyKind::Length(n) => Some(n),
            _ => None,
        };
        let decoder = Decoder::new(kind, &RESPONSE_LIMITS);
        let reading = Reading { conn, decoder, left, back, eof: false, sending };
        OriginBody { reading: Some(Box::new(reading)), failed: None, received: None }
    }

    /// The body has ended: its connection goes back to the pool, if it may.
    fn end(&mut self) {
        let Some(reading) = self.reading.take() else { return };
        let Reading { conn, back, eof, .. } = *reading;
        // Bytes after the body are an answer to no request: the connection cannot be trusted.
        if let Some(back) = back
            && !eof
            && conn.read.is_empty()
        {
            back.idle.put(&back.key, conn);
        }
    }

    /// The body failed: its connection closes, and the failure is reported at the next poll.
    ///
    /// The data before a failure has often just been returned, and a consumer that gathers
    /// writes (hyper's server does) drops what it gathered when a body fails: a pause gives
    /// it the chance to send what came before the failure (the part of a body an origin sent
    /// before it reset the connection).
    fn fail(
        &mut self,
        error: OriginBodyError,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, OriginBodyError>>> {
        self.reading = None;
        self.failed = Some(error);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Body for OriginBody {
    type Data = Bytes;
    type Error = OriginBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, OriginBodyError>>> {
        let this = self.get_mut();
        if let Some(error) = this.failed.take() {
            return Poll::Ready(Some(Err(error)));
        }
        loop {
            let Some(reading) = &mut this.reading else { return Poll::Ready(None) };
            if let Some(sending) = &mut reading.sending {
                match sending.poll(&mut reading.conn, cx) {
                    Poll::Ready(Ok(())) => reading.sending = None,
                    Poll::Ready(Err(ExchangeError::Body(e))) => {
                        return this.fail(OriginBodyError::Request(e), cx);
                    }
                    // The origin stopped reading: its answer may still come whole.
                    Poll::Ready(Err(e)) => {
                        tracing::debug!(error = %e, "origin stopped reading the request body");
                        reading.sending = None;
                    }
                    Poll::Pending => {}
                }
            }
            match reading.decoder.decode(&mut reading.conn.read) {
                Ok(Decoded::Data(data)) => {
                    if let Some(left) = &mut reading.left {
                        *left = left.saturating_sub(data.len() as u64);
                    }
                    if reading.decoder.is_done() {
                        this.end();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Decoded::Trailers(trailers)) => {
                    this.end();
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
                Ok(Decoded::End) => {
                    this.end();
                    return Poll::Ready(None);
                }
                Ok(Decoded::NeedMore) if reading.eof => {
                    return match reading.decoder.finish() {
                        // Delimited by the close: it ended, and so did the connection.
                        Ok(()) => {
                            this.reading = None;
                            Poll::Ready(None)
                        }
                        Err(e) => this.fail(OriginBodyError::Codec(e), cx),
                    };
                }
                Ok(Decoded::NeedMore) => match reading.conn.poll_read(cx) {
                    Poll::Ready(Ok(0)) => reading.eof = true,
                    Poll::Ready(Ok(_)) => {}
                    Poll::Ready(Err(e)) => return this.fail(OriginBodyError::Io(e), cx),
                    Poll::Pending => return Poll::Pending,
                },
                Err(e) => return this.fail(OriginBodyError::Codec(e), cx),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.reading.is_none() && self.failed.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.reading {
            None => SizeHint::with_exact(0),
            Some(reading) => match reading.left {
                Some(left) => SizeHint::with_exact(left),
                None => SizeHint::default(),
            },
        }
    }
}

impl std::fmt::Debug for OriginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let left = self.reading.as_ref().and_then(|r| r.left);
        f.debug_struct("OriginBody")
            .field("open", &self.reading.is_some())
            .field("left", &left)
            .finish()
    }
}
