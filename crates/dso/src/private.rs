//! Private directories: created without following symbolic links, and trusted only when they are
//! real directories owned by this process's effective user and writable by nobody else.
//!
//! A predictable directory under a shared temporary directory can be created first by another
//! local user; using it as found would let that user replace what the loader writes there (its
//! lock file, plugin copies) or what a server binds there (a control socket).

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::sys;

/// Why a directory is refused: the directory, the reason, and the system's error if any.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) path: PathBuf,
    pub(crate) reason: String,
    pub(crate) source: Option<io::Error>,
}

impl Refusal {
    fn new(path: &Path, reason: impl Into<String>, source: Option<io::Error>) -> Refusal {
        Refusal { path: path.to_owned(), reason: reason.into(), source }
    }
}

/// Creates the directory `path` (mode 0700), and every missing directory above it, or verifies
/// the one already there, so that only the effective user can change what it holds.
///
/// Each directory this call creates, and `path` itself whether created or found, must be a real
/// directory (a symbolic link is refused, never followed), owned by the effective user, and not
/// writable by its group or others. Directories above `path` that already exist are used as they
/// are.
///
/// # Errors
///
/// [`Error::NotPrivate`] naming the directory and why: it cannot be created, is a symbolic link
/// or not a directory, is owned by another user (with both uids), or is writable by its group or
/// others (with its mode).
///
/// # Examples
///
/// ```no_run
/// let socket_dir = std::path::Path::new("/run/user/1000/hookyard");
/// hookyard_dso::ensure_private_dir(socket_dir)?;
/// # Ok::<(), hookyard_dso::Error>(())
/// ```
pub fn ensure_private_dir(path: &Path) -> Result<(), Error> {
    ensure(path).map_err(|r| Error::NotPrivate { path: r.path, reason: r.reason, source: r.source })
}

/// As [`ensure_private_dir`], with the refusal for the caller to word.
pub(crate) fn ensure(path: &Path) -> Result<(), Refusal> {
    // The missing directories, deepest first.
    let mut missing = Vec::new();
    let mut current = path;
    loop {
        match fs::symlink_metadata(current) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(current);
                match current.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => current = parent,
                    _ => break,
                }
            }
            Err(e) => return Err(Refusal::new(current, "it cannot be created", Some(e))),
        }
    }
    if missing.is_empty() {
        return verify(path);
    }
    for dir in missing.into_iter().rev() {
        // `mkdir` never follows a symbolic link in the last component: one planted meanwhile
        // makes it fail with `AlreadyExists`, and `verify` then refuses it.
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Refusal::new(dir, "it cannot be created", Some(e))),
        }
        verify(dir)?;
    }
    Ok(())
}

/// Checks, without following a symbolic link, that `dir` is a directory owned by the effective
/// user and not writable by its group or others.
pub(crate) fn verify(dir: &Path) -> Result<(), Refusal> {
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| Refusal::new(dir, "it cannot be inspected", Some(e)))?;
    if meta.file_type().is_symlink() {
        return Err(Refusal::new(
            dir,
            "it is a symbolic link, not a directory; remove it or choose another directory",
            None,
        ));
    }
    if !meta.is_dir() {
        return Err(Refusal::new(dir, "it is not a directory", None));
    }
    let euid = sys::effective_uid();
    if meta.uid() != euid {
        return Err(Refusal::new(
            dir,
            format!(
                "it is owned by uid {}, not by this process's effective uid {euid}, so another \
                 user controls it; remove it or choose another directory",
                meta.uid()
            ),
            None,
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Refusal::new(
            dir,
            format!(
                "it is writable by its group or others (mode {mode:04o}); make it 0700 or choose \
                 another directory"
            ),
            None,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn missing_directories_are_created_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/c");
        ensure_private_dir(&dir).unwrap();
        for d in [tmp.path().join("a"), tmp.path().join("a/b"), dir.clone()] {
            assert_eq!(fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700, "{d:?}");
        }
        // Verifying an existing private directory succeeds.
        ensure_private_dir(&dir).unwrap();
    }

    #[test]
    fn a_group_or_other_writable_directory_is_refused_with_its_mode() {
        let tmp = tempfile::tempdir().unwrap();
        for mode in [0o777, 0o770, 0o1777, 0o702] {
            let dir = tmp.path().join(format!("d{mode:o}"));
            fs::create_dir(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let err = ensure_private_dir(&dir).unwrap_err().to_string();
            assert!(err.contains(&format!("mode {mode:04o}")), "{err}");
            assert!(err.contains(&dir.display().to_string()), "{err}");
        }
    }

    #[test]
    fn a_symbolic_link_is_refused_even_to_a_private_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        fs::create_dir(&target).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = ensure_private_dir(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        // A link to a missing target is refused too, and nothing is created through it.
        let dangling = tmp.path().join("dangling");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
        let err = ensure_private_dir(&dangling).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!tmp.path().join("nowhere").exists());
    }
}
