//! `strategies.yaml`: origin pools in ATS's schema (`hosts`, `groups`, `strategies`), which
//! remap rules name with `@strategy=NAME` (`docs/operating.md`, "Origin pools").
//!
//! Hosts are usually written once under `hosts:` with an anchor and used in `groups:` through
//! an alias, often merged with a weight (`- <<: *p1` then `weight: 2`); the YAML loader resolves
//! aliases, merge keys (`<<`) are resolved here.

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::Serialize;

use super::Problem;
use super::yaml::{Reader, kind, load};

/// The strategies file's name.
pub const STRATEGIES_FILE: &str = "strategies.yaml";

/// The most groups (rings) of one strategy, as ATS (`MAX_GROUPS`).
const MAX_GROUPS: usize = 5;

/// Every strategy of `strategies.yaml`, in file order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Strategies {
    /// The strategies.
    pub strategies: Vec<StrategySpec>,
}

impl Strategies {
    /// The strategy called `name`.
    pub fn get(&self, name: &str) -> Option<&StrategySpec> {
        self.strategies.iter().find(|s| s.name == name)
    }
}

/// One strategy: where the requests of the rules naming it go, and what happens on failure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategySpec {
    /// `strategy`: its name.
    pub name: String,
    /// Its line in the file.
    pub line: usize,
    /// `policy`: how a host is chosen.
    pub policy: Policy,
    /// `hash_key`: what a `consistent_hash` strategy hashes (ATS's default: the path).
    pub hash_key: HashKey,
    /// `go_direct`: whether requests go to the rule's own origin when every host is down
    /// (default true, as ATS).
    pub go_direct: bool,
    /// `scheme`: how hosts are spoken to, `http` (default) or `https`; picks each host's port.
    pub scheme: Scheme,
    /// `groups`: the rings, primary first, each a list of hosts.
    pub groups: Vec<Vec<HostSpec>>,
    /// `failover`.
    pub failover: Failover,
}

/// `policy` of a strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// `rr_strict` (or `round_robin`): each request the next host in turn.
    RoundRobin,
    /// `rr_ip`: the host by the client's address, so a client keeps its host.
    RrIp,
    /// `consistent_hash`: the host by a hash of `hash_key` on a weighted ring, so a key keeps
    /// its host while the set of live hosts is unchanged.
    ConsistentHash,
    /// `first_live`: the first host that is up, in group order.
    FirstLive,
    /// `latched`: the host last used, until it fails; then the next one.
    Latched,
}

impl Policy {
    fn parse(text: &str) -> Option<Policy> {
        Some(match text {
            "rr_strict" | "round_robin" => Policy::RoundRobin,
            "rr_ip" => Policy::RrIp,
            "consistent_hash" => Policy::ConsistentHash,
            "first_live" => Policy::FirstLive,
            "latched" => Policy::Latched,
            _ => return None,
        })
    }
}

/// `hash_key` of a `consistent_hash` strategy: which part of the request URL is hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashKey {
    /// `url`: the whole URL (scheme, host, path and query).
    Url,
    /// `uri` (also `cache_key`, as hookyard has no cache): the path and the query.
    Uri,
    /// `hostname`: the host.
    Hostname,
    /// `path`: the path (ATS's default).
    Path,
    /// `path+query`: the path and the query.
    PathQuery,
    /// `path+fragment`: the path (a request carries no fragment).
    PathFragment,
}

impl HashKey {
    fn parse(text: &str) -> Option<HashKey> {
        Some(match text {
            "url" => HashKey::Url,
            "uri" | "cache_key" => HashKey::Uri,
            "hostname" => HashKey::Hostname,
            "path" => HashKey::Path,
            "path+query" => HashKey::PathQuery,
            "path+fragment" => HashKey::PathFragment,
            _ => return None,
        })
    }
}

/// How hosts are spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS, verified as the rule says (`@origin_tls_verify=`).
    Https,
}

impl Scheme {
    fn parse(text: &str) -> Option<Scheme> {
        match text {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    /// `http` or `https`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port used when a host gives none for this scheme.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// `ring_mode` of a strategy's `failover`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RingMode {
    /// `exhaust_ring`: every host of a group is tried before the next group.
    ExhaustRing,
    /// `alternate_ring`: each retry goes to the next group.
    AlternateRing,
}

/// `failover` of a strategy: retries and which health checks mark its hosts down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failover {
    /// `max_simple_retries`: how many times a request is tried again on another host (default
    /// 1, as ATS).
    pub max_simple_retries: u32,
    /// `ring_mode`.
    pub ring_mode: RingMode,
    /// `response_codes`: origin statuses after which a request without a body is retried.
    pub response_codes: Vec<u16>,
    /// `health_check` lists `passive`: failed requests mark a host down (default on).
    pub passive: bool,
    /// `health_check` lists `active`: the hosts' `health_check_url`s are polled.
    pub active: bool,
}

impl Default for Failover {
    fn default() -> Failover {
        Failover {
            max_simple_retries: 1,
            ring_mode: RingMode::ExhaustRing,
            response_codes: Vec::new(),
            passive: true,
            active: false,
        }
    }
}

/// One host of a group, as the strategy's scheme sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostSpec {
    /// `host`: its name or address.
    pub host: String,
    /// The port of the strategy's scheme (its `protocol` entry, else the scheme's default).
    pub port: u16,
    /// `hash_string`: what `consistent_hash` places on the ring instead of `host:port`.
    pub hash_string: Option<String>,
    /// The `health_check_url` of the strategy's scheme, if any.
    pub health_check_url: Option<HealthUrl>,
    /// Why the `health_check_url` cannot be checked (reported when the strategy checks
    /// actively), with its line.
    #[serde(skip)]
    pub(crate) health_check_error: Option<(usize, String)>,
    /// `weight` (default 1): its share of the ring or of round-robin turns.
    pub weight: f64,
    /// Its line in the file.
    pub line: usize,
}

impl HostSpec {
    /// `host:port`, as `ctl hosts` names it.
    pub fn name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// An `http://host[:port]/path` (or `https://`) health check URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthUrl {
    /// As written.
    pub url: String,
    /// Whether it is `https://`: checked over TLS, verified as `origin_tls` says.
    pub tls: bool,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Its path and query (`/` when none).
    pub path: String,
}

impl HealthUrl {
    fn parse(text: &str) -> Result<HealthUrl, String> {
        let (tls, rest) = match (text.strip_prefix("http://"), text.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => {
                return Err(format!(
                    "health_check_url `{text}`: only http:// and https:// URLs are checked"
                ));
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let bad = || format!("health_check_url `{text}` has no valid host and port");
        // `[v6]` or `[v6]:port`; else `host` or `host:port`.
        let (host, port) = match authority.strip_prefix('[') {
            Some(rest) => {
                let (host, after) = rest.split_once(']').ok_or_else(bad)?;
                match after {
                    "" => (host, None),
                    _ => (host, Some(after.strip_prefix(':').ok_or_else(bad)?)),
                }
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            Some(port) => port.parse::<u16>().map_err(|_| bad())?,
            None if tls => 443,
            None => 80,
        };
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(HealthUrl {
            url: text.to_owned(),
            tls,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

/// Parses `strategies.yaml` (`file` for messages); every problem as `file:line: reason`.
///
/// # Errors
///
/// Every problem found: invalid YAML, unknown keys or values, a strategy without groups,
/// a name used twice, an `#include` (not supported).
pub fn parse(file: &std::path::Path, text: &str) -> Result<Strategies, Vec<Problem>> {
    let mut r = Reader::new(file);
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#include") {
            r.problems.push(Problem {
                file: file.to_owned(),
                line: i + 1,
                reason: "`#include` is not supported: write hosts, groups and strategies in \
                         strategies.yaml itself"
                    .to_owned(),
            });
        }
    }
    let doc = match load(file, text) {
        Ok(Some(doc)) => doc,
        Ok(None) => return finish(r, Strategies::default()),
        Err(problem) => {
            r.problems.push(problem);
            return Err(r.problems);
        }
    };
    let mut strategies = Strategies::default();
    for (name, key, value) in r.mapping(&doc, "strategies.yaml") {
        match name {
            "hosts" => {
                if !matches!(value.data, YamlData::Sequence(_)) {
                    r.error(value, format!("`hosts` must be a list, found {}", kind(value)));
                }
            }
            "groups" => {
                if !matches!(value.data, YamlData::Sequence(_)) {
                    r.error(value, format!("`groups` must be a list, found {}", kind(value)));
                }
            }
            "strategies" => {
                let YamlData::Sequence(items) = &value.data else {
                    r.error(value, format!("`strategies` must be a list, found {}", kind(value)));
                    continue;
                };
                for item in items {
                    let Some(strategy) = strategy(&mut r, item) else { continue };
                    if let Some(first) = strategies.get(&strategy.name) {
                        let reason = format!(
                            "strategy `{}` is defined twice (first on line {})",
                            strategy.name, first.line
                        );
                        r.problems.push(Problem {
                            file: file.to_owned(),
                            line: strategy.line,
                            reason,
                        });
                        continue;
                    }
                    strategies.strategies.push(strategy);
                }
            }
            other => r.unknown(key, other, "strategies.yaml", "hosts, groups, strategies"),
        }
    }
    finish(r, strategies)
}

fn finish(r: Reader<'_>, strategies: Strategies) -> Result<Strategies, Vec<Problem>> {
    if r.problems.is_empty() {
        Ok(strategies)
    } else {
        let mut problems = r.problems;
        problems.sort_by_key(|p| p.line);
        Err(problems)
    }
}

/// A mapping's entries with merge keys (`<<: *anchor`, or a list of them) resolved: the
/// mapping's own keys win over merged ones.
fn merged<'n, 'i>(
    r: &mut Reader<'_>,
    node: &'n MarkedYaml<'i>,
    what: &str,
) -> Vec<(&'n str, &'n MarkedYaml<'i>, &'n MarkedYaml<'i>)> {
    let mut own = Vec::new();
    let mut merges = Vec::new();
    for (name, key, value) in r.mapping(node, what) {
        if name == "<<" {
            match &value.data {
                YamlData::Sequence(items) => merges.extend(items.iter()),
                _ => merges.push(value),
            }
        } else {
            own.push((name, key, value));
        }
    }
    for merge in merges {
        for entry in merged(r, merge, &format!("a merge (`<<`) into {what}")) {
            if !own.iter().any(|(name, _, _)| *name == entry.0) {
                own.push(entry);
            }
        }
    }
    own
}

fn strategy(r: &mut Reader<'_>, node: &MarkedYaml<'_>) -> Option<StrategySpec> {
    let line = node.span.start.line();
    let mut name = None;
    let mut spec = StrategySpec {
        name: String::new(),
        line,
        policy: Policy::ConsistentHash,
        hash_key: HashKey::Path,
        go_direct: true,
        scheme: Scheme::Http,
        groups: Vec::new(),
        failover: Failover::default(),
    };
    let mut policy = None;
    let mut groups = None;
    let before = r.problems.len();
    let entries = merged(r, node, "a strategy");
    // The scheme decides each host's port: read it first.
    for (key, value) in entries.iter().filter(|(k, _, _)| *k == "scheme").map(|(_, k, v)| (k, v)) {
        match r.string(value, "`scheme`").map(|s| Scheme::parse(&s)) {
            Some(Some(scheme)) => spec.scheme = scheme,
            Some(None) => r.error(key, "`scheme` must be `http` or `https`"),
            None => {}
        }
    }
    for &(key, key_node, value) in &entries {
        match key {
            "strategy" => name = r.string(value, "`strategy`"),
            "policy" => match r.string(value, "`policy`") {
                Some(text) => match Policy::parse(&text) {
                    Some(p) => policy = Some(Some(p)),
                    None => {
                        policy = Some(None);
                        r.error(
                            value,
                            format!(
                                "unknown policy `{text}` (expected consistent_hash, first_live, \
                             rr_strict, rr_ip, latched or round_robin)"
                            ),
                        );
                    }
                },
                None => policy = Some(None),
            },
            "hash_key" => {
                if let Some(text) = r.string(value, "`hash_key`") {
                    match HashKey::parse(&text) {
                        Some(k) => spec.hash_key = k,
                        None => r.error(
                            value,
                            format!(
                                "unknown hash_key `{text}` (expected url, uri, hostname, path, \
                                 path+query, path+fragment or cache_key)"
                            ),
                        ),
                    }
                }
            }
            "go_direct" => spec.go_direct = r.bool(value, "`go_direct`").unwrap_or(true),
            "scheme" => {}
            // ATS's cache options: hookyard has no cache, and its hosts are origin servers.
            "parent_is_proxy" | "cache_peer_result" | "ignore_self_detect" => {
                r.bool(value, &format!("`{key}`"));
            }
            "groups" => groups = Some(value),
            "failover" => failover(r, value, &mut spec.failover),
            other => r.unknown(
                key_node,
                other,
                "a strategy",
                "strategy, policy, hash_key, go_direct, scheme, groups, failover, \
                 parent_is_proxy, cache_peer_result, ignore_self_detect",
            ),
        }
    }
    let Some(name) = name else {
        r.error(node, "a strategy needs a name (`strategy: NAME`)");
        return None;
    };
    spec.name = name;
    match policy {
        Some(Some(p)) => spec.policy = p,
        Some(None) => {}
        None => r.error(node, format!("strategy `{}` needs a `policy`", spec.name)),
    }
    match groups {
        Some(value) => spec.groups = group_list(r, value, spec.scheme, &spec.name),
        None => r.error(node, format!("strategy `{}` needs `groups`", spec.name)),
    }
    if spec.groups.iter().all(Vec::is_empty) && groups.is_some() && r.problems.len() == before {
        r.error(node, format!("strategy `{}` has no host", spec.name));
    }
    if spec.failover.active {
        for host in spec.groups.iter().flatten() {
            if let Some((line, reason)) = &host.health_check_error {
                r.problems.push(Problem {
                    file: r.file.to_owned(),
                    line: *line,
                    reason: format!("{reason} (strategy `{}` checks actively)", spec.name),
                });
            } else if host.health_check_url.is_none() {
                r.problems.push(Problem {
                    file: r.file.to_owned(),
                    line: host.line,
                    reason: format!(
                        "host `{}` has no health_check_url for {} but strategy `{}` checks \
                         its hosts actively",
                        host.host,
                        scheme_name(spec.scheme),
                        spec.name
                    ),
                });
            }
        }
    }
    (r.problems.len() == before).then_some(spec)
}

fn scheme_name(scheme: Scheme) -> &'static str {
    scheme.name()
}

fn group_list(
    r: &mut Reader<'_>,
    value: &MarkedYaml<'_>,
    scheme: Scheme,
    strategy: &str,
) -> Vec<Vec<HostSpec>> {
    let YamlData::Sequence(groups) = &value.data else {
        r.error(value, format!("`groups` must be a list of groups, found {}", kind(value)));
        return Vec::new();
    };
    if groups.len() > MAX_GROUPS {
        r.error(
            value,
            format!("strategy `{strategy}` has {} groups; at most {MAX_GROUPS}", groups.len()),
        );
    }
    let mut out = Vec::new();
    for group in groups {
        let YamlData::Sequence(hosts) = &group.data else {
            r.error(group, format!("a group must be a list of hosts, found {}", kind(group)));
            continue;
        };
        out.push(hosts.iter().filter_map(|h| host(r, h, scheme)).collect());
    }
    out
}

fn host(r: &mut Reader<'_>, node: &MarkedYaml<'_>, scheme: Scheme) -> Option<HostSpec> {
    let before = r.problems.len();
    let mut spec = HostSpec {
        host: String::new(),
        port: scheme.default_port(),
        hash_string: None,
        health_check_url: None,
        health_check_error: None,
        weight: 1.0,
        line: node.span.start.line(),
    };
    let mut protocols = None;
    for (name, key, value) in merged(r, node, "a host") {
        match name {
            "host" => spec.host = r.string(value, "`host`").unwrap_or_default(),
            "hash_string" => spec.hash_string = r.string(value, "`hash_string`"),
            "weight" => match &value.data {
                YamlData::Value(Scalar::FloatingPoint(w)) if w.into_inner() > 0.0 => {
                    spec.weight = w.into_inner();
                }
                YamlData::Value(Scalar::Integer(w)) if *w > 0 => {
                    #[expect(clippy::cast_precision_loss, reason = "a weight is small")]
                    let weight = *w as f64;
                    spec.weight = weight;
                }
                _ => r.error(value, "`weight` must be a positive number"),
            },
            "protocol" => protocols = Some(value),
            other => r.unknown(key, other, "a host", "host, protocol, weight, hash_string"),
        }
    }
    if spec.host.is_empty() && r.problems.len() == before {
        r.error(node, "a host needs `host`");
    }
    if let Some(protocols) = protocols {
        protocol(r, protocols, scheme, &mut spec);
    }
    (r.problems.len() == before).then_some(spec)
}

/// The `protocol` entry of `scheme` into `spec`: its port and health check URL.
fn protocol(r: &mut Reader<'_>, value: &MarkedYaml<'_>, scheme: Scheme, spec: &mut HostSpec) {
    let YamlData::Sequence(items) = &value.data else {
        r.error(value, format!("`protocol` must be a list, found {}", kind(value)));
        return;
    };
    let mut found = false;
    for item in items {
        let mut entry_scheme = None;
        let mut port = None;
        let mut url = None;
        for (name, key, value) in merged(r, item, "a protocol") {
            match name {
                "scheme" => match r.string(value, "`scheme`").map(|s| Scheme::parse(&s)) {
                    Some(Some(s)) => entry_scheme = Some(s),
                    Some(None) => r.error(value, "`scheme` must be `http` or `https`"),
                    None => {}
                },
                "port" => match &value.data {
                    YamlData::Value(Scalar::Integer(p)) => match u16::try_from(*p) {
                        Ok(p) if p > 0 => port = Some(p),
                        _ => r.error(value, "`port` must be from 1 to 65535"),
                    },
                    _ => r.error(value, "`port` must be from 1 to 65535"),
                },
                "health_check_url" => url = Some(value),
                other => r.unknown(key, other, "a protocol", "scheme, port, health_check_url"),
            }
        }
        let Some(entry_scheme) = entry_scheme else {
            r.error(item, "a protocol needs `scheme`");
            continue;
        };
        if entry_scheme != scheme || found {
            continue;
        }
        found = true;
        if let Some(port) = port {
            spec.port = port;
        }
        if let Some(url) = url
            && let Some(text) = r.string(url, "`health_check_url`")
        {
            match HealthUrl::parse(&text) {
                Ok(parsed) => spec.health_check_url = Some(parsed),
                Err(reason) => spec.health_check_error = Some((url.span.start.line(), reason)),
            }
        }
    }
    if !found {
        r.error(
            value,
            format!("host `{}` has no protocol for scheme {}", spec.host, scheme_name(scheme)),
        );
    }
}

/// The `failover` mapping into `f`.
fn failover(r: &mut Reader<'_>, value: &MarkedYaml<'_>, f: &mut Failover) {
    for (name, key, value) in merged(r, value, "`failover`") {
        match name {
            "max_simple_retries" => match &value.data {
                YamlData::Value(Scalar::Integer(n)) if (0..=16).contains(n) => {
                    f.max_simple_retries = u32::try_from(*n).unwrap_or(1);
                }
                _ => r.error(value, "`max_simple_retries` must be an integer from 0 to 16"),
            },
            // ATS's retries with a "unavailable server" response code: counted as simple ones.
            "max_unavailable_retries" => {
                if !matches!(&value.data, YamlData::Value(Scalar::Integer(n)) if (0..=16).contains(n))
                {
                    r.error(value, "`max_unavailable_retries` must be an integer from 0 to 16");
                }
            }
            "ring_mode" => match r.string(value, "`ring_mode`").as_deref() {
                Some("exhaust_ring") => f.ring_mode = RingMode::ExhaustRing,
                Some("alternate_ring") => f.ring_mode = RingMode::AlternateRing,
                Some("peering_ring") => r.error(
                    value,
                    "ring_mode `peering_ring` is for peer caches; hookyard has no cache",
                ),
                Some(other) => r.error(
                    value,
                    format!(
                        "unknown ring_mode `{other}` (expected exhaust_ring or alternate_ring)"
                    ),
                ),
                None => {}
            },
            "response_codes" | "markdown_codes" => {
                let YamlData::Sequence(codes) = &value.data else {
                    r.error(value, format!("`{name}` must be a list of status codes"));
                    continue;
                };
                for code in codes {
                    match &code.data {
                        YamlData::Value(Scalar::Integer(c)) if (300..600).contains(c) => {
                            if name == "response_codes" {
                                f.response_codes.push(u16::try_from(*c).unwrap_or(502));
                            }
                        }
                        _ => r.error(code, "a response code must be an integer from 300 to 599"),
                    }
                }
            }
            "health_check" => {
                let (mut passive, mut active) = (false, false);
                for check in r.strings(value, "`health_check`") {
                    match check.as_str() {
                        "passive" => passive = true,
                        "active" => active = true,
                        other => r.error(
                            value,
                            format!("unknown health check `{other}` (expected passive or active)"),
                        ),
                    }
                }
                f.passive = passive;
                f.active = active;
            }
            other => r.unknown(
                key,
                other,
                "`failover`",
                "max_simple_retries, max_unavailable_retries, ring_mode, response_codes, \
                 markdown_codes, health_check",
            ),
        }
    }
}

#[cfg(test)]
mod tests;
