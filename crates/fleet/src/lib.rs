//! A fleet of hookyard nodes configured through etcd (`docs/fleet.md`).
//!
//! It owns the layout of a cluster's keys in etcd ([`keys`]), a revision and its files
//! ([`Manifest`]: every file content-addressed by SHA-256, stored in chunks), the operator's
//! side ([`publish()`], [`promote`], [`rollback`], [`status`]) and a node's side ([`Node`]:
//! the newest revision meant for the node, written into a local directory, verified, and
//! handed to its [`Host`] to serve; a status key under a lease; the last good revision kept on
//! disk for a start without etcd).
//!
//! It knows nothing of what the files mean: checking a configuration before it is published
//! and reloading one are the caller's (`hookyard-proxy`'s), through a list of files and the
//! [`Host`] trait. It depends on no workspace crate and has no `unsafe`.
#![forbid(unsafe_code)]

mod etcd;
pub mod keys;
mod node;
mod publish;
mod revision;

pub use etcd::EtcdOptions;
pub use node::{Host, Node, NodeOptions, NodeStatus, Refusal, leave};
pub use publish::{ClusterStatus, promote, publish, rollback, status};
pub use revision::{Canary, FileEntry, Manifest};

/// Why a fleet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// etcd could not be reached or answered with an error.
    #[error("etcd: {what}")]
    Etcd {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: etcd_client::Error,
    },
    /// A local file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// What etcd holds for the cluster is not what hookyard wrote there.
    #[error("{0}")]
    Corrupt(String),
    /// The operation is refused (nothing to promote, a refused canary, ...).
    #[error("{0}")]
    Refused(String),
}

impl Error {
    fn etcd(what: impl Into<String>) -> impl FnOnce(etcd_client::Error) -> Error {
        let what = what.into();
        move |source| Error::Etcd { what, source }
    }

    fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.display().to_string(), source }
    }

    /// Whether this is etcd being unreachable or failing, rather than bad data or a refusal.
    pub fn is_etcd(&self) -> bool {
        matches!(self, Error::Etcd { .. })
    }
}

/// A `KEY=VALUE` label of a node, or the label a canary is meant for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Label {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

impl std::str::FromStr for Label {
    type Err = String;

    fn from_str(text: &str) -> Result<Label, String> {
        match text.split_once('=') {
            Some((key, value)) if !key.is_empty() && !key.contains(['/', ' ']) => {
                Ok(Label { key: key.to_owned(), value: value.to_owned() })
            }
            _ => Err(format!("`{text}` is not a KEY=VALUE label")),
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_key_equals_value() {
        let label: Label = "tier=canary".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((label.key.as_str(), label.value.as_str()), ("tier", "canary"));
        assert_eq!(label.to_string(), "tier=canary");
        let empty: Label = "zone=".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(empty.value, "");
        for bad in ["tier", "=canary", "a/b=c", ""] {
            assert_eq!(bad.parse::<Label>(), Err(format!("`{bad}` is not a KEY=VALUE label")));
        }
    }

    #[test]
    fn options_never_show_the_password() {
        let options = EtcdOptions {
            endpoints: vec!["http://127.0.0.1:2379".into()],
            user: Some("root".into()),
            password: Some("s3same".into()),
            ..EtcdOptions::default()
        };
        let shown = format!("{options:?}");
        assert!(shown.contains("root") && shown.contains("<hidden>"), "{shown}");
        assert!(!shown.contains("s3same"), "{shown}");
    }

    #[test]
    fn cluster_names_stay_inside_their_prefix() {
        for good in ["edge", "edge-1", "eu_west.2"] {
            assert!(keys::valid_name(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "edge/../other"] {
            assert!(!keys::valid_name(bad), "{bad}");
        }
    }
}
