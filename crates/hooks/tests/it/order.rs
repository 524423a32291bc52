//! Dispatch order, table-driven: priorities, ties, levels, switches, thresholds.

use hookyard_hooks::{Caller, Error, HookId, Level, Outcome, Priority, Progress};

use crate::support::{Txn, World, logging, reg};

const NO_CONFIG: &str = "";

const CONFIG: &str = "\
priorities:
  default: { priority: 0, max_priority: 50 }
  plugins:
    - name: auth
      max_priority: 1000
      priority: 900
    - name: rewrite
      max_priority: 100
      priority: 10
    - name: logger
      max_priority: 0
      priority: -10
";

/// One registration: level, plugin, explicit priority, label.
type Reg = (Level, &'static str, Option<i32>, &'static str);

struct Case {
    name: &'static str,
    config: &'static str,
    regs: &'static [Reg],
    setup: fn(&World, &mut Txn),
    hook: HookId,
    expected: &'static [&'static str],
}

fn nothing(_: &World, _: &mut Txn) {}

const CASES: &[Case] = &[
    Case {
        name: "ties keep ATS order: global, session, transaction, then registration order",
        config: NO_CONFIG,
        regs: &[
            (Level::Transaction, "t", None, "T1"),
            (Level::Global, "g", None, "G1"),
            (Level::Session, "s", None, "S1"),
            (Level::Global, "g", None, "G2"),
            (Level::Transaction, "t", None, "T2"),
        ],
        setup: nothing,
        hook: HookId::ReadRequestHdr,
        expected: &["G1", "G2", "S1", "T1", "T2"],
    },
    Case {
        name: "higher priority first, across levels",
        config: CONFIG,
        regs: &[
            (Level::Global, "logger", None, "log"),
            (Level::Global, "other", None, "other"),
            (Level::Transaction, "rewrite", Some(60), "rw60"),
            (Level::Session, "auth", None, "auth"),
            (Level::Global, "rewrite", None, "rw10"),
        ],
        setup: nothing,
        hook: HookId::PreRemap,
        expected: &["auth", "rw60", "rw10", "other", "log"],
    },
    Case {
        name: "a plugin switched off for the transaction is skipped",
        config: CONFIG,
        regs: &[
            (Level::Global, "auth", None, "auth"),
            (Level::Global, "rewrite", None, "rw"),
            (Level::Transaction, "rewrite", None, "rw-txn"),
            (Level::Global, "logger", None, "log"),
        ],
        setup: |world, txn| {
            let rewrite = world.priorities.plugin("rewrite");
            txn.control
                .set_plugin_enabled(rewrite, false, &Caller::OPERATOR, &world.priorities)
                .unwrap();
        },
        hook: HookId::ReadRequestHdr,
        expected: &["auth", "log"],
    },
    Case {
        name: "the transaction switches on a plugin its session switched off",
        config: CONFIG,
        regs: &[(Level::Global, "auth", None, "auth"), (Level::Global, "rewrite", None, "rw")],
        setup: |world, txn| {
            let (auth, rewrite) =
                (world.priorities.plugin("auth"), world.priorities.plugin("rewrite"));
            let op = Caller::OPERATOR;
            txn.session_control.set_plugin_enabled(auth, false, &op, &world.priorities).unwrap();
            txn.session_control.set_plugin_enabled(rewrite, false, &op, &world.priorities).unwrap();
            txn.control.set_plugin_enabled(auth, true, &op, &world.priorities).unwrap();
        },
        hook: HookId::ReadRequestHdr,
        expected: &["auth"],
    },
    Case {
        name: "configured global threshold skips callbacks below it",
        config: "priorities:\n  threshold: 0\n  plugins:\n    - { name: low, priority: -1 }\n",
        regs: &[(Level::Global, "low", None, "low"), (Level::Global, "x", None, "x")],
        setup: nothing,
        hook: HookId::SendResponseHdr,
        expected: &["x"],
    },
    Case {
        name: "a per-hook threshold beats the global one",
        config: "priorities:\n  threshold: 100\n  hooks:\n    SEND_RESPONSE_HDR: { threshold: -5 }\n  plugins:\n    - { name: low, priority: -1 }\n",
        regs: &[(Level::Global, "low", None, "low"), (Level::Global, "x", None, "x")],
        setup: nothing,
        hook: HookId::SendResponseHdr,
        expected: &["x", "low"],
    },
    Case {
        name: "a session threshold beats the configuration's",
        config: "priorities:\n  threshold: 100\n",
        regs: &[(Level::Global, "a", Some(0), "a"), (Level::Global, "b", Some(-20), "b")],
        setup: |_, txn| {
            txn.session_control
                .set_threshold(None, Some(Priority(-10)), &Caller::OPERATOR)
                .unwrap();
        },
        hook: HookId::ReadRequestHdr,
        expected: &["a"],
    },
    Case {
        name: "a transaction's per-hook threshold beats its general one and the session's",
        config: NO_CONFIG,
        regs: &[(Level::Global, "a", Some(0), "a"), (Level::Global, "b", Some(-20), "b")],
        setup: |_, txn| {
            let op = Caller::OPERATOR;
            txn.session_control.set_threshold(None, Some(Priority(10)), &op).unwrap();
            txn.control.set_threshold(None, Some(Priority(5)), &op).unwrap();
            txn.control
                .set_threshold(Some(HookId::ReadRequestHdr), Some(Priority(-50)), &op)
                .unwrap();
        },
        hook: HookId::ReadRequestHdr,
        expected: &["a", "b"],
    },
    Case {
        name: "cleanup hooks run every callback whatever thresholds and switches say",
        config: "priorities:\n  threshold: 1000\n",
        regs: &[(Level::Global, "a", Some(0), "a"), (Level::Transaction, "b", Some(-20), "b")],
        setup: |world, txn| {
            let a = world.priorities.plugin("a");
            txn.control.set_plugin_enabled(a, false, &Caller::OPERATOR, &world.priorities).unwrap();
        },
        hook: HookId::TxnClose,
        expected: &["a", "b"],
    },
    Case {
        name: "cleanup hooks run and list a removed callback",
        config: NO_CONFIG,
        regs: &[(Level::Global, "a", Some(0), "a"), (Level::Global, "b", Some(-20), "b")],
        setup: |world, txn| remove_on_txn_close(world, txn, "b"),
        hook: HookId::TxnClose,
        expected: &["a", "b"],
    },
    Case {
        name: "cleanup hooks run a removed callback also after a priority change",
        config: NO_CONFIG,
        regs: &[(Level::Global, "a", Some(0), "a"), (Level::Global, "b", Some(-20), "b")],
        setup: |world, txn| {
            remove_on_txn_close(world, txn, "b");
            let tables =
                hookyard_hooks::Tables { global: Some(&world.global), session: None, txn: None };
            let a = world.global.entries(HookId::TxnClose)[0].id();
            txn.control
                .set_callback_priority(
                    &tables,
                    None,
                    HookId::TxnClose,
                    a,
                    Priority(-30),
                    &Caller::OPERATOR,
                )
                .unwrap();
        },
        hook: HookId::TxnClose,
        expected: &["b", "a"],
    },
    Case {
        name: "a callback's priority changed for the transaction moves it",
        config: CONFIG,
        regs: &[
            (Level::Global, "auth", None, "auth"),
            (Level::Global, "rewrite", None, "rw"),
            (Level::Global, "logger", None, "log"),
        ],
        setup: |world, txn| {
            let log = world
                .global
                .entries(HookId::PostRemap)
                .iter()
                .find(|e| e.priority() == Priority(-10));
            let id = log.unwrap().id();
            let tables =
                hookyard_hooks::Tables { global: Some(&world.global), session: None, txn: None };
            txn.control
                .set_callback_priority(
                    &tables,
                    None,
                    HookId::PostRemap,
                    id,
                    Priority(950),
                    &Caller::OPERATOR,
                )
                .unwrap();
        },
        hook: HookId::PostRemap,
        expected: &["log", "auth", "rw"],
    },
];

/// Removes `plugin`'s TXN_CLOSE callback for the transaction.
fn remove_on_txn_close(world: &World, txn: &mut Txn, plugin: &str) {
    let plugin = world.priorities.plugin(plugin);
    let entries = world.global.entries(HookId::TxnClose);
    let id = entries.iter().find(|e| e.plugin() == plugin).unwrap().id();
    let tables = hookyard_hooks::Tables { global: Some(&world.global), session: None, txn: None };
    txn.control.remove_callback(&tables, None, HookId::TxnClose, id, &Caller::OPERATOR).unwrap();
}

#[test]
fn dispatch_order_table() {
    for case in CASES {
        let mut world = World::new(case.config);
        let mut txn = world.txn();
        for (level, plugin, priority, label) in case.regs {
            let table = match level {
                Level::Global => &mut world.global,
                Level::Session => &mut txn.session,
                Level::Transaction => &mut txn.txn,
            };
            reg(table, &world.priorities, case.hook, plugin, label, *priority);
        }
        (case.setup)(&world, &mut txn);
        let progress = world.dispatch(case.hook, &mut txn);
        assert_eq!(progress, Progress::Done(Outcome::Continue), "{}", case.name);
        assert_eq!(txn.log, case.expected, "{}", case.name);

        // The listing agrees with the dispatch.
        let listed = hookyard_hooks::callbacks(
            case.hook,
            Some(&world.global),
            &world.priorities,
            &crate::support::local(&txn),
        )
        .into_iter()
        .filter(|c| c.enabled)
        .count();
        assert_eq!(listed, case.expected.len(), "{}: listing", case.name);
    }
}

#[test]
fn a_priority_above_the_plugins_ceiling_is_refused() {
    let mut world = World::new(CONFIG);
    let err = world
        .global
        .add(
            HookId::ReadRequestHdr,
            logging("rewrite", "x", Outcome::Continue),
            Some(Priority(101)),
            &world.priorities,
        )
        .unwrap_err();
    assert_eq!(
        err,
        Error::AboveCeiling {
            plugin: "rewrite".into(),
            priority: Priority(101),
            ceiling: Priority(100)
        }
    );
    assert_eq!(err.to_string(), "priority 101 is above plugin `rewrite`'s ceiling 100");
    // An unnamed plugin gets the configured default ceiling.
    let err = world
        .global
        .add(
            HookId::ReadRequestHdr,
            logging("unnamed", "x", Outcome::Continue),
            Some(Priority(51)),
            &world.priorities,
        )
        .unwrap_err();
    assert!(matches!(err, Error::AboveCeiling { ceiling: Priority(50), .. }));
    assert!(world.global.is_empty());
}

#[test]
fn hooks_refuse_levels_where_they_never_fire() {
    let world = World::new(NO_CONFIG);
    let mut txn = world.txn();
    let cb = || logging("p", "x", Outcome::Continue);
    assert_eq!(
        txn.session.add(HookId::PluginsLoaded, cb(), None, &world.priorities),
        Err(Error::WrongLevel { hook: HookId::PluginsLoaded, level: Level::Session })
    );
    assert_eq!(
        txn.txn.add(HookId::SsnStart, cb(), None, &world.priorities),
        Err(Error::WrongLevel { hook: HookId::SsnStart, level: Level::Transaction })
    );
    assert!(txn.session.add(HookId::SsnClose, cb(), None, &world.priorities).is_ok());
}

#[test]
fn session_hooks_dispatch_global_then_session() {
    let mut world = World::new(NO_CONFIG);
    let mut txn = world.txn();
    reg(&mut txn.session, &world.priorities, HookId::SsnStart, "s", "S", None);
    reg(&mut world.global, &world.priorities, HookId::SsnStart, "g", "G", None);
    assert_eq!(world.dispatch(HookId::SsnStart, &mut txn), Progress::Done(Outcome::Continue));
    assert_eq!(txn.log, ["G", "S"]);
}

#[test]
fn a_plugin_lowering_its_own_priority_reorders_its_callbacks_after_refresh() {
    let mut world = World::new(CONFIG);
    reg(&mut world.global, &world.priorities, HookId::ReadRequestHdr, "auth", "auth", None);
    reg(&mut world.global, &world.priorities, HookId::ReadRequestHdr, "rewrite", "rw", None);
    reg(
        &mut world.global,
        &world.priorities,
        HookId::ReadRequestHdr,
        "auth",
        "auth-pinned",
        Some(900),
    );
    let auth = world.priorities.plugin("auth");
    assert!(matches!(
        world.priorities.set_priority(auth, Priority(1001)),
        Err(Error::AboveCeiling { ceiling: Priority(1000), .. })
    ));
    world.priorities.set_priority(auth, Priority(5)).unwrap();
    world.global.refresh_priorities(&world.priorities);
    let mut txn = world.txn();
    world.dispatch(HookId::ReadRequestHdr, &mut txn);
    assert_eq!(txn.log, ["auth-pinned", "rw", "auth"], "an explicit priority stays");
}
