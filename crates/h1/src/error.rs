//! The codec's one error type: what was wrong with a message, as a kind a caller can match on
//! (to pick 400, 413, 431, 501 or 502) and a message a log can show.

use std::fmt;

/// Why a message was refused, or why a body could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
}

/// What an [`Error`] is about. Each smuggling form has a kind of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The head is longer than the limit (bytes, request or status line and fields together).
    HeadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The head has more fields than the limit.
    TooManyHeaders {
        /// The limit, in fields.
        limit: usize,
    },
    /// The request method is not a token.
    Method,
    /// The request target has a byte no target may have, or is no URI.
    Target,
    /// The version is not `HTTP/1.0` or `HTTP/1.1`.
    Version,
    /// The status line is malformed (the code is not three digits, or the reason has a control).
    Status,
    /// A field name is not a token, or is followed by white space before its colon.
    HeaderName,
    /// A field value has a control byte.
    HeaderValue,
    /// A line ends in something other than CRLF or LF (a bare CR, for one).
    NewLine,
    /// A field is continued on the next line (obs-fold, RFC 9112 §5.2).
    ObsFold,
    /// Both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.3: the smugglers' favourite).
    LengthAndTransferEncoding,
    /// A `Content-Length` value is not a decimal number (or does not fit in 64 bits), or on a
    /// request is a list.
    InvalidContentLength,
    /// Several `Content-Length` values that differ.
    ConflictingContentLength,
    /// A request's `Transfer-Encoding` whose last coding is not `chunked`, or any message's
    /// that names `chunked` more than once or has an empty or malformed coding: its length is
    /// unknowable, or readers would disagree on it.
    TransferEncodingNotChunked,
    /// `Transfer-Encoding` on an HTTP/1.0 message, whose framing then cannot be trusted.
    TransferEncodingHttp10,
    /// A chunk-size line whose size is not hexadecimal, overflows, or has bytes after it that
    /// are neither white space, an extension nor CRLF.
    ChunkSize,
    /// A chunk-size line longer than the limit (extensions included).
    ChunkLineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Chunk data not followed by CRLF.
    ChunkDataEnd,
    /// A malformed trailer field, a trailer line not ended by CRLF, or a field that may not be
    /// a trailer (framing fields).
    Trailer,
    /// The trailer section is longer than the limit, in bytes or fields.
    TrailersTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The input ended inside a body whose end is framed by its length or by a last chunk.
    IncompleteBody,
    /// More body bytes than the `Content-Length` being encoded.
    BodyTooLong,
    /// Fewer body bytes than the `Content-Length` being encoded.
    BodyTooShort,
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether this error is about a limit (head size, field count, chunk line, trailers):
    /// the message may be fine, only too large for this server.
    pub fn is_limit(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::HeadTooLarge { .. }
                | ErrorKind::TooManyHeaders { .. }
                | ErrorKind::ChunkLineTooLong { .. }
                | ErrorKind::TrailersTooLarge { .. }
        )
    }

    /// Whether this error is a framing conflict or ambiguity that request smuggling uses.
    pub fn is_framing(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::LengthAndTransferEncoding
                | ErrorKind::InvalidContentLength
                | ErrorKind::ConflictingContentLength
                | ErrorKind::TransferEncodingNotChunked
                | ErrorKind::TransferEncodingHttp10
                | ErrorKind::ObsFold
        )
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error { kind }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::HeadTooLarge { limit } => {
                write!(f, "head longer than the limit of {limit} bytes")
            }
            ErrorKind::TooManyHeaders { limit } => {
                write!(f, "more header fields than the limit of {limit}")
            }
            ErrorKind::Method => f.write_str("invalid method"),
            ErrorKind::Target => f.write_str("invalid request target"),
            ErrorKind::Version => {
                f.write_str("invalid HTTP version (HTTP/1.0 or HTTP/1.1 expected)")
            }
            ErrorKind::Status => f.write_str("invalid status line"),
            ErrorKind::HeaderName => f.write_str("invalid header field name"),
            ErrorKind::HeaderValue => f.write_str("invalid header field value"),
            ErrorKind::NewLine => f.write_str("invalid line ending"),
            ErrorKind::ObsFold => f.write_str("header field folded over lines (obs-fold)"),
            ErrorKind::LengthAndTransferEncoding => {
                f.write_str("both Content-Length and Transfer-Encoding")
            }
            ErrorKind::InvalidContentLength => f.write_str("invalid Content-Length"),
            ErrorKind::ConflictingContentLength => f.write_str("differing Content-Length values"),
            ErrorKind::TransferEncodingNotChunked => {
                f.write_str("Transfer-Encoding on a request does not end in a single chunked")
            }
            ErrorKind::TransferEncodingHttp10 => f.write_str("Transfer-Encoding on HTTP/1.0"),
            ErrorKind::ChunkSize => f.write_str("invalid chunk-size line"),
            ErrorKind::ChunkLineTooLong { limit } => {
                write!(f, "chunk-size line longer than the limit of {limit} bytes")
            }
            ErrorKind::ChunkDataEnd => f.write_str("chunk data not followed by CRLF"),
            ErrorKind::Trailer => f.write_str("invalid trailer field"),
            ErrorKind::TrailersTooLarge { limit } => {
                write!(f, "trailer section over the limit of {limit} bytes or the field limit")
            }
            ErrorKind::IncompleteBody => f.write_str("connection closed inside a body"),
            ErrorKind::BodyTooLong => f.write_str("body longer than its Content-Length"),
            ErrorKind::BodyTooShort => f.write_str("body shorter than its Content-Length"),
        }
    }
}

impl std::error::Error for Error {}
