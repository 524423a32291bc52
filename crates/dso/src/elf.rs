//! A check that a file is a whole ELF shared object this process can load, made before the
//! dynamic loader sees it.
//!
//! `dlopen` maps the file and reads its headers and segments through that mapping: a file cut
//! short (a truncated copy, a build still writing it) makes it touch pages past the end of the
//! file, and the process dies of `SIGBUS` instead of getting an error. So the few fixed fields
//! that decide where the loader will read are checked against the file's length first: the
//! identification (magic, class, byte order), the type and machine, and that the program header
//! table, every segment's file range and the section header table lie inside the file.
//!
//! A file without the ELF magic number is left to the dynamic loader, which refuses it without
//! mapping it.
//!
//! Written here over the bytes rather than with an ELF crate: a handful of fixed-offset fields
//! are read, nothing is interpreted beyond them, and no `unsafe` is needed.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const CLASS_32: u8 = 1;
const CLASS_64: u8 = 2;
const DATA_LE: u8 = 1;
const DATA_BE: u8 = 2;
const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;

/// Why a file cannot be handed to the dynamic loader, or the read that failed.
#[derive(Debug)]
pub(crate) enum Invalid {
    /// The file is not a loadable shared object for this process; the reason says why.
    Refused(String),
    /// The file could not be read.
    Io(io::Error),
}

/// The layout of one ELF class: header size and field offsets.
struct Class {
    bits: u32,
    header: usize,
    phoff: usize,
    shoff: usize,
    phentsize: usize,
    phnum: usize,
    shentsize: usize,
    shnum: usize,
    /// The size of one section header.
    sh_size: u64,
    /// The size of one program header, and the offsets of `p_offset` and `p_filesz` in it.
    ph_size: u64,
    p_offset: usize,
    p_filesz: usize,
}

const ELF64: Class = Class {
    bits: 64,
    header: 64,
    phoff: 32,
    shoff: 40,
    phentsize: 54,
    phnum: 56,
    shentsize: 58,
    shnum: 60,
    sh_size: 64,
    ph_size: 56,
    p_offset: 8,
    p_filesz: 32,
};

const ELF32: Class = Class {
    bits: 32,
    header: 52,
    phoff: 28,
    shoff: 32,
    phentsize: 42,
    phnum: 44,
    shentsize: 46,
    shnum: 48,
    sh_size: 40,
    ph_size: 32,
    p_offset: 4,
    p_filesz: 16,
};

/// Reads little- or big-endian fields out of a byte slice known to be long enough.
struct Fields<'a> {
    bytes: &'a [u8],
    big: bool,
    wide: bool,
}

impl Fields<'_> {
    fn u16(&self, at: usize) -> u16 {
        let b = [self.bytes[at], self.bytes[at + 1]];
        if self.big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) }
    }

    fn u32(&self, at: usize) -> u32 {
        let mut b = [0; 4];
        b.copy_from_slice(&self.bytes[at..at + 4]);
        if self.big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
    }

    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, at: usize) -> u64 {
        if !self.wide {
            return u64::from(self.u32(at));
        }
        let mut b = [0; 8];
        b.copy_from_slice(&self.bytes[at..at + 8]);
        if self.big { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) }
    }
}

/// What a file must match to load into this process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Host {
    pub(crate) class: u8,
    pub(crate) data: u8,
    pub(crate) machine: u16,
}

impl Host {
    /// This process: its pointer width, byte order, and the machine of its own executable.
    pub(crate) fn current() -> Host {
        static HOST: std::sync::OnceLock<Host> = std::sync::OnceLock::new();
        *HOST.get_or_init(|| Host {
            class: if cfg!(target_pointer_width = "64") { CLASS_64 } else { CLASS_32 },
            data: if cfg!(target_endian = "big") { DATA_BE } else { DATA_LE },
            machine: own_machine().unwrap_or_else(|| machine_of_arch(std::env::consts::ARCH)),
        })
    }
}

/// The `e_machine` of the running executable.
fn own_machine() -> Option<u16> {
    let exe = File::open("/proc/self/exe").ok()?;
    let mut header = [0u8; 20];
    exe.read_exact_at(&mut header, 0).ok()?;
    let fields = Fields { bytes: &header, big: header[5] == DATA_BE, wide: false };
    (header[..4] == MAGIC).then(|| fields.u16(18))
}

/// The ELF machine number of a Rust target architecture (0, "none", when unknown).
fn machine_of_arch(arch: &str) -> u16 {
    match arch {
        "x86" => 3,
        "arm" => 40,
        "x86_64" => 62,
        "aarch64" => 183,
        "riscv64" | "riscv32" => 243,
        "powerpc" => 20,
        "powerpc64" => 21,
        "s390x" => 22,
        "mips" | "mips64" => 8,
        "loongarch64" => 258,
        _ => 0,
    }
}

/// A name for the machines a plugin is most likely built for, to make a refusal readable.
fn machine_name(machine: u16) -> &'static str {
    match machine {
        3 => "x86",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "s390x",
        40 => "ARM",
        62 => "x86-64",
        183 => "AArch64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => "unknown",
    }
}

/// Checks the open file `file` (of `len` bytes) against `host`, reading only its headers.
pub(crate) fn check_file(file: &File, len: u64, host: Host) -> Result<(), Invalid> {
    let mut header = vec![0u8; usize::try_from(len.min(64)).unwrap_or(64)];
    file.read_exact_at(&mut header, 0).map_err(Invalid::Io)?;
    if !header.starts_with(&MAGIC) {
        // Not ELF at all (or empty): the dynamic loader reads such a file instead of mapping it,
        // and refuses it safely with its own message ("invalid ELF header", "file too short").
        return Ok(());
    }
    let table = header_table(&header, len, host).map_err(Invalid::Refused)?;
    let mut phdrs = vec![0u8; table.size];
    file.read_exact_at(&mut phdrs, table.offset).map_err(Invalid::Io)?;
    check_segments(&phdrs, &header, len)
        .and_then(|()| check_sections(&header, len))
        .map_err(Invalid::Refused)
}

/// Where the program header table is, once the ELF header passed.
#[derive(Debug, PartialEq, Eq)]
struct Table {
    offset: u64,
    size: usize,
}

const TRUNCATED: &str = "the file is truncated or still being written";

fn past_end(what: &str, start: u64, end: Option<u64>, len: u64) -> String {
    match end {
        Some(end) => format!(
            "its {what} (bytes {start}..{end}) extends past the end of the file ({len} bytes); \
             {TRUNCATED}"
        ),
        None => format!("its {what} (from byte {start}) has an impossible size"),
    }
}

/// Checks the ELF header (`bytes`: the file's first bytes, up to 64) of a file of `len` bytes.
fn header_table(bytes: &[u8], len: u64, host: Host) -> Result<Table, String> {
    if len == 0 {
        return Err("the file is empty".to_owned());
    }
    if !MAGIC.starts_with(&bytes[..bytes.len().min(4)]) {
        return Err("it is not an ELF file (no ELF magic number)".to_owned());
    }
    if bytes.len() < 16 {
        return Err(format!("it is {len} bytes, too short for an ELF header; {TRUNCATED}"));
    }
    let class = match bytes[4] {
        CLASS_64 => &ELF64,
        CLASS_32 => &ELF32,
        other => return Err(format!("its ELF class {other} is neither 32- nor 64-bit")),
    };
    let host_bits = if host.class == CLASS_64 { 64 } else { 32 };
    if class.bits != host_bits {
        return Err(format!(
            "it is a {}-bit ELF file; this process is {host_bits}-bit",
            class.bits
        ));
    }
    let big = match bytes[5] {
        DATA_LE => false,
        DATA_BE => true,
        other => return Err(format!("its ELF byte order {other} is unknown")),
    };
    if bytes[5] != host.data {
        let order = |big: bool| if big { "big-endian" } else { "little-endian" };
        return Err(format!("it is {}; this process is {}", order(big), order(!big)));
    }
    if bytes.len() < class.header {
        return Err(format!("it is {len} bytes, too short for an ELF header; {TRUNCATED}"));
    }
    let f = Fields { bytes, big, wide: class.bits == 64 };
    let kind = f.u16(16);
    if kind != ET_DYN {
        let what = match kind {
            1 => "a relocatable object (.o)",
            2 => "an executable",
            4 => "a core dump",
            _ => "an ELF file of another type",
        };
        return Err(format!("it is {what} (ELF type {kind}), not a shared object"));
    }
    let machine = f.u16(18);
    if machine != host.machine {
        return Err(format!(
            "it is built for machine {machine} ({}); this process runs on {} ({})",
            machine_name(machine),
            host.machine,
            machine_name(host.machine)
        ));
    }
    let phoff = f.word(class.phoff);
    let phentsize = u64::from(f.u16(class.phentsize));
    let phnum = u64::from(f.u16(class.phnum));
    if phnum == 0 {
        return Err("it has no program headers, so nothing to load".to_owned());
    }
    if phentsize < class.ph_size {
        return Err(format!("its program header size {phentsize} is too small"));
    }
    let ph_end = phnum.checked_mul(phentsize).and_then(|size| phoff.checked_add(size));
    if ph_end.is_none_or(|end| end > len) {
        return Err(past_end("program header table", phoff, ph_end, len));
    }
    let size = usize::try_from(phnum * phentsize)
        .map_err(|_| past_end("program header table", phoff, None, len))?;
    Ok(Table { offset: phoff, size })
}

/// Checks that the section header table, if any, lies inside the file (`header` passed
/// [`header_table`]).
fn check_sections(header: &[u8], len: u64) -> Result<(), String> {
    let class = if header[4] == CLASS_64 { &ELF64 } else { &ELF32 };
    let f = Fields { bytes: header, big: header[5] == DATA_BE, wide: class.bits == 64 };
    let shoff = f.word(class.shoff);
    if shoff != 0 {
        // A count of 0 with a table means the real count is in the first entry: one must fit.
        let shnum = u64::from(f.u16(class.shnum)).max(1);
        let shentsize = u64::from(f.u16(class.shentsize));
        if shentsize < class.sh_size {
            return Err(format!("its section header size {shentsize} is too small"));
        }
        let sh_end = shentsize.checked_mul(shnum).and_then(|size| shoff.checked_add(size));
        if sh_end.is_none_or(|end| end > len) {
            return Err(past_end("section header table", shoff, sh_end, len));
        }
    }
    Ok(())
}

/// Checks that every segment's file range lies inside the file (`phdrs`: the whole table).
fn check_segments(phdrs: &[u8], header: &[u8], len: u64) -> Result<(), String> {
    let class = if header[4] == CLASS_64 { &ELF64 } else { &ELF32 };
    let big = header[5] == DATA_BE;
    let hf = Fields { bytes: header, big, wide: class.bits == 64 };
    let entry = usize::from(hf.u16(class.phentsize));
    for (index, ph) in phdrs.chunks_exact(entry).enumerate() {
        let f = Fields { bytes: ph, big, wide: class.bits == 64 };
        let offset = f.word(class.p_offset);
        let filesz = f.word(class.p_filesz);
        let end = offset.checked_add(filesz);
        if filesz > 0 && end.is_none_or(|end| end > len) {
            let kind = if f.u32(0) == PT_LOAD { "loadable segment" } else { "segment" };
            return Err(past_end(&format!("{kind} {index}"), offset, end, len));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
