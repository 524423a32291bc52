use std::path::{Path, PathBuf};

use super::*;

/// Writes a self-signed certificate for `names` (valid from `years.0` to `years.1`) and its
/// PKCS#8 key as `stem.pem` and `stem.key`.
fn issue(dir: &Path, stem: &str, names: &[&str], years: (i32, i32)) -> CertFiles {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
    params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.join(format!("{stem}.pem")), dir.join(format!("{stem}.key")));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    CertFiles { cert: cert_path, key: Some(key_path) }
}

fn spec(line: usize, pair: CertFiles, names: &[&str], default: bool) -> CertSpec {
    CertSpec {
        file: PathBuf::from("/c/ssl_multicert.config"),
        line,
        pairs: vec![pair],
        extra: Vec::new(),
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        default,
    }
}

fn load(specs: &[CertSpec]) -> Result<Certs, Vec<String>> {
    Certs::load(specs, &crate::tls::provider())
        .map_err(|ps| ps.iter().map(ToString::to_string).collect())
}

/// The first DNS name of the certificate the resolver serves for `sni`.
fn served(certs: &Certs, sni: Option<&str>) -> Option<String> {
    let keys = certs.resolver.lookup(sni)?;
    let facts = x509::facts(keys[0].end_entity_cert().unwrap()).unwrap();
    facts.names.first().cloned()
}

#[test]
fn exact_names_then_wildcards_then_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let now = (2020, 2090);
    let certs = load(&[
        spec(1, issue(dir.path(), "a", &["a.test"], now), &[], false),
        spec(2, issue(dir.path(), "w", &["*.b.test"], now), &[], false),
        spec(3, issue(dir.path(), "x", &["x.b.test"], now), &[], false),
        spec(4, issue(dir.path(), "d", &["default.test"], now), &[], true),
    ])
    .unwrap();
    assert_eq!(certs.count(), 4);
    assert!(certs.findings().is_empty(), "{:?}", certs.findings());
    let cases = [
        (Some("a.test"), "a.test"),
        (Some("A.Test."), "a.test"),
        (Some("y.b.test"), "*.b.test"),
        (Some("x.b.test"), "x.b.test"),
        // One label only, as browsers match.
        (Some("z.y.b.test"), "default.test"),
        (Some("b.test"), "default.test"),
        (Some("unknown.test"), "default.test"),
        (None, "default.test"),
    ];
    for (sni, expected) in cases {
        assert_eq!(served(&certs, sni).as_deref(), Some(expected), "{sni:?}");
    }
}

#[test]
fn without_a_configured_default_the_first_entry_is_it() {
    let dir = tempfile::tempdir().unwrap();
    let now = (2020, 2090);
    let certs = load(&[
        spec(1, issue(dir.path(), "a", &["a.test"], now), &[], false),
        spec(2, issue(dir.path(), "b", &["b.test"], now), &[], false),
    ])
    .unwrap();
    assert_eq!(served(&certs, None).as_deref(), Some("a.test"));
}

#[test]
fn configured_names_replace_the_certificate_s_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let pair = issue(dir.path(), "a", &["a.test", "*.w.test"], (2020, 2090));
    let certs = load(&[spec(7, pair, &["a.test", "q.w.test", "other.test"], false)]).unwrap();
    assert_eq!(served(&certs, Some("other.test")).as_deref(), Some("a.test"));
    let findings: Vec<String> = certs.findings().iter().map(ToString::to_string).collect();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].starts_with("/c/ssl_multicert.config:7: SNI name `other.test` is not covered"),
        "{findings:?}"
    );
}

#[test]
fn expired_and_future_certificates_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    let certs = load(&[
        spec(1, issue(dir.path(), "old", &["old.test"], (2001, 2002)), &[], false),
        spec(2, issue(dir.path(), "new", &["new.test"], (2090, 2091)), &[], false),
    ])
    .unwrap();
    let findings: Vec<String> = certs.findings().iter().map(ToString::to_string).collect();
    assert_eq!(findings.len(), 2, "{findings:?}");
    assert!(
        findings[0].contains(":1: ") && findings[0].ends_with("expired 2002-01-01 00:00:00 UTC")
    );
    assert!(findings[1].contains(":2: ") && findings[1].contains("not valid before 2090-01-01"));
}

#[test]
fn every_unusable_certificate_is_a_problem_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let now = (2020, 2090);
    let a = issue(dir.path(), "a", &["a.test"], now);
    let b = issue(dir.path(), "b", &["b.test"], now);
    let mismatched = CertFiles { cert: a.cert.clone(), key: b.key.clone() };
    let missing = CertFiles { cert: dir.path().join("missing.pem"), key: None };
    std::fs::write(dir.path().join("junk.pem"), "-----BEGIN CERTIFICATE-----\n!!\n").unwrap();
    let junk = CertFiles { cert: dir.path().join("junk.pem"), key: a.key.clone() };
    let keyless = CertFiles { cert: a.cert.clone(), key: None };
    let errors = load(&[
        spec(1, mismatched, &[], false),
        spec(2, missing, &[], false),
        spec(3, junk, &[], false),
        spec(4, keyless, &[], false),
        spec(5, b, &[], false),
    ])
    .unwrap_err();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].starts_with("/c/ssl_multicert.config:1: "), "{errors:?}");
    assert!(errors[0].ends_with(&format!("does not match the certificate {}", a.cert.display())));
    assert!(errors[1].contains(":2: ") && errors[1].contains("missing.pem: cannot read"));
    assert!(errors[2].contains(":3: ") && errors[2].contains("junk.pem: bad PEM"));
    assert!(errors[3].contains(":4: ") && errors[3].ends_with("a.pem: no private key in the file"));
}

#[test]
fn dates_read_as_utc() {
    assert_eq!(date(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(date(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
}
