//! `ssl_multicert.config`, ATS's certificate list, in its common form: one certificate entry
//! per line as `key=value` pairs (values may be double-quoted), `#` comments, blank lines.
//!
//! Keys: `ssl_cert_name` (required; a comma-separated list is several certificates for one
//! server, such as an RSA and an ECDSA one, as ATS reads it, each with its key; a file without
//! a key of its own is the chain of the certificate before it, and with one `ssl_key_name` for
//! several files the first is the certificate and the others its chain), `ssl_key_name` (one
//! key per certificate, same order; default: each key in its certificate file), `ssl_ca_name`
//! (further chain certificates), `dest_ip` (`*`: the default certificate; another address is accepted
//! with a warning, since hookyard selects certificates by SNI only). Paths are relative to the
//! configuration directory (ATS takes them from `proxy.config.ssl.server.cert.path`).

use std::path::{Path, PathBuf};

use super::Problem;
use super::tls::{CertFiles, CertSpec};

/// The keys of an entry.
const KEYS: &str = "ssl_cert_name, ssl_key_name, ssl_ca_name, dest_ip";

/// ATS keys hookyard does not serve.
const UNSUPPORTED: &[&str] =
    &["ssl_key_dialog", "ssl_ticket_enabled", "ssl_ticket_number", "ssl_ocsp_name", "action"];

/// The entries of an `ssl_multicert.config` text and its warnings; paths are taken from `dir`.
///
/// # Errors
///
/// Every problem, each with `file:line: reason`.
pub(crate) fn parse(
    file: &Path,
    dir: &Path,
    text: &str,
) -> Result<(Vec<CertSpec>, Vec<String>), Vec<Problem>> {
    let mut specs = Vec::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let content = line.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut problem = |reason: String| {
            problems.push(Problem { file: file.to_owned(), line: line_no, reason });
        };
        let mut entry = Entry::default();
        match tokens(content) {
            Ok(pairs) => {
                for (key, value) in pairs {
                    if let Err(reason) = entry.set(&key, value) {
                        problem(reason);
                    }
                }
            }
            Err(reason) => {
                problem(reason);
                continue;
            }
        }
        if let Some(addr) = entry.dest_ip.as_deref().filter(|a| *a != "*") {
            warnings.push(format!(
                "{}:{line_no}: dest_ip={addr}: hookyard selects certificates by SNI only, this \
                 entry serves its names on every address",
                file.display()
            ));
        }
        match entry.spec(file, line_no, dir) {
            Ok(spec) => specs.push(spec),
            Err(reason) => problem(reason),
        }
    }
    if problems.is_empty() { Ok((specs, warnings)) } else { Err(problems) }
}

/// One line's values, as read.
#[derive(Default)]
struct Entry {
    certs: Option<Vec<String>>,
    keys: Option<Vec<String>>,
    cas: Option<Vec<String>>,
    dest_ip: Option<String>,
}

impl Entry {
    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        let list = || value.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>();
        let slot = match key {
            "ssl_cert_name" => Some(&mut self.certs),
            "ssl_key_name" => Some(&mut self.keys),
            "ssl_ca_name" => Some(&mut self.cas),
            "dest_ip" => None,
            _ if UNSUPPORTED.contains(&key) => {
                return Err(format!("`{key}` is not supported by hookyard"));
            }
            _ => return Err(format!("unknown key `{key}` (expected {KEYS})")),
        };
        let taken = match slot {
            Some(slot) => slot.replace(list()).is_some(),
            None => self.dest_ip.replace(value.clone()).is_some(),
        };
        if taken {
            return Err(format!("`{key}` given twice"));
        }
        if value.is_empty() || list().iter().any(String::is_empty) {
            return Err(format!("`{key}` has an empty value"));
        }
        Ok(())
    }

    fn spec(self, file: &Path, line: usize, dir: &Path) -> Result<CertSpec, String> {
        let mut certs = self.certs.ok_or("an entry needs `ssl_cert_name`")?;
        let path = |name: String| -> PathBuf { dir.join(name) };
        let mut extra = Vec::new();
        let keys: Vec<Option<PathBuf>> = match self.keys {
            None => certs.iter().map(|_| None).collect(),
            Some(keys) if keys.len() == certs.len() => {
                keys.into_iter().map(path).map(Some).collect()
            }
            // One key for several files: the first is the certificate, the others its chain.
            Some(mut keys) if keys.len() == 1 => {
                extra.extend(certs.drain(1..).map(path));
                vec![keys.pop().map(path)]
            }
            Some(keys) => {
                return Err(format!(
                    "`ssl_key_name` names {} keys for {} certificates",
                    keys.len(),
                    certs.len()
                ));
            }
        };
        let pairs = certs
            .into_iter()
            .zip(keys)
            .map(|(cert, key)| CertFiles { cert: path(cert), key })
            .collect();
        Ok(CertSpec {
            file: file.to_owned(),
            line,
            pairs,
            extra: extra
                .into_iter()
                .chain(self.cas.unwrap_or_default().into_iter().map(path))
                .collect(),
            names: Vec::new(),
            default: self.dest_ip.as_deref() == Some("*"),
        })
    }
}

/// The `key=value` pairs of a line, up to a `#` that starts a word (a comment); a value may be
/// double-quoted (then it may hold spaces and `#`).
fn tokens(line: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() && !rest.starts_with('#') {
        let Some((key, after)) = rest.split_once('=') else {
            let word = rest.split_whitespace().next().unwrap_or(rest);
            return Err(format!("`{word}` is not a key=value pair"));
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            let word = key.split_whitespace().next().unwrap_or(key);
            return Err(format!("`{word}` is not a key=value pair"));
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let (value, after) =
                    quoted.split_once('"').ok_or(format!("`{key}`: unterminated quote"))?;
                if !after.is_empty() && !after.starts_with(|c: char| c.is_whitespace() || c == '#')
                {
                    return Err(format!("`{key}`: text after the closing quote"));
                }
                (value, after)
            }
            None => after.split_at(after.find(char::is_whitespace).unwrap_or(after.len())),
        };
        pairs.push((key.to_owned(), value.to_owned()));
        rest = after.trim_start();
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<(Vec<CertSpec>, Vec<String>), Vec<String>> {
        parse(Path::new("/c/ssl_multicert.config"), Path::new("/c"), text)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn entries_with_their_lines() {
        let (specs, warnings) = parse_text(
            "# certificates\n\nssl_cert_name=a.pem\n\
             dest_ip=* ssl_cert_name=\"rsa.pem,ec.pem\" ssl_key_name=rsa.key,ec.key  # both\n\
             ssl_cert_name=b.pem ssl_ca_name=/etc/ca/int.pem dest_ip=10.0.0.1\n\
             ssl_cert_name=\"c#1.pem\"#no space needed after a quote\n\
             ssl_cert_name=leaf.pem,int.pem ssl_key_name=leaf.key ssl_ca_name=root.pem\n",
        )
        .unwrap();
        assert_eq!(specs.len(), 5);
        assert_eq!(specs[3].pairs[0].cert, PathBuf::from("/c/c#1.pem"));
        // One key for two files: the second is the first's chain, before `ssl_ca_name`'s.
        assert_eq!(
            specs[4].pairs,
            [CertFiles { cert: "/c/leaf.pem".into(), key: Some("/c/leaf.key".into()) }]
        );
        assert_eq!(specs[4].extra, [PathBuf::from("/c/int.pem"), PathBuf::from("/c/root.pem")]);
        assert_eq!((specs[0].line, specs[0].default), (3, false));
        assert_eq!(specs[0].pairs, [CertFiles { cert: "/c/a.pem".into(), key: None }]);
        assert_eq!((specs[1].line, specs[1].default), (4, true));
        assert_eq!(
            specs[1].pairs,
            [
                CertFiles { cert: "/c/rsa.pem".into(), key: Some("/c/rsa.key".into()) },
                CertFiles { cert: "/c/ec.pem".into(), key: Some("/c/ec.key".into()) },
            ]
        );
        assert_eq!(specs[2].extra, [PathBuf::from("/etc/ca/int.pem")]);
        assert!(!specs[2].default);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("/c/ssl_multicert.config:5: dest_ip=10.0.0.1"));
    }

    #[test]
    fn every_problem_with_its_line() {
        let errors = parse_text(
            "ssl_key_name=a.key\nssl_cert_name=a.pem bogus=1\nssl_cert_name=a.pem \
             ssl_ticket_enabled=0\nssl_cert_name=a.pem,b.pem,c.pem ssl_key_name=a.key,b.key\n\
             ssl_cert_name\nssl_cert_name=\"a.pem\nssl_cert_name=a.pem ssl_cert_name=b.pem\n\
             ssl_cert_name=a.pem,\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/ssl_multicert.config:1: an entry needs `ssl_cert_name`",
                "/c/ssl_multicert.config:2: unknown key `bogus` (expected ssl_cert_name, ssl_key_name, ssl_ca_name, dest_ip)",
                "/c/ssl_multicert.config:3: `ssl_ticket_enabled` is not supported by hookyard",
                "/c/ssl_multicert.config:4: `ssl_key_name` names 2 keys for 3 certificates",
                "/c/ssl_multicert.config:5: `ssl_cert_name` is not a key=value pair",
                "/c/ssl_multicert.config:6: `ssl_cert_name`: unterminated quote",
                "/c/ssl_multicert.config:7: `ssl_cert_name` given twice",
                "/c/ssl_multicert.config:8: `ssl_cert_name` has an empty value",
            ]
        );
    }
}
