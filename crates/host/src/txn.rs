//! A transaction as plugins see it: the state a `hy_txn *` points to ([`TxnState`]), the box
//! that owns it ([`TxnBox`]), and what it holds (URL parts, the rule's URLs, response heads).

use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

use hookyard_abi::{hy_remap_request_info, hy_str};
use hookyard_hooks::{Arms, Control, Dispatch, HookId, Hooks, Level, Local, Outcome, Priorities};
use hookyard_remap::{Chain, ChainOutcome};
use hookyard_userargs::{Slots, Txn};
use http::{HeaderMap, HeaderName, Method, StatusCode, Version};
use tracing::warn;

use crate::cont::CCont;
use crate::dispatch::{Ptr, Target, release, run_now, wait};
use crate::global::GlobalHooks;
use crate::kept::Kept;
use crate::pending::Resume;
use crate::plugin::plugin_state;
use crate::ssn::{Member, SsnBox, SsnState};
use crate::transform::{Registered, Stage};
use compact_str::CompactString;
use hookyard_abi::rules::transform::{self as rules, Body};

/// A URL as plugins see it: parts, with the path's leading `/`.
///
/// The parts are compact strings: a transaction copies its URL a few times (the client's, kept
/// as the pristine one, the rule's target, the origin's), and parts up to 24 bytes, as most
/// schemes, hosts and many paths are, copy without an allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UrlParts {
    /// `http` or `https`.
    pub scheme: CompactString,
    /// The host, without brackets around an IPv6 address.
    pub host: CompactString,
    /// The port, when the URL names one.
    pub port: Option<u16>,
    /// The path, from its leading `/`.
    pub path: CompactString,
    /// The query, without its `?` (empty: none).
    pub query: CompactString,
}

impl UrlParts {
    /// The URL as text: `scheme://host[:port]path[?query]`.
    pub fn to_url_string(&self) -> String {
        let mut out = format!("{}://{}", self.scheme, self.host);
        if let Some(port) = self.port {
            out.push_str(&format!(":{port}"));
        }
        out.push_str(&self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        out
    }
}

/// A rule's from and to URLs as plugins see them, made once per rule with a plugin chain.
#[derive(Debug)]
pub struct RuleUrls {
    /// The rule's FROM URL.
    pub from: UrlParts,
    /// The rule's TO URL.
    pub to: UrlParts,
    from_text: String,
    to_text: String,
}

impl RuleUrls {
    /// The URLs of `rule`.
    pub fn new(rule: &hookyard_remap::Rule) -> RuleUrls {
        let parts = |url: &hookyard_remap::RuleUrl| UrlParts {
            scheme: url.scheme.as_str().into(),
            host: url.host.as_str().into(),
            port: url.port,
            path: compact_str::format_compact!("/{}", url.path),
            query: CompactString::default(),
        };
        let (from, to) = (parts(&rule.from), parts(&rule.to));
        RuleUrls { from_text: from.to_url_string(), to_text: to.to_url_string(), from, to }
    }
}

/// Header fields of a message that its host has not put in the message's map yet, as a host
/// that forwards fields as received keeps them: a plugin that reads or changes the message's
/// fields has them put there first, and one that does not leaves them unread.
pub trait Unread: Any + Send + std::fmt::Debug {
    /// Puts them into `headers`, before the fields already there.
    fn put(&mut self, headers: &mut HeaderMap);

    /// Whether a field named `name` may be added to the map while they stay unread: put later,
    /// before it, they make what putting them first and adding it after would. Not unless
    /// they say so.
    fn may_add(&self, name: &HeaderName) -> bool {
        let _ = name;
        false
    }
}

/// Fields lent unread (see [`Unread`]), and whether they have been put in their map.
#[derive(Debug, Default)]
struct Lent(Option<(Box<dyn Unread>, bool)>);

impl Lent {
    /// Puts the fields into `headers` (before those there), the first time only.
    fn put(&mut self, headers: &mut HeaderMap) {
        if let Some((unread, put @ false)) = &mut self.0 {
            unread.put(headers);
            *put = true;
        }
    }

    /// Puts the fields into `headers` unless they are put already or may stay unread beside
    /// a field named `name` added there.
    fn put_to_add(&mut self, headers: &mut HeaderMap, name: &HeaderName) {
        if let Some((unread, false)) = &self.0
            && !unread.may_add(name)
        {
            self.put(headers);
        }
    }

    /// The fields, if they are a `U` (whether they were put is theirs to tell).
    fn get<U: Unread>(&self) -> Option<&U> {
        let (unread, _) = self.0.as_ref()?;
        let unread: &dyn Any = unread.as_ref();
        unread.downcast_ref()
    }

    /// Takes the fields, if they are a `U`.
    fn take<U: Unread>(&mut self) -> Option<Box<U>> {
        let (unread, _) = self.0.take()?;
        let unread: Box<dyn Any> = unread;
        unread.downcast().ok()
    }
}

/// A response head as plugins see it.
#[derive(Debug)]
pub struct ResponseHead {
    /// The status code.
    pub status: StatusCode,
    /// The header fields, or with unread ones, those added since (see
    /// [`ResponseHead::fields`]).
    pub headers: HeaderMap,
    /// A reason phrase other than the status's standard one (`None`: the standard one).
    pub reason: Option<Vec<u8>>,
    /// Fields not in `headers` yet.
    unread: Lent,
}

impl ResponseHead {
    /// A head with `status`, the fields `headers` and `reason` (see [`ResponseHead::reason`]).
    pub fn new(status: StatusCode, headers: HeaderMap, reason: Option<Vec<u8>>) -> ResponseHead {
        ResponseHead { status, headers, reason, unread: Lent::default() }
    }

    /// As [`ResponseHead::new`], with the fields `unread` too, put into `headers` when a plugin
    /// first reads or changes the head's fields.
    pub fn with_unread(self, unread: Box<dyn Unread>) -> ResponseHead {
        ResponseHead { unread: Lent(Some((unread, false))), ..self }
    }

    /// The header fields, with any unread ones put in first.
    pub fn fields(&mut self) -> &mut HeaderMap {
        self.unread.put(&mut self.headers);
        &mut self.headers
    }

    /// The header fields to add one named `name` to: unread ones are put in first unless they
    /// may stay so beside it ([`Unread::may_add`]).
    pub fn fields_to_add(&mut self, name: &HeaderName) -> &mut HeaderMap {
        self.unread.put_to_add(&mut self.headers, name);
        &mut self.headers
    }

    /// Takes the unread fields the head was made with, if they are a `U` (whether they were
    /// put is theirs to tell); `headers` holds all fields if they were.
    pub fn take_unread<U: Unread>(&mut self) -> Option<Box<U>> {
        self.unread.take()
    }
}

/// Tells a lent transaction pointer from garbage.
pub(crate) const TXN_TAG: u32 = 0x6879_7478;

/// A transaction as plugins see it; `*mut hy_txn` points here.
#[repr(C)]
pub struct TxnState {
    /// First, so a `void *` object can be told a transaction or a session.
    tag: u32,
    /// The generation's global hooks, kept by what the transaction holds its generation by.
    pub(crate) global: Kept<GlobalHooks>,
    /// The session, kept alive by this state: a plugin holding the transaction (pending on a
    /// hook, possibly after the connection ended) still finds the session it belongs to.
    ssn: Option<Arc<SsnState>>,
    pub(crate) hooks: Hooks<CCont>,
    pub(crate) control: Control,
    /// The side of each of the generation's canaries this transaction runs.
    arms: Arms,
    /// The client request's method.
    pub method: Method,
    /// The request URL: the client's until remap, then rewritten by the rule and plugins.
    pub url: UrlParts,
    /// The URL as the client sent it.
    pub pristine: UrlParts,
    /// The matched rule's URLs, once a plugin chain ran.
    pub rule: Option<Kept<RuleUrls>>,
    /// The HTTP version the client request arrived in.
    pub version: Version,
    /// The client request's header fields; with fields lent unread, those added since (see
    /// [`TxnState::lend_fields`]).
    pub headers: HeaderMap,
    /// The client request's fields not in `headers` yet.
    unread: Lent,
    /// The request to the origin, from SEND_REQUEST_HDR; with fields lent unread, those added
    /// (see [`TxnState::lend_origin_fields`]).
    pub origin_request: Option<HeaderMap>,
    /// The origin request's fields not in `origin_request` yet.
    origin_unread: Lent,
    /// The origin's response, from READ_RESPONSE_HDR.
    pub origin_response: Option<ResponseHead>,
    /// The response to the client, from SEND_RESPONSE_HDR (or a direct response).
    pub client_response: Option<ResponseHead>,
    /// A direct response a plugin asked for: status and body.
    pub direct: Option<(u16, Vec<u8>)>,
    /// A callback's pending wait (or the transaction's active timeout) expired: 504.
    pub timed_out: bool,
    /// The address to connect to: set by a plugin (`server_addr_set`), or resolved for OS_DNS.
    pub server_addr: Option<std::net::SocketAddr>,
    /// Set once OS_DNS is over (or skipped): the address can no longer change.
    pub server_addr_fixed: bool,
    pub(crate) slots: Slots<Txn>,
    resume: Arc<Resume>,
    /// Strings handed out as `hy_str` views, kept until the state goes.
    scratch: Vec<Box<str>>,
    /// The access log fields plugins set (`log_field_set`), in the order first set.
    pub log_fields: Vec<(String, String)>,
    /// The body transforms plugins added, until their body starts.
    pub(crate) transforms: Vec<Registered>,
    /// Whether the request body and the response body started (no transform may be added).
    started: [bool; 2],
    /// The arguments of the remap instance whose `do_remap` runs now (`remap_param_get`).
    remap_params: Option<Params>,
}

/// A remap instance's arguments, lent by its chain for its `do_remap` alone: set just before
/// the call and cleared just after (`TxnBox::run_chain`), so no count of them is taken.
#[derive(Clone, Copy)]
struct Params(NonNull<[Box<str>]>);

// SAFETY: only read (`TxnState::remap_param`) while the `do_remap` that lent them runs, when
// the chain keeps them; a pointer that is never written through.
unsafe impl Send for Params {}
// SAFETY: as above.
unsafe impl Sync for Params {}

impl TxnState {
    /// Argument `index` of the remap instance whose `do_remap` runs now.
    pub(crate) fn remap_param(&self, index: usize) -> Option<&str> {
        let params = self.remap_params?;
        // SAFETY: set only while the instance's `do_remap` runs, during which its chain, which
        // `run_chain` borrows across the call, keeps them (`Params`).
        let params = unsafe { params.0.as_ref() };
        params.get(index).map(|p| &**p)
    }

    /// Whether `body` started: transforms may no longer be added to it.
    pub(crate) fn body_started(&self, body: Body) -> bool {
        self.started[body as usize]
    }

    pub(crate) fn resume_handle(&self) -> Arc<Resume> {
        self.resume.clone()
    }

    /// The session's state, if the transaction has one.
    pub(crate) fn session_arc(&self) -> Option<&Arc<SsnState>> {
        self.ssn.as_ref()
    }

    /// What `txn_ssn_get` answers: the session's address, or null.
    pub(crate) fn ssn_ptr(&self) -> *mut SsnState {
        self.ssn.as_ref().map_or(std::ptr::null_mut(), SsnState::ptr)
    }

    /// Hands `f` what decides the callbacks each hook runs: the transaction's own hooks and
    /// controls and its session's, locked meanwhile (`f` runs no plugin code).
    pub(crate) fn with_local<R>(&self, f: impl FnOnce(&Local<'_, CCont>) -> R) -> R {
        let data = self.ssn.as_deref().filter(|s| s.takes_part()).map(SsnState::lock);
        let data = data.as_deref();
        f(&Local {
            session: data.map(|d| &d.hooks),
            txn: Some(&self.hooks),
            session_control: data.map(|d| &d.control),
            txn_control: Some(&self.control),
            arms: self.arms,
        })
    }

    /// Lends the client request's fields `unread` (those `headers` does not hold), as a host
    /// that forwards them as received keeps them: they are put into `headers`, before the
    /// fields added there, when a plugin first reads or changes them other than by adding one
    /// they may stay unread beside ([`Unread::may_add`]).
    pub fn lend_fields(&mut self, unread: Box<dyn Unread>) {
        self.unread = Lent(Some((unread, false)));
    }

    /// The client request's fields lent with [`TxnState::lend_fields`], if they are a `U`
    /// (whether they were put is theirs to tell).
    pub fn lent_fields<U: Unread>(&self) -> Option<&U> {
        self.unread.get()
    }

    /// The client request's header fields, with any lent unread put in first.
    pub fn request_fields(&mut self) -> &mut HeaderMap {
        self.unread.put(&mut self.headers);
        &mut self.headers
    }

    /// The client request's header fields to add one named `name` to: those lent unread are
    /// put in first unless they may stay so beside it.
    pub fn request_fields_to_add(&mut self, name: &HeaderName) -> &mut HeaderMap {
        self.unread.put_to_add(&mut self.headers, name);
        &mut self.headers
    }

    /// Lends the origin request's fields `unread` (those `origin_request` does not hold), put
    /// into `origin_request`, before the fields there, when a plugin first reads or changes
    /// the origin request's fields other than by adding one they may stay unread beside.
    pub fn lend_origin_fields(&mut self, unread: Box<dyn Unread>) {
        self.origin_unread = Lent(Some((unread, false)));
    }

    /// Takes back the origin request's fields lent with [`TxnState::lend_origin_fields`], if
    /// they are a `U` (whether they were put is theirs to tell).
    pub fn take_origin_fields<U: Unread>(&mut self) -> Option<Box<U>> {
        self.origin_unread.take()
    }

    /// The origin request's header fields, once it exists, with any lent unread put in first.
    pub fn origin_request_fields(&mut self) -> Option<&mut HeaderMap> {
        let headers = self.origin_request.as_mut()?;
        self.origin_unread.put(headers);
        Some(headers)
    }

    /// As [`TxnState::origin_request_fields`], to add a field named `name`: those lent unread
    /// are put in first unless they may stay so beside it.
    pub fn origin_request_fields_to_add(&mut self, name: &HeaderName) -> Option<&mut HeaderMap> {
        let headers = self.origin_request.as_mut()?;
        self.origin_unread.put_to_add(headers, name);
        Some(headers)
    }

    /// Keeps `text` alive as long as the state and returns a view of it.
    pub(crate) fn keep(&mut self, text: String) -> hy_str {
        let text: Box<str> = text.into_boxed_str();
        let view = hy_str { ptr: text.as_ptr().cast(), len: text.len() };
        self.scratch.push(text);
        view
    }
}

impl Target for TxnState {
    fn resume(&self) -> &Arc<Resume> {
        &self.resume
    }

    fn session(&self) -> Option<&SsnState> {
        self.ssn.as_deref()
    }

    fn own(&self) -> Option<(&Hooks<CCont>, &Control)> {
        Some((&self.hooks, &self.control))
    }

    fn arms(&self, _: &GlobalHooks) -> Arms {
        self.arms
    }

    unsafe fn expired(this: NonNull<TxnState>) {
        // SAFETY: valid, and no callback holds it (contract).
        unsafe { (*this.as_ptr()).timed_out = true };
    }

    unsafe fn free(this: NonNull<TxnState>) {
        // SAFETY: made by `Box::leak` in `TxnBox::new` (contract).
        drop(unsafe { Box::from_raw(this.as_ptr()) });
    }
}

/// Owns a [`TxnState`] (see the crate's ownership notes), and counts the transaction open in
/// its session until dropped: after its TXN_CLOSE ran ([`TxnBox::close`]), or without it.
pub struct TxnBox {
    state: NonNull<TxnState>,
    /// Dropped after the state is released (fields drop after `Drop::drop`).
    _member: Option<Member>,
}

// SAFETY: the state is used by the transaction's task, or by the one plugin holding a pending
// hook while that task waits; never by two at once.
unsafe impl Send for TxnBox {}

/// The rest of a hook dispatch a callback holds pending: it ends when the callback resumes it
/// (or its wait expires), having run the callbacks after it.
pub type PendingHook<'a> = std::pin::Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

impl TxnBox {
    /// A transaction's state, in the session `ssn` (if any), for a client request that arrived
    /// in HTTP `version`. It chooses its side of each of the generation's canaries now (a
    /// `by: client` canary by the session's client address; without a session, the stable
    /// side).
    pub fn new(
        global: Kept<GlobalHooks>,
        ssn: Option<&SsnBox>,
        method: Method,
        url: UrlParts,
        version: Version,
        headers: HeaderMap,
    ) -> TxnBox {
        let member = ssn.map(SsnBox::member);
        let arms = global.canaries.transaction(ssn.and_then(SsnBox::client));
        // Written where it lives: built first and moved into a box, its kilobyte is copied.
        let state = Box::write(
            Box::new_uninit(),
            TxnState {
                tag: TXN_TAG,
                arms,
                global,
                ssn: member.as_ref().map(|m| m.state().clone()),
                hooks: Hooks::new(Level::Transaction),
                control: Control::default(),
                method,
                pristine: url.clone(),
                url,
                rule: None,
                version,
                headers,
                unread: Lent::default(),
                origin_request: None,
                origin_unread: Lent::default(),
                origin_response: None,
                client_response: None,
                direct: None,
                timed_out: false,
                server_addr: None,
                server_addr_fixed: false,
                slots: Slots::new(),
                resume: Arc::default(),
                scratch: Vec::new(),
                log_fields: Vec::new(),
                transforms: Vec::new(),
                started: [false; 2],
                remap_params: None,
            },
        );
        TxnBox { state: NonNull::from(Box::leak(state)), _member: member }
    }

    /// The state's address: what `hy_txn *` is.
    #[cfg(test)]
    pub(crate) fn as_ptr(&self) -> *mut TxnState {
        self.state.as_ptr()
    }

    /// The state, between plugin calls.
    pub fn get(&mut self) -> &mut TxnState {
        // SAFETY: owned by this box; no plugin call runs now (`&mut self`).
        unsafe { self.state.as_mut() }
    }

    /// Whether any hook callback may still run for this transaction.
    pub fn hooked(&mut self) -> bool {
        let state = self.get();
        state.global.has_hooks()
            || !state.hooks.is_empty()
            || state.ssn.as_ref().is_some_and(|s| s.hooked())
    }

    /// Whether plugin `plugin` runs for this transaction, as its own and its session's
    /// switches (`plugin_enable_set`) say: the transaction's override the session's.
    pub fn plugin_enabled(&mut self, plugin: hookyard_hooks::PluginId) -> bool {
        self.get().with_local(|local| local.plugin_enabled(plugin))
    }

    /// Whether a callback is registered on `hook` for this transaction, at any level (whether
    /// it is switched off for it or not).
    pub fn has_callbacks(&mut self, hook: HookId) -> bool {
        let state = self.get();
        // The flag first: a generation without global hooks has no table to look at.
        (state.global.has_hooks() && !state.global.table.load().entries(hook).is_empty())
            || !state.hooks.entries(hook).is_empty()
            || state
                .ssn
                .as_ref()
                .is_some_and(|s| s.hooked() && !s.lock().hooks.entries(hook).is_empty())
    }

    /// The client request's fields, as the start of the origin request: a copy when a hook may
    /// still look at the client request, else moved out (a remap chain alone needs them no more).
    /// With fields lent unread, only those added since.
    pub fn origin_headers(&mut self) -> HeaderMap {
        if self.hooked() {
            self.get().headers.clone()
        } else {
            std::mem::take(&mut self.get().headers)
        }
    }

    /// Hands `f` what decides the callbacks each hook runs for this transaction: the global
    /// table, the priorities, and the transaction's and its session's own hooks and controls.
    pub fn inspect<R>(
        &mut self,
        f: impl FnOnce(&Hooks<CCont>, &Priorities, &Local<'_, CCont>) -> R,
    ) -> R {
        let state = self.get();
        let table = state.global.table.load_full();
        state.with_local(|local| f(&table, &state.global.priorities, local))
    }

    /// Runs `hook`'s callbacks for this transaction.
    pub async fn hook(&mut self, hook: HookId) -> Outcome {
        match self.hook_now(hook) {
            Ok(outcome) => outcome,
            Err(pending) => pending.await,
        }
    }

    /// Runs `hook`'s callbacks for this transaction as far as they go without waiting: the
    /// outcome, or, when a callback holds the hook pending, the rest of the dispatch to await.
    /// Only a pending hook costs a future.
    pub fn hook_now(&mut self, hook: HookId) -> Result<Outcome, PendingHook<'_>> {
        if !self.hooked() {
            return Ok(Outcome::Continue);
        }
        // SAFETY: the generation's hooks live apart from the state, kept by the state's `Kept`
        // (never replaced) as long as the state, which this box owns and keeps through the
        // call: no reference into the state is held while plugins run.
        let global: &GlobalHooks = unsafe { &*std::ptr::from_ref(&*self.get().global) };
        let target = Ptr(self.state);
        let mut dispatch = Dispatch::new(hook);
        // SAFETY: the box owns the state and is borrowed mutably for the whole dispatch (the
        // pending rest borrows it as long).
        if let Some(outcome) = unsafe { run_now(&target, global, &mut dispatch) } {
            return Ok(outcome);
        }
        // Only a pending hook takes a reference of its own to the hooks, for its future.
        let global = self.get().global.clone();
        // SAFETY: as above.
        Err(Box::pin(async move { unsafe { wait(target, &global, dispatch).await } }))
    }

    /// The transaction's active timeout passed while it ran: a callback's pending wait ends
    /// (its late resume is refused) and the transaction is marked timed out.
    pub fn expire(&mut self) {
        let state = self.get();
        if state.resume.expire() {
            warn!("a hook callback was pending when the transaction's active timeout passed");
        }
        state.timed_out = true;
    }

    /// Runs TXN_CLOSE without waiting: a pending callback finishes it on a task of its own. The
    /// session counts the transaction open until then: its SSN_CLOSE waits for that.
    pub fn close(self) {
        self.close_then(|_| {});
    }

    /// [`close`](TxnBox::close), then hands `after` the access log fields plugins set (those
    /// TXN_CLOSE set included), once TXN_CLOSE is over (pending callbacks waited for; never,
    /// when the wait is dropped outside a runtime).
    pub fn close_then(self, after: impl FnOnce(Vec<(String, String)>) + Send + 'static) {
        let mut this = self;
        if !this.hooked() {
            after(std::mem::take(&mut this.get().log_fields));
            return;
        }
        // SAFETY: as in `hook_now`.
        let global: &GlobalHooks = unsafe { &*std::ptr::from_ref(&*this.get().global) };
        let mut dispatch = Dispatch::new(HookId::TxnClose);
        // SAFETY: `this` owns the state and keeps it through the call.
        if unsafe { run_now(&Ptr(this.state), global, &mut dispatch) }.is_some() {
            after(std::mem::take(&mut this.get().log_fields));
            return;
        }
        // A callback holds it: the rest waits on a task of its own.
        let global = this.get().global.clone();
        let rest = async move {
            // SAFETY: `this` owns the state and lives in this future to its end.
            unsafe { wait(Ptr(this.state), &global, dispatch).await };
            after(std::mem::take(&mut this.get().log_fields));
            drop(this);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn(rest)),
            Err(_) => warn!(
                "TXN_CLOSE pending outside a runtime: its wait is dropped (the state is \
                 released as if the client had left)"
            ),
        }
    }

    /// Starts `body`: no transform may be added to it any more, and those plugins added run as
    /// the returned stages, in order (highest priority first; equal ones in the order added),
    /// each with an output buffer of `limit` bytes. A transform whose plugin this transaction or
    /// its session switched off, or whose priority is below the threshold for every hook, does
    /// not run (it gets its CLOSE now).
    pub fn start_body(&mut self, body: Body, limit: usize) -> Vec<Stage> {
        let state = self.get();
        state.started[body as usize] = true;
        if state.transforms.is_empty() {
            return Vec::new();
        }
        let (mine, rest) = std::mem::take(&mut state.transforms)
            .into_iter()
            .partition::<Vec<_>, _>(|t| t.0.body == body);
        state.transforms = rest;
        let priorities = state.global.priorities.clone();
        let configured = priorities.threshold_at(None);
        let mut runs: Vec<Registered> = state.with_local(|local| {
            let threshold = local.general_threshold().or(configured).map(|t| t.0);
            mine.into_iter()
                .filter(|t| {
                    let plugin = priorities.plugin(t.0.plugin_name());
                    rules::transform_runs(local.plugin_enabled(plugin), t.0.priority.0, threshold)
                })
                .collect()
        });
        runs.sort_by_key(|t| std::cmp::Reverse(t.0.priority));
        runs.into_iter().map(|t| Stage::start(t, limit)).collect()
    }

    /// Tells the chain's first plugin how the origin answered.
    pub fn os_response(&mut self, chain: &Chain, state: i32) {
        // SAFETY: as in `run_chain`.
        unsafe { chain.os_response(self.state.as_ptr().cast(), state) }
    }

    /// Runs a rule's remap plugin chain on this transaction, with the rule's URLs.
    pub fn run_chain(&mut self, chain: &Chain, rule: &Kept<RuleUrls>) -> ChainOutcome {
        let view = |s: &str| hy_str { ptr: s.as_ptr().cast(), len: s.len() };
        let mut rri = hy_remap_request_info {
            size: size_of::<hy_remap_request_info>() as u32,
            redirect: 0,
            from_url: view(&rule.from_text),
            to_url: view(&rule.to_text),
        };
        let state = self.get();
        state.rule = Some(rule.clone());
        let slow = state.global.slow_callback;
        let timed = |plugin: &hookyard_remap::RemapPlugin, took| {
            if let Some(plugin) = plugin_state(plugin.table()) {
                plugin.timed(HookId::COUNT, "do_remap", took, slow);
            }
        };
        let ptr = self.state.as_ptr();
        let enter = |params: Option<&Arc<[Box<str>]>>| {
            // SAFETY: called between plugin calls, when nothing borrows the state.
            unsafe { (*ptr).remap_params = params.map(|p| Params(NonNull::from(&**p))) };
        };
        // SAFETY: the state is this box's, not otherwise borrowed during the call (`enter`
        // writes it only between plugin calls); `rri` lives on this frame for the call.
        unsafe { chain.run(ptr.cast(), &mut rri, timed, enter) }
    }
}

impl Drop for TxnBox {
    fn drop(&mut self) {
        // SAFETY: made by `Box::leak` in `new`, owned by this box, which drops now.
        unsafe { release(self.state) };
    }
}
