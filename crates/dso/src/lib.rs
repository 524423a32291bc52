//! Loading plugin shared objects so that a new version loads beside the old one, and an old
//! version really leaves memory once nothing uses it.
//!
//! A [`Loader`] resolves a plugin path against its search directories, fingerprints the file and
//! either hands out the version already loaded from it or loads a new one. In
//! [`ReloadMode::Dynamic`] every new version is byte-copied into its own
//! `<runtime_root>/<uuid>/` directory first, so the dynamic loader sees a file it has never seen
//! and really maps the new code while the old copy keeps serving. A [`Library`] is a
//! reference-counted handle to one loaded version; [`Symbol`]s resolved from it carry a clone of
//! it. When the last handle goes, a reaper thread closes the library, verifies that it is really
//! unmapped, and removes its copy; a version that stays mapped is reported as pinned.
//!
//! The runtime directory, and every directory the loader creates in it, must be private to the
//! effective user (owned by it, writable by nobody else, no symbolic link); the same check is
//! offered to other users of a runtime directory as [`ensure_private_dir`], and whether copies
//! there could be mapped executable as [`mounted_noexec`].
//!
//! This crate owns every call into the dynamic loader (it is the only crate of the workspace that
//! depends on `libloading`). It knows nothing of plugin kinds, entry points or configurations:
//! callers resolve the symbols they need.
//!
//! `unsafe` lives in the `sys` module (the loader and kernel interfaces) and in [`Library`]'s
//! drop, each block with its justification.
//!
//! # Examples
//!
//! ```no_run
//! use hookyard_dso::{Loader, LoaderConfig};
//!
//! # fn main() -> Result<(), hookyard_dso::Error> {
//! let loader = Loader::new(
//!     LoaderConfig::new("/run/hookyard").search_dir("/usr/lib/hookyard/plugins"),
//! )?;
//! let library = loader.load("add_header.so".as_ref())?;
//! // SAFETY: the plugin's ABI declares `hy_version` as `extern "C" fn() -> u32`.
//! let version = unsafe { library.symbol::<extern "C" fn() -> u32>("hy_version")? };
//! println!("{} answers {}", library.path().display(), version());
//! # Ok(())
//! # }
//! ```

mod elf;
mod error;
mod fingerprint;
mod library;
mod loader;
mod private;
mod reaper;
mod registry;
mod runtime;
mod sys;

pub use error::Error;
pub use fingerprint::Fingerprint;
pub use library::{Library, Symbol, VersionId};
pub use loader::{Loader, LoaderConfig, LoaderStats, ReloadMode};
pub use private::ensure_private_dir;
pub use registry::{PinReason, VersionInfo, VersionState};
pub use runtime::mounted_noexec;
