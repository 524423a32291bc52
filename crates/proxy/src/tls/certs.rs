//! Certificates loaded for serving: PEM chains and keys read and matched, and the SNI
//! [`Resolver`] a handshake asks for its certificate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::x509::{self, Facts};
use crate::config::{CertFiles, CertSpec, Problem};

/// The certificates of one configuration, and what `hookyard check` finds wrong with them
/// beyond what refuses a load.
#[derive(Debug, Default)]
pub(crate) struct Certs {
    resolver: Arc<Resolver>,
    findings: Vec<Problem>,
    count: usize,
    /// Every certificate, key and chain file read.
    files: Vec<PathBuf>,
}

impl Certs {
    /// Reads and matches every certificate of `specs`, collecting every problem; validity
    /// periods are compared with the current time.
    pub(crate) fn load(
        specs: &[CertSpec],
        provider: &CryptoProvider,
    ) -> Result<Certs, Vec<Problem>> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let mut problems = Vec::new();
        let mut findings = Vec::new();
        let mut resolver = Resolver::default();
        let mut count = 0;
        for spec in specs {
            let problem =
                |reason: String| Problem { file: spec.file.clone(), line: spec.line, reason };
            let mut keys = Vec::new();
            let mut names = Vec::new();
            for (pair, chain) in groups(&spec.pairs) {
                let chain: Vec<&Path> =
                    chain.into_iter().chain(spec.extra.iter().map(PathBuf::as_path)).collect();
                match certified(pair, &chain, provider) {
                    Ok((key, facts)) => {
                        findings.extend(validity(&pair.cert, &facts, now).map(problem));
                        names.extend(facts.names.iter().cloned());
                        if !spec.names.is_empty() {
                            let uncovered = spec.names.iter().filter(|n| !covers(&facts.names, n));
                            findings.extend(uncovered.map(|name| {
                                problem(format!(
                                    "SNI name `{name}` is not covered by {} (it is for {})",
                                    pair.cert.display(),
                                    list(&facts.names)
                                ))
                            }));
                        }
                        keys.push(Arc::new(key));
                    }
                    Err(reason) => problems.push(problem(reason)),
                }
            }
            if keys.is_empty() {
                continue;
            }
            count += keys.len();
            let served = if spec.names.is_empty() { names } else { spec.names.clone() };
            resolver.add(&served, &Arc::new(keys), spec.default);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let files = specs.iter().flat_map(CertSpec::files).map(Path::to_owned).collect();
        Ok(Certs { resolver: Arc::new(resolver), findings, count, files })
    }

    /// The resolver handshakes ask.
    pub(crate) fn resolver(&self) -> Arc<Resolver> {
        self.resolver.clone()
    }

    /// How many certificates were loaded.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Every certificate, key and chain file read (for the watcher).
    pub(crate) fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Expired or not yet valid certificates, and configured SNI names their certificate does
    /// not cover: served anyway (an expiring certificate never blocks an unrelated reload), and
    /// failures of `hookyard check`.
    pub(crate) fn findings(&self) -> &[Problem] {
        &self.findings
    }
}

/// An entry's certificates, each with the files of its chain: a file without a key of its own
/// (none named, none in it) after a certificate is that certificate's chain, as in
/// `ssl_cert_name=site.pem,intermediate.pem`. A file that cannot be read is its own group, for
/// its error.
fn groups(pairs: &[CertFiles]) -> Vec<(&CertFiles, Vec<&Path>)> {
    let mut groups: Vec<(&CertFiles, Vec<&Path>)> = Vec::new();
    for pair in pairs {
        match groups.last_mut() {
            Some((_, chain)) if pair.key.is_none() && !has_key(&pair.cert) => {
                chain.push(&pair.cert);
            }
            _ => groups.push((pair, Vec::new())),
        }
    }
    groups
}

/// Whether a readable PEM file holds a private key (an unreadable one counts as one, so its
/// error is reported as a certificate's).
fn has_key(file: &Path) -> bool {
    let Ok(text) = std::fs::read(file) else { return true };
    !matches!(
        PrivateKeyDer::from_pem_slice(&text),
        Err(rustls::pki_types::pem::Error::NoItemsFound)
    )
}

/// One certificate's chain and key, matched, with what it says of itself.
fn certified(
    pair: &CertFiles,
    extra: &[&Path],
    provider: &CryptoProvider,
) -> Result<(CertifiedKey, Facts), String> {
    let mut chain = certificates(&pair.cert)?;
    for file in extra {
        chain.extend(certificates(file)?);
    }
    let key_file = pair.key.as_deref().unwrap_or(&pair.cert);
    let key_text = read(key_file)?;
    let key = match PrivateKeyDer::from_pem_slice(&key_text) {
        Ok(key) => key,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            return Err(format!("{}: no private key in the file", key_file.display()));
        }
        Err(e) => return Err(format!("{}: bad PEM: {e}", key_file.display())),
    };
    let facts = x509::facts(&chain[0])
        .map_err(|e| format!("{}: not a valid certificate: {e}", pair.cert.display()))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("{}: unusable private key: {e}", key_file.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok((certified, facts)),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(format!(
                "{}: the private key does not match the certificate {}",
                key_file.display(),
                pair.cert.display()
            ))
        }
        Err(e) => Err(format!("{}: {e}", pair.cert.display())),
    }
}

/// The certificates of a PEM file, in order; at least one.
fn certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = read(file)?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: bad PEM: {e}", file.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in the file", file.display()));
    }
    Ok(chain)
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))
}

/// What is wrong with a certificate's validity period at `now`, if anything.
fn validity(file: &Path, facts: &Facts, now: i64) -> Option<String> {
    if facts.not_after < now {
        Some(format!("{}: the certificate expired {}", file.display(), date(facts.not_after)))
    } else if facts.not_before > now {
        Some(format!(
            "{}: the certificate is not valid before {}",
            file.display(),
            date(facts.not_before)
        ))
    } else {
        None
    }
}

/// A UTC date and time of seconds since the epoch, as `2025-01-31 12:00:00 UTC`.
fn date(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn list(names: &[String]) -> String {
    if names.is_empty() { "no DNS name".to_owned() } else { names.join(", ") }
}

/// Whether a certificate for `names` is valid for `name` (itself possibly a `*.` wildcard): an
/// exact name, or a wildcard of one whole left-most label.
fn covers(names: &[String], name: &str) -> bool {
    names.iter().any(|pattern| {
        pattern == name
            || pattern.strip_prefix("*.").is_some_and(|parent| {
                name.split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent)
            })
    })
}

/// The certificates of one entry: several when it has one per key type.
type Keys = Arc<Vec<Arc<CertifiedKey>>>;

/// Chooses a handshake's certificate by its SNI name: an exact name first, then a `*.`
/// wildcard for the name's parent domain (one label, as browsers match), else the default.
/// Among an entry's certificates, the first whose key signs with a scheme the client offers.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    exact: HashMap<String, Keys>,
    /// By the parent domain of `*.parent`.
    wildcard: HashMap<String, Keys>,
    default: Option<Keys>,
    /// Whether `default` was configured as such (else it is the first entry's).
    explicit_default: bool,
}

impl Resolver {
    /// Serves `keys` for `names` (the first entry naming a name keeps it); as the default when
    /// `default`, or when nothing is the default yet.
    fn add(&mut self, names: &[String], keys: &Keys, default: bool) {
        for name in names {
            let (map, key) = match name.strip_prefix("*.") {
                Some(parent) => (&mut self.wildcard, parent),
                None => (&mut self.exact, name.as_str()),
            };
            map.entry(key.to_owned()).or_insert_with(|| keys.clone());
        }
        // The first entry stands in until one is configured as the default; the first of
        // those stays.
        if (default && !self.explicit_default) || self.default.is_none() {
            self.default = Some(keys.clone());
            self.explicit_default |= default;
        }
    }

    /// The certificates for SNI `name`.
    fn lookup(&self, name: Option<&str>) -> Option<&Keys> {
        let Some(name) = name else { return self.default.as_ref() };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(keys) = self.exact.get(&name) {
            return Some(keys);
        }
        let parent = name.split_once('.').map(|(_, parent)| parent);
        parent.and_then(|p| self.wildcard.get(p)).or(self.default.as_ref())
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let keys = self.lookup(hello.server_name())?;
        let schemes = hello.signature_schemes();
        keys.iter().find(|k| k.key.choose_scheme(schemes).is_some()).or(keys.first()).cloned()
    }
}

#[cfg(test)]
mod tests;
