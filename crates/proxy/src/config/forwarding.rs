//! `forwarding:` of `hookyard.yaml`: the headers that tell origins and clients a proxy
//! forwarded the message (`Via`, `X-Forwarded-For`, `Forwarded`), with ATS's switches.

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::Serialize;

use super::yaml::{Reader, kind};

/// Where `Via` is added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Via {
    /// To requests sent to origins (ATS's `proxy.config.http.insert_request_via_str`).
    pub request: bool,
    /// To responses relayed to clients (ATS's `proxy.config.http.insert_response_via_str`).
    pub response: bool,
}

/// The parameters of an added `Forwarded` element (RFC 7239 §5), in the order written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ForwardedParams {
    /// `by`: the address the client connected to.
    pub by: bool,
    /// `for`: the client's address.
    pub r#for: bool,
    /// `host`: the `Host` the client asked for.
    pub host: bool,
    /// `proto`: the scheme the client used.
    pub proto: bool,
}

impl ForwardedParams {
    /// Whether any parameter is added (whether `Forwarded` is added at all).
    pub fn any(&self) -> bool {
        self.by || self.r#for || self.host || self.proto
    }
}

/// The forwarding headers the proxy adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Forwarding {
    /// `Via: http/1.1 <via_hostname> (hookyard/<version>)`, appended to any `Via` already there.
    pub via: Via,
    /// The name `Via` gives this proxy (ATS's `proxy.config.proxy_name`); default: the
    /// machine's host name.
    pub via_hostname: String,
    /// `X-Forwarded-For: <client address>` on requests to origins, appended to one already
    /// there (ATS's `proxy.config.http.insert_squid_x_forwarded_for`).
    pub x_forwarded_for: bool,
    /// `Forwarded` (RFC 7239) on requests to origins, appended to one already there (ATS's
    /// `proxy.config.http.insert_forwarded`).
    pub forwarded: ForwardedParams,
}

impl Default for Forwarding {
    fn default() -> Forwarding {
        Forwarding {
            via: Via { request: true, response: true },
            via_hostname: machine_hostname(),
            x_forwarded_for: false,
            forwarded: ForwardedParams::default(),
        }
    }
}

/// The machine's host name, as `Via` may carry it; `hookyard` when it has none usable.
fn machine_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| valid_hostname(name))
        .unwrap_or_else(|| "hookyard".to_owned())
}

/// Whether `name` can be a `Via` received-by: a token (RFC 9110 §5.6.2) of letters, digits and
/// `-._~`, which host names and pseudonyms are.
fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `forwarding:` into `f`.
pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, f: &mut Forwarding) {
    for (name, key, value) in r.mapping(value, "`forwarding`") {
        match name {
            "via" => {
                if let Some(via) = via(r, value) {
                    f.via = via;
                }
            }
            "via_hostname" => {
                if let Some(name) = r.string(value, "`forwarding.via_hostname`") {
                    if valid_hostname(&name) {
                        f.via_hostname = name;
                    } else {
                        r.error(
                            value,
                            format!(
                                "`forwarding.via_hostname`: `{name}` is not a host name (letters, \
                                 digits, `-`, `.`, `_`, `~`)"
                            ),
                        );
                    }
                }
            }
            "x_forwarded_for" => {
                f.x_forwarded_for = r.bool(value, "`forwarding.x_forwarded_for`").unwrap_or(false)
            }
            "forwarded" => {
                if let Some(params) = forwarded(r, value) {
                    f.forwarded = params;
                }
            }
            other => r.unknown(
                key,
                other,
                "`forwarding`",
                "via, via_hostname, x_forwarded_for, forwarded",
            ),
        }
    }
}

/// `via`: `true` (both directions), `false`, `request` or `response`.
fn via(r: &mut Reader<'_>, value: &MarkedYaml<'_>) -> Option<Via> {
    let via = match &value.data {
        YamlData::Value(Scalar::Boolean(on)) => Via { request: *on, response: *on },
        YamlData::Value(Scalar::String(s)) if s == "request" => {
            Via { request: true, response: false }
        }
        YamlData::Value(Scalar::String(s)) if s == "response" => {
            Via { request: false, response: true }
        }
        _ => {
            r.error(
                value,
                format!(
                    "`forwarding.via` must be true, false, `request` or `response`, found {}",
                    describe(value)
                ),
            );
            return None;
        }
    };
    Some(via)
}

/// `forwarded`: `true` (`for`, `proto`, `host`), `false`, or a list of `by`, `for`, `host`,
/// `proto`.
fn forwarded(r: &mut Reader<'_>, value: &MarkedYaml<'_>) -> Option<ForwardedParams> {
    match &value.data {
        YamlData::Value(Scalar::Boolean(true)) => {
            Some(ForwardedParams { r#for: true, proto: true, host: true, by: false })
        }
        YamlData::Value(Scalar::Boolean(false)) => Some(ForwardedParams::default()),
        YamlData::Sequence(items) => {
            let mut params = ForwardedParams::default();
            let mut ok = true;
            for item in items {
                let slot = match &item.data {
                    YamlData::Value(Scalar::String(s)) if s == "by" => &mut params.by,
                    YamlData::Value(Scalar::String(s)) if s == "for" => &mut params.r#for,
                    YamlData::Value(Scalar::String(s)) if s == "host" => &mut params.host,
                    YamlData::Value(Scalar::String(s)) if s == "proto" => &mut params.proto,
                    _ => {
                        r.error(
                            item,
                            format!(
                                "`forwarding.forwarded`: {} is not a parameter (by, for, host, \
                                 proto)",
                                describe(item)
                            ),
                        );
                        ok = false;
                        continue;
                    }
                };
                *slot = true;
            }
            ok.then_some(params)
        }
        _ => {
            r.error(
                value,
                format!(
                    "`forwarding.forwarded` must be true, false or a list of by, for, host, \
                     proto, found {}",
                    describe(value)
                ),
            );
            None
        }
    }
}

/// A value as a message shows it: a string quoted, anything else by its kind.
fn describe(value: &MarkedYaml<'_>) -> String {
    match &value.data {
        YamlData::Value(Scalar::String(s)) => format!("`{s}`"),
        _ => kind(value).to_owned(),
    }
}
