//! ACL filters of remap rules: `@action`, `@method`, `@src_ip`, `@in_ip`, `@internal`, inline or
//! named (`.definefilter`), evaluated as ATS 9.2 does.

use std::fmt;
use std::net::IpAddr;

/// One ACL filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// The name of a named filter.
    pub name: Option<String>,
    /// Whether a matching request is allowed (`@action=allow`) or denied (`deny`); a request
    /// that does not match gets the opposite. Defaults to allow.
    pub allow: bool,
    /// Whether an `@action` was given.
    pub action_set: bool,
    /// Methods the filter applies to (upper-cased; empty: every method).
    pub methods: Vec<String>,
    /// Client addresses the filter applies to (empty: every address).
    pub src_ip: Vec<IpEntry>,
    /// Local (accepting) addresses the filter applies to (empty: every address).
    pub in_ip: Vec<IpEntry>,
    /// The filter applies to internal (plugin-generated) requests only.
    pub internal: bool,
}

/// One `@src_ip=` or `@in_ip=` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpEntry {
    /// `~`: the entry matches addresses outside the range.
    pub invert: bool,
    /// The first address of the range.
    pub first: IpAddr,
    /// The last address of the range.
    pub last: IpAddr,
}

impl IpEntry {
    /// Parses `[~](all | ADDR | ADDR/BITS | ADDR-ADDR)`.
    pub(crate) fn parse(text: &str) -> Result<IpEntry, String> {
        let (invert, range) = match text.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let bad = || format!("invalid IP address range `{text}`");
        let (first, last) = if range.eq_ignore_ascii_case("all") {
            (IpAddr::from([0u8; 16]), IpAddr::from([0xffu8; 16]))
        } else if let Some((addr, bits)) = range.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let bits: u32 = bits.parse().map_err(|_| bad())?;
            cidr(addr, bits).ok_or_else(bad)?
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b): (IpAddr, IpAddr) =
                (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if a.is_ipv4() != b.is_ipv4() || to_u128(a) > to_u128(b) {
                return Err(bad());
            }
            (a, b)
        } else {
            let addr: IpAddr = range.parse().map_err(|_| bad())?;
            (addr, addr)
        };
        Ok(IpEntry { invert, first, last })
    }

    fn contains(&self, addr: IpAddr) -> bool {
        let all = self.first == IpAddr::from([0u8; 16]) && self.last == IpAddr::from([0xffu8; 16]);
        let inside = all
            || (addr.is_ipv4() == self.first.is_ipv4()
                && (to_u128(self.first)..=to_u128(self.last)).contains(&to_u128(addr)));
        inside != self.invert
    }
}

fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn cidr(addr: IpAddr, bits: u32) -> Option<(IpAddr, IpAddr)> {
    match addr {
        IpAddr::V4(v4) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            let base = u32::from(v4) & mask;
            Some((IpAddr::from(base.to_be_bytes()), IpAddr::from((base | !mask).to_be_bytes())))
        }
        IpAddr::V6(v6) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            let base = u128::from(v6) & mask;
            Some((IpAddr::from(base.to_be_bytes()), IpAddr::from((base | !mask).to_be_bytes())))
        }
        _ => None,
    }
}

/// What ACL filtering needs to know about a request.
#[derive(Clone, Copy, Debug)]
pub struct AclRequest<'a> {
    /// The request method.
    pub method: &'a str,
    /// The client's address.
    pub client: IpAddr,
    /// The local address the connection was accepted on.
    pub local: IpAddr,
    /// Whether a plugin generated the request.
    pub internal: bool,
}

impl Filter {
    /// Whether the filter matches the request.
    fn matches(&self, request: &AclRequest<'_>) -> bool {
        if self.internal {
            return request.internal;
        }
        let method = self.methods.is_empty()
            || self.methods.iter().any(|m| m.eq_ignore_ascii_case(request.method));
        let src = self.src_ip.is_empty() || self.src_ip.iter().any(|e| e.contains(request.client));
        let local = self.in_ip.is_empty() || self.in_ip.iter().any(|e| e.contains(request.local));
        method && src && local
    }
}

/// Whether the filters of a rule allow the request (ATS 9.2's legacy policy): each filter in
/// turn sets "allowed" to its action when it matches and to the opposite when it does not; the
/// first denial is final.
pub fn allowed(filters: &[std::sync::Arc<Filter>], request: &AclRequest<'_>) -> bool {
    let mut allowed = true;
    for filter in filters {
        allowed = if filter.matches(request) { filter.allow } else { !filter.allow };
        if !allowed {
            break;
        }
    }
    allowed
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@action={}", if self.allow { "allow" } else { "deny" })?;
        for m in &self.methods {
            write!(f, " @method={m}")?;
        }
        if self.internal {
            f.write_str(" @internal")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn req(method: &str, client: &str) -> AclRequest<'static> {
        AclRequest {
            method: Box::leak(method.to_owned().into_boxed_str()),
            client: client.parse().unwrap(),
            local: "127.0.0.1".parse().unwrap(),
            internal: false,
        }
    }

    #[test]
    fn ranges_parse_and_match() {
        let e = IpEntry::parse("10.0.0.0/8").unwrap();
        assert!(e.contains("10.200.3.4".parse().unwrap()));
        assert!(!e.contains("11.0.0.1".parse().unwrap()));
        let e = IpEntry::parse("~192.168.1.10-192.168.1.20").unwrap();
        assert!(!e.contains("192.168.1.15".parse().unwrap()));
        assert!(e.contains("192.168.1.21".parse().unwrap()));
        assert!(IpEntry::parse("all").unwrap().contains("::1".parse().unwrap()));
        assert!(IpEntry::parse("::1/200").is_err());
        assert!(IpEntry::parse("10.0.0.9-10.0.0.1").is_err());
    }

    #[test]
    fn legacy_policy_denies_on_a_matching_deny_and_on_a_missed_allow() {
        let deny_post = Arc::new(Filter {
            allow: false,
            action_set: true,
            methods: vec!["POST".into()],
            ..Filter::default()
        });
        assert!(!allowed(std::slice::from_ref(&deny_post), &req("POST", "1.2.3.4")));
        assert!(allowed(std::slice::from_ref(&deny_post), &req("GET", "1.2.3.4")));
        let allow_lan = Arc::new(Filter {
            allow: true,
            action_set: true,
            src_ip: vec![IpEntry::parse("10.0.0.0/8").unwrap()],
            ..Filter::default()
        });
        assert!(allowed(std::slice::from_ref(&allow_lan), &req("GET", "10.1.1.1")));
        assert!(!allowed(std::slice::from_ref(&allow_lan), &req("GET", "8.8.8.8")));
        assert!(!allowed(&[allow_lan, deny_post], &req("POST", "10.1.1.1")));
    }
}
