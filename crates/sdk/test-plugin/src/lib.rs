//! A plugin for the SDK's tests: both a remap and a global plugin, whose entry points panic or
//! fail when asked to, and which otherwise echoes what it sees, to exercise the SDK's wrappers.
//!
//! - remap init: panics when the host knows the plugin as `panic-in-init`, fails as
//!   `fail-in-init`;
//! - new_instance: pparam `panic` panics, `fail` fails;
//! - do_remap: request header `X-Panic` panics; otherwise copies the method, the request URL,
//!   the rule's URLs and what it reads of the client connection (`-` for nothing) into request
//!   headers `X-Echo-*` and answers `DID_REMAP`;
//! - os_response: state 99 panics; post_config_reload: `FAILURE` panics;
//! - do_remap also sets access log field `remap` to `sdk` and counts statistic `remaps`;
//! - its global `LIFECYCLE_MSG` callback replies `TAG=DATA` and sets gauge `last_msg_len`;
//! - global init: argument `panic` panics, `fail` fails, `panic-timer` schedules a one-shot that
//!   panics; its `READ_REQUEST_HDR` hook panics on header `X-Panic-Hook`; argument `panic-done`
//!   makes done panic.
#![forbid(unsafe_code)]

use std::time::Duration;

use hookyard_sdk::{
    Continuation, Error, Event, GlobalPlugin, HookId, HookResult, Host, InstanceArgs, Msg,
    ReloadStatus, RemapPlugin, RemapRequest, RemapStatus, ServerState, StatKind, Txn, Url,
};

struct Remap;

impl RemapPlugin for Remap {
    fn init(host: Host) -> Result<(), Error> {
        match host.plugin_name().as_str() {
            "panic-in-init" => panic!("boom in init"),
            "fail-in-init" => Err(Error::new("init refused")),
            _ => Ok(()),
        }
    }

    fn new_instance(args: &InstanceArgs<'_>) -> Result<Self, Error> {
        match args.params.first() {
            Some(&"panic") => panic!("boom in new_instance"),
            Some(&"fail") => Err(Error::new("bad args")),
            _ => Ok(Remap),
        }
    }

    fn do_remap(&self, txn: &mut Txn<'_>, request: &mut RemapRequest<'_>) -> RemapStatus {
        assert!(txn.header(Msg::ClientRequest, "X-Panic").is_none(), "boom in do_remap");
        let text = |value: Option<&str>| value.unwrap_or("-").to_owned();
        let addr = |addr: Option<std::net::SocketAddr>| addr.map_or("-".into(), |a| a.to_string());
        let echo = [
            ("X-Echo-Method", text(txn.method(Msg::ClientRequest))),
            ("X-Echo-Url", text(txn.url_string(Url::Request))),
            ("X-Echo-Rule", format!("{} -> {}", request.from_url(), request.to_url())),
            ("X-Echo-Client-Addr", addr(txn.client_addr())),
            ("X-Echo-Incoming-Addr", addr(txn.incoming_addr())),
            ("X-Echo-Client-Scheme", text(txn.client_scheme())),
            ("X-Echo-Client-Sni", text(txn.client_sni())),
            (
                "X-Echo-Client-Alpn",
                txn.client_alpn().map_or("-".into(), String::from_utf8_lossy).into(),
            ),
            ("X-Echo-Client-Tls", text(txn.client_tls_version())),
            ("X-Echo-Client-Protocol", text(txn.client_protocol())),
            (
                "X-Echo-Params",
                (0..).map_while(|i| txn.remap_param(i)).collect::<Vec<_>>().join("|"),
            ),
        ];
        for (name, value) in echo {
            if txn.add_header(Msg::ClientRequest, name, value).is_err() {
                return RemapStatus::Error;
            }
        }
        let counted = Host::get()
            .ok_or_else(|| Error::new("no host"))
            .and_then(|host| host.stat_create("remaps", StatKind::Counter))
            .and_then(|remaps| remaps.increment(1));
        if counted.is_err() || txn.log_field_set("remap", "sdk").is_err() {
            return RemapStatus::Error;
        }
        RemapStatus::DidRemap
    }

    fn os_response(&self, _txn: &mut Txn<'_>, state: ServerState) {
        if state == ServerState(99) {
            panic!("boom in os_response");
        }
    }

    fn post_config_reload(status: ReloadStatus) {
        if status == ReloadStatus::Failure {
            panic!("boom in post_config_reload");
        }
    }
}

struct Global {
    panic_on_drop: bool,
    _hook: Continuation,
}

impl GlobalPlugin for Global {
    fn init(host: Host, args: &[&str]) -> Result<Self, Error> {
        if args.contains(&"panic") {
            panic!("boom in plugin init");
        }
        if args.contains(&"fail") {
            return Err(Error::new("plugin init refused"));
        }
        if args.contains(&"panic-timer") {
            hookyard_sdk::schedule(Duration::ZERO, || panic!("boom in a timer"))?;
        }
        let last_len = host.stat_create("last_msg_len", StatKind::Gauge)?;
        let hook = Continuation::new(move |event| match event {
            Event::Msg(msg) => {
                let text = format!("{}={}", msg.tag(), String::from_utf8_lossy(msg.data()));
                let len = i64::try_from(msg.data().len()).unwrap_or(i64::MAX);
                match msg.reply(&text).and_then(|()| last_len.set(len)) {
                    Ok(()) => HookResult::Continue,
                    Err(_) => HookResult::Error,
                }
            }
            Event::Txn(HookId::ReadRequestHdr, txn) => {
                assert!(txn.header(Msg::ClientRequest, "X-Panic-Hook").is_none(), "boom in a hook");
                HookResult::Continue
            }
            _ => HookResult::Continue,
        })?;
        host.add_global_hook(HookId::ReadRequestHdr, &hook, None)?;
        host.add_global_hook(HookId::LifecycleMsg, &hook, None)?;
        Ok(Global { panic_on_drop: args.contains(&"panic-done"), _hook: hook })
    }
}

impl Drop for Global {
    fn drop(&mut self) {
        assert!(!self.panic_on_drop, "boom in done");
    }
}

hookyard_sdk::plugin! {
    name: "sdk_test_plugin",
    version: "0.0.1",
    remap: Remap,
    global: Global,
}
