//! A node's side: the newest revision meant for it, written into a local directory that its
//! host serves; a status key under a lease; the last good revision kept on disk.
//!
//! State directory layout: `live/` is the configuration directory the host serves (files
//! replaced one by one with a rename, unchanged files left alone so an unchanged plugin stays
//! the same version); `blobs/<sha256>` caches verified file contents; `good.json` is the
//! manifest of the revision `live/` holds and the host serves.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcd_client::{Client, PutOptions};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::publish::{read_canary, read_stable};
use crate::revision::{self, Manifest};
use crate::{Error, EtcdOptions, Label, keys};

/// The lease of a node's status key, in seconds: a node gone this long leaves the status.
const LEASE_TTL: i64 = 6;

/// How long to wait before trying etcd again.
const RETRY: Duration = Duration::from_millis(500);

/// Serves a configuration directory: what a node asks of the process it runs in.
pub trait Host: Send + Sync + 'static {
    /// Reloads the configuration directory `dir` (the ordinary reload).
    ///
    /// # Errors
    ///
    /// The reload was refused (the previous configuration keeps serving), with the reason.
    fn reload(&self, dir: &Path) -> Result<(), String>;
}

/// How a node runs.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// How to reach etcd.
    pub etcd: EtcdOptions,
    /// The cluster.
    pub cluster: String,
    /// The node's name, unique in the cluster.
    pub name: String,
    /// Its labels (a canary is meant for the nodes with one of them).
    pub labels: Vec<Label>,
    /// Where it keeps the revision it serves (`live/`), file contents and its last good
    /// manifest.
    pub state_dir: PathBuf,
}

/// A node's status, kept in etcd under its lease.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeStatus {
    /// Its name.
    pub node: String,
    /// Its labels.
    pub labels: Vec<Label>,
    /// The revision it serves.
    pub serving: Option<u64>,
    /// The revision meant for it.
    pub target: Option<u64>,
    /// The last revision it refused, and why.
    pub refused: Option<Refusal>,
    /// `serving` (the revision meant for it), `refusing` (it refused that revision and serves
    /// the one before), `waiting` (no revision yet).
    pub health: String,
    /// When this was written, in seconds since the Unix epoch.
    pub updated_at: u64,
}

/// A revision a node refused.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Refusal {
    /// The revision.
    pub revision: u64,
    /// Why.
    pub reason: String,
}

/// One node of a cluster.
#[derive(Debug)]
pub struct Node {
    options: NodeOptions,
    live: PathBuf,
    blobs: PathBuf,
    good: Option<Manifest>,
    /// Written into `live/`, not yet served (before the first start).
    pending: Option<Manifest>,
    target: Option<u64>,
    refused: Option<Refusal>,
}

impl Node {
    /// Opens the node's state directory (made if absent) and reads its last good revision.
    ///
    /// # Errors
    ///
    /// The state directory cannot be made, or its `good.json` does not parse.
    pub fn open(options: NodeOptions) -> Result<Node, Error> {
        if !keys::valid_name(&options.cluster) || !keys::valid_name(&options.name) {
            return Err(Error::Refused(format!(
                "cluster `{}` and node `{}` must be letters, digits, `-`, `_` or `.`",
                options.cluster, options.name
            )));
        }
        let live = options.state_dir.join("live");
        let blobs = options.state_dir.join("blobs");
        for dir in [&live, &blobs] {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        let good_file = options.state_dir.join("good.json");
        let good = match std::fs::read(&good_file) {
            Ok(bytes) => Some(serde_json::from_slice::<Manifest>(&bytes).map_err(|e| {
                Error::Corrupt(format!("{}: not a revision manifest: {e}", good_file.display()))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&good_file)(e)),
        };
        Ok(Node { options, live, blobs, good, pending: None, target: None, refused: None })
    }

    /// The configuration directory the host serves.
    pub fn live_dir(&self) -> &Path {
        &self.live
    }

    /// The revision served (or about to be, before the first start).
    pub fn serving(&self) -> Option<u64> {
        self.good.as_ref().or(self.pending.as_ref()).map(|m| m.number)
    }

    /// Makes `live/` hold a revision to start with: the last good one kept on disk, else the
    /// one etcd has for this node (waiting for etcd and for a first publish as long as it
    /// takes). Returns the revision.
    ///
    /// # Errors
    ///
    /// A local file that cannot be written.
    pub async fn first(&mut self) -> Result<u64, Error> {
        if let Some(good) = &self.good {
            // A file of `live/` changed by hand (or a crash mid-write) is put back from the
            // verified cache first.
            self.install(good, None)?;
            info!(revision = good.number, "serving the last good revision kept on disk");
            return Ok(good.number);
        }
        let mut waiting_logged = false;
        loop {
            match self.fetch_first().await {
                Ok(Some(number)) => return Ok(number),
                Ok(None) if !waiting_logged => {
                    info!(cluster = %self.options.cluster, "waiting for a first revision");
                    waiting_logged = true;
                }
                Ok(None) => {}
                Err(e) if e.is_etcd() => warn!(error = %e, "waiting for etcd"),
                Err(e) => return Err(e),
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    async fn fetch_first(&mut self) -> Result<Option<u64>, Error> {
        let mut client = self.options.etcd.connect().await?;
        let Some(target) = self.read_target(&mut client).await? else { return Ok(None) };
        let manifest = revision::manifest(&mut client, &self.options.cluster, target).await?;
        self.fetch_blobs(&mut client, &manifest).await?;
        self.install(&manifest, None)?;
        self.pending = Some(manifest);
        Ok(Some(target))
    }

    /// Records that the host started serving `live/`: its revision is now the last good one.
    ///
    /// # Errors
    ///
    /// `good.json` cannot be written.
    pub fn started(&mut self) -> Result<(), Error> {
        if let Some(manifest) = self.pending.take() {
            self.save_good(&manifest)?;
            self.good = Some(manifest);
        }
        Ok(())
    }

    /// Follows the cluster for ever: reloads the host on each revision meant for this node,
    /// keeps the status key; when etcd is unreachable, keeps serving and tries again.
    pub async fn follow(mut self, host: Arc<dyn Host>) {
        let mut reachable = true;
        loop {
            if let Err(e) = self.session(&host).await {
                if reachable {
                    warn!(error = %e, "etcd unreachable; serving revision {:?}", self.serving());
                }
                reachable = false;
            } else {
                reachable = true;
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// One connection to etcd: a lease, a watch, reconciliation on every change, until an
    /// error.
    async fn session(&mut self, host: &Arc<dyn Host>) -> Result<(), Error> {
        let mut client = self.options.etcd.connect().await?;
        let lease = client.lease_grant(LEASE_TTL, None).await.map_err(Error::etcd("lease"))?.id();
        let (mut keeper, mut kept) =
            client.lease_keep_alive(lease).await.map_err(Error::etcd("lease keep-alive"))?;
        let cluster = self.options.cluster.clone();
        let mut events =
            client.watch(keys::stable(&cluster), None).await.map_err(Error::etcd("watch"))?;
        events.watch(keys::canary(&cluster), None).await.map_err(Error::etcd("watch"))?;
        // The state is read once both watches exist, so no change falls between.
        let mut created = 0;
        while created < 2 {
            match events.message().await.map_err(Error::etcd("watch"))? {
                Some(message) if message.created() => created += 1,
                Some(_) => {}
                None => return Err(Error::Refused("etcd closed the watch".into())),
            }
        }
        info!(cluster = %cluster, node = %self.options.name, "following etcd");
        self.reconcile(&mut client, host).await?;
        self.put_status(&mut client, lease).await?;
        let mut tick = tokio::time::interval(Duration::from_secs(LEASE_TTL as u64 / 3));
        loop {
            tokio::select! {
                message = events.message() => {
                    let message = message.map_err(Error::etcd("watch"))?;
                    let Some(message) = message else {
                        return Err(Error::Refused("etcd closed the watch".into()));
                    };
                    if message.canceled() {
                        return Err(Error::Refused(format!(
                            "etcd cancelled the watch: {}", message.cancel_reason()
                        )));
                    }
                    if !message.events().is_empty() {
                        self.reconcile(&mut client, host).await?;
                        self.put_status(&mut client, lease).await?;
                    }
                }
                _ = tick.tick() => {
                    keeper.keep_alive().await.map_err(Error::etcd("lease keep-alive"))?;
                }
                response = kept.message() => {
                    match response.map_err(Error::etcd("lease keep-alive"))? {
                        Some(response) if response.ttl() > 0 => {}
                        _ => return Err(Error::Refused("the node's lease expired".into())),
                    }
                }
            }
        }
    }

    /// The revision meant for this node: the canary's when it carries the canary's label,
    /// else the stable one.
    async fn read_target(&self, client: &mut Client) -> Result<Option<u64>, Error> {
        let cluster = &self.options.cluster;
        if let Some(canary) = read_canary(client, cluster).await?
            && self.options.labels.contains(&canary.label)
        {
            return Ok(Some(canary.revision));
        }
        read_stable(client, cluster).await
    }

    /// Brings the node to the revision meant for it, unless it serves it or refused it.
    async fn reconcile(&mut self, client: &mut Client, host: &Arc<dyn Host>) -> Result<(), Error> {
        self.target = self.read_target(client).await?;
        let Some(target) = self.target else { return Ok(()) };
        if Some(target) == self.serving()
            || self.refused.as_ref().is_some_and(|r| r.revision == target)
        {
            return Ok(());
        }
        match self.apply(client, target, host).await {
            Ok(()) => {
                info!(revision = target, "serving revision");
                Ok(())
            }
            Err(e) if e.is_etcd() => Err(e),
            Err(e) => {
                warn!(revision = target, reason = %e, "revision refused");
                self.refused = Some(Refusal { revision: target, reason: e.to_string() });
                Ok(())
            }
        }
    }

    /// Fetches, writes and serves a revision; on a refusal puts back the files of the one
    /// serving, so a restart serves that one too.
    async fn apply(
        &mut self,
        client: &mut Client,
        number: u64,
        host: &Arc<dyn Host>,
    ) -> Result<(), Error> {
        let manifest = revision::manifest(client, &self.options.cluster, number).await?;
        self.fetch_blobs(client, &manifest).await?;
        self.install(&manifest, self.good.as_ref())?;
        let (reloader, dir) = (host.clone(), self.live.clone());
        let outcome = tokio::task::spawn_blocking(move || reloader.reload(&dir))
            .await
            .unwrap_or_else(|e| Err(format!("the reload task failed: {e}")));
        match outcome {
            Ok(()) => {
                self.save_good(&manifest)?;
                self.good = Some(manifest);
                Ok(())
            }
            Err(reason) => {
                if let Some(good) = self.good.clone() {
                    self.install(&good, Some(&manifest))?;
                }
                Err(Error::Refused(reason))
            }
        }
    }

    /// Puts every file of `manifest` missing from the cache into it, verified.
    async fn fetch_blobs(&self, client: &mut Client, manifest: &Manifest) -> Result<(), Error> {
        for entry in &manifest.files {
            let cached = self.blobs.join(&entry.sha256);
            if cached.exists() {
                continue;
            }
            let content = revision::fetch(client, &self.options.cluster, entry).await?;
            write_atomically(&cached, &content, false)?;
        }
        Ok(())
    }

    /// Makes `live/` hold `manifest`'s files: changed ones replaced by a rename, unchanged
    /// ones left alone, those only `before` had removed.
    fn install(&self, manifest: &Manifest, before: Option<&Manifest>) -> Result<(), Error> {
        for entry in &manifest.files {
            let target = self.live.join(&entry.path);
            if let Ok(existing) = std::fs::read(&target)
                && revision::sha256(&existing) == entry.sha256
            {
                continue;
            }
            let cached = self.blobs.join(&entry.sha256);
            let content = std::fs::read(&cached).map_err(Error::io(&cached))?;
            revision::verify(entry, &content)?;
            write_atomically(&target, &content, entry.executable)?;
        }
        for old in before.map(|m| m.files.as_slice()).unwrap_or_default() {
            if !manifest.files.iter().any(|f| f.path == old.path) {
                let path = self.live.join(&old.path);
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(Error::io(&path)(e));
                }
            }
        }
        Ok(())
    }

    fn save_good(&self, manifest: &Manifest) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|e| Error::Corrupt(format!("cannot encode the manifest: {e}")))?;
        write_atomically(&self.options.state_dir.join("good.json"), &json, false)
    }

    /// This node's status now.
    pub fn status(&self) -> NodeStatus {
        let refused = self.refused.clone();
        let health = match (self.target, self.serving()) {
            (_, None) => "waiting",
            (Some(target), _) if refused.as_ref().is_some_and(|r| r.revision == target) => {
                "refusing"
            }
            _ => "serving",
        };
        NodeStatus {
            node: self.options.name.clone(),
            labels: self.options.labels.clone(),
            serving: self.serving(),
            target: self.target,
            refused,
            health: health.to_owned(),
            updated_at: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        }
    }

    async fn put_status(&self, client: &mut Client, lease: i64) -> Result<(), Error> {
        let key = keys::node(&self.options.cluster, &self.options.name);
        let value = serde_json::to_string(&self.status())
            .map_err(|e| Error::Corrupt(format!("cannot encode the status: {e}")))?;
        client
            .put(key, value, Some(PutOptions::new().with_lease(lease)))
            .await
            .map_err(Error::etcd("cannot write the node's status"))?;
        Ok(())
    }
}

/// Removes node `name`'s status key, for a node that stops on purpose (its lease would remove
/// it a few seconds later).
///
/// # Errors
///
/// etcd unreachable.
pub async fn leave(etcd: &EtcdOptions, cluster: &str, name: &str) -> Result<(), Error> {
    let mut client = etcd.connect().await?;
    let key = keys::node(cluster, name);
    client.delete(key.as_str(), None).await.map_err(Error::etcd(format!("cannot delete {key}")))?;
    Ok(())
}

/// Writes a file through a temporary name and a rename, so a reader sees the old or the new
/// content, never a part.
fn write_atomically(path: &Path, content: &[u8], executable: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.fleet-{}", std::process::id()));
    std::fs::write(&temporary, content).map_err(Error::io(&temporary))?;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(mode))
        .map_err(Error::io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(Error::io(path))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    use super::*;
    use crate::FileEntry;

    fn node(state: &Path) -> Node {
        let options = NodeOptions {
            etcd: EtcdOptions::default(),
            cluster: "c".into(),
            name: "n".into(),
            labels: Vec::new(),
            state_dir: state.to_owned(),
        };
        Node::open(options).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A file entry whose content is in the node's cache.
    fn cached(node: &Node, path: &str, content: &[u8], executable: bool) -> FileEntry {
        let sha256 = revision::sha256(content);
        std::fs::write(node.blobs.join(&sha256), content).unwrap_or_else(|e| panic!("{e}"));
        FileEntry { path: path.into(), sha256, size: content.len() as u64, executable }
    }

    fn manifest(number: u64, files: Vec<FileEntry>) -> Manifest {
        Manifest { number, files, previous: None, origin: "publish".into(), published_at: 0 }
    }

    fn read(node: &Node, path: &str) -> String {
        std::fs::read_to_string(node.live.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn install_replaces_changed_files_only_and_removes_dropped_ones() {
        let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let node = node(state.path());
        let remap = cached(&node, "remap.config", b"map / http://o/\n", false);
        let one = manifest(1, vec![remap.clone(), cached(&node, "p/x.so", b"v1", true)]);
        node.install(&one, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&node, "p/x.so"), "v1");
        let mode = std::fs::metadata(node.live.join("p/x.so")).map(|m| m.permissions().mode());
        assert_eq!(mode.map(|m| m & 0o777).ok(), Some(0o755));
        let inode = |path: &str| std::fs::metadata(node.live.join(path)).map(|m| m.ino()).ok();
        let remap_inode = inode("remap.config");

        let two = manifest(
            2,
            vec![
                remap.clone(),
                cached(&node, "p/x.so", b"v2", true),
                cached(&node, "y", b"y", false),
            ],
        );
        node.install(&two, Some(&one)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((read(&node, "p/x.so").as_str(), read(&node, "y").as_str()), ("v2", "y"));
        assert_eq!(inode("remap.config"), remap_inode, "an unchanged file is left alone");

        let three = manifest(3, vec![remap]);
        node.install(&three, Some(&two)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!node.live.join("p/x.so").exists() && !node.live.join("y").exists());
        assert_eq!(read(&node, "remap.config"), "map / http://o/\n");
    }

    #[test]
    fn install_refuses_a_cached_file_that_does_not_match_its_hash() {
        let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let node = node(state.path());
        let entry = cached(&node, "x.so", b"good", true);
        std::fs::write(node.blobs.join(&entry.sha256), b"evil").unwrap_or_else(|e| panic!("{e}"));
        match node.install(&manifest(1, vec![entry]), None) {
            Ok(()) => panic!("a file that does not match its hash was installed"),
            Err(e) => assert!(e.to_string().starts_with("x.so: content does not match"), "{e}"),
        }
        assert!(!node.live.join("x.so").exists());
    }

    #[test]
    fn a_start_puts_back_a_changed_file_of_the_last_good_revision() {
        let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut first = node(state.path());
        let good = manifest(3, vec![cached(&first, "x.so", b"good", true)]);
        first.install(&good, None).unwrap_or_else(|e| panic!("{e}"));
        first.pending = Some(good);
        first.started().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(first.live.join("x.so"), b"tampered").unwrap_or_else(|e| panic!("{e}"));
        let mut again = node(state.path());
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        let served = runtime.unwrap_or_else(|e| panic!("{e}")).block_on(again.first());
        assert_eq!(served.ok(), Some(3));
        assert_eq!(read(&again, "x.so"), "good");
    }

    #[test]
    fn the_last_good_revision_survives_a_restart() {
        let state = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut first = node(state.path());
        first.pending = Some(manifest(7, Vec::new()));
        first.started().unwrap_or_else(|e| panic!("{e}"));
        let again = node(state.path());
        assert_eq!(again.serving(), Some(7));
        assert_eq!(again.status().health, "serving");
    }
}
