//! The host side of the plugin C ABI: the `hy_api` table each plugin version receives, and the
//! transaction state its functions work on while a remap plugin chain runs.
//!
//! This module and `host/api.rs` hold the proxy's `unsafe`: C calls in with raw pointers. Every
//! function of the table checks its pointers, catches panics, and answers `HY_ERROR` for what
//! the contract does not allow. A `*mut hy_txn` is a [`TxnState`] lent for the duration of one
//! plugin call; it never outlives the chain run that made it.
//!
//! Continuations, hook registration, resume and the priority API are not served by this build
//! yet: those functions answer `HY_ERROR` and log once that they are unavailable.

mod api;

use std::sync::{Arc, OnceLock};

use hookyard_abi::{hy_api, hy_plugin, hy_remap_request_info, hy_str};
use hookyard_remap::{Chain, ChainOutcome, HostTables, PluginInfo, PluginTable};
use hookyard_userargs::{Registry, Slots, Txn};
use http::{HeaderMap, Method};

/// The user-arg slots of the process, shared by every plugin.
pub(crate) fn user_args() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

/// What the host knows of one plugin version; `hy_api.plugin` points here.
pub(crate) struct PluginState {
    pub(crate) name: String,
    pub(crate) version: String,
}

/// The table of one plugin version, with the state it points to.
struct Table {
    api: Box<hy_api>,
    _state: Box<PluginState>,
}

// SAFETY: the table is written once, at construction; it holds function pointers and a pointer
// to `_state`, which it owns and never mutates, so sharing it between threads is sound.
unsafe impl Send for Table {}
// SAFETY: as above.
unsafe impl Sync for Table {}

impl PluginTable for Table {
    fn api(&self) -> *const hy_api {
        &*self.api
    }
}

/// Builds each plugin version's table.
#[derive(Debug, Default)]
pub(crate) struct Tables;

impl HostTables for Tables {
    fn table(&self, plugin: &PluginInfo<'_>) -> Box<dyn PluginTable> {
        let mut state = Box::new(PluginState {
            name: plugin.identity.name.clone(),
            version: plugin.identity.version.clone(),
        });
        let this: *mut PluginState = &mut *state;
        Box::new(Table { api: Box::new(api::table(this.cast::<hy_plugin>())), _state: state })
    }
}

/// A URL as plugins see it: parts, with the path's leading `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UrlParts {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) path: String,
    pub(crate) query: String,
}

impl UrlParts {
    pub(crate) fn to_url_string(&self) -> String {
        let mut out = format!("{}://{}", self.scheme, self.host);
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(&self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out
    }
}

/// A transaction as a remap plugin chain sees it. `*mut hy_txn` points here during the run.
pub(crate) struct TxnState {
    tag: u32,
    pub(crate) method: Method,
    /// The request URL: read-write, already rewritten by the rule (as in ATS).
    pub(crate) url: UrlParts,
    /// The URL as the client sent it.
    pub(crate) pristine: UrlParts,
    pub(crate) from: UrlParts,
    pub(crate) to: UrlParts,
    pub(crate) headers: HeaderMap,
    /// A direct response a plugin asked for: status and body.
    pub(crate) direct: Option<(u16, Vec<u8>)>,
    pub(crate) slots: Slots<Txn>,
    /// Strings handed out as `hy_str` views, kept until the state goes.
    scratch: Vec<Box<str>>,
}

/// Tells a lent transaction pointer from garbage.
const TXN_TAG: u32 = 0x6879_7478;

impl TxnState {
    pub(crate) fn new(
        method: Method,
        url: UrlParts,
        pristine: UrlParts,
        headers: HeaderMap,
    ) -> TxnState {
        TxnState {
            tag: TXN_TAG,
            method,
            url,
            pristine,
            from: UrlParts::default(),
            to: UrlParts::default(),
            headers,
            direct: None,
            slots: Slots::new(),
            scratch: Vec::new(),
        }
    }

    /// Keeps `text` alive as long as the state and returns a view of it.
    fn keep(&mut self, text: String) -> hy_str {
        let text: Box<str> = text.into_boxed_str();
        let view = hy_str { ptr: text.as_ptr().cast(), len: text.len() };
        self.scratch.push(text);
        view
    }

    /// Runs a rule's remap plugin chain on this state, with the rule's URLs.
    pub(crate) fn run_chain(
        &mut self,
        chain: &Chain,
        from: UrlParts,
        to: UrlParts,
    ) -> ChainOutcome {
        let (from_text, to_text) = (from.to_url_string(), to.to_url_string());
        self.from = from;
        self.to = to;
        let view = |s: &str| hy_str { ptr: s.as_ptr().cast(), len: s.len() };
        let mut rri = hy_remap_request_info {
            size: size_of::<hy_remap_request_info>() as u32,
            redirect: 0,
            from_url: view(&from_text),
            to_url: view(&to_text),
        };
        let txn: *mut TxnState = self;
        // SAFETY: `txn` is this state, exclusively ours (we hold `&mut self`) and alive for the
        // whole call; `rri` lives on this frame for the call; the host functions reach the
        // state only through this pointer while the chain runs.
        unsafe { chain.run(txn.cast(), &mut rri) }
    }
}

/// The process's table builder, shared by every generation.
pub(crate) fn tables() -> Arc<dyn HostTables> {
    Arc::new(Tables)
}
