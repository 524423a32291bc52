//! Why a plugin is refused.

use std::path::PathBuf;

use crate::errbuf::ErrorBuffer;
use crate::version::HY_PLUGIN_MAGIC;

/// Why a plugin cannot be used: its descriptor, its exports, or its init and new-instance
/// entry points said no.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plugin exports no `hy_plugin_descriptor`.
    #[error(
        "plugin `{}` is not a hookyard plugin: it exports no `hy_plugin_descriptor`; build it \
         with HY_PLUGIN_DESCRIPTOR from hookyard.h or with hookyard-sdk's `plugin!` macro",
        path.display()
    )]
    MissingDescriptor {
        /// The plugin file.
        path: PathBuf,
    },
    /// The descriptor does not start with [`HY_PLUGIN_MAGIC`].
    #[error(
        "plugin `{}` has no valid descriptor: `hy_plugin_descriptor` starts with {found:#010x}, \
         not the magic {HY_PLUGIN_MAGIC:#010x}; rebuild it with HY_PLUGIN_DESCRIPTOR from \
         hookyard.h or with hookyard-sdk",
        path.display()
    )]
    BadMagic {
        /// The plugin file.
        path: PathBuf,
        /// The value found instead.
        found: u32,
    },
    /// The plugin was built for another ABI major.
    #[error(
        "plugin {name} {version} (`{}`) was built for plugin ABI {}.{}, but this hookyard \
         provides ABI {}.{}: rebuild the plugin against this hookyard's hookyard.h or \
         hookyard-sdk, or run a hookyard that provides ABI {}.x",
        path.display(), plugin_abi.0, plugin_abi.1, host_abi.0, host_abi.1, plugin_abi.0
    )]
    MajorMismatch {
        /// The plugin's name.
        name: String,
        /// The plugin's version.
        version: String,
        /// The plugin file.
        path: PathBuf,
        /// The ABI (major, minor) the plugin was built for.
        plugin_abi: (u16, u16),
        /// The ABI (major, minor) of this host.
        host_abi: (u16, u16),
    },
    /// The plugin was built for a newer ABI minor than the host's.
    #[error(
        "plugin {name} {version} (`{}`) was built for plugin ABI {}.{}, newer than this \
         hookyard's ABI {}.{}: upgrade hookyard to one that provides ABI {}.{} or later, or \
         rebuild the plugin against ABI {}.{}",
        path.display(), plugin_abi.0, plugin_abi.1, host_abi.0, host_abi.1, plugin_abi.0,
        plugin_abi.1, host_abi.0, host_abi.1
    )]
    NewerMinor {
        /// The plugin's name.
        name: String,
        /// The plugin's version.
        version: String,
        /// The plugin file.
        path: PathBuf,
        /// The ABI (major, minor) the plugin was built for.
        plugin_abi: (u16, u16),
        /// The ABI (major, minor) of this host.
        host_abi: (u16, u16),
    },
    /// A descriptor field is malformed.
    #[error(
        "plugin `{}` has an invalid descriptor: {reason}; rebuild it with HY_PLUGIN_DESCRIPTOR \
         from hookyard.h or with hookyard-sdk",
        path.display()
    )]
    InvalidDescriptor {
        /// The plugin file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The descriptor sets flags this ABI version does not define.
    #[error(
        "plugin {name} {version} (`{}`) sets descriptor flags {flags:#x} that this hookyard does \
         not know: rebuild it against this hookyard's hookyard.h or hookyard-sdk",
        path.display()
    )]
    UnknownFlags {
        /// The plugin's name.
        name: String,
        /// The plugin's version.
        version: String,
        /// The plugin file.
        path: PathBuf,
        /// The unknown bits.
        flags: u32,
    },
    /// A required entry point is missing (ATS's message, word for word).
    #[error("plugin {config_path} missing required function {symbol}{}", if_defined(defined))]
    MissingFunction {
        /// The plugin path as the configuration wrote it.
        config_path: String,
        /// The missing symbol.
        symbol: String,
        /// The symbol whose presence requires it, for the new/delete instance pair.
        defined: Option<String>,
    },
    /// The plugin's init entry point failed (ATS's message).
    #[error("failed to initialize plugin {config_path}: {message}")]
    InitFailed {
        /// The plugin path as the configuration wrote it.
        config_path: String,
        /// The plugin's error buffer, or "Unknown plugin error".
        message: String,
    },
    /// The plugin's new-instance entry point failed (ATS's message).
    #[error("failed to create instance for plugin {config_path}: {message}")]
    InstanceFailed {
        /// The plugin path as the configuration wrote it.
        config_path: String,
        /// The plugin's error buffer, or "Unknown plugin error".
        message: String,
    },
}

fn if_defined(defined: &Option<String>) -> String {
    defined.as_ref().map(|d| format!(" if {d} is defined")).unwrap_or_default()
}

impl Error {
    /// The error for an init entry point that returned `HY_ERROR`, with its buffer's message.
    pub fn init_failed(config_path: &str, errbuf: &ErrorBuffer) -> Error {
        Error::InitFailed {
            config_path: config_path.to_owned(),
            message: errbuf.message_or_unknown(),
        }
    }

    /// The error for a new-instance entry point that returned `HY_ERROR`, with its buffer's
    /// message.
    pub fn instance_failed(config_path: &str, errbuf: &ErrorBuffer) -> Error {
        Error::InstanceFailed {
            config_path: config_path.to_owned(),
            message: errbuf.message_or_unknown(),
        }
    }
}
