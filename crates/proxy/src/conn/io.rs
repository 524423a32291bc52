//! A client connection's byte stream, watched on its way to hyper: activity for the idle
//! timeout, and request framing, to refuse a head with both `Content-Length` and
//! `Transfer-Encoding`.
//!
//! hyper settles that conflict as RFC 9112 §6.1 allows (the chunked coding wins, the length is
//! dropped, the connection closes after the response), but leaves no trace of it in the request,
//! so the proxy could not refuse it as request smugglers' favourite. [`Framing`] follows the
//! request framing of the raw bytes (heads, `Content-Length` bodies, chunked bodies) at the cost
//! of one pass over heads and chunk-size lines; body data is skipped by count. It also times a
//! head from its first byte to its end, for `timeouts.header_read`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::stats::{ListenerCounts, ListenerStats};

/// What a connection's transactions and its I/O share.
#[derive(Debug)]
pub(crate) struct ConnState {
    epoch: Instant,
    /// Milliseconds from `epoch` to the last byte moved.
    last_activity: AtomicU64,
    /// Transactions whose handler is running.
    pub(crate) in_flight: AtomicU32,
    /// Request heads handed to the service so far.
    pub(crate) requests: AtomicU64,
    /// One more than the index of the first head that had both `Content-Length` and
    /// `Transfer-Encoding` (0: none).
    conflict: AtomicU64,
    /// One more than the milliseconds from `epoch` to the first byte of the request head being
    /// read now (0: none is).
    head_started: AtomicU64,
    /// Where the connection's bytes and durations count (none in the fuzz targets).
    counts: Option<ListenerCounts>,
}

impl ConnState {
    /// A connection's state that counts nowhere.
    pub(crate) fn new() -> ConnState {
        ConnState::counting(None)
    }

    /// A connection's state that counts its traffic in `counts`.
    pub(crate) fn counting(counts: Option<ListenerCounts>) -> ConnState {
        ConnState {
            epoch: Instant::now(),
            last_activity: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            conflict: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            counts,
        }
    }

    /// The counters of the connection's listener on its worker, if it counts.
    pub(crate) fn listener(&self) -> Option<&ListenerStats> {
        self.counts.as_ref().map(ListenerCounts::get)
    }

    /// Counts `n` bytes read from the client.
    pub(crate) fn received(&self, n: usize) {
        if let Some(l) = self.listener() {
            l.received.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Counts `n` bytes written to the client.
    pub(crate) fn sent(&self, n: usize) {
        if let Some(l) = self.listener() {
            l.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// When the first byte of the request head being read now came, if one is.
    pub(crate) fn head_started(&self) -> Option<Instant> {
        match self.head_started.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.epoch + std::time::Duration::from_millis(ms - 1)),
        }
    }

    /// Stamps a byte moved now; the milliseconds since the connection began.
    pub(crate) fn touch(&self) -> u64 {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_activity.store(ms, Ordering::Relaxed);
        ms
    }

    /// When the last byte moved.
    pub(crate) fn last_activity(&self) -> Instant {
        self.epoch + std::time::Duration::from_millis(self.last_activity.load(Ordering::Relaxed))
    }

    /// Whether request number `index` (0-based) had conflicting framing headers.
    pub(crate) fn conflicting(&self, index: u64) -> bool {
        self.conflict.load(Ordering::Relaxed) == index + 1
    }
}

/// The client stream, watched.
pub(crate) struct ConnIo<T> {
    inner: T,
    state: Arc<ConnState>,
    framing: Framing,
}

impl<T> ConnIo<T> {
    pub(crate) fn new(inner: T, state: Arc<ConnState>) -> ConnIo<T> {
        ConnIo { inner, state, framing: Framing::default() }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ConnIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                let now = this.state.touch();
                this.state.received(new.len());
                let was_in_head = this.framing.in_head();
                if let Some(index) = this.framing.feed(new) {
                    this.state.conflict.store(index + 1, Ordering::Relaxed);
                }
                // The header read timeout runs from a head's first byte to its end (hyper's own
                // would also run while a keep-alive connection waits for its next request).
                let started = &this.state.head_started;
                if this.framing.in_head() {
                    if !was_in_head || started.load(Ordering::Relaxed) == 0 {
                        started.store(now + 1, Ordering::Relaxed);
                    }
                } else {
                    started.store(0, Ordering::Relaxed);
                }
            }
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ConnIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll
            && n > 0
        {
            self.state.touch();
            self.state.sent(n);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll
            && n > 0
        {
            self.state.touch();
            self.state.sent(n);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The most of one line the tracker keeps: enough for any field name and any readable length;
/// of a longer line it keeps this much of the start and the last [`TAIL`] bytes, and follows on.
const MAX_LINE: usize = 16 * 1024;

/// The end of a line kept beside a truncated one (to see a `Transfer-Encoding` ending in
/// `chunked`).
const TAIL: usize = 8;

/// Where the request byte stream is.
#[derive(Debug, Default)]
enum Phase {
    /// In a head (request line and fields).
    #[default]
    Head,
    /// In a body of known length: bytes left.
    Body(u64),
    /// On a chunk-size line.
    ChunkSize,
    /// In chunk data: bytes left, then the CRLF line.
    ChunkData(u64),
    /// On the line ending a chunk's data.
    ChunkEnd,
    /// In the trailer section.
    Trailers,
    /// No longer followed: a conflict (hyper closes the connection after it), a transfer coding
    /// other than chunked, or a head hyper refuses (and closes the connection after).
    Off,
}

/// Follows request framing over raw bytes (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Framing {
    phase: Phase,
    line: Vec<u8>,
    /// The line was longer than [`MAX_LINE`]: `line` holds its start, `tail` its end.
    truncated: bool,
    tail: [u8; TAIL],
    /// Heads completed.
    heads: u64,
    seen_request_line: bool,
    /// A `Content-Length` field was seen (readable or not).
    has_length: bool,
    /// Its value, when readable (equal values in a list count as one).
    length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
}

impl Framing {
    /// Whether part of a request head (not yet its end) was read.
    pub(crate) fn in_head(&self) -> bool {
        matches!(self.phase, Phase::Head) && (self.seen_request_line || !self.line.is_empty())
    }

    /// Follows `bytes`; returns the index of a head that has both framing headers.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Option<u64> {
        let mut conflict = None;
        while !bytes.is_empty() {
            match self.phase {
                Phase::Off => return conflict,
                Phase::Body(left) | Phase::ChunkData(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    bytes = &bytes[take..];
                    let left = left - take as u64;
                    if left == 0 {
                        self.phase = match self.phase {
                            Phase::ChunkData(_) => Phase::ChunkEnd,
                            _ => Phase::Head,
                        };
                    } else {
                        self.phase = match self.phase {
                            Phase::ChunkData(_) => Phase::ChunkData(left),
                            _ => Phase::Body(left),
                        };
                    }
                }
                _ => {
                    let (end, done) = match bytes.iter().position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None => (bytes.len(), false),
                    };
                    let piece = &bytes[..end];
                    let room = MAX_LINE - self.line.len();
                    if piece.len() > room {
                        self.truncated = true;
                    }
                    self.line.extend_from_slice(&piece[..piece.len().min(room)]);
                    // The last TAIL bytes of the line so far (used when it is truncated).
                    let keep = piece.len().min(TAIL);
                    self.tail.rotate_left(keep);
                    self.tail[TAIL - keep..].copy_from_slice(&piece[piece.len() - keep..]);
                    bytes = &bytes[end..];
                    if done {
                        let mut line = std::mem::take(&mut self.line);
                        let truncated = std::mem::take(&mut self.truncated);
                        let found = if truncated {
                            let tail = self.tail;
                            self.long_line_done(&line, trim_eol(&tail))
                        } else {
                            self.line_done(trim_eol(&line))
                        };
                        if let Some(found) = found {
                            conflict = Some(found);
                        }
                        line.clear();
                        self.line = line;
                    }
                }
            }
        }
        conflict
    }

    fn line_done(&mut self, line: &[u8]) -> Option<u64> {
        match self.phase {
            // RFC 9112 §2.2: empty lines before a request line are ignored.
            Phase::Head if !self.seen_request_line && line.is_empty() => {}
            // The proxy never switches protocols (it answers CONNECT with 405, never 101, and
            // `Upgrade` does not reach origins), so hyper reads the next request after any head:
            // CONNECT and `Upgrade` are followed like any other.
            Phase::Head if !self.seen_request_line => self.seen_request_line = true,
            Phase::Head if line.is_empty() => return self.head_done(),
            Phase::Head => {
                let colon = line.iter().position(|&b| b == b':')?;
                let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
                if name.eq_ignore_ascii_case(b"content-length") {
                    let read = content_length(value);
                    self.length = match (self.has_length, self.length, read) {
                        (false, _, read) => read,
                        (true, Some(a), Some(b)) if a == b => Some(a),
                        _ => None,
                    };
                    self.has_length = true;
                } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    self.transfer_encoding = true;
                    self.chunked = ends_chunked(value);
                }
            }
            Phase::ChunkSize => {
                let size = line.split(|&b| b == b';').next().map(trim).unwrap_or_default();
                match std::str::from_utf8(size).ok().and_then(|s| u64::from_str_radix(s, 16).ok()) {
                    Some(0) => self.phase = Phase::Trailers,
                    Some(n) => self.phase = Phase::ChunkData(n),
                    None => self.phase = Phase::Off,
                }
            }
            Phase::ChunkEnd => self.phase = Phase::ChunkSize,
            Phase::Trailers if line.is_empty() => self.phase = Phase::Head,
            _ => {}
        }
        None
    }

    fn head_done(&mut self) -> Option<u64> {
        let index = self.heads;
        self.heads += 1;
        let conflict = self.transfer_encoding && self.has_length;
        // An unreadable length without a transfer coding: hyper answers 400 and closes.
        let refused = !self.transfer_encoding && self.has_length && self.length.is_none();
        self.phase = if conflict || refused || (self.transfer_encoding && !self.chunked) {
            Phase::Off
        } else if self.transfer_encoding {
            Phase::ChunkSize
        } else {
            match self.length {
                Some(n) if n > 0 => Phase::Body(n),
                _ => Phase::Head,
            }
        };
        self.seen_request_line = false;
        self.has_length = false;
        self.length = None;
        self.transfer_encoding = false;
        self.chunked = false;
        conflict.then_some(index)
    }

    /// A line longer than [`MAX_LINE`], known by its start and its last bytes. In a head it is
    /// a field (hyper's header limit decides whether the request is served); only the framing
    /// fields matter, and their values are judged from what was kept.
    fn long_line_done(&mut self, start: &[u8], tail: &[u8]) -> Option<u64> {
        match self.phase {
            Phase::Head if self.seen_request_line => {
                let colon = start.iter().position(|&b| b == b':')?;
                let name = &start[..colon];
                if name.eq_ignore_ascii_case(b"content-length") {
                    // No readable length is that long.
                    self.has_length = true;
                    self.length = None;
                } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    self.transfer_encoding = true;
                    self.chunked = ends_chunked(trim(tail));
                }
                None
            }
            // A request line that long: hyper refuses it (414/400) and closes.
            Phase::Head => {
                self.phase = Phase::Off;
                None
            }
            // A chunk-size line that long (extensions): hyper refuses it and closes.
            Phase::ChunkSize => {
                self.phase = Phase::Off;
                None
            }
            _ => self.line_done(b"x"),
        }
    }
}

/// A `Content-Length` value: digits, or a list of equal values (RFC 9110 §8.6).
fn content_length(value: &[u8]) -> Option<u64> {
    let mut found: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = trim(part);
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n: u64 = std::str::from_utf8(part).ok()?.parse().ok()?;
        if found.is_some_and(|f| f != n) {
            return None;
        }
        found = Some(n);
    }
    found
}

/// Whether a `Transfer-Encoding` value's last coding is `chunked`.
fn ends_chunked(value: &[u8]) -> bool {
    value.len() >= 7 && value[value.len() - 7..].eq_ignore_ascii_case(b"chunked")
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of every size from 1 to its length; all must agree.
    fn conflicts(stream: &str) -> Vec<u64> {
        let mut answers = Vec::new();
        for piece in 1..=stream.len() {
            let mut framing = Framing::default();
            let found: Vec<u64> =
                stream.as_bytes().chunks(piece).filter_map(|c| framing.feed(c)).collect();
            answers.push(found);
        }
        answers.dedup();
        assert_eq!(answers.len(), 1, "piece sizes disagree: {answers:?}");
        answers.swap_remove(0)
    }

    #[test]
    fn plain_requests_have_no_conflict() {
        let stream = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\
                      POST /p HTTP/1.1\r\nContent-Length: 36\r\n\r\n\
                      GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                      POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                      5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n\
                      GET / HTTP/1.1\r\n\r\n";
        assert_eq!(conflicts(stream), Vec::<u64>::new());
    }

    #[test]
    fn long_fields_lists_connect_and_upgrade_are_followed() {
        let long = format!("Transfer-Encoding: {}, chunked\r\n", "x".repeat(MAX_LINE + 100));
        let heads = [
            format!("GET /a HTTP/1.1\r\nX-Long: {}\r\n\r\n", "l".repeat(MAX_LINE * 2)),
            "CONNECT a:80 HTTP/1.1\r\n\r\n".to_owned(),
            "GET /u HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n".to_owned(),
            "POST /l HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc".to_owned(),
        ];
        for head in heads {
            let stream = format!(
                "{head}POST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            );
            for piece in [1, 7, 4096, stream.len()] {
                let mut framing = Framing::default();
                let found: Vec<u64> =
                    stream.as_bytes().chunks(piece).filter_map(|c| framing.feed(c)).collect();
                assert_eq!(found, [1], "after {:?} in pieces of {piece}", &head[..20]);
            }
        }
        // A truncated Transfer-Encoding is still seen to end in chunked, and conflicts.
        let stream = format!("POST / HTTP/1.1\r\n{long}Content-Length: x\r\n\r\n");
        let mut framing = Framing::default();
        assert_eq!(stream.as_bytes().chunks(1000).filter_map(|c| framing.feed(c)).last(), Some(0));
    }

    #[test]
    fn a_body_that_looks_like_a_head_is_skipped() {
        let body = "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let stream = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}GET / HTTP/1.1\r\n\r\n",
            body.len()
        );
        assert_eq!(conflicts(&stream), Vec::<u64>::new());
    }

    #[test]
    fn both_headers_are_reported_with_the_head_index() {
        let stream = "GET / HTTP/1.1\r\n\r\n\
                      POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
                      0\r\n\r\n";
        assert_eq!(conflicts(stream), vec![1]);
        let reversed = "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n";
        assert_eq!(conflicts(reversed), vec![0]);
    }
}
