//! What a transaction leaves for its log line: an [`Entry`], filled in as the transaction
//! runs and finished when its response body is done with.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::header::{HeaderMap, HeaderName};
use http::{Method, StatusCode, Version};
use serde::Serialize;

use super::Settings;
use super::format::{Field, text};

/// Which message a captured header is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// `cqh`: the client's request.
    ClientRequest,
    /// `psh`: the response sent to the client.
    ProxyResponse,
    /// `pqh`: the request sent to the origin.
    ProxyRequest,
    /// `ssh`: the origin's response.
    ServerResponse,
}

/// A header a format writes: its message and name (lower case).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Header {
    /// The message it is read from.
    pub message: Message,
    /// Its name.
    #[serde(serialize_with = "name_str")]
    pub name: HeaderName,
}

fn name_str<S: serde::Serializer>(name: &HeaderName, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(name.as_str())
}

impl Header {
    /// A header of the client's request.
    pub(crate) fn request(name: &'static str) -> Header {
        Header { message: Message::ClientRequest, name: HeaderName::from_static(name) }
    }

    /// `%<{name}kind>`, if `kind` is `cqh`, `psh`, `pqh` or `ssh` and `name` a header name.
    pub(crate) fn of(kind: &str, name: &str) -> Option<Header> {
        let message = match kind {
            "cqh" => Message::ClientRequest,
            "psh" => Message::ProxyResponse,
            "pqh" => Message::ProxyRequest,
            "ssh" => Message::ServerResponse,
            _ => return None,
        };
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        Some(Header { message, name })
    }
}

/// What the origin side of a transaction did.
#[derive(Debug, Default)]
pub(crate) struct OriginSide {
    /// The host the request went to.
    pub(crate) host: String,
    /// Its address, when known.
    pub(crate) addr: Option<SocketAddr>,
    /// The request head's size.
    pub(crate) request_head: u64,
    /// The response status, when the origin answered.
    pub(crate) status: Option<StatusCode>,
    /// The response head's size.
    pub(crate) response_head: u64,
}

/// One transaction's log line, before formatting.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The settings (and format) of the transaction's generation.
    pub(crate) settings: Arc<Settings>,
    /// That generation's number.
    pub(crate) generation: u64,
    /// When the request head arrived.
    pub(crate) time: SystemTime,
    /// The same, for durations.
    pub(crate) started: Instant,
    /// From the request head to the end of the response body.
    pub(crate) elapsed: Duration,
    pub(crate) client: SocketAddr,
    pub(crate) method: Method,
    /// The request target as the client wrote it (`:path` for HTTP/2).
    pub(crate) target: String,
    /// The client's URL, canonical.
    pub(crate) url: String,
    /// Its path and query.
    pub(crate) path: String,
    pub(crate) scheme: &'static str,
    pub(crate) version: Version,
    pub(crate) request_head: u64,
    /// Request body bytes read from the client (and sent to the origin).
    pub(crate) request_body: u64,
    /// The status sent; `None`: the client left before any.
    pub(crate) status: Option<StatusCode>,
    pub(crate) response_head: u64,
    pub(crate) response_body: u64,
    pub(crate) content_type: Option<String>,
    /// Set once the origin was asked.
    pub(crate) origin: Option<OriginSide>,
    /// Whether the response body went out whole.
    pub(crate) finished: bool,
    /// `crc` beyond `TCP_MISS`: why the proxy answered itself.
    pub(crate) error: Option<&'static str>,
    /// The values of the format's headers, in its order.
    pub(crate) headers: Vec<Option<String>>,
    /// What plugins set with `log_field_set`.
    pub(crate) plugin: Vec<(String, String)>,
}

impl Entry {
    /// An entry for a request that arrived now.
    pub(crate) fn start(
        settings: Arc<Settings>,
        generation: u64,
        client: SocketAddr,
        scheme: &'static str,
        parts: &http::request::Parts,
        fields: &dyn Fields,
    ) -> Entry {
        let target = match parts.uri.path_and_query() {
            Some(pq) if parts.uri.authority().is_none() || parts.version == Version::HTTP_2 => {
                pq.as_str().to_owned()
            }
            _ => parts.uri.to_string(),
        };
        let host = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| texts(fields, &http::header::HOST).first().map(|h| (*h).to_owned()))
            .unwrap_or_default();
        let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let url = format!("{scheme}://{host}{path}");
        let path = path.to_owned();
        let request_line = parts.method.as_str().len() + target.len() + 12;
        let mut entry = Entry {
            headers: vec![None; settings.format.headers.len()],
            settings,
            generation,
            time: SystemTime::now(),
            started: Instant::now(),
            elapsed: Duration::ZERO,
            client,
            method: parts.method.clone(),
            target,
            url,
            path,
            scheme,
            version: parts.version,
            request_head: (request_line + fields_len(fields)) as u64,
            request_body: 0,
            status: None,
            response_head: 0,
            response_body: 0,
            content_type: None,
            origin: None,
            finished: false,
            error: None,
            plugin: Vec::new(),
        };
        entry.capture(Message::ClientRequest, fields);
        entry
    }

    /// Keeps the values of the format's headers of `message`.
    pub(crate) fn capture(&mut self, message: Message, fields: &dyn Fields) {
        for (at, header) in self.settings.format.headers.iter().enumerate() {
            if header.message == message {
                let values = texts(fields, &header.name);
                self.headers[at] = (!values.is_empty()).then(|| values.join(", "));
            }
        }
    }

    /// The response head sent to the client, with a body of `body` bytes when known.
    pub(crate) fn respond(&mut self, status: StatusCode, headers: &HeaderMap, body: Option<u64>) {
        self.status = Some(status);
        self.response_head = head_len(status, headers);
        if self.version != Version::HTTP_2 {
            self.response_head += http1_adds(status, headers, body);
        }
        self.content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.capture(Message::ProxyResponse, headers);
    }

    /// The seconds since the epoch, and the milliseconds.
    fn epoch(&self) -> (u64, u32) {
        let since = self.time.duration_since(UNIX_EPOCH).unwrap_or_default();
        (since.as_secs(), since.subsec_millis())
    }

    /// `crc`.
    pub(crate) fn cache_result(&self) -> &'static str {
        if !self.finished && self.status.is_none() {
            return "ERR_CLIENT_ABORT";
        }
        self.error.unwrap_or("TCP_MISS")
    }

    /// The request line (`cqtx`).
    pub(crate) fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.target, version(self.version))
    }

    /// Writes one field.
    pub(crate) fn write_field(&self, field: Field, out: &mut String) {
        let origin = self.origin.as_ref();
        let _ = match field {
            Field::AuthUser => write!(out, "-"),
            Field::ClientFinish | Field::ProxyFinish => {
                write!(out, "{}", if self.finished { "FIN" } else { "INTR" })
            }
            Field::ClientIp => write!(out, "{}", client_ip(self.client)),
            Field::ClientPort => write!(out, "{}", self.client.port()),
            Field::ClientBodyBytes => write!(out, "{}", self.request_body),
            Field::ClientHeadBytes => write!(out, "{}", self.request_head),
            Field::Method => {
                text(out, Some(self.method.as_str()));
                Ok(())
            }
            Field::ProtocolVersion => {
                write!(out, "{}", version(self.version).to_ascii_lowercase())
            }
            Field::Date => {
                let c = Civil::of(self.epoch().0);
                write!(out, "{:04}-{:02}-{:02}", c.year, c.month, c.day)
            }
            Field::NetscapeTime => {
                let c = Civil::of(self.epoch().0);
                write!(
                    out,
                    "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
                    c.day,
                    MONTHS[c.month as usize - 1],
                    c.year,
                    c.hour,
                    c.minute,
                    c.second
                )
            }
            Field::EpochMillis => {
                let (secs, millis) = self.epoch();
                write!(out, "{secs}.{millis:03}")
            }
            Field::EpochSeconds => write!(out, "{}", self.epoch().0),
            Field::TimeOfDay => {
                let c = Civil::of(self.epoch().0);
                write!(out, "{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
            }
            Field::RequestLine => {
                text(out, Some(&self.request_line()));
                Ok(())
            }
            Field::Url => {
                text(out, Some(&self.url));
                Ok(())
            }
            Field::UrlPath => {
                text(out, Some(&self.path));
                Ok(())
            }
            Field::UrlScheme => write!(out, "{}", self.scheme),
            Field::CacheResult => write!(out, "{}", self.cache_result()),
            Field::Route => write!(out, "{}", if origin.is_some() { "DIRECT" } else { "NONE" }),
            Field::OriginRequestBodyBytes => {
                write!(out, "{}", if origin.is_some() { self.request_body } else { 0 })
            }
            Field::OriginRequestHeadBytes => {
                write!(out, "{}", origin.map_or(0, |o| o.request_head))
            }
            Field::OriginRequestHost | Field::OriginHost => {
                text(out, origin.map(|o| o.host.as_str()));
                Ok(())
            }
            Field::BodyBytes => write!(out, "{}", self.response_body),
            Field::HeadBytes => write!(out, "{}", self.response_head),
            Field::ContentType => {
                text(out, self.content_type.as_deref());
                Ok(())
            }
            Field::Bytes => write!(out, "{}", self.response_head + self.response_body),
            Field::Status => write!(out, "{:03}", self.status.map_or(0, |s| s.as_u16())),
            Field::OriginIp => match origin.and_then(|o| o.addr) {
                Some(addr) => write!(out, "{}", client_ip(addr)),
                None => write!(out, "-"),
            },
            Field::OriginBodyBytes => write!(out, "{}", self.origin_body()),
            Field::OriginHeadBytes => write!(out, "{}", origin.map_or(0, |o| o.response_head)),
            Field::OriginStatus => match origin.and_then(|o| o.status) {
                Some(status) => write!(out, "{}", status.as_u16()),
                None => write!(out, "000"),
            },
            Field::Millis => write!(out, "{}", self.elapsed.as_millis()),
            Field::MillisFraction => {
                write!(out, "{:.3}", self.elapsed.as_secs_f64() * 1000.0)
            }
            Field::Seconds => write!(out, "{}", self.elapsed.as_secs()),
        };
    }

    /// Body bytes relayed from the origin (`sscl`): the response body sent, when the origin
    /// answered it.
    pub(crate) fn origin_body(&self) -> u64 {
        match self.origin.as_ref().and_then(|o| o.status) {
            Some(_) if self.error.is_none() => self.response_body,
            _ => 0,
        }
    }
}

/// The IP of an address, an IPv4-mapped IPv6 one as IPv4.
pub(crate) fn client_ip(addr: SocketAddr) -> std::net::IpAddr {
    match addr.ip() {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr.ip(), std::net::IpAddr::V4),
        ip => ip,
    }
}

/// `HTTP/1.1`, `HTTP/2.0`, ...
pub(crate) fn version(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// A message's header fields as a log line reads them, wherever they are kept: in a map, or
/// (the transaction's to say) as received.
pub(crate) trait Fields {
    /// Visits each field, name (in any case) and value, in the map's order for any one name.
    fn each<'a>(&'a self, visit: &mut dyn FnMut(&'a [u8], &'a [u8]));
}

impl Fields for HeaderMap {
    fn each<'a>(&'a self, visit: &mut dyn FnMut(&'a [u8], &'a [u8])) {
        for (name, value) in self {
            visit(name.as_str().as_bytes(), value.as_bytes());
        }
    }
}

/// The text values of the fields named `name` (any case), in order: those
/// [`http::HeaderValue::to_str`] reads (visible ASCII and tabs).
pub(crate) fn texts<'a>(fields: &'a dyn Fields, name: &HeaderName) -> Vec<&'a str> {
    let name = name.as_str().as_bytes();
    let mut texts = Vec::new();
    fields.each(&mut |n, value| {
        let text = value.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
        if text && n.eq_ignore_ascii_case(name) {
            // Visible ASCII is UTF-8.
            texts.extend(std::str::from_utf8(value).ok());
        }
    });
    texts
}

/// The size of header fields as HTTP/1 writes them (`name: value\r\n` each, then `\r\n`).
pub(crate) fn fields_len(fields: &dyn Fields) -> usize {
    let mut len = 2;
    fields.each(&mut |name, value| len += name.len() + value.len() + 4);
    len
}

/// The size of a response head as HTTP/1 writes it: `HTTP/1.1 200 OK\r\n`, then the fields.
pub(crate) fn head_len(status: StatusCode, headers: &HeaderMap) -> u64 {
    let reason = status.canonical_reason().map_or(0, str::len);
    (15 + reason + fields_len(headers)) as u64
}

/// What the HTTP/1 connection adds to a response head: `Date`, and the framing field
/// (`Content-Length` for a body of known size, else `Transfer-Encoding: chunked`).
fn http1_adds(status: StatusCode, headers: &HeaderMap, body: Option<u64>) -> u64 {
    use http::header::{CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
    // "date: Thu, 03 Dec 2026 06:23:02 GMT\r\n"
    let mut adds = if headers.contains_key(DATE) { 0 } else { 37 };
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if !bodiless
        && !headers.contains_key(CONTENT_LENGTH)
        && !headers.contains_key(TRANSFER_ENCODING)
    {
        adds += match body {
            Some(n) => "content-length: \r\n".len() + n.to_string().len(),
            None => "transfer-encoding: chunked\r\n".len(),
        };
    }
    adds as u64
}

/// The size of a request head as HTTP/1 writes it.
pub(crate) fn request_head_len(method: &Method, target: &str, fields: &dyn Fields) -> u64 {
    (method.as_str().len() + target.len() + 12 + fields_len(fields)) as u64
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A UTC date and time.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

impl Civil {
    /// The UTC date and time `secs` seconds after the epoch (Howard Hinnant's `civil_from_days`).
    pub(crate) fn of(secs: u64) -> Civil {
        let days = (secs / 86_400) as i64;
        let rest = (secs % 86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil { year, month, day, hour: rest / 3600, minute: rest / 60 % 60, second: rest % 60 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let c = |y, mo, d, h, mi, s| Civil {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
        };
        assert_eq!(Civil::of(0), c(1970, 1, 1, 0, 0, 0));
        assert_eq!(Civil::of(951_782_400), c(2000, 2, 29, 0, 0, 0));
        assert_eq!(Civil::of(1_798_957_382), c(2027, 1, 3, 6, 23, 2));
        assert_eq!(Civil::of(1_709_251_199), c(2024, 2, 29, 23, 59, 59));
    }

    #[test]
    fn head_sizes() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "text/plain".parse().unwrap());
        // "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n"
        assert_eq!(head_len(StatusCode::OK, &headers), 45);
        // "GET /x HTTP/1.1\r\ncontent-type: text/plain\r\n\r\n"
        assert_eq!(request_head_len(&Method::GET, "/x", &headers), 45);
    }
}
