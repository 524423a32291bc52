//! The handshake of a TLS listener's connections, with the serving generation's certificates
//! and a session cache and ticketer shared by every worker and generation.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ProducesTickets, ServerSessionMemoryCache};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tracing::{debug, warn};

use super::TlsInfo;
use crate::config::TlsVersion;
use crate::generation::Generation;

/// Sessions the stateful cache keeps (TLS 1.2 session IDs, TLS 1.3 when a client takes no
/// ticket); the oldest go first.
const SESSION_CACHE: usize = 16 * 1024;

/// The TLS side of a server: its TLS listeners' counters, the sessions they resume, and the
/// rustls configuration of the serving generation.
pub(crate) struct TlsServer {
    provider: Arc<CryptoProvider>,
    sessions: Arc<ServerSessionMemoryCache>,
    ticketer: Arc<dyn ProducesTickets>,
    /// Per TLS listen address: failed handshakes.
    endpoints: Vec<(SocketAddr, AtomicU64)>,
    /// The rustls configuration made for the generation of this id.
    current: Mutex<Option<(u64, Arc<ServerConfig>)>>,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<_> = self.endpoints.iter().map(|(addr, _)| addr).collect();
        f.debug_struct("TlsServer").field("endpoints", &addrs).finish_non_exhaustive()
    }
}

impl TlsServer {
    /// The TLS side of a server listening on `addrs` (bound, with their ports).
    ///
    /// # Errors
    ///
    /// No randomness for the ticket keys.
    pub(crate) fn new(addrs: &[SocketAddr]) -> Result<TlsServer, rustls::Error> {
        Ok(TlsServer {
            provider: Arc::new(super::provider()),
            sessions: ServerSessionMemoryCache::new(SESSION_CACHE),
            ticketer: rustls::crypto::ring::Ticketer::new()?,
            endpoints: addrs.iter().map(|&addr| (addr, AtomicU64::new(0))).collect(),
            current: Mutex::new(None),
        })
    }

    /// The TLS listen addresses, in listener order.
    pub(crate) fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.endpoints.iter().map(|(addr, _)| *addr)
    }

    /// The handshake of a connection accepted by TLS listener `endpoint`, with the
    /// certificates of `generation`, within `timeout`; `None` (logged at debug, counted) when
    /// it fails or times out.
    pub(crate) async fn handshake(
        &self,
        endpoint: usize,
        stream: TcpStream,
        generation: &Generation,
        timeout: Duration,
    ) -> Option<(TlsStream<TcpStream>, TlsInfo)> {
        let config = self.config(generation)?;
        // Fallible and pinned here: on failure the socket is closed only after the failure is
        // counted, so a client that sees the close also sees the count.
        let accepting = tokio_rustls::TlsAcceptor::from(config).accept(stream).into_fallible();
        tokio::pin!(accepting);
        let failed = |reason: &dyn std::fmt::Display| {
            debug!(error = %reason, "TLS handshake failed");
            if let Some((_, failures)) = self.endpoints.get(endpoint) {
                failures.fetch_add(1, Ordering::Relaxed);
            }
        };
        match tokio::time::timeout(timeout, &mut accepting).await {
            Ok(Ok(stream)) => {
                let info = info(stream.get_ref().1);
                Some((stream, info))
            }
            Ok(Err((e, stream))) => {
                failed(&e);
                drop(stream);
                None
            }
            Err(_) => {
                failed(&"timed out (timeouts.header_read)");
                None
            }
        }
    }

    /// The rustls configuration of `generation`: made on its first handshake, then reused.
    fn config(&self, generation: &Generation) -> Option<Arc<ServerConfig>> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((id, config)) = current.as_ref()
            && *id == generation.id
        {
            return Some(config.clone());
        }
        let config = match self.make(generation) {
            Ok(config) => Arc::new(config),
            Err(e) => {
                warn!(error = %e, generation = generation.id, "cannot configure TLS");
                return None;
            }
        };
        *current = Some((generation.id, config.clone()));
        Some(config)
    }

    fn make(&self, generation: &Generation) -> Result<ServerConfig, rustls::Error> {
        let versions: &[&rustls::SupportedProtocolVersion] =
            match generation.config.settings.tls.min_version {
                TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
                TlsVersion::Tls13 => &[&rustls::version::TLS13],
            };
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(versions)?
            .with_no_client_auth()
            .with_cert_resolver(generation.config.tls.resolver());
        config.session_storage = self.sessions.clone();
        config.ticketer = self.ticketer.clone();
        // Served by the worker in the protocol agreed on; none agreed (a client without ALPN):
        // HTTP/1.1.
        config.alpn_protocols = if generation.config.settings.http2.tls {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(config)
    }

    /// `hookyard_tls_handshake_failures_total{endpoint}`, in Prometheus text.
    pub(crate) fn render_metrics(&self, out: &mut String) {
        let name = "hookyard_tls_handshake_failures_total";
        let _ =
            writeln!(out, "# HELP {name} Failed or timed-out TLS handshakes, by listen address.");
        let _ = writeln!(out, "# TYPE {name} counter");
        for (addr, failures) in &self.endpoints {
            let _ =
                writeln!(out, "{name}{{endpoint=\"{addr}\"}} {}", failures.load(Ordering::Relaxed));
        }
    }
}

/// What a finished handshake negotiated.
fn info(connection: &rustls::ServerConnection) -> TlsInfo {
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "TLS",
    };
    TlsInfo {
        sni: connection.server_name().map(str::to_ascii_lowercase),
        alpn: connection.alpn_protocol().map(<[u8]>::to_vec),
        version,
    }
}
