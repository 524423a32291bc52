//! A session (client connection) as plugins see it: the state a `hy_ssn *` points to
//! ([`SsnState`]), shared by the connection's [`SsnBox`] and the state of each of its
//! transactions.
//!
//! Several transactions of one session may be alive at once — a TXN_CLOSE still pending while
//! the next request runs, HTTP/2 streams later — and a plugin holding any of them may reach the
//! session (`txn_ssn_get`) from its own thread while its hook is pending. So the state is
//! reference-counted, lives as long as the last transaction state that names it, and what
//! plugins can change in it is behind a lock (see [`SsnState`]).

use std::net::{IpAddr, SocketAddr};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hookyard_hooks::{
    Arms, CallbackId, Control, HookId, Hooks, Level, Outcome, Priorities, Priority,
};
use hookyard_userargs::{Conn, Slots, Ssn};
use tokio::sync::Notify;

use crate::cont::{CCont, Callback};
use crate::dispatch::{Ptr, Target, dispatch, release};
use crate::global::GlobalHooks;
use crate::pending::Resume;

/// Tells a lent session pointer from garbage.
pub(crate) const SSN_TAG: u32 = 0x6879_7373;

/// A session (client connection) as plugins see it; `*mut hy_ssn` points here (the address of
/// the shared state, stable for its whole life).
///
/// Who touches what: `tag` and `conn` never change; `resume`, the count of open transactions and
/// `hooked` are atomics, used from any thread; everything a plugin can change (session hooks, controls,
/// user args) is in `SsnData` behind `data`, which plugins reach from every transaction of the
/// session and from the thread of any pending callback. The host holds that lock only while its
/// own code reads or writes (picking the next callback of a dispatch, one host function), never
/// while plugin code runs, so a callback may call any host function on its session.
#[repr(C)]
pub struct SsnState {
    /// First, so a `void *` object can be told a transaction or a session.
    tag: u32,
    data: Mutex<SsnData>,
    resume: Arc<Resume>,
    /// Transactions whose state exists and has not ended (its TXN_CLOSE finished, or it was
    /// dropped): SSN_CLOSE waits for none to be left.
    open: AtomicUsize,
    /// Notified when `open` falls to zero, once something waits for that (`waiting`): a
    /// notification takes the notifier's lock, which no transaction should take otherwise.
    ended: Notify,
    /// Set (never cleared) by the first wait for the transactions to end, after it registered
    /// with `ended`.
    waiting: AtomicBool,
    /// Whether the session's own hook table has a callback (set with the first, never cleared:
    /// callbacks are only added), so that transactions ask without taking the lock.
    hooked: AtomicBool,
    /// Whether a plugin changed the session's control (set with the first change, never
    /// cleared): until then a dispatch has nothing of the session to read, and takes no lock.
    controlled: AtomicBool,
    /// The client connection the session is (its client's address is what `by: client`
    /// canaries choose a side by); never changes.
    conn: Option<ClientConn>,
}

/// A client connection as plugins see it: both ends' addresses and what TLS negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConn {
    /// The client's address.
    pub addr: SocketAddr,
    /// The proxy's address the client connected to.
    pub local: SocketAddr,
    /// What the TLS handshake negotiated; `None` on a plain connection.
    pub tls: Option<ClientTls>,
}

/// What a client connection's TLS handshake negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTls {
    /// The SNI name the client sent, lowercase.
    pub sni: Option<String>,
    /// The ALPN protocol agreed on.
    pub alpn: Option<Vec<u8>>,
    /// The TLS version: `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
}

/// What plugins can change of a session, behind its lock.
pub(crate) struct SsnData {
    pub(crate) hooks: Hooks<CCont>,
    pub(crate) control: Control,
    pub(crate) slots: Slots<Ssn>,
    pub(crate) conn_slots: Slots<Conn>,
}

impl SsnState {
    /// The client connection, when the session was made for one.
    pub(crate) fn conn(&self) -> Option<&ClientConn> {
        self.conn.as_ref()
    }

    /// The client's IP address, when known: what `by: client` canaries choose a side by.
    pub(crate) fn client(&self) -> Option<IpAddr> {
        self.conn.as_ref().map(|conn| conn.addr.ip())
    }

    pub(crate) fn resume_handle(&self) -> Arc<Resume> {
        self.resume.clone()
    }

    /// What plugins can change; never held while plugin code runs. A panic under the lock
    /// (caught at the boundary) leaves nothing half-changed that matters, so poison is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, SsnData> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a session-level callback; its id when added.
    pub(crate) fn add_hook(
        &self,
        hook: HookId,
        cont: Arc<Callback>,
        priority: Option<Priority>,
        priorities: &Priorities,
    ) -> Option<CallbackId> {
        let added = self.lock().hooks.add(hook, cont, priority, priorities).ok();
        if added.is_some() {
            self.hooked.store(true, Ordering::Release);
        }
        added
    }

    /// Whether the session's own table has any callback (no lock taken).
    #[inline]
    pub(crate) fn hooked(&self) -> bool {
        self.hooked.load(Ordering::Acquire)
    }

    /// The session's data locked to change its control: dispatches read the session from now
    /// on.
    pub(crate) fn lock_for_control(&self) -> MutexGuard<'_, SsnData> {
        let data = self.lock();
        self.controlled.store(true, Ordering::Release);
        data
    }

    /// Whether a dispatch has anything of the session to read: callbacks, or a control a plugin
    /// changed (no lock taken).
    #[inline]
    pub(crate) fn takes_part(&self) -> bool {
        self.hooked() || self.controlled.load(Ordering::Acquire)
    }

    /// The state's address: what `hy_ssn *` is.
    pub(crate) fn ptr(this: &Arc<SsnState>) -> *mut SsnState {
        Arc::as_ptr(this).cast_mut()
    }

    /// A transaction of the session starts.
    fn transaction_started(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    /// A transaction of the session ended.
    fn transaction_ended(&self) {
        // Sequentially consistent with the waiter's store of `waiting` and load of `open`: if
        // this reads no waiter, the waiter's load comes after this decrement and sees it.
        if self.open.fetch_sub(1, Ordering::SeqCst) == 1 && self.waiting.load(Ordering::SeqCst) {
            self.ended.notify_waiters();
        }
    }
}

impl Target for SsnState {
    fn resume(&self) -> &Arc<Resume> {
        &self.resume
    }

    fn session(&self) -> Option<&SsnState> {
        Some(self)
    }

    fn own(&self) -> Option<(&Hooks<CCont>, &Control)> {
        None
    }

    fn arms(&self, global: &GlobalHooks) -> Arms {
        global.canaries.session(self.client())
    }

    unsafe fn expired(_: NonNull<SsnState>) {}

    unsafe fn free(this: NonNull<SsnState>) {
        // SAFETY: per the contract, one strong count made by `Arc::into_raw`.
        drop(unsafe { Arc::from_raw(this.as_ptr()) });
    }
}

/// The connection's handle on its session state; the transactions' states hold others.
pub struct SsnBox(Arc<SsnState>);

impl Default for SsnBox {
    /// A session without a known client connection.
    fn default() -> SsnBox {
        SsnBox::new(None)
    }
}

impl SsnBox {
    /// The session of the client connection `conn`, which plugins read; `by: client` canaries
    /// choose its side by the client's IP address (not the port), for its session hooks and
    /// its transactions.
    pub fn for_conn(conn: ClientConn) -> SsnBox {
        SsnBox::new(Some(conn))
    }

    fn new(conn: Option<ClientConn>) -> SsnBox {
        SsnBox(Arc::new(SsnState {
            tag: SSN_TAG,
            data: Mutex::new(SsnData {
                hooks: Hooks::new(Level::Session),
                control: Control::default(),
                slots: Slots::new(),
                conn_slots: Slots::new(),
            }),
            resume: Arc::default(),
            open: AtomicUsize::new(0),
            ended: Notify::new(),
            waiting: AtomicBool::new(false),
            hooked: AtomicBool::new(false),
            controlled: AtomicBool::new(false),
            conn,
        }))
    }

    /// The client's IP address, when known.
    pub(crate) fn client(&self) -> Option<IpAddr> {
        self.0.client()
    }
}

impl SsnBox {
    /// The state's address: what `hy_ssn *` is.
    #[cfg(test)]
    pub(crate) fn as_ptr(&self) -> *mut SsnState {
        SsnState::ptr(&self.0)
    }

    /// A strong reference for a transaction of this session, counted open until the returned
    /// [`Member`] drops.
    pub(crate) fn member(&self) -> Member {
        self.0.transaction_started();
        Member(self.0.clone())
    }

    /// Whether callbacks are registered on the session itself.
    pub fn has_hooks(&self) -> bool {
        self.0.hooked()
    }

    /// Waits until no transaction of the session is open (each one's TXN_CLOSE finished, or its
    /// state was dropped), at most `limit`; `false` when the limit passed first.
    pub async fn transactions_ended(&self, limit: Duration) -> bool {
        let now = tokio::time::Instant::now();
        let deadline = now.checked_add(limit).unwrap_or(now + Duration::from_secs(86_400));
        loop {
            let ended = self.0.ended.notified();
            let mut ended = std::pin::pin!(ended);
            // Registered before the count is read, so a last decrement in between still wakes it
            // (it reads `waiting` set, see `transaction_ended`).
            ended.as_mut().enable();
            self.0.waiting.store(true, Ordering::SeqCst);
            if self.0.open.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return self.0.open.load(Ordering::Acquire) == 0;
            }
        }
    }

    /// Runs a session hook (SSN_START, SSN_CLOSE) with the generation's global hooks. SSN_START
    /// runs before the session's first transaction starts, SSN_CLOSE once its last ended
    /// ([`SsnBox::transactions_ended`]).
    pub async fn hook(&self, global: &GlobalHooks, hook: HookId) -> Outcome {
        if !global.has_hooks() && !self.has_hooks() {
            return Outcome::Continue;
        }
        let Some(state) = NonNull::new(SsnState::ptr(&self.0)) else { return Outcome::Continue };
        // SAFETY: the state lives as long as this box, borrowed for the whole dispatch; it is
        // only ever used through shared references (its mutable parts are behind its lock).
        unsafe { dispatch(Ptr(state), global, hook).await }
    }
}

impl Drop for SsnBox {
    fn drop(&mut self) {
        // This box's strong count goes to `release`: freed now, or kept for a plugin whose
        // session hook is pending (its resume, or the host after the grace period, drops it).
        if let Some(count) = NonNull::new(Arc::into_raw(self.0.clone()).cast_mut()) {
            // SAFETY: one strong count made by `Arc::into_raw`, given to `release`.
            unsafe { release(count) };
        }
    }
}

/// A transaction's strong reference to its session, counting it open until dropped (after its
/// TXN_CLOSE ran, or with its state).
pub(crate) struct Member(Arc<SsnState>);

impl Member {
    pub(crate) fn state(&self) -> &Arc<SsnState> {
        &self.0
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.0.transaction_ended();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookyard_hooks::Priorities;
    use http::{HeaderMap, Method, Version};

    use super::*;
    use crate::{TxnBox, UrlParts};

    fn txn(ssn: &SsnBox) -> TxnBox {
        let global = crate::Kept::new(Arc::new(GlobalHooks::build(
            Arc::new(Priorities::default()),
            Vec::new(),
            Duration::from_secs(5),
            Duration::from_secs(1),
        )));
        TxnBox::new(
            global,
            Some(ssn),
            Method::GET,
            UrlParts::default(),
            Version::HTTP_11,
            HeaderMap::new(),
        )
    }

    #[test]
    fn a_transaction_keeps_its_session_after_the_connection_dropped_it() {
        let ssn = SsnBox::default();
        let address = SsnState::ptr(&ssn.0);
        let mut txn = txn(&ssn);
        let weak = Arc::downgrade(&ssn.0);
        drop(ssn);
        assert!(weak.upgrade().is_some(), "the transaction's state holds it");
        assert_eq!(txn.get().ssn_ptr(), address, "hy_ssn * is the shared state's address");
        drop(txn);
        assert!(weak.upgrade().is_none(), "freed with its last transaction");
    }

    #[test]
    fn the_session_waits_for_its_transactions_to_end() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let ssn = Arc::new(SsnBox::default());
            let (first, second) = (txn(&ssn), txn(&ssn));
            assert!(!ssn.transactions_ended(Duration::from_millis(10)).await, "two open");
            let waiting = ssn.clone();
            let waiter =
                tokio::spawn(
                    async move { waiting.transactions_ended(Duration::from_secs(60)).await },
                );
            drop(first);
            tokio::task::yield_now().await;
            assert!(!waiter.is_finished(), "one still open");
            // TXN_CLOSE with no hooks ends it at once.
            second.close();
            assert!(waiter.await.unwrap());
            assert!(ssn.transactions_ended(Duration::ZERO).await);
        });
    }

    /// The last transaction ending on another thread while the session starts to wait wakes
    /// the wait, whichever comes first: a lost wake-up would hold it to its limit (a minute).
    #[test]
    fn a_last_transaction_ending_meanwhile_wakes_the_wait() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            for _ in 0..500 {
                let ssn = SsnBox::default();
                let last = txn(&ssn);
                let ender = std::thread::spawn(move || drop(last));
                let wait = ssn.transactions_ended(Duration::from_secs(60));
                let ended = tokio::time::timeout(Duration::from_secs(10), wait).await;
                assert_eq!(ended, Ok(true), "woken when the last transaction ended");
                ender.join().unwrap();
            }
        });
    }
}
