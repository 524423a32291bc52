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
    /// One bit per recorded name, by [`name_bit`]: a name whose bit is clear is not recorded,
    /// so the encoders skip the scan for fields added since (most of those they meet).
    names: u64,
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
        HeaderCase { raw, entries: Vec::with_capacity(n), names: 0 }
    }

    /// Records the next field, whose name is at `start..start + len` of the head and which is
    /// its name's `nth` field.
    pub(crate) fn push(&mut self, start: usize, len: usize, nth: usize) {
        // Heads are bounded far below 4 GiB by the limits; offsets fit.
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let len = u32::try_from(len).unwrap_or(0);
        let nth = u32::try_from(nth).unwrap_or(u32::MAX);
        self.names |= name_bit(&self.raw[start as usize..(start + len) as usize]);
        self.entries.push(Entry { start, len, nth });
    }

    /// How many fields recorded so far are named `name` (compared without case), by a scan:
    /// for heads of at most [`SCAN_MAX`] fields.
    pub(crate) fn count_by_scan(&self, name: &[u8]) -> usize {
        if self.names & name_bit(name) == 0 {
            return 0;
        }
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

/// A name's bit in [`HeaderCase::names`], the same whatever its case: from its length and its
/// first and last bytes (ASCII letters folded to lower case).
fn name_bit(name: &[u8]) -> u64 {
    let fold = |b: Option<&u8>| u32::from(b.map_or(0, |b| b.to_ascii_lowercase()));
    let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
    let mix =
        len.wrapping_mul(31).wrapping_add(fold(name.first()) * 7).wrapping_add(fold(name.last()));
    1 << (mix % 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_counted_in_any_case_and_an_unrecorded_one_is_not() {
        let raw = Bytes::from_static(b"Set-Cookie X-Trace SET-COOKIE");
        let mut case = HeaderCase::with_capacity(raw, 3);
        case.push(0, 10, 0);
        case.push(11, 7, 0);
        case.push(19, 10, 1);
        assert_eq!(case.count_by_scan(b"set-cookie"), 2);
        assert_eq!(case.count_by_scan(b"x-trace"), 1);
        assert_eq!(case.count_by_scan(b"X-TRACE"), 1);
        for absent in [&b"via"[..], b"x-forwarded-for", b"date", b"set-cookiE2", b""] {
            assert_eq!(case.count_by_scan(absent), 0, "{:?}", String::from_utf8_lossy(absent));
        }
    }
}
