//! `hookyard.yaml`: listeners, the control socket, timeouts and limits.

mod affinity;
mod dns;
mod drain;
mod health_checks;
mod http2;
mod origin_pool;
mod transforms;
mod wasm;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use saphyr::MarkedYaml;
use serde::Serialize;

use super::Problem;
use super::access_log::{self, AccessLogSettings};
use super::forwarding::{self, Forwarding};
use super::origin_tls::{self, OriginTls};
use super::tls::TlsSettings;
use super::yaml::{self, Reader, is_null};
use crate::log::LogSettings;
pub use affinity::CpuAffinity;
pub use dns::Dns;
pub use drain::Drain;
pub use health_checks::HealthChecks;
pub use http2::Http2;
pub use origin_pool::OriginPool;
pub use transforms::Transforms;
pub use wasm::Wasm;

/// The address `run` listens on when neither `--listen` nor `hookyard.yaml` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The path answered by the proxy itself with `200 ok` unless configured otherwise.
pub const DEFAULT_HEALTH_PATH: &str = "/_hookyard/health";

/// Timeouts, each bounded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    /// From a connection's first byte of a request head to its end.
    pub header_read: Duration,
    /// Connecting to an origin (expiry: 504).
    pub origin_connect: Duration,
    /// From sending a request to an origin to its response head (expiry: 504).
    pub origin_response: Duration,
    /// A client connection with no transaction and no traffic is closed after this.
    pub idle: Duration,
    /// How long a stop without a drain (`ServerHandle::shutdown` alone) waits for in-flight
    /// transactions; a drain is bounded by `drain.deadline` instead.
    pub shutdown: Duration,
    /// From a request head to the response head going out (ATS's
    /// `transaction_active_timeout_in`); expiry: 504, or the connection closes.
    pub transaction_active: Duration,
    /// How long one hook callback may stay pending before the transaction (or session) goes on
    /// without it: 504 for a transaction hook; a late resume is refused.
    pub hook_pending: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            header_read: Duration::from_secs(10),
            origin_connect: Duration::from_secs(5),
            origin_response: Duration::from_secs(60),
            idle: Duration::from_secs(60),
            shutdown: Duration::from_secs(30),
            transaction_active: Duration::from_secs(900),
            hook_pending: Duration::from_secs(60),
        }
    }
}

/// Limits on what clients send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// The largest request head (request line and headers) in bytes; larger: 431.
    pub max_header_bytes: usize,
    /// The most header fields in a request; more: 431.
    pub max_headers: usize,
    /// The most client connections open at once, over every listener and worker; `None`: from
    /// the process's open-file limit (half of it, less a reserve: each client connection may
    /// hold an origin connection). Past it, new connections are closed at once.
    pub max_connections: Option<usize>,
    /// The most connections open at once on the metrics address, and on the control socket.
    pub max_control_connections: usize,
    /// A plugin callback (hook or `do_remap`) running longer than this is logged (rate-limited,
    /// naming the plugin): it stalls every connection of its worker meanwhile.
    pub slow_callback: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_connections: None,
            max_control_connections: 64,
            slow_callback: Duration::from_millis(10),
        }
    }
}

/// What a transaction sees when a hook callback of a retired plugin is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DroppedHook {
    /// The transaction goes on as if the callback answered CONTINUE.
    Continue,
    /// The hook fails as if the callback answered ERROR (500); never on TXN_CLOSE or SSN_CLOSE.
    Error,
}

/// How retired plugin versions (dropped by a reload, or `ctl plugin retire`) wind down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Retirement {
    /// How long a retired version's events (scheduled continuations, hook callbacks) still
    /// dispatch; after it they are dropped and counted.
    pub drain: Duration,
    /// What a transaction sees when a dropped event was one of its hooks.
    pub dropped_hook: DroppedHook,
}

impl Default for Retirement {
    fn default() -> Retirement {
        Retirement { drain: Duration::from_secs(30), dropped_hook: DroppedHook::Continue }
    }
}

/// The contents of `hookyard.yaml`; every field has a default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Addresses to accept connections on.
    pub listen: Vec<SocketAddr>,
    /// Addresses to accept TLS connections on.
    pub tls_listen: Vec<SocketAddr>,
    /// The line of `tls_listen` (0: not given).
    #[serde(skip)]
    pub tls_listen_line: usize,
    /// TLS certificates and versions.
    pub tls: TlsSettings,
    /// The control socket; `None`: the default in the runtime directory.
    pub admin: Option<PathBuf>,
    /// Where to serve Prometheus metrics; `None`: nowhere.
    pub metrics: Option<SocketAddr>,
    /// Worker threads (one runtime, listener and origin pool each); `None`: one per core.
    pub workers: Option<usize>,
    /// The CPU each worker thread runs on.
    pub worker_cpu_affinity: CpuAffinity,
    /// The line of `worker_cpu_affinity` (0: not given).
    #[serde(skip)]
    pub worker_cpu_affinity_line: usize,
    /// Where plugins are looked for, in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// Where plugin copies and the default control socket live; `None`: the default.
    pub runtime_dir: Option<PathBuf>,
    /// The line of `runtime_dir` (0: not given).
    #[serde(skip)]
    pub runtime_dir_line: usize,
    /// Load changed plugins as new versions beside the old; `false` loads each file in place,
    /// once (ATS's `proxy.config.plugin.dynamic_reload_mode` 0).
    pub dynamic_reload: bool,
    /// Reload on a change in the configuration directory or a plugin file (debounced; read at
    /// start only).
    pub watch: bool,
    /// A path the proxy answers itself with `200 ok`, for load balancers; `None`: none.
    pub health_path: Option<String>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Limits.
    pub limits: Limits,
    /// Retired plugin versions.
    pub retirement: Retirement,
    /// HTTP/2 to clients.
    pub http2: Http2,
    /// How `https://` origins are verified.
    pub origin_tls: OriginTls,
    /// The forwarding headers added (`Via`, `X-Forwarded-For`, `Forwarded`).
    pub forwarding: Forwarding,
    /// The process log's format and filter (read at start).
    pub log: LogSettings,
    /// The access log; `None`: none.
    #[serde(serialize_with = "access_log::serialize")]
    pub access_log: Option<Arc<AccessLogSettings>>,
    /// How a drain (`ctl drain`, SIGTERM, an upgrade) winds the proxy down.
    pub drain: Drain,
    /// Body transforms plugins add.
    pub transforms: Transforms,
    /// How the hosts of `strategies.yaml` are checked and marked down.
    pub health_checks: HealthChecks,
    /// How origin host names are resolved.
    pub dns: Dns,
    /// The limits of WebAssembly plugins.
    pub wasm: Wasm,
    /// Each worker's connections per origin host (read at start).
    pub origin_pool: OriginPool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            listen: vec![
                DEFAULT_LISTEN.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            ],
            tls_listen: Vec::new(),
            tls_listen_line: 0,
            tls: TlsSettings::default(),
            admin: None,
            metrics: None,
            workers: None,
            worker_cpu_affinity: CpuAffinity::Off,
            worker_cpu_affinity_line: 0,
            plugin_dirs: Vec::new(),
            runtime_dir: None,
            runtime_dir_line: 0,
            dynamic_reload: true,
            watch: false,
            health_path: Some(DEFAULT_HEALTH_PATH.to_owned()),
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            retirement: Retirement::default(),
            http2: Http2::default(),
            origin_tls: OriginTls::default(),
            forwarding: Forwarding::default(),
            log: LogSettings::default(),
            access_log: None,
            drain: Drain::default(),
            transforms: Transforms::default(),
            health_checks: HealthChecks::default(),
            dns: Dns::default(),
            wasm: Wasm::default(),
            origin_pool: OriginPool::default(),
        }
    }
}

const KEYS: &str = "listen, tls_listen, tls, admin, metrics, workers, worker_cpu_affinity, \
                    plugin_dirs, runtime_dir, dynamic_reload, watch, health_path, timeouts, \
                    limits, retirement, http2, origin_tls, forwarding, log, access_log, drain, \
                    transforms, health_checks, dns, wasm, origin_pool";

impl Settings {
    /// Parses a `hookyard.yaml` text; relative paths are taken from `dir`.
    ///
    /// # Errors
    ///
    /// Every problem, each with `file:line: reason`.
    pub fn parse(file: &Path, dir: &Path, text: &str) -> Result<Settings, Vec<Problem>> {
        let root = yaml::load(file, text).map_err(|p| vec![p])?;
        let mut settings = Settings::default();
        let Some(root) = root else { return Ok(settings) };
        if is_null(&root) {
            return Ok(settings);
        }
        let mut r = Reader::new(file);
        let path = |p: String| dir.join(p);
        for (name, key, value) in r.mapping(&root, "hookyard.yaml") {
            match name {
                "listen" => {
                    let mut addrs = Vec::new();
                    for text in r.strings(value, "`listen`") {
                        match text.parse::<SocketAddr>() {
                            Ok(addr) => addrs.push(addr),
                            Err(_) => r.error(
                                value,
                                format!("`listen`: `{text}` is not an IP:PORT address"),
                            ),
                        }
                    }
                    if addrs.is_empty() {
                        r.error(value, "`listen` needs at least one address");
                    } else {
                        settings.listen = addrs;
                    }
                }
                "tls_listen" => {
                    settings.tls_listen = addresses(&mut r, value, "`tls_listen`");
                    settings.tls_listen_line = key.span.start.line();
                }
                "tls" => super::tls::tls(&mut r, dir, value, &mut settings.tls),
                "admin" => settings.admin = r.string(value, "`admin`").map(path),
                "metrics" => {
                    if !is_null(value) {
                        settings.metrics = r.string(value, "`metrics`").and_then(|text| {
                            text.parse()
                                .map_err(|_| {
                                    r.error(
                                        value,
                                        format!("`metrics`: `{text}` is not an IP:PORT address"),
                                    )
                                })
                                .ok()
                        });
                    }
                }
                "workers" => {
                    settings.workers = r.count(value, "`workers`", 1024).map(|n| n as usize)
                }
                "worker_cpu_affinity" => {
                    if let Some(affinity) = affinity::parse(&mut r, value) {
                        settings.worker_cpu_affinity = affinity;
                    }
                    settings.worker_cpu_affinity_line = key.span.start.line();
                }
                "plugin_dirs" => {
                    settings.plugin_dirs =
                        r.strings(value, "`plugin_dirs`").into_iter().map(path).collect()
                }
                "runtime_dir" => {
                    settings.runtime_dir = r.string(value, "`runtime_dir`").map(path);
                    settings.runtime_dir_line = key.span.start.line();
                }
                "dynamic_reload" => {
                    settings.dynamic_reload = r.bool(value, "`dynamic_reload`").unwrap_or(true)
                }
                "watch" => settings.watch = r.bool(value, "`watch`").unwrap_or(false),
                "health_path" => {
                    settings.health_path = if is_null(value) {
                        None
                    } else {
                        r.string(value, "`health_path`").filter(|p| {
                            let ok = p.starts_with('/');
                            if !ok {
                                r.error(value, "`health_path` must start with /");
                            }
                            ok
                        })
                    }
                }
                "timeouts" => timeouts(&mut r, value, &mut settings.timeouts),
                "limits" => limits(&mut r, value, &mut settings.limits),
                "retirement" => retirement(&mut r, value, &mut settings.retirement),
                "http2" => http2::parse(&mut r, value, &mut settings.http2),
                "origin_tls" => origin_tls::parse(&mut r, value, dir, &mut settings.origin_tls),
                "forwarding" => forwarding::parse(&mut r, value, &mut settings.forwarding),
                "log" => log(&mut r, value, &mut settings.log),
                "access_log" => settings.access_log = access_log::parse(&mut r, dir, value),
                "drain" => drain::parse(&mut r, value, &mut settings.drain),
                "transforms" => transforms::parse(&mut r, value, &mut settings.transforms),
                "health_checks" => {
                    health_checks::parse(&mut r, value, &mut settings.health_checks);
                }
                "dns" => dns::parse(&mut r, value, &mut settings.dns),
                "wasm" => wasm::parse(&mut r, value, &mut settings.wasm),
                "origin_pool" => origin_pool::parse(&mut r, value, &mut settings.origin_pool),
                other => r.unknown(key, other, "hookyard.yaml", KEYS),
            }
        }
        if r.problems.is_empty() { Ok(settings) } else { Err(r.problems) }
    }
}

/// A list of `IP:PORT` addresses.
fn addresses(r: &mut Reader<'_>, value: &MarkedYaml<'_>, what: &str) -> Vec<SocketAddr> {
    let mut addrs = Vec::new();
    for text in r.strings(value, what) {
        match text.parse::<SocketAddr>() {
            Ok(addr) => addrs.push(addr),
            Err(_) => r.error(value, format!("{what}: `{text}` is not an IP:PORT address")),
        }
    }
    addrs
}

/// `timeouts:` of `hookyard.yaml`, into `t`.
fn timeouts(r: &mut Reader<'_>, value: &MarkedYaml<'_>, t: &mut Timeouts) {
    for (name, key, value) in r.mapping(value, "`timeouts`") {
        let slot = match name {
            "header_read" => &mut t.header_read,
            "origin_connect" => &mut t.origin_connect,
            "origin_response" => &mut t.origin_response,
            "idle" => &mut t.idle,
            "shutdown" => &mut t.shutdown,
            "transaction_active" => &mut t.transaction_active,
            "hook_pending" => &mut t.hook_pending,
            other => {
                r.unknown(
                    key,
                    other,
                    "`timeouts`",
                    "header_read, origin_connect, origin_response, idle, \
                         shutdown, transaction_active, hook_pending",
                );
                continue;
            }
        };
        if let Some(d) = r.duration(value, &format!("`timeouts.{name}`")) {
            *slot = d;
        }
    }
}

/// `limits:` of `hookyard.yaml`, into `l`.
fn limits(r: &mut Reader<'_>, value: &MarkedYaml<'_>, l: &mut Limits) {
    for (name, key, value) in r.mapping(value, "`limits`") {
        match name {
            "max_header_bytes" => {
                if let Some(n) = r.count(value, "`limits.max_header_bytes`", 1 << 20) {
                    l.max_header_bytes = n as usize;
                }
            }
            "max_headers" => {
                if let Some(n) = r.count(value, "`limits.max_headers`", 10_000) {
                    l.max_headers = n as usize;
                }
            }
            "max_connections" => {
                if let Some(n) = r.count(value, "`limits.max_connections`", 10_000_000) {
                    l.max_connections = Some(n.max(1) as usize);
                }
            }
            "max_control_connections" => {
                if let Some(n) = r.count(value, "`limits.max_control_connections`", 100_000) {
                    l.max_control_connections = n.max(1) as usize;
                }
            }
            "slow_callback" => {
                if let Some(d) = r.duration(value, "`limits.slow_callback`") {
                    l.slow_callback = d;
                }
            }
            other => r.unknown(
                key,
                other,
                "`limits`",
                "max_header_bytes, max_headers, max_connections, \
                     max_control_connections, slow_callback",
            ),
        }
    }
}

/// `retirement:` of `hookyard.yaml`, into `t`.
fn retirement(r: &mut Reader<'_>, value: &MarkedYaml<'_>, t: &mut Retirement) {
    for (name, key, value) in r.mapping(value, "`retirement`") {
        match name {
            "drain" => {
                if let Some(d) = r.duration(value, "`retirement.drain`") {
                    t.drain = d;
                }
            }
            "dropped_hook" => match r.string(value, "`retirement.dropped_hook`").as_deref() {
                Some("continue") => t.dropped_hook = DroppedHook::Continue,
                Some("error") => t.dropped_hook = DroppedHook::Error,
                Some(other) => r.error(
                    value,
                    format!("`retirement.dropped_hook`: `{other}` is not `continue` or `error`"),
                ),
                None => {}
            },
            other => r.unknown(key, other, "`retirement`", "drain, dropped_hook"),
        }
    }
}

/// `log:` of `hookyard.yaml`, into `l`.
fn log(r: &mut Reader<'_>, value: &MarkedYaml<'_>, l: &mut LogSettings) {
    for (name, key, value) in r.mapping(value, "`log`") {
        match name {
            "format" => match r.string(value, "`log.format`").map(|f| f.parse()) {
                Some(Ok(format)) => l.format = format,
                Some(Err(reason)) => r.error(value, format!("`log.format`: {reason}")),
                None => {}
            },
            "level" => {
                if let Some(level) = r.string(value, "`log.level`") {
                    match crate::log::parse(&level) {
                        Ok(_) => l.level = Some(level),
                        Err(e) => r.error(value, format!("`log.level`: {e}")),
                    }
                }
            }
            other => r.unknown(key, other, "`log`", "format, level"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ForwardedParams, Via};

    pub(super) fn parse(text: &str) -> Result<Settings, Vec<String>> {
        Settings::parse(Path::new("/c/hookyard.yaml"), Path::new("/c"), text)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(parse(""), Ok(Settings::default()));
        assert_eq!(parse("~\n"), Ok(Settings::default()));
    }

    #[test]
    fn every_key() {
        let s = parse(
            "listen: [127.0.0.1:1, '[::1]:2']\nadmin: run/admin.sock\nmetrics: 127.0.0.1:9\n\
             workers: 3\nplugin_dirs: p\nruntime_dir: /r\ndynamic_reload: false\nwatch: true\n\
             health_path: ~\ntimeouts: {idle: 2m, origin_response: 250ms, shutdown: 3, \
             transaction_active: 5m, hook_pending: 2s}\n\
             limits: {max_header_bytes: 9000, max_headers: 20, max_connections: 500, \
             max_control_connections: 8, slow_callback: 50ms}\n",
        )
        .unwrap();
        assert_eq!(s.listen.len(), 2);
        assert_eq!(s.admin, Some(PathBuf::from("/c/run/admin.sock")));
        assert_eq!(s.workers, Some(3));
        assert_eq!(s.plugin_dirs, vec![PathBuf::from("/c/p")]);
        assert!(!s.dynamic_reload && s.watch && s.health_path.is_none());
        assert_eq!(s.timeouts.idle, Duration::from_secs(120));
        assert_eq!(s.timeouts.origin_response, Duration::from_millis(250));
        assert_eq!(s.timeouts.shutdown, Duration::from_secs(3));
        assert_eq!(s.limits.max_header_bytes, 9000);
        assert_eq!(s.timeouts.transaction_active, Duration::from_secs(300));
        assert_eq!(s.timeouts.hook_pending, Duration::from_secs(2));
        assert_eq!(s.limits.max_connections, Some(500));
        assert_eq!(s.limits.max_control_connections, 8);
        assert_eq!(s.limits.slow_callback, Duration::from_millis(50));
    }

    #[test]
    fn every_problem_with_its_line() {
        let errors =
            parse("listen: nowhere\nbogus: 1\ntimeouts:\n  idle: soon\n  nap: 1s\nworkers: 0\n")
                .unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/hookyard.yaml:1: `listen`: `nowhere` is not an IP:PORT address",
                "/c/hookyard.yaml:1: `listen` needs at least one address",
                "/c/hookyard.yaml:2: unknown key `bogus` in hookyard.yaml (expected listen, tls_listen, tls, admin, metrics, workers, worker_cpu_affinity, plugin_dirs, runtime_dir, dynamic_reload, watch, health_path, timeouts, limits, retirement, http2, origin_tls, forwarding, log, access_log, drain, transforms, health_checks, dns, wasm, origin_pool)",
                "/c/hookyard.yaml:4: `timeouts.idle` must be a positive duration such as 500ms, 10s, 2m or 1h (or a number of seconds), at most 8760h",
                "/c/hookyard.yaml:5: unknown key `nap` in `timeouts` (expected header_read, origin_connect, origin_response, idle, shutdown, transaction_active, hook_pending)",
                "/c/hookyard.yaml:6: `workers` must be an integer from 1 to 1024",
            ]
        );
    }

    /// Regression: these passed and then panicked every worker (`Instant + Duration` overflow).
    #[test]
    fn timeouts_beyond_a_year_are_refused() {
        for value in ["9223372036854775807", "'18446744073709551615s'", "8761h", "31536001"] {
            let errors = parse(&format!("timeouts:\n  idle: {value}\n")).unwrap_err();
            assert_eq!(errors.len(), 1, "{value}: {errors:?}");
            assert!(errors[0].ends_with("at most 8760h"), "{value}: {errors:?}");
        }
        let s = parse("timeouts: {idle: 8760h, shutdown: 31536000}\n").unwrap();
        assert_eq!(s.timeouts.idle, Duration::from_secs(31_536_000));
    }

    #[test]
    fn retirement_defaults_and_values() {
        let defaults = parse("").unwrap().retirement;
        assert_eq!(defaults.drain, Duration::from_secs(30));
        assert_eq!(defaults.dropped_hook, DroppedHook::Continue);
        let s = parse("retirement:\n  drain: 300ms\n  dropped_hook: error\n").unwrap();
        assert_eq!(s.retirement.drain, Duration::from_millis(300));
        assert_eq!(s.retirement.dropped_hook, DroppedHook::Error);
        let s = parse("retirement: {drain: 2, dropped_hook: continue}\n").unwrap();
        assert_eq!(s.retirement.drain, Duration::from_secs(2));
        assert_eq!(s.retirement.dropped_hook, DroppedHook::Continue);
    }

    #[test]
    fn retirement_problems_with_their_lines() {
        let errors =
            parse("retirement:\n  drain: soon\n  dropped_hook: ignore\n  grace: 1s\n").unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/hookyard.yaml:2: `retirement.drain` must be a positive duration such as 500ms, 10s, 2m or 1h (or a number of seconds), at most 8760h",
                "/c/hookyard.yaml:3: `retirement.dropped_hook`: `ignore` is not `continue` or `error`",
                "/c/hookyard.yaml:4: unknown key `grace` in `retirement` (expected drain, dropped_hook)",
            ]
        );
        assert_eq!(
            parse("limits: {}\nretirement: 5\n").unwrap_err(),
            ["/c/hookyard.yaml:2: `retirement` must be a mapping, found an integer"]
        );
        let errors = parse("retirement: {dropped_hook: 1, drain: 0}\n").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("`retirement.dropped_hook` must be a non-empty string"));
        assert!(errors[1].starts_with("/c/hookyard.yaml:1: `retirement.drain` must be"));
    }

    #[test]
    fn forwarding_defaults_are_atss_but_via_both_ways() {
        let f = parse("").unwrap().forwarding;
        assert_eq!(f.via, Via { request: true, response: true });
        assert!(!f.via_hostname.is_empty());
        assert!(!f.x_forwarded_for && !f.forwarded.any());
        let f = parse(
            "forwarding: {via: request, via_hostname: edge-1.example, x_forwarded_for: true, \
             forwarded: [for, by]}\n",
        )
        .unwrap()
        .forwarding;
        assert_eq!(f.via, Via { request: true, response: false });
        assert_eq!(f.via_hostname, "edge-1.example");
        assert!(f.x_forwarded_for);
        assert_eq!(f.forwarded, ForwardedParams { r#for: true, by: true, ..Default::default() });
        let f = parse("forwarding: {via: false, forwarded: true}\n").unwrap().forwarding;
        assert_eq!(f.via, Via { request: false, response: false });
        assert_eq!(
            f.forwarded,
            ForwardedParams { r#for: true, proto: true, host: true, by: false }
        );
    }

    #[test]
    fn forwarding_problems_with_their_lines() {
        let errors = parse(
            "forwarding:\n  via: both\n  via_hostname: 'a b'\n  x_forwarded_for: 1\n  \
             forwarded: [for, path]\n  insert: 1\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "/c/hookyard.yaml:2: `forwarding.via` must be true, false, `request` or `response`, found `both`",
                "/c/hookyard.yaml:3: `forwarding.via_hostname`: `a b` is not a host name (letters, digits, `-`, `.`, `_`, `~`)",
                "/c/hookyard.yaml:4: `forwarding.x_forwarded_for` must be true or false, found an integer",
                "/c/hookyard.yaml:5: `forwarding.forwarded`: `path` is not a parameter (by, for, host, proto)",
                "/c/hookyard.yaml:6: unknown key `insert` in `forwarding` (expected via, via_hostname, x_forwarded_for, forwarded)",
            ]
        );
    }

    #[test]
    fn origin_tls_reads_its_ca_file_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let parse_in = |text: &str| {
            Settings::parse(&dir.path().join("hookyard.yaml"), dir.path(), text)
                .map_err(|ps| ps.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        let defaults = parse_in("").unwrap().origin_tls;
        assert!(defaults.verify && defaults.ca_file.is_none() && defaults.ca_certs.is_empty());
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_owned()]).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
        std::fs::write(dir.path().join("empty.pem"), "").unwrap();
        let t = parse_in("origin_tls: {ca_file: ca.pem, verify: false}\n").unwrap().origin_tls;
        assert_eq!(t.ca_file, Some(dir.path().join("ca.pem")));
        assert_eq!(t.ca_certs.len(), 1);
        assert!(!t.verify);
        let errors =
            parse_in("origin_tls:\n  ca_file: missing.pem\n  verify: maybe\norigin_tls_x: 1\n")
                .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        let want = format!(
            "hookyard.yaml:2: `origin_tls.ca_file`: cannot read {}: No such file or directory \
             (os error 2)",
            dir.path().join("missing.pem").display()
        );
        assert!(errors[0].ends_with(&want), "{errors:?}");
        assert!(
            errors[1].ends_with(
                "hookyard.yaml:3: `origin_tls.verify` must be true or false, found a string"
            ),
            "{errors:?}"
        );
        let errors = parse_in("origin_tls: {ca_file: /dev/zero}\n").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].ends_with("not a regular file; only regular files are read"),
            "{errors:?}"
        );
        let errors = parse_in("origin_tls: {ca_file: empty.pem}\n").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].ends_with("empty.pem has no PEM certificate"), "{errors:?}");
    }

    #[test]
    fn log_format_and_level() {
        use crate::log::LogFormat;
        assert_eq!(parse("").unwrap().log, LogSettings::default());
        let l = parse("log: {format: json, level: 'warn,hookyard=debug'}\n").unwrap().log;
        assert_eq!(l.format, LogFormat::Json);
        assert_eq!(l.level.as_deref(), Some("warn,hookyard=debug"));
        let errors =
            parse("log:\n  format: xml\n  level: 'hookyard=loud'\n  file: x\n").unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0], "/c/hookyard.yaml:2: `log.format`: `xml` is not `text` or `json`");
        assert!(
            errors[1].starts_with(
                "/c/hookyard.yaml:3: `log.level`: `hookyard=loud` is not a log filter"
            ),
            "{errors:?}"
        );
        assert_eq!(
            errors[2],
            "/c/hookyard.yaml:4: unknown key `file` in `log` (expected format, level)"
        );
    }

    #[test]
    fn invalid_yaml() {
        let errors = parse("listen: [\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("/c/hookyard.yaml:"), "{errors:?}");
        assert!(errors[0].contains("invalid YAML"), "{errors:?}");
    }
}
