//! The URLs of remap rules (`FROM` and `TO`) and of requests.

use std::fmt;

/// A URL of a rule: scheme, host, optional explicit port, and path (without its leading `/`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RuleUrl {
    /// The scheme, lower-cased (`http`, `https`, `ws`, `wss`, `tunnel`, `file`, `http+unix`,
    /// `https+unix`).
    pub scheme: String,
    /// The host: lower-cased in a `FROM` URL, as written in a `TO` URL; empty for a host-less
    /// `FROM` (`map / ...`).
    pub host: String,
    /// The port as written, if written.
    pub port: Option<u16>,
    /// The path prefix, without the leading `/`.
    pub path: String,
}

/// The default port of a scheme (0 when it has none, as for Unix domain sockets).
pub fn default_port(scheme: &str) -> u16 {
    match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => 0,
    }
}

impl RuleUrl {
    /// The port: as written, else the scheme's default.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or_else(|| default_port(&self.scheme))
    }

    /// Parses a rule's `FROM`: `scheme://host[:port][/path]`, or `/path` for a host-less rule
    /// (scheme `http`). The host is lower-cased.
    pub(crate) fn parse_from(text: &str) -> Result<RuleUrl, String> {
        if let Some(path) = text.strip_prefix('/') {
            return Ok(RuleUrl {
                scheme: "http".into(),
                host: String::new(),
                port: None,
                path: path.into(),
            });
        }
        let mut url =
            RuleUrl::parse(text).map_err(|why| format!("malformed From URL `{text}`: {why}"))?;
        url.host = url.host.to_ascii_lowercase();
        Ok(url)
    }

    /// Parses a rule's `TO`: `scheme://host[:port][/path]`; it must have a host.
    pub(crate) fn parse_to(text: &str) -> Result<RuleUrl, String> {
        let url =
            RuleUrl::parse(text).map_err(|why| format!("malformed To URL `{text}`: {why}"))?;
        if url.host.is_empty() {
            return Err("the remap destinations require a hostname".into());
        }
        Ok(url)
    }

    fn parse(text: &str) -> Result<RuleUrl, String> {
        let (scheme, rest) =
            text.split_once("://").ok_or("no scheme (expected scheme://host/...)")?;
        if scheme.is_empty() {
            return Err("empty scheme".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash + 1..]),
            None => (rest, ""),
        };
        let (host, port) = split_port(authority)?;
        Ok(RuleUrl {
            scheme: scheme.to_ascii_lowercase(),
            host: host.into(),
            port,
            path: path.into(),
        })
    }
}

/// Splits `host[:port]` (or `[v6]:port`); a port must be a number from 1 to 65535.
pub(crate) fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or("unterminated IPv6 address")?;
        let after = &v6[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected `{after}` after the IPv6 address")),
        };
        (&authority[..end + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                (host, Some(port))
            }
            Some((_, "")) => return Err("empty port".into()),
            _ => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("invalid port `{port}`")),
            Ok(port) => Some(port),
        },
    };
    Ok((host, port))
}

impl fmt::Display for RuleUrl {
    /// The canonical form ATS gives remap plugins: `scheme://host[:port]/path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.is_empty() {
            return write!(f, "/{}", self.path);
        }
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "/{}", self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_urls_parse_and_lower_case_the_host() {
        let url = RuleUrl::parse_from("HTTP://WWW.X.Com:8080/Path/A").unwrap();
        assert_eq!(
            url,
            RuleUrl {
                scheme: "http".into(),
                host: "www.x.com".into(),
                port: Some(8080),
                path: "Path/A".into()
            }
        );
        assert_eq!(url.to_string(), "http://www.x.com:8080/Path/A");
        let bare = RuleUrl::parse_from("http://www.x.com").unwrap();
        assert_eq!((bare.path.as_str(), bare.effective_port()), ("", 80));
        assert_eq!(bare.to_string(), "http://www.x.com/");
        let relative = RuleUrl::parse_from("/stuff").unwrap();
        assert_eq!((relative.host.as_str(), relative.path.as_str()), ("", "stuff"));
        let v6 = RuleUrl::parse_from("https://[::1]:8443/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port, v6.effective_port()), ("[::1]", Some(8443), 8443));
    }

    #[test]
    fn bad_urls_say_why() {
        assert!(RuleUrl::parse_from("www.x.com/").unwrap_err().contains("no scheme"));
        assert!(
            RuleUrl::parse_from("http://x:99999/").unwrap_err().contains("invalid port `99999`")
        );
        assert!(RuleUrl::parse_from("http://x:/").unwrap_err().contains("empty port"));
        assert_eq!(
            RuleUrl::parse_to("http:///x").unwrap_err(),
            "the remap destinations require a hostname"
        );
    }
}
