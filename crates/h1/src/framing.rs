//! Message framing from a head (RFC 9112 §6 and §9.3): where a body ends, whether the
//! connection stays open, and whether it changes protocol. The rules are strict: any head whose
//! framing two parsers could read differently is refused, each form with its own error kind.

use http::{Method, StatusCode, Version};

use crate::error::{Error, ErrorKind};
use crate::name::is_name;

/// How a message's body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// No body: none was announced, or the request method or status rules one out.
    Empty,
    /// Exactly this many bytes (never 0: that is [`BodyKind::Empty`]).
    Length(u64),
    /// The chunked transfer coding, ended by its last chunk and trailer section.
    Chunked,
    /// Everything until the connection closes (responses only).
    UntilClose,
}

/// What a head says about its connection, gathered in the one pass over its fields.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields {
    /// A `Content-Length` field was seen.
    has_length: bool,
    /// The one length all `Content-Length` values agree on.
    length: Option<u64>,
    /// Why the `Content-Length` fields give no length.
    length_error: Option<ErrorKind>,
    /// A `Content-Length` value was a list (`5, 5`).
    length_list: bool,
    /// A `Transfer-Encoding` field was seen.
    has_coding: bool,
    /// The codings seen so far end in one `chunked` (the only one) and are all well formed.
    chunked_last: bool,
    /// A `chunked` was seen before another coding, or twice, or a coding was malformed.
    coding_error: bool,
    close: bool,
    keep_alive: bool,
    connection_upgrade: bool,
    upgrade: bool,
    expect_continue: bool,
}

impl Fields {
    /// Takes note of one field, if it is one that framing or the connection depends on.
    pub(crate) fn see(&mut self, name: &[u8], value: &[u8]) {
        // The length tells the few names apart before any comparison of bytes.
        match name.len() {
            14 if is_name(name, b"content-length") => self.content_length(value),
            17 if is_name(name, b"transfer-encoding") => self.transfer_coding(value),
            10 if is_name(name, b"connection") => {
                for token in list(value) {
                    if is_name(token, b"close") {
                        self.close = true;
                    } else if is_name(token, b"keep-alive") {
                        self.keep_alive = true;
                    } else if is_name(token, b"upgrade") {
                        self.connection_upgrade = true;
                    }
                }
            }
            7 if is_name(name, b"upgrade") => self.upgrade = true,
            6 if is_name(name, b"expect") => {
                self.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            }
            _ => {}
        }
    }

    fn content_length(&mut self, value: &[u8]) {
        self.has_length = true;
        // RFC 9110 §8.6: a list of equal values (a field repeated by an intermediary) is one
        // length; anything else has no length at all.
        self.length_list |= value.contains(&b',');
        for item in value.split(|&b| b == b',') {
            let Some(n) = decimal(trim(item)) else {
                self.length_error.get_or_insert(ErrorKind::InvalidContentLength);
                continue;
            };
            match self.length {
                Some(m) if m != n => {
                    self.length_error.get_or_insert(ErrorKind::ConflictingContentLength);
                }
                _ => self.length = Some(n),
            }
        }
    }

    fn transfer_coding(&mut self, value: &[u8]) {
        self.has_coding = true;
        // Codings and their parameters are ASCII; hyper's client, which reads such a value
        // as text, takes one with other bytes for no coding at all.
        if !value.is_ascii() {
            self.coding_error = true;
        }
        for item in value.split(|&b| b == b',') {
            let item = trim(item);
            // A coding with parameters is `token *( OWS ";" OWS param )`; `chunked` has none.
            let mut parts = item.split(|&b| b == b';');
            let name = trim(parts.next().unwrap_or_default());
            if !is_token_text(name) || !parts.all(is_parameter) {
                self.coding_error = true;
            } else if item.eq_ignore_ascii_case(b"chunked") {
                // RFC 9112 §6.1: chunked is applied once, and last.
                if self.chunked_last {
                    self.coding_error = true;
                }
                self.chunked_last = true;
            } else if name.eq_ignore_ascii_case(b"chunked") {
                self.coding_error = true;
            } else {
                if self.chunked_last {
                    self.coding_error = true;
                }
                self.chunked_last = false;
            }
        }
    }

    /// Whether the connection may carry another message after this one (RFC 9112 §9.3),
    /// framing aside.
    pub(crate) fn persistent(&self, version: Version) -> bool {
        !self.close && (version != Version::HTTP_10 || self.keep_alive)
    }

    /// Whether the head has both a `Content-Length` and a `Transfer-Encoding` field.
    pub(crate) fn has_length_and_coding(&self) -> bool {
        self.has_length && self.has_coding
    }

    /// Whether the head asks to switch protocols (`Connection: upgrade` with `Upgrade`); an
    /// HTTP/1.0 request cannot (RFC 9110 §7.8).
    pub(crate) fn upgrade(&self, version: Version) -> bool {
        self.upgrade && self.connection_upgrade && version == Version::HTTP_11
    }

    /// Whether an HTTP/1.1 request waits for `100 Continue` before sending its body.
    pub(crate) fn expect_continue(&self, version: Version) -> bool {
        self.expect_continue && version == Version::HTTP_11
    }

    /// A request's body framing, refusing every ambiguous form.
    pub(crate) fn request_body(&self, version: Version) -> Result<BodyKind, Error> {
        if self.has_coding {
            if version == Version::HTTP_10 {
                return Err(ErrorKind::TransferEncodingHttp10.into());
            }
            if self.has_length {
                return Err(ErrorKind::LengthAndTransferEncoding.into());
            }
            if self.coding_error || !self.chunked_last {
                return Err(ErrorKind::TransferEncodingNotChunked.into());
            }
            return Ok(BodyKind::Chunked);
        }
        // A list in one field is allowed on responses only: a client has no say over what an
        // origin sends, but a request can be refused (as hyper's server and ATS do).
        if self.length_list && self.length_error.is_none() {
            return Err(ErrorKind::InvalidContentLength.into());
        }
        self.length_body().map(|body| body.unwrap_or(BodyKind::Empty))
    }

    /// A response's body framing, given the request's method (RFC 9112 §6.3), and whether the
    /// connection must close after it regardless of `Connection`.
    pub(crate) fn response_body(
        &self,
        version: Version,
        method: &Method,
        status: StatusCode,
    ) -> Result<(BodyKind, bool), Error> {
        if method == Method::HEAD
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || (method == Method::CONNECT && status.is_success())
        {
            return Ok((BodyKind::Empty, false));
        }
        if self.has_coding {
            if version == Version::HTTP_10 {
                return Err(ErrorKind::TransferEncodingHttp10.into());
            }
            // A malformed list (`chunked` twice, a coding that is no token) has no one reading:
            // hyper's client takes the last element alone, a stricter reader refuses it.
            if self.coding_error {
                return Err(ErrorKind::TransferEncodingNotChunked.into());
            }
            // Both framing fields: the coding wins, and nothing after this response on the
            // connection can be trusted (RFC 9112 §6.3 item 3).
            if self.chunked_last {
                return Ok((BodyKind::Chunked, self.has_length));
            }
            return Ok((BodyKind::UntilClose, true));
        }
        Ok(match self.length_body()? {
            Some(body) => (body, false),
            None => (BodyKind::UntilClose, true),
        })
    }

    fn length_body(&self) -> Result<Option<BodyKind>, Error> {
        if let Some(kind) = self.length_error {
            return Err(kind.into());
        }
        Ok(self.length.map(|n| if n == 0 { BodyKind::Empty } else { BodyKind::Length(n) }))
    }
}

/// The elements of a comma-separated list, white space trimmed, empty ones skipped.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim).filter(|item| !item.is_empty())
}

/// A decimal number of digits only (no sign, no white space), if it fits in 64 bits.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// `bytes` without optional white space (SP, HTAB) at either end.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// Whether `param` (between `;`s) is a transfer parameter: `token BWS "=" BWS ( token /
/// quoted-string )` (RFC 9112 §7, RFC 9110 §5.6.6), spaces around it allowed.
fn is_parameter(param: &[u8]) -> bool {
    let param = trim(param);
    let Some(eq) = param.iter().position(|&b| b == b'=') else { return false };
    let (name, value) = (trim(&param[..eq]), trim(&param[eq + 1..]));
    is_token_text(name) && (is_token_text(value) || is_quoted_string(value))
}

/// Whether `s` is one whole `quoted-string` (RFC 9110 §5.6.4).
fn is_quoted_string(s: &[u8]) -> bool {
    let Some(inner) = s.strip_prefix(b"\"").and_then(|s| s.strip_suffix(b"\"")) else {
        return false;
    };
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        let fine = match b {
            b'\\' => {
                bytes.next().is_some_and(|&q| q == b'\t' || q == b' ' || q > b' ' && q != 0x7f)
            }
            b'"' => false,
            b => b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80,
        };
        if !fine {
            return false;
        }
    }
    true
}

/// Whether `b` may appear in a token (RFC 9110 §5.6.2).
pub(crate) fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is one whole token: not empty, token characters only.
pub(crate) fn is_token_text(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        let mut f = Fields::default();
        for (name, value) in pairs {
            f.see(name.as_bytes(), value.as_bytes());
        }
        f
    }

    type Case<'a> = (&'a [(&'a str, &'a str)], Result<BodyKind, ErrorKind>);

    fn request(pairs: &[(&str, &str)]) -> Result<BodyKind, ErrorKind> {
        fields(pairs).request_body(Version::HTTP_11).map_err(|e| e.kind())
    }

    #[test]
    fn request_framing_follows_the_rules() {
        use BodyKind::*;
        use ErrorKind::*;
        let table: &[Case<'_>] = &[
            (&[], Ok(Empty)),
            (&[("Content-Length", "0")], Ok(Empty)),
            (&[("content-length", "12")], Ok(Length(12))),
            (&[("Content-Length", "5, 5")], Err(InvalidContentLength)),
            (&[("Content-Length", "5"), ("Content-Length", "5")], Ok(Length(5))),
            (&[("Content-Length", "5"), ("Content-Length", "6")], Err(ConflictingContentLength)),
            (&[("Content-Length", "5, 6")], Err(ConflictingContentLength)),
            (&[("Content-Length", "+5")], Err(InvalidContentLength)),
            (&[("Content-Length", "-1")], Err(InvalidContentLength)),
            (&[("Content-Length", "0x10")], Err(InvalidContentLength)),
            (&[("Content-Length", "")], Err(InvalidContentLength)),
            (&[("Content-Length", "5,")], Err(InvalidContentLength)),
            (&[("Content-Length", "1 2")], Err(InvalidContentLength)),
            (&[("Content-Length", "18446744073709551616")], Err(InvalidContentLength)),
            (&[("Content-Length", "18446744073709551615")], Ok(Length(u64::MAX))),
            (&[("Transfer-Encoding", "chunked")], Ok(Chunked)),
            (&[("Transfer-Encoding", "CHUNKED")], Ok(Chunked)),
            (&[("Transfer-Encoding", "gzip, chunked")], Ok(Chunked)),
            (&[("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")], Ok(Chunked)),
            (&[("Transfer-Encoding", "chunked, gzip")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "chunked, chunked")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "gzip")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "chunked;x=1")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "gzip;level=1, chunked")], Ok(Chunked)),
            (&[("Transfer-Encoding", "gzip ; level = \"1 \\\" x\", chunked")], Ok(Chunked)),
            (&[("Transfer-Encoding", "gzip;level, chunked")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "gzip;=1, chunked")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "gzip;a=\"1, chunked")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "gzip;a=b c, chunked")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "xchunked")], Err(TransferEncodingNotChunked)),
            (&[("Transfer-Encoding", "\"chunked\"")], Err(TransferEncodingNotChunked)),
            (
                &[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "")],
                Err(TransferEncodingNotChunked),
            ),
            (
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "3")],
                Err(LengthAndTransferEncoding),
            ),
            (
                &[("Content-Length", "3"), ("Transfer-Encoding", "gzip")],
                Err(LengthAndTransferEncoding),
            ),
        ];
        for (pairs, want) in table {
            assert_eq!(&request(pairs), want, "{pairs:?}");
        }
    }

    #[test]
    fn a_coding_with_bytes_beyond_ascii_is_refused_both_ways() {
        let mut f = Fields::default();
        f.see(b"Transfer-Encoding", b"g;z\x80ip, chunked");
        let err = f.request_body(Version::HTTP_11).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TransferEncodingNotChunked);
        let err = f.response_body(Version::HTTP_11, &Method::GET, StatusCode::OK).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TransferEncodingNotChunked);
    }

    #[test]
    fn a_coding_on_http_1_0_is_refused() {
        let f = fields(&[("Transfer-Encoding", "chunked")]);
        let err = f.request_body(Version::HTTP_10).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TransferEncodingHttp10);
    }

    #[test]
    fn response_framing_depends_on_method_and_status() {
        use BodyKind::*;
        let get = Method::GET;
        let body = |pairs: &[(&str, &str)], method: &Method, status: u16| {
            let status = StatusCode::from_u16(status).unwrap();
            fields(pairs).response_body(Version::HTTP_11, method, status).map_err(|e| e.kind())
        };
        assert_eq!(body(&[("Content-Length", "5")], &Method::HEAD, 200), Ok((Empty, false)));
        assert_eq!(body(&[("Content-Length", "5")], &get, 204), Ok((Empty, false)));
        assert_eq!(body(&[("Content-Length", "5")], &get, 304), Ok((Empty, false)));
        assert_eq!(body(&[], &get, 101), Ok((Empty, false)));
        assert_eq!(body(&[], &Method::CONNECT, 200), Ok((Empty, false)));
        assert_eq!(body(&[], &Method::CONNECT, 403), Ok((UntilClose, true)));
        assert_eq!(body(&[("Content-Length", "5")], &get, 200), Ok((Length(5), false)));
        assert_eq!(body(&[("Content-Length", "5, 5")], &get, 200), Ok((Length(5), false)));
        assert_eq!(body(&[("Transfer-Encoding", "chunked")], &get, 200), Ok((Chunked, false)));
        let both = [("Transfer-Encoding", "chunked"), ("Content-Length", "5")];
        assert_eq!(body(&both, &get, 200), Ok((Chunked, true)));
        assert_eq!(body(&[("Transfer-Encoding", "gzip")], &get, 200), Ok((UntilClose, true)));
        assert_eq!(
            body(&[("Transfer-Encoding", ":gzip, chunked")], &get, 200),
            Err(ErrorKind::TransferEncodingNotChunked)
        );
        assert_eq!(
            body(&[("Transfer-Encoding", "chunked, chunked")], &get, 200),
            Err(ErrorKind::TransferEncodingNotChunked)
        );
        assert_eq!(body(&[], &get, 200), Ok((UntilClose, true)));
        assert_eq!(
            body(&[("Content-Length", "5, 6")], &get, 200),
            Err(ErrorKind::ConflictingContentLength)
        );
    }

    #[test]
    fn connection_tokens_decide_persistence() {
        let v11 = Version::HTTP_11;
        let v10 = Version::HTTP_10;
        assert!(fields(&[]).persistent(v11));
        assert!(!fields(&[]).persistent(v10));
        assert!(!fields(&[("Connection", "Close")]).persistent(v11));
        assert!(!fields(&[("Connection", "foo, close ,bar")]).persistent(v11));
        assert!(fields(&[("Connection", "Keep-Alive")]).persistent(v10));
        assert!(!fields(&[("Connection", "keep-alive, close")]).persistent(v10));
        assert!(fields(&[("Connection", "closed")]).persistent(v11));
        let up = fields(&[("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket")]);
        assert!(up.upgrade(v11));
        assert!(!up.upgrade(v10));
        assert!(!fields(&[("Upgrade", "websocket")]).upgrade(v11));
        assert!(fields(&[("Expect", "100-Continue")]).expect_continue(v11));
        assert!(!fields(&[("Expect", "100-continue")]).expect_continue(v10));
    }
}
