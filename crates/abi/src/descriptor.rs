//! The plugin descriptor and its validation.
//!
//! A plugin exports one static [`hy_descriptor`] named `hy_plugin_descriptor`. The host reads
//! it before touching any other symbol: first the magic, then (only if the magic matched) the
//! other fields, whose first five never move in any ABI major, so a refused plugin can always be
//! named.

use std::ffi::{CString, c_char};
use std::path::Path;

use crate::error::Error;
use crate::layout::{define_constants, define_struct};
use crate::version::{HY_ABI_MAJOR, HY_ABI_MINOR, HY_PLUGIN_MAGIC};

define_constants! {
    CONSTANTS;
    /// The plugin cannot be unloaded: the host maps it with `RTLD_NODELETE`
    /// (`hookyard_dso::Library::pin`) and never unloads it.
    HY_PLUGIN_FLAG_CANNOT_UNLOAD: u32 = 0x1;
}

/// Every flag this ABI version defines.
pub const KNOWN_FLAGS: u32 = HY_PLUGIN_FLAG_CANNOT_UNLOAD;

define_struct! {
    /// The static every plugin exports as `hy_plugin_descriptor`.
    #[derive(Clone, Copy, Debug)]
    pub struct hy_descriptor {
        /// [`HY_PLUGIN_MAGIC`].
        pub magic: u32,
        /// The ABI major the plugin was built for.
        pub abi_major: u16,
        /// The ABI minor the plugin was built for.
        pub abi_minor: u16,
        /// The plugin's name: a non-empty UTF-8 C string with static storage.
        pub name: *const c_char,
        /// The plugin's version: a non-empty UTF-8 C string with static storage.
        pub version: *const c_char,
        /// `HY_PLUGIN_FLAG_*` bits.
        pub flags: u32,
        /// Zero.
        pub reserved: u32,
    }
}

/// The descriptor's fields past the magic, as the host read them (the strings copied out).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorFields {
    /// [`hy_descriptor::abi_major`].
    pub abi_major: u16,
    /// [`hy_descriptor::abi_minor`].
    pub abi_minor: u16,
    /// The bytes of [`hy_descriptor::name`] without its NUL; `None` for a null pointer.
    pub name: Option<CString>,
    /// The bytes of [`hy_descriptor::version`] without its NUL; `None` for a null pointer.
    pub version: Option<CString>,
    /// [`hy_descriptor::flags`].
    pub flags: u32,
    /// [`hy_descriptor::reserved`].
    pub reserved: u32,
}

/// Who a plugin says it is, once its descriptor passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginIdentity {
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// The ABI minor it was built for (at most [`HY_ABI_MINOR`]).
    pub abi_minor: u16,
    /// Its `HY_PLUGIN_FLAG_*` bits.
    pub flags: u32,
}

impl PluginIdentity {
    /// Whether the plugin declared it cannot be unloaded ([`HY_PLUGIN_FLAG_CANNOT_UNLOAD`]).
    pub fn cannot_unload(&self) -> bool {
        self.flags & HY_PLUGIN_FLAG_CANNOT_UNLOAD != 0
    }
}

/// Checks the descriptor's first field. `magic` is `None` when the plugin exports no
/// `hy_plugin_descriptor`. Only when this passes may the host read the other fields.
///
/// # Errors
///
/// [`Error::MissingDescriptor`] or [`Error::BadMagic`], naming `path`.
pub fn check_magic(path: &Path, magic: Option<u32>) -> Result<(), Error> {
    match magic {
        None => Err(Error::MissingDescriptor { path: path.to_owned() }),
        Some(HY_PLUGIN_MAGIC) => Ok(()),
        Some(found) => Err(Error::BadMagic { path: path.to_owned(), found }),
    }
}

/// Checks the descriptor's fields against this ABI version, after [`check_magic`] passed.
///
/// The order is: the major, the minor (both reported with the plugin's name even if it is not
/// valid UTF-8), then the name and version, the flags and the reserved field.
///
/// # Errors
///
/// [`Error::MajorMismatch`], [`Error::NewerMinor`], [`Error::InvalidDescriptor`] or
/// [`Error::UnknownFlags`], each naming the plugin and `path`, both versions where they differ,
/// and what to do.
pub fn check_descriptor(path: &Path, fields: &DescriptorFields) -> Result<PluginIdentity, Error> {
    let lossy = |s: &Option<CString>| match s {
        Some(s) if !s.as_bytes().is_empty() => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        _ => "(unnamed)".to_owned(),
    };
    let found = (fields.abi_major, fields.abi_minor);
    if fields.abi_major != HY_ABI_MAJOR {
        return Err(Error::MajorMismatch {
            name: lossy(&fields.name),
            version: lossy(&fields.version),
            path: path.to_owned(),
            plugin_abi: found,
            host_abi: (HY_ABI_MAJOR, HY_ABI_MINOR),
        });
    }
    if fields.abi_minor > HY_ABI_MINOR {
        return Err(Error::NewerMinor {
            name: lossy(&fields.name),
            version: lossy(&fields.version),
            path: path.to_owned(),
            plugin_abi: found,
            host_abi: (HY_ABI_MAJOR, HY_ABI_MINOR),
        });
    }
    let invalid = |reason: &str| Error::InvalidDescriptor {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let text = |s: &Option<CString>, what: &str| -> Result<String, Error> {
        let s = s.as_ref().ok_or_else(|| invalid(&format!("its {what} is NULL")))?;
        let s = s.to_str().map_err(|_| invalid(&format!("its {what} is not UTF-8")))?;
        if s.is_empty() {
            return Err(invalid(&format!("its {what} is empty")));
        }
        Ok(s.to_owned())
    };
    let name = text(&fields.name, "name")?;
    let version = text(&fields.version, "version")?;
    let unknown = fields.flags & !KNOWN_FLAGS;
    if unknown != 0 {
        return Err(Error::UnknownFlags { name, version, path: path.to_owned(), flags: unknown });
    }
    if fields.reserved != 0 {
        return Err(invalid("its reserved field is not zero"));
    }
    Ok(PluginIdentity { name, version, abi_minor: fields.abi_minor, flags: fields.flags })
}

#[cfg(test)]
mod tests;
