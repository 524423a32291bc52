//! Entry points for the benches in `crates/proxy/benches/`. Not an API: hidden from the
//! documentation, changed with the code they reach, never used by the proxy itself.
//!
//! They reach host selection (`pool.rs`) without a server: a strategy of a `strategies.yaml`
//! text, asked for a host as a transaction asks.

use crate::config::strategies::HashKey;
use crate::pool::{Attempts, HostTable, Strategy};

/// The first strategy of a `strategies.yaml` text, with hosts of its own.
pub struct Selector {
    strategy: Strategy,
    hosts: HostTable,
}

impl Selector {
    /// The first strategy of `yaml`.
    ///
    /// # Errors
    ///
    /// The text has problems (as `file:line: reason` lines), or no strategy.
    pub fn new(yaml: &str) -> Result<Selector, String> {
        let file = std::path::Path::new("strategies.yaml");
        let parsed = crate::config::strategies::parse(file, yaml).map_err(|problems| {
            problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        })?;
        let spec = parsed.strategies.first().ok_or("no strategy")?;
        let hosts = HostTable::default();
        let strategy = Strategy::new(spec, &hosts);
        Ok(Selector { strategy, hosts })
    }

    /// The port of the host a transaction's first try takes, with `hash` its key's hash.
    pub fn select(&self, hash: u64) -> Option<u16> {
        let mut attempts = Attempts::default();
        self.strategy.select(hash, &mut attempts).map(|m| m.host.port)
    }

    /// The hash a `consistent_hash` strategy keys `path` by (`hash_key: path`).
    pub fn path_hash(path: &str) -> u64 {
        crate::pool::key_hash(HashKey::Path, "http", "", path, "")
    }

    /// Marks host `name` (`host:port`) down, as `ctl host down` does.
    ///
    /// # Errors
    ///
    /// No host of the strategy has that name.
    pub fn mark_down(&self, name: &str) -> Result<(), String> {
        let known: Vec<_> = self.strategy.members().map(|m| m.host.clone()).collect();
        self.hosts.mark(name, Some("bench"), &known).map(drop).map_err(|e| e.to_string())
    }
}
