//! The ABI's conformance cases (`hookyard_abi::conformance`) against this host's table (the
//! SDK's test host runs the same cases against its own), and what the client connection's
//! functions write.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use hookyard_abi::conformance::{self, Call, Case, ConnField, Obj, Out, Stage, Text};
use hookyard_abi::{hy_api, hy_callback_info, hy_return, hy_str};
use hookyard_hooks::Priorities;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};

use crate::{ClientConn, ClientTls, GlobalHooks, Kept, ResponseHead, SsnBox, TxnBox, UrlParts};

/// A case's transaction (dropped first: it points at its session) and session.
struct Fixture {
    txn: TxnBox,
    ssn: SsnBox,
}

/// Global hooks with nothing registered.
fn global() -> Kept<GlobalHooks> {
    Kept::new(Arc::new(GlobalHooks::build(
        Arc::new(Priorities::default()),
        Vec::new(),
        Duration::from_secs(5),
        Duration::from_secs(1),
    )))
}

fn fixture(stage: Stage) -> Fixture {
    let global = global();
    let ssn = SsnBox::for_conn(plain());
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("example.com"));
    let url = UrlParts {
        scheme: "http".into(),
        host: "example.com".into(),
        port: None,
        path: "/a".into(),
        query: "b".into(),
    };
    let mut txn =
        TxnBox::new(global, Some(&ssn), Method::GET, url, Version::HTTP_11, headers.clone());
    if stage == Stage::Response {
        let state = txn.get();
        state.origin_request = Some(headers);
        let head = || ResponseHead::new(StatusCode::OK, HeaderMap::new(), None);
        state.origin_response = Some(head());
        state.client_response = Some(head());
    }
    Fixture { txn, ssn }
}

/// A plain connection from a client on loopback.
fn plain() -> ClientConn {
    ClientConn {
        addr: "127.0.0.1:50000".parse().unwrap(),
        local: "127.0.0.1:8080".parse().unwrap(),
        tls: None,
    }
}

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
    let api = super::table(std::ptr::null_mut());
    let failed: Vec<(Case, hy_return)> = conformance::cases()
        .into_iter()
        .filter_map(|case| {
            let f = fixture(case.stage);
            let (txn, ssn) = (f.txn.as_ptr().cast(), f.ssn.as_ptr().cast());
            // SAFETY: both belong to this host and live to the end of the call.
            let got = unsafe { call(&api, case.call, txn, ssn) };
            (got != case.expect).then_some((case, got))
        })
        .collect();
    assert!(failed.is_empty(), "cases answered otherwise: {failed:#?}");
}

/// What each client connection function writes for a transaction in `version` of a session
/// made for `conn` (`None`: `HY_ERROR`), each view read after every call was made.
fn conn_texts(conn: Option<ClientConn>, version: Version) -> Vec<Option<String>> {
    let api = super::table(std::ptr::null_mut());
    let global = global();
    let ssn = conn.map_or_else(SsnBox::default, SsnBox::for_conn);
    let url = UrlParts::default();
    let txn = TxnBox::new(global, Some(&ssn), Method::GET, url, version, HeaderMap::new());
    let views: Vec<Option<hy_str>> = ConnField::ALL
        .into_iter()
        .map(|field| {
            let mut view = hy_str { ptr: std::ptr::null(), len: 0 };
            // SAFETY: the transaction belongs to this host and lives to the end of the call.
            let got = unsafe { (field.of(&api))(txn.as_ptr().cast(), &mut view) };
            (got == hookyard_abi::HY_SUCCESS).then_some(view)
        })
        .collect();
    let text = |view: hy_str| {
        // SAFETY: a view the host wrote, valid until the transaction ends (it has not).
        let bytes = unsafe { std::slice::from_raw_parts(view.ptr.cast::<u8>(), view.len) };
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    views.into_iter().map(|view| view.map(text)).collect()
}

#[test]
fn the_client_connection_is_read_through_the_session() {
    let some = |text: &str| Some(text.to_owned());
    let tls = ClientConn {
        addr: "[::ffff:192.0.2.7]:40000".parse().unwrap(),
        local: "[2001:db8::1]:443".parse().unwrap(),
        tls: Some(ClientTls {
            sni: Some("a.test".into()),
            alpn: Some(b"h2".to_vec()),
            version: "TLSv1.3",
        }),
    };
    assert_eq!(
        conn_texts(Some(tls.clone()), Version::HTTP_2),
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
    let bare = ClientTls { sni: None, alpn: None, version: "TLSv1.2" };
    let got = conn_texts(Some(ClientConn { tls: Some(bare), ..tls }), Version::HTTP_10);
    assert_eq!(got[2..], [some("https"), None, None, some("TLSv1.2"), some("HTTP/1.0")]);
    assert_eq!(
        conn_texts(Some(plain()), Version::HTTP_11),
        [
            some("127.0.0.1:50000"),
            some("127.0.0.1:8080"),
            some("http"),
            None,
            None,
            None,
            some("HTTP/1.1"),
        ]
    );
    // A session made for no connection knows none; the transaction's version is its own.
    let got = conn_texts(None, Version::HTTP_11);
    assert_eq!(got, [None, None, None, None, None, None, some("HTTP/1.1")]);
}

/// A field as a host keeps it unread: `x-origin: kept`, and how often it was put. A field
/// added beside it puts it first if named `x-put`.
#[derive(Debug)]
struct Received {
    puts: usize,
}

impl crate::Unread for Received {
    fn put(&mut self, headers: &mut HeaderMap) {
        self.puts += 1;
        let added = std::mem::take(headers);
        headers.insert("x-origin", HeaderValue::from_static("kept"));
        for (name, value) in &added {
            headers.append(name, value.clone());
        }
    }

    fn may_add(&self, name: &http::HeaderName) -> bool {
        name != "x-put"
    }
}

#[test]
fn unread_response_fields_are_put_when_a_plugin_first_reads_or_changes_one() {
    let api = super::table(std::ptr::null_mut());
    let mut f = fixture(Stage::Response);
    let head = ResponseHead::new(StatusCode::OK, HeaderMap::new(), None);
    f.txn.get().origin_response = Some(head.with_unread(Box::new(Received { puts: 0 })));
    let txn = f.txn.as_ptr().cast();
    let msg = hookyard_abi::HY_MSG_ORIGIN_RESPONSE;
    let mut status = 0;
    // SAFETY: the transaction belongs to this host and lives to the end of the calls; the
    // names and values are valid for their lengths, the out-parameters are locals.
    unsafe {
        assert_eq!((api.status_get)(txn, msg, &mut status), hookyard_abi::HY_SUCCESS);
        assert_eq!(status, 200);
        let unread = f.txn.get().origin_response.as_mut().unwrap();
        assert!(unread.headers.is_empty(), "the status alone puts no field");
        let (name, value) = ("x-plugin", "1");
        let added = (api.header_add)(txn, msg, name.as_ptr().cast(), 8, value.as_ptr().cast(), 1);
        assert_eq!(added, hookyard_abi::HY_SUCCESS);
        let head = f.txn.get().origin_response.as_mut().unwrap();
        assert_eq!(head.headers.len(), 1, "a field added beside them puts none");
        let mut view = hy_str { ptr: std::ptr::null(), len: 0 };
        let got = (api.header_get)(txn, msg, "x-origin".as_ptr().cast(), 8, 0, &mut view);
        assert_eq!(got, hookyard_abi::HY_SUCCESS);
        assert_eq!(std::slice::from_raw_parts(view.ptr.cast::<u8>(), view.len), b"kept");
    }
    let head = f.txn.get().origin_response.as_mut().unwrap();
    assert_eq!(head.take_unread::<Received>().unwrap().puts, 1);
    let names: Vec<&str> = head.headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["x-origin", "x-plugin"], "received before added");
}

/// The bytes of a view the host handed out.
///
/// # Safety
///
/// `view` is valid: the fields it points into have not changed since.
unsafe fn bytes_of(view: hy_str) -> Vec<u8> {
    // SAFETY: per this function's contract.
    unsafe { std::slice::from_raw_parts(view.ptr.cast::<u8>(), view.len).to_vec() }
}

/// A call that reads or changes a client request's fields, given the host's table and a
/// transaction of it that lives through the call; what it read.
type Read = fn(&hy_api, *mut hookyard_abi::hy_txn) -> Option<(Vec<u8>, Vec<u8>)>;

#[test]
fn lent_request_fields_are_put_when_a_plugin_first_reads_or_changes_one_not_when_it_adds() {
    const MSG: hookyard_abi::hy_msg = hookyard_abi::HY_MSG_CLIENT_REQUEST;
    let api = super::table(std::ptr::null_mut());
    let reads: [(&str, Read); 4] = [
        ("header_get", |api, txn| {
            let mut view = hy_str { ptr: std::ptr::null(), len: 0 };
            // SAFETY: `txn` lives through the call (`Read`); the name is valid for its length.
            let got = unsafe { (api.header_get)(txn, MSG, c"x-origin".as_ptr(), 8, 1, &mut view) };
            // SAFETY: read before the fields change.
            (got == hookyard_abi::HY_SUCCESS)
                .then(|| (b"x-origin".to_vec(), unsafe { bytes_of(view) }))
        }),
        ("header_field_get", |api, txn| {
            let mut name = hy_str { ptr: std::ptr::null(), len: 0 };
            let mut value = hy_str { ptr: std::ptr::null(), len: 0 };
            // SAFETY: as above.
            let got = unsafe { (api.header_field_get)(txn, MSG, 0, &mut name, &mut value) };
            // SAFETY: as above.
            (got == hookyard_abi::HY_SUCCESS).then(|| unsafe { (bytes_of(name), bytes_of(value)) })
        }),
        ("header_set", |api, txn| {
            // SAFETY: as above; the value too.
            let got = unsafe { (api.header_set)(txn, MSG, c"x-set".as_ptr(), 5, c"s".as_ptr(), 1) };
            (got == hookyard_abi::HY_SUCCESS).then(Default::default)
        }),
        ("header_remove", |api, txn| {
            // SAFETY: as above.
            let got = unsafe { (api.header_remove)(txn, MSG, c"x-none".as_ptr(), 6) };
            (got == hookyard_abi::HY_SUCCESS).then(Default::default)
        }),
    ];
    for (call, read) in reads {
        let mut f = fixture(Stage::Request);
        let state = f.txn.get();
        state.headers = HeaderMap::new();
        state.lend_fields(Box::new(Received { puts: 0 }));
        let txn = f.txn.as_ptr().cast();
        for value in [c"1", c"2"] {
            // SAFETY: the transaction is the fixture's, alive to the end of the calls; the name
            // and value are valid for their lengths.
            let added =
                unsafe { (api.header_add)(txn, MSG, c"x-origin".as_ptr(), 8, value.as_ptr(), 1) };
            assert_eq!(added, hookyard_abi::HY_SUCCESS);
        }
        assert_eq!(f.txn.get().lent_fields::<Received>().unwrap().puts, 0, "{call}: added");
        let got = read(&api, txn);
        let state = f.txn.get();
        assert_eq!(state.lent_fields::<Received>().unwrap().puts, 1, "{call}");
        let values: Vec<_> = state.headers.get_all("x-origin").iter().collect();
        assert_eq!(values, ["kept", "1", "2"], "{call}: received before added");
        let want = match call {
            "header_get" => (b"x-origin".to_vec(), b"1".to_vec()),
            "header_field_get" => (b"x-origin".to_vec(), b"kept".to_vec()),
            _ => Default::default(),
        };
        assert_eq!(got, Some(want), "{call}");
        // Put once: reading again puts nothing more.
        state.request_fields();
        assert_eq!(state.lent_fields::<Received>().unwrap().puts, 1, "{call}");
    }
    // Adding a field they may not stay unread beside puts them.
    let mut f = fixture(Stage::Request);
    let state = f.txn.get();
    state.headers = HeaderMap::new();
    state.lend_fields(Box::new(Received { puts: 0 }));
    assert!(state.request_fields_to_add(&http::HeaderName::from_static("x-a")).is_empty());
    let put = state.request_fields_to_add(&http::HeaderName::from_static("x-put"));
    assert_eq!(put.get("x-origin").unwrap(), "kept");
    assert_eq!(state.lent_fields::<Received>().unwrap().puts, 1);
}

#[test]
fn lent_origin_request_fields_are_put_when_a_plugin_first_adds_one_they_say_puts_them() {
    const MSG: hookyard_abi::hy_msg = hookyard_abi::HY_MSG_ORIGIN_REQUEST;
    let api = super::table(std::ptr::null_mut());
    let mut f = fixture(Stage::Response);
    let state = f.txn.get();
    state.origin_request = Some(HeaderMap::new());
    state.lend_origin_fields(Box::new(Received { puts: 0 }));
    let txn = f.txn.as_ptr().cast();
    let mut method = hy_str { ptr: std::ptr::null(), len: 0 };
    // SAFETY: the transaction is the fixture's, alive to the end of the calls; the name and
    // value are valid for their lengths, the out-parameter is a local.
    unsafe {
        assert_eq!((api.method_get)(txn, MSG, &mut method), hookyard_abi::HY_SUCCESS);
        let added = (api.header_add)(txn, MSG, c"x-origin".as_ptr(), 8, c"1".as_ptr(), 1);
        assert_eq!(added, hookyard_abi::HY_SUCCESS);
        let state = f.txn.get();
        assert_eq!(state.origin_request.as_ref().map(HeaderMap::len), Some(1), "not put");
        let added = (api.header_add)(txn, MSG, c"x-put".as_ptr(), 5, c"2".as_ptr(), 1);
        assert_eq!(added, hookyard_abi::HY_SUCCESS);
    }
    let state = f.txn.get();
    let headers = state.origin_request.as_ref().unwrap();
    let values: Vec<_> = headers.get_all("x-origin").iter().collect();
    assert_eq!(values, ["kept", "1"], "received before added");
    assert_eq!(headers.get("x-put").unwrap(), "2");
    state.origin_request_fields();
    assert_eq!(state.take_origin_fields::<Received>().unwrap().puts, 1, "put once");
}
