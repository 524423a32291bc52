//! The loader: resolves plugin paths, decides reuse or new version, loads, and owns the reaper.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::{fs, io};

use crossbeam_channel::Sender;
use tracing::{debug, info, warn};

use crate::elf;
use crate::error::Error;
use crate::fingerprint::{self, CopyError, FileStat, Fingerprint};
use crate::library::{Library, Version, VersionId};
use crate::reaper::{self, Job, Unload};
use crate::registry::{Registry, VersionInfo, lock};
use crate::runtime::RuntimeRoot;
use crate::sys;

/// How a changed plugin file is loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReloadMode {
    /// Every new version is copied into its own runtime directory and loaded from there, beside
    /// the versions still in use (ATS `dynamic_reload_mode=1`).
    #[default]
    Dynamic,
    /// Plugins are opened in place, and while a version of a file is loaded every load of that
    /// file returns it, even after the file changed (ATS `dynamic_reload_mode=0`).
    Static,
}

/// Where a [`Loader`] finds plugins and keeps its copies.
#[derive(Clone, Debug)]
pub struct LoaderConfig {
    runtime_root: PathBuf,
    search_dirs: Vec<PathBuf>,
    mode: ReloadMode,
}

impl LoaderConfig {
    /// A configuration with the given runtime directory, no search directories, and
    /// [`ReloadMode::Dynamic`].
    pub fn new(runtime_root: impl Into<PathBuf>) -> LoaderConfig {
        LoaderConfig {
            runtime_root: runtime_root.into(),
            search_dirs: Vec::new(),
            mode: ReloadMode::default(),
        }
    }

    /// Appends a directory where relative plugin paths are looked up, after those already given.
    pub fn search_dir(mut self, dir: impl Into<PathBuf>) -> LoaderConfig {
        self.search_dirs.push(dir.into());
        self
    }

    /// Sets the reload mode.
    pub fn mode(mut self, mode: ReloadMode) -> LoaderConfig {
        self.mode = mode;
        self
    }
}

/// Counters of what a loader did, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoaderStats {
    /// New versions loaded.
    pub loaded: u64,
    /// Loads answered with a version already loaded.
    pub reused: u64,
    /// Loads that failed.
    pub failed: u64,
    /// Released versions verified unmapped, their copies removed.
    pub unloaded: u64,
    /// Released versions that stayed mapped.
    pub pinned: u64,
    /// Stale version directories removed at start.
    pub swept: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    loaded: AtomicU64,
    reused: AtomicU64,
    failed: AtomicU64,
    pub(crate) unloaded: AtomicU64,
    pub(crate) pinned: AtomicU64,
    swept: AtomicU64,
}

/// Loads plugin versions and unloads them when their last handle goes. Cheap to clone; clones
/// share one registry and one reaper thread.
#[derive(Clone)]
pub struct Loader {
    shared: Arc<Shared>,
}

/// What a loader and every version it loaded share.
pub(crate) struct Shared {
    root: RuntimeRoot,
    search_dirs: Vec<PathBuf>,
    mode: ReloadMode,
    pub(crate) registry: Arc<Mutex<Registry>>,
    /// Serialises loads, so that one file is never loaded twice at once.
    load_lock: Mutex<()>,
    /// Held across an in-place (static mode) open and its registration, and by the reaper across
    /// closing an in-place version and judging its mapping: the file's image is shared by every
    /// open of its path, so a mapping left by a newer open must not count as a pin.
    pub(crate) in_place: Arc<Mutex<()>>,
    counters: Arc<Counters>,
    next_id: AtomicU64,
    /// `None` only while dropping.
    reaper: Option<Sender<Job>>,
    reaper_thread: Option<JoinHandle<()>>,
}

impl Loader {
    /// Prepares the runtime directory (see [`LoaderConfig::new`]) and starts the reaper thread.
    ///
    /// The runtime directory is created (0700) if missing, must be writable and on a filesystem
    /// that allows executable mappings, and is locked against other loaders; version directories
    /// an earlier run left in it are removed.
    ///
    /// # Errors
    ///
    /// [`Error::RuntimeRoot`] when the runtime directory is unusable, saying why.
    pub fn new(config: LoaderConfig) -> Result<Loader, Error> {
        let (root, swept) = RuntimeRoot::prepare(&config.runtime_root)?;
        let registry = Arc::new(Mutex::new(Registry::default()));
        let counters = Arc::new(Counters::default());
        counters.swept.store(swept as u64, Ordering::Relaxed);
        let in_place = Arc::new(Mutex::new(()));
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("hookyard-dso-reaper".into())
            .spawn({
                let registry = Arc::clone(&registry);
                let counters = Arc::clone(&counters);
                let in_place = Arc::clone(&in_place);
                move || reaper::run(rx, registry, counters, in_place)
            })
            .map_err(|e| {
                Error::runtime_root(root.path(), "its reaper thread cannot start", Some(e))
            })?;
        info!(runtime = %root.path().display(), mode = ?config.mode, swept, "plugin loader ready");
        Ok(Loader {
            shared: Arc::new(Shared {
                root,
                search_dirs: config.search_dirs,
                mode: config.mode,
                registry,
                load_lock: Mutex::new(()),
                in_place,
                counters,
                next_id: AtomicU64::new(1),
                reaper: Some(tx),
                reaper_thread: Some(thread),
            }),
        })
    }

    /// The canonical runtime directory.
    pub fn runtime_root(&self) -> &Path {
        self.shared.root.path()
    }

    /// The reload mode.
    pub fn mode(&self) -> ReloadMode {
        self.shared.mode
    }

    /// Resolves a plugin path to its canonical path, its identity: an absolute path as given, a
    /// relative one in the first search directory that has it.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] naming the path and every directory searched.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, Error> {
        let not_found = |searched: &[PathBuf]| Error::NotFound {
            path: path.to_owned(),
            searched: searched.to_vec(),
        };
        if path.is_absolute() {
            return fs::canonicalize(path).map_err(|_| not_found(&[]));
        }
        self.shared
            .search_dirs
            .iter()
            .find_map(|dir| fs::canonicalize(dir.join(path)).ok())
            .ok_or_else(|| not_found(&self.shared.search_dirs))
    }

    /// Returns the loaded version of the plugin at `path`, loading a new one if the file changed.
    ///
    /// In [`ReloadMode::Dynamic`], a file whose fingerprint (or else content) matches a live
    /// version gets that version; otherwise it is copied into a new runtime directory and opened
    /// from there with `RTLD_NOW | RTLD_LOCAL`. In [`ReloadMode::Static`] the file is opened in
    /// place, and while one version of it is live that version is returned.
    ///
    /// Loading runs the plugin's initialisers: only load files the operator configured.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`], [`Error::NotRegularFile`], [`Error::Read`], [`Error::Copy`],
    /// [`Error::Unstable`], [`Error::InvalidElf`] (checked before the dynamic loader sees the
    /// file) or [`Error::Open`]. No copy is left behind after a failure.
    pub fn load(&self, path: &Path) -> Result<Library, Error> {
        let result = self.resolve(path).and_then(|canonical| self.load_canonical(canonical));
        let counters = &self.shared.counters;
        match &result {
            Ok(_) => {}
            Err(e) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                warn!(plugin = %path.display(), error = %e, "plugin failed to load");
            }
        }
        result
    }

    fn load_canonical(&self, path: PathBuf) -> Result<Library, Error> {
        let shared = &self.shared;
        let _serial = shared.load_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let file =
            File::open(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
        let meta = file.metadata().map_err(|source| Error::Read { path: path.clone(), source })?;
        if !meta.is_file() {
            return Err(Error::NotRegularFile { path });
        }
        let stat = FileStat::of(&meta);
        {
            let registry = lock(&shared.registry);
            let found = match shared.mode {
                ReloadMode::Dynamic => registry.find_by_stat(&path, &stat),
                ReloadMode::Static => registry.find_any(&path),
            };
            if let Some(library) = found {
                return Ok(self.reused(library));
            }
        }
        match shared.mode {
            ReloadMode::Dynamic => self.load_copy(path, file, stat),
            ReloadMode::Static => self.load_in_place(path, file, stat),
        }
    }

    fn load_copy(&self, path: PathBuf, mut file: File, stat: FileStat) -> Result<Library, Error> {
        let shared = &self.shared;
        let file_name = path.file_name().unwrap_or(path.as_os_str()).to_owned();
        let dir = shared.root.new_version_dir().map_err(|source| Error::Copy {
            path: path.clone(),
            runtime: shared.root.path().to_owned(),
            source,
        })?;
        // From here on, every failure removes `dir`.
        let runtime = dir.join(file_name);
        let copied = fingerprint::copy_hashed(&mut file, &runtime);
        let content = match copied {
            Ok(content) => content,
            Err(CopyError::Read(source)) => {
                return Err(discard(&dir, Error::Read { path, source }));
            }
            Err(CopyError::Write(source)) => {
                return Err(discard(&dir, Error::Copy { path, runtime, source }));
            }
        };
        let still = file.metadata().map(|m| FileStat::of(&m)).ok();
        if still != Some(stat) {
            return Err(discard(&dir, Error::Unstable { path }));
        }
        if let Some(library) = lock(&shared.registry).find_by_content(&path, content, stat) {
            debug!(plugin = %path.display(), "file changed but its content did not: reusing the loaded version");
            let _ = fs::remove_dir_all(&dir);
            return Ok(self.reused(library));
        }
        if let Err(err) = check_elf(&path, &runtime) {
            return Err(discard(&dir, err));
        }
        // SAFETY: the operator configured this plugin; loading it runs its initialisers by design.
        let handle = match unsafe { sys::Handle::open(&runtime) } {
            Ok(handle) => handle,
            Err(message) => return Err(discard(&dir, Error::Open { path, message })),
        };
        Ok(self.register(path, runtime, Some(dir), Fingerprint { stat, content }, handle))
    }

    fn load_in_place(
        &self,
        path: PathBuf,
        mut file: File,
        stat: FileStat,
    ) -> Result<Library, Error> {
        // A released version of this file may still be closing: opening the same path before
        // that `dlclose` would return the old image and make the reaper report it pinned. Its
        // close was queued before it showed as unloading (`Library::drop`), so one flush waits
        // for it.
        if lock(&self.shared.registry).is_unloading(&path) {
            self.flush_unloads();
        }
        elf::check_file(&file, stat.size, elf::Host::current())
            .map_err(|invalid| invalid_elf(&path, invalid))?;
        let content = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| fingerprint::hash(&mut file))
            .map_err(|source| Error::Read { path: path.clone(), source })?;
        let _in_place = self.shared.in_place.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: the operator configured this plugin; loading it runs its initialisers by design.
        let handle = unsafe { sys::Handle::open(&path) }
            .map_err(|message| Error::Open { path: path.clone(), message })?;
        Ok(self.register(path.clone(), path, None, Fingerprint { stat, content }, handle))
    }

    fn register(
        &self,
        path: PathBuf,
        runtime: PathBuf,
        copy_dir: Option<PathBuf>,
        fingerprint: Fingerprint,
        handle: sys::Handle,
    ) -> Library {
        let shared = &self.shared;
        let id = VersionId(shared.next_id.fetch_add(1, Ordering::Relaxed));
        info!(plugin = %path.display(), version = id.get(), runtime = %runtime.display(),
            fingerprint = %fingerprint, "plugin version loaded");
        let version = Arc::new(Version::new(
            id,
            path,
            runtime,
            copy_dir,
            fingerprint,
            handle,
            Arc::clone(shared),
        ));
        lock(&shared.registry).insert(&version);
        shared.counters.loaded.fetch_add(1, Ordering::Relaxed);
        Library::new(version)
    }

    fn reused(&self, library: Library) -> Library {
        self.shared.counters.reused.fetch_add(1, Ordering::Relaxed);
        debug!(plugin = %library.path().display(), version = library.id().get(), "plugin version reused");
        library
    }

    /// Every version this loader knows: live, unloading, or pinned; ordered by id.
    pub fn snapshot(&self) -> Vec<VersionInfo> {
        lock(&self.shared.registry).snapshot()
    }

    /// What this loader did so far.
    pub fn stats(&self) -> LoaderStats {
        let c = &self.shared.counters;
        LoaderStats {
            loaded: c.loaded.load(Ordering::Relaxed),
            reused: c.reused.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            unloaded: c.unloaded.load(Ordering::Relaxed),
            pinned: c.pinned.load(Ordering::Relaxed),
            swept: c.swept.load(Ordering::Relaxed),
        }
    }

    /// Blocks until every version released before this call has been closed and verified.
    pub fn flush_unloads(&self) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self.shared.send(Job::Flush(tx)) {
            let _ = rx.recv();
        }
    }
}

impl Shared {
    fn send(&self, job: Job) -> bool {
        self.reaper.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }

    /// Hands a released version to the reaper thread (or closes it here if the thread is gone).
    pub(crate) fn reap(&self, unload: Unload) {
        if let Err(unload) = self.queue(unload) {
            self.reap_here(unload);
        }
    }

    /// Queues a released version for the reaper thread; gives it back if the thread is gone.
    /// Never blocks, so it may be called with the registry locked.
    pub(crate) fn queue(&self, unload: Unload) -> Result<(), Unload> {
        let Some(tx) = &self.reaper else { return Ok(()) };
        match tx.send(Job::Unload(unload)) {
            Ok(()) => Ok(()),
            Err(crossbeam_channel::SendError(Job::Unload(unload))) => Err(unload),
            Err(crossbeam_channel::SendError(Job::Flush(_))) => Ok(()),
        }
    }

    /// Closes and judges a released version on the calling thread. Takes the registry lock.
    pub(crate) fn reap_here(&self, unload: Unload) {
        let id = unload.id;
        let pinned = reaper::reap(unload, &self.counters, &self.registry, &self.in_place);
        lock(&self.registry).reaped(id, pinned);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the channel lets the reaper finish the queued unloads and exit.
        drop(self.reaper.take());
        if let Some(thread) = self.reaper_thread.take() {
            let _ = thread.join();
        }
    }
}

/// Checks the file the dynamic loader is about to map (`runtime`, the copy or the file itself).
fn check_elf(path: &Path, runtime: &Path) -> Result<(), Error> {
    let read = |source| Error::Read { path: runtime.to_owned(), source };
    let file = File::open(runtime).map_err(read)?;
    let len = file.metadata().map_err(read)?.len();
    elf::check_file(&file, len, elf::Host::current()).map_err(|invalid| invalid_elf(path, invalid))
}

fn invalid_elf(path: &Path, invalid: elf::Invalid) -> Error {
    match invalid {
        elf::Invalid::Refused(reason) => Error::InvalidElf { path: path.to_owned(), reason },
        elf::Invalid::Io(source) => Error::Read { path: path.to_owned(), source },
    }
}

/// Removes a failed load's version directory, returning the load's error.
fn discard(dir: &Path, err: Error) -> Error {
    if let Err(e) = fs::remove_dir_all(dir)
        && e.kind() != io::ErrorKind::NotFound
    {
        warn!(dir = %dir.display(), error = %e, "cannot remove a failed load's runtime copy");
    }
    err
}
