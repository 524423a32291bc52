//! A client's request body on its way to the origin, watched for failure.
//!
//! The origin connection reads a request body only as it sends it, so a body that breaks
//! (a malformed chunked coding, a client gone mid-body) surfaces as a failed origin exchange.
//! That is the client's fault, answered 400, not the origin's (502): [`RequestBody`] records
//! that its stream failed, and [`BodyWatch`] tells the transaction. A body that plugins'
//! transforms run over fails with them too: that is answered 502, as a broken origin.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hookyard_host::Stage;
use hyper::body::{Body, Frame, SizeHint};

use crate::conn::ClientBody;
use crate::txn::transform::{BoxError, TransformFailed, Transformed};
use crate::txn::wasm::{Answered, Filters, WasmBody};

/// The request body sent to an origin.
pub(crate) struct RequestBody {
    inner: Input,
    /// `None` for a body that is empty from the start.
    seen: Option<Arc<Seen>>,
}

/// The client's body, as it is or through transforms, WebAssembly filters, or both (the
/// filters first).
enum Input {
    /// No body (a request made again for a retry).
    Empty,
    Plain(ClientBody),
    Transformed(Box<Transformed<ClientBody>>),
    Wasm(Box<WasmBody<ClientBody>>),
    WasmTransformed(Box<Transformed<WasmBody<ClientBody>>>),
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transformed = !matches!(self.inner, Input::Plain(_));
        f.debug_struct("RequestBody").field("transformed", &transformed).finish()
    }
}

/// What a [`RequestBody`] saw.
#[derive(Debug, Default)]
struct Seen {
    /// Set when the body failed.
    failed: AtomicBool,
    /// Set when it failed because a transform did.
    transform_failed: AtomicBool,
    /// Data bytes passed on (for the access log).
    bytes: AtomicU64,
}

/// Whether a [`RequestBody`] failed, and how much of it went.
#[derive(Clone, Debug)]
pub(crate) struct BodyWatch(Option<Arc<Seen>>);

impl RequestBody {
    /// Wraps `inner`, run through `wasm`'s body callbacks (a local response goes to its
    /// [`Answered`]; each filter holds at most its limit) and `stages` (plugins' transforms, in order, each holding a chunk at most
    /// `pending_limit`; a body that is empty from the start gives each just its end); the watch
    /// says later whether it failed.
    pub(crate) fn watch(
        inner: ClientBody,
        stages: Vec<Stage>,
        pending_limit: std::time::Duration,
        wasm: Option<(Filters, Answered, usize)>,
    ) -> (RequestBody, BodyWatch) {
        // Most requests have no body: they cost no allocation.
        let seen = (!inner.is_end_stream()).then(Arc::default);
        let watch = BodyWatch(seen.clone());
        if let Some((filters, answered, limit)) = wasm.filter(|_| !inner.is_end_stream()) {
            let body = WasmBody::new(inner, filters, false, Some(answered), limit);
            let inner = if stages.is_empty() {
                Input::Wasm(Box::new(body))
            } else {
                Input::WasmTransformed(Box::new(Transformed::new(body, stages, pending_limit)))
            };
            return (RequestBody { inner, seen }, watch);
        }
        let inner = if stages.is_empty() {
            Input::Plain(inner)
        } else if inner.is_end_stream() {
            for mut stage in stages {
                stage.feed(Bytes::new(), true);
            }
            Input::Plain(inner)
        } else {
            Input::Transformed(Box::new(Transformed::new(inner, stages, pending_limit)))
        };
        (RequestBody { inner, seen }, watch)
    }
}

impl RequestBody {
    /// No body.
    pub(crate) fn empty() -> RequestBody {
        RequestBody { inner: Input::Empty, seen: None }
    }
}

impl BodyWatch {
    /// Whether the client's body failed (so far).
    pub(crate) fn failed(&self) -> bool {
        self.0.as_ref().is_some_and(|s| s.failed.load(Ordering::Relaxed))
    }

    /// Whether a transform of the body failed.
    pub(crate) fn transform_failed(&self) -> bool {
        self.0.as_ref().is_some_and(|s| s.transform_failed.load(Ordering::Relaxed))
    }

    /// The body's data bytes passed on so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.0.as_ref().map_or(0, |s| s.bytes.load(Ordering::Relaxed))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let poll = match &mut this.inner {
            Input::Empty => return Poll::Ready(None),
            Input::Plain(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Input::Transformed(body) => Pin::new(&mut **body).poll_frame(cx),
            Input::Wasm(body) => Pin::new(&mut **body).poll_frame(cx),
            Input::WasmTransformed(body) => Pin::new(&mut **body).poll_frame(cx),
        };
        match (&poll, &this.seen) {
            (Poll::Ready(Some(Err(e))), Some(seen)) => {
                let plugins = e.is::<TransformFailed>() || e.is::<crate::txn::wasm::WasmStopped>();
                let flag = if plugins { &seen.transform_failed } else { &seen.failed };
                flag.store(true, Ordering::Relaxed);
            }
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
        match &self.inner {
            Input::Empty => true,
            Input::Plain(body) => body.is_end_stream(),
            Input::Transformed(body) => body.is_end_stream(),
            Input::Wasm(body) => body.is_end_stream(),
            Input::WasmTransformed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Input::Empty => SizeHint::with_exact(0),
            Input::Plain(body) => body.size_hint(),
            Input::Transformed(body) => body.size_hint(),
            Input::Wasm(body) => body.size_hint(),
            Input::WasmTransformed(body) => body.size_hint(),
        }
    }
}
