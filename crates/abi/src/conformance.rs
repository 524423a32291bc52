//! One table of host-function calls and what every host answers, run by each host's tests
//! against its own `hy_api` table (the proxy's in `hookyard-host`, the SDK's test host), so
//! that the two cannot drift apart.
//!
//! A case names its arguments symbolically (a transaction, a session, NULL, a string, a NULL
//! out-parameter); the host's test turns them into pointers to objects of its own, calls the
//! function through its table, and compares the result. Each case starts from a fresh
//! transaction `GET http://example.com/a?b` (client request field `Host: example.com`, arrived
//! in HTTP/1.1) in a fresh session of a plain (not TLS) client connection; at
//! [`Stage::Response`] the origin answered 200 (origin request, origin response and client
//! response exist). No plugin handle is involved: cases with a
//! `hy_plugin *self` pass NULL.

use crate::{
    HY_BODY_REQUEST, HY_BODY_RESPONSE, HY_ERROR, HY_HOOK_CONTINUE, HY_HOOK_ERROR,
    HY_HOOK_LEVEL_SESSION, HY_HOOK_LEVEL_TXN, HY_HOOK_PENDING, HY_HOOK_READ_REQUEST_HDR,
    HY_MSG_CLIENT_REQUEST as CREQ, HY_MSG_CLIENT_RESPONSE as CRESP, HY_MSG_ORIGIN_REQUEST as OREQ,
    HY_MSG_ORIGIN_RESPONSE as ORESP, HY_STAT_COUNTER, HY_SUCCESS, HY_TRANSFORM_INSPECT as INSPECT,
    HY_URL_PART_HOST as HOST, HY_URL_PART_PATH as PATH, HY_URL_PART_PORT as PORT,
    HY_URL_PART_QUERY as QUERY, HY_URL_PART_SCHEME as SCHEME, HY_URL_PRISTINE, HY_URL_REMAP_FROM,
    HY_URL_REQUEST as REQ, HY_USER_ARG_TXN, hy_api, hy_body, hy_hook_id, hy_hook_level,
    hy_hook_result, hy_msg, hy_return, hy_stat_kind, hy_str, hy_transform_kind, hy_txn, hy_url,
    hy_url_part, hy_user_arg_type,
};

/// Where the transaction of a case is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The client request was read; nothing else exists.
    Request,
    /// The origin answered 200: every message exists.
    Response,
}

/// A handle argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Obj {
    /// The case's transaction.
    Txn,
    /// The case's session.
    Ssn,
    /// NULL.
    Null,
}

/// A (pointer, length) string argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// These bytes.
    Str(&'static str),
    /// NULL with this length.
    Null(usize),
}

/// An out-parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// A writable place.
    Some,
    /// NULL.
    Null,
}

/// One of the client connection's functions (since 1.3), which share one signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs, reason = "each is the `hy_api` field of that name with `_get`")]
pub enum ConnField {
    ClientAddr,
    IncomingAddr,
    ClientScheme,
    ClientSni,
    ClientAlpn,
    ClientTlsVersion,
    ClientProtocol,
}

/// A client connection function's type.
pub type ConnFn = unsafe extern "C" fn(txn: *mut hy_txn, out: *mut hy_str) -> hy_return;

impl ConnField {
    /// Every one, in table order.
    pub const ALL: [ConnField; 7] = [
        ConnField::ClientAddr,
        ConnField::IncomingAddr,
        ConnField::ClientScheme,
        ConnField::ClientSni,
        ConnField::ClientAlpn,
        ConnField::ClientTlsVersion,
        ConnField::ClientProtocol,
    ];

    /// The function of `api`.
    pub fn of(self, api: &hy_api) -> ConnFn {
        match self {
            ConnField::ClientAddr => api.client_addr_get,
            ConnField::IncomingAddr => api.incoming_addr_get,
            ConnField::ClientScheme => api.client_scheme_get,
            ConnField::ClientSni => api.client_sni_get,
            ConnField::ClientAlpn => api.client_alpn_get,
            ConnField::ClientTlsVersion => api.client_tls_version_get,
            ConnField::ClientProtocol => api.client_protocol_get,
        }
    }

    /// Whether a plain (not TLS) connection has it.
    fn on_plain(self) -> bool {
        !matches!(self, ConnField::ClientSni | ConnField::ClientAlpn | ConnField::ClientTlsVersion)
    }
}

/// One call of a host function, by its `hy_api` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs, reason = "the fields are the C parameters of the same names")]
pub enum Call {
    MethodGet { txn: Obj, msg: hy_msg, out: Out },
    MethodSet { txn: Obj, msg: hy_msg, method: Text },
    UrlGet { txn: Obj, url: hy_url, part: hy_url_part, out: Out },
    UrlSet { txn: Obj, url: hy_url, part: hy_url_part, value: Text },
    UrlStringGet { txn: Obj, url: hy_url, out: Out },
    HeaderGet { txn: Obj, msg: hy_msg, name: Text, index: usize, out: Out },
    HeaderFieldGet { txn: Obj, msg: hy_msg, position: usize, name: Out, value: Out },
    HeaderSet { txn: Obj, msg: hy_msg, name: Text, value: Text },
    HeaderAdd { txn: Obj, msg: hy_msg, name: Text, value: Text },
    HeaderRemove { txn: Obj, msg: hy_msg, name: Text },
    StatusGet { txn: Obj, msg: hy_msg, out: Out },
    StatusSet { txn: Obj, msg: hy_msg, status: i32 },
    DirectResponse { txn: Obj, status: i32, body: Text },
    ContSchedule { cont: Obj },
    HookAdd { level: hy_hook_level, object: Obj, hook: hy_hook_id, cont: Obj },
    TxnResume { txn: Obj, result: hy_hook_result },
    SsnResume { ssn: Obj, result: hy_hook_result },
    UserArgReserve { kind: hy_user_arg_type, name: Option<&'static str>, index: Out },
    UserArgGet { object: Obj, index: i32, value: Out },
    UserArgSet { object: Obj, index: i32 },
    PluginPriorityGet { this: Obj },
    ThresholdGet { this: Obj, level: hy_hook_level, object: Obj, hook: hy_hook_id },
    CallbackList { txn: Obj, hook: hy_hook_id, count: Out },
    ConnGet { field: ConnField, txn: Obj, out: Out },
    LogFieldSet { txn: Obj, name: Text, value: Text },
    StatCreate { this: Obj, name: Text, kind: hy_stat_kind, id: Out },
    StatIncrement { this: Obj, id: i32, amount: i64 },
    StatSet { this: Obj, id: i32, value: i64 },
    StatGet { this: Obj, id: i32, value: Out },
    MsgReply { this: Obj, text: Text },
    TransformAdd { txn: Obj, body: hy_body, kind: hy_transform_kind, cont: Obj },
    TransformWrite { transform: Obj, data: Text },
    TransformEnd { transform: Obj },
    TransformResume { transform: Obj, result: hy_hook_result },
    ReasonGet { txn: Obj, msg: hy_msg, out: Out },
    ReasonSet { txn: Obj, msg: hy_msg, reason: Text },
    ConfigDirGet { this: Obj, out: Out },
    RemapParamGet { txn: Obj, index: usize, out: Out },
    PluginDirGet { this: Obj, out: Out },
    HostStatusSet { this: Obj, name: Text, up: i32, reason: Text },
    HostStatusGet { this: Obj, name: Text, out: Out },
}

/// One case: a call, and what the host returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Case {
    /// The transaction's stage.
    pub stage: Stage,
    /// The call.
    pub call: Call,
    /// What it returns.
    pub expect: hy_return,
}

/// A user-arg index no kind can have reserved (slot 999 of transactions).
pub const UNRESERVED_ARG: i32 = 1999;

/// Every case.
pub fn cases() -> Vec<Case> {
    use Call::*;
    use Obj::{Null as NULL, Ssn, Txn};
    use Stage::{Request as Rq, Response as Rs};
    use Text::Str;
    const OK: hy_return = HY_SUCCESS;
    const ERR: hy_return = HY_ERROR;
    let null = Text::Null;
    let c = |stage, call, expect| Case { stage, call, expect };
    let mut cases = vec![
        // A NULL handle, or a handle of the other kind.
        c(Rq, MethodGet { txn: NULL, msg: CREQ, out: Out::Some }, ERR),
        c(Rq, MethodGet { txn: Ssn, msg: CREQ, out: Out::Some }, ERR),
        c(Rq, UrlSet { txn: Ssn, url: REQ, part: PATH, value: Str("/x") }, ERR),
        c(Rq, HeaderRemove { txn: NULL, msg: CREQ, name: Str("Host") }, ERR),
        c(Rq, TxnResume { txn: Ssn, result: HY_HOOK_CONTINUE }, ERR),
        c(Rq, SsnResume { ssn: Txn, result: HY_HOOK_CONTINUE }, ERR),
        c(Rq, SsnResume { ssn: NULL, result: HY_HOOK_CONTINUE }, ERR),
        c(Rq, ContSchedule { cont: NULL }, ERR),
        c(Rq, HookAdd { level: HY_HOOK_LEVEL_TXN, object: Txn, hook: 0, cont: NULL }, ERR),
        c(Rq, PluginPriorityGet { this: NULL }, ERR),
        c(Rq, ThresholdGet { this: NULL, level: HY_HOOK_LEVEL_TXN, object: Txn, hook: 0 }, ERR),
        c(Rq, ThresholdGet { this: NULL, level: HY_HOOK_LEVEL_SESSION, object: Ssn, hook: 0 }, ERR),
        // A required out-parameter that is NULL; an input string NULL with a length.
        c(Rq, MethodGet { txn: Txn, msg: CREQ, out: Out::Null }, ERR),
        c(Rq, UrlGet { txn: Txn, url: REQ, part: HOST, out: Out::Null }, ERR),
        c(Rq, UrlStringGet { txn: Txn, url: REQ, out: Out::Null }, ERR),
        c(Rq, HeaderGet { txn: Txn, msg: CREQ, name: Str("Host"), index: 0, out: Out::Null }, ERR),
        c(
            Rq,
            HeaderFieldGet { txn: Txn, msg: CREQ, position: 0, name: Out::Null, value: Out::Some },
            ERR,
        ),
        c(
            Rq,
            HeaderFieldGet { txn: Txn, msg: CREQ, position: 0, name: Out::Some, value: Out::Null },
            ERR,
        ),
        c(Rs, StatusGet { txn: Txn, msg: CRESP, out: Out::Null }, ERR),
        c(
            Rq,
            UserArgReserve { kind: HY_USER_ARG_TXN, name: Some("conformance"), index: Out::Null },
            ERR,
        ),
        c(Rq, UserArgGet { object: Txn, index: UNRESERVED_ARG, value: Out::Null }, ERR),
        c(Rq, CallbackList { txn: Txn, hook: HY_HOOK_READ_REQUEST_HDR, count: Out::Null }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PATH, value: null(3) }, ERR),
        c(Rq, HeaderSet { txn: Txn, msg: CREQ, name: Str("X-A"), value: null(1) }, ERR),
        c(Rq, DirectResponse { txn: Txn, status: 200, body: null(5) }, ERR),
        c(Rq, DirectResponse { txn: Txn, status: 200, body: null(0) }, OK),
        // Methods.
        c(Rq, MethodGet { txn: Txn, msg: CREQ, out: Out::Some }, OK),
        c(Rq, MethodGet { txn: Txn, msg: OREQ, out: Out::Some }, ERR),
        c(Rs, MethodGet { txn: Txn, msg: OREQ, out: Out::Some }, OK),
        c(Rs, MethodGet { txn: Txn, msg: ORESP, out: Out::Some }, ERR),
        c(Rq, MethodSet { txn: Txn, msg: CREQ, method: Str("PURGE") }, OK),
        c(Rq, MethodSet { txn: Txn, msg: CREQ, method: Str("M-SEARCH") }, OK),
        c(Rq, MethodSet { txn: Txn, msg: CREQ, method: Str("") }, ERR),
        c(Rq, MethodSet { txn: Txn, msg: CREQ, method: Str("GET /") }, ERR),
        c(Rs, MethodSet { txn: Txn, msg: OREQ, method: Str("GET") }, ERR),
        // URLs.
        c(Rq, UrlGet { txn: Txn, url: REQ, part: QUERY, out: Out::Some }, OK),
        c(Rq, UrlGet { txn: Txn, url: HY_URL_PRISTINE, part: PATH, out: Out::Some }, OK),
        c(Rq, UrlGet { txn: Txn, url: REQ, part: 5, out: Out::Some }, ERR),
        c(Rq, UrlGet { txn: Txn, url: 4, part: PATH, out: Out::Some }, ERR),
        c(Rq, UrlGet { txn: Txn, url: HY_URL_REMAP_FROM, part: PATH, out: Out::Some }, ERR),
        c(Rq, UrlStringGet { txn: Txn, url: REQ, out: Out::Some }, OK),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: SCHEME, value: Str("https") }, OK),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: SCHEME, value: Str("ftp") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: HOST, value: Str("origin.example") }, OK),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: HOST, value: Str("") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: HOST, value: Str("user@evil") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: HOST, value: Str("a/b") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PORT, value: Str("8080") }, OK),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PORT, value: Str("") }, OK),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PORT, value: Str("0") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PORT, value: Str("65536") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PATH, value: Str("/b") }, OK),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PATH, value: Str("b") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PATH, value: Str("/b?c") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: PATH, value: Str("/a b") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: QUERY, value: Str("x=1") }, OK),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: QUERY, value: Str("x#y") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: QUERY, value: Str("x\ny") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: REQ, part: 5, value: Str("x") }, ERR),
        c(Rq, UrlSet { txn: Txn, url: HY_URL_PRISTINE, part: PATH, value: Str("/b") }, ERR),
        // Header fields.
        c(Rq, HeaderGet { txn: Txn, msg: CREQ, name: Str("host"), index: 0, out: Out::Some }, OK),
        c(Rq, HeaderGet { txn: Txn, msg: CREQ, name: Str("Host"), index: 1, out: Out::Some }, ERR),
        c(Rq, HeaderGet { txn: Txn, msg: CREQ, name: Str("Ho st"), index: 0, out: Out::Some }, ERR),
        c(Rq, HeaderGet { txn: Txn, msg: 4, name: Str("Host"), index: 0, out: Out::Some }, ERR),
        c(
            Rq,
            HeaderFieldGet { txn: Txn, msg: CREQ, position: 0, name: Out::Some, value: Out::Some },
            OK,
        ),
        c(
            Rq,
            HeaderFieldGet { txn: Txn, msg: CREQ, position: 1, name: Out::Some, value: Out::Some },
            ERR,
        ),
        c(Rq, HeaderSet { txn: Txn, msg: CREQ, name: Str("X-A"), value: Str("1") }, OK),
        c(Rq, HeaderSet { txn: Txn, msg: CREQ, name: Str("X-A"), value: Str("") }, OK),
        c(Rq, HeaderSet { txn: Txn, msg: CREQ, name: Str("X-A"), value: Str("a\tb") }, OK),
        c(Rq, HeaderSet { txn: Txn, msg: CREQ, name: Str("X-A"), value: Str("a\r\nb") }, ERR),
        c(Rq, HeaderSet { txn: Txn, msg: CREQ, name: Str("X-A"), value: Str("a\x7f") }, ERR),
        c(Rq, HeaderSet { txn: Txn, msg: CREQ, name: Str("X:A"), value: Str("1") }, ERR),
        c(Rq, HeaderSet { txn: Txn, msg: CREQ, name: Str(""), value: Str("1") }, ERR),
        c(Rq, HeaderSet { txn: Txn, msg: ORESP, name: Str("X-A"), value: Str("1") }, ERR),
        c(Rs, HeaderSet { txn: Txn, msg: ORESP, name: Str("X-A"), value: Str("1") }, OK),
        c(Rs, HeaderAdd { txn: Txn, msg: OREQ, name: Str("X-A"), value: Str("1") }, OK),
        c(Rq, HeaderAdd { txn: Txn, msg: CRESP, name: Str("X-A"), value: Str("1") }, ERR),
        c(Rq, HeaderRemove { txn: Txn, msg: CREQ, name: Str("X-None") }, OK),
        c(Rq, HeaderRemove { txn: Txn, msg: CREQ, name: Str("X None") }, ERR),
        c(Rq, HeaderRemove { txn: Txn, msg: OREQ, name: Str("Host") }, ERR),
        // Statuses and direct responses.
        c(Rq, StatusGet { txn: Txn, msg: CRESP, out: Out::Some }, ERR),
        c(Rs, StatusGet { txn: Txn, msg: ORESP, out: Out::Some }, OK),
        c(Rs, StatusGet { txn: Txn, msg: CREQ, out: Out::Some }, ERR),
        c(Rs, StatusSet { txn: Txn, msg: CRESP, status: 404 }, OK),
        c(Rs, StatusSet { txn: Txn, msg: ORESP, status: 999 }, OK),
        c(Rs, StatusSet { txn: Txn, msg: CRESP, status: 101 }, ERR),
        c(Rs, StatusSet { txn: Txn, msg: CRESP, status: 1000 }, ERR),
        c(Rs, StatusSet { txn: Txn, msg: CRESP, status: -200 }, ERR),
        c(Rs, StatusSet { txn: Txn, msg: OREQ, status: 200 }, ERR),
        c(Rq, StatusSet { txn: Txn, msg: CRESP, status: 200 }, ERR),
        c(Rq, DirectResponse { txn: Txn, status: 403, body: Str("no\n") }, OK),
        c(Rq, DirectResponse { txn: Txn, status: 999, body: Str("") }, OK),
        c(Rq, DirectResponse { txn: Txn, status: 199, body: Str("") }, ERR),
        c(Rq, DirectResponse { txn: Txn, status: 1000, body: Str("") }, ERR),
        // Resumes: nothing is pending, and PENDING is no result.
        c(Rq, TxnResume { txn: Txn, result: HY_HOOK_CONTINUE }, ERR),
        c(Rq, TxnResume { txn: Txn, result: HY_HOOK_ERROR }, ERR),
        c(Rq, TxnResume { txn: Txn, result: HY_HOOK_PENDING }, ERR),
        c(Rq, TxnResume { txn: NULL, result: HY_HOOK_CONTINUE }, ERR),
        c(Rq, SsnResume { ssn: Ssn, result: HY_HOOK_CONTINUE }, ERR),
        // User args.
        c(Rq, UserArgReserve { kind: 4, name: Some("conformance"), index: Out::Some }, ERR),
        c(Rq, UserArgReserve { kind: -1, name: Some("conformance"), index: Out::Some }, ERR),
        c(Rq, UserArgReserve { kind: HY_USER_ARG_TXN, name: None, index: Out::Some }, ERR),
        c(
            Rq,
            UserArgReserve { kind: HY_USER_ARG_TXN, name: Some("conformance"), index: Out::Some },
            OK,
        ),
        c(Rq, UserArgGet { object: Txn, index: UNRESERVED_ARG, value: Out::Some }, ERR),
        c(Rq, UserArgGet { object: Ssn, index: UNRESERVED_ARG, value: Out::Some }, ERR),
        c(Rq, UserArgGet { object: NULL, index: UNRESERVED_ARG, value: Out::Some }, ERR),
        c(Rq, UserArgGet { object: Txn, index: -1, value: Out::Some }, ERR),
        c(Rq, UserArgSet { object: Txn, index: UNRESERVED_ARG }, ERR),
        c(Rq, UserArgSet { object: NULL, index: 0 }, ERR),
        // Listing callbacks.
        c(Rq, CallbackList { txn: Txn, hook: HY_HOOK_READ_REQUEST_HDR, count: Out::Some }, OK),
        c(Rq, CallbackList { txn: Txn, hook: 3, count: Out::Some }, ERR),
        c(Rq, CallbackList { txn: Ssn, hook: HY_HOOK_READ_REQUEST_HDR, count: Out::Some }, ERR),
    ];
    // Access log fields (since 1.4); the name's and value's limits are `rules::log_field`'s.
    cases.extend([
        c(Rq, LogFieldSet { txn: NULL, name: Str("tag"), value: Str("v") }, ERR),
        c(Rq, LogFieldSet { txn: Ssn, name: Str("tag"), value: Str("v") }, ERR),
        c(Rq, LogFieldSet { txn: Txn, name: Str("tag"), value: Str("v 1") }, OK),
        c(Rs, LogFieldSet { txn: Txn, name: Str("a.b-c_9"), value: Str("") }, OK),
        c(Rq, LogFieldSet { txn: Txn, name: Str("tag"), value: null(0) }, OK),
        c(Rq, LogFieldSet { txn: Txn, name: Str("tag"), value: null(2) }, ERR),
        c(Rq, LogFieldSet { txn: Txn, name: Str(""), value: Str("v") }, ERR),
        c(Rq, LogFieldSet { txn: Txn, name: null(0), value: Str("v") }, ERR),
        c(Rq, LogFieldSet { txn: Txn, name: Str("a b"), value: Str("v") }, ERR),
        c(Rq, LogFieldSet { txn: Txn, name: Str("a\"b"), value: Str("v") }, ERR),
    ]);
    // Statistics and message replies need the plugin: NULL is refused.
    cases.extend([
        c(
            Rq,
            StatCreate { this: NULL, name: Str("hits"), kind: HY_STAT_COUNTER, id: Out::Some },
            ERR,
        ),
        c(Rq, StatIncrement { this: NULL, id: 0, amount: 1 }, ERR),
        c(Rq, StatSet { this: NULL, id: 0, value: 1 }, ERR),
        c(Rq, StatGet { this: NULL, id: 0, value: Out::Some }, ERR),
        c(Rq, MsgReply { this: NULL, text: Str("ok") }, ERR),
    ]);
    // Body transforms (since 1.5): a transform needs a transaction and a continuation; a NULL
    // transform handle is refused (a live one's rules are `rules::transform`'s).
    cases.extend([
        c(Rq, TransformAdd { txn: NULL, body: HY_BODY_RESPONSE, kind: INSPECT, cont: NULL }, ERR),
        c(Rq, TransformAdd { txn: Ssn, body: HY_BODY_RESPONSE, kind: INSPECT, cont: NULL }, ERR),
        c(Rq, TransformAdd { txn: Txn, body: HY_BODY_RESPONSE, kind: INSPECT, cont: NULL }, ERR),
        c(Rq, TransformAdd { txn: Txn, body: HY_BODY_REQUEST, kind: 3, cont: NULL }, ERR),
        c(Rq, TransformWrite { transform: NULL, data: Str("x") }, ERR),
        c(Rq, TransformWrite { transform: NULL, data: null(0) }, ERR),
        c(Rq, TransformWrite { transform: Txn, data: Str("x") }, ERR),
        c(Rq, TransformEnd { transform: NULL }, ERR),
        c(Rq, TransformEnd { transform: Ssn }, ERR),
        c(Rq, TransformResume { transform: NULL, result: HY_HOOK_CONTINUE }, ERR),
    ]);
    // Reason phrases and the configuration directory (since 1.5).
    cases.extend([
        c(Rs, ReasonGet { txn: Txn, msg: CRESP, out: Out::Some }, OK),
        c(Rs, ReasonGet { txn: Txn, msg: ORESP, out: Out::Null }, ERR),
        c(Rs, ReasonGet { txn: Txn, msg: CREQ, out: Out::Some }, ERR),
        c(Rq, ReasonGet { txn: Txn, msg: CRESP, out: Out::Some }, ERR),
        c(Rs, ReasonGet { txn: Ssn, msg: CRESP, out: Out::Some }, ERR),
        c(Rs, ReasonSet { txn: Txn, msg: CRESP, reason: Str("Fine") }, OK),
        c(Rs, ReasonSet { txn: Txn, msg: ORESP, reason: Str("") }, OK),
        c(Rs, ReasonSet { txn: Txn, msg: CRESP, reason: Str("a\r\nb") }, ERR),
        c(Rs, ReasonSet { txn: Txn, msg: CRESP, reason: null(2) }, ERR),
        c(Rs, ReasonSet { txn: Txn, msg: OREQ, reason: Str("x") }, ERR),
        c(Rq, ReasonSet { txn: Txn, msg: CRESP, reason: Str("x") }, ERR),
        c(Rs, ReasonSet { txn: NULL, msg: CRESP, reason: Str("x") }, ERR),
        c(Rq, ConfigDirGet { this: NULL, out: Out::Some }, ERR),
        // No do_remap runs in a case: no instance's arguments.
        c(Rq, RemapParamGet { txn: Txn, index: 0, out: Out::Some }, ERR),
        c(Rq, RemapParamGet { txn: NULL, index: 0, out: Out::Some }, ERR),
        c(Rq, RemapParamGet { txn: Ssn, index: 0, out: Out::Some }, ERR),
        c(Rq, PluginDirGet { this: NULL, out: Out::Some }, ERR),
        c(Rq, HostStatusSet { this: NULL, name: Str("h:80"), up: 1, reason: null(0) }, ERR),
        c(Rq, HostStatusGet { this: NULL, name: Str("h:80"), out: Out::Some }, ERR),
    ]);
    // The client connection: a plain one has no SNI, ALPN or TLS version.
    for field in ConnField::ALL {
        let plain = if field.on_plain() { OK } else { ERR };
        cases.extend([
            c(Rq, ConnGet { field, txn: NULL, out: Out::Some }, ERR),
            c(Rq, ConnGet { field, txn: Ssn, out: Out::Some }, ERR),
            c(Rq, ConnGet { field, txn: Txn, out: Out::Null }, ERR),
            c(Rq, ConnGet { field, txn: Txn, out: Out::Some }, plain),
        ]);
    }
    cases
}
