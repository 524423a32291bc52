//! The runtime directory that holds plugin copies: checked, locked and swept at start.

use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{debug, warn};
use uuid::Uuid;

use crate::error::Error;
use crate::{private, sys};

/// Whether plugin copies under `path` could not be mapped executable: the filesystem that holds
/// `path`, or its nearest existing ancestor when `path` does not exist yet, is mounted
/// `noexec`.
///
/// # Errors
///
/// No ancestor of `path` can be inspected.
pub fn mounted_noexec(path: &Path) -> io::Result<bool> {
    let mut at = path;
    loop {
        match sys::is_noexec(at) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => match at.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                _ => return Err(e),
            },
            other => return other,
        }
    }
}

/// The name of the lock file that keeps two loaders from sharing one runtime directory.
const LOCK_FILE: &str = ".hookyard-dso.lock";

/// A checked runtime directory, held exclusively by one loader for its lifetime.
#[derive(Debug)]
pub(crate) struct RuntimeRoot {
    path: PathBuf,
    /// Holds the advisory lock; released when the loader goes.
    _lock: File,
}

impl RuntimeRoot {
    /// Creates (0700) or opens `path`, verifies that it is private (see
    /// [`private::ensure`]), checks that plugin copies can be written and mapped
    /// executable there, takes the directory's lock and removes the version directories an
    /// earlier run left. Returns the root and how many directories were swept.
    pub(crate) fn prepare(path: &Path) -> Result<(RuntimeRoot, usize), Error> {
        private::ensure(path).map_err(refused)?;
        let path = fs::canonicalize(path)
            .map_err(|e| Error::runtime_root(path, "it cannot be resolved", Some(e)))?;
        // The last component is no symbolic link (checked above), so this is the same directory;
        // verify what the rest of the process will use.
        private::verify(&path).map_err(refused)?;
        let lock = take_lock(&path)?;
        check_writable(&path)?;
        match sys::is_noexec(&path) {
            Ok(false) => {}
            Ok(true) => {
                return Err(Error::runtime_root(
                    &path,
                    "its filesystem is mounted noexec, so plugin copies could not be mapped \
                     executable; choose a runtime directory on a filesystem that allows exec",
                    None,
                ));
            }
            Err(e) => {
                return Err(Error::runtime_root(
                    &path,
                    "its filesystem cannot be inspected",
                    Some(e),
                ));
            }
        }
        let swept = sweep(&path);
        Ok((RuntimeRoot { path, _lock: lock }, swept))
    }

    /// The canonical path of the directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a new, empty, uniquely named directory (0700) for one version's copy.
    pub(crate) fn new_version_dir(&self) -> std::io::Result<PathBuf> {
        let dir = self.path.join(Uuid::new_v4().hyphenated().to_string());
        DirBuilder::new().mode(0o700).create(&dir)?;
        private::verify(&dir).map_err(|r| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("version directory `{}`: {}", r.path.display(), r.reason),
            )
        })?;
        Ok(dir)
    }
}

fn refused(r: private::Refusal) -> Error {
    Error::RuntimeRoot { path: r.path, reason: r.reason, source: r.source }
}

fn take_lock(root: &Path) -> Result<File, Error> {
    let lock_path = root.join(LOCK_FILE);
    // Never through a symbolic link, and never truncated on open: only once it is known to be
    // this user's own regular file, locked by this loader.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&lock_path)
        .map_err(|e| {
            let reason = if e.raw_os_error() == Some(libc::ELOOP) {
                format!("its lock file `{LOCK_FILE}` is a symbolic link; remove it")
            } else {
                format!("its lock file `{LOCK_FILE}` cannot be created; is it writable?")
            };
            Error::runtime_root(root, reason, Some(e))
        })?;
    let meta = file.metadata().map_err(|e| {
        Error::runtime_root(
            root,
            format!("its lock file `{LOCK_FILE}` cannot be inspected"),
            Some(e),
        )
    })?;
    let euid = sys::effective_uid();
    if !meta.is_file() || meta.uid() != euid || meta.nlink() != 1 {
        return Err(Error::runtime_root(
            root,
            format!(
                "its lock file `{LOCK_FILE}` is not this user's own file (owner uid {}, effective \
                 uid {euid}, {} link(s), regular file: {}); remove it",
                meta.uid(),
                meta.nlink(),
                meta.is_file()
            ),
            None,
        ));
    }
    match try_lock_patiently(&file) {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Error::runtime_root(
                root,
                format!(
                    "another loader holds it (process {}); give each proxy its own runtime directory",
                    if holder.is_empty() { "unknown" } else { holder }
                ),
                None,
            ));
        }
        Err(TryLockError::Error(e)) => {
            return Err(Error::runtime_root(root, "its lock file cannot be locked", Some(e)));
        }
    }
    // Best effort: the pid only helps an operator find the holder.
    let _ = file.set_len(0).and_then(|()| write!(file, "{}", std::process::id()));
    Ok(file)
}

/// How long a lock held by someone else is waited for before it counts as another loader's.
const LOCK_PATIENCE: Duration = Duration::from_millis(250);

/// `file.try_lock()`, tried again for [`LOCK_PATIENCE`]: a process forked by another thread of
/// this one holds a copy of every descriptor (and so the lock of a loader that was just dropped)
/// until it `exec`s, a few milliseconds at most.
fn try_lock_patiently(file: &File) -> Result<(), TryLockError> {
    let deadline = Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn check_writable(root: &Path) -> Result<(), Error> {
    let probe = root.join(format!(".probe-{}", Uuid::new_v4().simple()));
    DirBuilder::new()
        .mode(0o700)
        .create(&probe)
        .and_then(|()| fs::remove_dir(&probe))
        .map_err(|e| Error::runtime_root(root, "it is not writable", Some(e)))
}

/// Removes every version directory (named by a UUID) under `root`; other entries are left alone.
fn sweep(root: &Path) -> usize {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) => {
            warn!(root = %root.display(), error = %e, "cannot list the runtime directory to sweep it");
            return 0;
        }
    };
    let mut swept = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_version_dir = name.to_str().is_some_and(|n| Uuid::try_parse(n).is_ok())
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_version_dir {
            continue;
        }
        match fs::remove_dir_all(entry.path()) {
            Ok(()) => {
                debug!(dir = %entry.path().display(), "swept a stale plugin runtime directory");
                swept += 1;
            }
            Err(e) => {
                warn!(dir = %entry.path().display(), error = %e, "cannot sweep a stale plugin runtime directory");
            }
        }
    }
    swept
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn prepare_creates_0700_and_sweeps_only_version_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a/b/runtime");
        let (first, swept) = RuntimeRoot::prepare(&root).unwrap();
        assert_eq!(swept, 0);
        assert_eq!(fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
        let stale = first.new_version_dir().unwrap();
        fs::write(stale.join("p.so"), b"x").unwrap();
        fs::create_dir(root.join("keep-me")).unwrap();
        fs::create_dir(root.join("not-a-uuid-but-has-4-dashes")).unwrap();
        drop(first);

        let (_second, swept) = RuntimeRoot::prepare(&root).unwrap();
        assert_eq!(swept, 1);
        assert!(!stale.exists());
        assert!(root.join("keep-me").is_dir());
        assert!(root.join("not-a-uuid-but-has-4-dashes").is_dir());
    }

    #[test]
    fn a_second_loader_on_the_same_root_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (_first, _) = RuntimeRoot::prepare(tmp.path()).unwrap();
        let err = RuntimeRoot::prepare(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("another loader holds it"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
    }

    #[test]
    fn a_file_is_not_a_runtime_root() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, b"").unwrap();
        let err = RuntimeRoot::prepare(&file).unwrap_err().to_string();
        assert!(err.contains("it is not a directory"), "{err}");
    }
}
