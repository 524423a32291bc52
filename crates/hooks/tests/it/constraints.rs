//! Ordering constraints: configured (`before`/`after` in `plugin.yaml`) and set for one session
//! or transaction; the property that every constraint holds and priorities order the rest.

use std::path::Path;
use std::sync::Arc;

use hookyard_hooks::{
    Caller, Error, HookId, Order, Orders, Priorities, PriorityConfig, Subject, callbacks,
};
use proptest::prelude::*;

use crate::support::{Txn, World, local, reg};

const HOOK: HookId = HookId::ReadRequestHdr;

/// A world whose `plugin.yaml` is `yaml`, constraints resolved against `known`.
fn world(yaml: &str, known: &[&str]) -> World {
    let config = PriorityConfig::from_plugin_yaml(Path::new("plugin.yaml"), yaml).unwrap();
    let priorities = Priorities::new(&config);
    let known: Vec<String> = known.iter().map(|k| (*k).to_owned()).collect();
    let subject = |s: &Subject| match s {
        Subject::Named(name) => Some(name.clone()),
        Subject::Global(_) => None,
    };
    let orders =
        Orders::resolve(Path::new("plugin.yaml"), &config.orders, subject, &known, &priorities)
            .unwrap();
    priorities.set_orders(orders).unwrap();
    World {
        priorities: Arc::new(priorities),
        global: hookyard_hooks::Hooks::new(hookyard_hooks::Level::Global),
    }
}

fn run(world: &World, txn: &mut Txn, hook: HookId) -> Vec<String> {
    world.dispatch(hook, txn);
    std::mem::take(&mut txn.log)
}

#[test]
fn a_configured_constraint_beats_priorities_on_its_hook_only() {
    let yaml = "priorities:\n  default: { priority: 0, max_priority: 100 }\n  plugins:\n\
                \x20   - { name: auth, priority: 10, max_priority: 30 }\n\
                \x20   - name: rewrite\n\
                \x20     priority: 20\n\
                \x20     max_priority: 20\n\
                \x20     hooks: { READ_REQUEST_HDR: { after: [auth] } }\n";
    let mut world = world(yaml, &["auth", "rewrite", "stats"]);
    for hook in [HOOK, HookId::SendResponseHdr] {
        reg(&mut world.global, &world.priorities, hook, "rewrite", "rewrite", None);
        reg(&mut world.global, &world.priorities, hook, "auth", "auth", None);
        reg(&mut world.global, &world.priorities, hook, "stats", "stats", Some(15));
    }
    let mut txn = world.txn();
    // auth (10) moves before rewrite (20); stats (15) keeps its place by priority among the rest.
    assert_eq!(run(&world, &mut txn, HOOK), ["stats", "auth", "rewrite"]);
    assert_eq!(run(&world, &mut txn, HookId::SendResponseHdr), ["rewrite", "stats", "auth"]);
    let listed = callbacks(HOOK, Some(&world.global), &world.priorities, &local(&txn));
    let why: Vec<(String, Vec<String>)> =
        listed.into_iter().map(|c| (c.plugin_name, c.constraints)).collect();
    assert_eq!(
        why,
        [
            ("stats".to_owned(), vec![]),
            ("auth".to_owned(), vec!["before rewrite (plugin.yaml:8)".to_owned()]),
            ("rewrite".to_owned(), vec!["after auth (plugin.yaml:8)".to_owned()]),
        ]
    );
}

#[test]
fn a_transaction_constraint_orders_session_and_transaction_callbacks_too() {
    let mut world = world("", &[]);
    reg(&mut world.global, &world.priorities, HOOK, "a", "a-global", Some(0));
    let mut txn = world.txn();
    reg(&mut txn.session, &world.priorities, HOOK, "b", "b-session", Some(0));
    reg(&mut txn.txn, &world.priorities, HOOK, "c", "c-txn", Some(0));
    let (a, c) = (world.priorities.plugin("a"), world.priorities.plugin("c"));
    let order = Order { first: c, then: a, hook: Some(HOOK) };
    txn.control
        .set_order(order, true, &Caller::OPERATOR, &world.priorities, Some(&txn.session_control))
        .unwrap();
    assert_eq!(run(&world, &mut txn, HOOK), ["b-session", "c-txn", "a-global"]);
    // A cycle with it is refused; taking it away restores priority order.
    let back = Order { first: a, then: c, hook: None };
    let refused = txn.control.set_order(back, true, &Caller::OPERATOR, &world.priorities, None);
    assert!(matches!(refused, Err(Error::OrderCycle { .. })), "{refused:?}");
    txn.control.set_order(order, false, &Caller::OPERATOR, &world.priorities, None).unwrap();
    assert_eq!(run(&world, &mut txn, HOOK), ["a-global", "b-session", "c-txn"]);
}

#[test]
fn a_plugin_may_only_order_itself_and_plugins_it_outranks() {
    let yaml = "priorities:\n  plugins:\n\
                \x20   - { name: boss, priority: 100, max_priority: 100 }\n\
                \x20   - { name: mid, priority: 50, max_priority: 50 }\n\
                \x20   - { name: low, priority: 0, max_priority: 0 }\n";
    let world = world(yaml, &["boss", "mid", "low"]);
    let mut txn = world.txn();
    let id = |n: &str| world.priorities.plugin(n);
    let mid = world.priorities.caller(id("mid"));
    let set = |txn: &mut Txn, first: &str, then: &str| {
        let order = Order { first: id(first), then: id(then), hook: None };
        txn.control.set_order(order, true, &mid, &world.priorities, None)
    };
    assert!(set(&mut txn, "mid", "low").is_ok());
    assert!(set(&mut world.txn(), "low", "mid").is_ok());
    assert!(matches!(set(&mut txn, "boss", "low"), Err(Error::NotPermitted { .. })));
    assert!(matches!(set(&mut txn, "mid", "boss"), Err(Error::NotPermitted { .. })));
}

#[test]
fn a_constraint_added_mid_dispatch_orders_what_is_still_to_come() {
    use hookyard_hooks::Outcome;
    let mut world = world("priorities: { default: { priority: 0, max_priority: 100 } }\n", &[]);
    let priorities = Arc::clone(&world.priorities);
    let (b, c) = (priorities.plugin("b"), priorities.plugin("c"));
    let first = crate::support::with_handler("a", move |txn: &mut Txn| {
        txn.log.push("a".into());
        let order = Order { first: c, then: b, hook: None };
        txn.control
            .set_order(order, true, &Caller::OPERATOR, &txn.priorities.clone(), None)
            .unwrap();
        Outcome::Continue
    });
    world.global.add(HOOK, first, Some(hookyard_hooks::Priority(10)), &world.priorities).unwrap();
    reg(&mut world.global, &world.priorities, HOOK, "b", "b", Some(5));
    reg(&mut world.global, &world.priorities, HOOK, "c", "c", Some(1));
    let mut txn = world.txn();
    assert_eq!(run(&world, &mut txn, HOOK), ["a", "c", "b"]);
}

#[derive(Clone, Debug)]
struct Setup {
    /// (level, plugin, priority)
    regs: Vec<(u8, usize, i32)>,
    /// A permutation of the plugins: configured constraints only go forward in it (no cycle).
    rank: Vec<usize>,
    /// (from, to, on this hook only) as positions in `rank`.
    configured: Vec<(usize, usize, bool)>,
    /// Transaction constraints tried (refused when they would close a cycle).
    txn: Vec<(usize, usize)>,
}

const PLUGINS: [&str; 6] = ["p0", "p1", "p2", "p3", "p4", "p5"];

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec((0u8..3, 0usize..6, -3i32..=3), 0..14),
        Just((0..6).collect::<Vec<usize>>()).prop_shuffle(),
        prop::collection::vec((0usize..6, 0usize..6, any::<bool>()), 0..5),
        prop::collection::vec((0usize..6, 0usize..6), 0..3),
    )
        .prop_map(|(regs, rank, configured, txn)| Setup { regs, rank, configured, txn })
}

fn yaml(setup: &Setup) -> String {
    let mut yaml =
        "priorities:\n  default: { priority: 0, max_priority: 10 }\n  plugins: []\n".to_owned();
    for (from, to, on_hook) in &setup.configured {
        let (a, b) = (from.min(to), from.max(to));
        if a == b {
            continue;
        }
        let (first, then) = (PLUGINS[setup.rank[*a]], PLUGINS[setup.rank[*b]]);
        yaml = yaml.replace("  plugins: []\n", "  plugins:\n");
        if *on_hook {
            yaml += &format!(
                "    - {{ name: {first}, hooks: {{ READ_REQUEST_HDR: {{ before: [{then}] }} }} }}\n"
            );
        } else {
            yaml += &format!("    - {{ name: {then}, after: [{first}] }}\n");
        }
    }
    yaml
}

proptest! {
    #[test]
    fn dispatch_respects_every_constraint_and_priorities_among_the_rest(setup in setup()) {
        // A plugin listed twice is an error: merge entries by keeping only the first per name.
        let text = yaml(&setup);
        let mut seen = Vec::new();
        let mut kept = String::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("    - { name: ").and_then(|l| l.split(',').next()) {
                if seen.contains(&name.to_owned()) { continue; }
                seen.push(name.to_owned());
            }
            kept += line;
            kept += "\n";
        }
        let mut world = world(&kept, &PLUGINS);
        let mut txn = world.txn();
        let mut keys = Vec::new();
        for (i, (level, plugin, priority)) in setup.regs.iter().enumerate() {
            let table = match level { 0 => &mut world.global, 1 => &mut txn.session, _ => &mut txn.txn };
            reg(table, &world.priorities, HOOK, PLUGINS[*plugin], &i.to_string(), Some(*priority));
            keys.push((-priority, *level, i));
        }
        let id = |i: usize| world.priorities.plugin(PLUGINS[i]);
        let mut in_force: Vec<(usize, usize)> = world
            .priorities
            .orders()
            .iter()
            .map(|(o, _)| {
                let find = |p| (0..6).find(|&i| id(i) == p).unwrap();
                (find(o.first), find(o.then))
            })
            .collect();
        for (a, b) in &setup.txn {
            let order = Order { first: id(*a), then: id(*b), hook: Some(HOOK) };
            let set = txn.control.set_order(order, true, &Caller::OPERATOR, &world.priorities, None);
            if set.is_ok() {
                in_force.push((*a, *b));
            } else {
                let cycle = matches!(set, Err(Error::OrderCycle { .. }));
                prop_assert!(a == b || cycle);
            }
        }
        let listed: Vec<String> = callbacks(HOOK, Some(&world.global), &world.priorities, &local(&txn))
            .into_iter()
            .map(|c| c.id.get().to_string())
            .collect();
        let ran = run(&world, &mut txn, HOOK);
        prop_assert_eq!(listed.len(), ran.len());
        prop_assert_eq!(ran.len(), setup.regs.len());
        let position = |i: usize| ran.iter().position(|r| *r == i.to_string()).unwrap();
        // Every constraint holds, transitively.
        let mut closed = in_force.clone();
        loop {
            let extra: Vec<(usize, usize)> = closed.iter()
                .flat_map(|&(a, b)| closed.iter().filter(move |&&(c, _)| c == b).map(move |&(_, d)| (a, d)))
                .filter(|e| e.0 != e.1 && !closed.contains(e))
                .collect();
            if extra.is_empty() { break; }
            closed.extend(extra);
            closed.sort_unstable();
            closed.dedup();
        }
        for (a, b) in &closed {
            for (i, reg_a) in setup.regs.iter().enumerate().filter(|(_, r)| r.1 == *a) {
                for (j, _) in setup.regs.iter().enumerate().filter(|(_, r)| r.1 == *b) {
                    prop_assert!(position(i) < position(j),
                        "{} ({reg_a:?}) must run before {j}: {ran:?}", i);
                }
            }
        }
        // Callbacks of plugins no constraint names keep priority, level, registration order.
        let named = |p: usize| closed.iter().any(|(a, b)| *a == p || *b == p);
        let mut free: Vec<&(i32, u8, usize)> =
            keys.iter().filter(|(_, _, i)| !named(setup.regs[*i].1)).collect();
        free.sort();
        let free_ran: Vec<usize> = ran.iter().map(|r| r.parse::<usize>().unwrap())
            .filter(|i| !named(setup.regs[*i].1)).collect();
        let free_expected: Vec<usize> = free.iter().map(|(_, _, i)| *i).collect();
        prop_assert_eq!(free_ran, free_expected);
        // Without constraints the order is exactly the priority order.
        if closed.is_empty() {
            let mut all = keys.clone();
            all.sort();
            let expected: Vec<String> = all.iter().map(|(_, _, i)| i.to_string()).collect();
            prop_assert_eq!(&ran, &expected);
        }
        prop_assert_eq!(listed.len(), ran.len());
    }
}
