//! Encoders: heads from `http` parts (names in their received case and order where a
//! [`HeaderCase`] is given), and bodies framed by a length or the chunked coding.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use http::header::{HeaderName, HeaderValue};
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
    encode_request_line(method, uri, version, dst);
    write_fields(headers, case, dst);
    dst.put_slice(b"\r\n");
}

/// Writes a request line, as [`encode_request`] writes it: the fields and the empty line that
/// ends the head are the caller's to write.
pub fn encode_request_line(method: &Method, uri: &Uri, version: Version, dst: &mut BytesMut) {
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
    encode_status_line(status, version, reason, dst);
    write_fields(headers, case, dst);
    dst.put_slice(b"\r\n");
}

/// Writes a response's status line; `reason` and versions as in [`encode_response`].
pub fn encode_status_line(
    status: StatusCode,
    version: Version,
    reason: Option<&[u8]>,
    dst: &mut BytesMut,
) {
    dst.put_slice(if version == Version::HTTP_10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    dst.put_slice(status.as_str().as_bytes());
    dst.put_u8(b' ');
    let valid = |r: &&[u8]| r.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    match reason.filter(valid) {
        Some(reason) => dst.put_slice(reason),
        None => dst.put_slice(status.canonical_reason().unwrap_or_default().as_bytes()),
    }
    dst.put_slice(b"\r\n");
}

/// Writes one field line, `name: value`.
pub fn write_field(name: &[u8], value: &[u8], dst: &mut BytesMut) {
    field(dst, name, value);
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
/// With `case`, the fields it records are written in its order and spelling: each value still
/// in the map as received (the same slice of the head) in its own place, and a value set in
/// the map since in the place of its name's field of the same index, if that field's value is
/// no longer there. Recorded fields no longer in the map are skipped. Then every other field
/// (added since, or without a record) follows in the map's order, its name in lower case.
pub fn write_fields(headers: &HeaderMap, case: Option<&HeaderCase>, dst: &mut BytesMut) {
    let Some(case) = case else {
        for (name, value) in headers {
            field(dst, name.as_str().as_bytes(), value.as_bytes());
        }
        return;
    };
    let mut stack = [None; SCAN_MAX];
    let mut heap = Vec::new();
    let places = if case.len() <= SCAN_MAX {
        &mut stack[..case.len()]
    } else {
        heap.resize(case.len(), None);
        &mut heap[..]
    };
    // Values as received first: most messages keep their fields or drop a few. Which of the
    // map's values found a place is noted, so that no later pass looks for it again.
    let mut found = Found::new(headers.len());
    let received = place_received(headers, case, places, &mut found);
    let all_received = received == headers.len();
    if !all_received {
        let positions = Positions::new(case, headers.len() - received);
        place_set(headers, case, places, &positions, &mut found);
    }
    for (index, value) in places.iter().enumerate() {
        if let Some(value) = value {
            field(dst, case.name(index), value.as_bytes());
        }
    }
    if all_received {
        return;
    }
    for (k, (name, value)) in headers.iter().enumerate() {
        if !found.has(k) {
            field(dst, name.as_str().as_bytes(), value.as_bytes());
        }
    }
}

/// Which of a map's values (by their order in it) have a place among the recorded fields'.
struct Found {
    /// The first 64.
    low: u64,
    /// The rest (empty, without an allocation, for a map of 64 values or fewer).
    high: Vec<bool>,
}

impl Found {
    fn new(values: usize) -> Found {
        Found { low: 0, high: vec![false; values.saturating_sub(64)] }
    }

    fn set(&mut self, k: usize) {
        match k.checked_sub(64) {
            None => self.low |= 1 << k,
            Some(high) => self.high[high] = true,
        }
    }

    fn has(&self, k: usize) -> bool {
        match k.checked_sub(64) {
            None => self.low & (1 << k) != 0,
            Some(high) => self.high[high],
        }
    }
}

/// Puts each of the map's values that is a recorded field's value as received in that
/// field's place, noting it in `found`; returns how many.
fn place_received<'h>(
    headers: &'h HeaderMap,
    case: &HeaderCase,
    places: &mut [Option<&'h HeaderValue>],
    found: &mut Found,
) -> usize {
    let mut placed = 0;
    let mut hint = 0;
    for (k, (name, value)) in headers.iter().enumerate() {
        if let Some(index) = case.received_as(name, value.as_bytes(), hint)
            && places[index].is_none()
        {
            places[index] = Some(value);
            found.set(k);
            placed += 1;
            hint = index + 1;
        }
    }
    placed
}

/// Puts each of the map's values set since it was received in the place of its name's field
/// of the same index, if that place is free, noting it in `found`.
fn place_set<'h>(
    headers: &'h HeaderMap,
    case: &HeaderCase,
    places: &mut [Option<&'h HeaderValue>],
    positions: &Positions,
    found: &mut Found,
) {
    for (k, (name, nth, value)) in indexed(headers).enumerate() {
        if found.has(k) {
            continue;
        }
        if let Some(index) = positions.get(case, name, nth)
            && places[index].is_none()
        {
            places[index] = Some(value);
            found.set(k);
        }
    }
}

/// The map's fields, each with its index among its name's values.
fn indexed(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, usize, &HeaderValue)> {
    let mut current = None;
    let mut nth = 0;
    headers.iter().map(move |(name, value)| {
        if current == Some(name) {
            nth += 1;
        } else {
            current = Some(name);
            nth = 0;
        }
        (name, nth, value)
    })
}

/// Finds a recorded field by name and index: by a scan of the record when it is small or few
/// are looked for, through a map built once otherwise, so that the cost stays linear.
enum Positions {
    Scan,
    Map(HeaderMap<Vec<usize>>),
}

impl Positions {
    fn new(case: &HeaderCase, lookups: usize) -> Positions {
        if case.len() <= SCAN_MAX || lookups <= 4 {
            return Positions::Scan;
        }
        let mut map: HeaderMap<Vec<usize>> = HeaderMap::default();
        for (index, (name, nth)) in case.keys().enumerate() {
            let indices = map.entry(name.clone()).or_insert_with(Vec::new);
            if indices.len() <= nth {
                indices.resize(nth + 1, usize::MAX);
            }
            indices[nth] = index;
        }
        Positions::Map(map)
    }

    fn get(&self, case: &HeaderCase, name: &HeaderName, nth: usize) -> Option<usize> {
        match self {
            Positions::Scan => case.position(name, nth),
            Positions::Map(map) => map
                .get(name)
                .and_then(|indices| indices.get(nth))
                .copied()
                .filter(|&i| i != usize::MAX),
        }
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
