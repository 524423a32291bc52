//! Origin host names resolved: hickory's async stub resolver, with a bounded cache that keeps
//! each answer for its TTL (at most `dns.max_ttl`) and remembers names that do not exist for at
//! least `dns.negative_ttl` (`docs/operating.md`, "Origin pools").
//!
//! The name servers are `dns.nameservers`, else those of `/etc/resolv.conf` (with `/etc/hosts`
//! read first). A resolver belongs to the settings it was made from: a reload that keeps them
//! keeps the resolver and its cache.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use tracing::{debug, warn};

use crate::config::Dns;

/// Resolves origin host names.
pub(crate) struct Resolver {
    /// `None` when no resolver could be made from the system's configuration: the OS resolves
    /// then (`getaddrinfo`, uncached), as before.
    inner: Option<TokioResolver>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").field("hickory", &self.inner.is_some()).finish()
    }
}

impl Resolver {
    /// A resolver as `settings` say.
    pub(crate) fn new(settings: &Dns) -> Resolver {
        let builder = if settings.nameservers.is_empty() {
            match TokioResolver::builder_tokio() {
                Ok(builder) => builder,
                Err(e) => {
                    warn!(error = %e, "cannot read the system's resolver configuration; origin names resolve through the OS, uncached");
                    return Resolver { inner: None };
                }
            }
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let (mut udp, mut tcp) = (ConnectionConfig::udp(), ConnectionConfig::tcp());
                    udp.port = addr.port();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            let config = ResolverConfig::from_parts(None, Vec::new(), servers);
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        };
        let mut builder = builder;
        let options = builder.options_mut();
        options.cache_size = settings.cache_size;
        options.negative_min_ttl = Some(settings.negative_ttl);
        options.negative_max_ttl = Some(settings.max_ttl.max(settings.negative_ttl));
        options.positive_max_ttl = Some(settings.max_ttl);
        match builder.build() {
            Ok(resolver) => Resolver { inner: Some(resolver) },
            Err(e) => {
                warn!(error = %e, "cannot make the resolver; origin names resolve through the OS, uncached");
                Resolver { inner: None }
            }
        }
    }

    /// The first address of `host` (an IP literal as it is), with `port`.
    ///
    /// # Errors
    ///
    /// The name does not resolve (or resolves to no address).
    pub(crate) async fn resolve(&self, host: &str, port: u16) -> io::Result<SocketAddr> {
        let addrs = self.resolve_all(host, port).await?;
        addrs.first().copied().ok_or_else(|| no_address(host))
    }

    /// Every address of `host` (an IP literal as it is), with `port`: IPv4 ones first, as
    /// `getaddrinfo` orders `localhost` from `/etc/hosts`.
    ///
    /// # Errors
    ///
    /// The name does not resolve (or resolves to no address).
    pub(crate) async fn resolve_all(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let Some(resolver) = &self.inner else {
            return Ok(tokio::net::lookup_host((host, port)).await?.collect());
        };
        match resolver.lookup_ip(host).await {
            Ok(found) => {
                let mut addrs: Vec<SocketAddr> =
                    found.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                addrs.sort_by_key(SocketAddr::is_ipv6);
                if addrs.is_empty() { Err(no_address(host)) } else { Ok(addrs) }
            }
            Err(e) => {
                debug!(%host, error = %e, "origin host does not resolve");
                Err(io::Error::new(io::ErrorKind::NotFound, format!("{host}: {e}")))
            }
        }
    }
}

fn no_address(host: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))
}

/// The resolver of the serving settings, kept while a reload does not change them.
#[derive(Debug, Default)]
pub(crate) struct Resolvers {
    current: Mutex<Option<(Dns, Arc<Resolver>)>>,
}

impl Resolvers {
    /// The resolver for `settings`: the current one if they did not change.
    pub(crate) fn for_settings(&self, settings: &Dns) -> Arc<Resolver> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((kept, resolver)) = &*current
            && kept == settings
        {
            return resolver.clone();
        }
        let resolver = Arc::new(Resolver::new(settings));
        *current = Some((settings.clone(), resolver.clone()));
        resolver
    }
}
