//! The ABI's conformance cases (`hookyard_abi::conformance`) against the test host's table:
//! `hookyard-host` runs the same cases against the proxy's, so a plugin meets the same answers
//! in its tests and in the proxy; and what the client connection's functions write, as a test
//! sets it.

use std::ffi::{c_char, c_void};

use hookyard_abi::conformance::{self, Call, Case, ConnField, Obj, Out, Stage, Text};
use hookyard_abi::{HY_SUCCESS, hy_api, hy_callback_info, hy_return, hy_str};

use crate::host::{CLIENT, INCOMING, MockConn, MockTls, MockTxn, TestHost};

/// Calls the case's function through `api`.
///
/// # Safety
///
/// `txn` and `ssn` are a transaction and a session of `api`'s host, lent for the call.
unsafe fn call(api: &hy_api, call: Call, txn: *mut c_void, ssn: *mut c_void) -> hy_return {
    let obj = |o: Obj| match o {
        Obj::Txn => txn,
        Obj::Ssn => ssn,
        Obj::Null => std::ptr::null_mut(),
    };
    let text = |t: Text| -> (*const c_char, usize) {
        match t {
            Text::Str(s) => (s.as_ptr().cast(), s.len()),
            Text::Null(len) => (std::ptr::null(), len),
        }
    };
    let mut view = hy_str { ptr: std::ptr::null(), len: 0 };
    let mut view2 = hy_str { ptr: std::ptr::null(), len: 0 };
    let (mut int, mut size, mut addr) = (0_i32, 0_usize, std::ptr::null_mut::<c_void>());
    fn out<T>(o: Out, place: &mut T) -> *mut T {
        match o {
            Out::Some => place,
            Out::Null => std::ptr::null_mut(),
        }
    }
    // SAFETY: the table's functions with arguments the contract allows (valid, NULL, or of
    // another kind: what the functions must tell apart); out-parameters are locals.
    unsafe {
        match call {
            Call::MethodGet { txn, msg, out: o } => {
                (api.method_get)(obj(txn).cast(), msg, out(o, &mut view))
            }
            Call::MethodSet { txn, msg, method } => {
                let (p, n) = text(method);
                (api.method_set)(obj(txn).cast(), msg, p, n)
            }
            Call::UrlGet { txn, url, part, out: o } => {
                (api.url_get)(obj(txn).cast(), url, part, out(o, &mut view))
            }
            Call::UrlSet { txn, url, part, value } => {
                let (p, n) = text(value);
                (api.url_set)(obj(txn).cast(), url, part, p, n)
            }
            Call::UrlStringGet { txn, url, out: o } => {
                (api.url_string_get)(obj(txn).cast(), url, out(o, &mut view))
            }
            Call::HeaderGet { txn, msg, name, index, out: o } => {
                let (p, n) = text(name);
                (api.header_get)(obj(txn).cast(), msg, p, n, index, out(o, &mut view))
            }
            Call::HeaderFieldGet { txn, msg, position, name, value } => (api.header_field_get)(
                obj(txn).cast(),
                msg,
                position,
                out(name, &mut view),
                out(value, &mut view2),
            ),
            Call::HeaderSet { txn, msg, name, value } => {
                let ((p, n), (q, m)) = (text(name), text(value));
                (api.header_set)(obj(txn).cast(), msg, p, n, q, m)
            }
            Call::HeaderAdd { txn, msg, name, value } => {
                let ((p, n), (q, m)) = (text(name), text(value));
                (api.header_add)(obj(txn).cast(), msg, p, n, q, m)
            }
            Call::HeaderRemove { txn, msg, name } => {
                let (p, n) = text(name);
                (api.header_remove)(obj(txn).cast(), msg, p, n)
            }
            Call::StatusGet { txn, msg, out: o } => {
                (api.status_get)(obj(txn).cast(), msg, out(o, &mut int))
            }
            Call::StatusSet { txn, msg, status } => (api.status_set)(obj(txn).cast(), msg, status),
            Call::DirectResponse { txn, status, body } => {
                let (p, n) = text(body);
                (api.direct_response)(obj(txn).cast(), status, p, n)
            }
            Call::ContSchedule { cont } => (api.cont_schedule)(obj(cont).cast(), 0),
            Call::HookAdd { level, object, hook, cont } => {
                (api.hook_add)(level, obj(object), hook, obj(cont).cast(), 0, std::ptr::null_mut())
            }
            Call::TxnResume { txn, result } => (api.txn_resume)(obj(txn).cast(), result),
            Call::SsnResume { ssn, result } => (api.ssn_resume)(obj(ssn).cast(), result),
            Call::UserArgReserve { kind, name, index } => {
                let name = name.map(|n| std::ffi::CString::new(n).unwrap());
                let name = name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
                (api.user_arg_reserve)(kind, name, std::ptr::null(), out(index, &mut int))
            }
            Call::UserArgGet { object, index, value } => {
                (api.user_arg_get)(obj(object), index, out(value, &mut addr))
            }
            Call::UserArgSet { object, index } => {
                (api.user_arg_set)(obj(object), index, std::ptr::null_mut())
            }
            Call::PluginPriorityGet { this } => {
                let mut ceiling = 0;
                (api.plugin_priority_get)(obj(this).cast(), &mut int, &mut ceiling)
            }
            Call::ThresholdGet { this, level, object, hook } => {
                (api.threshold_get)(obj(this).cast(), level, obj(object), hook, &mut int)
            }
            Call::CallbackList { txn, hook, count } => (api.callback_list)(
                obj(txn).cast(),
                hook,
                std::ptr::null_mut::<hy_callback_info>(),
                0,
                out(count, &mut size),
            ),
            Call::ConnGet { field, txn, out: o } => {
                (field.of(api))(obj(txn).cast(), out(o, &mut view))
            }
            Call::LogFieldSet { txn, name, value } => {
                let ((np, nn), (vp, vn)) = (text(name), text(value));
                (api.log_field_set)(obj(txn).cast(), np, nn, vp, vn)
            }
            Call::StatCreate { this, name, kind, id } => {
                let (p, n) = text(name);
                (api.stat_create)(obj(this).cast(), p, n, kind, out(id, &mut int))
            }
            Call::StatIncrement { this, id, amount } => {
                (api.stat_increment)(obj(this).cast(), id, amount)
            }
            Call::StatSet { this, id, value } => (api.stat_set)(obj(this).cast(), id, value),
            Call::StatGet { this, id, value } => {
                let mut got = 0_i64;
                (api.stat_get)(obj(this).cast(), id, out(value, &mut got))
            }
            Call::MsgReply { this, text: t } => {
                let (p, n) = text(t);
                (api.msg_reply)(obj(this).cast(), std::ptr::null(), p, n)
            }
            Call::TransformAdd { txn, body, kind, cont } => {
                let mut handle = std::ptr::null_mut();
                (api.transform_add)(obj(txn).cast(), body, kind, obj(cont).cast(), 0, &mut handle)
            }
            Call::TransformWrite { transform, data } => {
                let (p, n) = text(data);
                (api.transform_write)(obj(transform).cast(), p, n)
            }
            Call::TransformEnd { transform } => (api.transform_end)(obj(transform).cast()),
            Call::TransformResume { transform, result } => {
                (api.transform_resume)(obj(transform).cast(), result)
            }
            Call::ReasonGet { txn, msg, out: o } => {
                (api.reason_get)(obj(txn).cast(), msg, out(o, &mut view))
            }
            Call::ReasonSet { txn, msg, reason } => {
                let (p, n) = text(reason);
                (api.reason_set)(obj(txn).cast(), msg, p, n)
            }
            Call::ConfigDirGet { this, out: o } => {
                (api.config_dir_get)(obj(this).cast(), out(o, &mut view))
            }
            Call::RemapParamGet { txn, index, out: o } => {
                (api.remap_param_get)(obj(txn).cast(), index, out(o, &mut view))
            }
            Call::PluginDirGet { this, out: o } => {
                (api.plugin_dir_get)(obj(this).cast(), out(o, &mut view))
            }
            Call::HostStatusSet { this, name, up, reason } => {
                let ((p, n), (r, rn)) = (text(name), text(reason));
                (api.host_status_set)(obj(this).cast(), p, n, up, r, rn)
            }
            Call::HostStatusGet { this, name, out: o } => {
                let (p, n) = text(name);
                (api.host_status_get)(obj(this).cast(), p, n, out(o, &mut int))
            }
        }
    }
}

#[test]
fn every_conformance_case() {
    let host = TestHost::new("conformance");
    // SAFETY: the host's table lives as long as `host`.
    let api = unsafe { &*host.api() };
    let failed: Vec<(Case, hy_return)> = conformance::cases()
        .into_iter()
        .filter_map(|case| {
            let txn = host.txn("GET", "http://example.com/a?b");
            if case.stage == Stage::Response {
                txn.origin_answers(200);
            }
            let ssn: *const _ = &*txn.ssn;
            // SAFETY: both belong to this host and live to the end of the call.
            let got = unsafe { call(api, case.call, txn.ptr().cast(), ssn.cast_mut().cast()) };
            (got != case.expect).then_some((case, got))
        })
        .collect();
    assert!(failed.is_empty(), "cases answered otherwise: {failed:#?}");
}

/// What each client connection function of `api` writes for `txn` (`None`: `HY_ERROR`).
fn conn_texts(api: &hy_api, txn: &MockTxn) -> Vec<Option<String>> {
    ConnField::ALL
        .into_iter()
        .map(|field| {
            let mut view = hy_str { ptr: std::ptr::null(), len: 0 };
            // SAFETY: the host's own transaction, alive for the call; the view is read before
            // anything changes.
            unsafe {
                let got = (field.of(api))(txn.ptr(), &mut view);
                (got == HY_SUCCESS).then(|| {
                    let bytes = std::slice::from_raw_parts(view.ptr.cast::<u8>(), view.len);
                    String::from_utf8(bytes.to_vec()).unwrap()
                })
            }
        })
        .collect()
}

#[test]
fn the_client_connection_is_what_the_test_sets() {
    let host = TestHost::new("conformance");
    // SAFETY: the host's table lives as long as `host`.
    let api = unsafe { &*host.api() };
    let some = |text: &str| Some(text.to_owned());
    let txn = host.txn("GET", "http://example.com/");
    assert_eq!(
        conn_texts(api, &txn),
        [some(CLIENT), some(INCOMING), some("http"), None, None, None, some("HTTP/1.1")]
    );
    let tls = MockTls {
        sni: Some("a.test".into()),
        alpn: Some(b"h2".to_vec()),
        version: "TLSv1.3".into(),
    };
    let (client, local) = ("[::ffff:192.0.2.7]:40000", "[2001:db8::1]:443");
    txn.set_conn(Some(MockConn::new(client.parse().unwrap(), local.parse().unwrap(), Some(tls))));
    txn.set_protocol("HTTP/2");
    assert_eq!(
        conn_texts(api, &txn),
        [
            some("192.0.2.7:40000"),
            some("[2001:db8::1]:443"),
            some("https"),
            some("a.test"),
            some("h2"),
            some("TLSv1.3"),
            some("HTTP/2"),
        ]
    );
    txn.set_conn(None);
    assert_eq!(conn_texts(api, &txn), [None, None, None, None, None, None, some("HTTP/2")]);
}
