//! The control plane: what the control socket and the metrics endpoint see of a running server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::limit::ConnLimits;
use crate::reload::Reloader;
use crate::report::{RuleInfo, Status};
use crate::sample::Sampler;
use crate::stats::Stats;

/// What the control channel and the metrics read and do.
pub(crate) struct Control {
    pub(crate) reloader: Arc<Reloader>,
    pub(crate) sampler: Arc<Sampler>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) limits: Arc<ConnLimits>,
    pub(crate) started: Instant,
    /// The plain listen addresses.
    pub(crate) addrs: Vec<SocketAddr>,
    /// The TLS listeners' side.
    pub(crate) tls: Arc<crate::tls::TlsServer>,
    /// The control socket, if one is served.
    pub(crate) admin_path: Option<PathBuf>,
    /// The bound metrics address, if metrics are served.
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// The access log's writer.
    pub(crate) access_log: Arc<crate::access_log::AccessLog>,
    /// Whether and since when the server drains.
    pub(crate) drain: Arc<crate::drain::Drain>,
    /// The sockets kept for a successor (`run --takeover`).
    pub(crate) handover: crate::server::Handover,
    /// The settings the server started with: those read at start only stay in force.
    pub(crate) start_settings: Box<crate::config::Settings>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").field("addrs", &self.addrs).finish_non_exhaustive()
    }
}

impl Control {
    /// A snapshot of the server's state (`ctl status`).
    pub(crate) fn status(&self) -> Status {
        let generation = self.reloader.serving().load();
        let totals = self.stats.totals();
        let (ok, failed) = self.reloader.counts();
        Status {
            generation: generation.id,
            source: generation.config.source.to_string(),
            uptime_secs: self.started.elapsed().as_secs_f64(),
            workers: self.stats.workers.len(),
            listen: self.addrs.iter().map(ToString::to_string).collect(),
            listen_tls: self.tls.addrs().map(|a| a.to_string()).collect(),
            connections: totals.connections,
            in_flight: totals.in_flight,
            requests: totals.responses.iter().sum(),
            reloads_ok: ok,
            reloads_failed: failed,
            rules: generation.remap.rules().rules().len(),
            draining: self.drain.is_draining(),
        }
    }

    /// The settings in force (`ctl config`): the serving generation's `hookyard.yaml` with its
    /// defaults, but the start's for those read at start only, and what the command line and
    /// start-up decided instead — the bound listen, TLS and metrics addresses, the control
    /// socket, the worker count and the runtime directory.
    pub(crate) fn effective_settings(&self) -> Result<serde_json::Value, serde_json::Error> {
        let generation = self.reloader.serving().load();
        let mut settings = generation.config.settings.clone();
        crate::reload::keep_start_only(&mut settings, &self.start_settings);
        settings.listen.clone_from(&self.addrs);
        settings.tls_listen = self.tls.addrs().collect();
        settings.admin.clone_from(&self.admin_path);
        settings.metrics = self.metrics_addr;
        settings.workers = Some(self.stats.workers.len());
        settings.runtime_dir = Some(crate::config::runtime_dir(settings.runtime_dir.as_deref()));
        serde_json::to_value(settings)
    }

    /// Starts draining with the serving generation's `drain` settings (`ctl drain`); what
    /// the drain started with.
    pub(crate) fn drain(&self) -> crate::report::Draining {
        let settings = self.reloader.serving().load().config.settings.drain.clone();
        let (started, first) = self.drain.start(&settings);
        if first {
            tracing::info!(grace = ?started.grace, deadline = ?started.deadline, "draining");
            crate::notify::notify("STOPPING=1\nSTATUS=draining");
        }
        crate::report::Draining::of(&started)
    }

    /// The serving generation's global callbacks per hook (`ctl hooks`).
    pub(crate) fn hooks(&self) -> Vec<crate::report::HookInfo> {
        let generation = self.reloader.serving().load();
        crate::report::hook_listing(
            &generation.hooks.table.load(),
            &generation.hooks.priorities,
            &hookyard_hooks::Local::default(),
        )
    }

    /// The serving strategies' hosts with their state and counters (`ctl hosts`).
    pub(crate) fn hosts(&self) -> Vec<crate::pool::HostInfo> {
        let generation = self.reloader.serving().load();
        generation.pools.hosts().iter().map(|host| host.info()).collect()
    }

    /// Marks the hosts called `name` (`host:port`, or a host for each of its ports) down with
    /// `reason`, or up with `None` (`ctl host down|up`); the hosts changed. The mark holds
    /// across reloads, until `ctl host up`.
    pub(crate) fn mark_host(
        &self,
        name: &str,
        reason: Option<&str>,
    ) -> Result<Vec<String>, crate::pool::UnknownHost> {
        let known = self.reloader.serving().load().pools.hosts();
        self.reloader.hosts().mark(name, reason, &known)
    }

    /// The serving rules with their plugin instances (`ctl rules`).
    pub(crate) fn rules(&self) -> Vec<RuleInfo> {
        let generation = self.reloader.serving().load();
        generation
            .remap
            .rules()
            .rules()
            .iter()
            .map(|rule| RuleInfo {
                at: format!("{}:{}", rule.file.display(), rule.line),
                rule: rule.to_string(),
                plugins: generation
                    .remap
                    .chain(rule)
                    .instances()
                    .iter()
                    .map(|i| {
                        let identity = i.plugin().identity();
                        format!(
                            "{} {} (#{})",
                            identity.name,
                            identity.version,
                            i.plugin().version()
                        )
                    })
                    .collect(),
            })
            .collect()
    }
}
