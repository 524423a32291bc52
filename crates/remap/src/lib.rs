//! ATS-compatible `remap.config`: parsing, matching and URL rewriting.
//!
//! [`Rules::load`] reads a `remap.config` (with its `.include`s) as Apache Traffic Server 9.2
//! does — `map`, `reverse_map`, `redirect`, `redirect_temporary`, `map_with_recv_port`,
//! `regex_` rules, named and inline ACL filters, `@plugin=` chains — and reports every problem as
//! `file:line: reason` in one pass. [`Rules::remap`] finds the rule for a request the way ATS's
//! code does: `map_with_recv_port` rules first by the port the connection arrived on, then maps
//! by host (the earliest matching rule in the file wins, not the longest prefix), host-less maps
//! as a fallback, then temporary and permanent redirects; the winner rewrites the URL.
//! [`Rules::reverse`] rewrites an origin's `Location` with `reverse_map` rules.
//!
//! Where the ATS documentation and its code disagree, this crate follows the code (see
//! [`Rules::remap`] for the path rule).
//!
//! [`Generations`] adds the remap plugins: each `@plugin=` of a rule gets an instance of its
//! plugin in each configuration generation, with the whole lifecycle ATS promises (init once per
//! loaded version, new_instance per occurrence, do_remap chains, delete_instance and done after
//! the generation's last transaction, pre/post reload notifications). A failed load changes
//! nothing that serves and releases all it created. A retired plugin version ([`retire`]) is
//! never handed to a later generation in dynamic mode: its file loads as a fresh version.
//!
//! This crate knows nothing of HTTP connections or the control channel. Its `unsafe` is in the
//! modules that call plugins through the C ABI (`ffi`, `plugins` for the chain, `global` for a
//! global plugin's init).
#![deny(unsafe_code)]

mod acl;
#[allow(unsafe_code, reason = "the host side of the remap plugin C ABI")]
mod ffi;
mod generation;
#[allow(unsafe_code, reason = "calls a global plugin's init through the C ABI")]
mod global;
mod lex;
mod parse;
#[allow(unsafe_code, reason = "runs plugin chains through the C ABI")]
mod plugins;
mod rule;
mod source;
mod table;
mod url;

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

pub use acl::{AclRequest, Filter, IpEntry, allowed};
pub use generation::{Generation, Generations, LoadReport, LoadedNames, PluginReport};
pub use global::{GlobalPlugin, GlobalSpec, GlobalUse};
pub use parse::{LoadError, LoadErrors};
pub use plugins::{
    Chain, ChainOutcome, HostTables, Instance, PluginError, PluginInfo, PluginTable, Plugins,
    RemapPlugin, Retire, retire,
};
pub use rule::{PluginSpec, Rule, RuleKind};
pub use source::{MAX_CONFIG_FILE_BYTES, read_config};
pub use url::{RuleUrl, default_port};

use table::{Store, request_port};

/// A parsed remap configuration, ready for look-ups.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    forward: Store,
    reverse: Store,
    permanent: Store,
    temporary: Store,
    recv_port: Store,
    warnings: Vec<LoadError>,
}

/// What [`Rules::remap`] needs to know about a request.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The request's scheme (`http`, `https`, `ws`, `wss`).
    pub scheme: &'a str,
    /// The host, from the request target or else the `Host` header, without its port (any case).
    pub host: &'a str,
    /// The port from the request target or `Host` header, if given.
    pub port: Option<u16>,
    /// The path, without its leading `/` and without the query.
    pub path: &'a str,
    /// The query, without its `?`.
    pub query: Option<&'a str>,
    /// The local port the connection was accepted on; `None` for a Unix domain socket.
    pub recv_port: Option<u16>,
    /// Whether the request is HTTP/1.0 (a temporary redirect is then a 302, not a 307).
    pub http10: bool,
}

/// Where a rule sends a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The scheme.
    pub scheme: &'a str,
    /// The host (expanded from the host regex's groups for a `regex_` rule).
    pub host: Cow<'a, str>,
    /// The port, if the rule's TO URL gave one.
    pub port: Option<u16>,
    /// The path, without its leading `/`.
    pub path: String,
    /// The request's query, unchanged.
    pub query: Option<&'a str>,
}

impl Target<'_> {
    /// `host[:port]`, for the `Host` header.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.to_string(),
        }
    }

    /// The port to connect to: the TO URL's, else the scheme's default.
    pub fn effective_port(&self) -> u16 {
        request_port(self.scheme, self.port)
    }
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "/{}", self.path)?;
        if let Some(query) = &self.query {
            write!(f, "?{query}")?;
        }
        Ok(())
    }
}

/// The outcome of a look-up.
#[derive(Clone, Debug)]
pub enum Remap<'r> {
    /// A map rule matched: forward to `target` (after its ACL filters and plugins).
    Map {
        /// The rule.
        rule: &'r Rule,
        /// The rewritten destination.
        target: Target<'r>,
    },
    /// A redirect rule matched: answer `status` with `Location: location`.
    Redirect {
        /// The rule.
        rule: &'r Rule,
        /// 301, 307, or 302 for a temporary redirect to an HTTP/1.0 client.
        status: u16,
        /// The rewritten URL.
        location: String,
    },
    /// No rule matched (answer 404).
    NotFound,
}

impl Rules {
    /// Reads `path` (a missing file is an empty configuration, as in ATS) and its `.include`s,
    /// relative to the file's directory.
    ///
    /// # Errors
    ///
    /// Every problem, each as `file:line: reason`.
    pub fn load(path: &Path) -> Result<Rules, LoadErrors> {
        let mut parser = parse::Parser::new(path.parent().unwrap_or(Path::new(".")));
        parser.file(path);
        parser.finish()
    }

    /// Parses `text` as if read from `file` (`.include`s are relative to the file's directory).
    ///
    /// # Errors
    ///
    /// Every problem, each as `file:line: reason`.
    pub fn parse(file: &Path, text: &str) -> Result<Rules, LoadErrors> {
        let mut parser = parse::Parser::new(file.parent().unwrap_or(Path::new(".")));
        parser.text(file, text);
        parser.finish()
    }

    /// Every rule, in file order (includes inlined where they appear).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Moves the `@plugin=` entries `which` accepts out of every rule's chain: per rule (by
    /// index), the entries taken, in chain order. A caller that runs some plugins itself (the
    /// proxy's WebAssembly plugins) takes them before the chains are loaded.
    pub fn take_plugins(&mut self, which: impl Fn(&PluginSpec) -> bool) -> Vec<Vec<PluginSpec>> {
        self.rules
            .iter_mut()
            .map(|rule| {
                let (taken, kept) = std::mem::take(&mut rule.plugins).into_iter().partition(&which);
                rule.plugins = kept;
                taken
            })
            .collect()
    }

    /// What was accepted but deserves a look (shadowed rules, ignored options).
    pub fn warnings(&self) -> &[LoadError] {
        &self.warnings
    }

    pub(crate) fn store_mut(&mut self, kind: RuleKind) -> &mut Store {
        match kind {
            RuleKind::Map | RuleKind::MapWithReferer => &mut self.forward,
            RuleKind::MapWithRecvPort => &mut self.recv_port,
            RuleKind::ReverseMap => &mut self.reverse,
            RuleKind::Redirect => &mut self.permanent,
            RuleKind::RedirectTemporary => &mut self.temporary,
        }
    }

    /// Finds the rule for a request and rewrites its URL, as ATS 9.2's code does.
    ///
    /// Path rule (ATS's code, which its documentation contradicts): the part of the request
    /// path after the rule's FROM path is appended to the TO path; a `/` is inserted between
    /// them only when the FROM path is empty, and one `/` is dropped when both sides have one.
    /// So `map http://h/a/b/ http://s/x/y` sends `/a/b/c` to `/x/yc`: write TO paths with a
    /// trailing `/`.
    pub fn remap<'a>(&'a self, request: &Request<'a>) -> Remap<'a> {
        let host = lower(request.host);
        let Some(rule) = self.find_lower(request, &host) else { return Remap::NotFound };
        let target = rewrite(rule, &host, request);
        let status = match (rule.kind, request.http10) {
            (RuleKind::Redirect, _) => 301,
            (RuleKind::RedirectTemporary, false) => 307,
            (RuleKind::RedirectTemporary, true) => 302,
            _ => return Remap::Map { rule, target },
        };
        Remap::Redirect { rule, status, location: target.to_string() }
    }

    /// The rule [`Rules::remap`] would apply to a request, without rewriting anything.
    pub fn find(&self, request: &Request<'_>) -> Option<&Rule> {
        self.find_lower(request, &lower(request.host))
    }

    fn find_lower(&self, request: &Request<'_>, host: &str) -> Option<&Rule> {
        let rule = |index: usize| &self.rules[index];
        if self.recv_port.len() > 0 {
            let scheme = match request.recv_port {
                Some(_) => Cow::Borrowed(request.scheme),
                None => Cow::Owned(format!("{}+unix", request.scheme)),
            };
            let port = request.recv_port.unwrap_or(0);
            if let Some(found) =
                self.recv_port.lookup(&self.rules, &scheme, host, port, request.path)
            {
                return Some(rule(found));
            }
        }
        let port = request_port(request.scheme, request.port);
        let (scheme, path) = (request.scheme, request.path);
        if let Some(found) = self.forward.lookup(&self.rules, scheme, host, port, path) {
            return Some(rule(found));
        }
        if !host.is_empty()
            && self.forward.has_hostless()
            && let Some(found) = self.forward.lookup(&self.rules, scheme, "", port, path)
        {
            return Some(rule(found));
        }
        [&self.temporary, &self.permanent]
            .into_iter()
            .find_map(|store| store.lookup(&self.rules, scheme, host, port, path))
            .map(rule)
    }

    /// Whether there is any `reverse_map` rule (else [`Rules::reverse`] never rewrites).
    pub fn has_reverse(&self) -> bool {
        self.reverse.len() > 0
    }

    /// Rewrites an origin's absolute URL (from `Location`, `Content-Location`, `URI` or
    /// `Destination`) with the first matching `reverse_map` rule; `None` when none matches.
    pub fn reverse(&self, url: &str) -> Option<String> {
        if self.reverse.len() == 0 {
            return None;
        }
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path_query) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash + 1..]),
            None => (rest, ""),
        };
        let (host, port) = url::split_port(authority).ok()?;
        let (path, query) = match path_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_query, None),
        };
        let request =
            Request { scheme: &scheme, host, port, path, query, recv_port: None, http10: false };
        let host = lower(host);
        let found =
            self.reverse.lookup(&self.rules, &scheme, &host, request_port(&scheme, port), path)?;
        Some(rewrite(&self.rules[found], &host, &request).to_string())
    }
}

fn lower(host: &str) -> Cow<'_, str> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// Applies a rule to a request: TO's scheme, host (with `regex_` captures) and port, and the
/// path as ATS's `url_rewrite_remap_request` builds it.
fn rewrite<'a>(rule: &'a Rule, host: &str, request: &Request<'a>) -> Target<'a> {
    let to_host = match &rule.host_regex {
        Some(host_regex) => Cow::Owned(expand(&rule.to.host, host_regex.regex.captures(host))),
        None => Cow::Borrowed(rule.to.host.as_str()),
    };
    let (from, to, path) = (rule.from.path.as_str(), rule.to.path.as_str(), request.path);
    let mut new_path = String::with_capacity(to.len() + path.len());
    new_path.push_str(to);
    if from.is_empty() && !path.is_empty() && !to.is_empty() && !to.ends_with('/') {
        new_path.push('/');
    }
    let mut skip = from.len().min(path.len());
    if path.as_bytes().get(from.len()) == Some(&b'/') && to.ends_with('/') {
        skip += 1;
    }
    new_path.push_str(path.get(skip..).unwrap_or(""));
    Target {
        scheme: &rule.to.scheme,
        host: to_host,
        port: rule.to.port,
        path: new_path,
        query: request.query,
    }
}

/// Replaces `$N` in a TO host with the host regex's groups.
fn expand(template: &str, captures: Option<regex::Captures<'_>>) -> String {
    let Some(captures) = captures else { return template.to_owned() };
    let mut out = String::with_capacity(template.len() + 16);
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let group = usize::from(bytes[i + 1] - b'0');
            out.push_str(captures.get(group).map_or("", |m| m.as_str()));
            i += 2;
        } else {
            let next = template[i..]
                .find('$')
                .map_or(template.len(), |n| if n == 0 { i + 1 } else { i + n });
            out.push_str(&template[i..next]);
            i = next;
        }
    }
    out
}
