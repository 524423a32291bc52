//! Continuations plugins make (`cont_create`): the handler and data behind a `hy_cont *`, the
//! scheduler thread that runs their scheduled events, and their destruction, which waits for
//! invocations on other threads.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use hookyard_abi::{self as abi, hy_cont};
use hookyard_context::Continuation;
use hookyard_hooks::{HookId, Outcome};
use tracing::{debug, warn};

use crate::plugin::PluginState;

/// A plugin callback: a continuation made by `cont_create`.
pub type Callback = Continuation<CCont>;

thread_local! {
    /// The continuation whose handler runs on this thread (for `cont_destroy` from inside it).
    static RUNNING: Cell<*const CCont> = const { Cell::new(std::ptr::null()) };
}

/// A continuation made by a plugin: its handler and data.
pub struct CCont {
    handler: abi::hy_cont_handler,
    data: *mut c_void,
    /// The `hy_cont *` the plugin knows (the continuation's own address).
    me: AtomicPtr<hy_cont>,
    plugin: Arc<PluginState>,
    destroyed: AtomicBool,
    /// Invocations running now.
    active: AtomicU64,
    timers: Mutex<Vec<tokio::task::AbortHandle>>,
}

// SAFETY: `data` is the plugin's opaque pointer, handed back to it only; the plugin's contract
// (hookyard.h) makes a continuation usable from any thread.
unsafe impl Send for CCont {}
// SAFETY: as above; everything else is atomics, locks and `Arc`s.
unsafe impl Sync for CCont {}

impl CCont {
    pub(crate) fn new(
        handler: abi::hy_cont_handler,
        data: *mut c_void,
        plugin: Arc<PluginState>,
    ) -> CCont {
        CCont {
            handler,
            data,
            me: AtomicPtr::new(std::ptr::null_mut()),
            plugin,
            destroyed: AtomicBool::new(false),
            active: AtomicU64::new(0),
            timers: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn set_me(&self, me: *mut hy_cont) {
        self.me.store(me, Ordering::Release);
    }

    pub(crate) fn data(&self) -> *mut c_void {
        self.data
    }

    /// The plugin version that made it.
    pub(crate) fn plugin(&self) -> &Arc<PluginState> {
        &self.plugin
    }

    pub(crate) fn is_destroyed(&self) -> bool {
        self.destroyed.load(Ordering::Acquire)
    }

    /// Calls the handler with `event` and `edata`, unless destroyed; `None` then.
    fn fire(&self, event: i32, edata: *mut c_void) -> Option<i32> {
        if self.is_destroyed() {
            return None;
        }
        // With `destroy`'s store and load, all sequentially consistent: either this sees the
        // continuation destroyed, or `destroy` sees this invocation active and waits for it.
        self.active.fetch_add(1, Ordering::SeqCst);
        if self.destroyed.load(Ordering::SeqCst) {
            self.active.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let outer = RUNNING.replace(self);
        let me = self.me.load(Ordering::Acquire);
        // SAFETY: the handler the plugin gave with this continuation's `hy_cont *` and an event
        // with the `edata` the contract names for it; the plugin's code stays loaded while the
        // continuation (its context) lives, and the caller holds a reference.
        let result = unsafe { (self.handler)(me, event, edata) };
        RUNNING.set(outer);
        self.active.fetch_sub(1, Ordering::AcqRel);
        Some(result)
    }

    /// Calls the handler with an event that is not a hook's (a transform's); `None` when the
    /// continuation was destroyed.
    pub(crate) fn fire_event(&self, event: i32, edata: *mut c_void) -> Option<i32> {
        self.fire(event, edata)
    }

    /// Runs the handler for a hook and counts its time (warning when over `slow`); a destroyed
    /// continuation continues.
    pub(crate) fn fire_hook(&self, hook: HookId, edata: *mut c_void, slow: Duration) -> Outcome {
        // The TSC where it runs at a constant rate (`quanta`), not `clock_gettime`: two reads
        // on every callback of every transaction.
        let started = quanta::Instant::now();
        let result = self.fire(abi::HY_EVENT_HOOK_BASE + hook.number() as i32, edata);
        self.plugin.timed(hook.index(), hook.name(), started.elapsed(), slow);
        match result {
            None | Some(abi::HY_HOOK_CONTINUE) => Outcome::Continue,
            Some(abi::HY_HOOK_PENDING) => Outcome::Pending,
            Some(abi::HY_HOOK_ERROR) => Outcome::Error,
            Some(other) => {
                warn!(plugin = %self.plugin.name, %hook, answer = other,
                    "a hook callback answered an unknown value; treated as an error");
                Outcome::Error
            }
        }
    }
}

/// Runs a continuation's scheduled events: one thread with its own timer runtime.
pub(crate) fn scheduler() -> Option<&'static tokio::runtime::Handle> {
    static HANDLE: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => {
                    warn!(error = %e, "cannot start the continuation scheduler");
                    return None;
                }
            };
            let handle = runtime.handle().clone();
            let spawned = std::thread::Builder::new()
                .name("hookyard-sched".to_owned())
                .spawn(move || runtime.block_on(std::future::pending::<()>()));
            spawned.map_err(|e| warn!(error = %e, "cannot start the scheduler thread")).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Schedules one invocation of `callback` after `delay`.
pub(crate) fn schedule(callback: Arc<Callback>, delay: Duration) -> bool {
    let Some(handle) = scheduler() else { return false };
    let event = if delay.is_zero() { abi::HY_EVENT_IMMEDIATE } else { abi::HY_EVENT_TIMEOUT };
    let timers = &callback.handler().timers;
    let mut timers = timers.lock().unwrap_or_else(PoisonError::into_inner);
    timers.retain(|t| !t.is_finished());
    let task = {
        let callback = callback.clone();
        handle.spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let fired = callback.invoke(|h| h.fire(event, std::ptr::null_mut()));
            if fired.is_err() {
                debug!("a scheduled event of a retired plugin was dropped");
            }
        })
    };
    timers.push(task.abort_handle());
    true
}

/// Destroys the plugin's reference `raw`: no new invocation starts, scheduled ones are
/// cancelled, its registrations go; waits for invocations on other threads.
///
/// # Safety
///
/// `raw` came from `cont_create` and was not destroyed before.
pub(crate) unsafe fn destroy(raw: *const Callback) {
    // SAFETY: per the contract, the plugin's own reference.
    let callback = unsafe { Arc::from_raw(raw) };
    let cont = callback.handler();
    // Sequentially consistent, with `fire`'s increment and check (see there): a release store
    // followed by an acquire load may be reordered, and miss an invocation starting meanwhile.
    cont.destroyed.store(true, Ordering::SeqCst);
    for timer in cont.timers.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
        timer.abort();
    }
    cont.plugin
        .registrations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|r| !Arc::ptr_eq(&r.callback, &callback));
    let inside = RUNNING.get() == std::ptr::from_ref(cont);
    let own = usize::from(inside);
    while cont.active.load(Ordering::SeqCst) as usize > own {
        std::thread::yield_now();
    }
}
