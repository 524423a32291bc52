//! Field names (and tokens of field values) compared in any case, as every head's framing
//! fields and a proxy's fields of one hop are found.

/// Whether `name`, a field name (a token, as the parser checks) or a part of a field value, is
/// `lower` in any case; `lower` is lower-case letters and `-`.
///
/// Such bytes and `lower` differ, where they match in any case, only in the bit that sets a
/// letter's case (no token or value byte becomes `-` with it: only a CR would, which neither
/// holds): with that bit or-ed in, the bytes compare eight (or four, or two) at a time, in two
/// loads of each that overlap when the length is not twice the width. A comparison of a name of
/// up to 16 bytes is then the same few instructions whatever its length, where one byte at a
/// time, both folded to lower case, takes several per byte (every field of every head is
/// compared so, some several times).
pub fn is_name(name: &[u8], lower: &[u8]) -> bool {
    let n = name.len();
    if n != lower.len() {
        return false;
    }
    let differ = match n {
        0 => 0,
        1 => u64::from((name[0] | CASE) ^ lower[0]),
        2..4 => folded::<2>(name, lower, 0) | folded::<2>(name, lower, n - 2),
        4..8 => folded::<4>(name, lower, 0) | folded::<4>(name, lower, n - 4),
        _ => {
            let mut differ = folded::<8>(name, lower, n - 8);
            let mut at = 0;
            while at + 8 < n {
                differ |= folded::<8>(name, lower, at);
                at += 8;
            }
            differ
        }
    };
    differ == 0
}

/// The bit that sets a letter's case.
const CASE: u8 = 0x20;

/// The bits in which `N` bytes of `name` from `at`, each with [`CASE`] set, differ from those
/// of `lower` (`N` at most 8).
fn folded<const N: usize>(name: &[u8], lower: &[u8], at: usize) -> u64 {
    // The bytes past `N` are 0 in one and CASE in the other: equal once CASE is or-ed in.
    let (mut a, mut b) = ([0; 8], [CASE; 8]);
    a[..N].copy_from_slice(&name[at..at + N]);
    b[..N].copy_from_slice(&lower[at..at + N]);
    (u64::from_ne_bytes(a) | u64::from_ne_bytes([CASE; 8])) ^ u64::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::is_name;

    #[test]
    fn names_match_in_any_case_and_nothing_else() {
        assert!(is_name(b"Content-Length", b"content-length"));
        assert!(is_name(b"TE", b"te"));
        assert!(is_name(b"", b""));
        assert!(!is_name(b"Content-Lengths", b"content-length"));
        assert!(!is_name(b"Content_Length", b"content-length"));
        // Every byte a name or a value may have against every byte of lower-case names, at
        // every place of names of every length up to 26 (one load, two, two overlapping, and
        // the loop's chunks).
        let value_byte = |b: u8| b == b'\t' || b == b' ' || (b'!'..=b'~').contains(&b) || b >= 0x80;
        let alphabet = b"proxy-authorization-trailer";
        for len in 1..=alphabet.len() {
            let lower = &alphabet[..len];
            for at in 0..len {
                for a in (0..=255u8).filter(|&b| value_byte(b)) {
                    for b in (b'a'..=b'z').chain([b'-']) {
                        let mut name = lower.to_vec();
                        name[at] = a;
                        let mut other = lower.to_vec();
                        other[at] = b;
                        let expected = a.eq_ignore_ascii_case(&b);
                        assert_eq!(is_name(&name, &other), expected, "{len} {at} {a} {b}");
                    }
                }
            }
        }
    }
}
