//! Remap plugins: ATS's `remap.h`, one to one.
//!
//! Required: `hy_remap_init` and `hy_remap_do_remap`; `hy_remap_new_instance` and
//! `hy_remap_delete_instance` come as a pair or not at all; the rest are optional
//! ([`check_symbols`](crate::check_symbols)).

use std::ffi::{c_char, c_void};

use crate::api::{hy_api, hy_return, hy_str, hy_txn};
use crate::layout::{define_aliases, define_constants, define_entry_points, define_struct};

define_aliases! {
    ALIASES;
    /// What `hy_remap_do_remap` answers: `HY_REMAP_*` (ATS's `TSRemapStatus`).
    pub type hy_remap_status = i32;
    /// What post-reload entry points are told: `HY_RELOAD_*` (ATS's `TSRemapReloadStatus`).
    pub type hy_reload_status = i32;
    /// The origin connection's state for `hy_remap_os_response` (ATS's `TSServerState`).
    pub type hy_server_state = i32;

    /// `hy_remap_init`: once per load of the plugin file.
    pub type hy_remap_init_fn =
        unsafe extern "C" fn(api: *const hy_api, errbuf: *mut c_char, errbuf_size: i32) -> hy_return;
    /// `hy_remap_new_instance`: once per `@plugin=` of a rule per configuration load.
    pub type hy_remap_new_instance_fn = unsafe extern "C" fn(
        argc: i32,
        argv: *mut *mut c_char,
        ih: *mut *mut c_void,
        errbuf: *mut c_char,
        errbuf_size: i32,
    ) -> hy_return;
    /// `hy_remap_do_remap`: per transaction whose matched rule lists the plugin.
    pub type hy_remap_do_remap_fn = unsafe extern "C" fn(
        ih: *mut c_void,
        txn: *mut hy_txn,
        rri: *mut hy_remap_request_info,
    ) -> hy_remap_status;
    /// `hy_remap_delete_instance`: once per successful new instance.
    pub type hy_remap_delete_instance_fn = unsafe extern "C" fn(ih: *mut c_void);
    /// `hy_remap_done`: when no configuration uses the plugin any more.
    pub type hy_remap_done_fn = unsafe extern "C" fn();
    /// `hy_remap_pre_config_reload`: before a configuration reload.
    pub type hy_remap_pre_config_reload_fn = unsafe extern "C" fn();
    /// `hy_remap_post_config_reload`: after a configuration load.
    pub type hy_remap_post_config_reload_fn = unsafe extern "C" fn(status: hy_reload_status);
    /// `hy_remap_os_response`: after the origin answered (first plugin of the rule only).
    pub type hy_remap_os_response_fn =
        unsafe extern "C" fn(ih: *mut c_void, txn: *mut hy_txn, state: hy_server_state);
}

define_constants! {
    CONSTANTS;
    /// Nothing changed; the next plugin of the rule runs.
    HY_REMAP_NO_REMAP: hy_remap_status = 0;
    /// The request URL was changed; the next plugin of the rule runs.
    HY_REMAP_DID_REMAP: hy_remap_status = 1;
    /// Nothing changed; no further plugin of the rule runs.
    HY_REMAP_NO_REMAP_STOP: hy_remap_status = 2;
    /// The request URL was changed; no further plugin of the rule runs.
    HY_REMAP_DID_REMAP_STOP: hy_remap_status = 3;
    /// Treated as [`HY_REMAP_NO_REMAP`] (ATS's code); fail a transaction with a direct response.
    HY_REMAP_ERROR: hy_remap_status = -1;

    /// The configuration load failed.
    HY_RELOAD_FAILURE: hy_reload_status = 0;
    /// The configuration loaded and uses the plugin.
    HY_RELOAD_SUCCESS_PLUGIN_USED: hy_reload_status = 1;
    /// The configuration loaded and does not use the plugin.
    HY_RELOAD_SUCCESS_PLUGIN_UNUSED: hy_reload_status = 2;

    /// No state recorded.
    HY_SERVER_STATE_UNDEFINED: hy_server_state = 0;
    /// The origin took too long overall.
    HY_SERVER_STATE_ACTIVE_TIMEOUT: hy_server_state = 1;
    /// The origin's response could not be used.
    HY_SERVER_STATE_BAD_INCOMING_RESPONSE: hy_server_state = 2;
    /// The response arrived and the connection stays open.
    HY_SERVER_STATE_CONNECTION_ALIVE: hy_server_state = 3;
    /// The origin closed the connection.
    HY_SERVER_STATE_CONNECTION_CLOSED: hy_server_state = 4;
    /// Connecting to the origin failed.
    HY_SERVER_STATE_CONNECTION_ERROR: hy_server_state = 5;
    /// The origin went quiet for too long.
    HY_SERVER_STATE_INACTIVE_TIMEOUT: hy_server_state = 6;
    /// Opening the connection failed.
    HY_SERVER_STATE_OPEN_RAW_ERROR: hy_server_state = 7;
    /// The response could not be parsed.
    HY_SERVER_STATE_PARSE_ERROR: hy_server_state = 8;
    /// The exchange completed.
    HY_SERVER_STATE_TRANSACTION_COMPLETE: hy_server_state = 9;

    /// The capacity of the zeroed error buffer the host passes to init and new-instance entry
    /// points.
    HY_ERRBUF_CAPACITY: usize = 2048;
    /// The `errbuf_size` the host passes: one less than the capacity, so the NUL always fits.
    HY_ERRBUF_SIZE: i32 = 2047;
}

define_struct! {
    /// What `hy_remap_do_remap` is told about the rule and the request; owned by the host.
    #[derive(Clone, Copy, Debug)]
    pub struct hy_remap_request_info {
        /// `size_of::<hy_remap_request_info>()` as the host knows it.
        pub size: u32,
        /// 0 on entry; the plugin sets 1 to redirect the client (302) to the request URL.
        pub redirect: i32,
        /// The rule's from URL; read-only.
        pub from_url: hy_str,
        /// The rule's to URL; read-only.
        pub to_url: hy_str,
    }
}

define_entry_points! {
    ENTRY_POINTS;
    hy_remap_init: hy_remap_init_fn,
    hy_remap_new_instance: hy_remap_new_instance_fn,
    hy_remap_do_remap: hy_remap_do_remap_fn,
    hy_remap_delete_instance: hy_remap_delete_instance_fn,
    hy_remap_done: hy_remap_done_fn,
    hy_remap_pre_config_reload: hy_remap_pre_config_reload_fn,
    hy_remap_post_config_reload: hy_remap_post_config_reload_fn,
    hy_remap_os_response: hy_remap_os_response_fn,
}
