//! Origin pools: the strategies of `strategies.yaml` as served, and how each picks the host a
//! transaction goes to (ATS's next-hop strategies, `docs/operating.md` "Origin pools").
//!
//! A [`Strategy`] belongs to a generation, so a reload swaps strategies with everything else and
//! a transaction keeps the one it started with. Its hosts are the process's [`Host`]s, which
//! outlive generations: what passive and active checks and the operator said of a host holds
//! across reloads.
//!
//! Selection takes no lock: round-robin and latched turns are one relaxed atomic per group,
//! the consistent hash ring is built at load and searched by bisection, and a host's status is
//! a few relaxed loads.

pub(crate) mod health;
mod hosts;

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use smallvec::SmallVec;

use crate::config::Strategies;
use crate::config::strategies::{
    Failover, HashKey, HealthUrl, HostSpec, Policy, RingMode, Scheme, StrategySpec,
};

pub(crate) use self::hosts::{Host, HostInfo, HostTable, UnknownHost};

/// Ring points of a host of average weight on a consistent hash ring: enough that each host's
/// share stays within a few percent of its weight, and that a host leaving moves about its
/// share of keys, spread over the others.
const POINTS_PER_HOST: f64 = 160.0;

/// The most entries of a round-robin wheel (weights are scaled down past it).
const MAX_WHEEL: u64 = 4096;

/// A generation's strategies, and which rule uses which.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    strategies: Vec<Arc<Strategy>>,
    /// Per rule (by index), its strategy.
    by_rule: Vec<Option<Arc<Strategy>>>,
}

impl Pools {
    /// The strategies of `config`, their hosts taken from `hosts`, for `rules`.
    pub(crate) fn new(
        config: &Strategies,
        rules: &hookyard_remap::Rules,
        hosts: &HostTable,
    ) -> Pools {
        let strategies: Vec<Arc<Strategy>> =
            config.strategies.iter().map(|spec| Arc::new(Strategy::new(spec, hosts))).collect();
        let by_rule = rules
            .rules()
            .iter()
            .map(|rule| {
                let name = rule.strategy.as_deref()?;
                strategies.iter().find(|s| s.name == name).cloned()
            })
            .collect();
        Pools { strategies, by_rule }
    }

    /// The strategy of rule `index`, if it names one.
    #[inline]
    pub(crate) fn of_rule(&self, index: usize) -> Option<&Arc<Strategy>> {
        self.by_rule.get(index).and_then(Option::as_ref)
    }

    /// The strategies, in file order.
    pub(crate) fn strategies(&self) -> &[Arc<Strategy>] {
        &self.strategies
    }

    /// Every host of every strategy, once each, in order of appearance.
    pub(crate) fn hosts(&self) -> Vec<Arc<Host>> {
        let mut seen: Vec<Arc<Host>> = Vec::new();
        for member in self.strategies.iter().flat_map(|s| s.members()) {
            if !seen.iter().any(|h| Arc::ptr_eq(h, &member.host)) {
                seen.push(member.host.clone());
            }
        }
        seen
    }
}

/// One strategy as served.
#[derive(Debug)]
pub(crate) struct Strategy {
    pub(crate) name: String,
    pub(crate) policy: Policy,
    pub(crate) hash_key: HashKey,
    pub(crate) go_direct: bool,
    pub(crate) scheme: Scheme,
    pub(crate) failover: Failover,
    groups: Vec<Group>,
}

/// One group (ring) of a strategy.
#[derive(Debug)]
struct Group {
    members: Vec<Member>,
    /// Consistent hashing: (point, member), sorted by point.
    ring: Vec<(u64, u32)>,
    /// Round-robin: member indices in weighted turn order.
    wheel: Vec<u32>,
    /// The next round-robin turn, or the latched member.
    next: CachePadded<AtomicUsize>,
}

/// One host of a group.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) host: Arc<Host>,
    pub(crate) health: Option<HealthUrl>,
}

/// The hosts a transaction tried, so a retry goes elsewhere.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    /// The hosts' addresses, as identities.
    tried: SmallVec<[usize; 4]>,
}

impl Attempts {
    fn tried(&self, host: &Arc<Host>) -> bool {
        self.tried.contains(&Arc::as_ptr(host).addr())
    }

    /// How many hosts were chosen so far.
    pub(crate) fn count(&self) -> usize {
        self.tried.len()
    }
}

impl Strategy {
    /// The strategy of `spec`, its hosts taken from `hosts`.
    pub(crate) fn new(spec: &StrategySpec, hosts: &HostTable) -> Strategy {
        let groups = spec.groups.iter().map(|group| Group::new(group, hosts)).collect();
        Strategy {
            name: spec.name.clone(),
            policy: spec.policy,
            hash_key: spec.hash_key,
            go_direct: spec.go_direct,
            scheme: spec.scheme,
            failover: spec.failover.clone(),
            groups,
        }
    }

    /// Every member of every group.
    pub(crate) fn members(&self) -> impl Iterator<Item = &Member> {
        self.groups.iter().flat_map(|g| g.members.iter())
    }

    /// The host for the next try of a transaction (`hash`: its key's or client's hash, when
    /// [`hashes`](Self::hashes)): by the policy, among hosts that are up and not yet tried,
    /// going through the groups as `ring_mode` says; `None` when no host is left.
    pub(crate) fn select(&self, hash: u64, attempts: &mut Attempts) -> Option<&Member> {
        let n = self.groups.len();
        if n == 0 {
            return None;
        }
        let first = match self.failover.ring_mode {
            RingMode::ExhaustRing => 0,
            RingMode::AlternateRing => attempts.count() % n,
        };
        for k in 0..n {
            let group = &self.groups[(first + k) % n];
            if let Some(member) = group.pick(self.policy, hash, attempts) {
                attempts.tried.push(Arc::as_ptr(&member.host).addr());
                return Some(member);
            }
        }
        None
    }
}

impl Group {
    fn new(specs: &[HostSpec], hosts: &HostTable) -> Group {
        let members: Vec<Member> = specs
            .iter()
            .map(|spec| Member {
                host: hosts.host(&spec.host, spec.port),
                health: spec.health_check_url.clone(),
            })
            .collect();
        let weights: Vec<f64> = specs.iter().map(|s| s.weight).collect();
        let ring = ring(specs, &weights);
        let wheel = wheel(&weights);
        Group { members, ring, wheel, next: CachePadded::new(AtomicUsize::new(0)) }
    }

    #[inline]
    fn usable(&self, index: usize, attempts: &Attempts) -> Option<&Member> {
        let member = &self.members[index];
        (member.host.is_up() && !attempts.tried(&member.host)).then_some(member)
    }

    fn pick(&self, policy: Policy, hash: u64, attempts: &Attempts) -> Option<&Member> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        match policy {
            Policy::FirstLive => (0..n).find_map(|i| self.usable(i, attempts)),
            Policy::Latched => {
                let start = self.next.load(Ordering::Relaxed) % n;
                let (index, member) = (0..n)
                    .map(|k| (start + k) % n)
                    .find_map(|i| Some((i, self.usable(i, attempts)?)))?;
                if index != start {
                    self.next.store(index, Ordering::Relaxed);
                }
                Some(member)
            }
            Policy::RoundRobin | Policy::RrIp => {
                let len = self.wheel.len();
                let start = match policy {
                    Policy::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed),
                    #[expect(clippy::cast_possible_truncation, reason = "a hash taken modulo")]
                    _ => hash as usize,
                } % len;
                (0..len).find_map(|k| self.usable(self.wheel[(start + k) % len] as usize, attempts))
            }
            Policy::ConsistentHash => {
                let len = self.ring.len();
                let start = self.ring.partition_point(|&(point, _)| point < hash);
                (0..len)
                    .find_map(|k| self.usable(self.ring[(start + k) % len].1 as usize, attempts))
            }
        }
    }
}

/// The consistent hash ring of a group: points per host in proportion to its weight, each a
/// hash of its `hash_string` (else `host:port`) and its number.
fn ring(specs: &[HostSpec], weights: &[f64]) -> Vec<(u64, u32)> {
    #[expect(clippy::cast_precision_loss, reason = "a count of hosts")]
    let mean = weights.iter().sum::<f64>() / weights.len().max(1) as f64;
    let mut ring = Vec::new();
    for (index, (spec, weight)) in specs.iter().zip(weights).enumerate() {
        let name = spec.hash_string.clone().unwrap_or_else(|| spec.name());
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "clamped to 1..=1600"
        )]
        let points = (POINTS_PER_HOST * weight / mean).round().clamp(1.0, 1600.0) as u32;
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        ring.extend((0..points).map(|i| (hash_of(&(name.as_str(), i)), index)));
    }
    ring.sort_unstable();
    ring
}

/// The round-robin turns of a group: each member as often as its weight says (weights made
/// whole numbers), interleaved smoothly (nginx's smooth weighted round-robin).
fn wheel(weights: &[f64]) -> Vec<u32> {
    let min = weights.iter().copied().fold(f64::INFINITY, f64::min);
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped")]
    let mut whole: Vec<u64> =
        weights.iter().map(|w| (w / min * 10.0).round().clamp(1.0, 1e6) as u64).collect();
    let divisor = whole.iter().copied().fold(0, gcd).max(1);
    whole.iter_mut().for_each(|w| *w /= divisor);
    while whole.iter().sum::<u64>() > MAX_WHEEL {
        whole.iter_mut().for_each(|w| *w = (*w / 2).max(1));
    }
    let total: i64 = whole.iter().map(|&w| i64::try_from(w).unwrap_or(1)).sum();
    let mut current = vec![0i64; whole.len()];
    let mut turns = Vec::new();
    for _ in 0..total {
        for (c, w) in current.iter_mut().zip(&whole) {
            *c += i64::try_from(*w).unwrap_or(1);
        }
        let Some((best, _)) = current.iter().enumerate().max_by_key(|&(i, c)| (*c, -(i as i64)))
        else {
            break;
        };
        current[best] -= total;
        turns.push(u32::try_from(best).unwrap_or(0));
    }
    turns
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A stable hash (the same across reloads of this process).
fn hash_of<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    foldhash::fast::FixedState::with_seed(0x6f72_6967_696e_7321).hash_one(value)
}

/// The hash of a transaction's key for `consistent_hash`: the parts of its origin URL that
/// `key` names (`path` without its leading `/`).
pub(crate) fn key_hash(key: HashKey, scheme: &str, host: &str, path: &str, query: &str) -> u64 {
    let path = path.strip_prefix('/').unwrap_or(path);
    match key {
        HashKey::Hostname => hash_of(host),
        HashKey::Path | HashKey::PathFragment => hash_of(path),
        HashKey::Uri | HashKey::PathQuery => hash_of(&(path, query)),
        HashKey::Url => hash_of(&(scheme, host, path, query)),
    }
}

/// The hash of a client's address for `rr_ip`.
pub(crate) fn client_hash(ip: IpAddr) -> u64 {
    hash_of(&ip)
}

#[cfg(test)]
mod tests;

/// The origin hosts as plugins mark and read them (`host_status_set`, `host_status_get`): the
/// serving generation's strategies and the server's host table, as `ctl host` uses them. The
/// serving generations are held weakly: they hold the plugins that hold this.
pub(crate) struct PluginHosts {
    table: Arc<HostTable>,
    serving: std::sync::Weak<crate::generation::Serving>,
}

impl PluginHosts {
    pub(crate) fn new(
        table: Arc<HostTable>,
        serving: &Arc<crate::generation::Serving>,
    ) -> PluginHosts {
        PluginHosts { table, serving: Arc::downgrade(serving) }
    }

    fn known(&self) -> Vec<Arc<Host>> {
        self.serving.upgrade().map(|s| s.load().pools.hosts()).unwrap_or_default()
    }
}

impl hookyard_host::HostStatus for PluginHosts {
    fn mark(&self, name: &str, reason: Option<&str>) -> bool {
        self.table.mark(name, reason, &self.known()).is_ok()
    }

    fn is_up(&self, name: &str) -> Option<bool> {
        let named: Vec<Arc<Host>> =
            self.known().into_iter().filter(|h| h.name == name || h.host == name).collect();
        (!named.is_empty()).then(|| named.iter().any(|h| h.is_up()))
    }
}
