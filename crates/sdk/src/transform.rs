//! Body transforms (since ABI 1.5): a [`Transform`] sees a request or response body chunk by
//! chunk ([`Transform::on_chunk`], then [`Transform::on_end`]) and, by its [`TransformKind`],
//! reads it, changes bytes in place, or writes an output of its own. Add one to a transaction
//! with [`Txn::add_transform`](crate::Txn::add_transform) from a hook before that body starts.
//!
//! ```
//! use hookyard_sdk::{Chunk, Error, Transform};
//!
//! /// Uppercases a body in place (a length-preserving transform).
//! struct Upper;
//!
//! impl Transform for Upper {
//!     fn on_chunk(&mut self, chunk: &mut Chunk<'_>) -> Result<(), Error> {
//!         if let Some(bytes) = chunk.data_mut() {
//!             bytes.make_ascii_uppercase();
//!         }
//!         Ok(())
//!     }
//! }
//! ```

use std::marker::PhantomData;
use std::ptr::NonNull;

use hookyard_abi::{self as abi, hy_api, hy_chunk, hy_transform};

use crate::error::Error;
use crate::host::checked;

/// Which body of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// The client's request body, on its way to the origin.
    Request,
    /// The origin's response body, on its way to the client.
    Response,
}

impl BodyKind {
    pub(crate) fn raw(self) -> abi::hy_body {
        match self {
            BodyKind::Request => abi::HY_BODY_REQUEST,
            BodyKind::Response => abi::HY_BODY_RESPONSE,
        }
    }
}

/// What a transform may do with a body; the proxy is as fast as the kind allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransformKind {
    /// Read-only: the proxy forwards each chunk without copying it.
    Inspect,
    /// Changes bytes in place ([`Chunk::data_mut`]); the length stays.
    LengthPreserving,
    /// Writes any output ([`Chunk::write`]); the proxy re-frames the body.
    Rewrite,
}

impl TransformKind {
    pub(crate) fn raw(self) -> abi::hy_transform_kind {
        match self {
            TransformKind::Inspect => abi::HY_TRANSFORM_INSPECT,
            TransformKind::LengthPreserving => abi::HY_TRANSFORM_LENGTH_PRESERVING,
            TransformKind::Rewrite => abi::HY_TRANSFORM_REWRITE,
        }
    }
}

/// A streaming body transform. The host calls it on the transaction's thread, one chunk at a
/// time; an error (or a panic) fails the transaction as a broken origin would.
pub trait Transform: Send + 'static {
    /// The next chunk of the body (never empty unless it is the last).
    ///
    /// # Errors
    ///
    /// To fail the transaction.
    fn on_chunk(&mut self, chunk: &mut Chunk<'_>) -> Result<(), Error>;

    /// The body ended, after its last chunk: a rewrite transform writes what it kept here
    /// ([`Chunk::write`]; the output then ends). Not called when the last chunk was deferred.
    ///
    /// # Errors
    ///
    /// To fail the transaction.
    fn on_end(&mut self, chunk: &mut Chunk<'_>) -> Result<(), Error> {
        let _ = chunk;
        Ok(())
    }

    /// The transform is done (the body ended, failed, or the transaction went first).
    fn on_close(&mut self) {}
}

/// One chunk of a body, lent for the call.
pub struct Chunk<'a> {
    raw: NonNull<hy_chunk>,
    kind: TransformKind,
    api: &'static hy_api,
    deferred: bool,
    _call: PhantomData<&'a mut hy_chunk>,
}

impl std::fmt::Debug for Chunk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunk")
            .field("len", &self.data().len())
            .field("end", &self.is_end())
            .finish_non_exhaustive()
    }
}

impl<'a> Chunk<'a> {
    /// # Safety
    ///
    /// `raw` is the chunk the host lends for this call.
    pub(crate) unsafe fn from_raw(
        raw: NonNull<hy_chunk>,
        kind: TransformKind,
        api: &'static hy_api,
    ) -> Chunk<'a> {
        Chunk { raw, kind, api, deferred: false, _call: PhantomData }
    }

    fn chunk(&self) -> &hy_chunk {
        // SAFETY: lent for the call (`from_raw`).
        unsafe { self.raw.as_ref() }
    }

    /// The chunk's bytes.
    pub fn data(&self) -> &[u8] {
        let c = self.chunk();
        if c.len == 0 {
            return &[];
        }
        // SAFETY: `len` readable bytes, valid for the call.
        unsafe { std::slice::from_raw_parts(c.data.cast_const().cast(), c.len) }
    }

    /// The chunk's bytes to change in place: a length-preserving transform's only.
    pub fn data_mut(&mut self) -> Option<&mut [u8]> {
        if self.kind != TransformKind::LengthPreserving {
            return None;
        }
        let c = self.chunk();
        if c.len == 0 {
            return Some(&mut []);
        }
        // SAFETY: writable for a length-preserving transform, valid for the call; `&mut self`
        // keeps it unique.
        Some(unsafe { std::slice::from_raw_parts_mut(c.data.cast(), c.len) })
    }

    /// Whether it is the body's last chunk.
    pub fn is_end(&self) -> bool {
        self.chunk().end != 0
    }

    /// Appends `bytes` to a rewrite transform's output.
    ///
    /// # Errors
    ///
    /// For another kind, after [`Chunk::end_output`], or past the proxy's buffer limit (the
    /// transaction then fails).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        write(self.api, self.chunk().transform, bytes)
    }

    /// Ends a rewrite transform's output here: the rest of the body is not read.
    ///
    /// # Errors
    ///
    /// For another kind, or when it ended already.
    pub fn end_output(&mut self) -> Result<(), Error> {
        // SAFETY: the transform is live during its handler.
        checked(unsafe { (self.api.transform_end)(self.chunk().transform) }, "transform_end")
    }

    /// Finishes this chunk later, from any thread: the body waits (nothing more comes) until
    /// the returned [`Deferred`] resumes. The transform's own return value is then ignored.
    ///
    /// # Errors
    ///
    /// When already deferred.
    pub fn defer(&mut self) -> Result<Deferred, Error> {
        if std::mem::replace(&mut self.deferred, true) {
            return Err(Error::new("this chunk is already deferred"));
        }
        Ok(Deferred { raw: self.raw, kind: self.kind, api: self.api, done: false })
    }

    pub(crate) fn is_deferred(&self) -> bool {
        self.deferred
    }
}

fn write(api: &hy_api, transform: *mut hy_transform, bytes: &[u8]) -> Result<(), Error> {
    // SAFETY: the transform is live (its handler runs, or its chunk is pending); `bytes` is
    // readable.
    let r = unsafe { (api.transform_write)(transform, bytes.as_ptr().cast(), bytes.len()) };
    checked(r, "transform_write")
}

/// A deferred chunk: its bytes, its transform's output, and the resume, from any thread,
/// exactly once. Dropping it unresumed fails the transaction (and logs), so a body never hangs.
#[must_use = "the body waits until the chunk is resumed"]
pub struct Deferred {
    raw: NonNull<hy_chunk>,
    kind: TransformKind,
    api: &'static hy_api,
    done: bool,
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred").field("done", &self.done).finish_non_exhaustive()
    }
}

// SAFETY: the host allows using a pending chunk and its transform from any thread until
// `transform_resume`; `Deferred` is not `Sync` and lends the chunk only through `&mut self`.
unsafe impl Send for Deferred {}

impl Deferred {
    /// The chunk, as during its call (valid until the resume).
    pub fn chunk(&mut self) -> Chunk<'_> {
        // SAFETY: the host keeps a pending chunk until `transform_resume`, which takes `self`.
        let mut chunk = unsafe { Chunk::from_raw(self.raw, self.kind, self.api) };
        chunk.deferred = true;
        chunk
    }

    /// Ends the chunk: `Ok` to go on, `Err` to fail the transaction.
    ///
    /// # Errors
    ///
    /// When the host refuses (it was resumed already).
    pub fn resume(mut self, result: Result<(), Error>) -> Result<(), Error> {
        self.done = true;
        self.send(result.is_ok())
    }

    fn send(&self, ok: bool) -> Result<(), Error> {
        let result = if ok { abi::HY_HOOK_CONTINUE } else { abi::HY_HOOK_ERROR };
        // SAFETY: the chunk (and so its transform) is pending until this call.
        let r = unsafe {
            let transform = self.raw.as_ref().transform;
            (self.api.transform_resume)(transform, result)
        };
        checked(r, "transform_resume")
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        if !self.done {
            crate::__log(
                crate::LogLevel::Error,
                format_args!("a deferred chunk was dropped without resuming; failing it"),
            );
            let _ = self.send(false);
        }
    }
}

/// A transform and its kind, behind a continuation.
pub(crate) struct Running {
    pub(crate) kind: TransformKind,
    pub(crate) transform: Box<dyn Transform>,
}

impl Running {
    /// Runs the transform on the chunk at `raw`: the handler's answer.
    ///
    /// # Safety
    ///
    /// `raw` is the chunk the host lends for this call.
    pub(crate) unsafe fn chunk(&mut self, raw: NonNull<hy_chunk>, api: &'static hy_api) -> i32 {
        // SAFETY: per the contract.
        let mut chunk = unsafe { Chunk::from_raw(raw, self.kind, api) };
        let mut result = Ok(());
        if !chunk.data().is_empty() || !chunk.is_end() {
            result = self.transform.on_chunk(&mut chunk);
        }
        if chunk.is_deferred() {
            return abi::HY_HOOK_PENDING;
        }
        if result.is_ok() && chunk.is_end() {
            result = self.transform.on_end(&mut chunk);
            if chunk.is_deferred() {
                return abi::HY_HOOK_PENDING;
            }
        }
        match result {
            Ok(()) => abi::HY_HOOK_CONTINUE,
            Err(e) => {
                crate::__log(crate::LogLevel::Warn, format_args!("body transform failed: {e}"));
                abi::HY_HOOK_ERROR
            }
        }
    }
}
