//! Plugin contexts: who owns a piece of code, what keeps it loaded, and what it has done.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use hookyard_dso::{Library, VersionId};
use tracing::{debug, info, warn};

use crate::current;

/// The plugin (or the core) that owns a piece of code, and the handle that keeps its code loaded.
///
/// Cheap to clone; clones are the same context ([`PartialEq`] is identity). The core context
/// ([`Context::core`], also the [`Default`]) is free: it counts nothing and holds nothing.
#[derive(Default)]
pub struct Context(Option<Arc<Inner>>);

/// A continuation's reference to its context.
///
/// Its strong reference is the continuation's count: a plugin context's live continuations are
/// its strong references minus its `Context` handles (`holders`). Creating and destroying a
/// continuation therefore costs one atomic operation each.
pub(crate) struct Owner(Option<Arc<Inner>>);

pub(crate) struct Inner {
    name: Arc<str>,
    /// `None` for a plugin built into the proxy.
    library: Option<Library>,
    /// `Context` handles alive. A handle is counted after its strong reference is taken and
    /// uncounted before it is released, so strong references minus holders never undercounts
    /// continuations.
    holders: CachePadded<AtomicU64>,
    invocations: AtomicU64,
    busy_nanos: AtomicU64,
    dropped: AtomicU64,
    state: AtomicU8,
    /// Set once, by the first retirement.
    drain_deadline: OnceLock<Option<Instant>>,
    warned_drop: AtomicBool,
}

const ACTIVE: u8 = 0;
const RETIRED: u8 = 1;
const FORCE_RETIRED: u8 = 2;

/// Where a context is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextState {
    /// Its configuration generation is serving.
    Active,
    /// Its generation is gone; its continuations still run until destroyed (or until the drain
    /// deadline, if one was set).
    Retired {
        /// When events start being dropped, if ever.
        drain_deadline: Option<Instant>,
    },
    /// Events for its continuations are dropped, never dispatched.
    ForceRetired,
}

/// A snapshot of one context, for the control channel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContextInfo {
    /// The plugin's name (`core` for the core context).
    pub name: String,
    /// The loaded version of the plugin's code, if it came from a shared object.
    pub version: Option<VersionId>,
    /// The plugin file the version was loaded from, if any.
    pub path: Option<PathBuf>,
    /// Continuations alive now.
    pub live_continuations: u64,
    /// Continuation invocations.
    pub invocations: u64,
    /// Time spent in the context's continuations (inclusive of nested invocations).
    pub time_in_plugin: Duration,
    /// Events dropped because the context was retired for good.
    pub dropped_events: u64,
    /// Where the context is in its life.
    pub state: ContextState,
}

impl Context {
    /// The core context: what the proxy itself creates. Not counted, never retired.
    pub fn core() -> Context {
        Context(None)
    }

    /// A context for a plugin loaded from a shared object; it keeps `library` loaded while it
    /// or any continuation created in it lives.
    pub fn plugin(name: impl Into<Arc<str>>, library: Library) -> Context {
        Context::with(name.into(), Some(library))
    }

    /// A context for a plugin compiled into the proxy (no shared object to keep loaded).
    pub fn builtin(name: impl Into<Arc<str>>) -> Context {
        Context::with(name.into(), None)
    }

    fn with(name: Arc<str>, library: Option<Library>) -> Context {
        Context(Some(Arc::new(Inner {
            name,
            library,
            holders: CachePadded::new(AtomicU64::new(1)),
            invocations: AtomicU64::new(0),
            busy_nanos: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            state: AtomicU8::new(ACTIVE),
            drain_deadline: OnceLock::new(),
            warned_drop: AtomicBool::new(false),
        })))
    }

    /// The context code on this thread runs in: the innermost [`Context::run`], else the core.
    pub fn current() -> Context {
        Context::counted(current::current())
    }

    /// Runs `f` with this as the current context of this thread, then restores the previous one
    /// (also when `f` unwinds).
    ///
    /// Entering costs two thread-local writes and no atomic operation.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        current::run_in(self.0.as_ref(), f)
    }

    /// Whether this is the core context.
    pub fn is_core(&self) -> bool {
        self.0.is_none()
    }

    /// The plugin's name, or `core`.
    pub fn name(&self) -> &str {
        self.0.as_ref().map_or("core", |inner| &inner.name)
    }

    /// The library that holds the plugin's code, if it came from a shared object.
    pub fn library(&self) -> Option<&Library> {
        self.0.as_ref()?.library.as_ref()
    }

    /// Retires the context: its generation is gone. Its continuations keep running until
    /// destroyed; with a `drain` period, events arriving after it are dropped instead.
    ///
    /// Only the first retirement sets the drain deadline. The core context is never retired.
    pub fn retire(&self, drain: Option<Duration>) {
        let Some(inner) = &self.0 else { return };
        let deadline = *inner.drain_deadline.get_or_init(|| drain.map(|d| Instant::now() + d));
        if inner
            .state
            .compare_exchange(ACTIVE, RETIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            info!(plugin = %inner.name, live = live(inner),
                drain_ms = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_millis() as u64),
                "plugin context retired; its continuations drain");
        }
    }

    /// Retires the context for good: from now on events for its continuations are dropped and
    /// counted, never dispatched. The core context is never retired.
    pub fn force_retire(&self) {
        if let Some(inner) = &self.0 {
            inner.force_retire();
        }
    }

    /// Whether an event may be dispatched into this context now: always for an active (or the
    /// core) context and during a retirement's drain; after it, or once force-retired, the
    /// event is counted as dropped (and the first drop logged) and `false` returned.
    ///
    /// For calls into plugin code that are not continuations (a remap plugin's `do_remap`), so
    /// a retired plugin's code is skipped as its continuations' events are.
    #[inline]
    pub fn admits(&self) -> bool {
        self.0.as_ref().is_none_or(|inner| inner.admit())
    }

    /// Where the context is in its life.
    pub fn state(&self) -> ContextState {
        let Some(inner) = &self.0 else { return ContextState::Active };
        match inner.state.load(Ordering::Acquire) {
            ACTIVE => ContextState::Active,
            RETIRED => ContextState::Retired {
                drain_deadline: inner.drain_deadline.get().copied().flatten(),
            },
            _ => ContextState::ForceRetired,
        }
    }

    /// A snapshot of the context's identity, counters and state.
    pub fn snapshot(&self) -> ContextInfo {
        let state = self.state();
        let Some(inner) = &self.0 else {
            return ContextInfo {
                name: "core".to_owned(),
                version: None,
                path: None,
                live_continuations: 0,
                invocations: 0,
                time_in_plugin: Duration::ZERO,
                dropped_events: 0,
                state,
            };
        };
        ContextInfo {
            name: inner.name.to_string(),
            version: inner.library.as_ref().map(Library::id),
            path: inner.library.as_ref().map(|l| l.path().to_owned()),
            live_continuations: live(inner),
            invocations: inner.invocations.load(Ordering::Relaxed),
            time_in_plugin: Duration::from_nanos(inner.busy_nanos.load(Ordering::Relaxed)),
            dropped_events: inner.dropped.load(Ordering::Relaxed),
            state,
        }
    }

    /// A continuation's reference to this context.
    pub(crate) fn owner(&self) -> Owner {
        Owner(self.0.clone())
    }

    /// A continuation's reference to the current context.
    pub(crate) fn current_owner() -> Owner {
        Owner(current::current())
    }
}

impl Inner {
    fn force_retire(&self) {
        self.drain_deadline.get_or_init(|| Some(Instant::now()));
        if self.state.swap(FORCE_RETIRED, Ordering::AcqRel) != FORCE_RETIRED {
            info!(plugin = %self.name, "plugin context force-retired; its events are dropped from now on");
        }
    }

    /// Whether an event may be dispatched now; if not, counts and logs the dropped event.
    #[inline]
    fn admit(&self) -> bool {
        self.state.load(Ordering::Acquire) == ACTIVE || self.admit_retired()
    }

    #[cold]
    fn admit_retired(&self) -> bool {
        let dispatch = match self.state.load(Ordering::Acquire) {
            ACTIVE => true,
            RETIRED => match self.drain_deadline.get().copied().flatten() {
                Some(deadline) if Instant::now() >= deadline => {
                    // The drain period is over: from now on this is a forced retirement.
                    self.force_retire();
                    false
                }
                _ => true,
            },
            _ => false,
        };
        if !dispatch {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if self.warned_drop.swap(true, Ordering::Relaxed) {
                debug!(plugin = %self.name, dropped, "event for a retired plugin dropped");
            } else {
                warn!(plugin = %self.name, version = self.library.as_ref().map(|l| l.id().get()),
                    "event for a retired plugin dropped, not dispatched into code that may be gone");
            }
        }
        dispatch
    }
}

/// Live continuations: strong references that are not `Context` handles.
fn live(inner: &Arc<Inner>) -> u64 {
    let holders = inner.holders.load(Ordering::Acquire);
    (Arc::strong_count(inner) as u64).saturating_sub(holders)
}

impl Owner {
    /// Runs `f` in the owning context.
    #[inline]
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        current::run_in(self.0.as_ref(), f)
    }

    /// A counted handle to the owning context.
    pub(crate) fn context(&self) -> Context {
        Context::counted(self.0.clone())
    }

    /// Whether invocations are counted (the core's are not).
    pub(crate) fn counts(&self) -> bool {
        self.0.is_some()
    }

    /// Whether an event may be dispatched now; if not, counts and logs the dropped event.
    #[inline]
    pub(crate) fn admit(&self) -> bool {
        self.0.as_ref().is_none_or(|inner| inner.admit())
    }

    /// Counts one invocation and the time it took.
    pub(crate) fn record_invocation(&self, took: Duration) {
        if let Some(inner) = &self.0 {
            inner.invocations.fetch_add(1, Ordering::Relaxed);
            inner.busy_nanos.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        }
    }

    /// A description for messages: the plugin's name and version.
    pub(crate) fn describe(&self) -> String {
        self.context().to_string()
    }
}

impl Context {
    fn counted(inner: Option<Arc<Inner>>) -> Context {
        if let Some(inner) = &inner {
            inner.holders.fetch_add(1, Ordering::Release);
        }
        Context(inner)
    }
}

impl Clone for Context {
    fn clone(&self) -> Context {
        Context::counted(self.0.clone())
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(inner) = &self.0 {
            inner.holders.fetch_sub(1, Ordering::Release);
        }
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Context) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Context {}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Context(core)"),
            Some(inner) => f
                .debug_struct("Context")
                .field("name", &inner.name)
                .field("version", &inner.library.as_ref().map(Library::id))
                .finish_non_exhaustive(),
        }
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.library() {
            Some(library) => write!(f, "{} (version {})", self.name(), library.id()),
            None => f.write_str(self.name()),
        }
    }
}
