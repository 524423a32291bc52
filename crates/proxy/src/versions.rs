//! Loaded plugin versions as the control channel sees and acts on them: the listing of
//! `ctl plugins`, retirement by `ctl plugin retire`, and the dropped events the metrics count.
//!
//! A version is found through the loader (every version it holds: live, unloading, pinned);
//! what it is comes from the plugin that holds it (a global or remap plugin of some generation),
//! or, for a version no generation uses any more, from the host's state of it (kept loaded by
//! its continuations).

use std::time::Instant;

use hookyard_context::{Context, ContextState};
use hookyard_dso::{VersionInfo, VersionState};
use hookyard_host::Link;
use hookyard_remap::{Generations, Retire};
use serde::{Deserialize, Serialize};

use crate::report::PluginVersion;

/// One loaded version with what the control channel needs of it.
struct Loaded {
    info: VersionInfo,
    name: String,
    version: String,
    kind: &'static str,
    instances: usize,
    /// The contexts its code runs in: one per plugin holding it (global, remap, or the state
    /// that outlived both).
    contexts: Vec<Context>,
}

/// Every version the loader holds, in id order.
fn loaded(remap: &Generations, link: &Link) -> Vec<Loaded> {
    let plugins = remap.plugins();
    let (remaps, globals) = (plugins.loaded(), plugins.globals());
    let Some(loader) = plugins.loader() else { return Vec::new() };
    loader
        .snapshot()
        .into_iter()
        .map(|info| {
            let plugin = remaps.iter().find(|p| p.version() == info.id);
            let global = globals.iter().find(|p| p.version() == info.id);
            let identity = plugin.map(|p| p.identity()).or(global.map(|g| g.identity()));
            // A version no generation uses may live on through continuations.
            let kept = identity.is_none().then(|| link.state_of(info.id)).flatten();
            let mut contexts: Vec<Context> = global
                .map(|g| g.context().clone())
                .into_iter()
                .chain(plugin.map(|p| p.context().clone()))
                .collect();
            contexts.extend(kept.as_ref().map(|k| k.context.clone()));
            Loaded {
                name: identity
                    .map(|i| i.name.clone())
                    .or_else(|| kept.as_ref().map(|k| k.name.clone()))
                    .unwrap_or_default(),
                version: identity
                    .map(|i| i.version.clone())
                    .or_else(|| kept.as_ref().map(|k| k.version.clone()))
                    .unwrap_or_default(),
                kind: match (plugin, global) {
                    (Some(_), Some(_)) => "remap+global",
                    (Some(_), None) => "remap",
                    (None, Some(_)) => "global",
                    (None, None) => "",
                },
                instances: plugin.map_or(0, |p| p.instances()),
                contexts,
                info,
            }
        })
        .collect()
}

impl Loaded {
    /// Live continuations over its contexts.
    fn continuations(&self) -> u64 {
        self.contexts.iter().map(|c| c.snapshot().live_continuations).sum()
    }

    /// Scheduled events dispatched over its contexts (hook callbacks are not counted).
    fn invocations(&self) -> u64 {
        self.contexts.iter().map(|c| c.snapshot().invocations).sum()
    }

    /// Events dropped over its contexts.
    fn dropped(&self) -> u64 {
        self.contexts.iter().map(|c| c.snapshot().dropped_events).sum()
    }

    /// Its retirement: the furthest along of its contexts.
    fn retirement(&self) -> Retirement {
        let states = self.contexts.iter().map(Context::state);
        states.map(Retirement::of).max_by_key(Retirement::rank).unwrap_or(Retirement::Active)
    }
}

/// Where a plugin version is in its retirement, as `ctl plugins` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retirement {
    Active,
    /// Its events still dispatch for this long.
    Draining(std::time::Duration),
    /// Its events are dropped (forced, or the drain deadline passed).
    ForceRetired,
}

impl Retirement {
    fn of(state: ContextState) -> Retirement {
        match state {
            ContextState::Active => Retirement::Active,
            ContextState::Retired { drain_deadline: Some(deadline) } => {
                match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Retirement::Draining(left),
                    _ => Retirement::ForceRetired,
                }
            }
            // Retired without a deadline: drains until its continuations are gone.
            ContextState::Retired { drain_deadline: None } => {
                Retirement::Draining(std::time::Duration::MAX)
            }
            _ => Retirement::ForceRetired,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Retirement::Active => 0,
            Retirement::Draining(_) => 1,
            Retirement::ForceRetired => 2,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Retirement::Active => "active",
            Retirement::Draining(_) => "retired",
            Retirement::ForceRetired => "force-retired",
        }
    }

    /// Milliseconds of drain left while draining (rounded up, so a draining version never
    /// shows 0).
    fn drain_left_ms(self) -> Option<u64> {
        match self {
            Retirement::Draining(left) if left != std::time::Duration::MAX => {
                Some(u64::try_from(left.as_micros().div_ceil(1000)).unwrap_or(u64::MAX))
            }
            _ => None,
        }
    }
}

/// Every loaded plugin version as `ctl plugins` shows it.
pub(crate) fn list(
    remap: &Generations,
    link: &Link,
    canaries: &[hookyard_host::Canary],
) -> Vec<PluginVersion> {
    loaded(remap, link)
        .into_iter()
        .map(|v| {
            let retirement = v.retirement();
            PluginVersion {
                id: v.info.id.get(),
                continuations: v.continuations(),
                scheduled_events: v.invocations(),
                dropped_events: v.dropped(),
                retirement: retirement.name().to_owned(),
                drain_left_ms: retirement.drain_left_ms(),
                name: v.name,
                version: v.version,
                path: v.info.path.display().to_string(),
                runtime_path: v.info.runtime_path.display().to_string(),
                references: v.info.references,
                instances: v.instances,
                kind: v.kind.to_owned(),
                state: match v.info.state {
                    VersionState::Live => "live",
                    VersionState::Unloading => "unloading",
                    _ => "pinned",
                }
                .to_owned(),
                age_secs: v.info.loaded_at.elapsed().map_or(0.0, |d| d.as_secs_f64()),
                canary: canaries.iter().find_map(|c| crate::report::CanaryRole::of(c, v.info.id)),
                wasm: None,
            }
        })
        .chain(crate::wasm::versions())
        .collect()
}

/// One version `ctl plugin retire` retired.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RetiredVersion {
    /// The loader's id of the version.
    pub id: u64,
    /// The plugin's name.
    pub name: String,
    /// The version string from its descriptor.
    pub version: String,
    /// Its retirement now: `retired` (draining) or `force-retired`.
    pub state: String,
    /// Milliseconds until its events are dropped, while draining.
    #[serde(default)]
    pub drain_left_ms: Option<u64>,
}

/// Why `ctl plugin retire` retired nothing: no loaded plugin has the name.
#[derive(Debug, thiserror::Error)]
#[error("no loaded plugin is named `{name}` (loaded: {})", if loaded.is_empty() { "none".to_owned() } else { loaded.join(", ") })]
pub struct UnknownPlugin {
    name: String,
    loaded: Vec<String>,
}

/// Retires every loaded version of plugin `name` (global or remap, serving or not): its events
/// dispatch for `how`'s drain, or are dropped from now on; its library is withheld from reuse.
pub(crate) fn retire(
    remap: &Generations,
    link: &Link,
    name: &str,
    how: Retire,
) -> Result<Vec<RetiredVersion>, UnknownPlugin> {
    let all = loaded(remap, link);
    let matching: Vec<&Loaded> =
        all.iter().filter(|v| v.name == name && !v.contexts.is_empty()).collect();
    if matching.is_empty() {
        let mut names: Vec<String> =
            all.iter().filter(|v| !v.name.is_empty()).map(|v| v.name.clone()).collect();
        names.sort();
        names.dedup();
        return Err(UnknownPlugin { name: name.to_owned(), loaded: names });
    }
    Ok(matching
        .into_iter()
        .map(|v| {
            for context in &v.contexts {
                hookyard_remap::retire(context, how);
            }
            let retirement = v.retirement();
            tracing::info!(plugin = %v.name, version = %v.version, id = v.info.id.get(),
                state = retirement.name(), "plugin version retired by the operator");
            RetiredVersion {
                id: v.info.id.get(),
                name: v.name.clone(),
                version: v.version.clone(),
                state: retirement.name().to_owned(),
                drain_left_ms: retirement.drain_left_ms(),
            }
        })
        .collect())
}
