//! A client's request body on its way to the origin, watched for failure.
//!
//! hyper reads a request body only as the origin connection asks for it, so a body that breaks
//! (a malformed chunked coding, a client gone mid-body) surfaces as a failed origin exchange.
//! That is the client's fault, answered 400, not the origin's (502): [`RequestBody`] records
//! that its stream failed, and [`BodyWatch`] tells the transaction.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// The request body sent to an origin.
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: Incoming,
    /// Set when `inner` fails; `None` for a body that is empty from the start.
    failed: Option<Arc<AtomicBool>>,
}

/// Whether a [`RequestBody`] failed.
#[derive(Debug)]
pub(crate) struct BodyWatch(Option<Arc<AtomicBool>>);

impl RequestBody {
    /// Wraps `inner`; the watch says later whether it failed.
    pub(crate) fn watch(inner: Incoming) -> (RequestBody, BodyWatch) {
        // Most requests have no body: they cost no allocation.
        let failed = (!inner.is_end_stream()).then(Arc::default);
        let watch = BodyWatch(failed.clone());
        (RequestBody { inner, failed }, watch)
    }
}

impl BodyWatch {
    /// Whether the client's body failed (so far).
    pub(crate) fn failed(&self) -> bool {
        self.0.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
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
        if let (Poll::Ready(Some(Err(_))), Some(failed)) = (&poll, &this.failed) {
            failed.store(true, Ordering::Relaxed);
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
