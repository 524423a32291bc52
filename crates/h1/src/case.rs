//! The case and order header field names were received in, so that a message can be forwarded
//! with its names as the sender wrote them.

use bytes::Bytes;

/// Up to this many fields, the fields of one name are counted by a scan of the record; past
/// it, through a map, so that a head of many fields of one name costs linear time, not
/// quadratic.
pub(crate) const SCAN_MAX: usize = 64;

/// The names of a head's fields, in the case and order they were received.
///
/// An [`http::HeaderMap`] keeps names in lower case and groups the values of a name together;
/// this record keeps what it loses. The encoders write the fields it records in its order and
/// spelling (the field's current value, so a changed value stays in place), skip those no
/// longer in the map, and append the rest. Cloning costs one reference count and one small
/// allocation; the names are offsets into the received head, not copies.
#[derive(Clone, Debug, Default)]
pub struct HeaderCase {
    /// The head the offsets point into.
    raw: Bytes,
    entries: Vec<Entry>,
}

/// One received field: where its name is in `raw`, and which of its name's values it was.
#[derive(Clone, Copy, Debug)]
struct Entry {
    start: u32,
    len: u32,
    /// 0 for the first field of this name (in any case), 1 for the second, and so on.
    nth: u32,
}

impl HeaderCase {
    pub(crate) fn with_capacity(raw: Bytes, n: usize) -> HeaderCase {
        HeaderCase { raw, entries: Vec::with_capacity(n) }
    }

    /// Records the next field, whose name is at `start..start + len` of the head and which is
    /// its name's `nth` field.
    pub(crate) fn push(&mut self, start: usize, len: usize, nth: usize) {
        // Heads are bounded far below 4 GiB by the limits; offsets fit.
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let len = u32::try_from(len).unwrap_or(0);
        let nth = u32::try_from(nth).unwrap_or(u32::MAX);
        self.entries.push(Entry { start, len, nth });
    }

    /// How many fields recorded so far are named `name` (compared without case), by a scan:
    /// for heads of at most [`SCAN_MAX`] fields.
    pub(crate) fn count_by_scan(&self, name: &[u8]) -> usize {
        self.names().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
    }

    /// The number of names recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no name is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names as received, in order, each with its index among the fields of its name
    /// (0 for the first `Set-Cookie`, 1 for the second, whatever their case).
    pub fn names(&self) -> impl Iterator<Item = (&[u8], usize)> {
        self.entries.iter().map(|e| {
            let start = e.start as usize;
            (&self.raw[start..start + e.len as usize], e.nth as usize)
        })
    }

    /// The length of the head the names are in.
    pub(crate) fn raw_len(&self) -> usize {
        self.raw.len()
    }
}
