//! `ctl hooks --txn-sample`: the next transaction to end tells what its hooks ran.
//!
//! Transactions look at one relaxed flag when they end; only while a sampler waits does one of
//! them build its listing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::report::HookInfo;

/// Samplers waiting for the next transaction.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    armed: AtomicBool,
    waiters: Mutex<Vec<oneshot::Sender<Vec<HookInfo>>>>,
}

impl Sampler {
    /// What the hooks of the next transaction to end ran, or `None` when none ends within
    /// `wait`.
    pub(crate) async fn next(&self, wait: Duration) -> Option<Vec<HookInfo>> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner).push(tx);
        self.armed.store(true, Ordering::Relaxed);
        tokio::time::timeout(wait, rx).await.ok()?.ok()
    }

    /// Whether a sampler waits (cheap: every transaction asks).
    #[inline]
    pub(crate) fn armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// Answers the waiting samplers with a transaction's listing.
    pub(crate) fn answer(&self, listing: impl FnOnce() -> Vec<HookInfo>) {
        let waiters =
            std::mem::take(&mut *self.waiters.lock().unwrap_or_else(PoisonError::into_inner));
        self.armed.store(false, Ordering::Relaxed);
        if waiters.is_empty() {
            return;
        }
        let listing = listing();
        for waiter in waiters {
            let _ = waiter.send(listing.clone());
        }
    }
}
