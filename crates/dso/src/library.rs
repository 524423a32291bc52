//! Handles to loaded versions and the symbols resolved from them.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use crate::error::Error;
use crate::fingerprint::Fingerprint;
use crate::loader::Shared;
use crate::reaper::Unload;
use crate::registry::lock;
use crate::sys;

/// Identifies one loaded version within its loader; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionId(pub(crate) u64);

impl VersionId {
    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One loaded version of a plugin file. Shared by every [`Library`] handle to it.
pub(crate) struct Version {
    pub(crate) id: VersionId,
    pub(crate) path: PathBuf,
    pub(crate) runtime_path: PathBuf,
    /// The version's own directory under the runtime root; `None` when loaded in place.
    pub(crate) copy_dir: Option<PathBuf>,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) loaded_at: SystemTime,
    pub(crate) pinned: AtomicBool,
    /// Cleared by [`Library::withhold`]: a load of the same file no longer returns this version.
    pub(crate) reusable: AtomicBool,
    /// `Some` until the version is dropped and the handle goes to the reaper.
    handle: Option<sys::Handle>,
    shared: Arc<Shared>,
}

impl Version {
    pub(crate) fn new(
        id: VersionId,
        path: PathBuf,
        runtime_path: PathBuf,
        copy_dir: Option<PathBuf>,
        fingerprint: Fingerprint,
        handle: sys::Handle,
        shared: Arc<Shared>,
    ) -> Version {
        Version {
            id,
            path,
            runtime_path,
            copy_dir,
            fingerprint,
            loaded_at: SystemTime::now(),
            pinned: AtomicBool::new(false),
            reusable: AtomicBool::new(true),
            handle: Some(handle),
            shared,
        }
    }

    fn handle(&self) -> &sys::Handle {
        self.handle.as_ref().expect("a version holds its handle until it is dropped")
    }
}

impl Version {
    /// Takes the handle out, with what the reaper needs to close it; `None` once taken.
    fn take_unload(&mut self) -> Option<Unload> {
        let handle = self.handle.take()?;
        Some(Unload {
            id: self.id,
            path: self.path.clone(),
            runtime_path: self.runtime_path.clone(),
            copy_dir: self.copy_dir.take(),
            declared_pinned: self.pinned.load(Ordering::Acquire),
            handle,
        })
    }
}

impl Drop for Version {
    fn drop(&mut self) {
        // `Library::drop` normally queued the handle already; this only covers a version that
        // never had a handle wrapped around it.
        if let Some(unload) = self.take_unload() {
            self.shared.reap(unload);
        }
    }
}

/// A reference-counted handle to one loaded version of a plugin.
///
/// Cloning is cheap. The version stays loaded while any handle (or any [`Symbol`] resolved from
/// one) lives; when the last goes, the loader's reaper thread closes the library, verifies it is
/// unmapped and removes its runtime copy.
pub struct Library {
    /// `ManuallyDrop` so that `drop` can release the last reference while the registry is locked.
    version: ManuallyDrop<Arc<Version>>,
}

impl Library {
    pub(crate) fn new(version: Arc<Version>) -> Library {
        Library { version: ManuallyDrop::new(version) }
    }

    /// The id of this version within its loader.
    pub fn id(&self) -> VersionId {
        self.version.id
    }

    /// The canonical path of the plugin file this version was loaded from.
    pub fn path(&self) -> &Path {
        &self.version.path
    }

    /// The file the dynamic loader mapped: the runtime copy, or [`Library::path`] in static mode.
    pub fn runtime_path(&self) -> &Path {
        &self.version.runtime_path
    }

    /// The fingerprint of the file when this version was loaded.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.version.fingerprint
    }

    /// When this version was loaded.
    pub fn loaded_at(&self) -> SystemTime {
        self.version.loaded_at
    }

    /// How many handles (including those inside symbols) keep this version loaded.
    pub fn references(&self) -> usize {
        Arc::strong_count(&self.version)
    }

    /// Whether this version was declared unable to unload with [`Library::pin`].
    pub fn is_pinned(&self) -> bool {
        self.version.pinned.load(Ordering::Acquire)
    }

    /// Withholds this version from reuse: in [`ReloadMode::Dynamic`](crate::ReloadMode), a later
    /// [`Loader::load`](crate::Loader::load) of its file copies and opens the file again as a new
    /// version instead of returning this one (for a version that was retired and must not come
    /// back). Handles already given out keep it loaded as before. In
    /// [`ReloadMode::Static`](crate::ReloadMode) the file has one image, which a load still
    /// returns.
    pub fn withhold(&self) {
        self.version.reusable.store(false, Ordering::Release);
    }

    /// Whether a load of the same file may still return this version (see [`Library::withhold`]).
    pub fn is_reusable(&self) -> bool {
        self.version.reusable.load(Ordering::Acquire)
    }

    /// Resolves the exported item `name`, failing when the plugin does not export it.
    ///
    /// # Errors
    ///
    /// [`Error::MissingSymbol`] when the plugin does not export `name`; [`Error::Open`] when the
    /// loader reports another failure.
    ///
    /// # Safety
    ///
    /// `T` must be the exported item's type: for a function, an `extern "C" fn` pointer type with
    /// its exact signature; for a static, a raw pointer to the static's type.
    pub unsafe fn symbol<T: Copy>(&self, name: &str) -> Result<Symbol<T>, Error> {
        // SAFETY: forwarded to the caller.
        match unsafe { self.optional_symbol(name) }? {
            Some(symbol) => Ok(symbol),
            None => {
                Err(Error::MissingSymbol { path: self.path().to_owned(), symbol: name.to_owned() })
            }
        }
    }

    /// Resolves the exported item `name`, or `None` when the plugin does not export it.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] when the loader reports a failure other than a missing symbol.
    ///
    /// # Safety
    ///
    /// As for [`Library::symbol`].
    pub unsafe fn optional_symbol<T: Copy>(&self, name: &str) -> Result<Option<Symbol<T>>, Error> {
        // SAFETY: forwarded to the caller; the handle is open while `self` lives.
        let value = unsafe { self.version.handle().symbol::<T>(name) }
            .map_err(|message| Error::Open { path: self.path().to_owned(), message })?;
        Ok(value.map(|value| Symbol { value, library: self.clone() }))
    }

    /// Declares that this version cannot be unloaded (its code registered something the process
    /// will call after an unload, such as a thread-local destructor).
    ///
    /// The dynamic loader is told never to unmap it, and when its last handle goes it is
    /// reported as pinned instead of unloaded; its runtime copy stays.
    ///
    /// # Errors
    ///
    /// [`Error::Pin`] when the loader refuses.
    pub fn pin(&self) -> Result<(), Error> {
        sys::mark_nodelete(self.runtime_path())
            .map_err(|message| Error::Pin { path: self.path().to_owned(), message })?;
        self.version.pinned.store(true, Ordering::Release);
        Ok(())
    }
}

impl Clone for Library {
    fn clone(&self) -> Library {
        Library::new(Arc::clone(&self.version))
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        let shared = Arc::clone(&self.version.shared);
        let mut registry = lock(&shared.registry);
        // Every drop of a handle takes the registry lock, and look-ups clone handles only under
        // it, so a count of 1 seen here is final: no look-up can revive this version.
        let last = Arc::strong_count(&self.version) == 1;
        // SAFETY: `self.version` is not touched again; this is the end of `drop`.
        let version = unsafe { ManuallyDrop::take(&mut self.version) };
        if !last {
            // The count drops under the lock.
            drop(version);
            return;
        }
        registry.retire(&version);
        // The handle is queued for the reaper before the lock goes: a load that finds this
        // version unloading and flushes the reaper must find the close queued ahead of its
        // flush, or it would open the file while this handle still holds its image (in static
        // mode the dynamic loader then returns the old image, and the close looks like a pin).
        let unload = Arc::into_inner(version).and_then(|mut version| version.take_unload());
        if let Some(unload) = unload
            && let Err(unload) = shared.queue(unload)
        {
            // The reaper thread is gone: close here, without the lock the close needs.
            drop(registry);
            shared.reap_here(unload);
        }
    }
}

impl fmt::Debug for Library {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Library")
            .field("id", &self.id())
            .field("path", &self.path())
            .field("runtime_path", &self.runtime_path())
            .finish_non_exhaustive()
    }
}

/// An item resolved from a plugin, holding its [`Library`] so the item cannot outlive the code.
///
/// Dereferences to the item (for a function, its `extern "C" fn` pointer).
pub struct Symbol<T> {
    value: T,
    library: Library,
}

impl<T: Copy> Symbol<T> {
    /// The library this item came from.
    pub fn library(&self) -> &Library {
        &self.library
    }
}

impl<T> Deref for Symbol<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Copy> Clone for Symbol<T> {
    fn clone(&self) -> Symbol<T> {
        Symbol { value: self.value, library: self.library.clone() }
    }
}

impl<T> fmt::Debug for Symbol<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Symbol").field("library", &self.library).finish_non_exhaustive()
    }
}
