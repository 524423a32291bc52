//! The proxy-wasm ABI's numbers (version 0.2.1) and its wire format for header maps.
//!
//! A header map crosses the boundary as: the pair count (`u32`, little-endian), then each pair's
//! key and value lengths (`u32` each), then each key and value followed by a NUL byte.

/// Answers of host functions (`proxy_status_t`).
pub(crate) mod status {
    pub(crate) const OK: i32 = 0;
    pub(crate) const NOT_FOUND: i32 = 1;
    pub(crate) const BAD_ARGUMENT: i32 = 2;
    pub(crate) const SERIALIZATION_FAILURE: i32 = 3;
    pub(crate) const CAS_MISMATCH: i32 = 8;
    pub(crate) const INTERNAL_FAILURE: i32 = 10;
}

/// Which header map a call means (`proxy_map_type_t`).
pub(crate) mod map {
    pub(crate) const REQUEST_HEADERS: i32 = 0;
    pub(crate) const REQUEST_TRAILERS: i32 = 1;
    pub(crate) const RESPONSE_HEADERS: i32 = 2;
    pub(crate) const RESPONSE_TRAILERS: i32 = 3;
    pub(crate) const HTTP_CALL_RESPONSE_HEADERS: i32 = 6;
}

/// Which buffer a call means (`proxy_buffer_type_t`).
pub(crate) mod buffer {
    pub(crate) const REQUEST_BODY: i32 = 0;
    pub(crate) const RESPONSE_BODY: i32 = 1;
    pub(crate) const HTTP_CALL_RESPONSE_BODY: i32 = 4;
    pub(crate) const VM_CONFIGURATION: i32 = 6;
    pub(crate) const PLUGIN_CONFIGURATION: i32 = 7;
}

/// What a filter callback answers (`proxy_action_t`): `1` is pause, anything else continues.
pub(crate) const ACTION_PAUSE: i32 = 1;

/// Encodes `pairs` in the ABI's map format.
pub(crate) fn encode_map<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone) -> Vec<u8> {
    let count = pairs.clone().count();
    let size: usize = pairs.clone().map(|(k, v)| k.len() + v.len() + 10).sum::<usize>() + 4;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for (key, value) in pairs.clone() {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (key, value) in pairs {
        out.extend_from_slice(key);
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

/// Decodes a map in the ABI's format; `None` when it is malformed.
pub(crate) fn decode_map(bytes: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let count = word(0)?;
    let mut data = 4usize.checked_add(count.checked_mul(8)?)?;
    if data > bytes.len() {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let key_len = word(4 + i * 8)?;
        let value_len = word(8 + i * 8)?;
        let key = bytes.get(data..data.checked_add(key_len)?)?.to_vec();
        data += key_len + 1;
        let value = bytes.get(data..data.checked_add(value_len)?)?.to_vec();
        data += value_len + 1;
        out.push((key, value));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_round_trips() {
        let pairs: Vec<(&[u8], &[u8])> = vec![(b":path", b"/a"), (b"x-b", b""), (b"c", b"d e")];
        let encoded = encode_map(pairs.iter().copied());
        let decoded = decode_map(&encoded).unwrap();
        let back: Vec<(&[u8], &[u8])> =
            decoded.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
        assert_eq!(back, pairs);
    }

    #[test]
    fn a_truncated_map_is_refused() {
        let encoded = encode_map([(&b"key"[..], &b"value"[..])].into_iter());
        for cut in 1..encoded.len() - 1 {
            assert_eq!(decode_map(&encoded[..cut]), None, "cut at {cut}");
        }
        assert_eq!(decode_map(&[255, 255, 255, 255]), None);
        assert_eq!(decode_map(&[]), Some(Vec::new()));
    }
}
