//! Prometheus text metrics on `--metrics ADDR` (any path answers).
//!
//! Series: `hookyard_responses_total{class}`, `hookyard_connections`,
//! `hookyard_transactions_in_flight`, `hookyard_reloads_total{result}`, `hookyard_generation`,
//! `hookyard_uptime_seconds`. Per-plugin series come with the plugin host.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Response, header};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::server::Shared;

pub(crate) async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            warn!(error = %e, "cannot register the metrics listener");
            return;
        }
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    let service = service_fn(move |_request| {
                        let text = render(&shared);
                        async move {
                            let mut response = Response::new(Full::new(Bytes::from(text)));
                            response.headers_mut().insert(
                                header::CONTENT_TYPE,
                                header::HeaderValue::from_static("text/plain; version=0.0.4"),
                            );
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    tokio::spawn(async move {
                        if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                            debug!(error = %e, "metrics connection failed");
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            changed = stopped.changed() => if changed.is_err() || *stopped.borrow() { break },
        }
    }
}

/// The metrics page.
pub(crate) fn render(shared: &Shared) -> String {
    let totals = shared.stats.totals();
    let mut out = String::with_capacity(1024);
    let _ = writeln!(out, "# HELP hookyard_responses_total Responses sent, by status class.");
    let _ = writeln!(out, "# TYPE hookyard_responses_total counter");
    for (i, n) in totals.responses.iter().enumerate() {
        let _ = writeln!(out, "hookyard_responses_total{{class=\"{}xx\"}} {n}", i + 1);
    }
    let gauges = [
        ("hookyard_connections", "Open client connections.", totals.connections as f64),
        ("hookyard_transactions_in_flight", "Transactions being handled.", totals.in_flight as f64),
        (
            "hookyard_generation",
            "The serving configuration generation.",
            shared.current.load().id as f64,
        ),
        ("hookyard_uptime_seconds", "Seconds since start.", shared.started.elapsed().as_secs_f64()),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
    let _ = writeln!(out, "# HELP hookyard_reloads_total Reloads, by result.");
    let _ = writeln!(out, "# TYPE hookyard_reloads_total counter");
    let _ = writeln!(
        out,
        "hookyard_reloads_total{{result=\"ok\"}} {}",
        shared.reloads_ok.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "hookyard_reloads_total{{result=\"failed\"}} {}",
        shared.reloads_failed.load(Ordering::Relaxed)
    );
    out
}
