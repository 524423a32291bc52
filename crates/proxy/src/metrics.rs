//! Prometheus text metrics on `--metrics ADDR` (any path answers).
//!
//! Series: `hookyard_responses_total{class}`, `hookyard_connections`,
//! `hookyard_transactions_in_flight`, `hookyard_reloads_total{result}`, `hookyard_generation`,
//! `hookyard_uptime_seconds`, `hookyard_plugin_versions{state}` and the histogram
//! `hookyard_plugin_hook_seconds{plugin,version,hook}` of plugin hook callbacks.

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

use hookyard_hooks::HookId;

use crate::host::LATENCY_BUCKETS_US;
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
    plugin_series(shared, &mut out);
    out
}

/// Plugin versions by state, and per plugin version and hook: callbacks run and their time.
fn plugin_series(shared: &Shared, out: &mut String) {
    let versions = shared.plugins();
    let _ = writeln!(out, "# HELP hookyard_plugin_versions Loaded plugin versions, by state.");
    let _ = writeln!(out, "# TYPE hookyard_plugin_versions gauge");
    for state in ["live", "unloading", "pinned"] {
        let n = versions.iter().filter(|v| v.state == state).count();
        let _ = writeln!(out, "hookyard_plugin_versions{{state=\"{state}\"}} {n}");
    }
    let name = "hookyard_plugin_hook_seconds";
    let _ =
        writeln!(out, "# HELP {name} Time in plugin hook callbacks, per plugin version and hook.");
    let _ = writeln!(out, "# TYPE {name} histogram");
    let generation = shared.current.load();
    for member in generation.hooks.members() {
        for hook in HookId::ALL {
            let calls = &member.calls[hook.index()];
            let count = calls.calls.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let labels = format!(
                "plugin=\"{}\",version=\"{}\",hook=\"{}\"",
                escape(&member.name),
                escape(&member.version),
                hook.name()
            );
            let mut cumulative = 0;
            for (at, bound) in LATENCY_BUCKETS_US.iter().enumerate() {
                cumulative += calls.buckets[at].load(Ordering::Relaxed);
                let le = *bound as f64 / 1e6;
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            cumulative += calls.buckets[LATENCY_BUCKETS_US.len()].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
            let seconds = calls.nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{name}_sum{{{labels}}} {seconds}");
            let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
