//! `rewrite`: a remap plugin that rewrites the request path, redirects, or answers 403, by path
//! prefix.
//!
//! ```text
//! map http://example.com/ http://origin.internal/ @plugin=rewrite.so \
//!     @pparam=deny=/admin/ @pparam=redirect=/old/:/new/ @pparam=rewrite=/v1/:/api/v1/
//! ```
//!
//! Rules are tried in order; the first whose prefix starts the request path applies:
//! - `deny=PREFIX`: answer 403 without going to the origin;
//! - `redirect=FROM:TO`: replace the prefix and redirect the client (302) to the new URL;
//! - `rewrite=FROM:TO`: replace the prefix and go on to the origin with the new path.
#![forbid(unsafe_code)]

use hookyard_sdk::{
    Error, InstanceArgs, RemapPlugin, RemapRequest, RemapStatus, Txn, Url, UrlPart,
};

#[derive(Debug, PartialEq, Eq)]
enum Rule {
    Deny(String),
    Redirect(String, String),
    Rewrite(String, String),
}

impl Rule {
    fn parse(param: &str) -> Result<Rule, Error> {
        let prefix = |p: &str| {
            if p.starts_with('/') {
                Ok(p.to_owned())
            } else {
                Err(Error::new(format_args!("`{param}`: paths start with `/`")))
            }
        };
        let pair = |arg: &str| -> Result<(String, String), Error> {
            let (from, to) = arg
                .split_once(':')
                .ok_or_else(|| Error::new(format_args!("`{param}`: expected FROM:TO")))?;
            Ok((prefix(from)?, prefix(to)?))
        };
        match param.split_once('=') {
            Some(("deny", arg)) => Ok(Rule::Deny(prefix(arg)?)),
            Some(("redirect", arg)) => pair(arg).map(|(f, t)| Rule::Redirect(f, t)),
            Some(("rewrite", arg)) => pair(arg).map(|(f, t)| Rule::Rewrite(f, t)),
            _ => Err(Error::new(format_args!(
                "unknown rule `{param}`; expected deny=PREFIX, redirect=FROM:TO or rewrite=FROM:TO"
            ))),
        }
    }

    fn prefix(&self) -> &str {
        match self {
            Rule::Deny(p) | Rule::Redirect(p, _) | Rule::Rewrite(p, _) => p,
        }
    }
}

/// The rules of one `@plugin=rewrite.so`.
struct Rewrite {
    rules: Vec<Rule>,
}

impl RemapPlugin for Rewrite {
    fn new_instance(args: &InstanceArgs<'_>) -> Result<Self, Error> {
        if args.params.is_empty() {
            return Err(Error::new("give at least one rule as @pparam="));
        }
        let rules = args.params.iter().map(|p| Rule::parse(p)).collect::<Result<_, _>>()?;
        Ok(Rewrite { rules })
    }

    fn do_remap(&self, txn: &mut Txn<'_>, request: &mut RemapRequest<'_>) -> RemapStatus {
        let Some(path) = txn.url(Url::Request, UrlPart::Path) else { return RemapStatus::NoRemap };
        let Some(rule) = self.rules.iter().find(|r| path.starts_with(r.prefix())) else {
            return RemapStatus::NoRemap;
        };
        let result = match rule {
            Rule::Deny(_) => txn.respond(403, "forbidden\n").map(|()| RemapStatus::NoRemapStop),
            Rule::Redirect(from, to) | Rule::Rewrite(from, to) => {
                let new_path = format!("{to}{}", &path[from.len()..]);
                txn.set_url(Url::Request, UrlPart::Path, &new_path).map(|()| {
                    if matches!(rule, Rule::Redirect(..)) {
                        request.set_redirect(true);
                        RemapStatus::DidRemapStop
                    } else {
                        RemapStatus::DidRemap
                    }
                })
            }
        };
        result.unwrap_or_else(|err| {
            hookyard_sdk::error!("rewrite: {err}");
            RemapStatus::Error
        })
    }
}

hookyard_sdk::plugin! {
    name: "rewrite",
    version: env!("CARGO_PKG_VERSION"),
    remap: Rewrite,
}

#[cfg(test)]
mod tests {
    use super::Rule;

    #[test]
    fn rules_parse_or_say_what_is_wrong() {
        assert_eq!(Rule::parse("deny=/admin").unwrap(), Rule::Deny("/admin".into()));
        assert_eq!(
            Rule::parse("rewrite=/a/:/b/").unwrap(),
            Rule::Rewrite("/a/".into(), "/b/".into())
        );
        assert!(Rule::parse("redirect=/a/").unwrap_err().to_string().contains("expected FROM:TO"));
        assert!(
            Rule::parse("deny=admin").unwrap_err().to_string().contains("paths start with `/`")
        );
        assert!(
            Rule::parse("drop=/x").unwrap_err().to_string().starts_with("unknown rule `drop=/x`")
        );
    }
}
