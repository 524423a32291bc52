//! Hook ids, results, levels and the callback information of the priority API.

use hookyard_abi as abi;

/// A point in the life of a session, a transaction or the process where plugins run callbacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HookId {
    /// The client's request header has been read.
    ReadRequestHdr,
    /// The origin's address is about to be looked up.
    OsDns,
    /// The request header is about to be sent to the origin.
    SendRequestHdr,
    /// The origin's response header has been read.
    ReadResponseHdr,
    /// The response header is about to be sent to the client.
    SendResponseHdr,
    /// A transaction starts.
    TxnStart,
    /// A transaction ends (cleanup: never skipped).
    TxnClose,
    /// A client session starts.
    SsnStart,
    /// A client session ends (cleanup: never skipped).
    SsnClose,
    /// Before the request is remapped.
    PreRemap,
    /// After the request was remapped.
    PostRemap,
    /// Every plugin of a configuration generation is initialised (global only).
    PluginsLoaded,
    /// The proxy is shutting down (global only).
    Shutdown,
    /// An operator's message arrived (global only; since ABI 1.4): [`Event::Msg`](crate::Event::Msg).
    LifecycleMsg,
}

impl HookId {
    /// Every hook.
    pub const ALL: [HookId; 14] = [
        HookId::ReadRequestHdr,
        HookId::OsDns,
        HookId::SendRequestHdr,
        HookId::ReadResponseHdr,
        HookId::SendResponseHdr,
        HookId::TxnStart,
        HookId::TxnClose,
        HookId::SsnStart,
        HookId::SsnClose,
        HookId::PreRemap,
        HookId::PostRemap,
        HookId::PluginsLoaded,
        HookId::Shutdown,
        HookId::LifecycleMsg,
    ];

    /// The C value (`HY_HOOK_*`).
    pub const fn raw(self) -> abi::hy_hook_id {
        match self {
            HookId::ReadRequestHdr => abi::HY_HOOK_READ_REQUEST_HDR,
            HookId::OsDns => abi::HY_HOOK_OS_DNS,
            HookId::SendRequestHdr => abi::HY_HOOK_SEND_REQUEST_HDR,
            HookId::ReadResponseHdr => abi::HY_HOOK_READ_RESPONSE_HDR,
            HookId::SendResponseHdr => abi::HY_HOOK_SEND_RESPONSE_HDR,
            HookId::TxnStart => abi::HY_HOOK_TXN_START,
            HookId::TxnClose => abi::HY_HOOK_TXN_CLOSE,
            HookId::SsnStart => abi::HY_HOOK_SSN_START,
            HookId::SsnClose => abi::HY_HOOK_SSN_CLOSE,
            HookId::PreRemap => abi::HY_HOOK_PRE_REMAP,
            HookId::PostRemap => abi::HY_HOOK_POST_REMAP,
            HookId::PluginsLoaded => abi::HY_HOOK_PLUGINS_LOADED,
            HookId::Shutdown => abi::HY_HOOK_SHUTDOWN,
            HookId::LifecycleMsg => abi::HY_HOOK_LIFECYCLE_MSG,
        }
    }

    /// The hook with this C value.
    pub fn from_raw(raw: abi::hy_hook_id) -> Option<HookId> {
        HookId::ALL.into_iter().find(|h| h.raw() == raw)
    }

    /// The hook a continuation event stands for (`HY_EVENT_HOOK_BASE + id`).
    pub fn from_event(event: abi::hy_event) -> Option<HookId> {
        event.checked_sub(abi::HY_EVENT_HOOK_BASE).and_then(HookId::from_raw)
    }

    /// Whether the hook's object is a session (`SSN_START`, `SSN_CLOSE`).
    pub fn is_session(self) -> bool {
        matches!(self, HookId::SsnStart | HookId::SsnClose)
    }

    /// Whether the hook is a process lifecycle hook (no object).
    pub fn is_lifecycle(self) -> bool {
        matches!(self, HookId::PluginsLoaded | HookId::Shutdown | HookId::LifecycleMsg)
    }
}

/// What a hook callback answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookResult {
    /// Go on with the next callback.
    Continue,
    /// Fail the transaction: the client gets an error response (500 unless a direct response
    /// was set). On cleanup hooks, same as `Continue`.
    Error,
}

impl HookResult {
    /// The C value (`HY_HOOK_CONTINUE`, `HY_HOOK_ERROR`).
    pub const fn raw(self) -> abi::hy_hook_result {
        match self {
            HookResult::Continue => abi::HY_HOOK_CONTINUE,
            HookResult::Error => abi::HY_HOOK_ERROR,
        }
    }
}

/// The level a callback is registered at, and a scope for priority control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// Every session and transaction of a configuration generation.
    Global,
    /// One session.
    Session,
    /// One transaction.
    Transaction,
}

impl Level {
    /// The C value (`HY_HOOK_LEVEL_*`).
    pub const fn raw(self) -> abi::hy_hook_level {
        match self {
            Level::Global => abi::HY_HOOK_LEVEL_GLOBAL,
            Level::Session => abi::HY_HOOK_LEVEL_SESSION,
            Level::Transaction => abi::HY_HOOK_LEVEL_TXN,
        }
    }

    /// The level with this C value.
    pub fn from_raw(raw: abi::hy_hook_level) -> Option<Level> {
        [Level::Global, Level::Session, Level::Transaction].into_iter().find(|l| l.raw() == raw)
    }
}

/// Identifies one hook registration, for inspection and per-transaction changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(pub u64);

/// One callback as a hook would run it for a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackInfo {
    /// The registration.
    pub id: CallbackId,
    /// The name of the plugin that registered it.
    pub plugin: String,
    /// The hook it is registered on.
    pub hook: Option<HookId>,
    /// The level it was registered at.
    pub level: Option<Level>,
    /// Its priority for this transaction.
    pub priority: i32,
    /// Whether it would run for this transaction.
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_ids_round_trip_through_their_c_values_and_events() {
        for hook in HookId::ALL {
            assert_eq!(HookId::from_raw(hook.raw()), Some(hook));
            assert_eq!(HookId::from_event(abi::hook_event(hook.raw())), Some(hook));
        }
        assert_eq!(HookId::ReadRequestHdr.raw(), 0);
        assert_eq!(HookId::PostRemap.raw(), 15);
        assert_eq!(HookId::Shutdown.raw(), 65);
        assert_eq!(HookId::from_raw(3), None);
        assert_eq!(HookId::from_event(abi::HY_EVENT_TIMEOUT), None);
        assert!(HookId::SsnClose.is_session() && HookId::PluginsLoaded.is_lifecycle());
        for level in [Level::Global, Level::Session, Level::Transaction] {
            assert_eq!(Level::from_raw(level.raw()), Some(level));
        }
    }
}
