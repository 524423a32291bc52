//! Remap rules as parsed.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;

use crate::acl::Filter;
use crate::url::RuleUrl;

/// The kind of a remap rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `map`: requests for FROM go to TO.
    Map,
    /// `map_with_referer` (or `map` with `@map_with_referer`): a map whose Referer checks are
    /// off, as ATS's are by default (`proxy.config.http.referer_filter=0`).
    MapWithReferer,
    /// `map_with_recv_port`: matched by the port the connection arrived on, before other maps.
    MapWithRecvPort,
    /// `reverse_map`: rewrites the origin's `Location` (and similar) headers back.
    ReverseMap,
    /// `redirect`: answers 301 with the rewritten URL.
    Redirect,
    /// `redirect_temporary`: answers 307 (302 to HTTP/1.0 clients).
    RedirectTemporary,
}

impl RuleKind {
    /// Parses a rule type, case-insensitively, without its `regex_` prefix.
    pub(crate) fn parse(text: &str) -> Option<RuleKind> {
        Some(match text.to_ascii_lowercase().as_str() {
            "map" => RuleKind::Map,
            "map_with_referer" => RuleKind::MapWithReferer,
            "map_with_recv_port" => RuleKind::MapWithRecvPort,
            "reverse_map" => RuleKind::ReverseMap,
            "redirect" => RuleKind::Redirect,
            "redirect_temporary" => RuleKind::RedirectTemporary,
            _ => return None,
        })
    }

    /// The keyword, as in remap.config.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Map => "map",
            RuleKind::MapWithReferer => "map_with_referer",
            RuleKind::MapWithRecvPort => "map_with_recv_port",
            RuleKind::ReverseMap => "reverse_map",
            RuleKind::Redirect => "redirect",
            RuleKind::RedirectTemporary => "redirect_temporary",
        }
    }

    /// Whether requests are forwarded by rules of this kind (plugins run only on those).
    pub fn is_forward(self) -> bool {
        matches!(self, RuleKind::Map | RuleKind::MapWithReferer | RuleKind::MapWithRecvPort)
    }
}

/// One `@plugin=` of a rule, with its `@pparam=` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginSpec {
    /// The plugin path as written.
    pub path: String,
    /// Its parameters, in order.
    pub params: Vec<String>,
}

/// A compiled `regex_` host and the `$N` markers of the TO host.
#[derive(Clone, Debug)]
pub(crate) struct HostRegex {
    pub(crate) regex: Regex,
}

/// One remap rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its kind.
    pub kind: RuleKind,
    /// Whether the FROM host is a regular expression (`regex_` prefix).
    pub regex: bool,
    /// The FROM URL.
    pub from: RuleUrl,
    /// The TO URL.
    pub to: RuleUrl,
    /// ACL filters: the line's own first, then the named filters active at the line.
    pub filters: Vec<Arc<Filter>>,
    /// The remap plugin chain, in order.
    pub plugins: Vec<PluginSpec>,
    /// `@mapid=`.
    pub map_id: Option<i64>,
    /// `@origin_tls_verify=`: whether an `https://` origin's certificate is verified for this
    /// rule; `None` leaves it to the proxy's default (`origin_tls.verify` in `hookyard.yaml`).
    pub origin_tls_verify: Option<bool>,
    /// `@strategy=`: the name of the strategy (of `strategies.yaml`) that picks the host this
    /// rule's requests go to; the TO URL then gives their `Host` and, with `go_direct`, where
    /// they go when every host of the strategy is down.
    pub strategy: Option<String>,
    /// The file the rule is in.
    pub file: Arc<Path>,
    /// Its line (the first physical line of the logical line).
    pub line: usize,
    /// Its position among the rules of its kind's store (file order).
    pub rank: usize,
    /// Its position among all rules ([`Rules::rules`](crate::Rules::rules)).
    pub index: usize,
    pub(crate) host_regex: Option<HostRegex>,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.regex {
            f.write_str("regex_")?;
        }
        write!(f, "{} {} {}", self.kind.name(), self.from, self.to)?;
        for plugin in &self.plugins {
            write!(f, " @plugin={}", plugin.path)?;
            for param in &plugin.params {
                write!(f, " @pparam={param}")?;
            }
        }
        if let Some(strategy) = &self.strategy {
            write!(f, " @strategy={strategy}")?;
        }
        if let Some(verify) = self.origin_tls_verify {
            write!(f, " @origin_tls_verify={}", if verify { "on" } else { "off" })?;
        }
        Ok(())
    }
}
