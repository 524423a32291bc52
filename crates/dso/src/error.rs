//! The errors of loading a plugin.

use std::io;
use std::path::{Path, PathBuf};

/// Why a plugin could not be loaded, or a loader could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No file exists at the plugin path, or (for a relative path) in any search directory.
    #[error("plugin `{}` not found{}", path.display(), searched_suffix(path, searched))]
    NotFound {
        /// The path as the configuration gave it.
        path: PathBuf,
        /// Every directory searched, in order (empty for an absolute path).
        searched: Vec<PathBuf>,
    },
    /// The plugin path names a directory or another file that is not a regular file.
    #[error("plugin `{}` is not a regular file", path.display())]
    NotRegularFile {
        /// The canonical path of the plugin.
        path: PathBuf,
    },
    /// The plugin file could not be opened or read.
    #[error("cannot read plugin `{}`", path.display())]
    Read {
        /// The canonical path of the plugin.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The plugin could not be copied into the runtime directory.
    #[error("cannot copy plugin `{}` to `{}`", path.display(), runtime.display())]
    Copy {
        /// The canonical path of the plugin.
        path: PathBuf,
        /// Where the copy was to be written.
        runtime: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The plugin file changed while it was being copied.
    #[error("plugin `{}` changed while it was being copied; load it again once it is fully written", path.display())]
    Unstable {
        /// The canonical path of the plugin.
        path: PathBuf,
    },
    /// The file is not a whole ELF shared object this process can load (checked before the
    /// dynamic loader sees it, since a truncated file would crash the process inside it).
    #[error("plugin `{}` is not a loadable shared object: {reason}", path.display())]
    InvalidElf {
        /// The canonical path of the plugin.
        path: PathBuf,
        /// What is wrong: the header field, or the range past the end of the file.
        reason: String,
    },
    /// The dynamic loader refused the file.
    #[error("cannot open plugin `{}`: {message}", path.display())]
    Open {
        /// The canonical path of the plugin.
        path: PathBuf,
        /// The dynamic loader's own message.
        message: String,
    },
    /// A symbol the caller requires is not exported by the plugin.
    #[error("plugin `{}` does not export the required symbol `{symbol}`", path.display())]
    MissingSymbol {
        /// The canonical path of the plugin.
        path: PathBuf,
        /// The symbol's name.
        symbol: String,
    },
    /// The plugin could not be marked as never to be unloaded.
    #[error("cannot pin plugin `{}` in memory: {message}", path.display())]
    Pin {
        /// The canonical path of the plugin.
        path: PathBuf,
        /// The dynamic loader's own message.
        message: String,
    },
    /// A directory that must be private to the effective user is not, or cannot be created.
    #[error("directory `{}` is not safe to use: {reason}", path.display())]
    NotPrivate {
        /// The directory refused (the one asked for, or a missing one above it).
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
        /// The operating system's error, where there is one.
        #[source]
        source: Option<io::Error>,
    },
    /// The runtime directory cannot hold plugin copies.
    #[error("runtime directory `{}` is unusable: {reason}", path.display())]
    RuntimeRoot {
        /// The runtime directory.
        path: PathBuf,
        /// What is wrong with it, and what to do.
        reason: String,
        /// The operating system's error, where there is one.
        #[source]
        source: Option<io::Error>,
    },
}

fn searched_suffix(path: &Path, searched: &[PathBuf]) -> String {
    if path.is_absolute() {
        return String::new();
    }
    if searched.is_empty() {
        return ": the path is relative and no plugin search directory is configured".to_owned();
    }
    let dirs: Vec<String> = searched.iter().map(|d| format!("`{}`", d.display())).collect();
    format!(" in the search directories {}", dirs.join(", "))
}

impl Error {
    /// The error for a runtime directory problem.
    pub(crate) fn runtime_root(
        path: &Path,
        reason: impl Into<String>,
        source: Option<io::Error>,
    ) -> Error {
        Error::RuntimeRoot { path: path.to_owned(), reason: reason.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::Error;

    #[test]
    fn not_found_names_every_searched_directory() {
        let err = Error::NotFound {
            path: "p.so".into(),
            searched: vec![PathBuf::from("/s1"), PathBuf::from("/s2")],
        };
        assert_eq!(
            err.to_string(),
            "plugin `p.so` not found in the search directories `/s1`, `/s2`"
        );
        let err = Error::NotFound { path: "/abs/p.so".into(), searched: vec![] };
        assert_eq!(err.to_string(), "plugin `/abs/p.so` not found");
        let err = Error::NotFound { path: "p.so".into(), searched: vec![] };
        assert!(err.to_string().ends_with("no plugin search directory is configured"));
    }
}
