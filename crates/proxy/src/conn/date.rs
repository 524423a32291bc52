//! The `Date` field of responses: formatted once a second per worker thread, not per response.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};

/// An IMF-fixdate is this long (`Sun, 06 Nov 1994 08:49:37 GMT`).
const LEN: usize = 29;

thread_local! {
    /// The second it was formatted for, and the line.
    static CACHED: RefCell<(u64, [u8; LEN])> = const { RefCell::new((u64::MAX, [0; LEN])) };
}

/// Appends `date: <now>\r\n`.
pub(crate) fn write(dst: &mut BytesMut) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with_borrow_mut(|(cached, line)| {
        if *cached != second {
            let text = httpdate::fmt_http_date(now);
            if text.len() == LEN {
                line.copy_from_slice(text.as_bytes());
                *cached = second;
            }
        }
        dst.put_slice(b"date: ");
        dst.put_slice(line);
        dst.put_slice(b"\r\n");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_an_http_date_of_now() {
        let mut dst = BytesMut::new();
        write(&mut dst);
        let line = std::str::from_utf8(&dst).unwrap();
        let value = line.strip_prefix("date: ").unwrap().strip_suffix("\r\n").unwrap();
        let parsed = httpdate::parse_http_date(value).unwrap();
        let off = SystemTime::now().duration_since(parsed).unwrap();
        assert!(off.as_secs() <= 1, "{value}");
    }
}
