//! Which plugin version calls `txn_resume` / `ssn_resume`, functions whose C signature names
//! no plugin (ATS's `TSHttpTxnReenable` has the same shape, and plugins call them from threads
//! of their own, where no host state tells who runs).
//!
//! Each plugin version's table gets its own entry points: [`SLOTS`] monomorphic copies of each
//! function, copy `N` knowing it serves the version that holds slot `N`. The table of a version
//! is built once, so the cost is a slot taken at load and freed at unload; a call costs one
//! atomic load more. When every slot is taken (more than [`SLOTS`] versions loaded at once),
//! a version gets the shared entry points, which cannot tell its resumes from another plugin's
//! and apply only the once-only rule (logged once).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use hookyard_abi::{hy_hook_result, hy_return, hy_ssn, hy_txn};

/// How many plugin versions can be told apart at once.
pub(crate) const SLOTS: usize = 128;

/// Per slot: the id of the plugin version holding it; 0 when free.
static OWNERS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

/// Serialises taking and freeing slots (loads are rare); calls only read [`OWNERS`].
static TAKING: Mutex<()> = Mutex::new(());

type TxnResume = unsafe extern "C" fn(*mut hy_txn, hy_hook_result) -> hy_return;
type SsnResume = unsafe extern "C" fn(*mut hy_ssn, hy_hook_result) -> hy_return;

/// A plugin version's slot; freed when dropped (with the version's table).
#[derive(Debug)]
pub(crate) struct Slot(usize);

impl Drop for Slot {
    fn drop(&mut self) {
        let _serial = TAKING.lock().unwrap_or_else(PoisonError::into_inner);
        OWNERS[self.0].store(0, Ordering::Release);
    }
}

impl Slot {
    /// A free slot for plugin version `id`, or `None` when all are taken.
    pub(crate) fn take(id: u64) -> Option<Slot> {
        let _serial = TAKING.lock().unwrap_or_else(PoisonError::into_inner);
        let free = OWNERS.iter().position(|o| o.load(Ordering::Acquire) == 0)?;
        OWNERS[free].store(id, Ordering::Release);
        Some(Slot(free))
    }

    /// The slot's `txn_resume` and `ssn_resume`.
    pub(crate) fn entry_points(&self) -> (TxnResume, SsnResume) {
        (TXN_RESUME[self.0], SSN_RESUME[self.0])
    }
}

/// The plugin version holding slot `N`.
fn owner<const N: usize>() -> Option<u64> {
    Some(OWNERS[N].load(Ordering::Acquire)).filter(|id| *id != 0)
}

unsafe extern "C" fn txn_resume_at<const N: usize>(
    txn: *mut hy_txn,
    result: hy_hook_result,
) -> hy_return {
    // SAFETY: the caller's contract is `txn_resume`'s.
    unsafe { crate::api::txn_resume_by(owner::<N>(), txn, result) }
}

unsafe extern "C" fn ssn_resume_at<const N: usize>(
    ssn: *mut hy_ssn,
    result: hy_hook_result,
) -> hy_return {
    // SAFETY: the caller's contract is `ssn_resume`'s.
    unsafe { crate::api::ssn_resume_by(owner::<N>(), ssn, result) }
}

/// One array of `$f::<N>` for every slot number.
macro_rules! per_slot {
    ($f:ident) => {
        per_slot!(@ $f [
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
            32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
            61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89
            90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113
            114 115 116 117 118 119 120 121 122 123 124 125 126 127
        ])
    };
    (@ $f:ident [$($n:literal)*]) => {
        [$($f::<$n>),*]
    };
}

static TXN_RESUME: [TxnResume; SLOTS] = per_slot!(txn_resume_at);
static SSN_RESUME: [SsnResume; SLOTS] = per_slot!(ssn_resume_at);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slot_names_its_version_until_freed() {
        let a = Slot::take(u64::MAX - 1).unwrap();
        let b = Slot::take(u64::MAX - 2).unwrap();
        assert_ne!(a.0, b.0);
        assert_ne!(a.entry_points().0 as usize, b.entry_points().0 as usize);
        assert_eq!(OWNERS[a.0].load(Ordering::Acquire), u64::MAX - 1);
        let freed = a.0;
        drop(a);
        assert_eq!(OWNERS[freed].load(Ordering::Acquire), 0);
    }
}
