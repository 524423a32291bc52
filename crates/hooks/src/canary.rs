//! Canaries: two versions of one global plugin in one table, each transaction running the
//! callbacks of one of them.
//!
//! A global [`Entry`](crate::Entry) carries an [`Arm`]: `Both` (not part of a canary, the
//! default), or the stable or canary side of canary `n` of its table. A dispatch's
//! [`Local`](crate::Local) carries [`Arms`], the sides chosen for it; an entry of a side not
//! chosen is skipped. Nothing is chosen by default, so tables without canaries, and dispatches
//! that choose nothing (lifecycle hooks), run every callback.

/// Which side of a canary a global callback belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Arm {
    /// Not part of a canary: runs whatever a dispatch chose.
    #[default]
    Both,
    /// The stable version of canary `n` (below [`Arms::MAX`]).
    Stable(u8),
    /// The canary version of canary `n` (below [`Arms::MAX`]).
    Canary(u8),
}

impl Arm {
    /// `both`, `stable` or `canary`.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Both => "both",
            Arm::Stable(_) => "stable",
            Arm::Canary(_) => "canary",
        }
    }
}

/// The sides one dispatch chose: per canary, undecided (both sides run), stable or canary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Arms {
    decided: u64,
    canary: u64,
}

impl Arms {
    /// How many canaries one table can tell apart.
    pub const MAX: usize = 64;

    /// Chooses, for canary `n`, its canary side (`true`) or its stable side; a canary `n` not
    /// below [`Arms::MAX`] stays undecided.
    pub fn choose(&mut self, n: u8, canary: bool) {
        let Some(bit) = 1u64.checked_shl(u32::from(n)) else { return };
        self.decided |= bit;
        if canary {
            self.canary |= bit;
        } else {
            self.canary &= !bit;
        }
    }

    /// The side chosen for canary `n`: `Some(true)` canary, `Some(false)` stable, `None` both.
    pub fn chosen(self, n: u8) -> Option<bool> {
        let bit = 1u64.checked_shl(u32::from(n))?;
        (self.decided & bit != 0).then_some(self.canary & bit != 0)
    }

    /// Whether a callback of side `arm` runs in a dispatch that chose these sides.
    #[inline]
    pub fn runs(self, arm: Arm) -> bool {
        match arm {
            Arm::Both => true,
            Arm::Stable(n) => self.chosen(n) != Some(true),
            Arm::Canary(n) => self.chosen(n) != Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hookyard_context::{Context, Continuation};

    use super::*;
    use crate::{Dispatch, HookId, Hooks, Level, Local, Outcome, Priorities};

    type Handler = dyn Fn(&mut Vec<&'static str>) -> Outcome + Send + Sync;

    fn logging(plugin: &str, label: &'static str) -> Arc<Continuation<Handler>> {
        Context::builtin(plugin).run(|| {
            Arc::new(Continuation::new(move |log: &mut Vec<&'static str>| {
                log.push(label);
                Outcome::Continue
            })) as Arc<Continuation<Handler>>
        })
    }

    #[test]
    fn a_dispatch_runs_the_chosen_side_only_cleanup_hooks_included() {
        let priorities = Priorities::default();
        let mut table: Hooks<Handler> = Hooks::new(Level::Global);
        for hook in [HookId::ReadRequestHdr, HookId::TxnClose] {
            let plain = table.add(hook, logging("other", "other"), None, &priorities).unwrap();
            let stable = table.add(hook, logging("stamp", "v1"), None, &priorities).unwrap();
            let canary = table.add(hook, logging("stamp", "v2"), None, &priorities).unwrap();
            assert!(table.set_arm(stable, Arm::Stable(0)) && table.set_arm(canary, Arm::Canary(0)));
            assert_eq!(table.find(plain).map(|(_, e)| e.arm()), Some(Arm::Both));
        }
        let run = |hook, arms: Arms| {
            let mut log = Vec::new();
            Dispatch::new(hook).run(
                Some(&table),
                &priorities,
                &mut log,
                |_| Local { arms, ..Local::default() },
                |handler, _, log| handler(log),
            );
            log
        };
        let (mut stable, mut canary) = (Arms::default(), Arms::default());
        stable.choose(0, false);
        canary.choose(0, true);
        for hook in [HookId::ReadRequestHdr, HookId::TxnClose] {
            assert_eq!(run(hook, Arms::default()), ["other", "v1", "v2"], "{hook}: undecided");
            assert_eq!(run(hook, stable), ["other", "v1"], "{hook}");
            assert_eq!(run(hook, canary), ["other", "v2"], "{hook}");
        }
    }

    #[test]
    fn undecided_runs_both_sides_and_a_choice_runs_one() {
        let mut arms = Arms::default();
        for arm in [Arm::Both, Arm::Stable(3), Arm::Canary(3)] {
            assert!(arms.runs(arm), "{arm:?}");
        }
        arms.choose(3, true);
        arms.choose(63, false);
        let runs = |arm| arms.runs(arm);
        assert_eq!(
            [Arm::Both, Arm::Stable(3), Arm::Canary(3), Arm::Stable(63), Arm::Canary(63)].map(runs),
            [true, false, true, true, false]
        );
        // Other canaries stay undecided.
        assert!(arms.runs(Arm::Stable(4)) && arms.runs(Arm::Canary(4)));
        arms.choose(3, false);
        assert_eq!(arms.chosen(3), Some(false));
        // Out of range: ignored, both sides run.
        arms.choose(64, true);
        assert_eq!(arms.chosen(64), None);
        assert!(arms.runs(Arm::Stable(64)) && arms.runs(Arm::Canary(64)));
    }
}
