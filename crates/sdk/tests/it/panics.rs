//! A panic in plugin code becomes an error value at the entry point that ran it: an init or
//! new-instance failure with the panic's message, a direct 500 response (the do_remap chain stops), `HY_HOOK_ERROR`,
//! or a log line; never an unwind into the host.

use hookyard_abi::{self as abi, HY_HOOK_READ_REQUEST_HDR};

use crate::host::{Outcome, TestHost};
use crate::plugin::{Global, Remap};
use crate::support::Env;

const FROM: &str = "http://example.com/";
const TO: &str = "http://origin.internal/";
const PLUGIN: &str = "sdk_test_plugin";

#[test]
fn a_panicking_remap_init_fails_the_load_with_the_panic_message() {
    let env = Env::new();
    let library = env.load(PLUGIN);
    let remap = Remap::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new("panic-in-init");
    let err = remap.init(&host).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to initialize plugin sdk_test_plugin.so: panicked in hy_remap_init: boom in init"
    );
    // The SDK's panic hook logged where, through the host.
    assert!(
        host.logs().iter().any(|(level, m)| *level == abi::HY_LOG_ERROR
            && m.starts_with("panicked at crates/sdk/test-plugin/src/lib.rs:")
            && m.ends_with(": boom in init")),
        "{:?}",
        host.logs()
    );

    let host = TestHost::new("fail-in-init");
    assert_eq!(
        remap.init(&host).unwrap_err().to_string(),
        "failed to initialize plugin sdk_test_plugin.so: init refused"
    );
}

#[test]
fn a_panicking_new_instance_fails_with_its_message() {
    let env = Env::new();
    let library = env.load(PLUGIN);
    let remap = Remap::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new(PLUGIN);
    remap.init(&host).unwrap();
    let err = remap.new_instance(FROM, TO, &["panic"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to create instance for plugin sdk_test_plugin.so: panicked in hy_remap_new_instance: boom in new_instance"
    );
    let err = remap.new_instance(FROM, TO, &["fail"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to create instance for plugin sdk_test_plugin.so: bad args"
    );
    remap.done();
}

#[test]
fn a_panicking_do_remap_answers_error_and_the_plugin_keeps_serving() {
    let env = Env::new();
    let library = env.load(PLUGIN);
    let remap = Remap::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new(PLUGIN);
    remap.init(&host).unwrap();
    let instance = remap.new_instance(FROM, TO, &[]).unwrap();

    let txn = host.txn("GET", "http://example.com/");
    txn.data().msgs[0].as_mut().unwrap().headers.push(("X-Panic".into(), b"1".to_vec()));
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_NO_REMAP_STOP, false));
    assert_eq!(txn.data().direct.as_ref().map(|d| d.0), Some(500), "the panic answers 500");
    assert!(host.logged("panicked in hy_remap_do_remap: boom in do_remap"));

    let txn = host.txn("GET", "http://example.com/");
    assert_eq!(remap.do_remap(instance, &txn, FROM, TO), (abi::HY_REMAP_DID_REMAP, false));

    remap.os_response(instance, &txn, 99);
    assert!(host.logged("panicked in hy_remap_os_response: boom in os_response"));
    remap.post_reload(abi::HY_RELOAD_FAILURE);
    assert!(host.logged("panicked in hy_remap_post_config_reload: boom in post_config_reload"));
    remap.delete_instance(instance);
    remap.done();
}

#[test]
fn panicking_global_plugin_code_fails_init_the_hook_or_nothing() {
    let env = Env::new();
    let library = env.load(PLUGIN);
    let global = Global::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new(PLUGIN);
    let err = global.init(&host, &["panic"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to initialize plugin sdk_test_plugin.so: panicked in hy_plugin_init: boom in plugin init"
    );
    assert_eq!(
        global.init(&host, &["fail"]).unwrap_err().to_string(),
        "failed to initialize plugin sdk_test_plugin.so: plugin init refused"
    );

    global.init(&host, &["panic-done"]).unwrap();
    let txn = host.txn("GET", "http://example.com/");
    txn.data().msgs[0].as_mut().unwrap().headers.push(("X-Panic-Hook".into(), b"1".to_vec()));
    assert_eq!(
        txn.run_hook(HY_HOOK_READ_REQUEST_HDR),
        Outcome::Error,
        "a panicking hook fails its transaction"
    );
    assert!(host.logged("boom in a hook"));
    let txn = host.txn("GET", "http://example.com/");
    assert_eq!(txn.run_hook(HY_HOOK_READ_REQUEST_HDR), Outcome::Continue);

    global.done();
    assert!(host.logged("panicked in hy_plugin_done: boom in done"));
    assert_eq!(host.live_continuations(), 0, "the plugin's value was dropped despite the panic");
}

#[test]
fn a_panicking_scheduled_continuation_is_logged_and_still_destroyed() {
    let env = Env::new();
    let library = env.load(PLUGIN);
    let global = Global::load(&library, "sdk_test_plugin.so");
    let host = TestHost::new(PLUGIN);
    global.init(&host, &["panic-timer"]).unwrap();
    // It runs on the host's timer thread.
    host.wait_logged(": boom in a timer");
    global.done();
    assert_eq!(host.live_continuations(), 0);
}
