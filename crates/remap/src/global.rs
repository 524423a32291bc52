//! Global plugins (`plugin.yaml`) across configuration generations: each version loaded and
//! initialised once with its params, shared by every generation that lists it unchanged, and
//! done (on the teardown thread) once the last such generation has ended.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::Sender;
use hookyard_abi::{self as abi, PluginIdentity};
use hookyard_context::Context;
use hookyard_dso::{Library, VersionId};
use tracing::info;

use crate::ffi::GlobalEntries;
use crate::plugins::{Job, PluginTable};

/// One global plugin as the configuration lists it, in load order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalSpec {
    /// The path as written (searched in the loader's directories when relative).
    pub path: String,
    /// Its params: `argv[1..]` of its init.
    pub params: Vec<String>,
    /// The file listing it, for error messages.
    pub file: PathBuf,
    /// Its line there.
    pub line: usize,
    /// A canary: another version of the plugin of the spec right before it, loaded beside it.
    /// The load is refused unless both are the same plugin (descriptor name) from two files.
    pub canary: bool,
}

/// One loaded global plugin version, shared by every generation that lists it unchanged.
pub struct GlobalPlugin {
    pub(crate) identity: PluginIdentity,
    pub(crate) config_path: String,
    pub(crate) params: Vec<String>,
    pub(crate) context: Context,
    pub(crate) entries: GlobalEntries,
    pub(crate) table: Box<dyn PluginTable>,
    /// Generations listing this version.
    pub(crate) users: AtomicUsize,
    /// Cleared by done.
    pub(crate) initialized: AtomicBool,
}

impl GlobalPlugin {
    /// The name and version from the descriptor.
    pub fn identity(&self) -> &PluginIdentity {
        &self.identity
    }

    /// The path as the configuration wrote it.
    pub fn config_path(&self) -> &str {
        &self.config_path
    }

    /// The params its init got.
    pub fn params(&self) -> &[String] {
        &self.params
    }

    /// The loaded version's id.
    pub fn version(&self) -> VersionId {
        self.library().id()
    }

    /// The library holding the code.
    pub fn library(&self) -> &Library {
        self.context.library().expect("a global plugin context always has its library")
    }

    /// The plugin's context.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The host table this version was given.
    pub fn table(&self) -> &dyn PluginTable {
        &*self.table
    }

    /// Generations listing this version.
    pub fn users(&self) -> usize {
        self.users.load(Ordering::Acquire)
    }

    /// Retires this version (see [`retire`](crate::retire)).
    pub fn retire(&self, how: crate::Retire) {
        crate::plugins::retire(&self.context, how);
    }

    pub(crate) fn init(&self) -> Result<(), abi::Error> {
        let argv: Vec<std::ffi::CString> = std::iter::once(&self.config_path)
            .chain(&self.params)
            .map(|a| std::ffi::CString::new(a.replace('\0', "")).unwrap_or_default())
            .collect();
        // SAFETY: `self.table` lives as long as `self`, and so past the plugin's done.
        let result = self.context.run(|| unsafe { self.entries.init(self.table.api(), &argv) });
        result.map_err(|errbuf| abi::Error::init_failed(&self.config_path, &errbuf))?;
        self.initialized.store(true, Ordering::Release);
        Ok(())
    }

    pub(crate) fn pre_reload(&self) {
        self.context.run(|| self.entries.pre_reload());
    }

    pub(crate) fn post_reload(&self, status: i32) {
        self.context.run(|| self.entries.post_reload(status));
    }
}

impl fmt::Debug for GlobalPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalPlugin")
            .field("name", &self.identity.name)
            .field("version", &self.identity.version)
            .field("users", &self.users())
            .finish_non_exhaustive()
    }
}

/// One generation's use of a global plugin version; the version is done after its last use
/// is dropped.
pub struct GlobalUse {
    plugin: Option<Arc<GlobalPlugin>>,
    retire: Sender<Job>,
}

impl GlobalUse {
    pub(crate) fn new(plugin: Arc<GlobalPlugin>, retire: Sender<Job>) -> GlobalUse {
        plugin.users.fetch_add(1, Ordering::AcqRel);
        GlobalUse { plugin: Some(plugin), retire }
    }

    pub(crate) fn take(&mut self) -> Option<Arc<GlobalPlugin>> {
        self.plugin.take()
    }

    /// The plugin version.
    pub fn plugin(&self) -> &Arc<GlobalPlugin> {
        self.plugin.as_ref().expect("a global plugin use holds its plugin until dropped")
    }
}

impl Drop for GlobalUse {
    fn drop(&mut self) {
        if let Some(plugin) = self.plugin.take()
            && let Err(crossbeam_channel::SendError(Job::Release(plugin))) =
                self.retire.send(Job::Release(plugin))
        {
            // The teardown thread is gone (process exit): release here.
            release_now(plugin);
        }
    }
}

impl fmt::Debug for GlobalUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalUse").field("plugin", &self.plugin).finish()
    }
}

/// Ends one use of a global plugin version; runs its done when it was the last.
pub(crate) fn release_now(plugin: Arc<GlobalPlugin>) {
    if plugin.users.fetch_sub(1, Ordering::AcqRel) == 1 {
        plugin.context.run(|| plugin.entries.done());
        plugin.initialized.store(false, Ordering::Release);
        plugin.table.done();
        info!(plugin = %plugin.identity.name, version = plugin.version().get(), "global plugin done");
    }
}
