//! Continuations: a handler that remembers the context that created it.

use std::fmt;
use std::time::Instant;

use crate::context::{Context, Owner};

/// A callback object: a handler (a closure, or a C function pointer with its data) owned by the
/// context that was current when it was created.
///
/// Creating one counts it in its context (keeping the plugin's code loaded); dropping it releases
/// that count exactly once. [`Continuation::invoke`] runs the handler inside its context, so code
/// the handler runs — including continuations it creates — belongs to the same plugin.
pub struct Continuation<H: ?Sized> {
    owner: Owner,
    handler: H,
}

/// An event was not dispatched because the continuation's context was retired for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event dropped: plugin {plugin} is retired")]
pub struct EventDropped {
    /// The retired plugin's name and version, for messages.
    pub plugin: String,
}

impl<H> Continuation<H> {
    /// Creates a continuation owned by the current context ([`Context::current`]).
    pub fn new(handler: H) -> Continuation<H> {
        Continuation { owner: Context::current_owner(), handler }
    }

    /// Creates a continuation owned by `context`.
    pub fn in_context(context: &Context, handler: H) -> Continuation<H> {
        Continuation { owner: context.owner(), handler }
    }
}

impl<H: ?Sized> Continuation<H> {
    /// The context that owns this continuation.
    pub fn context(&self) -> Context {
        self.owner.context()
    }

    /// The handler, for inspection; calling plugin code through it bypasses the context.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Runs `call` with the handler inside the continuation's context, counting the invocation
    /// and its time.
    ///
    /// # Errors
    ///
    /// [`EventDropped`] when the context was force-retired (or its drain deadline passed); the
    /// handler is not called and the drop is counted.
    pub fn invoke<R>(&self, call: impl FnOnce(&H) -> R) -> Result<R, EventDropped> {
        dispatch_in(&self.owner, call, &self.handler)
    }

    /// Runs `call` with the handler inside the continuation's context, without counting or
    /// timing the invocation: for dispatch paths that cannot afford the clock (hook callbacks).
    ///
    /// # Errors
    ///
    /// As for [`Continuation::invoke`].
    #[inline]
    pub fn call<R>(&self, call: impl FnOnce(&H) -> R) -> Result<R, EventDropped> {
        if !self.owner.admit() {
            return Err(EventDropped { plugin: self.owner.describe() });
        }
        Ok(self.owner.run(|| call(&self.handler)))
    }

    /// As [`Continuation::invoke`], with mutable access to the handler.
    ///
    /// # Errors
    ///
    /// As for [`Continuation::invoke`].
    pub fn invoke_mut<R>(&mut self, call: impl FnOnce(&mut H) -> R) -> Result<R, EventDropped> {
        let Continuation { owner, handler } = self;
        dispatch_in(owner, call, handler)
    }
}

fn dispatch_in<T, R>(
    owner: &Owner,
    call: impl FnOnce(T) -> R,
    handler: T,
) -> Result<R, EventDropped> {
    if !owner.admit() {
        return Err(EventDropped { plugin: owner.describe() });
    }
    if !owner.counts() {
        return Ok(owner.run(|| call(handler)));
    }
    Ok(owner.run(|| {
        let _timer = InvocationTimer { owner, started: Instant::now() };
        call(handler)
    }))
}

/// Records the invocation when dropped, so a handler that unwinds is counted too.
struct InvocationTimer<'a> {
    owner: &'a Owner,
    started: Instant,
}

impl Drop for InvocationTimer<'_> {
    fn drop(&mut self) {
        self.owner.record_invocation(self.started.elapsed());
    }
}

impl<H: ?Sized> fmt::Debug for Continuation<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continuation").field("context", &self.context()).finish_non_exhaustive()
    }
}
