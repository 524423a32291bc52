//! Encoders: heads from `http` parts (names in their received case and order where a
//! [`HeaderCase`] is given), and bodies framed by a length or the chunked coding.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use http::header::{HeaderName, HeaderValue, ValueIter};
use http::{HeaderMap, Method, StatusCode, Uri, Version};

use crate::case::{HeaderCase, SCAN_MAX};
use crate::error::{Error, ErrorKind};
use crate::framing::BodyKind;
use crate::head::ReasonPhrase;

/// Writes a request head: request line, fields, empty line.
///
/// The target is written as `uri` holds it (origin form when it has no scheme); `HTTP/1.0` is
/// written as such, any other version as `HTTP/1.1`. Fields are written as [`write_fields`]
/// says.
pub fn encode_request(
    method: &Method,
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
    case: Option<&HeaderCase>,
    dst: &mut BytesMut,
) {
    dst.reserve(estimate(headers, case));
    dst.put_slice(method.as_str().as_bytes());
    dst.put_u8(b' ');
    match (uri.scheme(), uri.authority()) {
        (None, None) => {
            let target = uri.path_and_query().map_or("/", |p| p.as_str());
            dst.put_slice(target.as_bytes());
        }
        // Absolute form, or the authority form of CONNECT.
        _ => {
            let _ = write!(dst, "{uri}");
        }
    }
    dst.put_slice(if version == Version::HTTP_10 { b" HTTP/1.0\r\n" } else { b" HTTP/1.1\r\n" });
    write_fields(headers, case, dst);
    dst.put_slice(b"\r\n");
}

/// Writes a response head: status line, fields, empty line.
///
/// `reason` is written when given and valid (no control bytes other than HTAB), the status's
/// standard reason otherwise; versions as in [`encode_request`].
pub fn encode_response(
    status: StatusCode,
    version: Version,
    reason: Option<&[u8]>,
    headers: &HeaderMap,
    case: Option<&HeaderCase>,
    dst: &mut BytesMut,
) {
    dst.reserve(estimate(headers, case));
    dst.put_slice(if version == Version::HTTP_10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    dst.put_slice(status.as_str().as_bytes());
    dst.put_u8(b' ');
    let valid = |r: &&[u8]| r.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    match reason.filter(valid) {
        Some(reason) => dst.put_slice(reason),
        None => dst.put_slice(status.canonical_reason().unwrap_or_default().as_bytes()),
    }
    dst.put_slice(b"\r\n");
    write_fields(headers, case, dst);
    dst.put_slice(b"\r\n");
}

/// Writes a request head from `parts`, with the [`HeaderCase`] in its extensions if any (as
/// [`crate::RequestHead::into_parts`] leaves it); see [`encode_request`].
pub fn encode_request_parts(parts: &http::request::Parts, dst: &mut BytesMut) {
    let case = parts.extensions.get::<HeaderCase>();
    encode_request(&parts.method, &parts.uri, parts.version, &parts.headers, case, dst);
}

/// Writes a response head from `parts`, with the [`HeaderCase`] and [`ReasonPhrase`] in its
/// extensions if any (as [`crate::ResponseHead::into_parts`] leaves them); see
/// [`encode_response`].
pub fn encode_response_parts(parts: &http::response::Parts, dst: &mut BytesMut) {
    let case = parts.extensions.get::<HeaderCase>();
    let reason = parts.extensions.get::<ReasonPhrase>().map(ReasonPhrase::as_bytes);
    encode_response(parts.status, parts.version, reason, &parts.headers, case, dst);
}

/// Writes `headers` as field lines.
///
/// With `case`, the fields it records come first, in its order and spelling, each with its
/// name's current value of the same index (so a value changed in the map is written in place);
/// recorded fields no longer in the map are skipped. Then every field not recorded (added since,
/// or without a record) follows in the map's order, its name in lower case.
pub fn write_fields(headers: &HeaderMap, case: Option<&HeaderCase>, dst: &mut BytesMut) {
    match case {
        Some(case) if case.len() > SCAN_MAX => write_large(headers, case, dst),
        Some(case) => write_small(headers, case, dst),
        None => {
            for (name, value) in headers {
                field(dst, name.as_str().as_bytes(), value.as_bytes());
            }
        }
    }
}

/// [`write_fields`] for a record of at most [`SCAN_MAX`] names: look-ups and scans.
fn write_small(headers: &HeaderMap, case: &HeaderCase, dst: &mut BytesMut) {
    let mut written = 0;
    for (name, nth) in case.names() {
        // Names in the record are tokens, so ASCII; the map's look-up ignores case.
        let Ok(key) = std::str::from_utf8(name) else { continue };
        if let Some(value) = headers.get_all(key).iter().nth(nth) {
            field(dst, name, value.as_bytes());
            written += 1;
        }
    }
    // Most messages keep their fields or change them in place: nothing is left to write.
    if written == headers.len() {
        return;
    }
    write_rest(headers, dst, |name| case.count_by_scan(name.as_str().as_bytes()));
}

/// [`write_fields`] for a large record: one walk over each name's values, whatever their
/// number, through a map from name to its values not yet written.
fn write_large(headers: &HeaderMap, case: &HeaderCase, dst: &mut BytesMut) {
    let mut values: HeaderMap<(ValueIter<'_, HeaderValue>, usize)> = HeaderMap::default();
    let mut written = 0;
    for (name, _) in case.names() {
        let Ok(key) = HeaderName::from_bytes(name) else { continue };
        let (left, recorded) =
            values.entry(key.clone()).or_insert_with(|| (headers.get_all(&key).iter(), 0));
        *recorded += 1;
        if let Some(value) = left.next() {
            field(dst, name, value.as_bytes());
            written += 1;
        }
    }
    if written == headers.len() {
        return;
    }
    write_rest(headers, dst, |name| values.get(name).map_or(0, |(_, recorded)| *recorded));
}

/// Writes the fields of `headers` past the first `recorded(name)` of each name, in the map's
/// order, names in lower case.
fn write_rest(headers: &HeaderMap, dst: &mut BytesMut, recorded: impl Fn(&HeaderName) -> usize) {
    let mut current = None;
    let (mut index, mut skip) = (0, 0);
    for (name, value) in headers {
        if current != Some(name) {
            current = Some(name);
            index = 0;
            skip = recorded(name);
        }
        if index >= skip {
            field(dst, name.as_str().as_bytes(), value.as_bytes());
        }
        index += 1;
    }
}

fn field(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    dst.put_slice(name);
    dst.put_slice(b": ");
    dst.put_slice(value);
    dst.put_slice(b"\r\n");
}

/// About the size of a head, to reserve once.
fn estimate(headers: &HeaderMap, case: Option<&HeaderCase>) -> usize {
    64 + case.map_or(headers.len() * 32, |case| case.raw_len())
}

/// Frames body data as a length or the chunked coding, checking it against the framing.
#[derive(Clone, Debug)]
pub struct Encoder {
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// This many bytes are still to come (0 for an empty body).
    Length(u64),
    Chunked,
    UntilClose,
    Finished,
}

impl Encoder {
    /// An encoder for a body framed as `kind` (the framing its head announces).
    pub fn new(kind: BodyKind) -> Encoder {
        let kind = match kind {
            BodyKind::Empty => Kind::Length(0),
            BodyKind::Length(n) => Kind::Length(n),
            BodyKind::Chunked => Kind::Chunked,
            BodyKind::UntilClose => Kind::UntilClose,
        };
        Encoder { kind }
    }

    /// Writes `data` framed; empty data writes nothing (an empty chunk would end the body).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BodyTooLong`] when `data` goes past the length, or the body was finished;
    /// nothing is written then.
    pub fn data(&mut self, data: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
        let after = self.frame(data.len(), dst)?;
        dst.put_slice(data);
        dst.put_slice(after);
        Ok(())
    }

    /// Writes the framing that goes before `len` bytes of data, for a caller that writes the
    /// data itself (from its own buffer, without a copy); returns what goes after the data.
    /// `len` 0 writes nothing.
    ///
    /// # Errors
    ///
    /// As [`Encoder::data`].
    pub fn frame(&mut self, len: usize, dst: &mut BytesMut) -> Result<&'static [u8], Error> {
        match &mut self.kind {
            Kind::Length(left) => {
                let n = len as u64;
                if n > *left {
                    return Err(ErrorKind::BodyTooLong.into());
                }
                *left -= n;
                Ok(b"")
            }
            Kind::Chunked if len == 0 => Ok(b""),
            Kind::Chunked => {
                let _ = write!(dst, "{len:X}\r\n");
                Ok(b"\r\n")
            }
            Kind::UntilClose => Ok(b""),
            Kind::Finished if len == 0 => Ok(b""),
            Kind::Finished => Err(ErrorKind::BodyTooLong.into()),
        }
    }

    /// Ends the body: the last chunk and `trailers` for the chunked coding (trailers cannot
    /// be sent otherwise, and are dropped); a check that the length was met for a length.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BodyTooShort`] when fewer bytes than the length were written.
    pub fn finish(
        &mut self,
        trailers: Option<&HeaderMap>,
        dst: &mut BytesMut,
    ) -> Result<(), Error> {
        match std::mem::replace(&mut self.kind, Kind::Finished) {
            Kind::Length(0) | Kind::UntilClose | Kind::Finished => Ok(()),
            Kind::Length(left) => {
                self.kind = Kind::Length(left);
                Err(ErrorKind::BodyTooShort.into())
            }
            Kind::Chunked => {
                dst.put_slice(b"0\r\n");
                if let Some(trailers) = trailers {
                    write_fields(trailers, None, dst);
                }
                dst.put_slice(b"\r\n");
                Ok(())
            }
        }
    }
}
