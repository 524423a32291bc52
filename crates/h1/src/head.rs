//! Request and response heads parsed in place: `httparse` finds the fields, the head's bytes
//! become one [`Bytes`], and every value in the [`HeaderMap`] is a slice of it.

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Uri, Version};
use smallvec::SmallVec;

use crate::case::{HeaderCase, SCAN_MAX};
use crate::error::{Error, ErrorKind};
use crate::framing::{BodyKind, Fields, is_token_text, trim};
use crate::name::is_name;

/// How large a head may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes in a head: start line, fields and the empty line that ends it.
    pub max_head_bytes: usize,
    /// The most fields in a head, and in a trailer section.
    pub max_headers: usize,
    /// The most bytes in a chunk-size line, extensions and CRLF included.
    pub max_chunk_line: usize,
    /// The most bytes in a trailer section, its last CRLF included.
    pub max_trailer_bytes: usize,
}

impl Default for Limits {
    /// 32 KiB heads of at most 100 fields (the proxy's `limits:` defaults), 4 KiB chunk-size
    /// lines, 16 KiB trailer sections.
    fn default() -> Limits {
        Limits {
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_chunk_line: 4 * 1024,
            max_trailer_bytes: 16 * 1024,
        }
    }
}

/// A parsed request head.
///
/// The public fields are the message as received and may be changed before it is encoded
/// again; the framing facts ([`RequestHead::body`] and the like) are those of the message as
/// received and do not follow such changes. A `Content-Length` repeated with the same value is
/// kept once, as hyper's server keeps it.
#[derive(Clone, Debug)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target, as received (origin, absolute, authority or asterisk form).
    pub uri: Uri,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The fields, values sliced from the received head.
    pub headers: HeaderMap,
    /// The case and order of the field names as received.
    pub case: HeaderCase,
    raw: Bytes,
    body: BodyKind,
    fields: Fields,
}

impl RequestHead {
    /// The head's bytes as received (empty lines before the request line included).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// How the request's body is framed.
    pub fn body(&self) -> BodyKind {
        self.body
    }

    /// Whether the client allows another request on the connection after this one
    /// (`Connection: close`, or HTTP/1.0 without `keep-alive`, say no).
    pub fn keep_alive(&self) -> bool {
        self.fields.persistent(self.version)
    }

    /// Whether the request asks to switch protocols (`Connection: upgrade` and `Upgrade`, on
    /// HTTP/1.1).
    pub fn wants_upgrade(&self) -> bool {
        self.fields.upgrade(self.version)
    }

    /// Whether the request is a `CONNECT`, which asks for a tunnel.
    pub fn is_connect(&self) -> bool {
        self.method == Method::CONNECT
    }

    /// Whether the client waits for `100 Continue` before it sends the body (HTTP/1.1 with
    /// `Expect: 100-continue`).
    pub fn expects_continue(&self) -> bool {
        self.fields.expect_continue(self.version)
    }

    /// The head as [`http::request::Parts`], its [`HeaderCase`] in the extensions.
    pub fn into_parts(self) -> http::request::Parts {
        let (mut parts, case) = self.into_parts_and_case();
        parts.extensions.insert(case);
        parts
    }

    /// The head as [`http::request::Parts`] and its [`HeaderCase`] apart: what carries the
    /// record on saves the `http` extensions' allocations.
    pub fn into_parts_and_case(self) -> (http::request::Parts, HeaderCase) {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.method = self.method;
        parts.uri = self.uri;
        parts.version = self.version;
        parts.headers = self.headers;
        (parts, self.case)
    }
}

/// A parsed request head whose fields are still as received ([`FieldLines`]), as
/// [`parse_request_lines`] gives it: a proxy that forwards them as they came needs no map, and
/// [`RequestLines::into_head`] makes one when something must read or change them.
///
/// The framing facts are those of [`RequestHead`], worked out from the same fields.
#[derive(Clone, Debug)]
pub struct RequestLines {
    /// The method.
    pub method: Method,
    /// The request target, as received.
    pub uri: Uri,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    lines: FieldLines,
    body: BodyKind,
    fields: Fields,
}

impl RequestLines {
    /// The field lines as received (the head's bytes with them).
    pub fn lines(&self) -> &FieldLines {
        &self.lines
    }

    /// As [`RequestHead::body`].
    pub fn body(&self) -> BodyKind {
        self.body
    }

    /// As [`RequestHead::keep_alive`].
    pub fn keep_alive(&self) -> bool {
        self.fields.persistent(self.version)
    }

    /// As [`RequestHead::wants_upgrade`].
    pub fn wants_upgrade(&self) -> bool {
        self.fields.upgrade(self.version)
    }

    /// As [`RequestHead::expects_continue`].
    pub fn expects_continue(&self) -> bool {
        self.fields.expect_continue(self.version)
    }

    /// The head with its fields in a map and their case recorded, as [`parse_request`] gives
    /// it.
    ///
    /// # Errors
    ///
    /// As [`FieldLines::to_map`].
    pub fn into_head(self) -> Result<RequestHead, Error> {
        let (headers, case) = self.lines.to_request_map()?;
        let RequestLines { method, uri, version, lines, body, fields } = self;
        Ok(RequestHead { method, uri, version, headers, case, raw: lines.raw, body, fields })
    }

    /// The head as [`http::request::Parts`] with no fields, and its fields as received apart.
    pub fn into_parts_and_lines(self) -> (http::request::Parts, FieldLines) {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.method = self.method;
        parts.uri = self.uri;
        parts.version = self.version;
        (parts, self.lines)
    }
}

/// A parsed response head.
///
/// As with [`RequestHead`], the framing facts are those of the message as received. Its fields
/// stay as received ([`FieldLines`]) until [`ResponseHead::into_parts_and_case`] puts them in a
/// map: a proxy that changes none of them may write them on as they came.
#[derive(Clone, Debug)]
pub struct ResponseHead {
    /// The status code.
    pub status: StatusCode,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    lines: FieldLines,
    reason: Bytes,
    body: BodyKind,
    must_close: bool,
    tunnel: bool,
    fields: Fields,
}

impl ResponseHead {
    /// The head's bytes as received.
    pub fn raw(&self) -> &Bytes {
        &self.lines.raw
    }

    /// The field lines as received.
    pub fn lines(&self) -> &FieldLines {
        &self.lines
    }

    /// The reason phrase as received (may be empty; may have bytes beyond ASCII).
    pub fn reason(&self) -> &Bytes {
        &self.reason
    }

    /// How the response's body is framed.
    pub fn body(&self) -> BodyKind {
        self.body
    }

    /// Whether the connection may carry another request after this response: the origin
    /// allows it, and the body has a framed end that leaves no doubt where the next begins.
    pub fn keep_alive(&self) -> bool {
        !self.must_close && self.fields.persistent(self.version)
    }

    /// Whether the head has both `Content-Length` and `Transfer-Encoding` (the coding frames
    /// the body; see [`ResponseHead::keep_alive`]).
    pub fn has_conflicting_length(&self) -> bool {
        self.fields.has_length_and_coding()
    }

    /// Whether the connection becomes a tunnel after this head: `101 Switching Protocols`, or
    /// a 2xx to `CONNECT` (the method given to [`parse_response`]).
    pub fn is_upgrade(&self) -> bool {
        self.status == StatusCode::SWITCHING_PROTOCOLS || self.tunnel
    }

    /// The head as [`http::response::Parts`], its [`HeaderCase`] in the extensions, and its
    /// reason as a [`ReasonPhrase`] there too when it is not the status's standard one.
    ///
    /// # Errors
    ///
    /// As [`FieldLines::to_map`].
    pub fn into_parts(self) -> Result<http::response::Parts, Error> {
        let (mut parts, case) = self.into_parts_and_case()?;
        parts.extensions.insert(case);
        Ok(parts)
    }

    /// As [`ResponseHead::into_parts`], with the [`HeaderCase`] apart: what carries the record
    /// on saves the `http` extensions' allocations. A reason phrase other than the status's
    /// standard one still goes in the extensions.
    ///
    /// # Errors
    ///
    /// As [`FieldLines::to_map`].
    pub fn into_parts_and_case(self) -> Result<(http::response::Parts, HeaderCase), Error> {
        let (headers, case) = self.lines.to_map()?;
        let (mut parts, _) = self.into_parts_and_lines();
        parts.headers = headers;
        Ok((parts, case))
    }

    /// The head as [`http::response::Parts`] with no fields (its reason in the extensions as
    /// in [`ResponseHead::into_parts`]), and its fields as received apart.
    pub fn into_parts_and_lines(self) -> (http::response::Parts, FieldLines) {
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = self.status;
        parts.version = self.version;
        let standard = self.status.canonical_reason().unwrap_or_default().as_bytes();
        if self.reason != standard {
            parts.extensions.insert(ReasonPhrase(self.reason));
        }
        (parts, self.lines)
    }
}

/// A head's field lines as received: names in their case, values without the white space
/// around them, in order, all slices of the head's bytes.
///
/// Put in a map by [`FieldLines::to_map`] when something must read or change them; written on
/// as they are otherwise ([`FieldLines::iter`]), which saves the map's hashing and allocations.
#[derive(Clone, Debug)]
pub struct FieldLines {
    /// The head the spans point into.
    raw: Bytes,
    spans: Vec<Span>,
}

impl FieldLines {
    /// The number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The length of the head the fields are in.
    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }

    /// The fields in order: each name as received, and its value.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + '_ {
        self.spans.iter().map(|span| {
            (&self.raw[span.name.0..span.name.1], &self.raw[span.value.0..span.value.1])
        })
    }

    /// Writes the fields `keep` keeps (by index, in order) into `dst` as [`write_field`]
    /// writes each: `name: value` and CRLF.
    ///
    /// A line received in that very form is copied as it came, and a run of such lines kept
    /// one after another at once (most origins write every line so): one copy for the run,
    /// where each field takes four writes.
    ///
    /// [`write_field`]: crate::write_field
    pub fn write_kept(&self, keep: impl FnMut(usize) -> bool, dst: &mut BytesMut) {
        self.write_kept_in(0..self.spans.len(), keep, dst);
    }

    /// As [`FieldLines::write_kept`], for the fields at `range` (by index) only; a range past
    /// the last field stops there.
    pub fn write_kept_in(
        &self,
        range: Range<usize>,
        mut keep: impl FnMut(usize) -> bool,
        dst: &mut BytesMut,
    ) {
        let raw = &self.raw[..];
        let first = range.start;
        let end = range.end.min(self.spans.len());
        let spans = self.spans.get(first..end).unwrap_or_default();
        // The run of lines to copy, as a range of `raw`.
        let mut run = 0..0;
        for (i, span) in spans.iter().enumerate() {
            if !keep(first + i) {
                dst.put_slice(&raw[std::mem::take(&mut run)]);
                continue;
            }
            let (start, end) = (span.name.0, span.value.1);
            let as_written = span.value.0 == span.name.1 + 2
                && raw.get(span.name.1..span.value.0) == Some(b": ")
                && raw.get(end..end + 2) == Some(b"\r\n");
            if as_written && run.end == start && !run.is_empty() {
                run.end = end + 2;
            } else {
                dst.put_slice(&raw[std::mem::take(&mut run)]);
                if as_written {
                    run = start..end + 2;
                } else {
                    crate::write_field(&raw[start..span.name.1], &raw[span.value.0..end], dst);
                }
            }
        }
        dst.put_slice(&raw[run]);
    }

    /// The value of the field at `index`, sharing the head's bytes; `None` past the last.
    pub fn shared_value(&self, index: usize) -> Option<Bytes> {
        let span = self.spans.get(index)?;
        Some(self.raw.slice(span.value.0..span.value.1))
    }

    /// The fields as a map (values sliced from the head, not copied) and the record of their
    /// names' case and order: a response's, as [`ResponseHead::into_parts_and_case`] makes
    /// them (a request's: [`FieldLines::to_request_map`]).
    ///
    /// # Errors
    ///
    /// A name or value the map cannot hold. `httparse` and the parser check both, so a head
    /// [`parse_response`] returned gives none; the error is the map's, kept rather than assumed.
    pub fn to_map(&self) -> Result<(HeaderMap, HeaderCase), Error> {
        map(&self.raw, &self.spans, false)
    }

    /// As [`FieldLines::to_map`], for a request's fields: a `Content-Length` repeated (with
    /// the same value, or the framing refused the head) is kept once, as [`parse_request`]
    /// keeps it.
    ///
    /// # Errors
    ///
    /// As [`FieldLines::to_map`].
    pub fn to_request_map(&self) -> Result<(HeaderMap, HeaderCase), Error> {
        map(&self.raw, &self.spans, true)
    }
}

/// A response's reason phrase as received, when it is not its status's standard one; kept in
/// [`http::response::Parts`]' extensions, where [`crate::encode_response_parts`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReasonPhrase(Bytes);

impl ReasonPhrase {
    /// A phrase of `bytes`, if a status line may carry them: visible ASCII, spaces, tabs and
    /// obs-text (RFC 9112 §4), no CR or LF.
    pub fn new(bytes: Bytes) -> Option<ReasonPhrase> {
        let valid = |&b: &u8| b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80;
        bytes.iter().all(valid).then_some(ReasonPhrase(bytes))
    }

    /// The phrase's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Fields parsed on the stack; a head with more takes one allocation of `max_headers`.
const STACK_FIELDS: usize = 64;

/// A head's field spans: up to [`STACK_FIELDS`] on the stack, not zeroed first (an array of
/// them would be, 2 kB per head), more on the heap.
type Spans = SmallVec<[Span; STACK_FIELDS]>;

/// Room a parsed head's map keeps beyond its fields: a proxy adds a few (`Via`, forwarding
/// fields, a plugin's), and a full map would rehash into a new table for the first of them.
const SPARE_FIELDS: usize = 4;

/// Where one field's name and value are in the head.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    name: (usize, usize),
    value: (usize, usize),
}

/// What `httparse` found, as offsets into the buffer it read.
struct Found {
    /// Bytes in the head.
    len: usize,
    /// Method and target (request) or status and reason (response).
    first: (usize, usize),
    second: (usize, usize),
    status: u16,
    minor: u8,
}

/// Parses a request head at the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a head (read more and call again);
/// otherwise the head's bytes are split off `buf`, which keeps what follows (a body, the next
/// request).
///
/// Each call reads from the start of `buf`: a head that arrives in many small reads is read
/// many times (within `limits.max_head_bytes`). A head ends with LF, so a caller may skip the
/// call after a read that brought no LF, except to see a limit passed or an error early.
///
/// # Errors
///
/// A head over a limit, malformed, or framed ambiguously (see [`ErrorKind`]); `buf` is left as
/// it was, and the connection cannot be read further.
pub fn parse_request(buf: &mut BytesMut, limits: &Limits) -> Result<Option<RequestHead>, Error> {
    let Some(lines) = parse_request_lines(buf, limits)? else { return Ok(None) };
    let raw = lines.lines.raw.clone();
    lines.into_head().map(Some).inspect_err(|_| restore(buf, raw))
}

/// As [`parse_request`], with the fields left as received: no map is made.
///
/// # Errors
///
/// As [`parse_request`]: `buf` is left as it was.
pub fn parse_request_lines(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<RequestLines>, Error> {
    let mut spans = Spans::new();
    let Some(found) = find(buf, limits, &mut spans, find_request)? else {
        return Ok(None);
    };
    let raw = buf.split_to(found.len).freeze();
    let version = if found.minor == 0 { Version::HTTP_10 } else { Version::HTTP_11 };
    let parsed = (|| {
        let method = Method::from_bytes(&raw[found.first.0..found.first.1])
            .map_err(|_| Error::from(ErrorKind::Method))?;
        let uri = Uri::from_maybe_shared(raw.slice(found.second.0..found.second.1))
            .map_err(|_| Error::from(ErrorKind::Target))?;
        let fields = facts(&raw, &spans)?;
        let body = fields.request_body(version)?;
        Ok((method, uri, fields, body))
    })();
    let (method, uri, fields, body) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            // Leave `buf` as it was, as promised: the head goes back in front.
            restore(buf, raw);
            return Err(err);
        }
    };
    let lines = FieldLines { raw, spans: spans.to_vec() };
    Ok(Some(RequestLines { method, uri, version, lines, body, fields }))
}

/// Parses a response head at the start of `buf`, given the method of the request it answers
/// (which decides, with the status, whether it has a body).
///
/// An informational (1xx) head other than 101 comes before the final response: parse again
/// after it.
///
/// # Errors
///
/// As [`parse_request`]: `buf` is left as it was.
pub fn parse_response(
    buf: &mut BytesMut,
    limits: &Limits,
    method: &Method,
) -> Result<Option<ResponseHead>, Error> {
    let mut spans = Spans::new();
    let Some(found) = find(buf, limits, &mut spans, find_response)? else {
        return Ok(None);
    };
    let spans = &spans[..];
    let raw = buf.split_to(found.len).freeze();
    let status = StatusCode::from_u16(found.status).map_err(|_| Error::from(ErrorKind::Status));
    let version = if found.minor == 0 { Version::HTTP_10 } else { Version::HTTP_11 };
    let parsed = status.and_then(|status| {
        let fields = facts(&raw, spans)?;
        let (body, must_close) = fields.response_body(version, method, status)?;
        Ok((status, fields, body, must_close))
    });
    let (status, fields, body, must_close) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            restore(buf, raw);
            return Err(err);
        }
    };
    let reason = raw.slice(found.second.0..found.second.1);
    let tunnel = *method == Method::CONNECT && status.is_success();
    let lines = FieldLines { raw, spans: spans.to_vec() };
    Ok(Some(ResponseHead { status, version, lines, reason, body, must_close, fields, tunnel }))
}

/// Puts a head split off `buf` back in front of it.
fn restore(buf: &mut BytesMut, raw: Bytes) {
    let mut whole = BytesMut::with_capacity(raw.len() + buf.len());
    whole.extend_from_slice(&raw);
    whole.extend_from_slice(buf);
    *buf = whole;
}

/// Runs `finder` over `buf` with room for `limits.max_headers` fields and checks the head
/// size; the fields' spans go to `spans`.
fn find(
    buf: &[u8],
    limits: &Limits,
    spans: &mut Spans,
    finder: impl for<'b> Fn(
        &'b [u8],
        &mut [MaybeUninit<httparse::Header<'b>>],
        &mut Spans,
    ) -> FindOutcome,
) -> Result<Option<Found>, Error> {
    let max = limits.max_headers;
    // Only the bytes a head may have are looked at, so that an error past the limit and the
    // limit itself do not depend on how much was read.
    let buf = &buf[..buf.len().min(limits.max_head_bytes)];
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_FIELDS];
    let outcome = finder(buf, &mut stack[..max.min(STACK_FIELDS)], spans);
    let outcome = match outcome {
        Err(httparse::Error::TooManyHeaders) if max > STACK_FIELDS => {
            let mut heap = Vec::with_capacity(max);
            heap.resize_with(max, MaybeUninit::uninit);
            finder(buf, &mut heap, spans)
        }
        outcome => outcome,
    };
    match outcome {
        Ok(Some(found)) => Ok(Some(found)),
        Ok(None) if buf.len() >= limits.max_head_bytes => {
            Err(ErrorKind::HeadTooLarge { limit: limits.max_head_bytes }.into())
        }
        Ok(None) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            Err(ErrorKind::TooManyHeaders { limit: max }.into())
        }
        Err(err) => Err(kind(buf, err).into()),
    }
}

type FindOutcome = Result<Option<Found>, httparse::Error>;

fn find_request<'b>(
    buf: &'b [u8],
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
    spans: &mut Spans,
) -> FindOutcome {
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, headers)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let method = req.method.unwrap_or_default().as_bytes();
    let path = req.path.unwrap_or_default().as_bytes();
    record(buf, req.headers, spans);
    Ok(Some(Found {
        len,
        first: range(buf, method),
        second: range(buf, path),
        status: 0,
        minor: req.version.unwrap_or(1),
    }))
}

fn find_response<'b>(
    buf: &'b [u8],
    headers: &mut [MaybeUninit<httparse::Header<'b>>],
    spans: &mut Spans,
) -> FindOutcome {
    let mut res = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let len = match config.parse_response_with_uninit_headers(&mut res, buf, headers)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    record(buf, res.headers, spans);
    Ok(Some(Found {
        len,
        first: (0, 0),
        second: reason(buf),
        status: res.code.unwrap_or_default(),
        minor: res.version.unwrap_or(1),
    }))
}

/// Puts the spans of `headers` (slices of `buf`) in `spans`.
fn record(buf: &[u8], headers: &[httparse::Header<'_>], spans: &mut Spans) {
    spans.clear();
    spans.extend(headers.iter().map(|header| Span {
        name: range(buf, header.name.as_bytes()),
        value: range(buf, trim(header.value)),
    }));
}

/// Where `part`, a slice of `buf`, is in it.
fn range(buf: &[u8], part: &[u8]) -> (usize, usize) {
    let start = (part.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    if start <= buf.len() && part.len() <= buf.len() - start {
        (start, start + part.len())
    } else {
        // An empty slice `httparse` made up (a missing reason): nothing.
        (0, 0)
    }
}

/// The reason phrase of the status line at the start of `buf` (`HTTP/1.1 200 ` is 13 bytes;
/// `httparse` has checked its form, and gives no reason with bytes beyond ASCII).
fn reason(buf: &[u8]) -> (usize, usize) {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(0);
    let end = buf[start..].iter().position(|&b| b == b'\n').map_or(buf.len(), |i| start + i);
    let end = if end > start && buf[end - 1] == b'\r' { end - 1 } else { end };
    if end > start + 13 { (start + 13, end) } else { (0, 0) }
}

/// The [`ErrorKind`] for an `httparse` error, telling the forms it lumps together apart.
fn kind(buf: &[u8], err: httparse::Error) -> ErrorKind {
    match err {
        httparse::Error::HeaderName if folded(buf) => ErrorKind::ObsFold,
        httparse::Error::HeaderName => ErrorKind::HeaderName,
        httparse::Error::HeaderValue => ErrorKind::HeaderValue,
        httparse::Error::NewLine => ErrorKind::NewLine,
        httparse::Error::Status => ErrorKind::Status,
        httparse::Error::Version => ErrorKind::Version,
        httparse::Error::TooManyHeaders => ErrorKind::TooManyHeaders { limit: 0 },
        // A token is expected for the method, and the target is checked the same way.
        httparse::Error::Token => {
            let line = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(0);
            let method = buf[line..].split(|&b| b == b' ').next().unwrap_or_default();
            if is_token_text(method) { ErrorKind::Target } else { ErrorKind::Method }
        }
    }
}

/// Whether the field line `httparse` refused (with a bad name) is a fold: one that begins with
/// white space after a field line.
///
/// The lines before the refused one have good names, so the refused line is the first that
/// does not; what follows it is not looked at, so the answer does not depend on how much of
/// the stream was read.
fn folded(buf: &[u8]) -> bool {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(0);
    for (n, line) in buf[start..].split(|&b| b == b'\n').skip(1).enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // White space before the first field continues nothing: that is a bad name.
        match line.first() {
            Some(b' ' | b'\t') => return n > 0,
            None => return false,
            Some(_) => {}
        }
        let colon = line.iter().position(|&b| b == b':');
        if !colon.is_some_and(|c| is_token_text(&line[..c])) {
            return false;
        }
    }
    false
}

/// The framing facts of the fields at `spans` of `raw`.
///
/// # Errors
///
/// A name longer than a map holds (`httparse` has checked every byte of names and values
/// against the sets the map allows, but not the length).
fn facts(raw: &[u8], spans: &[Span]) -> Result<Fields, Error> {
    let mut fields = Fields::default();
    for span in spans {
        let name = &raw[span.name.0..span.name.1];
        if name.len() > MAX_NAME {
            return Err(ErrorKind::HeaderName.into());
        }
        fields.see(name, &raw[span.value.0..span.value.1]);
    }
    Ok(fields)
}

/// The longest name a [`HeaderName`] holds.
const MAX_NAME: usize = u16::MAX as usize;

/// The header map and case record of the fields at `spans` of `raw`; `one_length` as in
/// [`fields`].
fn map(raw: &Bytes, spans: &[Span], one_length: bool) -> Result<(HeaderMap, HeaderCase), Error> {
    let mut headers = HeaderMap::with_capacity(spans.len() + SPARE_FIELDS);
    let mut case = HeaderCase::with_capacity(raw.clone(), spans.len());
    // Each field's index among those of its name: counted in a map for large heads.
    let mut counts: Option<HeaderMap<usize>> = (spans.len() > SCAN_MAX).then(HeaderMap::default);
    for span in spans {
        let name = &raw[span.name.0..span.name.1];
        if one_length
            && is_name(name, b"content-length")
            && headers.contains_key(http::header::CONTENT_LENGTH)
        {
            continue;
        }
        let header =
            HeaderName::from_bytes(name).map_err(|_| Error::from(ErrorKind::HeaderName))?;
        let value = HeaderValue::from_maybe_shared(raw.slice(span.value.0..span.value.1))
            .map_err(|_| Error::from(ErrorKind::HeaderValue))?;
        let repeated = headers.append(header.clone(), value);
        let nth = match &mut counts {
            Some(counts) => {
                let count = counts.entry(header.clone()).or_insert(0);
                *count += 1;
                *count - 1
            }
            None if repeated => case.count_by_scan(&header),
            None => 0,
        };
        case.push(header, span.name.0, span.name.1 - span.name.0, nth, span.value.0);
    }
    Ok((headers, case))
}
