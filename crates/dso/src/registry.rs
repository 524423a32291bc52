//! The one registry of loaded versions, keyed by canonical path and fingerprint.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::SystemTime;

use crate::fingerprint::{FileStat, Fingerprint};
use crate::library::{Library, Version, VersionId};

/// Where a version is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionState {
    /// Loaded and handed out to users.
    Live,
    /// Released by its last user; the reaper is closing it.
    Unloading,
    /// Closed, but the dynamic loader keeps it mapped; its runtime copy stays on disk.
    Pinned(PinReason),
}

/// Why a version stays mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinReason {
    /// The plugin declared that it cannot unload ([`Library::pin`]).
    Declared,
    /// `dlclose` returned but the library is still mapped (it registered a thread-local
    /// destructor, exports a unique symbol, or was opened elsewhere too).
    StillMapped,
}

/// A snapshot of one version, for the control channel.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VersionInfo {
    /// The version's id within its loader.
    pub id: VersionId,
    /// The canonical path of the plugin file.
    pub path: PathBuf,
    /// The file the dynamic loader mapped.
    pub runtime_path: PathBuf,
    /// The file's fingerprint when loaded.
    pub fingerprint: Fingerprint,
    /// Handles that keep the version loaded (0 once released).
    pub references: usize,
    /// When the version was loaded.
    pub loaded_at: SystemTime,
    /// Where the version is in its life.
    pub state: VersionState,
}

impl VersionInfo {
    fn of(version: &Arc<Version>, references: usize, state: VersionState) -> VersionInfo {
        VersionInfo {
            id: version.id,
            path: version.path.clone(),
            runtime_path: version.runtime_path.clone(),
            fingerprint: version.fingerprint.clone(),
            references,
            loaded_at: version.loaded_at,
            state,
        }
    }
}

struct LiveEntry {
    version: Weak<Version>,
    /// Every file stat seen to carry this version's content (the load's, then touches).
    stats: Vec<FileStat>,
}

/// Live versions by canonical path, and released versions until they are gone.
///
/// A live entry's version has at least one [`Library`] handle: a handle's drop removes the entry
/// under this registry's lock when it releases the last reference, so every `Weak` here upgrades.
#[derive(Default)]
pub(crate) struct Registry {
    live: HashMap<PathBuf, Vec<LiveEntry>>,
    released: BTreeMap<VersionId, VersionInfo>,
}

/// Locks a registry, ignoring poisoning: its invariants hold between statements.
pub(crate) fn lock(registry: &Mutex<Registry>) -> MutexGuard<'_, Registry> {
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Registry {
    /// A live, reusable version of `path` whose file stat is `stat`.
    pub(crate) fn find_by_stat(&self, path: &Path, stat: &FileStat) -> Option<Library> {
        self.entries(path)
            .filter(|e| reusable(e))
            .find(|e| e.stats.contains(stat))
            .and_then(upgrade)
    }

    /// A live, reusable version of `path` with this content; `stat` is remembered as another
    /// stat of it.
    pub(crate) fn find_by_content(
        &mut self,
        path: &Path,
        content: u64,
        stat: FileStat,
    ) -> Option<Library> {
        let entry = self.live.get_mut(path)?.iter_mut().find(|e| {
            e.version.upgrade().is_some_and(|v| {
                v.fingerprint.content == content && v.reusable.load(Ordering::Acquire)
            })
        })?;
        if !entry.stats.contains(&stat) {
            entry.stats.push(stat);
        }
        upgrade(entry)
    }

    /// Any live version of `path` (static mode loads at most one).
    pub(crate) fn find_any(&self, path: &Path) -> Option<Library> {
        self.entries(path).find_map(upgrade)
    }

    /// Whether a version of `path` is live (for an in-place version, its own file). Counts
    /// handles without taking one: dropping a last handle here would re-enter the registry.
    pub(crate) fn has_live(&self, path: &Path) -> bool {
        self.live
            .get(path)
            .is_some_and(|entries| entries.iter().any(|e| e.version.strong_count() > 0))
    }

    /// Whether a released version of `path` is still being closed.
    pub(crate) fn is_unloading(&self, path: &Path) -> bool {
        self.released.values().any(|v| v.path == path && v.state == VersionState::Unloading)
    }

    pub(crate) fn insert(&mut self, version: &Arc<Version>) {
        self.live.entry(version.path.clone()).or_default().push(LiveEntry {
            version: Arc::downgrade(version),
            stats: vec![version.fingerprint.stat],
        });
    }

    /// Moves a version whose last handle is going from live to released (unloading).
    pub(crate) fn retire(&mut self, version: &Arc<Version>) {
        if let Some(entries) = self.live.get_mut(&version.path) {
            entries.retain(|e| !std::ptr::eq(e.version.as_ptr(), Arc::as_ptr(version)));
            if entries.is_empty() {
                self.live.remove(&version.path);
            }
        }
        self.released.insert(version.id, VersionInfo::of(version, 0, VersionState::Unloading));
    }

    /// Records what the reaper found: gone (`None`) or pinned.
    pub(crate) fn reaped(&mut self, id: VersionId, pinned: Option<PinReason>) {
        match pinned {
            None => {
                self.released.remove(&id);
            }
            Some(reason) => {
                if let Some(info) = self.released.get_mut(&id) {
                    info.state = VersionState::Pinned(reason);
                }
            }
        }
    }

    /// Every live and released version, by id.
    pub(crate) fn snapshot(&self) -> Vec<VersionInfo> {
        let mut all: Vec<VersionInfo> = self
            .live
            .values()
            .flatten()
            .filter_map(|e| {
                let version = e.version.upgrade()?;
                // Minus the reference this snapshot holds.
                let references = Arc::strong_count(&version) - 1;
                Some(VersionInfo::of(&version, references, VersionState::Live))
            })
            .chain(self.released.values().cloned())
            .collect();
        all.sort_by_key(|v| v.id);
        all
    }

    fn entries(&self, path: &Path) -> impl Iterator<Item = &LiveEntry> {
        self.live.get(path).into_iter().flatten()
    }
}

/// Whether a load may return the entry's version (it was not withheld).
fn reusable(entry: &LiveEntry) -> bool {
    entry.version.upgrade().is_some_and(|v| v.reusable.load(Ordering::Acquire))
}

fn upgrade(entry: &LiveEntry) -> Option<Library> {
    entry.version.upgrade().map(Library::new)
}
