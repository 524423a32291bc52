//! Compiling C against the header, and reading a plugin's descriptor the way a host does.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;

use hookyard_abi::{DescriptorFields, Probe, hy_descriptor, symbol};
use hookyard_dso::Library;

/// This crate's directory.
pub(crate) fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the system C compiler (`$CC`, else `cc`) with `-I include` and `args`, failing the test
/// with the compiler's output when it fails.
pub(crate) fn cc(args: &[&str]) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let mut cmd = Command::new(&cc);
    cmd.arg("-I").arg(hookyard_abi::HEADER_DIR).args(args);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compiles `tests/c/<source>` with `defines` into the shared object `<dir>/<name>`.
pub(crate) fn shared_object(dir: &Path, source: &str, defines: &[&str], name: &str) -> PathBuf {
    let out = dir.join(name);
    let source = crate_dir().join("tests/c").join(source);
    let mut args = vec!["-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror"];
    args.extend_from_slice(defines);
    args.extend(["-o", out.to_str().unwrap(), source.to_str().unwrap()]);
    cc(&args);
    out
}

/// A host's view of a loaded library: reads the descriptor and probes symbols, recording every
/// symbol it looked up in order.
pub(crate) struct LibraryProbe<'a> {
    library: &'a Library,
    pub(crate) looked_up: Vec<String>,
}

impl<'a> LibraryProbe<'a> {
    pub(crate) fn new(library: &'a Library) -> LibraryProbe<'a> {
        LibraryProbe { library, looked_up: Vec::new() }
    }

    fn descriptor_ptr(&mut self) -> Option<*const hy_descriptor> {
        self.looked_up.push(symbol::DESCRIPTOR.to_owned());
        // SAFETY: the ABI declares `hy_plugin_descriptor` as a static `hy_descriptor`, and a
        // static is resolved as a pointer to it.
        let sym =
            unsafe { self.library.optional_symbol::<*const hy_descriptor>(symbol::DESCRIPTOR) };
        sym.unwrap().map(|s| *s)
    }
}

/// Copies a C string out of a descriptor; `None` for NULL.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that lives while the library is loaded.
unsafe fn c_string(ptr: *const std::ffi::c_char) -> Option<CString> {
    // SAFETY: per the function's contract.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) }.to_owned())
}

impl Probe for LibraryProbe<'_> {
    fn magic(&mut self) -> Option<u32> {
        let ptr = self.descriptor_ptr()?;
        // SAFETY: the magic is the first field of every descriptor, of every ABI major, and the
        // library stays loaded while `self.library` is borrowed.
        Some(unsafe { std::ptr::addr_of!((*ptr).magic).read() })
    }

    fn descriptor(&mut self) -> DescriptorFields {
        let ptr = self.descriptor_ptr().expect("called after the magic matched");
        // SAFETY: the magic matched, so this is a descriptor, whose first five fields never
        // move in any ABI major; its strings are static in the loaded library. The fields after
        // them are read only for this major, where they are known to exist.
        unsafe {
            let abi_major = std::ptr::addr_of!((*ptr).abi_major).read();
            let same_major = abi_major == hookyard_abi::HY_ABI_MAJOR;
            DescriptorFields {
                abi_major,
                abi_minor: std::ptr::addr_of!((*ptr).abi_minor).read(),
                name: c_string(std::ptr::addr_of!((*ptr).name).read()),
                version: c_string(std::ptr::addr_of!((*ptr).version).read()),
                flags: if same_major { std::ptr::addr_of!((*ptr).flags).read() } else { 0 },
                reserved: if same_major { std::ptr::addr_of!((*ptr).reserved).read() } else { 0 },
            }
        }
    }

    fn exports(&mut self, name: &str) -> bool {
        self.looked_up.push(name.to_owned());
        // SAFETY: only the address is looked at, never called or read.
        unsafe { self.library.optional_symbol::<*const u8>(name) }.unwrap().is_some()
    }
}
