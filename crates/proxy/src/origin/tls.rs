//! `https://` origins: the rustls client configurations of a generation, and one handshake.
//!
//! Certificates are verified against the system's roots plus `origin_tls.ca_file`, loaded once
//! per generation (when it has a rule to an `https://` origin, else at its first such request),
//! never per connection. A rule may turn verification off (`@origin_tls_verify=off`); its
//! connections are pooled apart from verified ones.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tracing::{debug, info};

use crate::config::OriginTls;

/// A generation's TLS clients for origins, made when first needed.
pub(crate) struct OriginTlsClients {
    ca_certs: Arc<[CertificateDer<'static>]>,
    clients: OnceLock<Clients>,
}

/// The two client configurations: verifying, and not.
struct Clients {
    verified: TlsConnector,
    unverified: TlsConnector,
}

impl fmt::Debug for OriginTlsClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OriginTlsClients")
            .field("ca_certs", &self.ca_certs.len())
            .field("loaded", &self.clients.get().is_some())
            .finish()
    }
}

impl OriginTlsClients {
    /// The clients for `settings`; nothing is loaded yet.
    pub(crate) fn new(settings: &OriginTls) -> OriginTlsClients {
        OriginTlsClients { ca_certs: settings.ca_certs.clone(), clients: OnceLock::new() }
    }

    /// Loads the roots now (a reload does, off the workers, when a rule needs them).
    pub(crate) fn preload(&self) {
        self.clients();
    }

    /// The connector that verifies origin certificates, or the one that does not.
    fn connector(&self, verify: bool) -> TlsConnector {
        let clients = self.clients();
        if verify { clients.verified.clone() } else { clients.unverified.clone() }
    }

    fn clients(&self) -> &Clients {
        self.clients.get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let roots = roots(&self.ca_certs);
            let verified = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth());
            let unverified = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map(|b| {
                    b.dangerous()
                        .with_custom_certificate_verifier(Arc::new(NoVerification(
                            provider.signature_verification_algorithms,
                        )))
                        .with_no_client_auth()
                });
            // The ring provider supports the default versions: these cannot fail.
            let (Ok(verified), Ok(unverified)) = (verified, unverified) else {
                unreachable!("ring supports TLS 1.2 and 1.3");
            };
            Clients { verified: connector(verified), unverified: connector(unverified) }
        })
    }
}

/// A connector offering only HTTP/1.1 (the origin pool speaks nothing else).
fn connector(mut config: ClientConfig) -> TlsConnector {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// The system's roots and `ca_certs`.
fn roots(ca_certs: &[CertificateDer<'static>]) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    if !native.errors.is_empty() {
        debug!(errors = ?native.errors, "some system root certificates could not be read");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    // Checked when the settings were read.
    let (extra, _) = roots.add_parsable_certificates(ca_certs.iter().cloned());
    info!(system = added, ignored, ca_file = extra, "origin TLS roots loaded");
    roots
}

/// Accepts any certificate (a rule's `@origin_tls_verify=off`), but still checks that the
/// origin holds the key of the certificate it showed, as the handshake requires.
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Where a TLS connection goes: the connector (verifying or not) and the name it checks and
/// sends as SNI.
#[derive(Clone)]
pub(crate) struct TlsTarget {
    connector: TlsConnector,
    name: ServerName<'static>,
    /// Whether `connector` verifies the origin's certificate.
    pub(crate) verified: bool,
}

impl fmt::Debug for TlsTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTarget")
            .field("name", &self.name)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl TlsTarget {
    /// To `host` (a DNS name, sent as SNI, or an IP address, which sends none) with one of
    /// `clients`' connectors (verifying or not); `None` when `host` is neither.
    pub(crate) fn new(clients: &OriginTlsClients, host: &str, verify: bool) -> Option<TlsTarget> {
        let name = ServerName::try_from(host.to_owned()).ok()?;
        Some(TlsTarget { connector: clients.connector(verify), name, verified: verify })
    }

    /// The TLS handshake over `stream`.
    ///
    /// # Errors
    ///
    /// The handshake failed: why, sorted by kind.
    pub(crate) async fn handshake(
        &self,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, TlsError> {
        self.connector.connect(self.name.clone(), stream).await.map_err(TlsError::of)
    }
}

/// What failed in an origin's TLS handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsFailure {
    /// The certificate is not valid for the origin's host name.
    NameMismatch,
    /// The certificate did not verify (unknown issuer, expired, ...).
    Verification,
    /// Anything else: the connection closed, no common protocol or cipher, an alert.
    Handshake,
}

impl TlsFailure {
    /// Every kind, in the order of [`TlsFailure::index`].
    pub(crate) const ALL: [TlsFailure; 3] =
        [TlsFailure::Handshake, TlsFailure::Verification, TlsFailure::NameMismatch];

    /// Its place in per-kind counters.
    pub(crate) fn index(self) -> usize {
        match self {
            TlsFailure::Handshake => 0,
            TlsFailure::Verification => 1,
            TlsFailure::NameMismatch => 2,
        }
    }

    /// Its metrics label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            TlsFailure::Handshake => "handshake",
            TlsFailure::Verification => "verification",
            TlsFailure::NameMismatch => "name_mismatch",
        }
    }

    /// The failure as logs and answers name it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TlsFailure::NameMismatch => "name mismatch",
            TlsFailure::Verification => "certificate verification failed",
            TlsFailure::Handshake => "tls handshake failed",
        }
    }
}

/// An origin's TLS handshake failed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", kind.as_str())]
pub(crate) struct TlsError {
    pub(crate) kind: TlsFailure,
    reason: String,
}

impl TlsError {
    fn of(e: std::io::Error) -> TlsError {
        let rustls = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
        let Some(rustls::Error::InvalidCertificate(cert)) = rustls else {
            return TlsError { kind: TlsFailure::Handshake, reason: e.to_string() };
        };
        let kind = match cert {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::NameMismatch
            }
            _ => TlsFailure::Verification,
        };
        TlsError { kind, reason: certificate_reason(cert) }
    }
}

/// rustls's reason, in words for the common ones.
fn certificate_reason(e: &CertificateError) -> String {
    let word = match e {
        CertificateError::UnknownIssuer => "unknown issuer",
        CertificateError::Expired => "expired",
        CertificateError::NotValidYet => "not valid yet",
        CertificateError::Revoked => "revoked",
        CertificateError::BadSignature => "bad signature",
        CertificateError::BadEncoding => "bad encoding",
        CertificateError::NotValidForName => "not valid for the host name",
        CertificateError::InvalidPurpose => "not for server authentication",
        other => return other.to_string(),
    };
    word.to_owned()
}
