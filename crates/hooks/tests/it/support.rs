//! A test transaction and world: callbacks log their label into the transaction.

use std::path::Path;
use std::sync::Arc;

use hookyard_context::{Context, Continuation};
use hookyard_hooks::{
    Control, Dispatch, HookId, Hooks, Level, Local, Outcome, Priorities, Priority, PriorityConfig,
    Progress,
};

/// A callback: gets the transaction, answers an outcome.
pub(crate) type Handler = dyn Fn(&mut Txn) -> Outcome + Send + Sync;
pub(crate) type Callback = Arc<Continuation<Handler>>;

/// The configuration side: priorities and the global table.
pub(crate) struct World {
    pub(crate) priorities: Arc<Priorities>,
    pub(crate) global: Hooks<Handler>,
}

/// A transaction with its session's parts.
pub(crate) struct Txn {
    pub(crate) log: Vec<String>,
    pub(crate) session: Hooks<Handler>,
    pub(crate) txn: Hooks<Handler>,
    pub(crate) session_control: Control,
    pub(crate) control: Control,
    pub(crate) priorities: Arc<Priorities>,
}

impl World {
    pub(crate) fn new(priorities_yaml: &str) -> World {
        let config =
            PriorityConfig::from_plugin_yaml(Path::new("plugin.yaml"), priorities_yaml).unwrap();
        World { priorities: Arc::new(Priorities::new(&config)), global: Hooks::new(Level::Global) }
    }

    pub(crate) fn txn(&self) -> Txn {
        Txn {
            log: Vec::new(),
            session: Hooks::new(Level::Session),
            txn: Hooks::new(Level::Transaction),
            session_control: Control::default(),
            control: Control::default(),
            priorities: Arc::clone(&self.priorities),
        }
    }

    pub(crate) fn dispatch(&self, hook: HookId, txn: &mut Txn) -> Progress {
        let mut dispatch = Dispatch::new(hook);
        self.resume(&mut dispatch, txn)
    }

    pub(crate) fn resume(&self, dispatch: &mut Dispatch, txn: &mut Txn) -> Progress {
        dispatch
            .run(Some(&self.global), &self.priorities, txn, local, |handler, _, txn| handler(txn))
    }
}

pub(crate) fn local(txn: &Txn) -> Local<'_, Handler> {
    Local {
        session: Some(&txn.session),
        txn: Some(&txn.txn),
        session_control: Some(&txn.session_control),
        txn_control: Some(&txn.control),
        ..Local::default()
    }
}

/// A callback of plugin `plugin` that logs `label` and answers `outcome`.
pub(crate) fn logging(plugin: &str, label: &str, outcome: Outcome) -> Callback {
    let label = label.to_owned();
    with_handler(plugin, move |txn: &mut Txn| {
        txn.log.push(label.clone());
        outcome
    })
}

/// A callback of plugin `plugin` running `handler`.
pub(crate) fn with_handler(
    plugin: &str,
    handler: impl Fn(&mut Txn) -> Outcome + Send + Sync + 'static,
) -> Callback {
    Context::builtin(plugin).run(|| Arc::new(Continuation::new(handler)) as Callback)
}

/// Registers a logging callback; panics on a registration error.
pub(crate) fn reg(
    table: &mut Hooks<Handler>,
    priorities: &Priorities,
    hook: HookId,
    plugin: &str,
    label: &str,
    priority: Option<i32>,
) {
    table
        .add(hook, logging(plugin, label, Outcome::Continue), priority.map(Priority), priorities)
        .unwrap();
}
