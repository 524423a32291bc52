//! Continuations: plugin code the host calls later, for hooks and timers.
//!
//! The handler's data lives in an `Arc` whose raw pointer the host stores. The
//! [`Continuation`] owns one count; every invocation takes another for its duration, so a
//! continuation dropped from inside its own handler (or, per the host's contract, while an
//! invocation runs elsewhere) frees its handler only after the invocation returned.

use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookyard_abi::{self as abi, hy_api, hy_cont};

use crate::error::Error;
use crate::hook::{HookId, HookResult};
use crate::host::{self, Host, checked};
use crate::lifecycle_msg::LifecycleMsg;
use crate::transform::{BodyKind, Running, Transform, TransformKind};
use crate::txn::{Ssn, Txn};

/// What a continuation is invoked for.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A transaction hook, with its transaction.
    Txn(HookId, Txn<'a>),
    /// A session hook (`SSN_START`, `SSN_CLOSE`), with its session.
    Ssn(HookId, Ssn<'a>),
    /// A lifecycle hook (`PLUGINS_LOADED`, `SHUTDOWN`).
    Lifecycle(HookId),
    /// An operator's message (`LIFECYCLE_MSG`, since ABI 1.4).
    Msg(LifecycleMsg<'a>),
    /// A scheduled invocation ([`Continuation::schedule`]).
    Timer,
    /// An event this SDK does not know.
    Other(i32),
}

type Handler = dyn Fn(Event<'_>) -> HookResult + Send + Sync;
type Once = Box<dyn FnOnce() + Send>;

enum Body {
    Repeat(Box<Handler>),
    Once(Mutex<Option<Once>>),
    /// A body transform's: destroyed at its CLOSE event.
    Transform(Mutex<Running>),
}

struct Inner {
    body: Body,
}

/// A handler the host can invoke for hooks and timers, owned by the plugin.
///
/// A live continuation keeps the plugin's code loaded; dropping it destroys it (cancelling its
/// timers and hook registrations). Keep global hooks' continuations in your plugin's state, so
/// they go when the plugin is done.
pub struct Continuation {
    raw: NonNull<hy_cont>,
    inner: *const Inner,
    api: &'static hy_api,
}

// SAFETY: the host allows destroying and scheduling a continuation, and registering it, from any
// thread; the handler itself is `Send + Sync`.
unsafe impl Send for Continuation {}
// SAFETY: as above; `&Continuation` only schedules or registers.
unsafe impl Sync for Continuation {}

impl std::fmt::Debug for Continuation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Continuation").field("raw", &self.raw).finish_non_exhaustive()
    }
}

fn create(api: &'static hy_api, body: Body) -> Result<(NonNull<hy_cont>, *const Inner), Error> {
    let inner = Arc::into_raw(Arc::new(Inner { body }));
    // SAFETY: `trampoline` has the handler type; `inner` stays valid until the continuation's
    // owner count is released.
    let raw = unsafe { (api.cont_create)(api.plugin, Some(trampoline), inner.cast_mut().cast()) };
    match NonNull::new(raw) {
        Some(raw) => Ok((raw, inner)),
        None => {
            // SAFETY: the host refused, so nothing else holds the pointer.
            drop(unsafe { Arc::from_raw(inner) });
            Err(Error::host("cont_create"))
        }
    }
}

impl Continuation {
    /// A continuation running `handler`. For hook events its answer is the hook's result
    /// (unless the handler deferred); for other events it is ignored.
    ///
    /// # Errors
    ///
    /// Before init, or when the host refuses.
    pub fn new(
        handler: impl Fn(Event<'_>) -> HookResult + Send + Sync + 'static,
    ) -> Result<Continuation, Error> {
        let api = Host::require()?.api;
        let (raw, inner) = create(api, Body::Repeat(Box::new(handler)))?;
        Ok(Continuation { raw, inner, api })
    }

    /// Invokes the handler once more with [`Event::Timer`] after `delay`, on a host thread.
    ///
    /// # Errors
    ///
    /// When the host refuses.
    pub fn schedule(&self, delay: Duration) -> Result<(), Error> {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        // SAFETY: the continuation is live while `self` is.
        checked(unsafe { (self.api.cont_schedule)(self.raw.as_ptr(), ms) }, "cont_schedule")
    }

    pub(crate) fn raw(&self) -> *mut hy_cont {
        self.raw.as_ptr()
    }
}

impl Drop for Continuation {
    fn drop(&mut self) {
        // SAFETY: destroyed once, here. Afterwards the host never starts the handler again and
        // has waited for invocations on other threads; one running on this thread holds its own
        // count of `inner`.
        unsafe {
            (self.api.cont_destroy)(self.raw.as_ptr());
            drop(Arc::from_raw(self.inner));
        }
    }
}

/// Runs `work` once on a host thread after `delay`. The continuation behind it keeps the
/// plugin's code loaded until it ran.
///
/// # Errors
///
/// Before init, or when the host refuses.
pub fn schedule(delay: Duration, work: impl FnOnce() + Send + 'static) -> Result<(), Error> {
    let api = Host::require()?.api;
    let (raw, inner) = create(api, Body::Once(Mutex::new(Some(Box::new(work)))))?;
    let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    // SAFETY: the continuation was just created.
    let r = unsafe { (api.cont_schedule)(raw.as_ptr(), ms) };
    if r != abi::HY_SUCCESS {
        // SAFETY: never scheduled: destroy it and release the owner count here.
        unsafe {
            (api.cont_destroy)(raw.as_ptr());
            drop(Arc::from_raw(inner));
        }
        return Err(Error::host("cont_schedule"));
    }
    Ok(())
}

/// Adds `transform` of `kind` on `body` to the transaction at `txn`, behind a continuation of
/// its own that lives until the transform's CLOSE event.
///
/// # Safety
///
/// `txn` is a transaction the host lends to the plugin now.
pub(crate) unsafe fn add_transform(
    api: &'static hy_api,
    txn: *mut abi::hy_txn,
    body: BodyKind,
    kind: TransformKind,
    priority: Option<i32>,
    transform: Box<dyn Transform>,
) -> Result<(), Error> {
    let running = Running { kind, transform };
    let (raw, inner) = create(api, Body::Transform(Mutex::new(running)))?;
    let priority = priority.unwrap_or(abi::HY_PRIORITY_DEFAULT);
    // SAFETY: a lent transaction (contract) and the continuation just made; no out-parameter.
    let r = unsafe {
        (api.transform_add)(
            txn,
            body.raw(),
            kind.raw(),
            raw.as_ptr(),
            priority,
            std::ptr::null_mut(),
        )
    };
    if r != abi::HY_SUCCESS {
        // SAFETY: never added: destroy it and release the owner count here.
        unsafe {
            (api.cont_destroy)(raw.as_ptr());
            drop(Arc::from_raw(inner));
        }
        return Err(Error::host("transform_add"));
    }
    Ok(())
}

/// The handler every continuation of this SDK is created with.
unsafe extern "C" fn trampoline(
    cont: *mut hy_cont,
    event: abi::hy_event,
    edata: *mut c_void,
) -> i32 {
    let hook = HookId::from_event(event);
    let failed = if hook.is_some() || event == abi::HY_EVENT_TRANSFORM_CHUNK {
        abi::HY_HOOK_ERROR
    } else {
        0
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let Some(api) = host::api() else { return failed };
        // SAFETY: `cont` is one of ours (created with this handler) and live during its
        // invocation; its data is the `Inner` pointer we gave, whose owner count is held until
        // destruction, which waits for this invocation. Take a count for the invocation.
        let inner = unsafe {
            let data = (api.cont_data_get)(cont).cast::<Inner>().cast_const();
            Arc::increment_strong_count(data);
            Arc::from_raw(data)
        };
        match &inner.body {
            Body::Repeat(handler) => {
                let deferred = Cell::new(false);
                // SAFETY: for hook events `edata` is the live transaction or session the host
                // lends for this invocation.
                let event = unsafe {
                    match hook {
                        Some(HookId::LifecycleMsg) => {
                            match LifecycleMsg::from_raw(edata.cast_const().cast(), api) {
                                Some(msg) => Event::Msg(msg),
                                None => return failed,
                            }
                        }
                        Some(h) if h.is_lifecycle() => Event::Lifecycle(h),
                        Some(h) if h.is_session() => {
                            match Ssn::from_raw(edata.cast(), api, Some(&deferred)) {
                                Some(ssn) => Event::Ssn(h, ssn),
                                None => return failed,
                            }
                        }
                        Some(h) => match Txn::from_raw(edata.cast(), api, Some(&deferred)) {
                            Some(txn) => Event::Txn(h, txn),
                            None => return failed,
                        },
                        None if event == abi::HY_EVENT_TIMEOUT
                            || event == abi::HY_EVENT_IMMEDIATE =>
                        {
                            Event::Timer
                        }
                        None => Event::Other(event),
                    }
                };
                let result = handler(event);
                if deferred.get() {
                    abi::HY_HOOK_PENDING
                } else if hook.is_some() {
                    result.raw()
                } else {
                    0
                }
            }
            Body::Transform(running) => {
                let mut running = running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if event == abi::HY_EVENT_TRANSFORM_CHUNK {
                    let Some(chunk) = NonNull::new(edata.cast::<abi::hy_chunk>()) else {
                        return failed;
                    };
                    // SAFETY: the chunk the host lends for this event.
                    return unsafe { running.chunk(chunk, api) };
                }
                if event == abi::HY_EVENT_TRANSFORM_CLOSE {
                    running.transform.on_close();
                    // SAFETY: CLOSE is the transform's last event: its continuation destroys
                    // itself (taking effect when this handler returns) and releases the owner
                    // count nobody else holds; this invocation's count keeps `inner` alive.
                    unsafe {
                        (api.cont_destroy)(cont);
                        Arc::decrement_strong_count(Arc::as_ptr(&inner));
                    }
                }
                0
            }
            Body::Once(work) => {
                let work = work.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
                // SAFETY: a one-shot destroys itself before its one run (from its own handler,
                // the destruction takes effect when the handler returns, so it cannot run
                // twice) and releases the owner count nobody else holds; this invocation's own
                // count keeps `inner`, and so `work`'s closure, alive until the end.
                unsafe {
                    (api.cont_destroy)(cont);
                    Arc::decrement_strong_count(Arc::as_ptr(&inner));
                }
                if let Some(work) = work {
                    work();
                }
                0
            }
        }
    }));
    outcome.unwrap_or(failed)
}
