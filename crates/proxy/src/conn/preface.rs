//! Which protocol a plain connection speaks: HTTP/2 with prior knowledge (h2c) starts with the
//! connection preface (RFC 9113 §3.4), anything else is HTTP/1. The bytes read to tell are
//! handed back first to whichever protocol serves the connection ([`Rewind`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tracing::debug;

/// The HTTP/2 connection preface a client sends first.
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection's first bytes said.
pub(crate) enum Protocol<T> {
    /// HTTP/1 (or nothing the proxy knows: hyper's HTTP/1 answers it).
    Http1(Rewind<T>),
    /// HTTP/2 with prior knowledge.
    Http2(Rewind<T>),
}

/// Reads from `stream` until its first bytes are the HTTP/2 preface or cannot be: most HTTP/1
/// requests tell at their first byte. The first byte may take `idle` (`timeouts.idle`: a
/// connection opened ahead of its first request waits as long as a kept-alive one), the rest of
/// the preface `header_read` from it. `None` when neither came in time, or the read failed: the
/// connection is closed.
pub(crate) async fn detect<T: AsyncRead + Unpin>(
    mut stream: T,
    idle: Duration,
    header_read: Duration,
) -> Option<Protocol<T>> {
    let mut seen = [0u8; PREFACE.len()];
    let mut len = 0;
    while len < PREFACE.len() && seen[..len] == PREFACE[..len] {
        let limit = if len == 0 { idle } else { header_read };
        match tokio::time::timeout(limit, stream.read(&mut seen[len..])).await {
            // Closed early: hyper's HTTP/1 side sees the end (and logs nothing).
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => len += n,
            Ok(Err(e)) => {
                debug!(error = %e, "connection failed before its first request");
                return None;
            }
            Err(_) if len == 0 => {
                debug!("idle timeout before a first request");
                return None;
            }
            Err(_) => {
                debug!(bytes = len, "a partial HTTP/2 preface then nothing: header read timeout");
                return None;
            }
        }
    }
    let rewind = Rewind { prefix: seen, start: 0, end: len, inner: stream };
    Some(if len == PREFACE.len() && seen == *PREFACE {
        Protocol::Http2(rewind)
    } else {
        Protocol::Http1(rewind)
    })
}

/// A stream whose first bytes, already read, are read again.
pub(crate) struct Rewind<T> {
    prefix: [u8; PREFACE.len()],
    start: usize,
    end: usize,
    inner: T,
}

impl<T> Rewind<T> {
    /// `inner` with nothing read from it yet.
    pub(crate) fn new(inner: T) -> Rewind<T> {
        Rewind { prefix: [0; PREFACE.len()], start: 0, end: 0, inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.start < self.end {
            let n = (self.end - self.start).min(buf.remaining());
            let start = self.start;
            buf.put_slice(&self.prefix[start..start + n]);
            self.start += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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
    use super::*;

    /// Writes `pieces` one at a time, each after the previous was read, and detects.
    async fn detect_pieces(pieces: &[&[u8]]) -> (Option<&'static str>, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(64);
        let all: Vec<u8> = pieces.concat();
        let pieces: Vec<Vec<u8>> = pieces.iter().map(|p| p.to_vec()).collect();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in pieces {
                client.write_all(&piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            // Dropped: what was written can still be read, then the end.
        });
        let detected = detect(server, Duration::from_secs(5), Duration::from_secs(5)).await;
        writer.await.unwrap();
        let (kind, mut io) = match detected {
            Some(Protocol::Http1(io)) => ("http1", io),
            Some(Protocol::Http2(io)) => ("http2", io),
            None => return (None, Vec::new()),
        };
        let mut replayed = vec![0u8; all.len()];
        io.read_exact(&mut replayed).await.unwrap();
        (Some(kind), replayed)
    }

    #[tokio::test]
    async fn the_preface_in_any_pieces_is_http2_and_replayed() {
        let tail: &[u8] = b"\0\0\0\x04\0\0\0\0\0";
        for split in 1..PREFACE.len() {
            let (a, b) = PREFACE.split_at(split);
            let (kind, bytes) = detect_pieces(&[a, b, tail]).await;
            assert_eq!(kind, Some("http2"), "split at {split}");
            assert_eq!(&bytes[..24], PREFACE);
            assert_eq!(&bytes[24..], tail);
        }
    }

    #[tokio::test]
    async fn http1_is_told_at_the_first_difference_and_replayed() {
        for request in [&b"GET / HTTP/1.0\r\n\r\n"[..], b"PRI * HTTP/1.1\r\n\r\n", b"P"] {
            let (kind, bytes) = detect_pieces(&[request]).await;
            // `P` alone: the client closed (the writer's end dropped) before telling.
            assert_eq!(kind, Some("http1"), "{request:?}");
            assert_eq!(bytes, request);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_byte_waits_idle_and_the_rest_header_read() {
        use tokio::io::AsyncWriteExt;
        let (idle, header_read) = (Duration::from_secs(60), Duration::from_secs(10));
        // Silence: closed after `idle`, not `header_read`.
        let (client, server) = tokio::io::duplex(64);
        let started = tokio::time::Instant::now();
        assert!(detect(server, idle, header_read).await.is_none());
        assert_eq!(started.elapsed(), idle);
        drop(client);
        // A first byte after 30 s is still read.
        let (mut client, server) = tokio::io::duplex(64);
        let detecting = tokio::spawn(detect(server, idle, header_read));
        tokio::time::sleep(Duration::from_secs(30)).await;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert!(matches!(detecting.await.unwrap(), Some(Protocol::Http1(_))));
        // Part of the preface, then silence: closed after `header_read`.
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b"PRI * HT").await.unwrap();
        let started = tokio::time::Instant::now();
        assert!(detect(server, idle, header_read).await.is_none());
        assert_eq!(started.elapsed(), header_read);
        drop(client);
    }
}
