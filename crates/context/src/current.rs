//! The thread-local current context.
//!
//! This module holds the crate's only `unsafe`. The current context is a raw pointer to a
//! context that some frame up this thread's stack borrows, so entering and leaving a context costs
//! two thread-local writes and no atomic operation: hook dispatch enters a context for every
//! callback of every transaction, from several threads at once, and a reference count there
//! would be a shared cache line written by every worker.
//!
//! Soundness rests on one invariant, kept by [`run_in`] alone: **the pointer is non-null only
//! while a `run_in` frame that borrows an `Arc` of that context is on this thread's stack.** The
//! frame sets it from the borrowed `Arc` and restores the previous value when it returns or
//! unwinds; frames nest strictly, because they are function calls. A public scope *guard* could
//! not keep this invariant (guards can be leaked or dropped out of order), which is why entering
//! a context takes a closure.

use std::cell::Cell;
use std::ptr;
use std::sync::Arc;

use crate::context::Inner;

thread_local! {
    /// Null means the core context.
    static CURRENT: Cell<*const Inner> = const { Cell::new(ptr::null()) };
}

/// Runs `f` with `context` (`None`: the core) as this thread's current context, restoring the
/// previous one when `f` returns or unwinds.
#[inline]
pub(crate) fn run_in<R>(context: Option<&Arc<Inner>>, f: impl FnOnce() -> R) -> R {
    let entered = context.map_or(ptr::null(), Arc::as_ptr);
    let _restore = Restore(CURRENT.replace(entered));
    f()
}

/// Restores the previous current context on drop; lives on the stack of [`run_in`].
struct Restore(*const Inner);

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

/// A new strong reference to the current context, or `None` for the core.
pub(crate) fn current() -> Option<Arc<Inner>> {
    let current = CURRENT.get();
    if current.is_null() {
        return None;
    }
    // SAFETY: a non-null pointer was set by a `run_in` frame still on this thread's stack, from
    // an `Arc<Inner>` that frame borrows (module invariant), so the allocation is alive and its
    // strong count is at least one; taking one more reference and adopting it is then valid.
    unsafe {
        Arc::increment_strong_count(current);
        Some(Arc::from_raw(current))
    }
}
