//! Reload on change (`watch: true` in `hookyard.yaml`): one thread watches the configuration
//! directory, the files `remap.config` includes, the plugin files and the TLS certificate and
//! key files, and reloads as SIGHUP
//! does once a burst of changes has been quiet for [`QUIET`].
//!
//! Directories are watched, not files: editors and deployment tools replace a file by renaming
//! another over it, which a watch on the old file would never see. Only events for the files
//! that matter count, so the admin socket or a runtime directory beside them reload nothing.
//! Which files matter is derived again after every reload, from the serving generation (its
//! rules' files, the plugin versions its chains and global plugins use) and from the files on
//! disk (includes, `@plugin=` and `plugin.yaml` paths, so a reload refused for a missing file is
//! retried when the file appears).
//!
//! Before reloading, the changed files must also look the same (size, modification time) twice
//! [`STABLE_CHECK`] apart: a plugin or configuration file rewritten in place is read once it is
//! whole. A reload that still reads an incomplete file is refused (a cut-short plugin fails its
//! ELF check) and the next change retries it.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, info, warn};

use crate::config::{
    ATS_PLUGIN_FILE, MULTICERT_FILE, PLUGIN_FILE, REMAP_FILE, SETTINGS_FILE, STRATEGIES_FILE,
    Settings, Source,
};
use crate::reload::Reloader;

/// How long the watched files must stay unchanged before a reload: a burst of writes and
/// renames is one reload.
const QUIET: Duration = Duration::from_millis(250);

/// The longest a change waits for quiet, so files written without pause still get reloaded.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// How far apart two looks at the changed files (size, modification time, inode) must agree
/// before a reload reads them: a file still being written in place is waited for.
const STABLE_CHECK: Duration = Duration::from_millis(300);

/// The longest a reload waits for the changed files to stop changing; then it reloads anyway,
/// and what is still incomplete is refused (and retried on the next change).
const MAX_SETTLE: Duration = Duration::from_secs(5);

/// `.include` levels followed (the remap parser's limit).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Starts watching when the serving configuration is a directory with `watch: true`; the
/// thread ends when `stopped` turns true. Watches are in place when this returns.
///
/// Without a watch (inotify limits, a thread that cannot start), the server serves on and logs
/// why: SIGHUP and `hookyard ctl reload` still reload.
pub(crate) fn start(
    reloader: &Arc<Reloader>,
    stopped: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let serving = reloader.serving().load();
    let Source::Dir(dir) = &serving.config.source else { return None };
    if !serving.config.settings.watch {
        return None;
    }
    let dir = dir.clone();
    drop(serving);
    let (send, events) = mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event| {
        let _ = send.send(event);
    });
    let mut watching = match watcher {
        Ok(watcher) => Watching { watcher, dirs: BTreeSet::new(), targets: Targets::default() },
        Err(e) => {
            warn!(error = %e, "cannot watch the configuration (SIGHUP and ctl reload still work)");
            return None;
        }
    };
    watching.update(Targets::derive(reloader, &dir));
    info!(dir = %dir.display(), dirs = watching.dirs.len(), "watching the configuration");
    let reloader = reloader.clone();
    let spawned = std::thread::Builder::new()
        .name("hookyard-watch".to_owned())
        .spawn(move || run(&reloader, &dir, watching, events, stopped));
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            warn!(error = %e, "cannot start the watch thread (SIGHUP and ctl reload still work)");
            None
        }
    }
}

/// The watch thread: waits for a relevant change, lets the burst settle, reloads, derives the
/// watched set again; until `stopped`.
fn run(
    reloader: &Arc<Reloader>,
    dir: &Path,
    mut watching: Watching,
    mut events: mpsc::UnboundedReceiver<notify::Result<Event>>,
    mut stopped: watch::Receiver<bool>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            warn!(error = %e, "cannot start the watch runtime (SIGHUP and ctl reload still work)");
            return;
        }
    };
    runtime.block_on(async move {
        while !*stopped.borrow() {
            let mut changed = BTreeSet::new();
            let mut input =
                Input { events: &mut events, stopped: &mut stopped, watching: &mut watching };
            if input.first_change(&mut changed).await.is_none()
                || input.burst(&mut changed).await.is_none()
                || input.settle(&mut changed).await.is_none()
            {
                return;
            }
            reload(reloader, &changed).await;
            watching.update(Targets::derive(reloader, dir));
        }
    });
}

/// What the watch loop waits on: file events (read through what is watched) and the stop.
struct Input<'a> {
    events: &'a mut mpsc::UnboundedReceiver<notify::Result<Event>>,
    stopped: &'a mut watch::Receiver<bool>,
    watching: &'a mut Watching,
}

impl Input<'_> {
    /// Waits for the first relevant change of a burst; `None`: stop.
    async fn first_change(&mut self, changed: &mut BTreeSet<PathBuf>) -> Option<()> {
        while changed.is_empty() {
            tokio::select! {
                event = self.events.recv() => { self.watching.collect(event?, changed); }
                _ = self.stopped.changed() => return None,
            }
        }
        Some(())
    }

    /// The rest of the burst: until QUIET passes without a relevant change, or MAX_WAIT.
    async fn burst(&mut self, changed: &mut BTreeSet<PathBuf>) -> Option<()> {
        let latest = Instant::now() + MAX_WAIT;
        let mut quiet = Instant::now() + QUIET;
        loop {
            tokio::select! {
                event = self.events.recv() => {
                    if self.watching.collect(event?, changed) {
                        quiet = Instant::now() + QUIET;
                    }
                }
                () = sleep_until(quiet.min(latest)) => return Some(()),
                _ = self.stopped.changed() => return None,
            }
        }
    }

    /// Until the changed files look the same twice in a row (a slow writer is done), or
    /// MAX_SETTLE.
    async fn settle(&mut self, changed: &mut BTreeSet<PathBuf>) -> Option<()> {
        let latest = Instant::now() + MAX_SETTLE;
        let mut seen = looks(changed);
        let mut next = Instant::now() + STABLE_CHECK;
        loop {
            tokio::select! {
                event = self.events.recv() => { self.watching.collect(event?, changed); }
                () = sleep_until(next) => {
                    let now = looks(changed);
                    if now == seen {
                        return Some(());
                    }
                    if Instant::now() >= latest {
                        debug!("watched files still changing: reloading anyway");
                        return Some(());
                    }
                    seen = now;
                    next = Instant::now() + STABLE_CHECK;
                }
                _ = self.stopped.changed() => return None,
            }
        }
    }
}

/// Reloads (off this runtime's thread) for `changed`, and logs how it went.
async fn reload(reloader: &Arc<Reloader>, changed: &BTreeSet<PathBuf>) {
    let files: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
    info!(?files, "watched files changed: reloading");
    let reloading = reloader.clone();
    match tokio::task::spawn_blocking(move || reloading.reload()).await {
        Ok(report) if report.ok => info!(
            generation = report.generation,
            millis = report.millis,
            plugins = report.plugins.len(),
            notes = ?report.notes,
            "reload done"
        ),
        Ok(report) => warn!(problems = ?report.problems, "reload refused"),
        Err(e) => warn!(error = %e, "reload task failed"),
    }
}

/// The watcher and what it watches.
struct Watching {
    watcher: RecommendedWatcher,
    /// Directories watched (not recursively).
    dirs: BTreeSet<PathBuf>,
    targets: Targets,
}

impl Watching {
    /// Watches the directories of `targets` and unwatches those no longer needed.
    fn update(&mut self, targets: Targets) {
        let gone: Vec<PathBuf> = self.dirs.difference(&targets.dirs).cloned().collect();
        for dir in gone {
            if let Err(e) = self.watcher.unwatch(&dir) {
                debug!(dir = %dir.display(), error = %e, "cannot unwatch");
            }
            self.dirs.remove(&dir);
        }
        for dir in targets.dirs.difference(&self.dirs.clone()) {
            match self.watcher.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.dirs.insert(dir.clone());
                }
                Err(e) => warn!(dir = %dir.display(), error = %e, "cannot watch"),
            }
        }
        debug!(dirs = ?self.dirs, files = targets.files.len(), "watched set derived");
        self.targets = targets;
    }

    /// Adds the paths of `event` that matter to `changed`; whether there were any.
    fn collect(&self, event: notify::Result<Event>, changed: &mut BTreeSet<PathBuf>) -> bool {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                warn!(error = %e, "file watch error");
                return false;
            }
        };
        if !changes(&event.kind) {
            return false;
        }
        if event.need_rescan() {
            // Events were lost (the kernel's queue overflowed): anything may have changed.
            changed.insert(PathBuf::from("(events lost)"));
            return true;
        }
        let before = changed.len();
        changed.extend(event.paths.iter().filter(|p| self.targets.matches(p)).cloned());
        changed.len() > before
    }
}

/// What a look at a file sees: its inode, size and modification time (`None` while it is
/// missing). Two equal looks some time apart say nobody is writing it.
type Look = Option<(u64, u64, std::time::SystemTime)>;

fn looks(paths: &BTreeSet<PathBuf>) -> Vec<Look> {
    use std::os::unix::fs::MetadataExt;
    paths
        .iter()
        .map(|path| {
            let meta = fs::metadata(path).ok()?;
            Some((meta.ino(), meta.len(), meta.modified().ok()?))
        })
        .collect()
}

/// Whether an event kind can change what a reload reads: opening and reading files (a reload
/// itself does both) cannot, nor can an access-time update.
fn changes(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        _ => true,
    }
}

/// What a reload depends on.
#[derive(Debug, Default, PartialEq, Eq)]
struct Targets {
    /// Directories to watch.
    dirs: BTreeSet<PathBuf>,
    /// Files (and included directories) whose change means a reload.
    files: HashSet<PathBuf>,
    /// Included directories: a change of an entry in them means a reload (but hidden ones, which
    /// the remap parser skips, such as an editor's swap files).
    included: HashSet<PathBuf>,
}

impl Targets {
    /// The configuration files of `dir`, the files its `remap.config` includes, and the plugin
    /// files the serving generation uses or the configuration on disk names.
    fn derive(reloader: &Reloader, dir: &Path) -> Targets {
        let mut targets = Targets::default();
        let files = [
            SETTINGS_FILE,
            REMAP_FILE,
            PLUGIN_FILE,
            ATS_PLUGIN_FILE,
            STRATEGIES_FILE,
            MULTICERT_FILE,
        ];
        for name in files {
            targets.add_file(&dir.join(name));
        }
        // Owned: the scan below reads files, too long to hold a guard of the generation.
        let serving = reloader.serving().load_full();
        let mut search = serving.config.settings.plugin_dirs.clone();
        let settings = dir.join(SETTINGS_FILE);
        if let Ok(text) = fs::read_to_string(&settings)
            && let Ok(on_disk) = Settings::parse(&settings, dir, &text)
        {
            for file in crate::config::certificate_files(dir, &on_disk) {
                targets.add_file(&file);
            }
            search.extend(on_disk.plugin_dirs);
        }
        for file in serving.config.tls.files() {
            targets.add_file(file);
        }
        // The loader's order: the plugin directories, then the configuration directory.
        search.push(dir.to_owned());

        let mut plugins = BTreeSet::new();
        targets.scan(&dir.join(REMAP_FILE), dir, &mut plugins, &mut HashSet::new(), 0);
        let remap = &serving.remap;
        for rule in remap.rules().rules() {
            targets.add_file(&rule.file);
            plugins.extend(rule.plugins.iter().map(|p| p.path.clone()));
            for instance in remap.chain(rule).instances() {
                targets.add_file(instance.plugin().library().path());
            }
        }
        for global in remap.globals() {
            targets.add_file(global.library().path());
        }
        let globals = serving.config.plugins.plugins.iter().filter(|p| p.enabled);
        for global in globals {
            plugins.insert(global.path.clone());
            plugins.extend(global.canary.as_ref().map(|c| c.path.clone()));
        }
        if let Ok(text) = fs::read_to_string(dir.join(PLUGIN_FILE)) {
            plugins.extend(global_paths(&text));
        }
        if let Ok(text) = fs::read_to_string(dir.join(ATS_PLUGIN_FILE)) {
            plugins.extend(ats_global_paths(&text));
        }
        for plugin in &plugins {
            let plugin = Path::new(plugin);
            if plugin.is_absolute() {
                targets.add_file(plugin);
            } else {
                // Every candidate: a file appearing earlier in the search order replaces it.
                for dir in &search {
                    targets.add_file(&dir.join(plugin));
                }
            }
        }
        targets
    }

    /// Reads a remap file for `.include`s (followed) and `@plugin=` paths (collected). Lenient:
    /// it runs on files that may not parse, and the serving rules cover what a valid file says.
    fn scan(
        &mut self,
        file: &Path,
        dir: &Path,
        plugins: &mut BTreeSet<String>,
        seen: &mut HashSet<PathBuf>,
        depth: usize,
    ) {
        if depth > MAX_INCLUDE_DEPTH || !seen.insert(normalize(file)) {
            return;
        }
        let Ok(text) = fs::read_to_string(file) else { return };
        for line in text.replace("\\\r\n", " ").replace("\\\n", " ").lines() {
            let mut tokens = line.split_whitespace().map(|t| t.trim_matches(['"', '\'']));
            match tokens.next() {
                None => {}
                Some(first) if first.starts_with('#') => {}
                Some(".include") => {
                    for include in tokens.filter(|t| !t.starts_with('@')) {
                        // An absolute include replaces `dir` (as the parser takes it).
                        let path = dir.join(include);
                        if path.is_dir() {
                            self.add_dir(&path);
                            for entry in visible_files(&path) {
                                self.add_file(&entry);
                                self.scan(&entry, dir, plugins, seen, depth + 1);
                            }
                        } else {
                            self.add_file(&path);
                            self.scan(&path, dir, plugins, seen, depth + 1);
                        }
                    }
                }
                Some(_) => plugins.extend(
                    tokens
                        .filter_map(|t| t.strip_prefix("@plugin="))
                        .map(|p| p.trim_matches(['"', '\'']).to_owned()),
                ),
            }
        }
    }

    /// A file whose change (written, created, removed, renamed over) means a reload.
    fn add_file(&mut self, path: &Path) {
        let path = normalize(path);
        if let Some(parent) = path.parent().filter(|p| p.is_dir()) {
            self.dirs.insert(parent.to_owned());
        }
        // A symbolic link: a change of what it points to counts too.
        if let Ok(target) = fs::canonicalize(&path)
            && target != path
        {
            if let Some(parent) = target.parent() {
                self.dirs.insert(parent.to_owned());
            }
            self.files.insert(target);
        }
        self.files.insert(path);
    }

    /// An included directory: replacing it, and a change of any entry in it, mean a reload.
    fn add_dir(&mut self, dir: &Path) {
        self.add_file(dir);
        if let Ok(dir) = fs::canonicalize(dir) {
            self.dirs.insert(dir.clone());
            self.included.insert(dir);
        }
    }

    /// Whether a change of `path` (as the watcher reports it: a watched directory joined with
    /// a name) means a reload.
    fn matches(&self, path: &Path) -> bool {
        self.files.contains(path)
            || (path.parent().is_some_and(|dir| self.included.contains(dir)) && !hidden(path))
    }
}

/// The `path:` values of a `plugin.yaml` (block style), read leniently: the file may not parse,
/// and the serving configuration covers what a valid file says.
fn global_paths(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().filter_map(|line| {
        let line = line.trim_start();
        let line = line.strip_prefix("- ").unwrap_or(line).trim_start();
        let path = line.strip_prefix("path:")?.split(" #").next()?.trim();
        let path = path.trim_matches(['"', '\'']);
        (!path.is_empty()).then(|| path.to_owned())
    })
}

/// The plugin paths of an ATS `plugin.config`: each line's first word.
fn ats_global_paths(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
}

/// `path` with its directory made canonical (the file itself may not exist, or be a link the
/// watch should see replaced): how the watcher names it.
fn normalize(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
            fs::canonicalize(parent).map_or_else(|_| path.to_owned(), |p| p.join(name))
        }
        _ => path.to_owned(),
    }
}

fn hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// The files of an included directory the remap parser reads: not hidden, not directories.
fn visible_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.path())
        .filter(|p| !hidden(p))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_files_is_not_a_change() {
        assert!(!changes(&EventKind::Access(AccessKind::Open(notify::event::AccessMode::Any))));
        assert!(!changes(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(!changes(&EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))));
        assert!(changes(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(changes(&EventKind::Modify(ModifyKind::Name(notify::event::RenameMode::To))));
        assert!(changes(&EventKind::Remove(notify::event::RemoveKind::File)));
    }

    #[test]
    fn global_plugin_paths_are_read_from_any_plugin_yaml() {
        let text = "plugins:\n  - path: a.so\n    params: [x]\n  - enabled: false\n    \
                    path: \"/abs/b.so\"  # comment\npriorities: {}\n  -   path:\n";
        assert_eq!(global_paths(text).collect::<Vec<_>>(), ["a.so", "/abs/b.so"]);
    }

    #[test]
    fn scan_follows_includes_and_collects_plugins() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        fs::create_dir(root.join("conf.d")).unwrap();
        fs::write(root.join("conf.d/a.config"), "map http://a/ http://o/ @plugin=a.so\n").unwrap();
        fs::write(root.join("conf.d/.a.config.swp"), "junk").unwrap();
        fs::write(root.join("one.config"), "# @plugin=commented.so\n.include conf.d\n").unwrap();
        fs::write(
            root.join(REMAP_FILE),
            ".include one.config \"missing.config\"\n\
             map http://x/ http://o/ @plugin=x.so \\\n  @pparam=1 @plugin='y.so'\n\
             .include one.config\n",
        )
        .unwrap();
        let mut targets = Targets::default();
        let mut plugins = BTreeSet::new();
        targets.scan(&root.join(REMAP_FILE), &root, &mut plugins, &mut HashSet::new(), 0);
        assert_eq!(plugins.into_iter().collect::<Vec<_>>(), ["a.so", "x.so", "y.so"]);
        for file in ["one.config", "missing.config", "conf.d", "conf.d/a.config"] {
            assert!(targets.files.contains(&root.join(file)), "{file}: {targets:?}");
        }
        assert_eq!(targets.dirs, BTreeSet::from([root.clone(), root.join("conf.d")]));
        assert!(targets.matches(&root.join("conf.d/new.config")), "a new file in an include dir");
        assert!(!targets.matches(&root.join("conf.d/.new.config.swp")), "hidden");
        assert!(!targets.matches(&root.join("admin.sock")), "not read by a reload");
    }
}
