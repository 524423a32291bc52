//! hookyard's HTTP/1 codec: request and response heads parsed in place, message framing with
//! strict smuggling rules, and incremental body decoders and encoders.
//!
//! Why our own: HTTP/1 parsing and encoding is the proxy's hot path and its core competence.
//! A general client and server library parses every head into a map and writes it out again,
//! lowercases names, and settles framing conflicts silently (it drops `Content-Length` when
//! `Transfer-Encoding` is present), which a proxy must refuse instead: two parsers that read one
//! message's length differently are how requests are smuggled. Here `httparse` tokenizes the
//! head; this crate owns everything a proxy decides from it.
//!
//! What it guarantees:
//! - **Zero copy:** a parsed head keeps its received bytes as one [`bytes::Bytes`]; the
//!   [`http::HeaderMap`] values, the target and body data are slices of the input. A head's
//!   fields go into a map only when asked ([`FieldLines`], [`parse_request_lines`],
//!   [`parse_response`]): a proxy that changes none writes them on as received.
//! - **Case and order kept:** [`HeaderCase`] records the names as received; the encoders write
//!   them back in that case and order, appending fields added since.
//! - **Strict framing (RFC 9112 §6):** a request with both `Content-Length` and
//!   `Transfer-Encoding`, differing or malformed lengths, a coding that does not end in one
//!   `chunked`, `Transfer-Encoding` on HTTP/1.0, or a folded field line is refused, each with
//!   its own [`ErrorKind`]; chunk-size lines and trailer lines are strict (hex digits, bounded
//!   extensions, CRLF). Never more lenient than hyper: whatever this crate reads, hyper reads
//!   the same (tested on mangled input).
//! - **Bounded:** head size, field count, chunk-size lines and trailer sections have limits
//!   ([`Limits`]), and errors say which one was passed.
//! - **Split invariance:** heads and decoders give the same result, errors included, however
//!   the input is split into reads.
//! - **No panics on input:** every byte sequence gives a head, "need more", or an error.
//!
//! It knows nothing of sockets, tasks or the proxy: callers read into a [`bytes::BytesMut`],
//! call [`parse_request`] or [`parse_response`], then drive a [`Decoder`]; they write what
//! [`encode_request`], [`encode_response`] and an [`Encoder`] put in their buffer. No `unsafe`.

#![forbid(unsafe_code)]

mod case;
mod decode;
mod encode;
mod error;
mod framing;
mod head;
mod name;

pub use case::HeaderCase;
pub use decode::{Decoded, Decoder};
pub use encode::{
    Encoder, encode_request, encode_request_line, encode_request_parts, encode_response,
    encode_response_parts, encode_status_line, write_field, write_fields,
};
pub use error::{Error, ErrorKind};
pub use framing::BodyKind;
pub use head::{
    FieldLines, Limits, ReasonPhrase, RequestHead, RequestLines, ResponseHead, parse_request,
    parse_request_lines, parse_response,
};
pub use name::is_name;
