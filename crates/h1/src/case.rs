//! The case and order header field names were received in, so that a message can be forwarded
//! with its names as the sender wrote them.

use bytes::Bytes;

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

    /// Records the next field, whose name is at `start..start + len` of the head.
    ///
    /// `repeated` says whether a field of the same name came before; only then are the earlier
    /// entries searched for its index.
    pub(crate) fn push(&mut self, start: usize, len: usize, repeated: bool) {
        let nth = if repeated {
            let name = &self.raw[start..start + len];
            let same = self.names().filter(|(earlier, _)| earlier.eq_ignore_ascii_case(name));
            u32::try_from(same.count()).unwrap_or(u32::MAX)
        } else {
            0
        };
        // Heads are bounded far below 4 GiB by the limits; offsets fit.
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let len = u32::try_from(len).unwrap_or(0);
        self.entries.push(Entry { start, len, nth });
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

    /// How many fields named `name` (compared without case) were received.
    pub(crate) fn count(&self, name: &[u8]) -> usize {
        self.names().filter(|(n, _)| n.eq_ignore_ascii_case(name)).count()
    }
}
