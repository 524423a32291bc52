//! Prometheus text metrics on `--metrics ADDR`, at `GET /metrics` (other paths: 404).
//!
//! Series: `hookyard_responses_total{class}`, `hookyard_connections`,
//! `hookyard_transactions_in_flight`, `hookyard_reloads_total{result}`, `hookyard_generation`,
//! `hookyard_uptime_seconds`, `hookyard_draining`, `hookyard_transactions_abandoned_total`,
//! `hookyard_http2_connections_total`, `hookyard_origin_tls_failures_total{failure}`, per endpoint
//! `hookyard_endpoint_connections{endpoint}`, `hookyard_endpoint_connections_max{endpoint}` and
//! `hookyard_connections_refused_total{endpoint}`, `hookyard_plugin_versions{state}`, the
//! counter `hookyard_plugin_events_dropped_total{plugin,version}` of events dropped for retired
//! plugin versions (summed over the loaded versions sharing a name and version string), the
//! histograms `hookyard_plugin_hook_seconds{plugin,version,hook}` of plugin hook callbacks and
//! `hookyard_plugin_remap_seconds{plugin,version}` of `do_remap`, and the counter
//! `hookyard_canary_transactions_total{plugin,version,arm}` of transactions that ran each
//! version of a canaried global plugin, and `hookyard_tls_handshake_failures_total{endpoint}`
//! per TLS listen address; per listener the histogram `hookyard_request_duration_seconds` and
//! the counters `hookyard_received_bytes_total` and `hookyard_sent_bytes_total`; per origin the
//! histogram `hookyard_origin_connect_seconds` and `hookyard_origin_errors_total{origin,kind}`;
//! the gauges `hookyard_origin_connections` and `hookyard_origin_connections_pooled`;
//! per host of the strategies (`strategies.yaml`) `hookyard_host_up{host}`,
//! `hookyard_host_requests_total{host}`, `hookyard_host_errors_total{host}`,
//! `hookyard_host_connects_total{host}` and `hookyard_host_connect_seconds_total{host}`;
//! `hookyard_build_info{version,commit}`; per WebAssembly plugin version the counters
//! `hookyard_wasm_calls_total{plugin,version}`, `hookyard_wasm_call_seconds_total`,
//! `hookyard_wasm_failures_total{plugin,version,kind}` (trap, deadline, memory, broken),
//! `hookyard_wasm_skipped_total` and the gauge `hookyard_wasm_quarantined`; and the
//! `process_*` series.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use tracing::{debug, warn};

use hookyard_hooks::HookId;

use crate::control::Control;
use crate::origin::tls::TlsFailure;
use crate::stats::{DURATION_BUCKETS_NS, HistogramSnapshot, OriginFailure};
use hookyard_host::{CallsSnapshot, LATENCY_BUCKETS_US};

/// The one path the metrics address answers.
const PATH: &str = "/metrics";

pub(crate) async fn serve(
    listener: std::net::TcpListener,
    control: Arc<Control>,
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
                    let Some(permit) = control.limits.metrics.admit() else { continue };
                    let header_read = control.reloader.serving().load().config.settings.timeouts.header_read;
                    let control = control.clone();
                    let service = service_fn(move |request| {
                        let response = answer(&request, &control);
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    });
                    // hyper's header-read timer also runs between requests: an idle connection
                    // and a half-sent head are both closed after `timeouts.header_read`.
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_read)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            debug!(error = %e, "metrics connection failed");
                        }
                        drop(permit);
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

/// The answer to one request: the page for `GET` (or `HEAD`) `/metrics`, 405 for another
/// method there, 404 for any other path.
fn answer<B>(request: &Request<B>, control: &Control) -> Response<Full<Bytes>> {
    let (status, text) = if request.uri().path() != PATH {
        (StatusCode::NOT_FOUND, format!("not found: metrics are at {PATH}\n"))
    } else if request.method() != Method::GET && request.method() != Method::HEAD {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD\n".to_owned())
    } else {
        (StatusCode::OK, render(control))
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    let content_type = if status == StatusCode::OK {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
    }
    response
}

/// The metrics page.
pub(crate) fn render(control: &Control) -> String {
    let totals = control.stats.totals();
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
            control.reloader.serving().load().id as f64,
        ),
        (
            "hookyard_uptime_seconds",
            "Seconds since start.",
            control.started.elapsed().as_secs_f64(),
        ),
        (
            "hookyard_draining",
            "1 while the server drains (ctl drain, SIGTERM), else 0.",
            f64::from(u8::from(control.drain.is_draining())),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
    let _ = writeln!(out, "# HELP hookyard_reloads_total Reloads, by result.");
    let _ = writeln!(out, "# TYPE hookyard_reloads_total counter");
    let _ =
        writeln!(out, "hookyard_reloads_total{{result=\"ok\"}} {}", control.reloader.counts().0);
    let _ = writeln!(
        out,
        "hookyard_reloads_total{{result=\"failed\"}} {}",
        control.reloader.counts().1
    );
    let name = "hookyard_transactions_abandoned_total";
    let _ = writeln!(out, "# HELP {name} Transactions whose client left before the response.");
    let _ = writeln!(out, "# TYPE {name} counter\n{name} {}", totals.abandoned);
    let name = "hookyard_http2_connections_total";
    let _ = writeln!(out, "# HELP {name} Client connections served as HTTP/2.");
    let _ = writeln!(out, "# TYPE {name} counter\n{name} {}", totals.http2_connections);
    let name = "hookyard_origin_tls_failures_total";
    let _ = writeln!(out, "# HELP {name} Failed TLS handshakes with https origins, by failure.");
    let _ = writeln!(out, "# TYPE {name} counter");
    for failure in TlsFailure::ALL {
        let count = totals.origin_tls_failures[failure.index()];
        let _ = writeln!(out, "{name}{{failure=\"{}\"}} {count}", failure.label());
    }
    connection_series(control, &mut out);
    plugin_series(control, &mut out);
    canary_series(control, &mut out);
    control.tls.render_metrics(&mut out);
    listener_series(control, &mut out);
    origin_series(control, &totals, &mut out);
    host_series(control, &mut out);
    build_info(&mut out);
    crate::process::render(&mut out);
    control.access_log.render_metrics(&mut out);
    plugin_stat_series(&mut out);
    wasm_series(&mut out);
    out
}

/// Per WebAssembly plugin version: calls, time, failures by kind, skips and quarantine.
fn wasm_series(out: &mut String) {
    let versions = crate::wasm::versions();
    if versions.is_empty() {
        return;
    }
    let series: [(&str, &str, &str); 4] = [
        ("hookyard_wasm_calls_total", "counter", "Filter callbacks of WebAssembly plugins."),
        ("hookyard_wasm_call_seconds_total", "counter", "Time in WebAssembly filter callbacks."),
        (
            "hookyard_wasm_skipped_total",
            "counter",
            "Transactions that skipped a quarantined plugin.",
        ),
        ("hookyard_wasm_quarantined", "gauge", "Whether repeated failures quarantined a plugin."),
    ];
    for (name, kind, help) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for v in &versions {
            let Some(w) = &v.wasm else { continue };
            let value = match name {
                "hookyard_wasm_calls_total" => w.calls.to_string(),
                "hookyard_wasm_call_seconds_total" => (w.nanos as f64 / 1e9).to_string(),
                "hookyard_wasm_skipped_total" => w.skipped.to_string(),
                _ => u8::from(w.quarantined).to_string(),
            };
            let (plugin, version) = (escape(&v.name), escape(&v.version));
            let _ = writeln!(out, "{name}{{plugin=\"{plugin}\",version=\"{version}\"}} {value}");
        }
    }
    let name = "hookyard_wasm_failures_total";
    let _ = writeln!(
        out,
        "# HELP {name} WebAssembly callbacks that failed their transaction, by kind."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for v in &versions {
        let Some(w) = &v.wasm else { continue };
        let (plugin, version) = (escape(&v.name), escape(&v.version));
        for (kind, n) in [
            ("trap", w.traps),
            ("deadline", w.deadlines),
            ("memory", w.memory),
            ("broken", w.broken),
        ] {
            let _ = writeln!(
                out,
                "{name}{{plugin=\"{plugin}\",version=\"{version}\",kind=\"{kind}\"}} {n}"
            );
        }
    }
}

/// Per listen address: request durations, bytes received and sent.
fn listener_series(control: &Control, out: &mut String) {
    let addrs: Vec<String> =
        control.addrs.iter().copied().chain(control.tls.addrs()).map(|a| a.to_string()).collect();
    let listeners = control.stats.listeners();
    let name = "hookyard_request_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} From a request head to the end of its response body, per listener.\n\
         # TYPE {name} histogram"
    );
    for (addr, (durations, _, _)) in addrs.iter().zip(&listeners) {
        duration_histogram(out, name, &format!("listener=\"{addr}\""), durations);
    }
    let counters = [
        ("hookyard_received_bytes_total", "Bytes read from clients (after TLS), per listener."),
        ("hookyard_sent_bytes_total", "Bytes written to clients (before TLS), per listener."),
    ];
    for (at, (name, help)) in counters.into_iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (addr, (_, received, sent)) in addrs.iter().zip(&listeners) {
            let value = if at == 0 { received } else { sent };
            let _ = writeln!(out, "{name}{{listener=\"{addr}\"}} {value}");
        }
    }
}

/// Per origin (`scheme://host:port`, at most `MAX_ORIGINS` per worker, then `other`): connect
/// times and failures; and the origin connections open and pooled.
fn origin_series(control: &Control, totals: &crate::stats::Totals, out: &mut String) {
    let origins = control.stats.origins();
    let name = "hookyard_origin_connect_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time to open an origin connection (TCP, TLS, HTTP), per origin.\n\
         # TYPE {name} histogram"
    );
    for (origin, o) in &origins {
        duration_histogram(out, name, &format!("origin=\"{}\"", escape(origin)), &o.connect);
    }
    let name = "hookyard_origin_errors_total";
    let _ = writeln!(
        out,
        "# HELP {name} Requests that failed at their origin, per origin and kind.\n\
         # TYPE {name} counter"
    );
    for (origin, o) in &origins {
        for (failure, count) in OriginFailure::ALL.iter().zip(o.errors) {
            let _ = writeln!(
                out,
                "{name}{{origin=\"{}\",kind=\"{}\"}} {count}",
                escape(origin),
                failure.label()
            );
        }
    }
    let gauges = [
        ("hookyard_origin_connections", "Origin connections open.", totals.origin_open),
        (
            "hookyard_origin_connections_pooled",
            "Origin connections kept for reuse (idle, or reading their last response).",
            totals.origin_pooled,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
}

/// A family of host series: name, type, help, and its value for a host.
type Family = (&'static str, &'static str, &'static str, fn(&crate::pool::HostInfo) -> String);

/// The series of the serving strategies' hosts.
fn host_series(control: &Control, out: &mut String) {
    let hosts = control.hosts();
    if hosts.is_empty() {
        return;
    }
    let families: [Family; 5] = [
        ("hookyard_host_up", "gauge", "1 while a strategy host takes transactions, else 0.", |h| {
            u8::from(h.state == "up").to_string()
        }),
        ("hookyard_host_requests_total", "counter", "Transactions sent to a strategy host.", |h| {
            h.requests.to_string()
        }),
        (
            "hookyard_host_errors_total",
            "counter",
            "Transactions that failed at a strategy host (connect, timeout, 5xx).",
            |h| h.errors.to_string(),
        ),
        (
            "hookyard_host_connects_total",
            "counter",
            "Connections opened to a strategy host.",
            |h| h.connects.to_string(),
        ),
        (
            "hookyard_host_connect_seconds_total",
            "counter",
            "Time spent opening connections to a strategy host.",
            |h| h.connect_seconds.to_string(),
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for host in &hosts {
            let _ = writeln!(out, "{name}{{host=\"{}\"}} {}", escape(&host.name), value(host));
        }
    }
}

/// `hookyard_build_info{version,commit} 1`.
fn build_info(out: &mut String) {
    let name = "hookyard_build_info";
    let _ = writeln!(
        out,
        "# HELP {name} The running build: its version and git commit.\n# TYPE {name} gauge\n\
         {name}{{version=\"{}\",commit=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        env!("HOOKYARD_GIT_COMMIT"),
    );
}

/// One histogram series of durations (written even with no observation yet).
fn duration_histogram(out: &mut String, name: &str, labels: &str, h: &HistogramSnapshot) {
    let mut cumulative = 0;
    for (at, bound) in DURATION_BUCKETS_NS.iter().enumerate() {
        cumulative += h.buckets[at];
        let le = *bound as f64 / 1e9;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
    }
    cumulative += h.buckets[DURATION_BUCKETS_NS.len()];
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_nanos as f64 / 1e9);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

/// Per version of the serving generation's plugins: transactions that ran it as a canary's
/// stable or canary side (each side of a serving canary listed even before its first).
fn canary_series(control: &Control, out: &mut String) {
    let generation = control.reloader.serving().load();
    let canaries = generation.hooks.canaries();
    let name = "hookyard_canary_transactions_total";
    let _ = writeln!(
        out,
        "# HELP {name} Transactions that ran each version of a canaried global plugin, by side."
    );
    let _ = writeln!(out, "# TYPE {name} counter");
    for member in generation.hooks.members() {
        let counts = member.canary_transactions();
        for (at, arm) in ["stable", "canary"].into_iter().enumerate() {
            let serving = canaries.iter().any(|c| {
                let version = if at == 0 { &c.stable } else { &c.canary };
                Arc::ptr_eq(version, member)
            });
            if counts[at] > 0 || serving {
                let _ = writeln!(
                    out,
                    "{name}{{plugin=\"{}\",version=\"{}\",arm=\"{arm}\"}} {}",
                    escape(&member.name),
                    escape(&member.version),
                    counts[at]
                );
            }
        }
    }
}

/// Per endpoint (proxy, metrics, admin): connections open, the cap, and refusals at the cap.
fn connection_series(control: &Control, out: &mut String) {
    let series = [
        ("hookyard_endpoint_connections", "gauge", "Open connections, by endpoint."),
        ("hookyard_endpoint_connections_max", "gauge", "The connection cap, by endpoint."),
        (
            "hookyard_connections_refused_total",
            "counter",
            "Connections closed at once because their endpoint was at its cap.",
        ),
    ];
    for (at, (name, kind, help)) in series.into_iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for limit in control.limits.all() {
            let value = match at {
                0 => limit.open() as u64,
                1 => limit.max() as u64,
                _ => limit.refused(),
            };
            let _ = writeln!(out, "{name}{{endpoint=\"{}\"}} {value}", limit.endpoint());
        }
    }
}

/// Plugin versions by state, and per plugin version and hook: callbacks run and their time.
fn plugin_series(control: &Control, out: &mut String) {
    let versions = control.reloader.plugins();
    let _ = writeln!(out, "# HELP hookyard_plugin_versions Loaded plugin versions, by state.");
    let _ = writeln!(out, "# TYPE hookyard_plugin_versions gauge");
    for state in ["live", "unloading", "pinned", "quarantined"] {
        let n = versions.iter().filter(|v| v.state == state).count();
        let _ = writeln!(out, "hookyard_plugin_versions{{state=\"{state}\"}} {n}");
    }
    dropped_series(&versions, out);
    let generation = control.reloader.serving().load();
    let name = "hookyard_plugin_hook_seconds";
    let _ =
        writeln!(out, "# HELP {name} Time in plugin hook callbacks, per plugin version and hook.");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for member in generation.hooks.members() {
        for hook in HookId::ALL {
            let labels = format!(
                "plugin=\"{}\",version=\"{}\",hook=\"{}\"",
                escape(&member.name),
                escape(&member.version),
                hook.name()
            );
            histogram(out, name, &labels, &member.hook_calls(hook));
        }
    }
    let name = "hookyard_plugin_remap_seconds";
    let _ = writeln!(out, "# HELP {name} Time in plugins' do_remap, per plugin version.");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for member in generation.hooks.members() {
        let labels =
            format!("plugin=\"{}\",version=\"{}\"", escape(&member.name), escape(&member.version));
        histogram(out, name, &labels, &member.remap_calls());
    }
}

/// Events dropped for retired plugins, per plugin and version string: summed over the loaded
/// versions that share both (a retired version and the fresh copy of the same file), so each
/// series is one line; a version that unloads leaves the sum.
fn dropped_series(versions: &[crate::report::PluginVersion], out: &mut String) {
    let mut sums: Vec<(&str, &str, u64)> = Vec::new();
    for v in versions.iter().filter(|v| !v.name.is_empty()) {
        match sums.iter_mut().find(|(n, s, _)| *n == v.name && *s == v.version) {
            Some((_, _, sum)) => *sum += v.dropped_events,
            None => sums.push((&v.name, &v.version, v.dropped_events)),
        }
    }
    let name = "hookyard_plugin_events_dropped_total";
    let _ = writeln!(
        out,
        "# HELP {name} Events for a retired plugin's continuations (scheduled, hook) dropped, not dispatched.\n# TYPE {name} counter"
    );
    for (plugin, version, dropped) in sums {
        let _ = writeln!(
            out,
            "{name}{{plugin=\"{}\",version=\"{}\"}} {dropped}",
            escape(plugin),
            escape(version)
        );
    }
}

/// One histogram series of `calls` (nothing when it has no calls).
fn histogram(out: &mut String, name: &str, labels: &str, calls: &CallsSnapshot) {
    let count = calls.calls;
    if count == 0 {
        return;
    }
    let mut cumulative = 0;
    for (at, bound) in LATENCY_BUCKETS_US.iter().enumerate() {
        cumulative += calls.buckets[at];
        let le = *bound as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
    }
    cumulative += calls.buckets[LATENCY_BUCKETS_US.len()];
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
    let seconds = calls.nanos as f64 / 1e9;
    let _ = writeln!(out, "{name}_sum{{{labels}}} {seconds}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

/// A label value with `\`, `"` and newlines escaped.
/// The statistics plugins made (`stat_create`): counters and gauges in one untyped family,
/// labelled by plugin name and statistic.
fn plugin_stat_series(out: &mut String) {
    let stats = hookyard_host::plugin_stats();
    if stats.is_empty() {
        return;
    }
    let name = "hookyard_plugin_stat";
    let _ =
        writeln!(out, "# HELP {name} Statistics plugins keep (counters and gauges), by plugin.");
    let _ = writeln!(out, "# TYPE {name} untyped");
    for stat in stats {
        let (plugin, stat_name) = (escape(&stat.plugin), escape(&stat.stat));
        let _ = writeln!(out, "{name}{{plugin=\"{plugin}\",stat=\"{stat_name}\"}} {}", stat.value);
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
