//! The operator's side: publish a revision, promote a canary, roll back, show the fleet.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp};
use serde::Serialize;

use crate::node::NodeStatus;
use crate::revision::{self, Canary, FileEntry, Manifest};
use crate::{Error, EtcdOptions, Label, keys};

/// Publishes the files as the cluster's next revision, in one etcd transaction: the chunks of
/// every file etcd does not hold yet, the manifest, the revision counter, and `stable` (or,
/// with `canary`, the `canary` key). `files` are (path relative to the configuration
/// directory, file to read). Returns the manifest.
///
/// # Errors
///
/// A file that cannot be read, etcd unreachable, a transaction larger than etcd accepts
/// (`--max-request-bytes`), another publish that won the race.
pub async fn publish(
    etcd: &EtcdOptions,
    cluster: &str,
    files: &[(String, PathBuf)],
    canary: Option<Label>,
) -> Result<Manifest, Error> {
    valid_cluster(cluster)?;
    let mut client = etcd.connect().await?;
    let mut entries = Vec::new();
    let mut contents = Vec::new();
    for (path, file) in files {
        if !revision::safe_relative(path) {
            return Err(Error::Refused(format!("`{path}` is not a path inside the directory")));
        }
        let content = std::fs::read(file).map_err(Error::io(file))?;
        let metadata = std::fs::metadata(file).map_err(Error::io(file))?;
        let executable =
            std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111 != 0;
        entries.push(FileEntry {
            path: path.clone(),
            sha256: revision::sha256(&content),
            size: content.len() as u64,
            executable,
        });
        contents.push(content);
    }
    let (head, head_revision) = read_head(&mut client, cluster).await?;
    let stable = read_stable(&mut client, cluster).await?;
    let origin = match &canary {
        Some(label) => format!("publish --canary {label}"),
        None => "publish".to_owned(),
    };
    let manifest = Manifest {
        number: head + 1,
        files: entries,
        previous: stable,
        origin,
        published_at: now(),
    };

    let mut compares = vec![head_compare(cluster, head_revision)];
    let mut operations = Vec::new();
    let mut written = BTreeSet::new();
    for (entry, content) in manifest.files.iter().zip(&contents) {
        if !written.insert(entry.sha256.clone()) {
            continue;
        }
        let first = keys::chunk(cluster, &entry.sha256, 0);
        let present = client
            .get(first.as_str(), Some(GetOptions::new().with_count_only()))
            .await
            .map_err(Error::etcd(format!("cannot read {first}")))?;
        if present.count() > 0 {
            // Blobs are never deleted, but a publish must not depend on one that vanished.
            compares.push(Compare::version(first, CompareOp::Greater, 0));
            continue;
        }
        let chunks = content.chunks(keys::CHUNK).collect::<Vec<_>>();
        let chunks = if chunks.is_empty() { vec![&[][..]] } else { chunks };
        for (index, chunk) in chunks.into_iter().enumerate() {
            operations.push(TxnOp::put(keys::chunk(cluster, &entry.sha256, index), chunk, None));
        }
    }
    operations.extend(revision_ops(cluster, &manifest)?);
    operations.push(match &canary {
        Some(label) => {
            let canary = Canary { revision: manifest.number, label: label.clone() };
            TxnOp::put(keys::canary(cluster), json(&canary)?, None)
        }
        None => TxnOp::put(keys::stable(cluster), manifest.number.to_string(), None),
    });
    if canary.is_none() {
        operations.push(TxnOp::delete(keys::canary(cluster), None));
    }
    commit(&mut client, compares, operations, "publish").await?;
    Ok(manifest)
}

/// Makes the canary revision the stable one, for every node. Refused when a node the canary
/// was meant for refused it, unless `force`. Returns the revision promoted.
///
/// # Errors
///
/// No canary, a refused canary without `force`, etcd unreachable, a concurrent change.
pub async fn promote(etcd: &EtcdOptions, cluster: &str, force: bool) -> Result<u64, Error> {
    valid_cluster(cluster)?;
    let mut client = etcd.connect().await?;
    let key = keys::canary(cluster);
    let response =
        client.get(key.as_str(), None).await.map_err(Error::etcd(format!("cannot read {key}")))?;
    let Some(kv) = response.kvs().first() else {
        return Err(Error::Refused(format!("cluster {cluster} has no canary to promote")));
    };
    let canary: Canary = serde_json::from_slice(kv.value())
        .map_err(|e| Error::Corrupt(format!("{key}: not a canary: {e}")))?;
    let refusals: Vec<String> = read_nodes(&mut client, cluster)
        .await?
        .into_iter()
        .filter_map(|node| {
            let refusal = node.refused.filter(|r| r.revision == canary.revision)?;
            Some(format!("{}: {}", node.node, refusal.reason))
        })
        .collect();
    if !refusals.is_empty() && !force {
        return Err(Error::Refused(format!(
            "canary revision {} was refused ({}); --force promotes it anyway",
            canary.revision,
            refusals.join("; ")
        )));
    }
    let compares = vec![Compare::mod_revision(key.as_str(), CompareOp::Equal, kv.mod_revision())];
    let operations = vec![
        TxnOp::put(keys::stable(cluster), canary.revision.to_string(), None),
        TxnOp::delete(key.as_str(), None),
    ];
    commit(&mut client, compares, operations, "promote").await?;
    Ok(canary.revision)
}

/// Republishes the revision the stable one replaced, as a new revision, to every node (a
/// canary is withdrawn). Returns the new manifest.
///
/// # Errors
///
/// No stable revision, or one with nothing before it; etcd unreachable; a concurrent change.
pub async fn rollback(etcd: &EtcdOptions, cluster: &str) -> Result<Manifest, Error> {
    valid_cluster(cluster)?;
    let mut client = etcd.connect().await?;
    let Some(stable) = read_stable(&mut client, cluster).await? else {
        return Err(Error::Refused(format!("cluster {cluster} has no revision to roll back")));
    };
    let current = revision::manifest(&mut client, cluster, stable).await?;
    let Some(previous) = current.previous else {
        return Err(Error::Refused(format!(
            "revision {stable} has no previous revision to roll back to"
        )));
    };
    let target = revision::manifest(&mut client, cluster, previous).await?;
    let (head, head_revision) = read_head(&mut client, cluster).await?;
    let manifest = Manifest {
        number: head + 1,
        files: target.files,
        previous: target.previous,
        origin: format!("rollback of {stable} to {previous}"),
        published_at: now(),
    };
    let mut operations = revision_ops(cluster, &manifest)?;
    operations.push(TxnOp::put(keys::stable(cluster), manifest.number.to_string(), None));
    operations.push(TxnOp::delete(keys::canary(cluster), None));
    commit(&mut client, vec![head_compare(cluster, head_revision)], operations, "rollback").await?;
    Ok(manifest)
}

/// What `fleet status` shows.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterStatus {
    /// The cluster.
    pub cluster: String,
    /// The newest revision number (0: none published).
    pub head: u64,
    /// The stable revision.
    pub stable: Option<u64>,
    /// The canary, if one is out.
    pub canary: Option<Canary>,
    /// Every node whose lease is alive, by name.
    pub nodes: Vec<NodeStatus>,
}

/// Reads the cluster's revisions and its nodes' statuses.
///
/// # Errors
///
/// etcd unreachable, a key that does not parse.
pub async fn status(etcd: &EtcdOptions, cluster: &str) -> Result<ClusterStatus, Error> {
    valid_cluster(cluster)?;
    let mut client = etcd.connect().await?;
    let (head, _) = read_head(&mut client, cluster).await?;
    let stable = read_stable(&mut client, cluster).await?;
    let canary = read_canary(&mut client, cluster).await?;
    let nodes = read_nodes(&mut client, cluster).await?;
    Ok(ClusterStatus { cluster: cluster.to_owned(), head, stable, canary, nodes })
}

/// The revision counter and its key's modification revision (0: absent).
async fn read_head(client: &mut Client, cluster: &str) -> Result<(u64, i64), Error> {
    let key = keys::head(cluster);
    let response =
        client.get(key.as_str(), None).await.map_err(Error::etcd(format!("cannot read {key}")))?;
    match response.kvs().first() {
        None => Ok((0, 0)),
        Some(kv) => Ok((number(&key, kv.value())?, kv.mod_revision())),
    }
}

pub(crate) async fn read_stable(client: &mut Client, cluster: &str) -> Result<Option<u64>, Error> {
    let key = keys::stable(cluster);
    let response =
        client.get(key.as_str(), None).await.map_err(Error::etcd(format!("cannot read {key}")))?;
    response.kvs().first().map(|kv| number(&key, kv.value())).transpose()
}

pub(crate) async fn read_canary(
    client: &mut Client,
    cluster: &str,
) -> Result<Option<Canary>, Error> {
    let key = keys::canary(cluster);
    let response =
        client.get(key.as_str(), None).await.map_err(Error::etcd(format!("cannot read {key}")))?;
    response
        .kvs()
        .first()
        .map(|kv| {
            serde_json::from_slice(kv.value())
                .map_err(|e| Error::Corrupt(format!("{key}: not a canary: {e}")))
        })
        .transpose()
}

async fn read_nodes(client: &mut Client, cluster: &str) -> Result<Vec<NodeStatus>, Error> {
    let prefix = keys::nodes(cluster);
    let response = client
        .get(prefix.as_str(), Some(GetOptions::new().with_prefix()))
        .await
        .map_err(Error::etcd(format!("cannot read {prefix}")))?;
    response
        .kvs()
        .iter()
        .map(|kv| {
            serde_json::from_slice(kv.value()).map_err(|e| {
                let key = String::from_utf8_lossy(kv.key());
                Error::Corrupt(format!("{key}: not a node status: {e}"))
            })
        })
        .collect()
}

/// Refuses a cluster name that would reach outside its prefix.
fn valid_cluster(cluster: &str) -> Result<(), Error> {
    if keys::valid_name(cluster) {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "cluster `{cluster}`: a cluster name is letters, digits, `-`, `_` or `.`"
        )))
    }
}

fn number(key: &str, value: &[u8]) -> Result<u64, Error> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| Error::Corrupt(format!("{key}: not a revision number")))
}

/// The condition that the counter is still what was read (absent: never written).
fn head_compare(cluster: &str, head_revision: i64) -> Compare {
    if head_revision == 0 {
        Compare::version(keys::head(cluster), CompareOp::Equal, 0)
    } else {
        Compare::mod_revision(keys::head(cluster), CompareOp::Equal, head_revision)
    }
}

/// The writes of a new revision: its manifest and the counter.
fn revision_ops(cluster: &str, manifest: &Manifest) -> Result<Vec<TxnOp>, Error> {
    Ok(vec![
        TxnOp::put(keys::revision(cluster, manifest.number), json(manifest)?, None),
        TxnOp::put(keys::head(cluster), manifest.number.to_string(), None),
    ])
}

async fn commit(
    client: &mut Client,
    compares: Vec<Compare>,
    operations: Vec<TxnOp>,
    what: &str,
) -> Result<(), Error> {
    let txn = Txn::new().when(compares).and_then(operations);
    let response = client.txn(txn).await.map_err(Error::etcd(format!("{what} transaction")))?;
    if response.succeeded() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "{what}: the cluster changed meanwhile (another publish?); nothing was written, try again"
        )))
    }
}

fn json(value: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Corrupt(format!("cannot encode: {e}")))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
