//! Active health checks: an HTTP GET of each `health_check_url` of the strategies that list
//! `active` (`failover.health_check`), every `health_checks.interval`, on a thread of its own;
//! an `https://` one over TLS, verified as `origin_tls` says (the name is the URL's host).
//!
//! A check passes on a 2xx or 3xx answer within `health_checks.timeout`. `fall` failures in a
//! row mark the host down, `rise` passes in a row bring it back. The serving generation is read
//! again before each round, so a reload changes what is checked; a host no longer checked
//! actively loses what active checks said of it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::Host;
use crate::config::HealthChecks;
use crate::config::strategies::HealthUrl;
use crate::generation::{Generation, Serving};
use crate::origin::tls::TlsTarget;

/// Starts the checker thread; it ends once `stopped` turns true.
pub(crate) fn start(
    serving: Arc<Serving>,
    stopped: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let spawned = std::thread::Builder::new().name("hookyard-health".to_owned()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        match runtime {
            Ok(runtime) => runtime.block_on(run(&serving, stopped)),
            Err(e) => warn!(error = %e, "cannot start active health checks"),
        }
    });
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            warn!(error = %e, "cannot start the health check thread");
            None
        }
    }
}

/// One host to check, how, and for an `https://` URL the TLS target (`None` when the URL's host
/// is no valid server name: the check fails).
type Target = (Arc<Host>, HealthUrl, Option<TlsTarget>);

async fn run(serving: &Serving, mut stopped: watch::Receiver<bool>) {
    let mut checked: Vec<Arc<Host>> = Vec::new();
    loop {
        let generation = serving.load_full();
        let settings = generation.config.settings.health_checks.clone();
        let targets = targets(&generation);
        drop(generation);
        for host in &checked {
            if !targets.iter().any(|(h, _, _)| Arc::ptr_eq(h, host)) {
                forget(host);
            }
        }
        checked = targets.iter().map(|(h, _, _)| h.clone()).collect();
        let mut round = tokio::task::JoinSet::new();
        for (host, url, tls) in targets {
            let timeout = settings.timeout;
            round.spawn(async move {
                let passed = check(&url, tls.as_ref(), timeout).await;
                (host, passed)
            });
        }
        while let Some(done) = round.join_next().await {
            if let Ok((host, passed)) = done {
                record(&host, passed, &settings);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(settings.interval) => {}
            changed = stopped.changed() => if changed.is_err() || *stopped.borrow() { return },
        }
    }
}

/// The hosts of `generation`'s strategies checked actively, once each.
fn targets(generation: &Generation) -> Vec<Target> {
    let verify = generation.config.settings.origin_tls.verify;
    let mut targets: Vec<Target> = Vec::new();
    for strategy in generation.pools.strategies().iter().filter(|s| s.failover.active) {
        for member in strategy.members() {
            let Some(url) = &member.health else { continue };
            if !targets.iter().any(|(h, _, _)| Arc::ptr_eq(h, &member.host)) {
                let tls = url
                    .tls
                    .then(|| TlsTarget::new(&generation.origin_tls, &url.host, verify))
                    .flatten();
                targets.push((member.host.clone(), url.clone(), tls));
            }
        }
    }
    targets
}

/// A host no longer checked actively: what the checks said of it goes.
fn forget(host: &Host) {
    host.check_failures.store(0, Ordering::Relaxed);
    host.check_passes.store(0, Ordering::Relaxed);
    host.set_active_down(false);
}

/// Counts a check's outcome; `fall` failures or `rise` passes in a row change the host's state.
fn record(host: &Host, passed: bool, settings: &HealthChecks) {
    if passed {
        host.check_failures.store(0, Ordering::Relaxed);
        let passes = host.check_passes.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if passes >= settings.rise {
            host.set_active_down(false);
        }
    } else {
        host.check_passes.store(0, Ordering::Relaxed);
        let failures = host.check_failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if failures >= settings.fall {
            host.set_active_down(true);
        }
    }
}

/// Whether `GET url` answers 2xx or 3xx within `timeout` (over `tls` for an `https://` URL).
async fn check(url: &HealthUrl, tls: Option<&TlsTarget>, timeout: Duration) -> bool {
    if url.tls && tls.is_none() {
        debug!(url = %url.url, "health check URL has no valid TLS server name");
        return false;
    }
    let outcome = tokio::time::timeout(timeout, get(url, tls)).await;
    match outcome {
        Ok(Ok(status)) => {
            debug!(url = %url.url, %status, "health check");
            status.is_success() || status.is_redirection()
        }
        Ok(Err(e)) => {
            debug!(url = %url.url, error = %e, "health check failed");
            false
        }
        Err(_) => {
            debug!(url = %url.url, "health check timed out");
            false
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn get(url: &HealthUrl, tls: Option<&TlsTarget>) -> Result<StatusCode, BoxError> {
    let stream = tokio::net::TcpStream::connect((url.host.as_str(), url.port)).await?;
    match tls {
        Some(tls) => request(url, TokioIo::new(tls.handshake(stream).await?)).await,
        None => request(url, TokioIo::new(stream)).await,
    }
}

/// `GET url` on the connection `io`.
async fn request<T>(url: &HealthUrl, io: T) -> Result<StatusCode, BoxError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    let host = super::hosts::endpoint_name(&url.host, url.port);
    let request = Request::get(url.path.as_str())
        .header(http::header::HOST, host)
        .header(http::header::USER_AGENT, "hookyard-health-check")
        .header(http::header::CONNECTION, "close")
        .body(Empty::<bytes::Bytes>::new())?;
    Ok(sender.send_request(request).await?.status())
}
