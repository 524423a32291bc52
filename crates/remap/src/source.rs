//! Reading a configuration file: regular files only, and no larger than a fixed bound.
//!
//! `.include` can name anything: a FIFO would block the reload (or the start) until someone
//! writes to it, and a device such as `/dev/zero` never ends. Both are refused before a byte is
//! read, and the check is repeated on the opened file, so a file swapped in between is caught.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest configuration file read (`remap.config` or an included file), in bytes: a larger
/// one is refused rather than read into memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads the regular file at `path` as UTF-8 text, refusing anything else (a FIFO, a device, a
/// directory) and a file larger than [`MAX_CONFIG_FILE_BYTES`].
///
/// The file is opened `O_NONBLOCK`, so that opening a FIFO swapped in after the first check
/// returns at once (and is then refused) instead of waiting for a writer.
///
/// # Errors
///
/// The file cannot be read, is not a regular file, is too large, or is not UTF-8.
pub fn read_config(path: &Path) -> io::Result<String> {
    check(&std::fs::metadata(path)?)?;
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    check(&file.metadata()?)?;
    read_bounded(file)
}

fn check(meta: &Metadata) -> io::Result<()> {
    let kind = meta.file_type();
    let what = if kind.is_file() {
        if meta.len() > MAX_CONFIG_FILE_BYTES {
            return Err(too_large(&format!("{} bytes", meta.len())));
        }
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file; only regular files are read"),
    ))
}

fn too_large(size: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "it is {size}, larger than the limit of {MAX_CONFIG_FILE_BYTES} bytes ({} MiB)",
            MAX_CONFIG_FILE_BYTES >> 20
        ),
    )
}

/// Reads at most the limit, in case the file grows while it is read.
fn read_bounded(file: File) -> io::Result<String> {
    let mut text = String::new();
    let read = file.take(MAX_CONFIG_FILE_BYTES + 1).read_to_string(&mut text)?;
    if read as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(too_large("more bytes than when it was opened"));
    }
    Ok(text)
}
