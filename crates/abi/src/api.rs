//! The host function table and the types it works with.
//!
//! Every function's contract is documented once, in `include/hookyard.h`; the fields here
//! repeat only the summary.

use std::ffi::{c_char, c_void};

use crate::layout::{define_aliases, define_constants, define_opaque, define_struct};

define_aliases! {
    ALIASES;
    /// The result of host functions and init entry points: [`HY_SUCCESS`] or [`HY_ERROR`].
    pub type hy_return = i32;
    /// Which HTTP message of a transaction: `HY_MSG_*`.
    pub type hy_msg = i32;
    /// Which URL of a transaction: `HY_URL_*`.
    pub type hy_url = i32;
    /// A part of a URL: `HY_URL_PART_*`.
    pub type hy_url_part = i32;
    /// A log level: `HY_LOG_*`.
    pub type hy_log_level = i32;
    /// A hook id: `HY_HOOK_*` (ATS's `TSHttpHookID` values; lifecycle hooks from 64).
    pub type hy_hook_id = i32;
    /// A registration level and control scope: `HY_HOOK_LEVEL_*`.
    pub type hy_hook_level = i32;
    /// What a hook callback answers: `HY_HOOK_CONTINUE`, `HY_HOOK_ERROR`, `HY_HOOK_PENDING`.
    pub type hy_hook_result = i32;
    /// An event a continuation handler receives: `HY_EVENT_*`.
    pub type hy_event = i32;
    /// A user arg kind: `HY_USER_ARG_*` (ATS's `TSUserArgType`).
    pub type hy_user_arg_type = i32;
    /// A plugin statistic's kind: `HY_STAT_*` (since 1.4).
    pub type hy_stat_kind = i32;
    /// Which body of a transaction: `HY_BODY_*` (since 1.5).
    pub type hy_body = i32;
    /// What a body transform may do: `HY_TRANSFORM_*` (since 1.5).
    pub type hy_transform_kind = i32;
    /// A continuation's handler.
    pub type hy_cont_handler =
        unsafe extern "C" fn(cont: *mut hy_cont, event: hy_event, edata: *mut c_void) -> i32;
}

define_constants! {
    CONSTANTS;
    /// Success.
    HY_SUCCESS: hy_return = 0;
    /// Failure.
    HY_ERROR: hy_return = -1;

    /// The client's request (rewritten by remap).
    HY_MSG_CLIENT_REQUEST: hy_msg = 0;
    /// The request sent to the origin.
    HY_MSG_ORIGIN_REQUEST: hy_msg = 1;
    /// The origin's response.
    HY_MSG_ORIGIN_RESPONSE: hy_msg = 2;
    /// The response sent to the client.
    HY_MSG_CLIENT_RESPONSE: hy_msg = 3;

    /// The client request's URL; read-write (the remap request URL).
    HY_URL_REQUEST: hy_url = 0;
    /// The client request's URL as received; read-only.
    HY_URL_PRISTINE: hy_url = 1;
    /// The matched rule's from URL; read-only.
    HY_URL_REMAP_FROM: hy_url = 2;
    /// The matched rule's to URL; read-only.
    HY_URL_REMAP_TO: hy_url = 3;

    /// `http` or `https`.
    HY_URL_PART_SCHEME: hy_url_part = 0;
    /// The host name, without port.
    HY_URL_PART_HOST: hy_url_part = 1;
    /// The explicit port in decimal, or empty.
    HY_URL_PART_PORT: hy_url_part = 2;
    /// The path with its leading `/`.
    HY_URL_PART_PATH: hy_url_part = 3;
    /// The query without the `?`, or empty.
    HY_URL_PART_QUERY: hy_url_part = 4;

    /// Errors.
    HY_LOG_ERROR: hy_log_level = 1;
    /// Warnings.
    HY_LOG_WARN: hy_log_level = 2;
    /// Information.
    HY_LOG_INFO: hy_log_level = 3;
    /// Debugging.
    HY_LOG_DEBUG: hy_log_level = 4;
    /// Tracing.
    HY_LOG_TRACE: hy_log_level = 5;

    /// The client's request header has been read.
    HY_HOOK_READ_REQUEST_HDR: hy_hook_id = 0;
    /// The origin's address is about to be looked up.
    HY_HOOK_OS_DNS: hy_hook_id = 1;
    /// The request header is about to be sent to the origin.
    HY_HOOK_SEND_REQUEST_HDR: hy_hook_id = 2;
    /// The origin's response header has been read.
    HY_HOOK_READ_RESPONSE_HDR: hy_hook_id = 4;
    /// The response header is about to be sent to the client.
    HY_HOOK_SEND_RESPONSE_HDR: hy_hook_id = 5;
    /// A transaction starts.
    HY_HOOK_TXN_START: hy_hook_id = 9;
    /// A transaction ends (cleanup: never skipped).
    HY_HOOK_TXN_CLOSE: hy_hook_id = 10;
    /// A client session starts.
    HY_HOOK_SSN_START: hy_hook_id = 11;
    /// A client session ends (cleanup: never skipped).
    HY_HOOK_SSN_CLOSE: hy_hook_id = 12;
    /// Before the request is remapped.
    HY_HOOK_PRE_REMAP: hy_hook_id = 14;
    /// After the request was remapped.
    HY_HOOK_POST_REMAP: hy_hook_id = 15;
    /// Every plugin of a configuration generation is initialised (global level only).
    HY_HOOK_PLUGINS_LOADED: hy_hook_id = 64;
    /// The proxy is shutting down (global level only).
    HY_HOOK_SHUTDOWN: hy_hook_id = 65;
    /// An operator's message arrived (global level only; edata a `hy_lifecycle_msg *`; since
    /// 1.4).
    HY_HOOK_LIFECYCLE_MSG: hy_hook_id = 66;
    /// Every hook, for thresholds.
    HY_HOOK_ANY: hy_hook_id = -1;

    /// Registered for every session and transaction of the configuration generation.
    HY_HOOK_LEVEL_GLOBAL: hy_hook_level = 0;
    /// Registered on one session.
    HY_HOOK_LEVEL_SESSION: hy_hook_level = 1;
    /// Registered on one transaction.
    HY_HOOK_LEVEL_TXN: hy_hook_level = 2;

    /// Go on with the next callback.
    HY_HOOK_CONTINUE: hy_hook_result = 0;
    /// Fail the transaction (continue, on cleanup hooks).
    HY_HOOK_ERROR: hy_hook_result = 1;
    /// The plugin answers later with `txn_resume` / `ssn_resume`, from any thread.
    HY_HOOK_PENDING: hy_hook_result = 2;

    /// `hook_add`: the plugin's own priority.
    HY_PRIORITY_DEFAULT: i32 = i32::MIN;
    /// `threshold_set`: no threshold.
    HY_THRESHOLD_NONE: i32 = i32::MIN;

    /// A continuation scheduled with no delay runs.
    HY_EVENT_IMMEDIATE: hy_event = 1;
    /// A continuation scheduled with a delay runs.
    HY_EVENT_TIMEOUT: hy_event = 2;
    /// Hook events are this plus the hook id.
    HY_EVENT_HOOK_BASE: hy_event = 60002;

    /// Transaction slots (indices 1000..).
    HY_USER_ARG_TXN: hy_user_arg_type = 0;
    /// Session slots (indices 2000..).
    HY_USER_ARG_SSN: hy_user_arg_type = 1;
    /// Connection slots (indices 3000..).
    HY_USER_ARG_CONN: hy_user_arg_type = 2;
    /// Global slots (indices 4000..).
    HY_USER_ARG_GLB: hy_user_arg_type = 3;

    /// A statistic that only grows (since 1.4).
    HY_STAT_COUNTER: hy_stat_kind = 0;
    /// A statistic set to any value (since 1.4).
    HY_STAT_GAUGE: hy_stat_kind = 1;

    /// The client's request body, on its way to the origin (since 1.5).
    HY_BODY_REQUEST: hy_body = 0;
    /// The origin's response body, on its way to the client (since 1.5).
    HY_BODY_RESPONSE: hy_body = 1;

    /// Sees every chunk and cannot change it (since 1.5).
    HY_TRANSFORM_INSPECT: hy_transform_kind = 0;
    /// Changes bytes in place; the length stays (since 1.5).
    HY_TRANSFORM_LENGTH_PRESERVING: hy_transform_kind = 1;
    /// Writes any output with `transform_write` (since 1.5).
    HY_TRANSFORM_REWRITE: hy_transform_kind = 2;

    /// A transform's next chunk; edata a `hy_chunk *` (since 1.5).
    HY_EVENT_TRANSFORM_CHUNK: hy_event = 3;
    /// A transform's last event; edata its `hy_transform *` (since 1.5).
    HY_EVENT_TRANSFORM_CLOSE: hy_event = 4;
}

/// The event a continuation receives for `hook` (`HY_EVENT_HOOK(hook)` in C).
pub const fn hook_event(hook: hy_hook_id) -> hy_event {
    HY_EVENT_HOOK_BASE + hook
}

define_opaque! {
    OPAQUE;
    /// One loaded plugin version, as the host knows it.
    hy_plugin;
    /// One HTTP transaction.
    hy_txn;
    /// One client session.
    hy_ssn;
    /// A continuation: a handler and its data, owned by the plugin that created it.
    hy_cont;
    /// One body transform of one transaction (since 1.5).
    hy_transform;
}

define_struct! {
    /// A string view into host memory; not NUL-terminated.
    #[derive(Clone, Copy, Debug)]
    pub struct hy_str {
        /// The first byte (may dangle when `len` is 0).
        pub ptr: *const c_char,
        /// The length in bytes.
        pub len: usize,
    }
}

impl hy_str {
    /// The empty view.
    pub const EMPTY: hy_str = hy_str { ptr: std::ptr::null(), len: 0 };
}

define_struct! {
    /// An operator's message to plugins, the edata of `HY_HOOK_LIFECYCLE_MSG` (since 1.4).
    #[derive(Clone, Copy, Debug)]
    pub struct hy_lifecycle_msg {
        /// What the message is about.
        pub tag: hy_str,
        /// Its data (may dangle when `data_len` is 0).
        pub data: *const c_void,
        /// The data's length in bytes.
        pub data_len: usize,
    }
}

define_struct! {
    /// A chunk of a body for a transform, the edata of `HY_EVENT_TRANSFORM_CHUNK` (since 1.5).
    #[derive(Clone, Copy, Debug)]
    pub struct hy_chunk {
        /// The transform it is for.
        pub transform: *mut hy_transform,
        /// Its bytes (may dangle when `len` is 0); writable for a length-preserving transform.
        pub data: *mut c_char,
        /// The length in bytes.
        pub len: usize,
        /// 1 for the body's last chunk (which may be empty), else 0.
        pub end: i32,
    }
}

define_struct! {
    /// One hook callback, as `callback_list` reports it.
    #[derive(Clone, Copy, Debug)]
    pub struct hy_callback_info {
        /// The registration's id.
        pub id: u64,
        /// The name of the plugin that registered it.
        pub plugin: hy_str,
        /// The hook.
        pub hook: hy_hook_id,
        /// The level it was registered at.
        pub level: hy_hook_level,
        /// Its priority for this transaction.
        pub priority: i32,
        /// 1 if it would run for this transaction.
        pub enabled: i32,
    }
}

define_struct! {
    /// The host function table handed to init entry points. Append-only: a new minor adds
    /// fields at the end.
    #[derive(Clone, Copy, Debug)]
    pub struct hy_api {
        /// `size_of::<hy_api>()` as the host knows it.
        pub size: u32,
        /// [`HY_ABI_VERSION`](crate::HY_ABI_VERSION) of the host.
        pub version: u32,
        /// This plugin version, for the functions that take `self`.
        pub plugin: *mut hy_plugin,

        /// Whether a message at `level` would be logged (1) or not (0).
        pub log_enabled: unsafe extern "C" fn(this: *mut hy_plugin, level: hy_log_level) -> i32,
        /// Logs a UTF-8 message tagged with the plugin's name and version.
        pub log: unsafe extern "C" fn(
            this: *mut hy_plugin,
            level: hy_log_level,
            message: *const c_char,
            len: usize,
        ),
        /// The plugin's name as the host knows it.
        pub plugin_name_get: unsafe extern "C" fn(this: *mut hy_plugin, name: *mut hy_str),
        /// The plugin's version as the host knows it.
        pub plugin_version_get: unsafe extern "C" fn(this: *mut hy_plugin, version: *mut hy_str),

        /// The method of a request message.
        pub method_get:
            unsafe extern "C" fn(txn: *mut hy_txn, msg: hy_msg, method: *mut hy_str) -> hy_return,
        /// Sets the method of a request message.
        pub method_set: unsafe extern "C" fn(
            txn: *mut hy_txn,
            msg: hy_msg,
            method: *const c_char,
            len: usize,
        ) -> hy_return,
        /// A part of a URL.
        pub url_get: unsafe extern "C" fn(
            txn: *mut hy_txn,
            url: hy_url,
            part: hy_url_part,
            value: *mut hy_str,
        ) -> hy_return,
        /// Sets a part of a read-write URL.
        pub url_set: unsafe extern "C" fn(
            txn: *mut hy_txn,
            url: hy_url,
            part: hy_url_part,
            value: *const c_char,
            len: usize,
        ) -> hy_return,
        /// The whole URL.
        pub url_string_get:
            unsafe extern "C" fn(txn: *mut hy_txn, url: hy_url, value: *mut hy_str) -> hy_return,
        /// The `index`th value of a header.
        pub header_get: unsafe extern "C" fn(
            txn: *mut hy_txn,
            msg: hy_msg,
            name: *const c_char,
            name_len: usize,
            index: usize,
            value: *mut hy_str,
        ) -> hy_return,
        /// The field at `position`.
        pub header_field_get: unsafe extern "C" fn(
            txn: *mut hy_txn,
            msg: hy_msg,
            position: usize,
            name: *mut hy_str,
            value: *mut hy_str,
        ) -> hy_return,
        /// Replaces every field `name` with one.
        pub header_set: unsafe extern "C" fn(
            txn: *mut hy_txn,
            msg: hy_msg,
            name: *const c_char,
            name_len: usize,
            value: *const c_char,
            value_len: usize,
        ) -> hy_return,
        /// Appends a field.
        pub header_add: unsafe extern "C" fn(
            txn: *mut hy_txn,
            msg: hy_msg,
            name: *const c_char,
            name_len: usize,
            value: *const c_char,
            value_len: usize,
        ) -> hy_return,
        /// Removes every field `name`.
        pub header_remove: unsafe extern "C" fn(
            txn: *mut hy_txn,
            msg: hy_msg,
            name: *const c_char,
            name_len: usize,
        ) -> hy_return,
        /// The status of a response message.
        pub status_get:
            unsafe extern "C" fn(txn: *mut hy_txn, msg: hy_msg, status: *mut i32) -> hy_return,
        /// Sets the status of a response message.
        pub status_set:
            unsafe extern "C" fn(txn: *mut hy_txn, msg: hy_msg, status: i32) -> hy_return,
        /// Answers the client directly instead of going to the origin.
        pub direct_response: unsafe extern "C" fn(
            txn: *mut hy_txn,
            status: i32,
            body: *const c_char,
            body_len: usize,
        ) -> hy_return,

        /// Creates a continuation owned by the plugin.
        pub cont_create: unsafe extern "C" fn(
            this: *mut hy_plugin,
            handler: Option<hy_cont_handler>,
            data: *mut c_void,
        ) -> *mut hy_cont,
        /// Destroys a continuation.
        pub cont_destroy: unsafe extern "C" fn(cont: *mut hy_cont),
        /// The data given to `cont_create`.
        pub cont_data_get: unsafe extern "C" fn(cont: *mut hy_cont) -> *mut c_void,
        /// Schedules one invocation after `delay_ms` milliseconds.
        pub cont_schedule: unsafe extern "C" fn(cont: *mut hy_cont, delay_ms: u64) -> hy_return,

        /// Registers a continuation on a hook.
        pub hook_add: unsafe extern "C" fn(
            level: hy_hook_level,
            object: *mut c_void,
            hook: hy_hook_id,
            cont: *mut hy_cont,
            priority: i32,
            callback: *mut u64,
        ) -> hy_return,
        /// Ends a pending transaction hook callback.
        pub txn_resume: unsafe extern "C" fn(txn: *mut hy_txn, result: hy_hook_result) -> hy_return,
        /// Ends a pending session hook callback.
        pub ssn_resume: unsafe extern "C" fn(ssn: *mut hy_ssn, result: hy_hook_result) -> hy_return,
        /// The session of a transaction.
        pub txn_ssn_get: unsafe extern "C" fn(txn: *mut hy_txn) -> *mut hy_ssn,

        /// Reserves a user arg slot by name (idempotent).
        pub user_arg_reserve: unsafe extern "C" fn(
            kind: hy_user_arg_type,
            name: *const c_char,
            description: *const c_char,
            index: *mut i32,
        ) -> hy_return,
        /// The index reserved under a name.
        pub user_arg_name_lookup: unsafe extern "C" fn(
            kind: hy_user_arg_type,
            name: *const c_char,
            index: *mut i32,
            description: *mut *const c_char,
        ) -> hy_return,
        /// The name of a reserved index.
        pub user_arg_index_lookup: unsafe extern "C" fn(
            kind: hy_user_arg_type,
            index: i32,
            name: *mut *const c_char,
            description: *mut *const c_char,
        ) -> hy_return,
        /// A slot's value.
        pub user_arg_get: unsafe extern "C" fn(
            object: *mut c_void,
            index: i32,
            value: *mut *mut c_void,
        ) -> hy_return,
        /// Sets a slot's value.
        pub user_arg_set:
            unsafe extern "C" fn(object: *mut c_void, index: i32, value: *mut c_void) -> hy_return,

        /// The plugin's priority and ceiling.
        pub plugin_priority_get: unsafe extern "C" fn(
            this: *mut hy_plugin,
            priority: *mut i32,
            ceiling: *mut i32,
        ) -> hy_return,
        /// Sets the plugin's priority (at most its ceiling).
        pub plugin_priority_set:
            unsafe extern "C" fn(this: *mut hy_plugin, priority: i32) -> hy_return,
        /// Switches a plugin on or off for one session or transaction.
        pub plugin_enable_set: unsafe extern "C" fn(
            this: *mut hy_plugin,
            level: hy_hook_level,
            object: *mut c_void,
            plugin: *const c_char,
            len: usize,
            enabled: i32,
        ) -> hy_return,
        /// The threshold set at exactly one scope.
        pub threshold_get: unsafe extern "C" fn(
            this: *mut hy_plugin,
            level: hy_hook_level,
            object: *mut c_void,
            hook: i32,
            threshold: *mut i32,
        ) -> hy_return,
        /// Sets or clears a threshold.
        pub threshold_set: unsafe extern "C" fn(
            this: *mut hy_plugin,
            level: hy_hook_level,
            object: *mut c_void,
            hook: i32,
            threshold: i32,
        ) -> hy_return,
        /// The callbacks a hook would run for a transaction.
        pub callback_list: unsafe extern "C" fn(
            txn: *mut hy_txn,
            hook: hy_hook_id,
            infos: *mut hy_callback_info,
            capacity: usize,
            count: *mut usize,
        ) -> hy_return,
        /// Changes a callback's priority for one session or transaction.
        pub callback_priority_set: unsafe extern "C" fn(
            this: *mut hy_plugin,
            level: hy_hook_level,
            object: *mut c_void,
            hook: hy_hook_id,
            callback: u64,
            priority: i32,
        ) -> hy_return,
        /// Switches a callback on or off for one session or transaction.
        pub callback_enable_set: unsafe extern "C" fn(
            this: *mut hy_plugin,
            level: hy_hook_level,
            object: *mut c_void,
            hook: hy_hook_id,
            callback: u64,
            enabled: i32,
        ) -> hy_return,
        /// Removes a callback for one session or transaction.
        pub callback_remove: unsafe extern "C" fn(
            this: *mut hy_plugin,
            level: hy_hook_level,
            object: *mut c_void,
            hook: hy_hook_id,
            callback: u64,
        ) -> hy_return,

        /// The address the transaction connects to, as `IP:PORT` text (since 1.1).
        pub server_addr_get: unsafe extern "C" fn(txn: *mut hy_txn, addr: *mut hy_str) -> hy_return,
        /// Connects the transaction to `IP:PORT` instead of the origin host's address (since
        /// 1.1).
        pub server_addr_set:
            unsafe extern "C" fn(txn: *mut hy_txn, addr: *const c_char, len: usize) -> hy_return,

        /// Another plugin's priority and ceiling (since 1.2).
        pub plugin_priority_of_get: unsafe extern "C" fn(
            this: *mut hy_plugin,
            plugin: *const c_char,
            len: usize,
            priority: *mut i32,
            ceiling: *mut i32,
        ) -> hy_return,
        /// Sets another plugin's priority for the rest of the configuration generation, when the
        /// caller's ceiling is above that plugin's (since 1.2).
        pub plugin_priority_of_set: unsafe extern "C" fn(
            this: *mut hy_plugin,
            plugin: *const c_char,
            len: usize,
            priority: i32,
        ) -> hy_return,
        /// Orders one plugin's callbacks before another's for one session or transaction (since
        /// 1.2).
        pub order_set: unsafe extern "C" fn(
            this: *mut hy_plugin,
            level: hy_hook_level,
            object: *mut c_void,
            hook: i32,
            first: *const c_char,
            first_len: usize,
            then: *const c_char,
            then_len: usize,
            enabled: i32,
        ) -> hy_return,

        /// The client's address, as `IP:PORT` text (since 1.3).
        pub client_addr_get: unsafe extern "C" fn(txn: *mut hy_txn, out: *mut hy_str) -> hy_return,
        /// The proxy's address the client connected to, as `IP:PORT` text (since 1.3).
        pub incoming_addr_get:
            unsafe extern "C" fn(txn: *mut hy_txn, out: *mut hy_str) -> hy_return,
        /// `http`, or `https` for a TLS connection (since 1.3).
        pub client_scheme_get:
            unsafe extern "C" fn(txn: *mut hy_txn, out: *mut hy_str) -> hy_return,
        /// The TLS SNI name the client sent (since 1.3).
        pub client_sni_get: unsafe extern "C" fn(txn: *mut hy_txn, out: *mut hy_str) -> hy_return,
        /// The ALPN protocol agreed on with the client (since 1.3).
        pub client_alpn_get: unsafe extern "C" fn(txn: *mut hy_txn, out: *mut hy_str) -> hy_return,
        /// The TLS version of the client connection (since 1.3).
        pub client_tls_version_get:
            unsafe extern "C" fn(txn: *mut hy_txn, out: *mut hy_str) -> hy_return,
        /// The HTTP version the transaction's request arrived in (since 1.3).
        pub client_protocol_get:
            unsafe extern "C" fn(txn: *mut hy_txn, out: *mut hy_str) -> hy_return,

        /// Sets a field of the transaction's access log line (since 1.4).
        pub log_field_set: unsafe extern "C" fn(
            txn: *mut hy_txn,
            name: *const c_char,
            name_len: usize,
            value: *const c_char,
            value_len: usize,
        ) -> hy_return,
        /// Creates (or finds) one of the plugin's statistics (since 1.4).
        pub stat_create: unsafe extern "C" fn(
            this: *mut hy_plugin,
            name: *const c_char,
            name_len: usize,
            kind: hy_stat_kind,
            id: *mut i32,
        ) -> hy_return,
        /// Adds to a statistic (since 1.4).
        pub stat_increment:
            unsafe extern "C" fn(this: *mut hy_plugin, id: i32, amount: i64) -> hy_return,
        /// Sets a gauge (since 1.4).
        pub stat_set: unsafe extern "C" fn(this: *mut hy_plugin, id: i32, value: i64) -> hy_return,
        /// Reads a statistic (since 1.4).
        pub stat_get:
            unsafe extern "C" fn(this: *mut hy_plugin, id: i32, value: *mut i64) -> hy_return,
        /// Answers an operator's message (since 1.4).
        pub msg_reply: unsafe extern "C" fn(
            this: *mut hy_plugin,
            msg: *const hy_lifecycle_msg,
            text: *const c_char,
            len: usize,
        ) -> hy_return,

        /// Adds a transform to a body of the transaction (since 1.5).
        pub transform_add: unsafe extern "C" fn(
            txn: *mut hy_txn,
            body: hy_body,
            kind: hy_transform_kind,
            cont: *mut hy_cont,
            priority: i32,
            transform: *mut *mut hy_transform,
        ) -> hy_return,
        /// Appends to a rewrite transform's output (since 1.5).
        pub transform_write: unsafe extern "C" fn(
            transform: *mut hy_transform,
            data: *const c_char,
            len: usize,
        ) -> hy_return,
        /// Ends a rewrite transform's output (since 1.5).
        pub transform_end: unsafe extern "C" fn(transform: *mut hy_transform) -> hy_return,
        /// Ends a pending chunk (since 1.5).
        pub transform_resume:
            unsafe extern "C" fn(transform: *mut hy_transform, result: hy_hook_result) -> hy_return,
        /// The reason phrase of a response message (since 1.5).
        pub reason_get:
            unsafe extern "C" fn(txn: *mut hy_txn, msg: hy_msg, reason: *mut hy_str) -> hy_return,
        /// Sets the reason phrase of a response message (since 1.5).
        pub reason_set: unsafe extern "C" fn(
            txn: *mut hy_txn,
            msg: hy_msg,
            reason: *const c_char,
            len: usize,
        ) -> hy_return,
        /// The proxy's configuration directory (since 1.5).
        pub config_dir_get: unsafe extern "C" fn(this: *mut hy_plugin, dir: *mut hy_str) -> hy_return,
        /// An argument of the remap instance whose `do_remap` runs (since 1.5).
        pub remap_param_get:
            unsafe extern "C" fn(txn: *mut hy_txn, index: usize, param: *mut hy_str) -> hy_return,
        /// The directory of the plugin file this version was loaded from (since 1.6).
        pub plugin_dir_get: unsafe extern "C" fn(this: *mut hy_plugin, dir: *mut hy_str) -> hy_return,
        /// Marks an origin host of the serving strategies down or up (since 1.6).
        pub host_status_set: unsafe extern "C" fn(
            this: *mut hy_plugin,
            name: *const c_char,
            name_len: usize,
            up: i32,
            reason: *const c_char,
            reason_len: usize,
        ) -> hy_return,
        /// Whether an origin host of the serving strategies takes transactions (since 1.6).
        pub host_status_get: unsafe extern "C" fn(
            this: *mut hy_plugin,
            name: *const c_char,
            name_len: usize,
            up: *mut i32,
        ) -> hy_return,
    }
}

/// Builds a [`hy_api`] for `plugin` whose every function is the item of that name in `$host`
/// (a module path), with this ABI's `size` and `version`.
///
/// Every host writes its table with this, so the one list of fields lives here: a function added
/// to the table at the end of a minor release is a compile error in a host that lacks it.
///
/// ```text
/// let api = hookyard_abi::hy_api_table!(plugin_state_ptr, crate::host::api);
/// ```
#[macro_export]
macro_rules! hy_api_table {
    ($plugin:expr, $($host:ident)::+) => {
        $crate::hy_api {
            size: ::core::mem::size_of::<$crate::hy_api>() as u32,
            version: $crate::HY_ABI_VERSION,
            plugin: $plugin,
            log_enabled: $($host)::+::log_enabled,
            log: $($host)::+::log,
            plugin_name_get: $($host)::+::plugin_name_get,
            plugin_version_get: $($host)::+::plugin_version_get,
            method_get: $($host)::+::method_get,
            method_set: $($host)::+::method_set,
            url_get: $($host)::+::url_get,
            url_set: $($host)::+::url_set,
            url_string_get: $($host)::+::url_string_get,
            header_get: $($host)::+::header_get,
            header_field_get: $($host)::+::header_field_get,
            header_set: $($host)::+::header_set,
            header_add: $($host)::+::header_add,
            header_remove: $($host)::+::header_remove,
            status_get: $($host)::+::status_get,
            status_set: $($host)::+::status_set,
            direct_response: $($host)::+::direct_response,
            cont_create: $($host)::+::cont_create,
            cont_destroy: $($host)::+::cont_destroy,
            cont_data_get: $($host)::+::cont_data_get,
            cont_schedule: $($host)::+::cont_schedule,
            hook_add: $($host)::+::hook_add,
            txn_resume: $($host)::+::txn_resume,
            ssn_resume: $($host)::+::ssn_resume,
            txn_ssn_get: $($host)::+::txn_ssn_get,
            user_arg_reserve: $($host)::+::user_arg_reserve,
            user_arg_name_lookup: $($host)::+::user_arg_name_lookup,
            user_arg_index_lookup: $($host)::+::user_arg_index_lookup,
            user_arg_get: $($host)::+::user_arg_get,
            user_arg_set: $($host)::+::user_arg_set,
            plugin_priority_get: $($host)::+::plugin_priority_get,
            plugin_priority_set: $($host)::+::plugin_priority_set,
            plugin_enable_set: $($host)::+::plugin_enable_set,
            threshold_get: $($host)::+::threshold_get,
            threshold_set: $($host)::+::threshold_set,
            callback_list: $($host)::+::callback_list,
            callback_priority_set: $($host)::+::callback_priority_set,
            callback_enable_set: $($host)::+::callback_enable_set,
            callback_remove: $($host)::+::callback_remove,
            server_addr_get: $($host)::+::server_addr_get,
            server_addr_set: $($host)::+::server_addr_set,
            plugin_priority_of_get: $($host)::+::plugin_priority_of_get,
            plugin_priority_of_set: $($host)::+::plugin_priority_of_set,
            order_set: $($host)::+::order_set,
            client_addr_get: $($host)::+::client_addr_get,
            incoming_addr_get: $($host)::+::incoming_addr_get,
            client_scheme_get: $($host)::+::client_scheme_get,
            client_sni_get: $($host)::+::client_sni_get,
            client_alpn_get: $($host)::+::client_alpn_get,
            client_tls_version_get: $($host)::+::client_tls_version_get,
            client_protocol_get: $($host)::+::client_protocol_get,
            log_field_set: $($host)::+::log_field_set,
            stat_create: $($host)::+::stat_create,
            stat_increment: $($host)::+::stat_increment,
            stat_set: $($host)::+::stat_set,
            stat_get: $($host)::+::stat_get,
            msg_reply: $($host)::+::msg_reply,
            transform_add: $($host)::+::transform_add,
            transform_write: $($host)::+::transform_write,
            transform_end: $($host)::+::transform_end,
            transform_resume: $($host)::+::transform_resume,
            reason_get: $($host)::+::reason_get,
            reason_set: $($host)::+::reason_set,
            config_dir_get: $($host)::+::config_dir_get,
            remap_param_get: $($host)::+::remap_param_get,
            plugin_dir_get: $($host)::+::plugin_dir_get,
            host_status_set: $($host)::+::host_status_set,
            host_status_get: $($host)::+::host_status_get,
        }
    };
}
