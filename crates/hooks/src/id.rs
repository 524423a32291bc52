//! Hook ids: stable numbers that cross the C ABI.

use std::fmt;
use std::str::FromStr;

/// A point in the life of a session, a transaction, or the process where plugins run callbacks.
///
/// The numbers are ATS's `TSHttpHookID` values for HTTP hooks, and 64 and up for lifecycle hooks;
/// they never change (plugins compiled against the C ABI use them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
#[non_exhaustive]
pub enum HookId {
    /// The client's request header has been read.
    ReadRequestHdr = 0,
    /// The origin's address is about to be looked up.
    OsDns = 1,
    /// The request header is about to be sent to the origin.
    SendRequestHdr = 2,
    /// The origin's response header has been read.
    ReadResponseHdr = 4,
    /// The response header is about to be sent to the client.
    SendResponseHdr = 5,
    /// A transaction starts.
    TxnStart = 9,
    /// A transaction ends (cleanup: never skipped).
    TxnClose = 10,
    /// A client session starts.
    SsnStart = 11,
    /// A client session ends (cleanup: never skipped).
    SsnClose = 12,
    /// Before the request is remapped.
    PreRemap = 14,
    /// After the request was remapped.
    PostRemap = 15,
    /// Every plugin of a configuration has been loaded and initialised (so a plugin can read the
    /// others' priorities).
    PluginsLoaded = 64,
    /// The proxy is shutting down.
    Shutdown = 65,
    /// An operator's message for plugins arrived (`hookyard ctl plugin msg`; ATS's
    /// `TS_LIFECYCLE_MSG_HOOK`).
    LifecycleMsg = 66,
}

/// Which objects a hook's callbacks can be registered on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookScope {
    /// Process lifecycle: global callbacks only.
    Lifecycle,
    /// Session hooks: global and session callbacks.
    Session,
    /// Transaction hooks: global, session and transaction callbacks.
    Transaction,
}

impl HookId {
    /// Every hook, in the order a transaction meets them (lifecycle hooks last).
    pub const ALL: [HookId; 14] = [
        HookId::SsnStart,
        HookId::TxnStart,
        HookId::ReadRequestHdr,
        HookId::PreRemap,
        HookId::PostRemap,
        HookId::OsDns,
        HookId::SendRequestHdr,
        HookId::ReadResponseHdr,
        HookId::SendResponseHdr,
        HookId::TxnClose,
        HookId::SsnClose,
        HookId::PluginsLoaded,
        HookId::Shutdown,
        HookId::LifecycleMsg,
    ];

    /// The number of hooks.
    pub const COUNT: usize = HookId::ALL.len();

    /// The stable number of the hook.
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The hook with a stable number, if any.
    pub fn from_number(number: u32) -> Option<HookId> {
        HookId::ALL.into_iter().find(|h| h.number() == number)
    }

    /// A dense index in `0..HookId::COUNT`, for per-hook arrays.
    pub fn index(self) -> usize {
        match self {
            HookId::SsnStart => 0,
            HookId::TxnStart => 1,
            HookId::ReadRequestHdr => 2,
            HookId::PreRemap => 3,
            HookId::PostRemap => 4,
            HookId::OsDns => 5,
            HookId::SendRequestHdr => 6,
            HookId::ReadResponseHdr => 7,
            HookId::SendResponseHdr => 8,
            HookId::TxnClose => 9,
            HookId::SsnClose => 10,
            HookId::PluginsLoaded => 11,
            HookId::Shutdown => 12,
            HookId::LifecycleMsg => 13,
        }
    }

    /// The name used in configuration files and logs (ATS's, without `TS_HTTP_` and `_HOOK`).
    pub fn name(self) -> &'static str {
        match self {
            HookId::ReadRequestHdr => "READ_REQUEST_HDR",
            HookId::OsDns => "OS_DNS",
            HookId::SendRequestHdr => "SEND_REQUEST_HDR",
            HookId::ReadResponseHdr => "READ_RESPONSE_HDR",
            HookId::SendResponseHdr => "SEND_RESPONSE_HDR",
            HookId::TxnStart => "TXN_START",
            HookId::TxnClose => "TXN_CLOSE",
            HookId::SsnStart => "SSN_START",
            HookId::SsnClose => "SSN_CLOSE",
            HookId::PreRemap => "PRE_REMAP",
            HookId::PostRemap => "POST_REMAP",
            HookId::PluginsLoaded => "PLUGINS_LOADED",
            HookId::Shutdown => "SHUTDOWN",
            HookId::LifecycleMsg => "LIFECYCLE_MSG",
        }
    }

    /// Which objects the hook's callbacks can be registered on.
    pub fn scope(self) -> HookScope {
        match self {
            HookId::PluginsLoaded | HookId::Shutdown | HookId::LifecycleMsg => HookScope::Lifecycle,
            HookId::SsnStart | HookId::SsnClose => HookScope::Session,
            _ => HookScope::Transaction,
        }
    }

    /// Whether the hook releases resources: its callbacks all run, whatever thresholds,
    /// enable flags, removals or errors say.
    pub fn is_cleanup(self) -> bool {
        matches!(self, HookId::TxnClose | HookId::SsnClose)
    }
}

impl fmt::Display for HookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a hook.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown hook `{0}`")]
pub struct UnknownHook(pub String);

impl FromStr for HookId {
    type Err = UnknownHook;

    /// Parses a hook name, with or without ATS's `TS_HTTP_` prefix and `_HOOK` suffix,
    /// case-insensitively.
    fn from_str(s: &str) -> Result<HookId, UnknownHook> {
        let upper = s.to_ascii_uppercase();
        let bare = upper.strip_prefix("TS_HTTP_").unwrap_or(&upper);
        let bare = bare.strip_prefix("TS_LIFECYCLE_").unwrap_or(bare);
        let bare = bare.strip_suffix("_HOOK").unwrap_or(bare);
        HookId::ALL.into_iter().find(|h| h.name() == bare).ok_or_else(|| UnknownHook(s.to_owned()))
    }
}

/// The level a callback was registered at; at equal priority, lower levels run first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// For every session and transaction of a configuration.
    Global = 0,
    /// For every transaction of one session.
    Session = 1,
    /// For one transaction.
    Transaction = 2,
}

impl Level {
    /// The levels, in dispatch order.
    pub const ALL: [Level; 3] = [Level::Global, Level::Session, Level::Transaction];

    /// The level's name, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            Level::Global => "global",
            Level::Session => "session",
            Level::Transaction => "transaction",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_atss_and_indices_dense() {
        assert_eq!(HookId::ReadRequestHdr.number(), 0);
        assert_eq!(HookId::TxnClose.number(), 10);
        assert_eq!(HookId::PreRemap.number(), 14);
        assert_eq!(HookId::PostRemap.number(), 15);
        let mut seen = [false; HookId::COUNT];
        for hook in HookId::ALL {
            assert_eq!(HookId::from_number(hook.number()), Some(hook));
            assert!(!std::mem::replace(&mut seen[hook.index()], true), "{hook} index reused");
        }
        assert_eq!(
            HookId::from_number(3),
            None,
            "READ_CACHE_HDR is not a hook of a cacheless proxy"
        );
    }

    #[test]
    fn names_parse_in_every_spelling() {
        for hook in HookId::ALL {
            assert_eq!(hook.name().parse::<HookId>(), Ok(hook));
        }
        assert_eq!("TS_HTTP_READ_REQUEST_HDR_HOOK".parse(), Ok(HookId::ReadRequestHdr));
        assert_eq!("pre_remap".parse(), Ok(HookId::PreRemap));
        assert_eq!("READ_CACHE_HDR".parse::<HookId>(), Err(UnknownHook("READ_CACHE_HDR".into())));
    }
}
