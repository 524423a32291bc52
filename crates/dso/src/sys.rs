//! The dynamic loader and kernel interfaces: every `unsafe` call of this crate into C.
//!
//! `unsafe` is needed because opening a library runs its initialisers, closing it runs its
//! finalisers, and a symbol is only as well typed as its caller claims. The functions here keep
//! those obligations visible (`unsafe fn` with `# Safety`) or discharge them locally.

use std::ffi::{CString, c_void};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use libloading::os::unix::{Library as RawLibrary, RTLD_LOCAL, RTLD_NOW};

/// An open handle from `dlopen`. Dropping it calls `dlclose`.
#[derive(Debug)]
pub(crate) struct Handle(RawLibrary);

impl Handle {
    /// Opens `path` with `RTLD_NOW | RTLD_LOCAL`: every symbol is bound now, so a missing
    /// dependency fails here and not in the middle of a transaction, and nothing the plugin
    /// exports can interpose on another plugin.
    ///
    /// # Safety
    ///
    /// Opening runs the library's initialisers, and closing the handle later runs its finalisers:
    /// the caller trusts the file to be a plugin whose constructors and destructors are sound.
    pub(crate) unsafe fn open(path: &Path) -> Result<Handle, String> {
        // SAFETY: the caller vouches for the library's initialisers (see `# Safety`).
        unsafe { RawLibrary::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
            .map(Handle)
            .map_err(|e| loader_message(&e))
    }

    /// Looks up `name`; `Ok(None)` when the library does not export it.
    ///
    /// # Safety
    ///
    /// `T` must be the type of the exported item: a function pointer type with the function's
    /// exact signature and ABI, or a raw pointer to a static of the exported type.
    pub(crate) unsafe fn symbol<T: Copy>(&self, name: &str) -> Result<Option<T>, String> {
        const { assert!(size_of::<T>() == size_of::<*mut c_void>()) };
        // SAFETY: reading the address as a data pointer is valid for any exported item; the
        // library stays open while `self` lives.
        let address = match unsafe { self.0.get::<*mut c_void>(name) } {
            Ok(symbol) => *symbol,
            Err(libloading::Error::DlSym { .. } | libloading::Error::DlSymUnknown) => {
                return Ok(None);
            }
            Err(e) => return Err(loader_message(&e)),
        };
        if address.is_null() {
            // An item may legitimately resolve to null; no function or static lives there.
            return Ok(None);
        }
        // SAFETY: `T` has the size of a pointer (asserted above) and the caller guarantees it is
        // the exported item's pointer type; `address` is non-null, as a function pointer must be.
        Ok(Some(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&address) }))
    }

    /// Calls `dlclose`, reporting the loader's error. `Ok` does not mean the library is unmapped.
    pub(crate) fn close(self) -> Result<(), String> {
        self.0.close().map_err(|e| loader_message(&e))
    }
}

/// Marks the already-loaded library at `path` so the dynamic loader never unmaps it.
pub(crate) fn mark_nodelete(path: &Path) -> Result<(), String> {
    // SAFETY: with RTLD_NOLOAD nothing new is loaded, so no initialiser runs; the extra reference
    // is dropped at once (the NODELETE flag stays on the library).
    let handle = unsafe {
        RawLibrary::open(
            Some(path),
            RTLD_NOW | RTLD_LOCAL | libc::RTLD_NOLOAD | libc::RTLD_NODELETE,
        )
    };
    handle.map(drop).map_err(|e| loader_message(&e))
}

/// Whether the dynamic loader still knows a library at `path`.
pub(crate) fn is_loaded(path: &Path) -> bool {
    // SAFETY: with RTLD_NOLOAD nothing new is loaded, so no initialiser runs. If the library is
    // still loaded the extra reference is dropped at once; that `dlclose` cannot bring its count
    // to zero, since the reference it releases is the one just taken.
    let handle = unsafe { RawLibrary::open(Some(path), RTLD_LAZY_NOLOAD) };
    handle.is_ok()
}

const RTLD_LAZY_NOLOAD: i32 = libloading::os::unix::RTLD_LAZY | libc::RTLD_NOLOAD;

/// Whether any mapping of this process is backed by the file at `path` (per `/proc/self/maps`).
pub(crate) fn is_mapped(path: &Path) -> io::Result<bool> {
    let maps = fs::read("/proc/self/maps")?;
    let wanted = path.as_os_str().as_bytes();
    Ok(maps.split(|&b| b == b'\n').any(|line| mapped_path(line) == Some(wanted)))
}

/// The path field of one `/proc/self/maps` line, without a ` (deleted)` suffix.
fn mapped_path(line: &[u8]) -> Option<&[u8]> {
    let start = line.iter().position(|&b| b == b'/')?;
    let path = &line[start..];
    Some(path.strip_suffix(b" (deleted)").unwrap_or(path))
}

/// Whether the filesystem holding `path` is mounted `noexec`.
pub(crate) fn is_noexec(path: &Path) -> io::Result<bool> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a NUL-terminated string that outlives the call, and `stat` points to
    // writable memory of the right size for `statvfs` to fill.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `statvfs` returned 0, so it initialised `stat`.
    let stat = unsafe { stat.assume_init() };
    Ok(stat.f_flag & libc::ST_NOEXEC != 0)
}

/// The effective user id of this process.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The loader's message: libloading's summary followed by `dlerror`'s text.
fn loader_message(err: &libloading::Error) -> String {
    match std::error::Error::source(err) {
        Some(source) => source.to_string(),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::mapped_path;

    #[test]
    fn maps_path_field_is_found_with_and_without_deleted_suffix() {
        let line = b"7f1c2a600000-7f1c2a601000 r-xp 00001000 fd:01 1234   /run/hy/u/p.so (deleted)";
        assert_eq!(mapped_path(line), Some(&b"/run/hy/u/p.so"[..]));
        let line = b"7f1c2a600000-7f1c2a601000 r-xp 00001000 fd:01 1234   /run/hy/u/p.so";
        assert_eq!(mapped_path(line), Some(&b"/run/hy/u/p.so"[..]));
        assert_eq!(mapped_path(b"7ffd-7ffe rw-p 00000000 00:00 0   [stack]"), None);
    }

    #[test]
    fn the_current_executable_is_mapped() {
        let exe = std::env::current_exe().unwrap();
        assert!(super::is_mapped(&exe).unwrap());
        assert!(!super::is_mapped(std::path::Path::new("/no/such/file.so")).unwrap());
    }
}
