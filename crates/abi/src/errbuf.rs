//! The error buffer of init and new-instance entry points (ATS's rules).

use std::ffi::c_char;

use crate::remap::{HY_ERRBUF_CAPACITY, HY_ERRBUF_SIZE};

/// What a failed entry point reported when it left its buffer empty.
pub const UNKNOWN_PLUGIN_ERROR: &str = "Unknown plugin error";

/// A zeroed buffer of [`HY_ERRBUF_CAPACITY`] bytes, offered to the plugin as
/// [`HY_ERRBUF_SIZE`] bytes so that a terminating NUL always fits.
pub struct ErrorBuffer {
    bytes: Box<[u8; HY_ERRBUF_CAPACITY]>,
}

impl ErrorBuffer {
    /// A fresh zeroed buffer.
    pub fn new() -> ErrorBuffer {
        ErrorBuffer { bytes: Box::new([0; HY_ERRBUF_CAPACITY]) }
    }

    /// The pointer to pass as `errbuf`; valid while `self` is borrowed.
    pub fn as_mut_ptr(&mut self) -> *mut c_char {
        self.bytes.as_mut_ptr().cast()
    }

    /// The size to pass as `errbuf_size`: [`HY_ERRBUF_SIZE`].
    pub fn size(&self) -> i32 {
        HY_ERRBUF_SIZE
    }

    /// The raw bytes, as the plugin left them.
    pub fn bytes(&self) -> &[u8; HY_ERRBUF_CAPACITY] {
        &self.bytes
    }

    /// The message up to the first NUL (or the offered size, if the plugin wrote no NUL), with
    /// invalid UTF-8 replaced; `None` when the plugin wrote nothing.
    pub fn message(&self) -> Option<String> {
        let offered = &self.bytes[..HY_ERRBUF_CAPACITY - 1];
        let end = offered.iter().position(|&b| b == 0).unwrap_or(offered.len());
        (end > 0).then(|| String::from_utf8_lossy(&offered[..end]).into_owned())
    }

    /// The message, or [`UNKNOWN_PLUGIN_ERROR`] when the plugin wrote nothing.
    pub fn message_or_unknown(&self) -> String {
        self.message().unwrap_or_else(|| UNKNOWN_PLUGIN_ERROR.to_owned())
    }
}

impl Default for ErrorBuffer {
    fn default() -> ErrorBuffer {
        ErrorBuffer::new()
    }
}

impl std::fmt::Debug for ErrorBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorBuffer").field("message", &self.message()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_buffer_is_zeroed_and_offers_one_byte_less_than_it_has() {
        let mut buf = ErrorBuffer::new();
        assert!(buf.bytes().iter().all(|&b| b == 0));
        assert_eq!(buf.size(), 2047);
        assert_eq!(buf.bytes().len(), 2048);
        assert!(!buf.as_mut_ptr().is_null());
        assert_eq!(buf.message(), None);
        assert_eq!(buf.message_or_unknown(), "Unknown plugin error");
    }

    #[test]
    fn the_message_ends_at_the_first_nul_or_at_the_offered_size() {
        let mut buf = ErrorBuffer::new();
        buf.bytes[..9].copy_from_slice(b"boom\0tail");
        assert_eq!(buf.message().as_deref(), Some("boom"));

        let mut buf = ErrorBuffer::new();
        buf.bytes.fill(b'x');
        assert_eq!(buf.message().map(|m| m.len()), Some(2047));

        let mut buf = ErrorBuffer::new();
        buf.bytes[..2].copy_from_slice(&[0xff, b'!']);
        assert_eq!(buf.message().as_deref(), Some("\u{fffd}!"));
    }
}
