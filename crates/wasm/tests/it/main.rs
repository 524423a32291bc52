//! `hookyard-wasm` with real modules: the example filters of `plugins/wasm`, built from source
//! with the proxy-wasm Rust SDK.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookyard_wasm::{
    BodyVerdict, FailureKind, Limits, Plugin, PluginSpec, Properties, RequestHead, ResponseHead,
    Runtime, Unread, Verdict,
};
use http::{HeaderMap, HeaderValue};

fn load(name: &str, config: &str, limits: Limits) -> Arc<Plugin> {
    let bytes = std::fs::read(hookyard_fixtures::wasm_plugin(name)).unwrap();
    let spec = PluginSpec {
        name: name.to_owned(),
        bytes,
        config: config.as_bytes().to_vec(),
        limits,
        slots: 2,
    };
    Plugin::load(spec).unwrap()
}

/// A response field as a host keeps it unread: `x-origin: kept`, and how often it was put.
struct Received {
    puts: usize,
    /// Whether a field may be added beside it while it stays unread.
    adds: bool,
}

impl Received {
    fn new() -> Received {
        Received { puts: 0, adds: false }
    }

    fn adding() -> Received {
        Received { puts: 0, adds: true }
    }
}

impl Unread for Received {
    fn count(&self) -> usize {
        1
    }

    fn put(&mut self, headers: &mut HeaderMap) {
        self.puts += 1;
        let added = std::mem::take(headers);
        headers.insert("x-origin", HeaderValue::from_static("kept"));
        headers.extend(added);
    }

    fn may_add(&self, _: &http::HeaderName) -> bool {
        self.adds
    }
}

fn request(path: &str) -> RequestHead {
    let mut head = RequestHead::default();
    head.path = path.parse().unwrap();
    head.authority = http::HeaderValue::from_static("example.com");
    head
}

#[test]
fn the_header_filter_adds_its_configured_fields_both_ways() {
    let plugin = load("add_header", "x-one=1 x-two=2", Limits::default());
    let mut filter = plugin.filter(0, Properties::default()).unwrap();
    let mut head = request("/");
    assert_eq!(filter.request_headers(&mut head, true).unwrap(), Verdict::Continue);
    assert_eq!(head.headers["x-one"], "1");
    assert_eq!(head.headers["x-two"], "2");
    let mut response = ResponseHead::with_unread(200, HeaderMap::new(), Box::new(Received::new()));
    assert_eq!(filter.response_headers(&mut response, false).unwrap(), Verdict::Continue);
    // The filter set its fields: the received ones were put in the map first, and stay.
    assert_eq!(response.headers()["x-two"], "2");
    assert_eq!(response.headers()["x-origin"], "kept");
    let (_, headers, received) = response.into_parts::<Received>();
    assert_eq!(received.unwrap().puts, 1);
    assert_eq!(headers.len(), 3);
    assert_eq!(plugin.counts().calls, 2);
}

#[test]
fn the_calls_of_every_slot_are_counted() {
    let plugin = load("request_header", "x-bench=hookyard", Limits::default());
    std::thread::scope(|scope| {
        for slot in 0..2 {
            let plugin = &plugin;
            scope.spawn(move || {
                let mut filter = plugin.filter(slot, Properties::default()).unwrap();
                filter.request_headers(&mut request("/"), true).unwrap();
            });
        }
    });
    let counts = plugin.counts();
    assert_eq!((counts.calls, counts.instances), (2, 2));
    assert!(counts.nanos > 0);
}

#[test]
fn unread_request_fields_stay_so_when_a_filter_only_adds_beside_them() {
    let plugin = load("request_header", "x-bench=hookyard", Limits::default());
    for (received, puts) in [(Received::adding(), 0), (Received::new(), 1)] {
        let mut filter = plugin.filter(0, Properties::default()).unwrap();
        let mut head = request("/").with_unread(Box::new(received));
        assert_eq!(filter.request_headers(&mut head, true).unwrap(), Verdict::Continue);
        assert_eq!(head.take_unread::<Received>().unwrap().puts, puts);
        assert_eq!(head.headers["x-bench"], "hookyard");
        // Put, they come first.
        let names: Vec<&str> = head.headers.keys().map(|n| n.as_str()).collect();
        let want: &[&str] = if puts == 0 { &["x-bench"] } else { &["x-origin", "x-bench"] };
        assert_eq!(names, want);
    }
    // A filter that reads a field has them put.
    let plugin = load("add_header", "x-one=1", Limits::default());
    let mut filter = plugin.filter(0, Properties::default()).unwrap();
    let mut head = request("/").with_unread(Box::new(Received::adding()));
    filter.request_headers(&mut head, true).unwrap();
    assert_eq!(head.take_unread::<Received>().unwrap().puts, 0, "`:path` alone puts none");
}

#[test]
fn the_request_header_filter_adds_to_the_request_only() {
    let plugin = load("request_header", "x-bench=hookyard x-two=2", Limits::default());
    for _ in 0..3 {
        let mut filter = plugin.filter(0, Properties::default()).unwrap();
        let mut head = request("/");
        assert_eq!(filter.request_headers(&mut head, true).unwrap(), Verdict::Continue);
        assert_eq!(head.headers["x-bench"], "hookyard");
        assert_eq!(head.headers["x-two"], "2");
        let mut response =
            ResponseHead::with_unread(200, HeaderMap::new(), Box::new(Received::new()));
        assert_eq!(filter.response_headers(&mut response, false).unwrap(), Verdict::Continue);
        // The filter never read the response's fields: they were not put in a map.
        assert_eq!(response.len(), 1);
        let (_, headers, received) = response.into_parts::<Received>();
        assert!(headers.is_empty());
        assert_eq!(received.unwrap().puts, 0);
    }
    assert_eq!(plugin.counts().calls, 6);
    let bytes = std::fs::read(hookyard_fixtures::wasm_plugin("request_header")).unwrap();
    let spec = PluginSpec {
        name: "request_header".to_owned(),
        bytes,
        config: Vec::new(),
        limits: Limits::default(),
        slots: 1,
    };
    assert!(Plugin::load(spec).is_err(), "a filter without fields is refused");
}

#[test]
fn a_local_response_answers_the_request() {
    let plugin = load("add_header", "", Limits::default());
    let mut filter = plugin.filter(1, Properties::default()).unwrap();
    let mut head = request("/wasm-hello");
    let Verdict::Respond(local) = filter.request_headers(&mut head, true).unwrap() else {
        panic!("no local response");
    };
    assert_eq!(local.status, 200);
    assert_eq!(local.body, b"Hello, World!\n");
    assert!(local.headers.contains(&("powered-by".to_owned(), b"proxy-wasm".to_vec())));
    assert_eq!(plugin.counts().local_responses, 1);
}

#[test]
fn a_configuration_the_module_refuses_fails_the_load() {
    let bytes = std::fs::read(hookyard_fixtures::wasm_plugin("add_header")).unwrap();
    let spec = PluginSpec {
        name: "add_header".to_owned(),
        bytes,
        config: b"no-pairs-here".to_vec(),
        limits: Limits::default(),
        slots: 1,
    };
    let error = Plugin::load(spec).unwrap_err().to_string();
    assert!(error.contains("proxy_on_configure answered false"), "{error}");
    let error = Plugin::load(PluginSpec {
        name: "junk".to_owned(),
        bytes: b"\0asm junk".to_vec(),
        config: Vec::new(),
        limits: Limits::default(),
        slots: 1,
    })
    .unwrap_err()
    .to_string();
    assert!(error.starts_with("not a valid WebAssembly module"), "{error}");
}

/// `bytes` with a custom section appended: another module of the same code.
fn with_custom_section(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let payload_len = 1 + name.len();
    assert!(payload_len < 128);
    out.extend_from_slice(&[0, payload_len as u8, name.len() as u8]);
    out.extend_from_slice(name.as_bytes());
    out
}

#[test]
fn an_unchanged_module_is_compiled_once() {
    let bytes = std::fs::read(hookyard_fixtures::wasm_plugin("body_inspect")).unwrap();
    let bytes = with_custom_section(&bytes, "cache-test");
    let runtime = Runtime::get().unwrap();
    let first = runtime.module(&bytes).unwrap();
    let again = runtime.module(&bytes).unwrap();
    assert!(Arc::ptr_eq(&first, &again), "compiled again");
    let other = runtime.module(&with_custom_section(&bytes, "v2")).unwrap();
    assert!(!Arc::ptr_eq(&first, &other));
    assert_ne!(first.hash_hex(), other.hash_hex());
}

#[test]
fn traps_deadlines_and_memory_fail_only_their_call() {
    // The memory case runs under a deadline no busy machine reaches, so that growing to the
    // limit fails as memory, never as time.
    let short =
        Limits { memory: 16 << 20, deadline: Duration::from_millis(50), ..Limits::default() };
    let long = Limits { deadline: Duration::from_secs(20), ..short };
    let (quick, roomy) = (load("misbehave", "", short), load("misbehave", "", long));
    for (plugin, path, kind, within) in [
        (&quick, "/trap", FailureKind::Trap, Duration::from_secs(2)),
        (&quick, "/loop", FailureKind::Deadline, Duration::from_secs(2)),
        (&roomy, "/grow", FailureKind::Memory, Duration::from_secs(20)),
    ] {
        let mut filter = plugin.filter(0, Properties::default()).unwrap();
        let started = Instant::now();
        let failure = filter.request_headers(&mut request(path), true).unwrap_err();
        assert_eq!(failure.kind, kind, "{path}: {failure}");
        assert!(started.elapsed() < within, "{path} took {:?}", started.elapsed());
        // The next transaction on the same slot gets a fresh instance.
        let mut next = plugin.filter(0, Properties::default()).unwrap();
        let mut head = request("/fine");
        assert_eq!(next.request_headers(&mut head, true).unwrap(), Verdict::Continue);
        assert_eq!(head.headers["x-misbehave"], "fine");
    }
    let (counts, more) = (quick.counts(), roomy.counts());
    assert_eq!((counts.traps, counts.deadlines, counts.memory), (1, 1, 0));
    assert_eq!((more.traps, more.deadlines, more.memory), (0, 0, 1));
    assert!(!quick.is_quarantined() && !roomy.is_quarantined());
}

#[test]
fn repeated_failures_quarantine_the_plugin() {
    let limits =
        Limits { quarantine_after: 3, window: Duration::from_secs(60), ..Limits::default() };
    let plugin = load("misbehave", "", limits);
    for _ in 0..3 {
        let mut filter = plugin.filter(0, Properties::default()).unwrap();
        filter.request_headers(&mut request("/trap"), true).unwrap_err();
    }
    assert!(plugin.is_quarantined());
    assert!(plugin.filter(0, Properties::default()).is_none());
    assert_eq!(plugin.counts().skipped, 1);
}

#[test]
fn a_context_of_a_dropped_instance_goes_on_in_a_new_one() {
    let plugin = load("misbehave", "", Limits::default());
    let mut survivor = plugin.filter(0, Properties::default()).unwrap();
    survivor.request_headers(&mut request("/fine"), false).unwrap();
    let mut trapping = plugin.filter(0, Properties::default()).unwrap();
    trapping.request_headers(&mut request("/trap"), true).unwrap_err();
    let mut response = ResponseHead::new(200, HeaderMap::new());
    assert_eq!(survivor.response_headers(&mut response, true).unwrap(), Verdict::Continue);
}

#[test]
fn request_bodies_are_inspected() {
    let plugin = load("body_inspect", "secret", Limits::default());
    let mut filter = plugin.filter(0, Properties::default()).unwrap();
    filter.request_headers(&mut request("/"), false).unwrap();
    let mut chunk = Bytes::from_static(b"a harmless se");
    assert_eq!(filter.body(false, &mut chunk, false).unwrap(), BodyVerdict::Buffer);
    let mut whole = Bytes::from_static(b"a harmless secret");
    let BodyVerdict::Respond(local) = filter.body(false, &mut whole, true).unwrap() else {
        panic!("not refused");
    };
    assert_eq!(local.status, 403);
    let mut clean = plugin.filter(0, Properties::default()).unwrap();
    let body = Bytes::from(b"nothing to see".to_vec());
    let mut passed = body.clone();
    assert_eq!(clean.body(false, &mut passed, true).unwrap(), BodyVerdict::Continue);
    assert_eq!(passed, body);
    assert_eq!(passed.as_ptr(), body.as_ptr(), "a chunk the filter left is not copied");
}

#[test]
fn ticks_count_in_shared_data_and_properties_are_answered() {
    let plugin = load("misbehave", "tick", Limits::default());
    let source: std::net::SocketAddr = "127.0.0.1:5555".parse().unwrap();
    let properties = Properties::new(Some(source), None, "HTTP/1.1");
    let started = Instant::now();
    let ticks = loop {
        let mut filter = plugin.filter(0, properties.clone()).unwrap();
        let mut head = request("/fine?q=1");
        filter.request_headers(&mut head, true).unwrap();
        assert_eq!(head.headers["x-source"], "127.0.0.1:5555");
        assert_eq!(head.headers["x-path"], "/fine?q=1");
        let ticks: u64 = head.headers["x-ticks"].to_str().unwrap().parse().unwrap();
        if ticks >= 3 {
            break ticks;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "ticks stalled at {ticks}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(ticks >= 3);
    // Without `tick`, no tick runs: its own count stays where the other left it.
    let quiet = load("misbehave", "", Limits::default());
    let mut filter = quiet.filter(0, Properties::default()).unwrap();
    let mut head = request("/fine");
    filter.request_headers(&mut head, true).unwrap();
    assert!(head.headers["x-ticks"].to_str().unwrap().parse::<u64>().unwrap() >= ticks);
}
