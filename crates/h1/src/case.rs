//! The case and order header field names were received in, so that a message can be forwarded
//! with its names as the sender wrote them.

use bytes::Bytes;
use http::HeaderName;

/// Up to this many fields, the fields of one name are counted by a scan of the record; past
/// it, through a map, so that a head of many fields of one name costs linear time, not
/// quadratic.
pub(crate) const SCAN_MAX: usize = 64;

/// The names of a head's fields, in the case and order they were received.
///
/// An [`http::HeaderMap`] keeps names in lower case and groups the values of a name together;
/// this record keeps what it loses. The encoders write the fields it records in its order and
/// spelling (a value changed in the map stays in place), skip those no longer in the map, and
/// append the rest. The names as received are offsets into the head, not copies; each field
/// also keeps its name as the map has it (shared, not copied), which tells the encoders a
/// received value from one copied under another name. Cloning costs one small allocation and
/// a reference count per name outside the standard set.
#[derive(Clone, Debug, Default)]
pub struct HeaderCase {
    /// The head the offsets point into.
    raw: Bytes,
    entries: Vec<Entry>,
}

/// One received field: where its name and value are in `raw`, and which of its name's values
/// it was.
#[derive(Clone, Debug)]
struct Entry {
    /// Its name as the map has it.
    key: HeaderName,
    start: u32,
    len: u32,
    /// 0 for the first field of this name (in any case), 1 for the second, and so on.
    nth: u32,
    /// Where its value starts; values are in increasing order, as their fields.
    value: u32,
}

impl HeaderCase {
    pub(crate) fn with_capacity(raw: Bytes, n: usize) -> HeaderCase {
        HeaderCase { raw, entries: Vec::with_capacity(n) }
    }

    /// Records the next field, named `key`, whose name is at `start..start + len` of the head
    /// as received, whose value starts at `value`, and which is its name's `nth` field.
    pub(crate) fn push(
        &mut self,
        key: HeaderName,
        start: usize,
        len: usize,
        nth: usize,
        value: usize,
    ) {
        // Heads are bounded far below 4 GiB by the limits; offsets fit.
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let len = u32::try_from(len).unwrap_or(0);
        let nth = u32::try_from(nth).unwrap_or(u32::MAX);
        let value = u32::try_from(value).unwrap_or(u32::MAX);
        self.entries.push(Entry { key, start, len, nth, value });
    }

    /// The index of the recorded field `value` was received as, if it is that field's value
    /// (a slice of the head at the recorded place) and the field is named `key`. The field at
    /// `hint` is tried first: a map walked in order meets the fields in their order, mostly.
    pub(crate) fn received_as(&self, key: &HeaderName, value: &[u8], hint: usize) -> Option<usize> {
        let offset = (value.as_ptr() as usize).wrapping_sub(self.raw.as_ptr() as usize);
        if offset >= self.raw.len() {
            return None;
        }
        let offset = u32::try_from(offset).ok()?;
        let index = match self.entries.get(hint) {
            Some(e) if e.value == offset => hint,
            _ => self.entries.binary_search_by_key(&offset, |e| e.value).ok()?,
        };
        (self.entries[index].key == *key).then_some(index)
    }

    /// The recorded field named `key` that was its name's `nth`.
    pub(crate) fn position(&self, key: &HeaderName, nth: usize) -> Option<usize> {
        self.entries.iter().position(|e| e.nth as usize == nth && e.key == *key)
    }

    /// The name of the `index`th recorded field, as received.
    pub(crate) fn name(&self, index: usize) -> &[u8] {
        let e = &self.entries[index];
        &self.raw[e.start as usize..(e.start + e.len) as usize]
    }

    /// The names as the map has them, in order, each with its index among its name's fields.
    pub(crate) fn keys(&self) -> impl Iterator<Item = (&HeaderName, usize)> {
        self.entries.iter().map(|e| (&e.key, e.nth as usize))
    }

    /// How many fields recorded so far are named `key`, by a scan: for heads of at most
    /// [`SCAN_MAX`] fields.
    pub(crate) fn count_by_scan(&self, key: &HeaderName) -> usize {
        self.entries.iter().filter(|e| e.key == *key).count()
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
        (0..self.entries.len()).map(|i| (self.name(i), self.entries[i].nth as usize))
    }

    /// The length of the head the names are in.
    pub(crate) fn raw_len(&self) -> usize {
        self.raw.len()
    }
}
