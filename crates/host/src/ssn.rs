//! A session (client connection) as plugins see it: the state a `hy_ssn *` points to
//! ([`SsnState`]) and the box its connection owns ([`SsnBox`]).

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::Arc;

use hookyard_hooks::{Control, HookId, Hooks, Level, Local, Outcome};
use hookyard_userargs::{Conn, Slots, Ssn};

use crate::cont::CCont;
use crate::dispatch::{Ptr, Target, dispatch, release};
use crate::global::GlobalHooks;
use crate::pending::Resume;

/// Tells a lent session pointer from garbage.
pub(crate) const SSN_TAG: u32 = 0x6879_7373;

/// A session (client connection) as plugins see it; `*mut hy_ssn` points here.
#[repr(C)]
pub struct SsnState {
    tag: u32,
    pub(crate) hooks: Hooks<CCont>,
    pub(crate) control: Control,
    pub(crate) slots: Slots<Ssn>,
    pub(crate) conn_slots: Slots<Conn>,
    resume: Arc<Resume>,
}

impl SsnState {
    pub(crate) fn resume_handle(&self) -> Arc<Resume> {
        self.resume.clone()
    }
}

impl Target for SsnState {
    fn resume(&self) -> &Arc<Resume> {
        &self.resume
    }

    fn local(&self) -> Local<'_, CCont> {
        Local {
            session: Some(&self.hooks),
            txn: None,
            session_control: Some(&self.control),
            txn_control: None,
        }
    }

    fn edata(&mut self) -> *mut c_void {
        std::ptr::from_mut(self).cast()
    }

    fn expired(&mut self) {}
}

/// Owns a [`SsnState`]; lives as long as its connection.
pub struct SsnBox(NonNull<SsnState>);

// SAFETY: as for `TxnBox`.
unsafe impl Send for SsnBox {}
// SAFETY: shared only to hand its pointer to transactions of the same connection, which run one
// after another.
unsafe impl Sync for SsnBox {}

impl Default for SsnBox {
    fn default() -> SsnBox {
        let state = Box::new(SsnState {
            tag: SSN_TAG,
            hooks: Hooks::new(Level::Session),
            control: Control::default(),
            slots: Slots::new(),
            conn_slots: Slots::new(),
            resume: Arc::default(),
        });
        SsnBox(NonNull::from(Box::leak(state)))
    }
}

impl SsnBox {
    /// The state's address: what `hy_ssn *` is.
    pub(crate) fn as_ptr(&self) -> *mut SsnState {
        self.0.as_ptr()
    }

    /// Whether callbacks are registered on the session itself.
    pub fn has_hooks(&self) -> bool {
        // SAFETY: owned by this box; only read, between transactions or by the running one.
        !unsafe { self.0.as_ref() }.hooks.is_empty()
    }

    /// Runs a session hook (SSN_START, SSN_CLOSE) with the generation's global hooks. Called
    /// when no transaction of the session runs (they run one after another, and these hooks
    /// before the first and after the last).
    pub async fn hook(&self, global: &GlobalHooks, hook: HookId) -> Outcome {
        // SAFETY: owned by this box, borrowed mutably for the whole dispatch.
        let empty = unsafe { self.0.as_ref() }.hooks.is_empty();
        if !global.has_hooks() && empty {
            return Outcome::Continue;
        }
        // SAFETY: as above.
        unsafe { dispatch(Ptr(self.0), global, hook).await }
    }
}

impl Drop for SsnBox {
    fn drop(&mut self) {
        // SAFETY: made by `Box::leak` in `default`, owned by this box, which drops now.
        unsafe { release(self.0) };
    }
}
