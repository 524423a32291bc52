//! A client's request body on its way to the origin, watched for failure.
//!
//! hyper reads a request body only as the origin connection asks for it, so a body that breaks
//! (a malformed chunked coding, a client gone mid-body) surfaces as a failed origin exchange.
//! That is the client's fault, answered 400, not the origin's (502): [`RequestBody`] records
//! that its stream failed, and [`BodyWatch`] tells the transaction.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// The request body sent to an origin.
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: Incoming,
    /// `None` for a body that is empty from the start.
    seen: Option<Arc<Seen>>,
}

/// What a [`RequestBody`] saw.
#[derive(Debug, Default)]
struct Seen {
    /// Set when the body failed.
    failed: AtomicBool,
    /// Data bytes passed on (for the access log).
    bytes: AtomicU64,
}

/// Whether a [`RequestBody`] failed, and how much of it went.
#[derive(Clone, Debug)]
pub(crate) struct BodyWatch(Option<Arc<Seen>>);

impl RequestBody {
    /// Wraps `inner`; the watch says later whether it failed.
    pub(crate) fn watch(inner: Incoming) -> (RequestBody, BodyWatch) {
        // Most requests have no body: they cost no allocation.
        let seen = (!inner.is_end_stream()).then(Arc::default);
        let watch = BodyWatch(seen.clone());
        (RequestBody { inner, seen }, watch)
    }
}

impl BodyWatch {
    /// Whether the client's body failed (so far).
    pub(crate) fn failed(&self) -> bool {
        self.0.as_ref().is_some_and(|s| s.failed.load(Ordering::Relaxed))
    }

    /// The body's data bytes passed on so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.0.as_ref().map_or(0, |s| s.bytes.load(Ordering::Relaxed))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_frame(cx);
        match (&poll, &this.seen) {
            (Poll::Ready(Some(Err(_))), Some(seen)) => seen.failed.store(true, Ordering::Relaxed),
            (Poll::Ready(Some(Ok(frame))), Some(seen)) => {
                if let Some(data) = frame.data_ref() {
                    seen.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            _ => {}
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
