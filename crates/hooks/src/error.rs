//! The errors of registering callbacks and changing priorities.

use crate::id::{HookId, Level};
use crate::priority::{PluginId, Priority};
use crate::table::CallbackId;

/// Why a registration or a priority change was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A priority or threshold above the plugin's ceiling.
    #[error("priority {priority} is above plugin `{plugin}`'s ceiling {ceiling}")]
    AboveCeiling {
        /// The plugin's name.
        plugin: String,
        /// The priority asked for.
        priority: Priority,
        /// The plugin's ceiling.
        ceiling: Priority,
    },
    /// A hook registered at a level where it never fires.
    #[error("hook {hook} cannot have {level} callbacks")]
    WrongLevel {
        /// The hook.
        hook: HookId,
        /// The level asked for.
        level: Level,
    },
    /// A plugin id the table does not know.
    #[error("unknown plugin id {}", .0.get())]
    UnknownPlugin(PluginId),
    /// A callback id that is not on the hook (or was removed for this transaction).
    #[error("no callback {} on this hook", .0.get())]
    UnknownCallback(CallbackId),
    /// A priority or threshold set above the caller's own ceiling.
    #[error("{value} is above the caller's ceiling {ceiling}")]
    AboveOwnCeiling {
        /// The value asked for.
        value: Priority,
        /// The caller's ceiling.
        ceiling: Priority,
    },
    /// The caller's ceiling does not reach the callback or plugin it wants to change.
    #[error(
        "not permitted: {what} has priority {priority}, not below the caller's ceiling {ceiling}"
    )]
    NotPermitted {
        /// What the caller wanted to change.
        what: String,
        /// Its priority.
        priority: Priority,
        /// The caller's ceiling.
        ceiling: Priority,
    },
    /// An ordering constraint that would make a plugin run before itself.
    #[error("ordering `{first}` before `{then}` would close a cycle")]
    OrderCycle {
        /// The plugin asked to run first.
        first: String,
        /// The plugin asked to run after it.
        then: String,
    },
}
