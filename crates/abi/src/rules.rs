//! The validity rules of the host functions, written once for every host: the proxy's
//! (`hookyard-host`) and the SDK's test host call these, so a plugin that passes its tests
//! meets the same answers in the proxy.
//!
//! Each rule takes values the host already read out of the plugin's arguments (whether a
//! pointer is NULL, the bytes it points to) and answers `Ok` with the value in a checked form,
//! or `Err` with what the function returns then. What the host state decides (whether a message
//! exists yet, whether a slot is reserved) stays with the host. Where every host makes what a
//! function writes out of the same facts (an address as text, the client's scheme), the rule
//! makes it. The rules every host function
//! shares, whatever its parameters:
//! - a handle (`hy_txn *`, `hy_ssn *`, `hy_cont *`, `hy_plugin *self`) that is NULL or of
//!   another kind (a session passed as a transaction) is refused: `HY_ERROR`, a NULL pointer,
//!   0, or nothing done for functions without a result;
//! - an input string is (pointer, length): NULL is allowed with length 0 only ([`span`]);
//! - a required out-parameter that is NULL is refused before anything is written ([`out`]);
//!   the optional ones are documented as such in `hookyard.h`.
//!
//! `conformance` holds the cases each host's tests run against its own table.

use std::net::{SocketAddr, SocketAddrV4};

use crate::{
    HY_ERROR, HY_HOOK_ANY, HY_HOOK_CONTINUE, HY_HOOK_ERROR, HY_HOOK_LEVEL_GLOBAL,
    HY_HOOK_LEVEL_SESSION, HY_HOOK_LEVEL_TXN, HY_HOOK_LIFECYCLE_MSG, HY_HOOK_OS_DNS,
    HY_HOOK_PLUGINS_LOADED, HY_HOOK_POST_REMAP, HY_HOOK_PRE_REMAP, HY_HOOK_READ_REQUEST_HDR,
    HY_HOOK_READ_RESPONSE_HDR, HY_HOOK_SEND_REQUEST_HDR, HY_HOOK_SEND_RESPONSE_HDR,
    HY_HOOK_SHUTDOWN, HY_HOOK_SSN_CLOSE, HY_HOOK_SSN_START, HY_HOOK_TXN_CLOSE, HY_HOOK_TXN_START,
    HY_LOG_DEBUG, HY_LOG_ERROR, HY_LOG_INFO, HY_LOG_TRACE, HY_LOG_WARN, HY_MSG_CLIENT_REQUEST,
    HY_MSG_CLIENT_RESPONSE, HY_MSG_ORIGIN_REQUEST, HY_MSG_ORIGIN_RESPONSE, HY_STAT_COUNTER,
    HY_STAT_GAUGE, HY_URL_PART_HOST, HY_URL_PART_PATH, HY_URL_PART_PORT, HY_URL_PART_QUERY,
    HY_URL_PART_SCHEME, HY_URL_REMAP_TO, HY_URL_REQUEST, HY_USER_ARG_GLB, HY_USER_ARG_TXN,
    hy_hook_id, hy_hook_level, hy_hook_result, hy_log_level, hy_msg, hy_return, hy_stat_kind,
    hy_url, hy_url_part, hy_user_arg_type,
};

pub mod transform;

/// A rule's answer: the checked value, or what the host function returns.
pub type Checked<T> = Result<T, hy_return>;

/// Every refusal of a `hy_return` function.
const REFUSED: hy_return = HY_ERROR;

fn check(ok: bool) -> Checked<()> {
    if ok { Ok(()) } else { Err(REFUSED) }
}

/// A string passed in as (pointer, length): NULL is the empty string with length 0 only.
///
/// # Errors
///
/// `HY_ERROR` for NULL with a length.
pub fn span(null: bool, len: usize) -> Checked<()> {
    check(!null || len == 0)
}

/// A required out-parameter: NULL is refused (and nothing is written).
///
/// # Errors
///
/// `HY_ERROR` for NULL.
pub fn out(null: bool) -> Checked<()> {
    check(!null)
}

/// A handle the host found (`Some`) or not (NULL, or a pointer of another kind).
///
/// # Errors
///
/// `HY_ERROR` for `None`.
pub fn handle<T>(found: Option<T>) -> Checked<T> {
    found.ok_or(REFUSED)
}

/// The level a message is logged at: an unknown level is logged as `HY_LOG_DEBUG`.
pub fn log_level(level: hy_log_level) -> hy_log_level {
    match level {
        HY_LOG_ERROR | HY_LOG_WARN | HY_LOG_INFO | HY_LOG_DEBUG | HY_LOG_TRACE => level,
        _ => HY_LOG_DEBUG,
    }
}

/// A message of a transaction (`HY_MSG_*`); whether it exists yet is the host's to say.
///
/// # Errors
///
/// `HY_ERROR` for a value that names no message.
pub fn msg(msg: hy_msg) -> Checked<()> {
    check((HY_MSG_CLIENT_REQUEST..=HY_MSG_CLIENT_RESPONSE).contains(&msg))
}

/// A request message (`method_get`).
///
/// # Errors
///
/// `HY_ERROR` for a response or a value that names no message.
pub fn request_msg(msg: hy_msg) -> Checked<()> {
    check(msg == HY_MSG_CLIENT_REQUEST || msg == HY_MSG_ORIGIN_REQUEST)
}

/// A response message (`status_get`, `status_set`).
///
/// # Errors
///
/// `HY_ERROR` for a request or a value that names no message.
pub fn response_msg(msg: hy_msg) -> Checked<()> {
    check(msg == HY_MSG_ORIGIN_RESPONSE || msg == HY_MSG_CLIENT_RESPONSE)
}

/// Whether `byte` may appear in a token (RFC 9110 §5.6.2: methods and field names).
fn tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn token(bytes: &[u8]) -> Checked<&str> {
    check(!bytes.is_empty() && bytes.iter().all(|b| tchar(*b)))?;
    std::str::from_utf8(bytes).map_err(|_| REFUSED)
}

/// `method_set`: only the client request's method changes (the origin request is made from
/// it), to a token.
///
/// # Errors
///
/// `HY_ERROR` for another message, or a method that is empty or not a token.
pub fn method_set(msg: hy_msg, method: &[u8]) -> Checked<&str> {
    check(msg == HY_MSG_CLIENT_REQUEST)?;
    token(method)
}

/// A header field name: a token (compared ignoring ASCII case).
///
/// # Errors
///
/// `HY_ERROR` for an empty name or one with a byte outside a token.
pub fn header_name(name: &[u8]) -> Checked<&str> {
    token(name)
}

/// A header field value: no control byte but HTAB (so no CR or LF), no DEL.
///
/// # Errors
///
/// `HY_ERROR` for a value with such a byte.
pub fn header_value(value: &[u8]) -> Checked<()> {
    check(value.iter().all(|b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f)))
}

/// A URL of a transaction (`HY_URL_*`).
///
/// # Errors
///
/// `HY_ERROR` for a value that names no URL.
pub fn url(url: hy_url) -> Checked<()> {
    check((HY_URL_REQUEST..=HY_URL_REMAP_TO).contains(&url))
}

/// A part of a URL (`HY_URL_PART_*`).
///
/// # Errors
///
/// `HY_ERROR` for a value that names no part.
pub fn url_part(part: hy_url_part) -> Checked<()> {
    check((HY_URL_PART_SCHEME..=HY_URL_PART_QUERY).contains(&part))
}

/// A part of the request URL, checked by [`url_set`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlValue<'a> {
    /// `http` or `https`.
    Scheme(&'a str),
    /// A host: not empty, without `/`, `?`, `#` or `@`.
    Host(&'a str),
    /// A port 1–65535, or none (an empty value).
    Port(Option<u16>),
    /// A path: starting with `/`, without `?` or `#`.
    Path(&'a str),
    /// A query, without `#`.
    Query(&'a str),
}

/// `url_set`: only the request URL changes; a value is UTF-8 without controls or spaces, and
/// valid for its part (see [`UrlValue`]).
///
/// # Errors
///
/// `HY_ERROR` for another URL, a part that is none, or an invalid value.
pub fn url_set(url: hy_url, part: hy_url_part, value: &[u8]) -> Checked<UrlValue<'_>> {
    check(url == HY_URL_REQUEST)?;
    let text = std::str::from_utf8(value).map_err(|_| REFUSED)?;
    check(!text.chars().any(|c| c.is_ascii_control() || c == ' '))?;
    let value = match part {
        HY_URL_PART_SCHEME if matches!(text, "http" | "https") => UrlValue::Scheme(text),
        HY_URL_PART_HOST if !text.is_empty() && !text.contains(['/', '?', '#', '@']) => {
            UrlValue::Host(text)
        }
        HY_URL_PART_PORT if text.is_empty() => UrlValue::Port(None),
        HY_URL_PART_PORT => match text.parse::<u16>() {
            Ok(port) if port > 0 => UrlValue::Port(Some(port)),
            _ => return Err(REFUSED),
        },
        HY_URL_PART_PATH if text.starts_with('/') && !text.contains(['?', '#']) => {
            UrlValue::Path(text)
        }
        HY_URL_PART_QUERY if !text.contains('#') => UrlValue::Query(text),
        _ => return Err(REFUSED),
    };
    Ok(value)
}

/// `status_set`: a response message, a status 200–999 (every response is sent as a final one,
/// and HTTP/1 has no final 1xx).
///
/// # Errors
///
/// `HY_ERROR` for a request message, a 1xx or a status outside 100–999.
pub fn status_set(msg: hy_msg, status: i32) -> Checked<u16> {
    response_msg(msg)?;
    direct_status(status)
}

/// `direct_response`: a status 200–999.
///
/// # Errors
///
/// `HY_ERROR` for any other status.
pub fn direct_status(status: i32) -> Checked<u16> {
    u16::try_from(status).ok().filter(|s| (200..=999).contains(s)).ok_or(REFUSED)
}

/// The longest reason phrase (`reason_set`).
pub const REASON_MAX: usize = 256;

/// `reason_set`: a response message, and a reason phrase of at most [`REASON_MAX`] bytes of
/// HTAB, SP, VCHAR and obs-text (RFC 9112 §4); empty for the status's standard one.
///
/// # Errors
///
/// `HY_ERROR` for a request message, or a phrase too long or with another byte (CR, LF, ...).
pub fn reason_set(msg: hy_msg, reason: &[u8]) -> Checked<&[u8]> {
    response_msg(msg)?;
    check(reason.len() <= REASON_MAX)?;
    check(reason.iter().all(|b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f)))?;
    Ok(reason)
}

/// The longest reason `host_status_set` keeps.
pub const HOST_REASON_MAX: usize = 256;

/// `host_status_set`'s arguments: a non-empty UTF-8 name, `up` 0 or 1, and (when down) a UTF-8
/// reason of at most [`HOST_REASON_MAX`] bytes without control characters. The checked name
/// and the reason of a down mark (`None`: up).
///
/// # Errors
///
/// `HY_ERROR` for anything else.
pub fn host_status_set<'a>(
    name: &'a [u8],
    up: i32,
    reason: &'a [u8],
) -> Checked<(&'a str, Option<&'a str>)> {
    let name = host_name(name)?;
    match up {
        1 => Ok((name, None)),
        0 => {
            let reason = std::str::from_utf8(reason).map_err(|_| REFUSED)?;
            check(reason.len() <= HOST_REASON_MAX && !reason.chars().any(char::is_control))?;
            Ok((name, Some(reason)))
        }
        _ => Err(REFUSED),
    }
}

/// An origin host's name as `host_status_set` and `host_status_get` take it: non-empty UTF-8.
///
/// # Errors
///
/// `HY_ERROR` for anything else.
pub fn host_name(name: &[u8]) -> Checked<&str> {
    std::str::from_utf8(name).ok().filter(|n| !n.is_empty()).ok_or(REFUSED)
}

/// `server_addr_set`'s address: `IP:PORT` or `[IPv6]:PORT` text.
///
/// # Errors
///
/// `HY_ERROR` for anything else (a host name is not an address: it is the origin URL's part).
pub fn server_addr(addr: &[u8]) -> Checked<SocketAddr> {
    std::str::from_utf8(addr).ok().and_then(|text| text.parse().ok()).ok_or(REFUSED)
}

/// How `client_addr_get` and `incoming_addr_get` write an address: `IP:PORT` or
/// `[IPv6]:PORT`, a v4-mapped IPv6 address as IPv4 (a dual-stack listener reports IPv4 clients
/// so).
pub fn conn_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(ip) => SocketAddrV4::new(ip, v6.port()).to_string(),
            None => v6.to_string(),
        },
        SocketAddr::V4(v4) => v4.to_string(),
    }
}

/// What `client_scheme_get` writes: `https` for a TLS connection, else `http`.
pub fn client_scheme(tls: bool) -> &'static str {
    if tls { "https" } else { "http" }
}

/// The longest name of a log field (`log_field_set`).
pub const LOG_FIELD_NAME_MAX: usize = 64;
/// The longest value of a log field.
pub const LOG_FIELD_VALUE_MAX: usize = 4096;
/// The most log fields a transaction keeps.
pub const LOG_FIELDS_MAX: usize = 32;
/// The longest statistic name (`stat_create`).
pub const STAT_NAME_MAX: usize = 128;
/// The most statistics a plugin has.
pub const STATS_MAX: usize = 1000;
/// The most reply bytes a plugin gives one message (`msg_reply`).
pub const MSG_REPLY_MAX: usize = 65536;

/// `log_field_set`'s name and value, checked; `fields` is how many the transaction has and
/// `replaces` whether this name is one of them.
///
/// # Errors
///
/// `HY_ERROR` for a name that is empty, longer than [`LOG_FIELD_NAME_MAX`] or has a byte
/// outside `[A-Za-z0-9_.-]`; a value that is not UTF-8 or longer than [`LOG_FIELD_VALUE_MAX`];
/// a new name when the transaction has [`LOG_FIELDS_MAX`] already.
pub fn log_field<'a>(
    name: &'a [u8],
    value: &'a [u8],
    fields: usize,
    replaces: bool,
) -> Checked<(&'a str, &'a str)> {
    let name_ok = |b: &u8| b.is_ascii_alphanumeric() || b"_.-".contains(b);
    check(!name.is_empty() && name.len() <= LOG_FIELD_NAME_MAX && name.iter().all(name_ok))?;
    check(value.len() <= LOG_FIELD_VALUE_MAX)?;
    check(replaces || fields < LOG_FIELDS_MAX)?;
    let name = std::str::from_utf8(name).map_err(|_| REFUSED)?;
    let value = std::str::from_utf8(value).map_err(|_| REFUSED)?;
    Ok((name, value))
}

/// `stat_create`'s name and kind, checked.
///
/// # Errors
///
/// `HY_ERROR` for a name that is empty, longer than [`STAT_NAME_MAX`] or has a byte outside
/// `[A-Za-z0-9_.:-]`, or a kind that is not `HY_STAT_COUNTER` or `HY_STAT_GAUGE`.
pub fn stat_create(name: &[u8], kind: hy_stat_kind) -> Checked<&str> {
    let name_ok = |b: &u8| b.is_ascii_alphanumeric() || b"_.:-".contains(b);
    check(!name.is_empty() && name.len() <= STAT_NAME_MAX && name.iter().all(name_ok))?;
    check(kind == HY_STAT_COUNTER || kind == HY_STAT_GAUGE)?;
    std::str::from_utf8(name).map_err(|_| REFUSED)
}

/// Whether an existing statistic of `existing` kind is what `stat_create` asked for, or a new
/// one may be made when the plugin has `count`.
///
/// # Errors
///
/// `HY_ERROR` for the same name with another kind, or a new one past [`STATS_MAX`].
pub fn stat_found(existing: Option<hy_stat_kind>, kind: hy_stat_kind, count: usize) -> Checked<()> {
    match existing {
        Some(existing) => check(existing == kind),
        None => check(count < STATS_MAX),
    }
}

/// `stat_increment` on a statistic of `kind`.
///
/// # Errors
///
/// `HY_ERROR` for a negative amount on a counter.
pub fn stat_increment(kind: hy_stat_kind, amount: i64) -> Checked<()> {
    check(kind == HY_STAT_GAUGE || amount >= 0)
}

/// `stat_set` on a statistic of `kind`.
///
/// # Errors
///
/// `HY_ERROR` for a counter (it only grows).
pub fn stat_set(kind: hy_stat_kind) -> Checked<()> {
    check(kind == HY_STAT_GAUGE)
}

/// `msg_reply`'s text, when the plugin has replied `so_far` bytes to the message already.
///
/// # Errors
///
/// `HY_ERROR` for text that is not UTF-8 or would pass [`MSG_REPLY_MAX`].
pub fn msg_reply(text: &[u8], so_far: usize) -> Checked<&str> {
    check(so_far + text.len() <= MSG_REPLY_MAX)?;
    std::str::from_utf8(text).map_err(|_| REFUSED)
}

/// Every hook id of the ABI.
pub const HOOKS: [hy_hook_id; 14] = [
    HY_HOOK_READ_REQUEST_HDR,
    HY_HOOK_OS_DNS,
    HY_HOOK_SEND_REQUEST_HDR,
    HY_HOOK_READ_RESPONSE_HDR,
    HY_HOOK_SEND_RESPONSE_HDR,
    HY_HOOK_TXN_START,
    HY_HOOK_TXN_CLOSE,
    HY_HOOK_SSN_START,
    HY_HOOK_SSN_CLOSE,
    HY_HOOK_PRE_REMAP,
    HY_HOOK_POST_REMAP,
    HY_HOOK_PLUGINS_LOADED,
    HY_HOOK_SHUTDOWN,
    HY_HOOK_LIFECYCLE_MSG,
];

/// A hook id.
///
/// # Errors
///
/// `HY_ERROR` for a value that names no hook (`HY_HOOK_ANY` included).
pub fn hook(hook: hy_hook_id) -> Checked<hy_hook_id> {
    check(HOOKS.contains(&hook))?;
    Ok(hook)
}

/// A hook id or `HY_HOOK_ANY` (thresholds): `None` for any.
///
/// # Errors
///
/// `HY_ERROR` for a value that names neither.
pub fn hook_or_any(hook: hy_hook_id) -> Checked<Option<hy_hook_id>> {
    if hook == HY_HOOK_ANY { Ok(None) } else { self::hook(hook).map(Some) }
}

/// `hook_add`'s level, object and hook: global with a NULL object, session with a session,
/// transaction with a transaction; lifecycle hooks at global level only, session hooks not at
/// transaction level.
///
/// # Errors
///
/// `HY_ERROR` for another level, a global object that is not NULL, a NULL session or
/// transaction, a hook that is none, or a hook below its level.
pub fn hook_add(level: hy_hook_level, object_null: bool, hook: hy_hook_id) -> Checked<()> {
    self::hook(hook)?;
    let lifecycle =
        hook == HY_HOOK_PLUGINS_LOADED || hook == HY_HOOK_SHUTDOWN || hook == HY_HOOK_LIFECYCLE_MSG;
    let session = hook == HY_HOOK_SSN_START || hook == HY_HOOK_SSN_CLOSE;
    match level {
        HY_HOOK_LEVEL_GLOBAL => check(object_null),
        HY_HOOK_LEVEL_SESSION => check(!object_null && !lifecycle),
        HY_HOOK_LEVEL_TXN => check(!object_null && !lifecycle && !session),
        _ => Err(REFUSED),
    }
}

/// The level of a per-session or per-transaction change (`plugin_enable_set`, `callback_*`;
/// `threshold_*` also take global, with a NULL object).
///
/// # Errors
///
/// `HY_ERROR` for another level, or a NULL object.
pub fn control_level(level: hy_hook_level, object_null: bool) -> Checked<()> {
    check((level == HY_HOOK_LEVEL_SESSION || level == HY_HOOK_LEVEL_TXN) && !object_null)
}

/// What `txn_resume` / `ssn_resume` may end a pending hook with.
///
/// # Errors
///
/// `HY_ERROR` for anything but `HY_HOOK_CONTINUE` and `HY_HOOK_ERROR` (`HY_HOOK_PENDING`
/// included).
pub fn resume_result(result: hy_hook_result) -> Checked<hy_hook_result> {
    check(result == HY_HOOK_CONTINUE || result == HY_HOOK_ERROR)?;
    Ok(result)
}

/// A user-arg kind (`HY_USER_ARG_*`).
///
/// # Errors
///
/// `HY_ERROR` for a value that names no kind.
pub fn user_arg_kind(kind: hy_user_arg_type) -> Checked<hy_user_arg_type> {
    check((HY_USER_ARG_TXN..=HY_USER_ARG_GLB).contains(&kind))?;
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_values_are_checked_per_part() {
        let set = |part, value: &'static str| url_set(HY_URL_REQUEST, part, value.as_bytes());
        assert_eq!(set(HY_URL_PART_PORT, "8080"), Ok(UrlValue::Port(Some(8080))));
        assert_eq!(set(HY_URL_PART_PORT, ""), Ok(UrlValue::Port(None)));
        assert_eq!(set(HY_URL_PART_PORT, "0"), Err(HY_ERROR));
        assert_eq!(set(HY_URL_PART_HOST, "a@b"), Err(HY_ERROR));
        assert_eq!(set(HY_URL_PART_PATH, "/a b"), Err(HY_ERROR));
        assert_eq!(set(HY_URL_PART_QUERY, "a=1"), Ok(UrlValue::Query("a=1")));
        assert_eq!(set(5, "x"), Err(HY_ERROR));
        assert_eq!(url_set(crate::HY_URL_PRISTINE, HY_URL_PART_PATH, b"/"), Err(HY_ERROR));
    }

    #[test]
    fn reasons() {
        assert_eq!(reason_set(HY_MSG_CLIENT_RESPONSE, b"Fine \xe9"), Ok(&b"Fine \xe9"[..]));
        assert_eq!(reason_set(HY_MSG_CLIENT_RESPONSE, b""), Ok(&b""[..]));
        assert_eq!(reason_set(HY_MSG_CLIENT_RESPONSE, b"a\r\nb"), Err(HY_ERROR));
        assert_eq!(reason_set(HY_MSG_CLIENT_REQUEST, b"OK"), Err(HY_ERROR));
        assert_eq!(reason_set(HY_MSG_ORIGIN_RESPONSE, &[b'x'; REASON_MAX + 1]), Err(HY_ERROR));
    }

    #[test]
    fn statuses_tokens_and_hooks() {
        assert_eq!(status_set(HY_MSG_CLIENT_RESPONSE, 199), Err(HY_ERROR));
        assert_eq!(status_set(HY_MSG_CLIENT_RESPONSE, 999), Ok(999));
        assert_eq!(status_set(HY_MSG_CLIENT_REQUEST, 200), Err(HY_ERROR));
        assert_eq!(direct_status(1000), Err(HY_ERROR));
        assert_eq!(method_set(HY_MSG_CLIENT_REQUEST, b"M-SEARCH"), Ok("M-SEARCH"));
        assert_eq!(method_set(HY_MSG_ORIGIN_REQUEST, b"GET"), Err(HY_ERROR));
        assert_eq!(header_name(b"X-A:"), Err(HY_ERROR));
        assert_eq!(header_value(b"a\r\nb"), Err(HY_ERROR));
        assert_eq!(hook_add(HY_HOOK_LEVEL_TXN, false, HY_HOOK_SSN_START), Err(HY_ERROR));
        assert_eq!(hook_add(HY_HOOK_LEVEL_GLOBAL, true, HY_HOOK_SHUTDOWN), Ok(()));
        assert_eq!(hook_add(HY_HOOK_LEVEL_GLOBAL, true, HY_HOOK_LIFECYCLE_MSG), Ok(()));
        assert_eq!(hook_add(HY_HOOK_LEVEL_SESSION, false, HY_HOOK_LIFECYCLE_MSG), Err(HY_ERROR));
        assert_eq!(hook_or_any(HY_HOOK_ANY), Ok(None));
        assert_eq!(hook(3), Err(HY_ERROR));
    }

    #[test]
    fn connection_addresses_are_written_as_clients_know_them() {
        let text = |addr: &str| conn_addr(addr.parse().unwrap());
        assert_eq!(text("192.0.2.1:8080"), "192.0.2.1:8080");
        assert_eq!(text("[::ffff:192.0.2.1]:443"), "192.0.2.1:443");
        assert_eq!(text("[2001:db8::1]:443"), "[2001:db8::1]:443");
        assert_eq!(text("[::1]:80"), "[::1]:80", "loopback is not v4-mapped");
        assert_eq!((client_scheme(true), client_scheme(false)), ("https", "http"));
    }

    #[test]
    fn log_fields_stats_and_replies() {
        assert_eq!(log_field(b"tag", b"v 1", 0, false), Ok(("tag", "v 1")));
        assert_eq!(log_field(b"a.b-c_9", b"", 31, false), Ok(("a.b-c_9", "")));
        assert_eq!(log_field(b"x", b"v", LOG_FIELDS_MAX, false), Err(HY_ERROR));
        assert_eq!(log_field(b"x", b"v", LOG_FIELDS_MAX, true), Ok(("x", "v")));
        for name in [&b""[..], b"a b", b"a\"b", &[b'a'; 65]] {
            assert_eq!(log_field(name, b"v", 0, false), Err(HY_ERROR), "{name:?}");
        }
        assert_eq!(log_field(b"x", &[0xff], 0, false), Err(HY_ERROR));
        assert_eq!(log_field(b"x", &[b'v'; 4097], 0, false), Err(HY_ERROR));
        assert_eq!(stat_create(b"hits:total", HY_STAT_COUNTER), Ok("hits:total"));
        assert_eq!(stat_create(b"hits", 2), Err(HY_ERROR));
        assert_eq!(stat_create(b"a b", HY_STAT_GAUGE), Err(HY_ERROR));
        assert_eq!(stat_found(Some(HY_STAT_GAUGE), HY_STAT_GAUGE, 5), Ok(()));
        assert_eq!(stat_found(Some(HY_STAT_GAUGE), HY_STAT_COUNTER, 5), Err(HY_ERROR));
        assert_eq!(stat_found(None, HY_STAT_COUNTER, STATS_MAX), Err(HY_ERROR));
        assert_eq!(stat_increment(HY_STAT_COUNTER, -1), Err(HY_ERROR));
        assert_eq!(stat_increment(HY_STAT_GAUGE, -1), Ok(()));
        assert_eq!((stat_set(HY_STAT_COUNTER), stat_set(HY_STAT_GAUGE)), (Err(HY_ERROR), Ok(())));
        assert_eq!(msg_reply(b"ok", MSG_REPLY_MAX - 2), Ok("ok"));
        assert_eq!(msg_reply(b"ok", MSG_REPLY_MAX - 1), Err(HY_ERROR));
        assert_eq!(msg_reply(&[0xff], 0), Err(HY_ERROR));
    }
}
