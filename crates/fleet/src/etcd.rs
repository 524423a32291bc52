//! Connecting to etcd: endpoints, TLS client certificates, user and password.

use std::path::PathBuf;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};

use crate::Error;

/// How to reach etcd. Its `Debug` never shows the password.
#[derive(Clone, Default)]
pub struct EtcdOptions {
    /// Endpoints: `http://host:port`, or `https://host:port` for TLS.
    pub endpoints: Vec<String>,
    /// A user for etcd's authentication, with [`EtcdOptions::password`].
    pub user: Option<String>,
    /// The user's password.
    pub password: Option<String>,
    /// The CA certificate (PEM) that signed etcd's server certificate.
    pub ca: Option<PathBuf>,
    /// A client certificate (PEM) for etcd's client certificate authentication, with `key`.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key: Option<PathBuf>,
    /// How long one request (and a connection attempt) may take.
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for EtcdOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdOptions")
            .field("endpoints", &self.endpoints)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

impl EtcdOptions {
    /// Connects (and authenticates, when a user is given).
    ///
    /// # Errors
    ///
    /// A certificate or key that cannot be read, etcd unreachable, authentication refused.
    pub(crate) async fn connect(&self) -> Result<Client, Error> {
        let timeout = self.timeout.unwrap_or(Duration::from_secs(3));
        let mut options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_timeout(timeout)
            .with_keep_alive(Duration::from_secs(2), timeout);
        if let Some(user) = &self.user {
            // etcd's tokens expire (`--auth-token-ttl`, 5 minutes by default) while a node
            // follows the cluster for days.
            options = options
                .with_user(user, self.password.clone().unwrap_or_default())
                .with_auto_token_refresh(true);
        }
        let tls = self.endpoints.iter().any(|e| e.starts_with("https://"));
        if tls || self.ca.is_some() || self.cert.is_some() {
            let mut config = TlsOptions::new();
            if let Some(ca) = &self.ca {
                let pem = std::fs::read(ca).map_err(Error::io(ca))?;
                config = config.ca_certificate(Certificate::from_pem(pem));
            }
            match (&self.cert, &self.key) {
                (Some(cert), Some(key)) => {
                    let cert = std::fs::read(cert).map_err(Error::io(cert))?;
                    let key = std::fs::read(key).map_err(Error::io(key))?;
                    config = config.identity(Identity::from_pem(cert, key));
                }
                (None, None) => {}
                _ => {
                    return Err(Error::Refused(
                        "a client certificate needs both --etcd-cert and --etcd-key".into(),
                    ));
                }
            }
            options = options.with_tls(config);
        }
        let endpoints = self.endpoints.join(", ");
        Client::connect(&self.endpoints, Some(options))
            .await
            .map_err(Error::etcd(format!("cannot connect to {endpoints}")))
    }
}
