//! What each example plugin does, through the test host.

use hookyard_abi::{
    self as abi, HY_HOOK_READ_REQUEST_HDR, HY_HOOK_SEND_RESPONSE_HDR, HY_MSG_CLIENT_REQUEST,
    HY_MSG_CLIENT_RESPONSE,
};

use hookyard_abi::rules::transform::Body;

use crate::host::{CLIENT, INCOMING, MockConn, MockTls, MockTxn, Outcome, TestHost};
use crate::plugin::{Global, Remap};
use crate::support::Env;

const FROM: &str = "http://example.com/";
const TO: &str = "http://origin.internal/";

#[test]
fn add_header_adds_the_headers_its_pparams_give() {
    let env = Env::new();
    let library = env.load("add_header");
    let remap = Remap::load(&library, "add_header.so");
    let host = TestHost::new("add_header");
    remap.init(&host).unwrap();
    assert!(host.logged("add_header: initialised"));
    let instance =
        remap.new_instance(FROM, TO, &["X-Served-By:hookyard", "X-Team:  edge"]).unwrap();

    let txn = host.txn("GET", "http://example.com/a");
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_NO_REMAP, false));
    assert_eq!(txn.header(HY_MSG_CLIENT_REQUEST, "x-served-by"), ["hookyard"]);
    assert_eq!(txn.header(HY_MSG_CLIENT_REQUEST, "X-Team"), ["edge"]);
    assert_eq!(txn.request_url(), "http://example.com/a", "the URL is untouched");

    remap.post_reload(abi::HY_RELOAD_FAILURE);
    assert!(host.logged("add_header: reload failed"));
    remap.delete_instance(instance);
    remap.done();
    assert!(host.logged("add_header: done"));
}

#[test]
fn add_header_refuses_bad_pparams_with_ats_messages() {
    let env = Env::new();
    let library = env.load("add_header");
    let remap = Remap::load(&library, "add_header.so");
    let host = TestHost::new("add_header");
    remap.init(&host).unwrap();
    let err = remap.new_instance(FROM, TO, &["X-Ok:1", "no colon"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to create instance for plugin add_header.so: pparam \"no colon\" is not Name:value"
    );
    let err = remap.new_instance(FROM, TO, &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to create instance for plugin add_header.so: give at least one @pparam=Name:value"
    );
    remap.done();
}

#[test]
fn rewrite_rewrites_redirects_and_denies_by_prefix() {
    let env = Env::new();
    let library = env.load("rewrite");
    let remap = Remap::load(&library, "rewrite.so");
    assert_eq!(remap.exports(), [true, true, true, true], "the SDK exports every entry point");
    let host = TestHost::new("rewrite");
    remap.init(&host).unwrap();
    let instance = remap
        .new_instance(FROM, TO, &["deny=/admin/", "redirect=/old/:/new/", "rewrite=/v1/:/api/v1/"])
        .unwrap();

    let txn = host.txn("GET", "http://example.com/admin/users");
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_NO_REMAP_STOP, false));
    assert_eq!(txn.data().direct, Some((403, b"forbidden\n".to_vec())));

    let txn = host.txn("GET", "http://example.com/old/page?x=1");
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_DID_REMAP_STOP, true));
    assert_eq!(txn.request_url(), "http://example.com/new/page?x=1");

    let txn = host.txn("GET", "http://example.com/v1/items");
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_DID_REMAP, false));
    assert_eq!(txn.request_url(), "http://example.com/api/v1/items");
    assert_eq!(txn.data().direct, None);

    let txn = host.txn("GET", "http://example.com/other");
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_NO_REMAP, false));

    let err = remap.new_instance(FROM, TO, &["drop=/x"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to create instance for plugin rewrite.so: unknown rule `drop=/x`; expected \
         deny=PREFIX, redirect=FROM:TO or rewrite=FROM:TO"
    );
    remap.delete_instance(instance);
    remap.done();
}

#[test]
fn request_id_tags_request_and_response_and_skips_what_it_should() {
    let env = Env::new();
    let library = env.load("request_id");
    let global = Global::load(&library, "request_id.so");
    let host = TestHost::new("request_id");
    global.init(&host, &["header=X-Req", "skip=/healthz", "priority=40"]).unwrap();
    assert_eq!(host.priority(), 40, "it lowered its own priority");
    let hooks = host.global_hooks(HY_HOOK_READ_REQUEST_HDR);
    assert_eq!((hooks.len(), hooks[0].priority), (1, 40));

    let mut ids = Vec::new();
    for path in ["/a", "/b"] {
        let txn = host.txn("GET", &format!("http://example.com{path}"));
        assert_eq!(txn.run_hook(HY_HOOK_READ_REQUEST_HDR), Outcome::Continue);
        let id = txn.header(HY_MSG_CLIENT_REQUEST, "X-Req");
        assert_eq!(id.len(), 1);
        assert!(
            txn.data().control.hooks.iter().any(|h| h.hook == HY_HOOK_SEND_RESPONSE_HDR),
            "a transaction hook"
        );
        txn.origin_answers(200);
        assert_eq!(txn.run_hook(HY_HOOK_SEND_RESPONSE_HDR), Outcome::Continue);
        assert_eq!(txn.header(HY_MSG_CLIENT_RESPONSE, "X-Req"), id, "the same id comes back");
        ids.push(id[0].clone());
    }
    assert_ne!(ids[0], ids[1]);
    assert!(
        host.logged("request_id: 1 callbacks on SEND_RESPONSE_HDR, ours at Some(0)"),
        "{:?}",
        host.logs()
    );

    let txn = host.txn("GET", "http://example.com/healthz");
    assert_eq!(txn.run_hook(HY_HOOK_READ_REQUEST_HDR), Outcome::Continue);
    assert!(txn.header(HY_MSG_CLIENT_REQUEST, "X-Req").is_empty());
    assert_eq!(txn.data().control.disabled, ["request_id"], "it switched itself off");
    assert!(txn.plan(HY_HOOK_READ_REQUEST_HDR).iter().all(|(_, enabled)| !enabled));

    global.done();
    assert_eq!(host.live_continuations(), 0, "done destroyed both continuations");
    assert!(host.global_hooks(HY_HOOK_READ_REQUEST_HDR).is_empty());
}

#[test]
fn request_id_refuses_bad_arguments() {
    let env = Env::new();
    let library = env.load("request_id");
    let global = Global::load(&library, "request_id.so");
    let host = TestHost::new("request_id");
    let err = global.init(&host, &["colour=blue"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to initialize plugin request_id.so: unknown argument `colour=blue`; expected \
         header=NAME, skip=PATH or priority=N"
    );
    let err = global.init(&host, &["priority=500"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to initialize plugin request_id.so: the host refused `plugin_priority_set`"
    );
    assert_eq!(host.live_continuations(), 0);
}

#[test]
fn delay_holds_a_request_and_resumes_it_from_a_scheduled_continuation() {
    let env = Env::new();
    let library = env.load("delay");
    let global = Global::load(&library, "delay.so");
    let host = TestHost::new("delay");
    global.init(&host, &["delay_ms=5", "header=X-Held"]).unwrap();
    for _ in 0..3 {
        let txn = host.txn("GET", "http://example.com/");
        let started = std::time::Instant::now();
        assert_eq!(txn.run_hook(HY_HOOK_READ_REQUEST_HDR), Outcome::Continue);
        assert!(started.elapsed() >= std::time::Duration::from_millis(5));
        assert_eq!(txn.header(HY_MSG_CLIENT_REQUEST, "X-Held"), ["5"]);
    }
    assert_eq!(
        host.live_continuations(),
        1,
        "the one-shots destroyed themselves; the hook's remains"
    );
    global.done();
    assert_eq!(host.live_continuations(), 0);
    assert!(host.logged("delay: done after holding 3 requests"));
}

#[test]
fn the_template_changes_nothing() {
    let env = Env::new();
    let library = env.load("template");
    let remap = Remap::load(&library, "template.so");
    let host = TestHost::new("template");
    remap.init(&host).unwrap();
    let instance = remap.new_instance(FROM, TO, &[]).unwrap();
    let txn = host.txn("GET", "http://example.com/x");
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_NO_REMAP, false));
    assert_eq!(txn.request_url(), "http://example.com/x");
    remap.delete_instance(instance);
    remap.done();
}

#[test]
fn the_sdk_reads_the_transaction_and_the_rule() {
    let env = Env::new();
    let library = env.load("sdk_test_plugin");
    let remap = Remap::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new("sdk_test_plugin");
    remap.init(&host).unwrap();
    let instance = remap.new_instance(FROM, TO, &["x=1", "y"]).unwrap();
    let txn = host.txn("POST", "http://example.com:8080/a/b?c=1");
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_DID_REMAP, false));
    // The instance's arguments, read again in do_remap (since ABI 1.5).
    assert_eq!(txn.header(HY_MSG_CLIENT_REQUEST, "X-Echo-Params"), [format!("{FROM}|{TO}|x=1|y")]);
    assert_eq!(txn.header(HY_MSG_CLIENT_REQUEST, "X-Echo-Method"), ["POST"]);
    assert_eq!(
        txn.header(HY_MSG_CLIENT_REQUEST, "X-Echo-Url"),
        ["http://example.com:8080/a/b?c=1"]
    );
    assert_eq!(txn.header(HY_MSG_CLIENT_REQUEST, "X-Echo-Rule"), [format!("{FROM} -> {TO}")]);
    remap.delete_instance(instance);
    remap.done();
}

#[test]
fn the_sdk_reads_the_client_connection() {
    let env = Env::new();
    let library = env.load("sdk_test_plugin");
    let remap = Remap::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new("sdk_test_plugin");
    remap.init(&host).unwrap();
    let instance = remap.new_instance(FROM, TO, &[]).unwrap();
    let echoed = |txn: &MockTxn| -> Vec<String> {
        assert_eq!(remap.do_remap(instance, txn, FROM, TO), (abi::HY_REMAP_DID_REMAP, false));
        ["Client-Addr", "Incoming-Addr", "Client-Scheme", "Client-Sni", "Client-Alpn"]
            .into_iter()
            .chain(["Client-Tls", "Client-Protocol"])
            .flat_map(|field| txn.header(HY_MSG_CLIENT_REQUEST, &format!("X-Echo-{field}")))
            .collect()
    };
    // A new transaction's: plain HTTP/1.1.
    let txn = host.txn("GET", "http://example.com/");
    assert_eq!(echoed(&txn), [CLIENT, INCOMING, "http", "-", "-", "-", "HTTP/1.1"]);
    // HTTP/2 over TLS from an IPv4 client on a dual-stack listener.
    let txn = host.txn("GET", "http://example.com/");
    let tls = MockTls {
        sni: Some("a.test".into()),
        alpn: Some(b"h2".to_vec()),
        version: "TLSv1.3".into(),
    };
    let (client, local) = ("[::ffff:192.0.2.7]:40000".parse(), "[2001:db8::1]:443".parse());
    txn.set_conn(Some(MockConn::new(client.unwrap(), local.unwrap(), Some(tls))));
    txn.set_protocol("HTTP/2");
    assert_eq!(
        echoed(&txn),
        ["192.0.2.7:40000", "[2001:db8::1]:443", "https", "a.test", "h2", "TLSv1.3", "HTTP/2"]
    );
    // TLS 1.2 without SNI or ALPN.
    let txn = host.txn("GET", "http://example.com/");
    let tls = MockTls { sni: None, alpn: None, version: "TLSv1.2".into() };
    let (client, local) = (CLIENT.parse().unwrap(), INCOMING.parse().unwrap());
    txn.set_conn(Some(MockConn::new(client, local, Some(tls))));
    assert_eq!(echoed(&txn), [CLIENT, INCOMING, "https", "-", "-", "TLSv1.2", "HTTP/1.1"]);
    remap.delete_instance(instance);
    remap.done();
}

#[test]
fn the_sdk_sets_log_fields_counts_stats_and_answers_messages() {
    let env = Env::new();
    let library = env.load("sdk_test_plugin");
    let remap = Remap::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new("sdk_test_plugin");
    remap.init(&host).unwrap();
    let instance = remap.new_instance(FROM, TO, &[]).unwrap();
    for n in 1..=2 {
        let txn = host.txn("GET", "http://example.com/");
        assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_DID_REMAP, false));
        assert_eq!(txn.log_fields(), [("remap".to_owned(), "sdk".to_owned())]);
        assert_eq!(host.stat("sdk_test_plugin", "remaps"), Some(n));
    }
    remap.delete_instance(instance);
    remap.done();
    let global = Global::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new("sdk_test_plugin");
    global.init(&host, &[]).unwrap();
    assert_eq!(host.stat("sdk_test_plugin", "last_msg_len"), Some(0));
    let replies = host.run_message("hello", b"world");
    assert_eq!(replies, [("sdk_test_plugin".to_owned(), "hello=world".to_owned())]);
    assert_eq!(host.stat("sdk_test_plugin", "last_msg_len"), Some(5));
    let replies = host.run_message("empty", b"");
    assert_eq!(replies, [("sdk_test_plugin".to_owned(), "empty=".to_owned())]);
    assert_eq!(host.stat("sdk_test_plugin", "last_msg_len"), Some(0));
}

/// A transaction of `host` for `GET url` whose origin answered 200 with `fields` (on both
/// response messages), with the request's `Accept-Encoding` if given.
fn answered(
    host: &TestHost,
    url: &str,
    accept: Option<&str>,
    fields: &[(&str, &str)],
) -> Box<MockTxn> {
    let txn = host.txn("GET", url);
    if let Some(accept) = accept {
        txn.add_field(HY_MSG_CLIENT_REQUEST, "Accept-Encoding", accept);
    }
    txn.origin_answers(200);
    for (name, value) in fields {
        txn.add_field(abi::HY_MSG_ORIGIN_RESPONSE, name, value);
        txn.add_field(HY_MSG_CLIENT_RESPONSE, name, value);
    }
    txn
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

#[test]
fn gzip_compresses_what_the_client_accepts_and_skips_the_rest() {
    let env = Env::new();
    let library = env.load("gzip");
    let global = Global::load(&library, "gzip.so");
    let host = TestHost::new("gzip");
    global.init(&host, &["level=6", "min_size=100"]).unwrap();
    let text: Vec<u8> = b"a body that compresses well. ".repeat(2000);
    let chunks: Vec<&[u8]> = text.chunks(7000).collect();
    let html = [("Content-Type", "text/html; charset=utf-8")];

    let txn = answered(&host, "http://example.com/a", Some("br, gzip;q=0.8"), &html);
    assert_eq!(txn.run_hook(HY_HOOK_SEND_RESPONSE_HDR), Outcome::Continue);
    assert_eq!(txn.header(HY_MSG_CLIENT_RESPONSE, "Content-Encoding"), ["gzip"]);
    assert_eq!(txn.header(HY_MSG_CLIENT_RESPONSE, "Vary"), ["Accept-Encoding"]);
    let out = txn.run_body(Body::Response, &chunks).unwrap();
    assert!(out.len() < text.len() / 10, "{} bytes", out.len());
    assert_eq!(gunzip(&out), text);

    // Not accepted: untouched, but it varies by Accept-Encoding.
    let txn = answered(&host, "http://example.com/a", Some("gzip;q=0, br"), &html);
    assert_eq!(txn.run_hook(HY_HOOK_SEND_RESPONSE_HDR), Outcome::Continue);
    assert!(txn.header(HY_MSG_CLIENT_RESPONSE, "Content-Encoding").is_empty());
    assert_eq!(txn.header(HY_MSG_CLIENT_RESPONSE, "Vary"), ["Accept-Encoding"]);
    assert_eq!(txn.run_body(Body::Response, &chunks).unwrap(), text);

    // Already encoded, too small, or not text: untouched.
    for fields in [
        &[("Content-Type", "text/plain"), ("Content-Encoding", "br")][..],
        &[("Content-Type", "text/plain"), ("Content-Length", "99")][..],
        &[("Content-Type", "image/png")][..],
    ] {
        let txn = answered(&host, "http://example.com/a", Some("gzip"), fields);
        assert_eq!(txn.run_hook(HY_HOOK_SEND_RESPONSE_HDR), Outcome::Continue);
        assert_eq!(
            txn.header(HY_MSG_CLIENT_RESPONSE, "Content-Encoding").len(),
            usize::from(fields.len() == 2 && fields[1].0 == "Content-Encoding")
        );
        assert_eq!(txn.run_body(Body::Response, &chunks).unwrap(), text);
    }
    let err = global.init(&host, &["level=10"]).unwrap_err();
    assert!(err.to_string().contains("level must be 0 to 9, not `10`"), "{err}");
}

#[test]
fn substitute_replaces_bytes_in_place_and_keeps_the_length() {
    let env = Env::new();
    let library = env.load("substitute");
    let global = Global::load(&library, "substitute.so");
    let host = TestHost::new("substitute");
    global.init(&host, &["a=4", "o=0"]).unwrap();
    let txn = answered(&host, "http://example.com/", None, &[("Content-Type", "text/plain")]);
    assert_eq!(txn.run_hook(HY_HOOK_SEND_RESPONSE_HDR), Outcome::Continue);
    let out = txn.run_body(Body::Response, &[b"a photo ", b"of a dog"]).unwrap();
    assert_eq!(out, b"4 ph0t0 0f 4 d0g");
    let txn = answered(&host, "http://example.com/", None, &[("Content-Type", "image/png")]);
    assert_eq!(txn.run_hook(HY_HOOK_SEND_RESPONSE_HDR), Outcome::Continue);
    assert_eq!(txn.run_body(Body::Response, &[b"a photo"]).unwrap(), b"a photo");
    let err = global.init(&host, &["ab=c"]).unwrap_err();
    assert!(err.to_string().contains("argument `ab=c` is not FROM=TO"), "{err}");
}

#[test]
fn body_hash_logs_the_digest_of_a_body_it_only_reads() {
    let env = Env::new();
    let library = env.load("body_hash");
    let global = Global::load(&library, "body_hash.so");
    let host = TestHost::new("body_hash");
    global.init(&host, &[]).unwrap();
    let txn = answered(&host, "http://example.com/h", None, &[]);
    assert_eq!(txn.run_hook(HY_HOOK_SEND_RESPONSE_HDR), Outcome::Continue);
    assert_eq!(txn.run_body(Body::Response, &[b"ab", b"c"]).unwrap(), b"abc");
    // sha256("abc")
    let line = "body_hash: GET http://example.com/h \
                sha256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad bytes=3";
    host.wait_logged(line);
}
