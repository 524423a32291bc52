//! Canaries of global plugins: two versions of one plugin in one generation, and the side each
//! transaction (and session) runs.
//!
//! A generation's [`Canary`]s tag the global callbacks of their versions with an
//! [`Arm`](hookyard_hooks::Arm) (canary `n` of the generation: `Stable(n)` or `Canary(n)`); a
//! transaction chooses a side of every canary when its state is made, and its dispatches skip
//! the callbacks of the other side. A generation without canaries costs a transaction one
//! length check: no hashing, no random number, no count.

use std::net::IpAddr;
use std::sync::Arc;

use hookyard_hooks::{Arm, Arms};

use crate::plugin::PluginState;

/// Shares are kept in millionths: `percent: 0.5` is 5,000.
pub const SHARE_SCALE: u32 = 1_000_000;

/// How a canary chooses the side of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// By the client's IP address (not its port): a client gets the same side on every
    /// transaction while the share is unchanged; session hooks run that side too.
    Client,
    /// Each transaction on its own, at random; session hooks run both sides.
    Request,
}

impl Split {
    /// `client` or `request`, as `plugin.yaml` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Split::Client => "client",
            Split::Request => "request",
        }
    }
}

/// One canary: the stable and the canary version of one global plugin, and the canary's share.
#[derive(Clone)]
pub struct Canary {
    /// The version most traffic runs.
    pub stable: Arc<PluginState>,
    /// The version on trial.
    pub canary: Arc<PluginState>,
    /// The canary's share of transactions (or clients), in millionths (at most
    /// [`SHARE_SCALE`]).
    pub share: u32,
    /// How a transaction's side is chosen.
    pub by: Split,
}

impl std::fmt::Debug for Canary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canary")
            .field("plugin", &self.stable.name)
            .field("stable", &self.stable.version)
            .field("canary", &self.canary.version)
            .field("share", &self.share)
            .field("by", &self.by)
            .finish()
    }
}

impl Canary {
    /// The canary's share as a percentage.
    pub fn percent(&self) -> f64 {
        f64::from(self.share) * 100.0 / f64::from(SHARE_SCALE)
    }

    /// Whether `client` falls on the canary side (the same answer for the same address, share
    /// and plugin name, in every generation and process).
    fn client_on_canary(&self, client: Option<IpAddr>) -> bool {
        client.is_some_and(|ip| bucket(ip, &self.stable.name) < self.share)
    }
}

/// The canaries of one generation, in `plugin.yaml` order (canary `n` is the `n`th).
#[derive(Clone, Debug, Default)]
pub(crate) struct Canaries(Vec<Canary>);

impl Canaries {
    /// At most [`Arms::MAX`] canaries: the rest are dropped with a warning by the caller.
    pub(crate) fn new(canaries: Vec<Canary>) -> Canaries {
        Canaries(canaries)
    }

    pub(crate) fn all(&self) -> &[Canary] {
        &self.0
    }

    /// The side `plugin`'s global callbacks are on in this generation.
    pub(crate) fn arm_of(&self, plugin: &PluginState) -> Arm {
        self.0
            .iter()
            .enumerate()
            .find_map(|(n, c)| {
                let n = u8::try_from(n).ok()?;
                if std::ptr::eq(&*c.stable, plugin) {
                    Some(Arm::Stable(n))
                } else if std::ptr::eq(&*c.canary, plugin) {
                    Some(Arm::Canary(n))
                } else {
                    None
                }
            })
            .unwrap_or(Arm::Both)
    }

    /// Chooses a transaction's side of every canary, and counts it for the version chosen.
    #[inline]
    pub(crate) fn transaction(&self, client: Option<IpAddr>) -> Arms {
        let mut arms = Arms::default();
        if self.0.is_empty() {
            return arms;
        }
        for (n, canary) in self.0.iter().enumerate().take(Arms::MAX) {
            let on_canary = match canary.by {
                Split::Client => canary.client_on_canary(client),
                Split::Request => random_share() < canary.share,
            };
            arms.choose(n as u8, on_canary);
            let version = if on_canary { &canary.canary } else { &canary.stable };
            version.count_canary_transaction(on_canary);
        }
        arms
    }

    /// A session's sides: those of `by: client` canaries (its client's); `by: request` canaries
    /// stay undecided, so both versions' session hooks run.
    pub(crate) fn session(&self, client: Option<IpAddr>) -> Arms {
        let mut arms = Arms::default();
        for (n, canary) in self.0.iter().enumerate().take(Arms::MAX) {
            if canary.by == Split::Client {
                arms.choose(n as u8, canary.client_on_canary(client));
            }
        }
        arms
    }
}

/// The bucket of `ip` for the canary of plugin `name`, in `0..SHARE_SCALE`: a fixed hash (no
/// per-process seed), so a client keeps its side across reloads and restarts, and raising a
/// share only moves clients from stable to canary. The plugin's name is mixed in so that two
/// canaries split clients independently.
fn bucket(ip: IpAddr, name: &str) -> u32 {
    let address = match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let mut h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    h = mix(h ^ (address as u64));
    h = mix(h ^ ((address >> 64) as u64));
    (h % u64::from(SHARE_SCALE)) as u32
}

/// splitmix64's finaliser: every input bit moves about half the output bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random number in `0..SHARE_SCALE`: a per-thread xorshift generator, seeded from the
/// standard library's random hash keys (a `by: request` canary needs no cryptographic quality,
/// only a cheap, lock-free, even draw).
fn random_share() -> u32 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, RandomState};
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(0x5eed_u64) | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (mix(x) % u64::from(SHARE_SCALE)) as u32
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_buckets_are_fixed_spread_and_per_plugin() {
        let ip = |n: u32| IpAddr::from(std::net::Ipv4Addr::from(0x7f00_0000 + n));
        // Fixed: the same address and plugin give the same bucket, v4-mapped v6 included.
        assert_eq!(bucket(ip(7), "stamp"), bucket(ip(7), "stamp"));
        let mapped = IpAddr::from(std::net::Ipv4Addr::new(127, 0, 0, 7).to_ipv6_mapped());
        assert_eq!(bucket(mapped, "stamp"), bucket(ip(7), "stamp"));
        // Spread: consecutive addresses fill the range about evenly.
        let below_half = (0..10_000).filter(|n| bucket(ip(*n), "stamp") < SHARE_SCALE / 2).count();
        assert!((4_500..5_500).contains(&below_half), "{below_half} of 10000 below half");
        // Per plugin: another name splits the same clients otherwise.
        let differ = (0..100).filter(|n| bucket(ip(*n), "stamp") != bucket(ip(*n), "x")).count();
        assert!(differ > 90, "{differ}");
    }

    #[test]
    fn random_shares_are_spread() {
        let below_tenth = (0..20_000).filter(|_| random_share() < SHARE_SCALE / 10).count();
        assert!((1_500..2_500).contains(&below_tenth), "{below_tenth} of 20000 below a tenth");
    }
}
