//! Property tests of dispatch order.

use hookyard_hooks::{Caller, HookId, Level, Outcome, Priority, Tables, callbacks};
use proptest::prelude::*;

use crate::support::{World, local, reg};

const HOOK: HookId = HookId::SendResponseHdr;
const PLUGINS: [&str; 4] = ["a", "b", "c", "d"];

#[derive(Clone, Debug)]
struct Setup {
    regs: Vec<(u8, usize, Option<i32>)>,
    plugins_off: Vec<usize>,
    threshold: Option<i32>,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec((0u8..3, 0usize..4, prop::option::of(-5i32..=5)), 0..12),
        prop::collection::vec(0usize..4, 0..2),
        prop::option::of(-5i32..=5),
    )
        .prop_map(|(regs, plugins_off, threshold)| Setup { regs, plugins_off, threshold })
}

/// Dispatches and returns the labels in the order they ran.
fn run(setup: &Setup, force_scan: bool) -> (Vec<String>, Vec<(i32, u8, usize)>) {
    let config = "priorities:\n  default: { priority: 0, max_priority: 10 }\n";
    let mut world = World::new(config);
    let mut txn = world.txn();
    let mut order = Vec::new();
    for (i, (level, plugin, priority)) in setup.regs.iter().enumerate() {
        let label = i.to_string();
        let table = match level {
            0 => &mut world.global,
            1 => &mut txn.session,
            _ => &mut txn.txn,
        };
        reg(table, &world.priorities, HOOK, PLUGINS[*plugin], &label, *priority);
        order.push((priority.unwrap_or(0), *level, i));
    }
    for plugin in &setup.plugins_off {
        let id = world.priorities.plugin(PLUGINS[*plugin]);
        txn.control.set_plugin_enabled(id, false, &Caller::OPERATOR, &world.priorities).unwrap();
    }
    txn.control.set_threshold(None, setup.threshold.map(Priority), &Caller::OPERATOR).unwrap();
    if force_scan && let Some(entry) = world.global.entries(HOOK).first() {
        // Re-stating a callback's own priority changes nothing but takes the scanning path.
        let (id, priority) = (entry.id(), entry.priority());
        let tables = Tables { global: Some(&world.global), session: None, txn: None };
        txn.control
            .set_callback_priority(&tables, None, HOOK, id, priority, &Caller::OPERATOR)
            .unwrap();
    }
    let listed: Vec<String> = callbacks(HOOK, Some(&world.global), &world.priorities, &local(&txn))
        .into_iter()
        .filter(|c| c.enabled)
        .map(|c| c.id.get().to_string())
        .collect();
    let progress = world.dispatch(HOOK, &mut txn);
    assert_eq!(progress, hookyard_hooks::Progress::Done(Outcome::Continue));
    assert_eq!(listed.len(), txn.log.len());
    (txn.log, order)
}

proptest! {
    #[test]
    fn dispatch_runs_enabled_callbacks_by_priority_then_level_then_registration(setup in setup()) {
        let (ran, mut order) = run(&setup, false);
        order.sort_by_key(|(priority, level, seq)| (-priority, *level, *seq));
        let expected: Vec<String> = order
            .iter()
            .filter(|(priority, _, i)| {
                let plugin = setup.regs[*i].1;
                !setup.plugins_off.contains(&plugin) && setup.threshold.is_none_or(|t| *priority >= t)
            })
            .map(|(_, _, i)| i.to_string())
            .collect();
        prop_assert_eq!(&ran, &expected);
        let levels: Vec<Level> = ran.iter().map(|i| match setup.regs[i.parse::<usize>().unwrap()].0 {
            0 => Level::Global, 1 => Level::Session, _ => Level::Transaction,
        }).collect();
        prop_assert_eq!(levels.len(), expected.len());
    }

    #[test]
    fn the_scanning_path_agrees_with_the_cursor_path(setup in setup()) {
        prop_assert_eq!(run(&setup, true).0, run(&setup, false).0);
    }
}
