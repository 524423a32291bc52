//! Lookup structures: per rule store, exact hosts in a hash map, host-less rules, regex rules.
//!
//! As ATS 9.2: within a store, every rule whose path is a byte prefix of the request path
//! matches and the earliest in the file wins (not the longest prefix); regex rules are only
//! consulted when they come earlier than the hash winner.
//!
//! Layout: a host's rules sit in its hash-map value, the first one inline, so a look-up for a
//! host with one rule touches the map's slot and nothing else (an empty path prefix needs no
//! allocation).

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::rule::Rule;
use crate::url::default_port;

/// One rule's place: its scheme, port, path prefix, rank and index.
#[derive(Clone, Debug)]
struct Slot {
    scheme: u8,
    port: u16,
    rank: u32,
    rule: u32,
    path: Box<str>,
}

impl Slot {
    fn matches(&self, scheme: u8, port: u16, path: &str) -> bool {
        self.scheme == scheme && self.port == port && path.starts_with(&*self.path)
    }
}

/// The rules of one host, in rank order.
#[derive(Clone, Debug)]
struct HostRules {
    first: Slot,
    more: Vec<Slot>,
}

impl HostRules {
    fn iter(&self) -> impl Iterator<Item = &Slot> {
        std::iter::once(&self.first).chain(&self.more)
    }
}

/// The rules of one kind: `map`, `reverse_map`, `redirect`, `redirect_temporary` or
/// `map_with_recv_port`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Store {
    exact: HashMap<Box<str>, HostRules, RandomState>,
    /// Host-less rules (`map / ...`), which ignore scheme and port.
    hostless: Vec<Slot>,
    /// (rank, rule index), in rank order.
    regex: Vec<(u32, u32)>,
    len: usize,
}

/// What inserting a rule found.
pub(crate) enum Inserted {
    /// In, with no remark.
    Ok,
    /// In, but an earlier rule (index) already matches every request this one would.
    Shadowed(usize),
}

/// A small number for a scheme, so slots compare schemes without touching memory.
pub(crate) fn scheme_id(scheme: &str) -> u8 {
    match scheme {
        "http" => 0,
        "https" => 1,
        "ws" => 2,
        "wss" => 3,
        "tunnel" => 4,
        "file" => 5,
        "http+unix" => 6,
        "https+unix" => 7,
        _ => u8::MAX,
    }
}

impl Store {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn has_hostless(&self) -> bool {
        !self.hostless.is_empty()
    }

    /// Inserts rule `index`; `Err(earlier)` when an earlier rule has the same host, scheme, port
    /// and path.
    pub(crate) fn insert(&mut self, index: usize, rule: &Rule) -> Result<Inserted, usize> {
        let rank = self.len as u32;
        if rule.regex {
            self.regex.push((rank, index as u32));
            self.len += 1;
            return Ok(Inserted::Ok);
        }
        let slot = Slot {
            scheme: scheme_id(&rule.from.scheme),
            port: rule.from.effective_port(),
            rank,
            rule: index as u32,
            path: rule.from.path.as_str().into(),
        };
        let hostless = rule.from.host.is_empty();
        let same_place = |s: &Slot| hostless || (s.scheme == slot.scheme && s.port == slot.port);
        let existing: Vec<&Slot> = if hostless {
            self.hostless.iter().collect()
        } else {
            self.exact.get(rule.from.host.as_str()).map(|h| h.iter().collect()).unwrap_or_default()
        };
        if let Some(same) = existing.iter().find(|s| same_place(s) && s.path == slot.path) {
            return Err(same.rule as usize);
        }
        let shadow = existing
            .iter()
            .find(|s| same_place(s) && slot.path.starts_with(&*s.path))
            .map(|s| s.rule as usize);
        if hostless {
            self.hostless.push(slot);
        } else {
            match self.exact.get_mut(rule.from.host.as_str()) {
                Some(host) => host.more.push(slot),
                None => {
                    self.exact.insert(
                        rule.from.host.as_str().into(),
                        HostRules { first: slot, more: Vec::new() },
                    );
                }
            }
        }
        self.len += 1;
        Ok(shadow.map_or(Inserted::Ok, Inserted::Shadowed))
    }

    /// The winning rule's index for a request (host lower-cased; `""` looks up host-less rules
    /// only).
    pub(crate) fn lookup(
        &self,
        rules: &[Rule],
        scheme: &str,
        host: &str,
        port: u16,
        path: &str,
    ) -> Option<usize> {
        let id = scheme_id(scheme);
        let winner = if host.is_empty() {
            self.hostless.iter().find(|s| path.starts_with(&*s.path))
        } else {
            self.exact.get(host).and_then(|h| h.iter().find(|s| s.matches(id, port, path)))
        };
        let ceiling = winner.map_or(u32::MAX, |w| w.rank);
        for &(rank, index) in &self.regex {
            if rank >= ceiling {
                break;
            }
            let rule = &rules[index as usize];
            if rule.from.scheme == scheme
                && rule.from.effective_port() == port
                && path.starts_with(rule.from.path.as_str())
                && rule.host_regex.as_ref().is_some_and(|r| r.regex.is_match(host))
            {
                return Some(index as usize);
            }
        }
        winner.map(|w| w.rule as usize)
    }
}

/// The port a request addresses: its own, else its scheme's default.
pub(crate) fn request_port(scheme: &str, port: Option<u16>) -> u16 {
    port.unwrap_or_else(|| default_port(scheme))
}
