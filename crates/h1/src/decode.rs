//! Body decoders: incremental state machines over the bytes read so far. Any split of the input
//! gives the same data, trailers and errors; data comes out as slices of the input (no copy).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use crate::error::{Error, ErrorKind};
use crate::framing::{BodyKind, is_token, trim};
use crate::head::Limits;

/// What one call of [`Decoder::decode`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes, in order.
    Data(Bytes),
    /// The trailer fields of a chunked body; the body has ended.
    Trailers(HeaderMap),
    /// The body has ended; what is left in the buffer is the next message's.
    End,
    /// All input is used and the body goes on: read more, then call again.
    NeedMore,
}

/// Decodes one message body.
#[derive(Clone, Debug)]
pub struct Decoder {
    state: State,
    max_chunk_line: usize,
    max_trailer_bytes: usize,
    max_trailers: usize,
    /// The trailer section's bytes so far.
    section: BytesMut,
    /// Trailer fields ended so far.
    trailer_fields: usize,
    /// The trailers of an ended body, until returned.
    trailers: Option<HeaderMap>,
}

#[derive(Clone, Debug)]
enum State {
    /// This many bytes are left.
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
    /// A framing error was found; every later call gives it again.
    Failed(ErrorKind),
}

/// Where a chunked body's decoder is (RFC 9112 §7.1).
#[derive(Clone, Copy, Debug)]
enum Chunk {
    /// In a chunk-size's hex digits; `line` bytes of the line read so far.
    Size { size: u64, digits: u8, line: usize },
    /// White space after the size, before an extension or the line end.
    SizeSpace { size: u64, line: usize },
    /// In an extension (ignored, bounded by the line limit).
    Extension { size: u64, line: usize },
    /// The line's CR was read; LF must follow.
    SizeLf { size: u64 },
    /// This many bytes of chunk data are left.
    Data(u64),
    /// The chunk's data is read; CR must follow.
    DataCr,
    /// CR after the data was read; LF must follow.
    DataLf,
    /// After the last chunk: in the trailer section (RFC 9112 §7.1.2).
    Trailer(Line),
}

/// Where a trailer section's reader is: lines of `name: value` ended by CRLF, then CRLF. Read
/// a byte at a time, like the chunk-size lines, so its cost is linear however it is split.
#[derive(Clone, Copy, Debug)]
enum Line {
    /// At the start of a line: a name, or CR for the end of the section.
    Start,
    /// In a field name.
    Name,
    /// In a field value (after the colon).
    Value,
    /// A field line's CR was read; LF must follow.
    ValueLf,
    /// The section's last CR was read; LF must follow.
    EndLf,
}

impl Decoder {
    /// A decoder for a body framed as `kind`, with the chunk and trailer limits of `limits`.
    pub fn new(kind: BodyKind, limits: &Limits) -> Decoder {
        let state = match kind {
            BodyKind::Empty => State::Done,
            BodyKind::Length(n) => State::Length(n),
            BodyKind::Chunked => State::Chunked(Chunk::Size { size: 0, digits: 0, line: 0 }),
            BodyKind::UntilClose => State::UntilClose,
        };
        Decoder {
            state,
            max_chunk_line: limits.max_chunk_line,
            max_trailer_bytes: limits.max_trailer_bytes,
            max_trailers: limits.max_headers,
            section: BytesMut::new(),
            trailer_fields: 0,
            trailers: None,
        }
    }

    /// Whether the body has ended.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Decodes from the front of `buf`, taking from it what it uses.
    ///
    /// # Errors
    ///
    /// A malformed chunked body (each form has its [`ErrorKind`]); the decoder then stays
    /// failed (every later call gives the same error) and the connection cannot be read
    /// further.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, Error> {
        match &mut self.state {
            State::Done => Ok(self.ended()),
            State::Failed(kind) => Err((*kind).into()),
            State::UntilClose if buf.is_empty() => Ok(Decoded::NeedMore),
            State::UntilClose => Ok(Decoded::Data(buf.split().freeze())),
            State::Length(left) => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                *left -= take as u64;
                if *left == 0 {
                    self.state = State::Done;
                }
                Ok(Decoded::Data(buf.split_to(take).freeze()))
            }
            State::Chunked(_) => self.chunked(buf),
        }
    }

    /// Tells the decoder that the input has ended (the peer closed the connection).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::IncompleteBody`] when the body is framed by a length or a last chunk and
    /// has not ended.
    pub fn finish(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            State::Failed(kind) => Err(kind.into()),
            _ => Err(ErrorKind::IncompleteBody.into()),
        }
    }

    /// The end of the body: its trailers if it had any (once), then [`Decoded::End`].
    fn ended(&mut self) -> Decoded {
        match self.trailers.take() {
            Some(trailers) if !trailers.is_empty() => Decoded::Trailers(trailers),
            _ => Decoded::End,
        }
    }

    fn chunked(&mut self, buf: &mut BytesMut) -> Result<Decoded, Error> {
        loop {
            let State::Chunked(chunk) = &mut self.state else {
                return Ok(self.ended());
            };
            if let Chunk::Data(left) = chunk {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                *left -= take as u64;
                if *left == 0 {
                    *chunk = Chunk::DataCr;
                }
                return Ok(Decoded::Data(buf.split_to(take).freeze()));
            }
            let mut used = 0;
            let mut in_lines = true;
            for &b in buf.iter() {
                used += 1;
                if let Err(err) = self.step(b) {
                    buf.advance(used);
                    return self.fail(err);
                }
                if let State::Chunked(Chunk::Data(_)) | State::Done = self.state {
                    in_lines = false;
                    break;
                }
            }
            buf.advance(used);
            if in_lines {
                return Ok(Decoded::NeedMore);
            }
        }
    }

    /// One byte of a chunk-size line or of the CRLF after chunk data.
    fn step(&mut self, b: u8) -> Result<(), Error> {
        let max = self.max_chunk_line;
        let State::Chunked(chunk) = &mut self.state else {
            return Ok(());
        };
        // `line` bytes came before this one, and LF is still to come.
        let too_long = |line: usize| {
            if line + 2 > max {
                Err(Error::from(ErrorKind::ChunkLineTooLong { limit: max }))
            } else {
                Ok(line + 1)
            }
        };
        *chunk = match *chunk {
            Chunk::Size { size, digits, line } => {
                let line = too_long(line)?;
                match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        // 16 hex digits hold any u64; leading zeros do not count.
                        if size >> 60 != 0 {
                            return Err(ErrorKind::ChunkSize.into());
                        }
                        let digit = u64::from((b as char).to_digit(16).unwrap_or_default());
                        Chunk::Size {
                            size: size << 4 | digit,
                            digits: digits.saturating_add(1),
                            line,
                        }
                    }
                    _ if digits == 0 => return Err(ErrorKind::ChunkSize.into()),
                    b' ' | b'\t' => Chunk::SizeSpace { size, line },
                    b';' => Chunk::Extension { size, line },
                    b'\r' => Chunk::SizeLf { size },
                    _ => return Err(ErrorKind::ChunkSize.into()),
                }
            }
            Chunk::SizeSpace { size, line } => {
                let line = too_long(line)?;
                match b {
                    b' ' | b'\t' => Chunk::SizeSpace { size, line },
                    b';' => Chunk::Extension { size, line },
                    b'\r' => Chunk::SizeLf { size },
                    _ => return Err(ErrorKind::ChunkSize.into()),
                }
            }
            Chunk::Extension { size, line } => {
                let line = too_long(line)?;
                match b {
                    b'\r' => Chunk::SizeLf { size },
                    // Extensions are ignored, but a control byte (a bare LF most of all) is
                    // where parsers disagree on where the line ends.
                    b'\t' => Chunk::Extension { size, line },
                    0..0x20 | 0x7f => return Err(ErrorKind::ChunkSize.into()),
                    _ => Chunk::Extension { size, line },
                }
            }
            Chunk::SizeLf { size } => match b {
                b'\n' if size == 0 => Chunk::Trailer(Line::Start),
                b'\n' => Chunk::Data(size),
                _ => return Err(ErrorKind::ChunkSize.into()),
            },
            Chunk::DataCr if b == b'\r' => Chunk::DataLf,
            Chunk::DataLf if b == b'\n' => Chunk::Size { size: 0, digits: 0, line: 0 },
            Chunk::DataCr | Chunk::DataLf => return Err(ErrorKind::ChunkDataEnd.into()),
            Chunk::Trailer(line) => return self.trailer(line, b),
            Chunk::Data(_) => return Ok(()),
        };
        Ok(())
    }

    /// One byte of the trailer section.
    fn trailer(&mut self, line: Line, b: u8) -> Result<(), Error> {
        let limit = self.max_trailer_bytes;
        if self.section.len() >= limit {
            return Err(ErrorKind::TrailersTooLarge { limit }.into());
        }
        self.section.put_u8(b);
        let bad = || Err(Error::from(ErrorKind::Trailer));
        let next = match (line, b) {
            (Line::Start, b'\r') => Line::EndLf,
            // White space here would fold the previous line (obs-fold): refused too.
            (Line::Start | Line::Name, b) if is_token(b) => Line::Name,
            (Line::Name, b':') => Line::Value,
            (Line::Value, b'\r') => Line::ValueLf,
            (Line::Value, b'\t' | b' '..=b'~' | 0x80..=0xff) => Line::Value,
            (Line::ValueLf, b'\n') => {
                self.trailer_fields += 1;
                if self.trailer_fields > self.max_trailers {
                    return Err(ErrorKind::TrailersTooLarge { limit }.into());
                }
                Line::Start
            }
            (Line::EndLf, b'\n') => {
                self.trailers = Some(trailer_map(&self.section)?);
                self.section = BytesMut::new();
                self.state = State::Done;
                return Ok(());
            }
            // A bare LF (where `httparse` would end a line and hyper would not), a control
            // byte, white space before the colon.
            _ => return bad(),
        };
        self.state = State::Chunked(Chunk::Trailer(next));
        Ok(())
    }

    /// Fails for good: after a framing error nothing more of the input can be trusted.
    fn fail(&mut self, err: Error) -> Result<Decoded, Error> {
        self.state = State::Failed(err.kind());
        Err(err)
    }
}

/// The fields of a trailer section whose lines the state machine has checked.
fn trailer_map(section: &[u8]) -> Result<HeaderMap, Error> {
    let mut trailers = HeaderMap::new();
    for line in section.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name =
            HeaderName::from_bytes(&line[..colon]).map_err(|_| Error::from(ErrorKind::Trailer))?;
        // RFC 9110 §6.5.1: framing fields may not be trailers; a recipient that merged one into
        // the head would read another body length.
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            return Err(ErrorKind::Trailer.into());
        }
        let value = HeaderValue::from_bytes(trim(&line[colon + 1..]))
            .map_err(|_| Error::from(ErrorKind::Trailer))?;
        trailers.append(name, value);
    }
    Ok(trailers)
}
