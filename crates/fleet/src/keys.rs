//! Where a cluster's data lives in etcd, all under `/hookyard/<cluster>/`.
//!
//! - `head`: the newest revision number (the counter every publish advances);
//! - `rev/<number>`: a revision's [`Manifest`](crate::Manifest), JSON;
//! - `blob/<sha256>/<chunk>`: file contents, content-addressed, in chunks of at most
//!   [`CHUNK`] bytes;
//! - `stable`: the revision every node serves unless a canary is meant for it;
//! - `canary`: a [`Canary`](crate::Canary): a revision for the nodes with one label;
//! - `node/<name>`: a node's [`NodeStatus`](crate::NodeStatus), under the node's lease.

/// The largest chunk of a file stored under one key: well under etcd's default request limit
/// (1.5 MiB), so that one chunk always fits.
pub const CHUNK: usize = 512 * 1024;

/// The prefix of every key of `cluster`.
pub fn prefix(cluster: &str) -> String {
    format!("/hookyard/{cluster}/")
}

pub(crate) fn head(cluster: &str) -> String {
    format!("{}head", prefix(cluster))
}

pub(crate) fn stable(cluster: &str) -> String {
    format!("{}stable", prefix(cluster))
}

pub(crate) fn canary(cluster: &str) -> String {
    format!("{}canary", prefix(cluster))
}

pub(crate) fn revision(cluster: &str, number: u64) -> String {
    format!("{}rev/{number:020}", prefix(cluster))
}

pub(crate) fn chunk(cluster: &str, sha256: &str, index: usize) -> String {
    format!("{}blob/{sha256}/{index:06}", prefix(cluster))
}

pub(crate) fn nodes(cluster: &str) -> String {
    format!("{}node/", prefix(cluster))
}

pub(crate) fn node(cluster: &str, name: &str) -> String {
    format!("{}{name}", nodes(cluster))
}

/// Whether a cluster name can be part of a key: letters, digits, `-`, `_`, `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
