//! Body decoders: incremental state machines over the bytes read so far. Any split of the input
//! gives the same data, trailers and errors; data comes out as slices of the input (no copy).

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use crate::error::{Error, ErrorKind};
use crate::framing::{BodyKind, trim};
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
#[derive(Clone, Debug)]
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
    /// After the last chunk: the trailer section, gathered here when it spans reads.
    Trailers(BytesMut),
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
            State::Done => Ok(Decoded::End),
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

    fn chunked(&mut self, buf: &mut BytesMut) -> Result<Decoded, Error> {
        loop {
            let State::Chunked(chunk) = &mut self.state else {
                return Ok(Decoded::End);
            };
            match chunk {
                Chunk::Data(left) => {
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
                Chunk::Trailers(_) => return self.trailers(buf),
                _ => {
                    let mut used = 0;
                    let mut line_state = true;
                    for &b in buf.iter() {
                        used += 1;
                        if let Err(err) = self.step(b) {
                            buf.advance(used);
                            return self.fail(err);
                        }
                        if let State::Chunked(Chunk::Data(_) | Chunk::Trailers(_)) | State::Done =
                            self.state
                        {
                            line_state = false;
                            break;
                        }
                    }
                    buf.advance(used);
                    if line_state {
                        return Ok(Decoded::NeedMore);
                    }
                }
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
                b'\n' if size == 0 => Chunk::Trailers(BytesMut::new()),
                b'\n' => Chunk::Data(size),
                _ => return Err(ErrorKind::ChunkSize.into()),
            },
            Chunk::DataCr if b == b'\r' => Chunk::DataLf,
            Chunk::DataLf if b == b'\n' => Chunk::Size { size: 0, digits: 0, line: 0 },
            Chunk::DataCr | Chunk::DataLf => return Err(ErrorKind::ChunkDataEnd.into()),
            Chunk::Data(_) | Chunk::Trailers(_) => return Ok(()),
        };
        Ok(())
    }

    /// The trailer section: fields, then an empty line. Parsed in `buf` when it arrives in one
    /// read, gathered (within the limit) when it spans several.
    fn trailers(&mut self, buf: &mut BytesMut) -> Result<Decoded, Error> {
        let State::Chunked(Chunk::Trailers(gathered)) = &mut self.state else {
            return Ok(Decoded::End);
        };
        let limit = self.max_trailer_bytes;
        let gathering = !gathered.is_empty();
        if gathering {
            gathered.extend_from_slice(buf);
            buf.clear();
        }
        let input = if gathering { &*gathered } else { &*buf };
        let parsed = parse_trailers(input, self.max_trailers, limit);
        let available = input.len();
        match parsed {
            Ok(Some((len, trailers))) => {
                if gathering {
                    // What followed the section is the next message's.
                    gathered.advance(len);
                    *buf = std::mem::take(gathered);
                } else {
                    buf.advance(len);
                }
                self.state = State::Done;
                Ok(if trailers.is_empty() { Decoded::End } else { Decoded::Trailers(trailers) })
            }
            Ok(None) if available >= limit => {
                self.fail(ErrorKind::TrailersTooLarge { limit }.into())
            }
            Ok(None) => {
                if !gathering {
                    gathered.extend_from_slice(buf);
                    buf.clear();
                }
                Ok(Decoded::NeedMore)
            }
            Err(err) => self.fail(err),
        }
    }

    /// Fails for good: after a framing error nothing more of the input can be trusted.
    fn fail(&mut self, err: Error) -> Result<Decoded, Error> {
        self.state = State::Failed(err.kind());
        Err(err)
    }
}

/// Fields of a trailer section at the start of `input`, and its length in bytes.
fn parse_trailers(
    input: &[u8],
    max_fields: usize,
    limit: usize,
) -> Result<Option<(usize, HeaderMap)>, Error> {
    let too_large = || Error::from(ErrorKind::TrailersTooLarge { limit });
    // Only the bytes a section may have are looked at (see `head::find`).
    let input = &input[..input.len().min(limit)];
    // Lines end in CRLF. `httparse` also takes a bare LF, but a recipient that does not (hyper
    // reads on to the next CRLF) would see the section end elsewhere: the section is parsed
    // up to the first bare LF only, and refused if it has not ended by then.
    let bare = (0..input.len()).find(|&i| input[i] == b'\n' && (i == 0 || input[i - 1] != b'\r'));
    let scan = &input[..bare.unwrap_or(input.len())];
    let mut fields = vec![httparse::EMPTY_HEADER; max_fields];
    let (len, parsed) = match httparse::parse_headers(scan, &mut fields) {
        Ok(httparse::Status::Complete((len, parsed))) => (len, parsed),
        Ok(httparse::Status::Partial) if bare.is_some() => return Err(ErrorKind::Trailer.into()),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(too_large()),
        Err(_) => return Err(ErrorKind::Trailer.into()),
    };
    let mut trailers = HeaderMap::with_capacity(parsed.len());
    for field in parsed {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| Error::from(ErrorKind::Trailer))?;
        // RFC 9110 §6.5.1: framing fields may not be trailers; a recipient that merged one into
        // the head would read another body length.
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            return Err(ErrorKind::Trailer.into());
        }
        let value = HeaderValue::from_bytes(trim(field.value))
            .map_err(|_| Error::from(ErrorKind::Trailer))?;
        trailers.append(name, value);
    }
    Ok(Some((len, trailers)))
}
