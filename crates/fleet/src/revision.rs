//! A revision: its manifest, and its files' contents stored and fetched in chunks.

use std::path::{Component, Path};

use etcd_client::Client;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Label, keys};

/// One published revision of a cluster's configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Its number (1, 2, ...; every publish, promote excepted, takes the next).
    pub number: u64,
    /// Its files: the configuration's and the plugins' it references.
    pub files: Vec<FileEntry>,
    /// The stable revision when it was published (what `rollback` returns to).
    pub previous: Option<u64>,
    /// How it came to be: `publish`, `publish --canary K=V`, `rollback of N to M`.
    pub origin: String,
    /// When, in seconds since the Unix epoch.
    pub published_at: u64,
}

/// One file of a revision.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Its path relative to the configuration directory (`/`-separated, no `..`).
    pub path: String,
    /// The SHA-256 of its content, lowercase hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it is executable (a plugin).
    pub executable: bool,
}

impl FileEntry {
    /// The number of chunks its content is stored in.
    pub fn chunks(&self) -> usize {
        usize::try_from(self.size).map_or(usize::MAX, |size| size.div_ceil(keys::CHUNK).max(1))
    }
}

/// A revision meant for the nodes with one label only.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Canary {
    /// The revision.
    pub revision: u64,
    /// The label a node must carry to serve it.
    pub label: Label,
}

/// The SHA-256 of `bytes`, lowercase hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `path` is a relative path that stays inside its directory.
pub(crate) fn safe_relative(path: &str) -> bool {
    !path.is_empty() && Path::new(path).components().all(|c| matches!(c, Component::Normal(_)))
}

/// Fetches a file's content from etcd and verifies its size and hash.
pub(crate) async fn fetch(
    client: &mut Client,
    cluster: &str,
    entry: &FileEntry,
) -> Result<Vec<u8>, Error> {
    let mut content = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
    for index in 0..entry.chunks() {
        let key = keys::chunk(cluster, &entry.sha256, index);
        let response = client
            .get(key.as_str(), None)
            .await
            .map_err(Error::etcd(format!("cannot read {key}")))?;
        let Some(kv) = response.kvs().first() else {
            return Err(Error::Corrupt(format!("{}: chunk {key} is missing", entry.path)));
        };
        content.extend_from_slice(kv.value());
    }
    verify(entry, &content)?;
    Ok(content)
}

/// Checks content against its entry's size and hash.
pub(crate) fn verify(entry: &FileEntry, content: &[u8]) -> Result<(), Error> {
    let actual = sha256(content);
    if content.len() as u64 != entry.size || actual != entry.sha256 {
        return Err(Error::Corrupt(format!(
            "{}: content does not match its manifest (sha256 {actual}, {} bytes; expected {}, \
             {} bytes)",
            entry.path,
            content.len(),
            entry.sha256,
            entry.size
        )));
    }
    Ok(())
}

/// Reads and parses the manifest of revision `number`.
pub(crate) async fn manifest(
    client: &mut Client,
    cluster: &str,
    number: u64,
) -> Result<Manifest, Error> {
    let key = keys::revision(cluster, number);
    let response =
        client.get(key.as_str(), None).await.map_err(Error::etcd(format!("cannot read {key}")))?;
    let Some(kv) = response.kvs().first() else {
        return Err(Error::Corrupt(format!("revision {number} does not exist ({key})")));
    };
    let manifest: Manifest = serde_json::from_slice(kv.value())
        .map_err(|e| Error::Corrupt(format!("{key}: not a revision manifest: {e}")))?;
    if let Some(bad) = manifest.files.iter().find(|f| !safe_relative(&f.path)) {
        return Err(Error::Corrupt(format!(
            "{key}: file path `{}` leaves its directory",
            bad.path
        )));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_size() {
        let entry =
            |size| FileEntry { path: "a".into(), sha256: String::new(), size, executable: false };
        assert_eq!(entry(0).chunks(), 1);
        assert_eq!(entry(1).chunks(), 1);
        assert_eq!(entry(keys::CHUNK as u64).chunks(), 1);
        assert_eq!(entry(keys::CHUNK as u64 + 1).chunks(), 2);
    }

    #[test]
    fn only_paths_inside_are_safe() {
        assert!(safe_relative("remap.config"));
        assert!(safe_relative("plugins/a.so"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "./a"] {
            assert!(!safe_relative(bad), "{bad}");
        }
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verify_refuses_other_content() {
        let entry =
            FileEntry { path: "a".into(), sha256: sha256(b"abc"), size: 3, executable: false };
        assert!(verify(&entry, b"abc").is_ok());
        let e = verify(&entry, b"abd").unwrap_err().to_string();
        assert!(e.starts_with("a: content does not match its manifest"), "{e}");
    }
}
