//! Access log formats: ATS's field syntax (`%<cqtq>`, `%<{User-Agent}cqh>`), its built-in
//! formats of `logging.yaml` (ATS 9.2), nginx's `combined`, and JSON lines.

use std::fmt::Write as _;

use serde::Serialize;

use super::record::{Entry, Header};

/// ATS 9.2's `squid` format (`logging.yaml`).
pub const SQUID: &str = "%<cqtq> %<ttms> %<chi> %<crc>/%<pssc> %<psql> %<cqhm> %<cquc> %<caun> \
                         %<phr>/%<shn> %<psct>";
/// ATS 9.2's `common` format.
pub const COMMON: &str = "%<chi> - %<caun> [%<cqtn>] \"%<cqtx>\" %<pssc> %<pscl>";
/// ATS 9.2's `extended` format.
pub const EXTENDED: &str = "%<chi> - %<caun> [%<cqtn>] \"%<cqtx>\" %<pssc> %<pscl> %<sssc> \
                            %<sscl> %<cqcl> %<pqcl> %<cqhl> %<pshl> %<pqhl> %<sshl> %<tts>";
/// ATS 9.2's `extended2` format.
pub const EXTENDED2: &str = "%<chi> - %<caun> [%<cqtn>] \"%<cqtx>\" %<pssc> %<pscl> %<sssc> \
                             %<sscl> %<cqcl> %<pqcl> %<cqhl> %<pshl> %<pqhl> %<sshl> %<tts> \
                             %<phr> %<cfsc> %<pfsc> %<crc>";
/// nginx's `combined` format, in ATS fields (`$remote_addr - $remote_user [$time_local]
/// "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`).
pub const COMBINED: &str = "%<chi> - %<caun> [%<cqtn>] \"%<cqtx>\" %<pssc> %<pscl> \
                            \"%<{Referer}cqh>\" \"%<{User-Agent}cqh>\"";

/// The fields a format string may use (ATS's names).
pub const FIELDS: &str = "caun, cfsc, chi, chp, cqcl, cqhl, cqhm, cqpv, cqtd, cqtn, cqtq, cqts, \
                          cqtt, cqtx, cquc, cqup, cqus, crc, pfsc, phr, pqcl, pqhl, pqsn, pscl, \
                          pshl, psct, psql, pssc, shi, shn, sscl, sshl, sssc, ttms, ttmsf, tts, \
                          {NAME}cqh, {NAME}psh, {NAME}pqh, {NAME}ssh, {NAME}plf";

/// One field of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `caun`: the authenticated user (`-`: hookyard authenticates nobody).
    AuthUser,
    /// `cfsc`: how the client side ended, `FIN` or `INTR`.
    ClientFinish,
    /// `chi`: the client's IP address.
    ClientIp,
    /// `chp`: the client's port.
    ClientPort,
    /// `cqcl`: request body bytes received from the client.
    ClientBodyBytes,
    /// `cqhl`: request head bytes (as HTTP/1 writes it).
    ClientHeadBytes,
    /// `cqhm`: the request method.
    Method,
    /// `cqpv`: the request's protocol version (`http/1.1`, `http/2`).
    ProtocolVersion,
    /// `cqtd`: the request's date, `YYYY-MM-DD` (UTC).
    Date,
    /// `cqtn`: the request's time, `03/Dec/2026:06:23:02 +0000`.
    NetscapeTime,
    /// `cqtq`: the request's time, seconds since the epoch with milliseconds.
    EpochMillis,
    /// `cqts`: the request's time, seconds since the epoch.
    EpochSeconds,
    /// `cqtt`: the request's time of day, `HH:MM:SS` (UTC).
    TimeOfDay,
    /// `cqtx`: the request line, `GET /path HTTP/1.1`.
    RequestLine,
    /// `cquc`: the client's URL, canonical (`http://host/path?query`).
    Url,
    /// `cqup`: the client URL's path (with its query).
    UrlPath,
    /// `cqus`: the client URL's scheme.
    UrlScheme,
    /// `crc`: the cache result code (hookyard has no cache: `TCP_MISS`, or an error code).
    CacheResult,
    /// `pfsc`: how the proxy side ended, `FIN` or `INTR`.
    ProxyFinish,
    /// `phr`: the hierarchy route, `DIRECT` (to an origin) or `NONE`.
    Route,
    /// `pqcl`: request body bytes sent to the origin.
    OriginRequestBodyBytes,
    /// `pqhl`: request head bytes sent to the origin.
    OriginRequestHeadBytes,
    /// `pqsn`: the origin host the request went to.
    OriginRequestHost,
    /// `pscl`: response body bytes sent to the client.
    BodyBytes,
    /// `pshl`: response head bytes sent to the client (as HTTP/1 writes it).
    HeadBytes,
    /// `psct`: the response's `Content-Type`.
    ContentType,
    /// `psql`: response bytes sent to the client, head and body.
    Bytes,
    /// `pssc`: the response status sent to the client.
    Status,
    /// `shi`: the origin's IP address.
    OriginIp,
    /// `shn`: the origin host name.
    OriginHost,
    /// `sscl`: response body bytes received from the origin.
    OriginBodyBytes,
    /// `sshl`: response head bytes received from the origin.
    OriginHeadBytes,
    /// `sssc`: the origin's response status.
    OriginStatus,
    /// `ttms`: the time to serve, milliseconds.
    Millis,
    /// `ttmsf`: the time to serve, milliseconds with a fraction.
    MillisFraction,
    /// `tts`: the time to serve, seconds.
    Seconds,
}

impl Field {
    fn of(name: &str) -> Option<Field> {
        Some(match name {
            "caun" => Field::AuthUser,
            "cfsc" => Field::ClientFinish,
            "chi" => Field::ClientIp,
            "chp" => Field::ClientPort,
            "cqcl" => Field::ClientBodyBytes,
            "cqhl" => Field::ClientHeadBytes,
            "cqhm" => Field::Method,
            "cqpv" => Field::ProtocolVersion,
            "cqtd" => Field::Date,
            "cqtn" => Field::NetscapeTime,
            "cqtq" => Field::EpochMillis,
            "cqts" => Field::EpochSeconds,
            "cqtt" => Field::TimeOfDay,
            "cqtx" => Field::RequestLine,
            "cquc" => Field::Url,
            "cqup" => Field::UrlPath,
            "cqus" => Field::UrlScheme,
            "crc" => Field::CacheResult,
            "pfsc" => Field::ProxyFinish,
            "phr" => Field::Route,
            "pqcl" => Field::OriginRequestBodyBytes,
            "pqhl" => Field::OriginRequestHeadBytes,
            "pqsn" => Field::OriginRequestHost,
            "pscl" => Field::BodyBytes,
            "pshl" => Field::HeadBytes,
            "psct" => Field::ContentType,
            "psql" => Field::Bytes,
            "pssc" => Field::Status,
            "shi" => Field::OriginIp,
            "shn" => Field::OriginHost,
            "sscl" => Field::OriginBodyBytes,
            "sshl" => Field::OriginHeadBytes,
            "sssc" => Field::OriginStatus,
            "ttms" => Field::Millis,
            "ttmsf" => Field::MillisFraction,
            "tts" => Field::Seconds,
            _ => return None,
        })
    }
}

/// A piece of a format: text, a field, a header's value or a plugin's field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Piece {
    /// Written as is.
    Text(String),
    /// A transaction field.
    Field(Field),
    /// `%<{NAME}cqh>` and friends: the value of a header of one of the four messages; the
    /// index into the entry's captured headers.
    Header(usize),
    /// `%<{NAME}plf>`: a field a plugin set on the transaction (`log_field_set`).
    Plugin(String),
}

/// How log lines are written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Format {
    /// The format's name (`squid`, `common`, `extended`, `extended2`, `combined`, `json`), or
    /// `custom` for a `format_string`.
    pub name: String,
    /// The format string (empty for JSON lines).
    pub text: String,
    /// The pieces of a text format; empty for JSON lines.
    #[serde(skip)]
    pub pieces: Vec<Piece>,
    /// The headers a line needs, captured by each transaction (index = [`Piece::Header`]).
    #[serde(skip)]
    pub headers: Vec<Header>,
}

/// A format string that does not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// `%<` without its `>`.
    #[error("`%<` at byte {0} has no closing `>`")]
    Unclosed(usize),
    /// A field ATS's syntax names but hookyard does not know.
    #[error("unknown field `%<{0}>` (known: {FIELDS})")]
    Unknown(String),
}

impl Format {
    /// A built-in format by name: `squid`, `common`, `extended`, `extended2`, `combined` or
    /// `json`.
    pub fn builtin(name: &str) -> Option<Format> {
        let text = match name {
            "squid" => SQUID,
            "common" => COMMON,
            "extended" => EXTENDED,
            "extended2" => EXTENDED2,
            "combined" => COMBINED,
            "json" => {
                let headers = vec![Header::request("user-agent"), Header::request("referer")];
                let name = name.to_owned();
                return Some(Format { name, text: String::new(), pieces: Vec::new(), headers });
            }
            _ => return None,
        };
        let mut format = Format::parse(text).ok()?;
        format.name = name.to_owned();
        Some(format)
    }

    /// Parses a format string of ATS's syntax: text with `%<field>` and `%<{Header}cqh>`.
    ///
    /// # Errors
    ///
    /// An unclosed `%<`, or a field that is not one of [`FIELDS`].
    pub fn parse(text: &str) -> Result<Format, FormatError> {
        let mut pieces = Vec::new();
        let mut headers: Vec<Header> = Vec::new();
        let mut rest = text;
        let mut at = 0;
        while let Some(start) = rest.find("%<") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            let Some(len) = rest[start..].find('>') else {
                return Err(FormatError::Unclosed(at + start));
            };
            let name = &rest[start + 2..start + len];
            pieces.push(piece(name, &mut headers)?);
            at += start + len + 1;
            rest = &rest[start + len + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Format { name: "custom".to_owned(), text: text.to_owned(), pieces, headers })
    }

    /// Whether lines are JSON objects.
    pub fn is_json(&self) -> bool {
        self.name == "json"
    }

    /// Appends the line of `entry`, with its newline, to `out`.
    pub(crate) fn write(&self, entry: &Entry, out: &mut String) {
        if self.is_json() {
            super::json::write(entry, out);
        } else {
            for piece in &self.pieces {
                match piece {
                    Piece::Text(text) => out.push_str(text),
                    Piece::Field(field) => entry.write_field(*field, out),
                    Piece::Header(index) => {
                        text(out, entry.headers.get(*index).and_then(Option::as_deref))
                    }
                    Piece::Plugin(name) => text(
                        out,
                        entry.plugin.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()),
                    ),
                }
            }
        }
        out.push('\n');
    }
}

/// The piece `%<name>` stands for.
fn piece(name: &str, headers: &mut Vec<Header>) -> Result<Piece, FormatError> {
    if let Some(field) = Field::of(name) {
        return Ok(Piece::Field(field));
    }
    let unknown = || FormatError::Unknown(name.to_owned());
    let (braced, kind) =
        name.strip_prefix('{').and_then(|n| n.split_once('}')).ok_or_else(unknown)?;
    if braced.is_empty() {
        return Err(unknown());
    }
    if kind == "plf" {
        return Ok(Piece::Plugin(braced.to_owned()));
    }
    let header = Header::of(kind, braced).ok_or_else(unknown)?;
    let index = match headers.iter().position(|h| *h == header) {
        Some(index) => index,
        None => {
            headers.push(header);
            headers.len() - 1
        }
    };
    Ok(Piece::Header(index))
}

/// Writes `value` escaped (`-` when absent or empty): bytes outside printable ASCII, `"` and
/// `\` as `\xHH`, as nginx does, so a value never forges a field or a line.
pub(crate) fn text(out: &mut String, value: Option<&str>) {
    match value {
        None | Some("") => out.push('-'),
        Some(value) => {
            for b in value.bytes() {
                if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                    out.push(char::from(b));
                } else {
                    let _ = write!(out, "\\x{b:02X}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_to_ats_fields() {
        for name in ["squid", "common", "extended", "extended2", "combined", "json"] {
            let format = Format::builtin(name).unwrap();
            assert_eq!(format.name, name);
        }
        let squid = Format::builtin("squid").unwrap();
        let fields: Vec<_> = squid
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Field(f) => Some(*f),
                _ => None,
            })
            .collect();
        assert_eq!(
            fields,
            [
                Field::EpochMillis,
                Field::Millis,
                Field::ClientIp,
                Field::CacheResult,
                Field::Status,
                Field::Bytes,
                Field::Method,
                Field::Url,
                Field::AuthUser,
                Field::Route,
                Field::OriginHost,
                Field::ContentType,
            ]
        );
        assert_eq!(Format::builtin("combined").unwrap().headers.len(), 2);
        assert!(Format::builtin("welf").is_none());
    }

    #[test]
    fn custom_strings() {
        let f = Format::parse("a %<chi> %<{X-Y}psh> %<{X-Y}psh> %<{tag}plf>%<{Host}cqh>!").unwrap();
        assert_eq!(f.headers.len(), 2);
        assert_eq!(f.pieces.len(), 10);
        assert_eq!(f.pieces[0], Piece::Text("a ".to_owned()));
        assert_eq!(f.pieces[3], Piece::Header(0));
        assert_eq!(f.pieces[5], Piece::Header(0));
        assert_eq!(f.pieces[7], Piece::Plugin("tag".to_owned()));
        assert_eq!(f.pieces[8], Piece::Header(1));
        assert_eq!(Format::parse("%<chi").unwrap_err(), FormatError::Unclosed(0));
        assert_eq!(Format::parse("x %<nope>").unwrap_err(), FormatError::Unknown("nope".into()));
        assert!(matches!(Format::parse("%<{}cqh>"), Err(FormatError::Unknown(_))));
        assert!(matches!(Format::parse("%<{A}xyz>"), Err(FormatError::Unknown(_))));
    }

    #[test]
    fn text_is_escaped() {
        let mut out = String::new();
        text(&mut out, Some("a \"b\"\\\u{7f}é"));
        assert_eq!(out, "a \\x22b\\x22\\x5C\\x7F\\xC3\\xA9");
        out.clear();
        text(&mut out, Some(""));
        text(&mut out, None);
        assert_eq!(out, "--");
    }
}
