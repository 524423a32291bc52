//! The reaper thread: closes released versions, verifies they are unmapped, removes their copies.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use tracing::{info, warn};

use crate::library::VersionId;
use crate::loader::Counters;
use crate::registry::{PinReason, Registry, lock};
use crate::sys;

/// A released version's handle and where its copy lives.
pub(crate) struct Unload {
    pub(crate) id: VersionId,
    pub(crate) path: PathBuf,
    pub(crate) runtime_path: PathBuf,
    pub(crate) copy_dir: Option<PathBuf>,
    pub(crate) declared_pinned: bool,
    pub(crate) handle: sys::Handle,
}

pub(crate) enum Job {
    Unload(Unload),
    /// Answered once every job sent before it is done.
    Flush(Sender<()>),
}

/// Runs until every sender is gone, then returns.
pub(crate) fn run(
    jobs: Receiver<Job>,
    registry: Arc<Mutex<Registry>>,
    counters: Arc<Counters>,
    in_place: Arc<Mutex<()>>,
) {
    for job in jobs {
        match job {
            Job::Flush(done) => {
                let _ = done.send(());
            }
            Job::Unload(unload) => {
                let id = unload.id;
                let pinned = reap(unload, &counters, &registry, &in_place);
                lock(&registry).reaped(id, pinned);
            }
        }
    }
}

/// Closes one version; returns why it stays mapped, or `None` once it is gone.
pub(crate) fn reap(
    unload: Unload,
    counters: &Counters,
    registry: &Mutex<Registry>,
    in_place: &Mutex<()>,
) -> Option<PinReason> {
    let started = Instant::now();
    let Unload { id, path, runtime_path, copy_dir, declared_pinned, handle } = unload;
    // An in-place version shares its image with any newer open of the same path: judge its
    // mapping with such opens held off (see `Shared::in_place`).
    let _in_place =
        copy_dir.is_none().then(|| in_place.lock().unwrap_or_else(PoisonError::into_inner));
    if let Err(message) = handle.close() {
        warn!(plugin = %path.display(), version = id.get(), error = %message, "dlclose failed");
    }
    let mapped = match sys::is_mapped(&runtime_path) {
        Ok(mapped) => mapped,
        Err(e) => {
            warn!(error = %e, "cannot read /proc/self/maps; asking the dynamic loader instead");
            false
        }
    };
    let shared_image = copy_dir.is_none() && lock(registry).has_live(&runtime_path);
    if !shared_image && (mapped || sys::is_loaded(&runtime_path)) {
        counters.pinned.fetch_add(1, Ordering::Relaxed);
        if declared_pinned {
            info!(plugin = %path.display(), version = id.get(), runtime = %runtime_path.display(),
                "plugin version released; it declared it cannot unload, so it stays mapped");
            return Some(PinReason::Declared);
        }
        warn!(plugin = %path.display(), version = id.get(), runtime = %runtime_path.display(),
            "plugin version released but still mapped (a thread-local destructor or unique symbol \
             pins it); its copy stays");
        return Some(PinReason::StillMapped);
    }
    if let Some(dir) = copy_dir
        && let Err(e) = fs::remove_dir_all(&dir)
    {
        warn!(dir = %dir.display(), error = %e, "cannot remove an unloaded plugin's runtime copy");
    }
    counters.unloaded.fetch_add(1, Ordering::Relaxed);
    info!(plugin = %path.display(), version = id.get(), micros = started.elapsed().as_micros() as u64,
        "plugin version unloaded");
    None
}
