//! A fleet node and the operator's fleet commands (`docs/fleet.md`): what `hookyard-fleet`
//! leaves to the proxy. Publishing checks a directory as `hookyard check` does and lists the
//! files a revision carries; a node starts a server on the revision's directory and reloads it
//! through the control socket, the ordinary reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use hookyard_fleet::{Host, Node, NodeOptions};

use crate::config::{Config, absolute};
use crate::server::{Server, ServerConfig};

/// The files a revision of `dir` carries, each as (path relative to `dir`, file): the
/// configuration files `check` read, the files `remap.config` includes, and every plugin file
/// the configuration references.
///
/// # Errors
///
/// Every problem `hookyard check` would report; a referenced file outside `dir` (a node has
/// only what the revision carries).
pub fn revision_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let dir = absolute(dir);
    let check = crate::check(&dir);
    if !check.ok {
        bail!("{} does not pass `hookyard check`:\n{}", dir.display(), check.problems.join("\n"));
    }
    let config = Config::load_dir(&dir).result.map_err(|p| anyhow::anyhow!("{p}"))?;
    let mut files: Vec<PathBuf> = check
        .statuses
        .iter()
        .filter(|(_, status)| *status == "ok")
        .map(|(f, _)| f.clone())
        .collect();
    for plugin in &config.plugins.plugins {
        files.extend(plugin.resolved.clone());
        files.extend(plugin.canary.as_ref().and_then(|c| c.resolved.clone()));
    }
    let search: Vec<PathBuf> =
        config.settings.plugin_dirs.iter().cloned().chain([dir.clone()]).collect();
    for rule in config.rules.rules() {
        // A rule read from a `.include`d file names that file.
        files.push(rule.file.to_path_buf());
        for plugin in &rule.plugins {
            let found = resolve(&plugin.path, &search)
                .with_context(|| format!("plugin `{}` not found", plugin.path))?;
            files.push(found);
        }
    }
    let root = dir.canonicalize().with_context(|| dir.display().to_string())?;
    let mut carried = Vec::new();
    for file in files {
        let real = file.canonicalize().with_context(|| file.display().to_string())?;
        let Ok(relative) = real.strip_prefix(&root) else {
            bail!(
                "{} is outside {}: a revision carries only files under the configuration \
                 directory",
                file.display(),
                root.display()
            );
        };
        let relative = relative.to_string_lossy().into_owned();
        if !carried.iter().any(|(path, _)| *path == relative) {
            carried.push((relative, real));
        }
    }
    carried.sort();
    Ok(carried)
}

/// Finds a remap plugin's file as the loader does: an absolute path as is, a relative one in the
/// first search directory holding it.
fn resolve(path: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = Path::new(path);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_owned());
    }
    dirs.iter().map(|dir| dir.join(path)).find(|candidate| candidate.is_file())
}

/// Reloads through the control socket, as `hookyard ctl reload` does.
struct ControlReload {
    admin: PathBuf,
}

impl Host for ControlReload {
    fn reload(&self, _dir: &Path) -> Result<(), String> {
        let report = crate::ctl::call_with(&self.admin, "reload", serde_json::Value::Null)
            .map_err(|e| format!("reload through {}: {e}", self.admin.display()))?;
        if report["ok"] == true {
            return Ok(());
        }
        let problems: Vec<String> = report["problems"]
            .as_array()
            .map(|list| list.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Err(if problems.is_empty() { "reload refused".to_owned() } else { problems.join("; ") })
    }
}

/// Runs a fleet node: waits for a revision (the last good one on disk first), serves it with
/// `server`'s listeners, follows the cluster, and stops on SIGTERM or SIGINT.
///
/// # Errors
///
/// The state directory cannot be used, the first revision does not start, no control socket.
pub fn run_node(node: NodeOptions, mut server: ServerConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the fleet runtime")?;
    let state = node.state_dir.clone();
    let (etcd, cluster, name) = (node.etcd.clone(), node.cluster.clone(), node.name.clone());
    let mut node = Node::open(node).with_context(|| format!("fleet state {}", state.display()))?;
    let revision = runtime.block_on(node.first())?;
    server.config_dir = Some(node.live_dir().to_owned());
    let signals = crate::SignalHandlers::install().context("signal handling")?;
    let handle =
        Server::start(server).with_context(|| format!("cannot start on revision {revision}"))?;
    node.started()?;
    let Some(admin) = handle.admin_path().map(Path::to_owned) else {
        bail!("a fleet node reloads through its control socket, and this configuration has none");
    };
    for addr in handle.addrs() {
        eprintln!("hookyard: listening on http://{addr}");
    }
    eprintln!("hookyard: serving fleet revision {revision} from {}", node.live_dir().display());
    let host = Arc::new(ControlReload { admin });
    std::thread::Builder::new()
        .name("hookyard-fleet".into())
        .spawn(move || runtime.block_on(node.follow(host)))
        .context("cannot start the fleet thread")?;
    signals.serve(handle).context("signal handling")?;
    // Leaving says so at once; unsaid (etcd away), the lease says it a few seconds later.
    let leaving = async {
        let leave = hookyard_fleet::leave(&etcd, &cluster, &name);
        tokio::time::timeout(std::time::Duration::from_secs(1), leave).await
    };
    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build()
        && let Ok(Err(e)) = runtime.block_on(leaving)
    {
        tracing::warn!(error = %e, "cannot remove the node's status");
    }
    Ok(())
}

/// Runs one fleet command to its end on a runtime of its own.
///
/// # Errors
///
/// The command's.
pub fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, hookyard_fleet::Error>>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    Ok(runtime.block_on(future)?)
}

/// `fleet status` as text: the revisions, then one line per node.
pub fn render_status(status: &hookyard_fleet::ClusterStatus) -> String {
    let revision = |r: Option<u64>| r.map_or("-".to_owned(), |r| r.to_string());
    let mut text =
        format!("cluster {}: stable revision {}", status.cluster, revision(status.stable));
    if let Some(canary) = &status.canary {
        text.push_str(&format!(", canary revision {} for {}", canary.revision, canary.label));
    }
    text.push_str(&format!(" (newest {})\n", status.head));
    text.push_str(&format!(
        "{:<16} {:<8} {:<8} {:<9} {:<24} REFUSED\n",
        "NODE", "SERVING", "TARGET", "HEALTH", "LABELS"
    ));
    for node in &status.nodes {
        let labels: Vec<String> = node.labels.iter().map(ToString::to_string).collect();
        let refused = node
            .refused
            .as_ref()
            .map_or("-".to_owned(), |r| format!("revision {}: {}", r.revision, r.reason));
        text.push_str(&format!(
            "{:<16} {:<8} {:<8} {:<9} {:<24} {refused}\n",
            node.node,
            revision(node.serving),
            revision(node.target),
            node.health,
            if labels.is_empty() { "-".to_owned() } else { labels.join(",") },
        ));
    }
    text
}
