//! Parsing helpers and a request builder.

use std::path::Path;

use hookyard_remap::{Remap, Request, Rules};

pub(crate) fn rules(text: &str) -> Rules {
    Rules::parse(Path::new("/etc/hookyard/remap.config"), text).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn errors(text: &str) -> Vec<String> {
    let err = Rules::parse(Path::new("remap.config"), text)
        .expect_err("the configuration must be refused");
    err.0.iter().map(ToString::to_string).collect()
}

/// Parses `http://host[:port]/path?query` into a request arriving on port 8080.
pub(crate) fn request(url: &str) -> Request<'_> {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse().unwrap())),
        None => (authority, None),
    };
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    Request { scheme, host, port, path, query, recv_port: Some(8080), http10: false }
}

/// Where a request goes: `map <url>`, `redirect <status> <url>`, or `404`.
pub(crate) fn outcome(rules: &Rules, request: &Request<'_>) -> String {
    match rules.remap(request) {
        Remap::Map { target, .. } => format!("map {target}"),
        Remap::Redirect { status, location, .. } => format!("redirect {status} {location}"),
        Remap::NotFound => "404".into(),
    }
}

pub(crate) fn go(rules: &Rules, url: &str) -> String {
    outcome(rules, &request(url))
}
