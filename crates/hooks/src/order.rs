//! Ordering constraints: "plugin A's callbacks run before plugin B's", on one hook or on all.
//!
//! Constraints win where they apply and priorities order the rest: a hook's callbacks are
//! arranged by taking, at each step, the first callback in priority order (priority, level,
//! registration) that no remaining callback must precede. Callbacks of plugins no constraint
//! names therefore keep their priority order among themselves. Constraints are transitive over
//! plugins: `a before b` and `b before c` put `a` before `c` even on a hook where `b` has no
//! callback.

use std::fmt;
use std::path::{Path, PathBuf};

use smallvec::SmallVec;

use crate::config::{ConfigError, ConfigErrors};
use crate::control::Control;
use crate::id::HookId;
use crate::priority::{PluginId, Priorities};

/// One constraint: `first`'s callbacks run before `then`'s, on `hook` (on every hook if `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Order {
    /// The plugin that runs first.
    pub first: PluginId,
    /// The plugin that runs after it.
    pub then: PluginId,
    /// The hook it applies to; `None`: every hook.
    pub hook: Option<HookId>,
}

impl Order {
    /// Whether the constraint applies on `hook`.
    #[inline]
    pub fn applies(&self, hook: HookId) -> bool {
        self.hook.is_none_or(|h| h == hook)
    }
}

/// Where a constraint in force comes from, for explanations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderSource {
    /// The configuration file, at a line.
    Config {
        /// The file.
        file: PathBuf,
        /// The line naming the other plugin.
        line: usize,
    },
    /// The session, set by a plugin.
    Session,
    /// The transaction, set by a plugin.
    Transaction,
}

impl fmt::Display for OrderSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrderSource::Config { file, line } => {
                let name = file.file_name().map_or_else(
                    || file.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                write!(f, "{name}:{line}")
            }
            OrderSource::Session => f.write_str("session"),
            OrderSource::Transaction => f.write_str("transaction"),
        }
    }
}

/// How a configured name relates to the plugin whose entry lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// `before: [other]`: the plugin runs before `other`.
    Before,
    /// `after: [other]`: the plugin runs after `other`.
    After,
}

/// Whose entry in `plugin.yaml` a constraint was written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A `priorities.plugins` entry: the plugin of that name.
    Named(String),
    /// The entry at this index of the top-level `plugins` list: the global plugin loaded from
    /// it, whose name is known once it is loaded.
    Global(usize),
}

/// One `before`/`after` name as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSpec {
    /// The entry it was written in.
    pub subject: Subject,
    /// Before or after.
    pub relation: Relation,
    /// The plugin named.
    pub other: String,
    /// The hook (`hooks: {HOOK: {after: [...]}}`); `None`: every hook.
    pub hook: Option<HookId>,
    /// The line of the name.
    pub line: usize,
}

/// The configured constraints of one configuration, checked: every name a plugin, no cycle, no
/// constraint against a ceiling.
#[derive(Clone, Debug, Default)]
pub struct Orders {
    orders: Vec<(Order, OrderSource)>,
    /// Bit `hook.index()` set when a constraint applies on that hook.
    hooks: u64,
}

/// The steps around a cycle of constraints.
type Cycle = Vec<(Order, OrderSource)>;

/// The edges in force on one hook, transitively closed.
pub(crate) type Edges = SmallVec<[(PluginId, PluginId); 8]>;

impl Orders {
    /// No constraints.
    pub fn new() -> Orders {
        Orders::default()
    }

    /// Checks configured constraints and resolves their names.
    ///
    /// `subject` names the plugin an entry stands for (`None`: a disabled plugin, whose
    /// constraints are left out); `known` are the names constraints may use (the loaded plugins
    /// and those the configuration lists).
    ///
    /// # Errors
    ///
    /// Every problem, as `file:line: reason`: a name that is no plugin, a plugin ordered against
    /// itself, a constraint that puts a plugin before one whose priority is above its ceiling,
    /// and cycles (spelled out, with the line of each step).
    pub fn resolve(
        file: &Path,
        specs: &[OrderSpec],
        subject: impl Fn(&Subject) -> Option<String>,
        known: &[String],
        priorities: &Priorities,
    ) -> Result<Orders, ConfigErrors> {
        let mut errors = Vec::new();
        let mut error = |line: usize, reason: String| {
            errors.push(ConfigError { file: file.to_owned(), line, reason });
        };
        let mut orders = Orders::new();
        for spec in specs {
            let Some(name) = subject(&spec.subject) else { continue };
            if !known.contains(&spec.other) {
                let mut names: Vec<&str> = known.iter().map(String::as_str).collect();
                names.sort_unstable();
                names.dedup();
                error(
                    spec.line,
                    format!(
                        "`{}` is no plugin of this configuration (plugins: {})",
                        spec.other,
                        names.join(", ")
                    ),
                );
                continue;
            }
            if spec.other == name {
                error(spec.line, format!("plugin `{name}` cannot be ordered against itself"));
                continue;
            }
            let (first, then) = match spec.relation {
                Relation::Before => (name.as_str(), spec.other.as_str()),
                Relation::After => (spec.other.as_str(), name.as_str()),
            };
            let (first_id, then_id) = (priorities.plugin(first), priorities.plugin(then));
            let (ceiling, priority) = (priorities.ceiling(first_id), priorities.priority(then_id));
            if ceiling < priority {
                error(
                    spec.line,
                    format!(
                        "`{first}` before `{then}` contradicts a ceiling: `{first}`'s \
                         max_priority {ceiling} is below `{then}`'s priority {priority}"
                    ),
                );
                continue;
            }
            let order = Order { first: first_id, then: then_id, hook: spec.hook };
            if !orders.orders.iter().any(|(o, _)| *o == order) {
                orders.push(order, OrderSource::Config { file: file.to_owned(), line: spec.line });
            }
        }
        for (hook, cycle) in orders.cycles() {
            let steps: Vec<String> = cycle
                .iter()
                .map(|(order, source)| {
                    format!(
                        "{} before {} ({source})",
                        priorities.name(order.first),
                        priorities.name(order.then)
                    )
                })
                .collect();
            let on = hook.map_or_else(|| "every hook".to_owned(), |h| h.name().to_owned());
            let line = cycle.iter().find_map(|(_, source)| match source {
                OrderSource::Config { line, .. } => Some(*line),
                _ => None,
            });
            error(line.unwrap_or(0), format!("ordering cycle on {on}: {}", steps.join(", ")));
        }
        if errors.is_empty() {
            Ok(orders)
        } else {
            errors.sort_by_key(|e| e.line);
            Err(ConfigErrors(errors))
        }
    }

    fn push(&mut self, order: Order, source: OrderSource) {
        self.hooks |= match order.hook {
            Some(hook) => 1 << hook.index(),
            None => u64::MAX,
        };
        self.orders.push((order, source));
    }

    /// Whether no constraint is configured.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Whether a constraint applies on `hook`.
    #[inline]
    pub fn applies(&self, hook: HookId) -> bool {
        self.hooks & (1 << hook.index()) != 0
    }

    /// Every constraint with where it was written.
    pub fn iter(&self) -> impl Iterator<Item = &(Order, OrderSource)> {
        self.orders.iter()
    }

    /// The constraints in force on `hook`.
    pub(crate) fn on(&self, hook: HookId) -> impl Iterator<Item = &(Order, OrderSource)> {
        self.orders.iter().filter(move |(o, _)| o.applies(hook))
    }

    /// One cycle per hook that has one: those of the every-hook constraints first (once), then
    /// those a hook's own constraints close.
    fn cycles(&self) -> Vec<(Option<HookId>, Cycle)> {
        let general: Vec<&(Order, OrderSource)> =
            self.orders.iter().filter(|(o, _)| o.hook.is_none()).collect();
        let mut found = Vec::new();
        if let Some(cycle) = find_cycle(&general) {
            found.push((None, cycle));
        }
        for hook in HookId::ALL {
            let own = self.orders.iter().any(|(o, _)| o.hook == Some(hook));
            if !own {
                continue;
            }
            let on: Vec<&(Order, OrderSource)> = self.on(hook).collect();
            if let Some(cycle) = find_cycle(&on)
                && cycle.iter().any(|(o, _)| o.hook.is_some())
            {
                found.push((Some(hook), cycle));
            }
        }
        found
    }
}

/// A cycle among `orders`, as the steps around it, if there is one.
fn find_cycle(orders: &[&(Order, OrderSource)]) -> Option<Cycle> {
    // Depth-first search from every plugin, following constraints; a plugin met again on the
    // current path closes a cycle.
    fn visit(
        at: PluginId,
        orders: &[&(Order, OrderSource)],
        path: &mut Vec<usize>,
        done: &mut Vec<PluginId>,
    ) -> Option<Vec<usize>> {
        for (i, (order, _)) in orders.iter().enumerate().filter(|(_, (o, _))| o.first == at) {
            if let Some(start) = path.iter().position(|&j| orders[j].0.first == order.then) {
                let mut cycle = path[start..].to_vec();
                cycle.push(i);
                return Some(cycle);
            }
            if done.contains(&order.then) {
                continue;
            }
            path.push(i);
            if let Some(cycle) = visit(order.then, orders, path, done) {
                return Some(cycle);
            }
            path.pop();
        }
        done.push(at);
        None
    }
    let mut done = Vec::new();
    for (order, _) in orders {
        if done.contains(&order.first) {
            continue;
        }
        if let Some(cycle) = visit(order.first, orders, &mut Vec::new(), &mut done) {
            return Some(cycle.into_iter().map(|i| orders[i].clone()).collect());
        }
    }
    None
}

/// The constraints in force on `hook` (configured, the session's, the transaction's), closed.
pub(crate) fn edges(
    hook: HookId,
    priorities: &Priorities,
    session: Option<&Control>,
    txn: Option<&Control>,
) -> Edges {
    let mut edges: Edges = priorities.orders().on(hook).map(|(o, _)| (o.first, o.then)).collect();
    for control in [session, txn].into_iter().flatten() {
        control.add_edges(hook, &mut edges);
    }
    close(&mut edges);
    edges
}

/// Adds every edge implied by transitivity.
pub(crate) fn close(edges: &mut Edges) {
    loop {
        let mut added = false;
        let mut i = 0;
        while i < edges.len() {
            let (a, b) = edges[i];
            let mut j = 0;
            while j < edges.len() {
                let (c, d) = edges[j];
                if b == c && a != d && !edges.contains(&(a, d)) {
                    edges.push((a, d));
                    added = true;
                }
                j += 1;
            }
            i += 1;
        }
        if !added {
            return;
        }
    }
}

/// Whether `edges` (closed) make a plugin precede itself.
pub(crate) fn has_cycle(edges: &Edges) -> bool {
    edges.iter().any(|(a, b)| edges.contains(&(*b, *a)))
}

/// Arranges `items` in dispatch order: at each step the item with the smallest key that no
/// remaining item must precede (by `edges`, closed); where a cycle leaves none, the smallest key.
pub(crate) fn arrange<T>(
    items: &mut [T],
    key: impl Fn(&T) -> u64,
    plugin: impl Fn(&T) -> PluginId,
    edges: &Edges,
) {
    items.sort_unstable_by_key(&key);
    if edges.is_empty() {
        return;
    }
    for at in 0..items.len() {
        let ready = (at..items.len()).find(|&j| {
            let p = plugin(&items[j]);
            !items[at..].iter().any(|other| {
                let q = plugin(other);
                q != p && edges.contains(&(q, p))
            })
        });
        // Items after `at` stay in key order: move the picked one to the front of the rest.
        if let Some(j) = ready {
            items[at..=j].rotate_right(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u32) -> PluginId {
        PluginId(n)
    }

    #[test]
    fn constraints_win_and_priorities_order_the_rest() {
        // (key, plugin): key order a1 c3 b2 d4.
        let mut items = [(1, p(1)), (2, p(3)), (3, p(2)), (4, p(4))];
        let mut edges: Edges = SmallVec::new();
        edges.push((p(2), p(1))); // 2 before 1
        close(&mut edges);
        arrange(&mut items, |i| i.0, |i| i.1, &edges);
        let order: Vec<u32> = items.iter().map(|i| i.1.0).collect();
        assert_eq!(order, [3, 2, 1, 4]);
    }

    #[test]
    fn transitive_constraints_hold_without_the_middle_plugin() {
        let mut items = [(1, p(3)), (2, p(1))];
        let mut edges: Edges = SmallVec::new();
        edges.push((p(1), p(2)));
        edges.push((p(2), p(3)));
        close(&mut edges);
        assert!(edges.contains(&(p(1), p(3))));
        arrange(&mut items, |i| i.0, |i| i.1, &edges);
        assert_eq!(items.map(|i| i.1.0), [1, 3]);
    }

    #[test]
    fn a_cycle_falls_back_to_key_order() {
        let mut items = [(2, p(2)), (1, p(1))];
        let mut edges: Edges = SmallVec::new();
        edges.push((p(1), p(2)));
        edges.push((p(2), p(1)));
        close(&mut edges);
        assert!(has_cycle(&edges));
        arrange(&mut items, |i| i.0, |i| i.1, &edges);
        assert_eq!(items.map(|i| i.1.0), [1, 2]);
    }
}
