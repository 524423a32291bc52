//! A test host: the whole `hy_api` table over in-memory transactions and sessions, good enough
//! to drive the example plugins through every function they use.
//!
//! It follows the contract of `hookyard.h`: views stay valid until the item changes; hooks run
//! global, then session, then transaction callbacks, higher priority first, skipping switched
//! off plugins and callbacks below the threshold except on cleanup hooks; a pending hook waits
//! for `txn_resume` from any thread; scheduled continuations run on the host's own timer thread
//! after their delay; destroying a continuation waits for its invocations on other threads. The
//! real host lives in `remap` and `proxy`.

mod table;
mod transform;

pub(crate) use transform::MockTransform;

use std::collections::{BinaryHeap, HashMap};
use std::ffi::{CString, c_void};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use hookyard_abi::{self as abi, hy_api, hy_cont, hy_cont_handler, hy_plugin, rules};

/// How long a test waits for a pending hook to be resumed before failing.
const DEADLINE: Duration = Duration::from_secs(20);

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One registered hook callback.
#[derive(Clone, Debug)]
pub(crate) struct Hook {
    pub(crate) id: u64,
    pub(crate) hook: i32,
    pub(crate) cont: usize,
    pub(crate) priority: i32,
    pub(crate) level: i32,
    pub(crate) plugin: Arc<CString>,
}

/// A continuation the host knows.
pub(crate) struct ContObj {
    handler: hy_cont_handler,
    data: usize,
    /// The `PluginRec` of the plugin that created it (lives as long as its `TestHost`).
    owner: usize,
    state: Weak<State>,
    /// Threads running its handler now.
    running: Mutex<Vec<ThreadId>>,
    idle: Condvar,
}

/// A plugin's identity and priorities, as the host knows it.
pub(crate) struct PluginRec {
    pub(crate) name: Arc<CString>,
    pub(crate) version: CString,
    pub(crate) priority: AtomicI32,
    pub(crate) ceiling: i32,
    pub(crate) state: Arc<State>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) logs: Mutex<Vec<(i32, String)>>,
    logged: Condvar,
    conts: Mutex<HashMap<usize, Arc<ContObj>>>,
    pub(crate) global_hooks: Mutex<Vec<Hook>>,
    pub(crate) global_thresholds: Mutex<HashMap<i32, i32>>,
    /// Every plugin this host knows, by name: its ceiling.
    pub(crate) ceilings: Mutex<HashMap<String, i32>>,
    /// Priorities set for other plugins (`plugin_priority_of_set`), by name.
    pub(crate) priorities: Mutex<HashMap<String, i32>>,
    /// Statistics (`stat_create`), by plugin name: name, kind and value, the index the id.
    pub(crate) stats: Mutex<HashMap<String, Vec<MockStat>>>,
    next_callback: AtomicU64,
    timers: Mutex<Option<mpsc::Sender<(Instant, usize)>>>,
    /// The configuration directory `config_dir_get` reads (`None`: refused, as an embedded
    /// configuration's).
    pub(crate) config_dir: Mutex<Option<Box<str>>>,
    /// The plugin file's directory `plugin_dir_get` reads (`None`: refused).
    pub(crate) plugin_dir: Mutex<Option<Box<str>>>,
    /// Origin hosts by name, with the reason of a down mark (`host_status_set/get`); a test
    /// adds the names it wants known.
    pub(crate) hosts: Mutex<HashMap<String, Option<String>>>,
    /// Invocations running now: plugin code is executing, so its library must stay loaded (the
    /// real host holds the plugin's context, and so its library, for every invocation, even one
    /// whose continuation destroyed itself inside its handler).
    in_flight: Mutex<usize>,
    idle: Condvar,
}

/// The test host of one plugin.
pub(crate) struct TestHost {
    pub(crate) state: Arc<State>,
    plugin: Box<PluginRec>,
    api: Box<hy_api>,
    timer: Option<JoinHandle<()>>,
}

impl TestHost {
    /// A host for a plugin it knows as `name`, priority 0 under ceiling 100.
    pub(crate) fn new(name: &str) -> TestHost {
        TestHost::with_priority(name, 0, 100)
    }

    pub(crate) fn with_priority(name: &str, priority: i32, ceiling: i32) -> TestHost {
        let state = Arc::new(State::default());
        lock(&state.ceilings).insert(name.to_owned(), ceiling);
        let plugin = Box::new(PluginRec {
            name: Arc::new(CString::new(name).unwrap()),
            version: CString::new("1.0.0").unwrap(),
            priority: AtomicI32::new(priority),
            ceiling,
            state: Arc::clone(&state),
        });
        let plugin_ptr = (&raw const *plugin).cast_mut().cast::<hy_plugin>();
        let api = Box::new(table::table(plugin_ptr));
        let (tx, rx) = mpsc::channel();
        *lock(&state.timers) = Some(tx);
        let timer = std::thread::Builder::new()
            .name("test-host-timer".into())
            .spawn({
                let state = Arc::downgrade(&state);
                move || timer_thread(&rx, &state)
            })
            .unwrap();
        TestHost { state, plugin, api, timer: Some(timer) }
    }

    /// The table to hand to init entry points.
    pub(crate) fn api(&self) -> *const hy_api {
        &raw const *self.api
    }

    pub(crate) fn priority(&self) -> i32 {
        self.plugin.priority.load(Ordering::Relaxed)
    }

    /// Every message logged so far.
    pub(crate) fn logs(&self) -> Vec<(i32, String)> {
        lock(&self.state.logs).clone()
    }

    /// Whether any logged message contains `text`.
    pub(crate) fn logged(&self, text: &str) -> bool {
        self.logs().iter().any(|(_, m)| m.contains(text))
    }

    /// Waits until a logged message contains `text` (plugin code on another thread logs it).
    pub(crate) fn wait_logged(&self, text: &str) {
        let deadline = Instant::now() + DEADLINE;
        let mut logs = lock(&self.state.logs);
        while !logs.iter().any(|(_, m)| m.contains(text)) {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("never logged {text:?}"));
            logs = self.state.logged.wait_timeout(logs, left).unwrap().0;
        }
    }

    /// Waits until no continuation handler is running, as a host does before it lets go of a
    /// plugin's library.
    pub(crate) fn wait_idle(&self) {
        let deadline = Instant::now() + DEADLINE;
        let mut running = lock(&self.state.in_flight);
        while *running > 0 {
            let left =
                deadline.checked_duration_since(Instant::now()).expect("a handler never returned");
            running = self.state.idle.wait_timeout(running, left).unwrap().0;
        }
    }

    /// How many continuations are alive.
    pub(crate) fn live_continuations(&self) -> usize {
        lock(&self.state.conts).len()
    }

    /// The global callbacks registered on `hook`.
    pub(crate) fn global_hooks(&self, hook: i32) -> Vec<Hook> {
        lock(&self.state.global_hooks).iter().filter(|h| h.hook == hook).cloned().collect()
    }

    /// A transaction for `url` (`scheme://host[:port]/path[?query]`) in a new session, its
    /// client request read.
    pub(crate) fn txn(&self, method: &str, url: &str) -> Box<MockTxn> {
        MockTxn::new(&self.state, method, url)
    }

    /// Runs lifecycle `hook` (edata NULL) on the global callbacks.
    pub(crate) fn run_lifecycle(&self, hook: i32) {
        for h in self.global_hooks(hook) {
            self.state.invoke(h.cont, abi::hook_event(hook), std::ptr::null_mut());
        }
    }

    /// Delivers an operator message on `LIFECYCLE_MSG` to every callback, as `hookyard ctl
    /// plugin msg '*' TAG DATA` does; what the plugins answered (`msg_reply`), by name.
    pub(crate) fn run_message(&self, tag: &str, data: &[u8]) -> Vec<(String, String)> {
        let mut msg = MockLifecycleMsg {
            msg: abi::hy_lifecycle_msg {
                tag: abi::hy_str { ptr: tag.as_ptr().cast(), len: tag.len() },
                data: data.as_ptr().cast(),
                data_len: data.len(),
            },
            tag: MSG_TAG,
            replies: Mutex::new(Vec::new()),
        };
        let edata: *mut c_void = std::ptr::from_mut(&mut msg).cast();
        for h in self.global_hooks(abi::HY_HOOK_LIFECYCLE_MSG) {
            self.state.invoke(h.cont, abi::hook_event(abi::HY_HOOK_LIFECYCLE_MSG), edata);
        }
        msg.replies.into_inner().unwrap()
    }

    /// The value of statistic `name` of plugin `plugin`, if it was created.
    pub(crate) fn stat(&self, plugin: &str, name: &str) -> Option<i64> {
        let stats = lock(&self.state.stats);
        stats.get(plugin)?.iter().find(|(n, _, _)| n == name).map(|(_, _, v)| *v)
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        lock(&self.state.timers).take();
        if let Some(timer) = self.timer.take() {
            timer.join().unwrap();
        }
    }
}

impl State {
    pub(crate) fn next_callback_id(&self) -> u64 {
        self.next_callback.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn log(&self, level: i32, message: String) {
        lock(&self.logs).push((level, message));
        self.logged.notify_all();
    }

    pub(crate) fn create_cont(
        self: &Arc<Self>,
        owner: *const PluginRec,
        handler: hy_cont_handler,
        data: *mut c_void,
    ) -> *mut hy_cont {
        let obj = Arc::new(ContObj {
            handler,
            data: data as usize,
            owner: owner as usize,
            state: Arc::downgrade(self),
            running: Mutex::new(Vec::new()),
            idle: Condvar::new(),
        });
        let addr = Arc::as_ptr(&obj) as usize;
        lock(&self.conts).insert(addr, obj);
        addr as *mut hy_cont
    }

    pub(crate) fn is_live(&self, cont: usize) -> bool {
        lock(&self.conts).contains_key(&cont)
    }

    /// Destroys a continuation: forgets it and its global hooks, then waits for invocations on
    /// other threads.
    pub(crate) fn destroy_cont(&self, cont: *mut hy_cont) {
        let Some(obj) = lock(&self.conts).remove(&(cont as usize)) else { return };
        lock(&self.global_hooks).retain(|h| h.cont != cont as usize);
        let me = std::thread::current().id();
        let mut running = lock(&obj.running);
        while running.iter().any(|t| *t != me) {
            running = obj.idle.wait(running).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    pub(crate) fn schedule(&self, cont: *mut hy_cont, delay: Duration) -> bool {
        match &*lock(&self.timers) {
            Some(tx) => tx.send((Instant::now() + delay, cont as usize)).is_ok(),
            None => false,
        }
    }

    /// Calls a continuation's handler, unless it was destroyed.
    pub(crate) fn invoke(&self, cont: usize, event: i32, edata: *mut c_void) -> Option<i32> {
        let obj = lock(&self.conts).get(&cont).cloned()?;
        lock(&obj.running).push(std::thread::current().id());
        *lock(&self.in_flight) += 1;
        // SAFETY: the plugin created the continuation with this handler and data and has not
        // destroyed it; edata is what the event promises.
        let result = unsafe { (obj.handler)(cont as *mut hy_cont, event, edata) };
        let mut running = lock(&obj.running);
        let me = std::thread::current().id();
        if let Some(i) = running.iter().position(|t| *t == me) {
            running.swap_remove(i);
        }
        obj.idle.notify_all();
        drop(running);
        *lock(&self.in_flight) -= 1;
        self.idle.notify_all();
        Some(result)
    }
}

impl ContObj {
    pub(crate) fn data(&self) -> *mut c_void {
        self.data as *mut c_void
    }

    pub(crate) fn state(&self) -> Option<Arc<State>> {
        self.state.upgrade()
    }

    /// The plugin that created it.
    ///
    /// # Safety
    ///
    /// The plugin's `TestHost` is still alive (true while its plugin runs).
    pub(crate) unsafe fn owner<'a>(&self) -> &'a PluginRec {
        // SAFETY: per the contract.
        unsafe { &*(self.owner as *const PluginRec) }
    }
}

/// Runs scheduled continuations when they are due, in deadline order, until the host goes.
fn timer_thread(rx: &mpsc::Receiver<(Instant, usize)>, state: &Weak<State>) {
    let mut due: BinaryHeap<std::cmp::Reverse<(Instant, usize)>> = BinaryHeap::new();
    loop {
        let next = due.peek().map(|std::cmp::Reverse((at, _))| *at);
        let received = match next {
            Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(timer) => due.push(std::cmp::Reverse(timer)),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while let Some(std::cmp::Reverse((at, cont))) = due.peek().copied() {
            if at > Instant::now() {
                break;
            }
            due.pop();
            let Some(state) = state.upgrade() else { return };
            let event = abi::HY_EVENT_TIMEOUT;
            state.invoke(cont, event, std::ptr::null_mut());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transactions and sessions
// ---------------------------------------------------------------------------------------------

pub(crate) const TXN_TAG: u32 = 0x7478_6e21;
pub(crate) const SSN_TAG: u32 = 0x7373_6e21;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MockUrl {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: String,
    pub(crate) path: String,
    pub(crate) query: String,
}

impl MockUrl {
    pub(crate) fn parse(url: &str) -> MockUrl {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (authority, rest) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
        let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        MockUrl {
            scheme: scheme.into(),
            host: host.into(),
            port: port.into(),
            path: path.into(),
            query: query.into(),
        }
    }

    pub(crate) fn part(&mut self, part: i32) -> Option<&mut String> {
        match part {
            abi::HY_URL_PART_SCHEME => Some(&mut self.scheme),
            abi::HY_URL_PART_HOST => Some(&mut self.host),
            abi::HY_URL_PART_PORT => Some(&mut self.port),
            abi::HY_URL_PART_PATH => Some(&mut self.path),
            abi::HY_URL_PART_QUERY => Some(&mut self.query),
            _ => None,
        }
    }
}

impl std::fmt::Display for MockUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if !self.port.is_empty() {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.path)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct MockMsg {
    pub(crate) method: String,
    pub(crate) status: i32,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    /// A reason phrase other than the status's standard one.
    pub(crate) reason: Option<Vec<u8>>,
}

impl MockMsg {
    pub(crate) fn values(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
}

/// A change to one callback for one transaction or session.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Override {
    pub(crate) priority: Option<i32>,
    pub(crate) enabled: Option<bool>,
    pub(crate) removed: bool,
}

/// What session and transaction control share.
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub(crate) hooks: Vec<Hook>,
    pub(crate) disabled: Vec<String>,
    pub(crate) thresholds: HashMap<i32, i32>,
    pub(crate) overrides: HashMap<u64, Override>,
    /// Ordering constraints: (first, then, hook or HY_HOOK_ANY).
    pub(crate) orders: Vec<(String, String, i32)>,
}

#[derive(Debug, Default)]
pub(crate) struct TxnData {
    /// Request, pristine, remap from, remap to.
    pub(crate) urls: [Option<MockUrl>; 4],
    pub(crate) url_strings: [String; 4],
    /// Client request, origin request, origin response, client response.
    pub(crate) msgs: [Option<MockMsg>; 4],
    pub(crate) direct: Option<(i32, Vec<u8>)>,
    /// The address `server_addr_set` gave, as text.
    pub(crate) server_addr: Option<String>,
    /// The HTTP version the client request arrived in, as `client_protocol_get` writes it.
    pub(crate) protocol: String,
    /// The access log fields `log_field_set` set, in the order first set.
    pub(crate) log_fields: Vec<(String, String)>,
    pub(crate) args: [usize; 16],
    pub(crate) control: Control,
    /// The `callback_list` plugin names handed out (kept alive as views).
    pub(crate) names: Vec<Arc<CString>>,
    /// Body transforms added and not run yet (boxed: `hy_transform *` points into them).
    #[allow(clippy::vec_box, reason = "a `hy_transform *` points into each box: they never move")]
    pub(crate) transforms: Vec<Box<MockTransform>>,
    /// Whether the request and the response body started ([`MockTxn::run_body`]).
    pub(crate) started: [bool; 2],
    /// The running remap instance's argv, during its do_remap (`remap_param_get`).
    pub(crate) remap_params: Option<Vec<String>>,
}

/// A transaction; `hy_txn *` points at it.
#[repr(C)]
pub(crate) struct MockTxn {
    tag: u32,
    pub(crate) state: Arc<State>,
    pub(crate) ssn: Box<MockSsn>,
    pub(crate) data: Mutex<TxnData>,
    /// Whether a callback runs or is pending (a resume is accepted then, once), and the result
    /// of its resume.
    resumed: Mutex<(bool, Option<i32>)>,
    resumed_cv: Condvar,
}

#[derive(Debug, Default)]
pub(crate) struct SsnData {
    /// 8 session slots, then 4 connection slots.
    pub(crate) args: [usize; 12],
    pub(crate) control: Control,
    /// The client connection the session is (`None`: a session of no connection).
    pub(crate) conn: Option<MockConn>,
}

/// A client connection as the client connection's functions (ABI 1.3) read it; a plain
/// connection unless a test sets another ([`MockTxn::set_conn`]).
#[derive(Clone, Debug)]
pub(crate) struct MockConn {
    /// The client's address, as `client_addr_get` writes it.
    pub(crate) addr: String,
    /// The address the client connected to, as `incoming_addr_get` writes it.
    pub(crate) local: String,
    pub(crate) tls: Option<MockTls>,
}

impl MockConn {
    /// The connection from `addr` to `local`, TLS when `tls` says what it negotiated.
    pub(crate) fn new(addr: SocketAddr, local: SocketAddr, tls: Option<MockTls>) -> MockConn {
        MockConn { addr: rules::conn_addr(addr), local: rules::conn_addr(local), tls }
    }
}

/// What a TLS handshake negotiated.
#[derive(Clone, Debug)]
pub(crate) struct MockTls {
    pub(crate) sni: Option<String>,
    pub(crate) alpn: Option<Vec<u8>>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub(crate) version: String,
}

/// The client of every new transaction's connection, and the proxy address it connected to.
pub(crate) const CLIENT: &str = "192.0.2.10:50000";
pub(crate) const INCOMING: &str = "192.0.2.1:8080";

/// A statistic: its name, kind and value.
pub(crate) type MockStat = (String, i32, i64);

/// Tells a message pointer of this host from garbage.
pub(crate) const MSG_TAG: u32 = 0x6d73_6721;

/// An operator message; `hy_lifecycle_msg *` points at its first field.
#[repr(C)]
pub(crate) struct MockLifecycleMsg {
    pub(crate) msg: abi::hy_lifecycle_msg,
    pub(crate) tag: u32,
    /// Per plugin name, what it answered.
    pub(crate) replies: Mutex<Vec<(String, String)>>,
}

/// A session; `hy_ssn *` points at it.
#[repr(C)]
pub(crate) struct MockSsn {
    tag: u32,
    pub(crate) data: Mutex<SsnData>,
}

/// How a hook's dispatch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Continue,
    Error,
}

impl MockTxn {
    fn new(state: &Arc<State>, method: &str, url: &str) -> Box<MockTxn> {
        let url = MockUrl::parse(url);
        let request = MockMsg {
            method: method.into(),
            status: 0,
            headers: vec![("Host".into(), url.host.clone().into_bytes())],
            reason: None,
        };
        let mut data = TxnData::default();
        data.urls[0] = Some(url.clone());
        data.urls[1] = Some(url);
        data.msgs[0] = Some(request);
        data.protocol = "HTTP/1.1".into();
        let plain = MockConn::new(CLIENT.parse().unwrap(), INCOMING.parse().unwrap(), None);
        let ssn = SsnData { conn: Some(plain), ..SsnData::default() };
        Box::new(MockTxn {
            tag: TXN_TAG,
            state: Arc::clone(state),
            ssn: Box::new(MockSsn { tag: SSN_TAG, data: Mutex::new(ssn) }),
            data: Mutex::new(data),
            resumed: Mutex::new((false, None)),
            resumed_cv: Condvar::new(),
        })
    }

    pub(crate) fn ptr(&self) -> *mut abi::hy_txn {
        (&raw const *self).cast_mut().cast()
    }

    pub(crate) fn data(&self) -> MutexGuard<'_, TxnData> {
        lock(&self.data)
    }

    /// Recognises a `hy_txn *` this host made.
    ///
    /// # Safety
    ///
    /// `ptr` is null or points to a `MockTxn` or a `MockSsn` (both start with their tag).
    pub(crate) unsafe fn from_ptr<'a>(ptr: *mut c_void) -> Option<&'a MockTxn> {
        // SAFETY: per the contract, the first field is readable.
        (!ptr.is_null() && unsafe { ptr.cast::<u32>().read() } == TXN_TAG)
            .then(|| unsafe { &*ptr.cast::<MockTxn>() })
    }

    /// The header values of message `msg` named `name`.
    pub(crate) fn header(&self, msg: i32, name: &str) -> Vec<String> {
        self.data().msgs[msg as usize].as_ref().map(|m| m.values(name)).unwrap_or_default()
    }

    pub(crate) fn request_url(&self) -> String {
        self.data().urls[0].as_ref().unwrap().to_string()
    }

    /// Makes the transaction's session one of client connection `conn` (`None`: of none).
    pub(crate) fn set_conn(&self, conn: Option<MockConn>) {
        lock(&self.ssn.data).conn = conn;
    }

    /// The access log fields plugins set on the transaction.
    pub(crate) fn log_fields(&self) -> Vec<(String, String)> {
        self.data().log_fields.clone()
    }

    /// Sets the HTTP version the client request arrived in (`HTTP/1.1` unless set).
    pub(crate) fn set_protocol(&self, protocol: &str) {
        self.data().protocol = protocol.into();
    }

    /// Sets up the remap rule's URLs, as remap does before calling plugins.
    pub(crate) fn set_rule(&self, from: &str, to: &str) {
        let mut data = self.data();
        data.urls[2] = Some(MockUrl::parse(from));
        data.urls[3] = Some(MockUrl::parse(to));
    }

    /// The origin answered `status`: the origin messages and the client response exist.
    pub(crate) fn origin_answers(&self, status: i32) {
        let mut data = self.data();
        let request = data.msgs[0].clone().unwrap();
        data.msgs[1] = Some(request);
        data.msgs[2] = Some(MockMsg { status, ..MockMsg::default() });
        data.msgs[3] = Some(MockMsg { status, ..MockMsg::default() });
    }

    /// Adds field `name: value` to message `msg` (as the origin or the client sent it).
    pub(crate) fn add_field(&self, msg: i32, name: &str, value: &str) {
        let mut data = self.data();
        let msg = data.msgs[msg as usize].as_mut().expect("the message exists");
        msg.headers.push((name.to_owned(), value.as_bytes().to_vec()));
    }

    pub(crate) fn resume(&self, result: i32) -> bool {
        let mut resumed = lock(&self.resumed);
        // As every host: only a running or pending callback's hook is resumed, and only once.
        if !resumed.0 || resumed.1.is_some() {
            return false;
        }
        resumed.1 = Some(result);
        self.resumed_cv.notify_all();
        true
    }

    fn wait_resumed(&self) -> i32 {
        let deadline = Instant::now() + DEADLINE;
        let mut resumed = lock(&self.resumed);
        loop {
            if let Some(result) = resumed.1.take() {
                resumed.0 = false;
                return result;
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("a pending hook was never resumed");
            resumed = self.resumed_cv.wait_timeout(resumed, left).unwrap().0;
        }
    }

    /// The callbacks `hook` would run, in order, each with whether it would run.
    pub(crate) fn plan(&self, hook: i32) -> Vec<(Hook, bool)> {
        let global: Vec<Hook> =
            lock(&self.state.global_hooks).iter().filter(|h| h.hook == hook).cloned().collect();
        let ssn = lock(&self.ssn.data);
        let txn = self.data();
        let mut all: Vec<Hook> = global;
        all.extend(ssn.control.hooks.iter().filter(|h| h.hook == hook).cloned());
        all.extend(txn.control.hooks.iter().filter(|h| h.hook == hook).cloned());
        let controls = [&txn.control, &ssn.control];
        let over = |id: u64| {
            controls.iter().find_map(|c| c.overrides.get(&id).copied()).unwrap_or_default()
        };
        all.retain(|h| !over(h.id).removed);
        for h in &mut all {
            if let Some(p) = over(h.id).priority {
                h.priority = p;
            }
        }
        all.sort_by_key(|h| std::cmp::Reverse(h.priority));
        let threshold = controls
            .iter()
            .find_map(|c| c.thresholds.get(&hook).or(c.thresholds.get(&abi::HY_HOOK_ANY)).copied())
            .or_else(|| {
                let global = lock(&self.state.global_thresholds);
                global.get(&hook).or(global.get(&abi::HY_HOOK_ANY)).copied()
            });
        let cleanup = hook == abi::HY_HOOK_TXN_CLOSE || hook == abi::HY_HOOK_SSN_CLOSE;
        all.into_iter()
            .map(|h| {
                let name = h.plugin.to_str().unwrap().to_owned();
                let off = controls.iter().any(|c| c.disabled.contains(&name))
                    || over(h.id).enabled == Some(false)
                    || threshold.is_some_and(|t| h.priority < t);
                let enabled = cleanup || !off;
                (h, enabled)
            })
            .collect()
    }

    /// Runs `hook` on this transaction: every enabled callback in order, waiting for pending
    /// ones to be resumed.
    pub(crate) fn run_hook(&self, hook: i32) -> Outcome {
        let cleanup = hook == abi::HY_HOOK_TXN_CLOSE;
        for (h, enabled) in self.plan(hook) {
            // Callbacks switched off by an earlier one of this dispatch are skipped too.
            let still =
                self.plan(hook).into_iter().find(|(p, _)| p.id == h.id).is_some_and(|(_, e)| e);
            if !enabled || !still {
                continue;
            }
            *lock(&self.resumed) = (true, None);
            let invoked = self.state.invoke(h.cont, abi::hook_event(hook), self.ptr().cast());
            let Some(mut result) = invoked else {
                *lock(&self.resumed) = (false, None);
                continue;
            };
            if result == abi::HY_HOOK_PENDING {
                result = self.wait_resumed();
            } else {
                *lock(&self.resumed) = (false, None);
            }
            if result != abi::HY_HOOK_CONTINUE && !cleanup {
                return Outcome::Error;
            }
        }
        Outcome::Continue
    }
}

impl MockSsn {
    /// Recognises a `hy_ssn *` this host made.
    ///
    /// # Safety
    ///
    /// As [`MockTxn::from_ptr`].
    pub(crate) unsafe fn from_ptr<'a>(ptr: *mut c_void) -> Option<&'a MockSsn> {
        // SAFETY: per the contract, the first field is readable.
        (!ptr.is_null() && unsafe { ptr.cast::<u32>().read() } == SSN_TAG)
            .then(|| unsafe { &*ptr.cast::<MockSsn>() })
    }
}
