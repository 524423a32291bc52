//! `origin_tls:` of `hookyard.yaml`: how `https://` origins are verified.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use saphyr::MarkedYaml;
use serde::Serialize;

use super::yaml::Reader;

/// How the proxy verifies `https://` origins (ATS's `proxy.config.ssl.client.*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OriginTls {
    /// A PEM file of CA certificates trusted beside the system's roots (ATS's
    /// `proxy.config.ssl.client.CA.cert.filename`).
    pub ca_file: Option<PathBuf>,
    /// The certificates read from `ca_file` when the settings were loaded.
    #[serde(skip)]
    pub ca_certs: Arc<[CertificateDer<'static>]>,
    /// Whether origin certificates are verified unless a rule says otherwise
    /// (`@origin_tls_verify=`); ATS's `proxy.config.ssl.client.verify.server.policy`
    /// `ENFORCED` (true) or `DISABLED` (false).
    pub verify: bool,
}

impl Default for OriginTls {
    fn default() -> OriginTls {
        OriginTls { ca_file: None, ca_certs: Arc::new([]), verify: true }
    }
}

/// `origin_tls:` into `t`; relative paths are taken from `dir`.
pub(super) fn parse(r: &mut Reader<'_>, value: &MarkedYaml<'_>, dir: &Path, t: &mut OriginTls) {
    for (name, key, value) in r.mapping(value, "`origin_tls`") {
        match name {
            "ca_file" => {
                let Some(path) = r.string(value, "`origin_tls.ca_file`").map(|p| dir.join(p))
                else {
                    continue;
                };
                match read_ca_file(&path) {
                    Ok(certs) => t.ca_certs = certs.into(),
                    Err(reason) => r.error(value, format!("`origin_tls.ca_file`: {reason}")),
                }
                t.ca_file = Some(path);
            }
            "verify" => t.verify = r.bool(value, "`origin_tls.verify`").unwrap_or(true),
            other => r.unknown(key, other, "`origin_tls`", "ca_file, verify"),
        }
    }
}

/// The CA certificates of a PEM file: at least one, each one a trust anchor rustls accepts.
/// Only a regular file is read (a FIFO or a device would block or never end a load).
///
/// # Errors
///
/// Why the file cannot serve: unreadable, not a regular file, no certificate in it, or a
/// certificate that is not one.
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = hookyard_remap::read_config(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(text.as_bytes()) {
        let cert = cert.map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err(format!("{} has no PEM certificate", path.display()));
    }
    let mut store = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        if let Err(e) = store.add(cert.clone()) {
            return Err(format!("certificate {} of {} is unusable: {e}", i + 1, path.display()));
        }
    }
    Ok(certs)
}
