//! A client's request body as its transaction reads it: an HTTP/1 body, read off the
//! connection by the connection's task (`conn/h1.rs`) as the transaction asks for it, or an
//! HTTP/2 stream's (hyper's).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::{mpsc, oneshot};

/// A request body as a client sends it.
pub(crate) enum ClientBody {
    /// None (a bodiless HTTP/1 request).
    Empty,
    /// An HTTP/1 body, from the connection's task.
    Http1(Http1Body),
    /// An HTTP/2 stream's body.
    Http2(hyper::body::Incoming),
}

/// Why a client's body ended before its end.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientBodyError {
    /// Its framing broke (a bad chunk-size line, a trailer section over its limit).
    #[error("request body: {0}")]
    Framing(#[from] hookyard_h1::Error),
    /// Reading it failed, or the client closed the connection before its end.
    #[error("request body: {0}")]
    Io(#[from] std::io::Error),
    /// The connection stopped reading it (its response was written first).
    #[error("request body abandoned by its connection")]
    Abandoned,
    /// An HTTP/2 stream's body failed.
    #[error(transparent)]
    Http2(#[from] hyper::Error),
}

/// What the connection's task sends a body.
pub(crate) enum Piece {
    Frame(Frame<Bytes>),
    /// The body ended where its framing says.
    End,
    Error(ClientBodyError),
}

/// The connection's end of an HTTP/1 request body.
pub(crate) struct Http1Sender {
    pub(crate) pieces: mpsc::Sender<Piece>,
    /// Fires when the transaction first asks for data (then a `100 Continue` goes out).
    pub(crate) wanted: oneshot::Receiver<()>,
}

/// An HTTP/1 request body: pieces the connection's task read, one at a time.
pub(crate) struct Http1Body {
    pieces: mpsc::Receiver<Piece>,
    wanted: Option<oneshot::Sender<()>>,
    /// What is left of the length its head declared, if it did.
    length: Option<u64>,
    ended: bool,
}

impl Http1Body {
    /// A body of `length` bytes (`None`: chunked), and the connection's end of it.
    pub(crate) fn channel(length: Option<u64>) -> (Http1Body, Http1Sender) {
        // One piece in flight: the connection reads no further ahead than the transaction.
        let (send, pieces) = mpsc::channel(1);
        let (wanted, asked) = oneshot::channel();
        let body = Http1Body { pieces, wanted: Some(wanted), length, ended: false };
        (body, Http1Sender { pieces: send, wanted: asked })
    }
}

impl Body for Http1Body {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(wanted) = self.wanted.take() {
            let _ = wanted.send(());
        }
        let piece = ready!(self.pieces.poll_recv(cx));
        Poll::Ready(match piece {
            Some(Piece::Frame(frame)) => {
                if let (Some(left), Some(data)) = (&mut self.length, frame.data_ref()) {
                    *left = left.saturating_sub(data.len() as u64);
                }
                Some(Ok(frame))
            }
            Some(Piece::End) => {
                self.ended = true;
                None
            }
            Some(Piece::Error(e)) => {
                self.ended = true;
                Some(Err(e))
            }
            None => {
                self.ended = true;
                Some(Err(ClientBodyError::Abandoned))
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        match self.length {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = ClientBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ClientBodyError>>> {
        match self.get_mut() {
            ClientBody::Empty => Poll::Ready(None),
            ClientBody::Http1(body) => Pin::new(body).poll_frame(cx),
            ClientBody::Http2(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ClientBody::Empty => true,
            ClientBody::Http1(body) => body.is_end_stream(),
            ClientBody::Http2(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ClientBody::Empty => SizeHint::with_exact(0),
            ClientBody::Http1(body) => body.size_hint(),
            ClientBody::Http2(body) => body.size_hint(),
        }
    }
}
