//! Every example plugin (and the SDK's test plugin, panics included) unloads: every entry point
//! is called on a spawned thread through the test host, the library is released and really
//! unmapped while that thread still lives, and then the thread exits and the process lives on.
//! A plugin that left a thread-exit destructor behind would crash the process at that exit; one
//! that left a continuation alive is caught by the host's count.

use std::sync::mpsc;

use hookyard_abi::{
    self as abi, HY_HOOK_READ_REQUEST_HDR, HY_HOOK_SEND_RESPONSE_HDR, HY_HOOK_TXN_CLOSE,
    HY_MSG_CLIENT_REQUEST,
};
use hookyard_dso::Library;

use crate::host::{Outcome, TestHost};
use crate::plugin::{Global, Remap};
use crate::support::{Env, mapped};

const FROM: &str = "http://example.com/";
const TO: &str = "http://origin.internal/";

fn unloads_cleanly(plugin: &str, exercise: fn(&Library, &TestHost)) {
    let env = Env::new();
    let library = env.load(plugin);
    let runtime = library.runtime_path().to_owned();
    assert!(mapped(&runtime));
    let (called_tx, called_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    let name = plugin.to_owned();
    let caller = std::thread::spawn(move || {
        let host = TestHost::new(&name);
        exercise(&library, &host);
        // A handler may still be returning on the host's timer thread (a one-shot that resumed
        // the transaction): the host keeps the code loaded until it has.
        host.wait_idle();
        drop(library);
        called_tx.send(host.live_continuations()).unwrap();
        exit_rx.recv().unwrap();
        // The host's timer thread, which ran plugin code too, exits here.
        drop(host);
    });
    assert_eq!(called_rx.recv().unwrap(), 0, "{plugin}: every continuation destroyed by done");
    env.loader.flush_unloads();
    assert!(!mapped(&runtime), "{plugin}: unmapped while the thread that ran it lives");
    assert!(!runtime.parent().unwrap().exists(), "{plugin}: its runtime copy is gone");
    exit_tx.send(()).unwrap();
    caller.join().expect("the thread that ran the plugin exits cleanly after the unload");
    let stats = env.loader.stats();
    assert_eq!((stats.unloaded, stats.pinned), (1, 0), "{plugin}");
}

/// Every remap entry point the plugin exports, with `params` for its instance.
fn every_remap_entry_point(library: &Library, host: &TestHost, config_path: &str, params: &[&str]) {
    let remap = Remap::load(library, config_path);
    remap.pre_reload();
    remap.init(host).unwrap();
    let instance = remap.new_instance(FROM, TO, params).unwrap();
    remap.post_reload(abi::HY_RELOAD_SUCCESS_PLUGIN_USED);
    let txn = host.txn("GET", "http://example.com/v1/x");
    remap.do_remap(instance, &txn, FROM, TO);
    txn.origin_answers(200);
    remap.os_response(instance, &txn, abi::HY_SERVER_STATE_TRANSACTION_COMPLETE);
    remap.pre_reload();
    remap.post_reload(abi::HY_RELOAD_SUCCESS_PLUGIN_UNUSED);
    remap.delete_instance(instance);
    remap.done();
}

/// Every global entry point, and the hooks of a transaction.
fn every_global_entry_point(
    library: &Library,
    host: &TestHost,
    config_path: &str,
    params: &[&str],
) {
    let global = Global::load(library, config_path);
    global.init(host, params).unwrap();
    let txn = host.txn("GET", "http://example.com/");
    assert_eq!(txn.run_hook(HY_HOOK_READ_REQUEST_HDR), Outcome::Continue);
    txn.origin_answers(200);
    assert_eq!(txn.run_hook(HY_HOOK_SEND_RESPONSE_HDR), Outcome::Continue);
    assert_eq!(txn.run_hook(HY_HOOK_TXN_CLOSE), Outcome::Continue);
    host.run_lifecycle(abi::HY_HOOK_SHUTDOWN);
    global.pre_reload();
    global.post_reload(abi::HY_RELOAD_SUCCESS_PLUGIN_USED);
    global.done();
}

#[test]
fn add_header_unloads() {
    unloads_cleanly("add_header", |library, host| {
        every_remap_entry_point(library, host, "add_header.so", &["X-A:1"]);
    });
}

#[test]
fn response_header_unloads() {
    unloads_cleanly("response_header", |library, host| {
        every_global_entry_point(library, host, "response_header.so", &["X-A:1"]);
    });
}

#[test]
fn the_template_unloads() {
    unloads_cleanly("template", |library, host| {
        every_remap_entry_point(library, host, "template.so", &[])
    });
}

#[test]
fn rewrite_unloads() {
    unloads_cleanly("rewrite", |library, host| {
        every_remap_entry_point(library, host, "rewrite.so", &["rewrite=/v1/:/v2/", "deny=/x"]);
    });
}

#[test]
fn request_id_unloads() {
    unloads_cleanly("request_id", |library, host| {
        every_global_entry_point(library, host, "request_id.so", &["header=X-Id"]);
    });
}

#[test]
fn delay_unloads() {
    unloads_cleanly("delay", |library, host| {
        every_global_entry_point(library, host, "delay.so", &["delay_ms=1"]);
    });
}

#[test]
fn the_sdk_test_plugin_unloads_after_panicking_everywhere() {
    unloads_cleanly("sdk_test_plugin", |library, host| {
        every_remap_entry_point(library, host, "sdk_test_plugin.so", &[]);
        let remap = Remap::load(library, "sdk_test_plugin.so");
        remap.init(host).unwrap();
        assert!(remap.new_instance(FROM, TO, &["panic"]).is_err());
        let instance = remap.new_instance(FROM, TO, &[]).unwrap();
        let txn = host.txn("GET", "http://example.com/");
        txn.data().msgs[0].as_mut().unwrap().headers.push(("X-Panic".into(), b"1".to_vec()));
        assert_eq!(remap.do_remap(instance, &txn, FROM, TO).0, abi::HY_REMAP_NO_REMAP_STOP);
        remap.os_response(instance, &txn, 99);
        remap.post_reload(abi::HY_RELOAD_FAILURE);
        remap.delete_instance(instance);
        remap.done();

        let global = Global::load(library, "sdk_test_plugin.so");
        assert!(global.init(host, &["panic"]).is_err());
        global.init(host, &["panic-timer", "panic-done"]).unwrap();
        host.wait_logged(": boom in a timer");
        let txn = host.txn("GET", "http://example.com/");
        txn.data().msgs[0].as_mut().unwrap().headers.push(("X-Panic-Hook".into(), b"1".to_vec()));
        assert_eq!(txn.run_hook(HY_HOOK_READ_REQUEST_HDR), Outcome::Error);
        assert!(txn.header(HY_MSG_CLIENT_REQUEST, "X-Panic-Hook").len() == 1);
        global.done();
        assert!(host.logged("boom in done"));
    });
}
