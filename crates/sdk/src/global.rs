//! Global plugins: loaded from `plugin.yaml`, registering hooks for every transaction.

use crate::error::Error;
use crate::host::Host;
use crate::remap::ReloadStatus;

/// A global plugin. [`init`](GlobalPlugin::init) makes its one value, kept until the plugin is
/// done; then it is dropped, so keep your [`Continuation`](crate::Continuation)s in it and they
/// are destroyed with it (a live continuation keeps the plugin's code loaded). Every method runs
/// inside `catch_unwind`.
pub trait GlobalPlugin: Sized + Send + Sync + 'static {
    /// Once per load (`hy_plugin_init`): `args[0]` is the plugin path, then its params. Register
    /// global hooks here.
    ///
    /// # Errors
    ///
    /// An error fails the configuration load, with its message.
    fn init(host: Host, args: &[&str]) -> Result<Self, Error>;

    /// Before a configuration reload starts (`hy_plugin_pre_config_reload`).
    fn pre_config_reload(&self) {}

    /// After a configuration load (`hy_plugin_post_config_reload`).
    fn post_config_reload(&self, status: ReloadStatus) {
        let _ = status;
    }
}
