//! TLS listeners: certificates chosen by SNI ([`Certs`], loaded with each configuration
//! generation from `ssl_multicert.config` or `hookyard.yaml`), and the handshake of each
//! connection a TLS listener accepts ([`TlsServer`]), after which the connection is served as a
//! plain one is.
//!
//! rustls with the `ring` crypto provider: it builds with the C compiler alone, where
//! aws-lc-rs needs cmake, NASM and clang. Sessions resume both ways, by a bounded stateful cache
//! (session IDs) and by stateless tickets; both outlive reloads, so a reload costs clients no
//! full handshake.

mod accept;
mod certs;
pub(crate) mod x509;

pub(crate) use accept::TlsServer;
pub(crate) use certs::Certs;

/// What a client connection's TLS handshake negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsInfo {
    /// The SNI name the client sent, lowercase.
    pub(crate) sni: Option<String>,
    /// The ALPN protocol agreed on.
    pub(crate) alpn: Option<Vec<u8>>,
    /// The TLS version, as `TLSv1.3`.
    pub(crate) version: &'static str,
}

/// The crypto provider of every TLS part of the proxy.
pub(crate) fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}
