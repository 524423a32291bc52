//! Remap plugins: one instance per `@plugin=` of a rule, called for every matching request.

use hookyard_abi::{self as abi, hy_remap_request_info};

use crate::error::Error;
use crate::host::{Host, view};
use crate::txn::Txn;

/// A remap plugin. Each `@plugin=` of a rule makes one instance with
/// [`new_instance`](RemapPlugin::new_instance); the instance is dropped when its configuration
/// is gone (ATS's `TSRemapDeleteInstance`). Every method runs inside `catch_unwind`: a panic
/// becomes an error, never a crash of the proxy.
pub trait RemapPlugin: Sized + Send + Sync + 'static {
    /// Once per load of the plugin file, before any instance (`hy_remap_init`). Set up what all
    /// instances share here.
    ///
    /// # Errors
    ///
    /// An error fails the configuration load, with its message.
    fn init(host: Host) -> Result<(), Error> {
        let _ = host;
        Ok(())
    }

    /// One instance per `@plugin=` of a rule per configuration load (`hy_remap_new_instance`).
    ///
    /// # Errors
    ///
    /// An error fails the configuration load, with its message.
    fn new_instance(args: &InstanceArgs<'_>) -> Result<Self, Error>;

    /// Per transaction whose matched rule lists this instance (`hy_remap_do_remap`).
    /// Concurrent, also on the same instance.
    fn do_remap(&self, txn: &mut Txn<'_>, request: &mut RemapRequest<'_>) -> RemapStatus;

    /// After the origin answered, for the first plugin of the matched rule only
    /// (`hy_remap_os_response`).
    fn os_response(&self, txn: &mut Txn<'_>, state: ServerState) {
        let _ = (txn, state);
    }

    /// Before a configuration reload starts (`hy_remap_pre_config_reload`).
    fn pre_config_reload() {}

    /// After a configuration load (`hy_remap_post_config_reload`).
    fn post_config_reload(status: ReloadStatus) {
        let _ = status;
    }

    /// When no configuration uses the plugin any more (`hy_remap_done`).
    fn done() {}
}

/// The arguments of one `@plugin=` occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceArgs<'a> {
    /// The rule's from URL (canonical form).
    pub from_url: &'a str,
    /// The rule's to URL.
    pub to_url: &'a str,
    /// The `@pparam=` values, in order.
    pub params: Vec<&'a str>,
}

/// What `do_remap` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemapStatus {
    /// Nothing changed; the next plugin of the rule runs.
    NoRemap,
    /// The request URL was changed; the next plugin of the rule runs.
    DidRemap,
    /// Nothing changed; no further plugin of the rule runs.
    NoRemapStop,
    /// The request URL was changed; no further plugin of the rule runs.
    DidRemapStop,
    /// `HY_REMAP_ERROR`, which hosts treat as [`RemapStatus::NoRemap`], as ATS's code does; to
    /// fail the transaction, set a direct response and answer [`RemapStatus::NoRemapStop`].
    Error,
}

impl RemapStatus {
    /// The C value (`HY_REMAP_*`).
    pub const fn raw(self) -> abi::hy_remap_status {
        match self {
            RemapStatus::NoRemap => abi::HY_REMAP_NO_REMAP,
            RemapStatus::DidRemap => abi::HY_REMAP_DID_REMAP,
            RemapStatus::NoRemapStop => abi::HY_REMAP_NO_REMAP_STOP,
            RemapStatus::DidRemapStop => abi::HY_REMAP_DID_REMAP_STOP,
            RemapStatus::Error => abi::HY_REMAP_ERROR,
        }
    }
}

/// How a configuration load ended, for the post-reload notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadStatus {
    /// The load failed.
    Failure,
    /// The load succeeded and uses this plugin.
    PluginUsed,
    /// The load succeeded and does not use this plugin.
    PluginUnused,
    /// A value this SDK does not know.
    Other(i32),
}

impl ReloadStatus {
    /// The status for a C value (`HY_RELOAD_*`).
    pub const fn from_raw(raw: abi::hy_reload_status) -> ReloadStatus {
        match raw {
            abi::HY_RELOAD_FAILURE => ReloadStatus::Failure,
            abi::HY_RELOAD_SUCCESS_PLUGIN_USED => ReloadStatus::PluginUsed,
            abi::HY_RELOAD_SUCCESS_PLUGIN_UNUSED => ReloadStatus::PluginUnused,
            other => ReloadStatus::Other(other),
        }
    }
}

/// The origin connection's state for `os_response` (`HY_SERVER_STATE_*`, ATS's
/// `TSServerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerState(pub i32);

/// The remap request: the rule's URLs and the redirect flag. The request URL itself is
/// [`Url::Request`](crate::Url::Request) on the transaction.
#[derive(Debug)]
pub struct RemapRequest<'a> {
    rri: &'a mut hy_remap_request_info,
}

impl<'a> RemapRequest<'a> {
    pub(crate) fn new(rri: &'a mut hy_remap_request_info) -> RemapRequest<'a> {
        RemapRequest { rri }
    }

    /// The rule's from URL.
    pub fn from_url(&self) -> &str {
        // SAFETY: the host fills `from_url` with a view valid for the call, which `'a` is.
        std::str::from_utf8(unsafe { view(&self.rri.from_url) }).unwrap_or("")
    }

    /// The rule's to URL.
    pub fn to_url(&self) -> &str {
        // SAFETY: as in `from_url`.
        std::str::from_utf8(unsafe { view(&self.rri.to_url) }).unwrap_or("")
    }

    /// Whether the client will be redirected to the request URL.
    pub fn redirect(&self) -> bool {
        self.rri.redirect != 0
    }

    /// Redirects the client (302) to the request URL, as this plugin changed it, instead of
    /// going to the origin; no further plugin of the rule runs.
    pub fn set_redirect(&mut self, redirect: bool) {
        self.rri.redirect = i32::from(redirect);
    }
}
