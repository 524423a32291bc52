//! `tls:` of `hookyard.yaml` (certificates and the lowest TLS version), and [`CertSpec`], one
//! certificate to load, whether `hookyard.yaml` or `ssl_multicert.config` names it.

use std::path::{Path, PathBuf};

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::Serialize;

use super::yaml::Reader;

/// The lowest TLS version a TLS listener offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

/// `tls:` of `hookyard.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsSettings {
    /// The certificates, replacing `ssl_multicert.config` when given (even empty).
    pub certificates: Option<Vec<CertSpec>>,
    /// The lowest TLS version offered.
    pub min_version: TlsVersion,
}

/// One certificate to serve, where it is configured, and for which names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertSpec {
    /// The file that configures it (`hookyard.yaml` or `ssl_multicert.config`).
    pub file: PathBuf,
    /// The line of its entry there.
    pub line: usize,
    /// The certificates (several for one server, such as an RSA and an ECDSA one: the client's
    /// signature schemes pick), each with its key.
    pub pairs: Vec<CertFiles>,
    /// PEM files of further chain certificates (`ssl_ca_name`), sent after each certificate's
    /// own chain.
    pub extra: Vec<PathBuf>,
    /// The SNI names it serves; empty: the names the certificate is for.
    pub names: Vec<String>,
    /// Whether it answers handshakes without SNI or with a name no certificate serves.
    pub default: bool,
}

/// One certificate's files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertFiles {
    /// A PEM file: the end-entity certificate, then any chain certificates.
    pub cert: PathBuf,
    /// The PEM private key; `None`: the key is in `cert`.
    pub key: Option<PathBuf>,
}

impl CertSpec {
    /// Every file this entry reads.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        let pairs = self.pairs.iter().flat_map(|p| std::iter::once(&p.cert).chain(&p.key));
        pairs.chain(&self.extra).map(PathBuf::as_path)
    }
}

/// `tls:` into `t`; relative paths are taken from `dir`.
pub(super) fn tls(r: &mut Reader<'_>, dir: &Path, value: &MarkedYaml<'_>, t: &mut TlsSettings) {
    for (name, key, value) in r.mapping(value, "`tls`") {
        match name {
            "certificates" => t.certificates = Some(certificates(r, dir, value)),
            "min_version" => match version(value) {
                Some(v) => t.min_version = v,
                None => r.error(value, "`tls.min_version` must be \"1.2\" or \"1.3\""),
            },
            other => r.unknown(key, other, "`tls`", "certificates, min_version"),
        }
    }
}

fn version(node: &MarkedYaml<'_>) -> Option<TlsVersion> {
    let text = match &node.data {
        YamlData::Value(Scalar::String(s)) => s.to_string(),
        YamlData::Value(Scalar::FloatingPoint(f)) => f.to_string(),
        _ => return None,
    };
    match text.as_str() {
        "1.2" => Some(TlsVersion::Tls12),
        "1.3" => Some(TlsVersion::Tls13),
        _ => None,
    }
}

/// `tls.certificates`: a list of `{cert, key, names, default}`; `cert` alone when the key is in
/// its file.
fn certificates(r: &mut Reader<'_>, dir: &Path, value: &MarkedYaml<'_>) -> Vec<CertSpec> {
    let YamlData::Sequence(items) = &value.data else {
        r.error(value, "`tls.certificates` must be a list of {cert, key, names, default}");
        return Vec::new();
    };
    let mut specs = Vec::new();
    for item in items {
        let mut spec = CertSpec {
            file: r.file.to_owned(),
            line: item.span.start.line(),
            pairs: Vec::new(),
            extra: Vec::new(),
            names: Vec::new(),
            default: false,
        };
        let (mut cert, mut cert_key) = (None, None);
        for (name, key, value) in r.mapping(item, "an entry of `tls.certificates`") {
            match name {
                "cert" => cert = r.string(value, "`cert`").map(|p| dir.join(p)),
                "key" => cert_key = r.string(value, "`key`").map(|p| dir.join(p)),
                "names" => {
                    spec.names =
                        r.strings(value, "`names`").iter().map(|n| n.to_ascii_lowercase()).collect()
                }
                "default" => spec.default = r.bool(value, "`default`").unwrap_or(false),
                other => r.unknown(key, other, "`tls.certificates`", "cert, key, names, default"),
            }
        }
        match cert {
            Some(cert) => {
                spec.pairs.push(CertFiles { cert, key: cert_key });
                specs.push(spec);
            }
            None => r.error(item, "an entry of `tls.certificates` needs `cert`"),
        }
    }
    specs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn parse(text: &str) -> Result<Settings, Vec<String>> {
        Settings::parse(Path::new("/c/hookyard.yaml"), Path::new("/c"), text)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn listeners_certificates_and_version() {
        let s = parse(
            "tls_listen: [127.0.0.1:8443]\ntls:\n  min_version: 1.3\n  certificates:\n    \
             - {cert: a.pem, key: /k/a.key, names: [A.test, '*.b.test']}\n    \
             - cert: d.pem\n      default: true\n",
        )
        .unwrap();
        assert_eq!(s.tls_listen, ["127.0.0.1:8443".parse().unwrap()]);
        assert_eq!(s.tls_listen_line, 1);
        assert_eq!(s.tls.min_version, TlsVersion::Tls13);
        let certs = s.tls.certificates.unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!((certs[0].line, certs[1].line), (5, 6));
        assert_eq!(
            certs[0].pairs,
            [CertFiles { cert: "/c/a.pem".into(), key: Some("/k/a.key".into()) }]
        );
        assert_eq!(certs[0].names, ["a.test", "*.b.test"]);
        assert!(!certs[0].default && certs[1].default);
        assert_eq!(certs[1].pairs[0].key, None);
        assert_eq!(parse("tls: {min_version: '1.2'}").unwrap().tls.min_version, TlsVersion::Tls12);
        assert_eq!(parse("").unwrap().tls.certificates, None);
    }

    #[test]
    fn every_problem_with_its_line() {
        let errors = parse(
            "tls_listen: [nowhere]\ntls:\n  min_version: 1.1\n  certificates:\n    - key: a.key\n    \
             - {cert: a.pem, nick: x}\n  ciphers: all\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/hookyard.yaml:1: `tls_listen`: `nowhere` is not an IP:PORT address",
                "/c/hookyard.yaml:3: `tls.min_version` must be \"1.2\" or \"1.3\"",
                "/c/hookyard.yaml:5: an entry of `tls.certificates` needs `cert`",
                "/c/hookyard.yaml:6: unknown key `nick` in `tls.certificates` (expected cert, key, names, default)",
                "/c/hookyard.yaml:7: unknown key `ciphers` in `tls` (expected certificates, min_version)",
            ]
        );
    }
}
