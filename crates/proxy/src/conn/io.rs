//! A client connection's byte stream, watched: its traffic counted, and its activity stamped
//! for the idle timeout; and what its transactions and its I/O share ([`ConnState`]), the
//! start of the request head being read among it, for `timeouts.header_read`, and the running
//! transaction's deadlines.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::deadline::Deadlines;
use crate::clock::{self, Stamp};
use crate::stats::{ListenerCounts, ListenerStats};

/// What a connection's transactions and its I/O share.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// When the connection began, on the coarse [`clock`].
    epoch: Stamp,
    /// Milliseconds from `epoch` to the last byte moved.
    last_activity: AtomicU64,
    /// Transactions whose handler is running.
    pub(crate) in_flight: AtomicU32,
    /// Request heads handed to the service so far.
    pub(crate) requests: AtomicU64,
    /// One more than the milliseconds from `epoch` to the first byte of the request head being
    /// read now (0: none is).
    head_started: AtomicU64,
    /// Where the connection's bytes and durations count (none in the fuzz targets).
    counts: Option<ListenerCounts>,
    /// The running HTTP/1 transaction's deadlines, kept by the connection's driver.
    pub(crate) deadlines: Deadlines,
}

impl ConnState {
    /// A connection's state that counts its traffic in `counts`.
    pub(crate) fn counting(counts: Option<ListenerCounts>) -> ConnState {
        ConnState {
            epoch: Stamp::now(),
            last_activity: AtomicU64::new(0),
            in_flight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            counts,
            deadlines: Deadlines::default(),
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

    /// When the first byte of the request head being read now came, if one is: the latest it
    /// may have.
    pub(crate) fn head_started(&self) -> Option<Instant> {
        match self.head_started.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.stamped(ms - 1)),
        }
    }

    /// Stamps a byte moved now.
    pub(crate) fn touch(&self) {
        self.last_activity.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    /// Milliseconds since the connection began, on the coarse [`clock`] (one less than the
    /// most a stamp can hold).
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.epoch.until(Stamp::now()).as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// The latest moment a stamp of `ms` may stand for, as a precise instant: now less the
    /// least time that may have passed since (the coarse clock's reading, less a tick and the
    /// millisecond the stamp dropped), so that a timeout counted from it does not end early. The
    /// precise clock is read after the coarse one, so a pause between the two only makes it
    /// later.
    fn stamped(&self, ms: u64) -> Instant {
        let passed = self.epoch.until(Stamp::now()).saturating_sub(Duration::from_millis(ms));
        let least = passed.saturating_sub(clock::TICK + Duration::from_millis(1));
        let now = Instant::now();
        now.checked_sub(least).unwrap_or(now)
    }

    /// When the last byte moved: the latest it may have.
    pub(crate) fn last_activity(&self) -> Instant {
        self.stamped(self.last_activity.load(Ordering::Relaxed))
    }

    /// Stamps the start of a request head, unless one is stamped already.
    pub(crate) fn head_begins(&self) {
        if self.head_started.load(Ordering::Relaxed) == 0 {
            self.head_started.store(self.elapsed_ms() + 1, Ordering::Relaxed);
        }
    }

    /// The request head being read ended (read whole, or refused).
    pub(crate) fn head_ends(&self) {
        self.head_started.store(0, Ordering::Relaxed);
    }
}

/// The client stream, watched.
pub(crate) struct ConnIo<T> {
    inner: T,
    state: Arc<ConnState>,
}

impl<T> ConnIo<T> {
    pub(crate) fn new(inner: T, state: Arc<ConnState>) -> ConnIo<T> {
        ConnIo { inner, state }
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
                this.state.touch();
                this.state.received(new.len());
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::ConnState;
    use crate::clock::{SLACK, TICK};

    /// How late a stamp may read: a tick of lag at each end, the margin and a dropped
    /// millisecond.
    const LATE: Duration = Duration::from_millis(3 * TICK.as_millis() as u64 + 1);

    #[test]
    fn a_timeout_counted_from_the_last_activity_does_not_end_early() {
        let state = ConnState::counting(None);
        std::thread::sleep(SLACK * 3);
        let before = Instant::now();
        state.touch();
        let after = Instant::now();
        for wait in [0, 5, 40] {
            std::thread::sleep(Duration::from_millis(wait));
            let asked = Instant::now();
            let last = state.last_activity();
            let answered = Instant::now();
            assert!(last + SLACK >= before, "{:?} before the byte moved", before - last);
            // Late by at most `LATE`, and what a pause in the call added.
            let late = after + LATE + SLACK + (answered - asked);
            assert!(last <= answered && last <= late, "{:?} late", last - after);
        }
    }

    #[test]
    fn a_head_is_timed_from_its_first_byte_until_it_ends() {
        let state = ConnState::counting(None);
        assert_eq!(state.head_started(), None);
        std::thread::sleep(Duration::from_millis(30));
        let before = Instant::now();
        state.head_begins();
        let after = Instant::now();
        std::thread::sleep(2 * (LATE + SLACK));
        // A second call while the head is read keeps the first stamp.
        state.head_begins();
        let asked = Instant::now();
        let started = state.head_started().expect("a head is being read");
        let answered = Instant::now();
        let late = after + LATE + SLACK + (answered - asked);
        assert!(started + SLACK >= before && started <= late);
        state.head_ends();
        assert_eq!(state.head_started(), None);
    }
}
