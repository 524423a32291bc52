//! A transaction's tries on the hosts of its rule's strategy: which host comes next, and whether
//! a request that failed at one may go to another (`docs/operating.md`, "Origin pools").

use std::sync::Arc;

use http::header::HeaderMap;
use http::{Method, Request, Response, Version};
use tracing::debug;

use crate::conn::deadline::Expired;
use crate::origin::body::RequestBody;
use crate::origin::tls::TlsTarget;
use crate::origin::{Failed, OriginBody, OriginError};
use crate::pool::{Attempts, Host, Strategy};

/// A transaction's tries on a strategy's hosts.
pub(super) struct PoolTry {
    pub(super) strategy: Arc<Strategy>,
    /// The key's (or client's) hash the policy selects by.
    pub(super) hash: u64,
    pub(super) attempts: Attempts,
    /// Retries made so far.
    pub(super) retries: u32,
    /// What a retry connects with: the TLS target, for an `https` strategy.
    pub(super) tls: Option<TlsTarget>,
    /// The request again, for retries after a listed response code or a failed exchange
    /// (no response head): only for a request without a body whose method is idempotent.
    pub(super) again: Option<Again>,
}

/// What a request is made again from: its head without the record of its field names' case,
/// whose copy would cost every request more than it is worth to the few made again (those go
/// with lowercase names).
pub(super) struct Again {
    pub(super) method: Method,
    pub(super) uri: http::Uri,
    pub(super) headers: HeaderMap,
}

impl Again {
    fn request(&self) -> Request<RequestBody> {
        let mut request = Request::new(RequestBody::empty());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = self.headers.clone();
        request
    }
}

impl PoolTry {
    /// The `Host` a request (made again) asks for, which its connection is pooled by.
    pub(super) fn authority(request: &Request<RequestBody>) -> String {
        let host = request.headers().get(http::header::HOST);
        host.and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned()
    }

    /// The next host for a retry, when retries are left; `None` otherwise.
    fn retry(&mut self) -> Option<Arc<Host>> {
        if self.retries >= self.strategy.failover.max_simple_retries {
            return None;
        }
        let host = self.strategy.select(self.hash, &mut self.attempts)?.host.clone();
        self.retries += 1;
        Some(host)
    }

    /// How passive checks count a failure, if the strategy uses them.
    pub(super) fn passive(
        &self,
        checks: &crate::config::HealthChecks,
    ) -> Option<(u32, std::time::Duration)> {
        self.strategy.failover.passive.then_some((checks.fall, checks.retry))
    }
}

/// What one try of a strategy's host came to: the response, or why there was none.
pub(super) type Sent = Result<Result<Response<OriginBody>, Failed>, Expired>;

/// Counts a try's outcome at `host` (passive checks with `passive`), and decides whether the
/// request goes to another host: after a connection that could not be made (nothing was sent),
/// and, for a request that can be made again, after a failed exchange or a listed status;
/// while retries and hosts are left. The host to send it to, if so, with the request made again
/// (`None`: the request that was not sent goes as it is).
pub(super) fn next_try(
    p: &mut PoolTry,
    host: &Host,
    sent: &Sent,
    passive: Option<(u32, std::time::Duration)>,
) -> Option<(Option<Request<RequestBody>>, Arc<Host>)> {
    match sent {
        Ok(Ok(response)) => {
            let status = response.status();
            if status.is_server_error() {
                host.failed(passive);
            } else {
                host.succeeded();
            }
            if !p.strategy.failover.response_codes.contains(&status.as_u16()) {
                return None;
            }
            let again = p.again.as_ref().map(Again::request)?;
            let next = p.retry()?;
            debug!(host = %host.name, %status, next = %next.name, "retrying");
            Some((Some(again), next))
        }
        Ok(Err(Failed { error, unsent: true })) => {
            // A host at its connection limit is busy, not failing.
            if !matches!(error, OriginError::Busy) {
                host.failed(passive);
            }
            let next = p.retry()?;
            debug!(host = %host.name, %error, next = %next.name, "retrying");
            Some((None, next))
        }
        Ok(Err(Failed { error: error @ OriginError::Exchange(_), unsent: false })) => {
            host.failed(passive);
            // No response head came: a request without a body can go elsewhere.
            let again = p.again.as_ref().map(Again::request)?;
            let next = p.retry()?;
            debug!(host = %host.name, %error, next = %next.name, "retrying");
            Some((Some(again), next))
        }
        _ => {
            host.failed(passive);
            None
        }
    }
}
