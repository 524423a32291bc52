//! Plugin statistics (since ABI 1.4; ATS's `TSStatCreate` family): counters and gauges the
//! proxy shows on its metrics endpoint as `hookyard_plugin_stat{plugin,stat}`.

use hookyard_abi as abi;

use crate::error::Error;
use crate::host::{Host, checked};

/// What a statistic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatKind {
    /// Only grows: [`Stat::increment`] with amounts of 0 or more.
    Counter,
    /// Any value: [`Stat::increment`] (either sign) and [`Stat::set`].
    Gauge,
}

impl StatKind {
    fn raw(self) -> abi::hy_stat_kind {
        match self {
            StatKind::Counter => abi::HY_STAT_COUNTER,
            StatKind::Gauge => abi::HY_STAT_GAUGE,
        }
    }
}

/// One of the plugin's statistics; cheap to copy, usable from any thread while the host is
/// available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    id: i32,
}

impl Host {
    /// Creates the plugin's statistic `name` (1 to 128 bytes of `[A-Za-z0-9_.:-]`), or finds
    /// the one made before by any version of this plugin (values survive reloads).
    ///
    /// # Errors
    ///
    /// The host refused: a bad name, the same name with the other kind, too many statistics.
    pub fn stat_create(self, name: &str, kind: StatKind) -> Result<Stat, Error> {
        let mut id = 0;
        // SAFETY: `name` is readable for its length; `id` is a valid out-parameter.
        let result = unsafe {
            (self.api.stat_create)(
                self.api.plugin,
                name.as_ptr().cast(),
                name.len(),
                kind.raw(),
                &mut id,
            )
        };
        checked(result, "stat_create")?;
        Ok(Stat { id })
    }
}

impl Stat {
    /// Adds `amount` (a counter: 0 or more).
    ///
    /// # Errors
    ///
    /// The host refused (a negative amount on a counter), or is not available.
    pub fn increment(self, amount: i64) -> Result<(), Error> {
        let api = Host::require()?.api;
        // SAFETY: a plain call on the plugin's own handle.
        checked(unsafe { (api.stat_increment)(api.plugin, self.id, amount) }, "stat_increment")
    }

    /// Sets a gauge to `value`.
    ///
    /// # Errors
    ///
    /// The host refused (the statistic is a counter), or is not available.
    pub fn set(self, value: i64) -> Result<(), Error> {
        let api = Host::require()?.api;
        // SAFETY: a plain call on the plugin's own handle.
        checked(unsafe { (api.stat_set)(api.plugin, self.id, value) }, "stat_set")
    }

    /// The statistic's value.
    ///
    /// # Errors
    ///
    /// The host refused, or is not available.
    pub fn get(self) -> Result<i64, Error> {
        let api = Host::require()?.api;
        let mut value = 0;
        // SAFETY: `value` is a valid out-parameter.
        checked(unsafe { (api.stat_get)(api.plugin, self.id, &mut value) }, "stat_get")?;
        Ok(value)
    }
}
