//! What identifies one version of a plugin file, and the copy that records it.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::hash::{DefaultHasher, Hasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::SystemTime;

/// The identity of one version of a plugin file: where it lives on disk, its size and times, and
/// a hash of its content.
///
/// Two loads see the same version when the file's device, inode, size, modification time and
/// status-change time are unchanged. The status-change time catches a rewrite that restored the
/// old modification time (ATS, which compares modification times only, reuses the old code then).
/// When those differ but the content hash equals that of a loaded version, that version is reused:
/// touching a file does not load a second copy of the same code.
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub(crate) stat: FileStat,
    pub(crate) content: u64,
}

impl Fingerprint {
    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.stat.size
    }

    /// The file's inode number.
    pub fn inode(&self) -> u64 {
        self.stat.inode
    }

    /// The file's last modification time.
    pub fn modified(&self) -> SystemTime {
        self.stat.modified
    }

    /// A 64-bit hash of the file's content, stable within one process.
    pub fn content_hash(&self) -> u64 {
        self.content
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fingerprint")
            .field("device", &self.stat.device)
            .field("inode", &self.stat.inode)
            .field("size", &self.stat.size)
            .field("modified", &self.stat.modified)
            .field("content", &format_args!("{:016x}", self.content))
            .finish()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inode {} size {} content {:016x}", self.stat.inode, self.stat.size, self.content)
    }
}

/// The metadata part of a fingerprint: cheap to read with one `stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileStat {
    device: u64,
    inode: u64,
    pub(crate) size: u64,
    modified: SystemTime,
    changed: (i64, i64),
}

impl FileStat {
    pub(crate) fn of(meta: &Metadata) -> FileStat {
        FileStat {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Where a copy stopped.
#[derive(Debug)]
pub(crate) enum CopyError {
    /// Reading the source failed.
    Read(io::Error),
    /// Creating or writing the destination failed.
    Write(io::Error),
}

/// Reads `src` from its current position to the end, writing every byte to a new file `dst`
/// (created readable and executable by its owner only) and returning the content hash.
///
/// `dst` must not exist: the copy is always a new inode, never a link, because the dynamic loader
/// recognises an already-loaded library by its inode.
pub(crate) fn copy_hashed(src: &mut File, dst: &Path) -> Result<u64, CopyError> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o500)
        .open(dst)
        .map_err(CopyError::Write)?;
    let hash = stream(src, |chunk| out.write_all(chunk).map_err(CopyError::Write))?;
    out.flush().map_err(CopyError::Write)?;
    Ok(hash)
}

/// Hashes `src` from its current position to the end.
pub(crate) fn hash(src: &mut File) -> io::Result<u64> {
    stream(src, |_| Ok(())).map_err(|err| match err {
        CopyError::Read(e) | CopyError::Write(e) => e,
    })
}

fn stream(
    src: &mut File,
    mut sink: impl FnMut(&[u8]) -> Result<(), CopyError>,
) -> Result<u64, CopyError> {
    let mut hasher = DefaultHasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.write(&buf[..n]);
        sink(&buf[..n])?;
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::{Seek, SeekFrom};

    use super::*;

    #[test]
    fn copy_is_byte_identical_new_inode_and_hash_matches() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("src.so");
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&src_path, &content).unwrap();

        let mut src = File::open(&src_path).unwrap();
        let dst = dir.path().join("dst.so");
        let copied = copy_hashed(&mut src, &dst).unwrap();

        assert_eq!(fs::read(&dst).unwrap(), content);
        let (a, b) = (fs::metadata(&src_path).unwrap(), fs::metadata(&dst).unwrap());
        assert_ne!(a.ino(), b.ino());
        assert_eq!(b.mode() & 0o777, 0o500);

        src.seek(SeekFrom::Start(0)).unwrap();
        assert_eq!(hash(&mut src).unwrap(), copied);
        fs::write(&src_path, b"other").unwrap();
        assert_ne!(hash(&mut File::open(&src_path).unwrap()).unwrap(), copied);
    }

    #[test]
    fn copy_refuses_an_existing_destination() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("src.so");
        fs::write(&src_path, b"abc").unwrap();
        let dst = dir.path().join("dst.so");
        fs::write(&dst, b"old").unwrap();
        let err = copy_hashed(&mut File::open(&src_path).unwrap(), &dst).unwrap_err();
        assert!(matches!(err, CopyError::Write(e) if e.kind() == io::ErrorKind::AlreadyExists));
    }

    #[test]
    fn stat_sees_a_rewrite_that_restores_the_modification_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.so");
        fs::write(&path, b"version one").unwrap();
        let before = fs::metadata(&path).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&path, b"version two").unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(before.modified().unwrap())
            .unwrap();
        let after = fs::metadata(&path).unwrap();
        assert_eq!(after.modified().unwrap(), before.modified().unwrap());
        assert_ne!(FileStat::of(&before), FileStat::of(&after));
    }
}
