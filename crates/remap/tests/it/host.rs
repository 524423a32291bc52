//! A host that gives plugins a table whose functions all refuse (`HY_ERROR`, nothing logged):
//! enough for plugins that only record the calls made to them.

use std::ffi::{c_char, c_void};

use hookyard_abi::{
    HY_ERROR, hy_api, hy_callback_info, hy_cont, hy_cont_handler, hy_hook_id, hy_hook_level,
    hy_hook_result, hy_log_level, hy_msg, hy_plugin, hy_return, hy_ssn, hy_str, hy_txn, hy_url,
    hy_url_part, hy_user_arg_type,
};
use hookyard_remap::{HostTables, PluginInfo, PluginTable};

/// Tables of refusing functions.
pub(crate) struct NullTables;

struct NullTable(Box<hy_api>);

// SAFETY: the table holds function pointers and a null plugin pointer, nothing thread-bound.
unsafe impl Send for NullTable {}
// SAFETY: as above; the table is never written after construction.
unsafe impl Sync for NullTable {}

impl PluginTable for NullTable {
    fn api(&self) -> *const hy_api {
        &*self.0
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl HostTables for NullTables {
    fn table(&self, _plugin: &PluginInfo<'_>) -> Box<dyn PluginTable> {
        Box::new(NullTable(Box::new(table())))
    }
}

fn table() -> hy_api {
    hookyard_abi::hy_api_table!(std::ptr::null_mut(), self)
}

unsafe extern "C" fn log_enabled(_this: *mut hy_plugin, _level: hy_log_level) -> i32 {
    0
}

unsafe extern "C" fn log(
    _this: *mut hy_plugin,
    _level: hy_log_level,
    _message: *const c_char,
    _len: usize,
) {
}

unsafe extern "C" fn plugin_name_get(_this: *mut hy_plugin, _name: *mut hy_str) {}

unsafe extern "C" fn plugin_version_get(_this: *mut hy_plugin, _version: *mut hy_str) {}

unsafe extern "C" fn method_get(
    _txn: *mut hy_txn,
    _msg: hy_msg,
    _method: *mut hy_str,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn method_set(
    _txn: *mut hy_txn,
    _msg: hy_msg,
    _method: *const c_char,
    _len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn url_get(
    _txn: *mut hy_txn,
    _url: hy_url,
    _part: hy_url_part,
    _value: *mut hy_str,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn url_set(
    _txn: *mut hy_txn,
    _url: hy_url,
    _part: hy_url_part,
    _value: *const c_char,
    _len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn url_string_get(
    _txn: *mut hy_txn,
    _url: hy_url,
    _value: *mut hy_str,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn header_get(
    _txn: *mut hy_txn,
    _msg: hy_msg,
    _name: *const c_char,
    _name_len: usize,
    _index: usize,
    _value: *mut hy_str,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn header_field_get(
    _txn: *mut hy_txn,
    _msg: hy_msg,
    _position: usize,
    _name: *mut hy_str,
    _value: *mut hy_str,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn header_set(
    _txn: *mut hy_txn,
    _msg: hy_msg,
    _name: *const c_char,
    _name_len: usize,
    _value: *const c_char,
    _value_len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn header_add(
    _txn: *mut hy_txn,
    _msg: hy_msg,
    _name: *const c_char,
    _name_len: usize,
    _value: *const c_char,
    _value_len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn header_remove(
    _txn: *mut hy_txn,
    _msg: hy_msg,
    _name: *const c_char,
    _name_len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn status_get(_txn: *mut hy_txn, _msg: hy_msg, _status: *mut i32) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn status_set(_txn: *mut hy_txn, _msg: hy_msg, _status: i32) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn direct_response(
    _txn: *mut hy_txn,
    _status: i32,
    _body: *const c_char,
    _body_len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn cont_create(
    _this: *mut hy_plugin,
    _handler: Option<hy_cont_handler>,
    _data: *mut c_void,
) -> *mut hy_cont {
    std::ptr::null_mut()
}

unsafe extern "C" fn cont_destroy(_cont: *mut hy_cont) {}

unsafe extern "C" fn cont_data_get(_cont: *mut hy_cont) -> *mut c_void {
    std::ptr::null_mut()
}

unsafe extern "C" fn cont_schedule(_cont: *mut hy_cont, _delay_ms: u64) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn hook_add(
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: hy_hook_id,
    _cont: *mut hy_cont,
    _priority: i32,
    _callback: *mut u64,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn txn_resume(_txn: *mut hy_txn, _result: hy_hook_result) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn ssn_resume(_ssn: *mut hy_ssn, _result: hy_hook_result) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn txn_ssn_get(_txn: *mut hy_txn) -> *mut hy_ssn {
    std::ptr::null_mut()
}

unsafe extern "C" fn user_arg_reserve(
    _kind: hy_user_arg_type,
    _name: *const c_char,
    _description: *const c_char,
    _index: *mut i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn user_arg_name_lookup(
    _kind: hy_user_arg_type,
    _name: *const c_char,
    _index: *mut i32,
    _description: *mut *const c_char,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn user_arg_index_lookup(
    _kind: hy_user_arg_type,
    _index: i32,
    _name: *mut *const c_char,
    _description: *mut *const c_char,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn user_arg_get(
    _object: *mut c_void,
    _index: i32,
    _value: *mut *mut c_void,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn user_arg_set(
    _object: *mut c_void,
    _index: i32,
    _value: *mut c_void,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn plugin_priority_get(
    _this: *mut hy_plugin,
    _priority: *mut i32,
    _ceiling: *mut i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn plugin_priority_set(_this: *mut hy_plugin, _priority: i32) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn plugin_enable_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _plugin: *const c_char,
    _len: usize,
    _enabled: i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn threshold_get(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: i32,
    _threshold: *mut i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn threshold_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: i32,
    _threshold: i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn callback_list(
    _txn: *mut hy_txn,
    _hook: hy_hook_id,
    _infos: *mut hy_callback_info,
    _capacity: usize,
    _count: *mut usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn callback_priority_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: hy_hook_id,
    _callback: u64,
    _priority: i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn callback_enable_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: hy_hook_id,
    _callback: u64,
    _enabled: i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn callback_remove(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: hy_hook_id,
    _callback: u64,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn server_addr_get(_txn: *mut hy_txn, _addr: *mut hy_str) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn server_addr_set(
    _txn: *mut hy_txn,
    _addr: *const c_char,
    _len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn plugin_priority_of_get(
    _this: *mut hy_plugin,
    _plugin: *const c_char,
    _len: usize,
    _priority: *mut i32,
    _ceiling: *mut i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn plugin_priority_of_set(
    _this: *mut hy_plugin,
    _plugin: *const c_char,
    _len: usize,
    _priority: i32,
) -> hy_return {
    HY_ERROR
}

#[allow(clippy::too_many_arguments, reason = "one C function of the ABI table")]
unsafe extern "C" fn order_set(
    _this: *mut hy_plugin,
    _level: hy_hook_level,
    _object: *mut c_void,
    _hook: i32,
    _first: *const c_char,
    _first_len: usize,
    _then: *const c_char,
    _then_len: usize,
    _enabled: i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn client_addr_get(_txn: *mut hy_txn, _out: *mut hy_str) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn incoming_addr_get(_txn: *mut hy_txn, _out: *mut hy_str) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn client_scheme_get(_txn: *mut hy_txn, _out: *mut hy_str) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn client_sni_get(_txn: *mut hy_txn, _out: *mut hy_str) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn client_alpn_get(_txn: *mut hy_txn, _out: *mut hy_str) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn client_tls_version_get(_txn: *mut hy_txn, _out: *mut hy_str) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn client_protocol_get(_txn: *mut hy_txn, _out: *mut hy_str) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn log_field_set(
    _txn: *mut hy_txn,
    _name: *const c_char,
    _name_len: usize,
    _value: *const c_char,
    _value_len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn stat_create(
    _this: *mut hy_plugin,
    _name: *const c_char,
    _name_len: usize,
    _kind: i32,
    _id: *mut i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn stat_increment(_this: *mut hy_plugin, _id: i32, _amount: i64) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn stat_set(_this: *mut hy_plugin, _id: i32, _value: i64) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn stat_get(_this: *mut hy_plugin, _id: i32, _value: *mut i64) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn msg_reply(
    _this: *mut hy_plugin,
    _msg: *const hookyard_abi::hy_lifecycle_msg,
    _text: *const c_char,
    _len: usize,
) -> hy_return {
    HY_ERROR
}

// -- Body transforms (since 1.5) ---------------------------------------------------------------

unsafe extern "C" fn transform_add(
    _txn: *mut hookyard_abi::hy_txn,
    _body: hookyard_abi::hy_body,
    _kind: hookyard_abi::hy_transform_kind,
    _cont: *mut hookyard_abi::hy_cont,
    _priority: i32,
    _out: *mut *mut hookyard_abi::hy_transform,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn transform_write(
    _transform: *mut hookyard_abi::hy_transform,
    _data: *const c_char,
    _len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn transform_end(_transform: *mut hookyard_abi::hy_transform) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn transform_resume(
    _transform: *mut hookyard_abi::hy_transform,
    _result: i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn reason_get(
    _txn: *mut hookyard_abi::hy_txn,
    _msg: i32,
    _reason: *mut hookyard_abi::hy_str,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn reason_set(
    _txn: *mut hookyard_abi::hy_txn,
    _msg: i32,
    _reason: *const c_char,
    _len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn config_dir_get(
    _this: *mut hookyard_abi::hy_plugin,
    _dir: *mut hookyard_abi::hy_str,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn plugin_dir_get(
    _this: *mut hookyard_abi::hy_plugin,
    _dir: *mut hookyard_abi::hy_str,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn host_status_set(
    _this: *mut hookyard_abi::hy_plugin,
    _name: *const std::ffi::c_char,
    _name_len: usize,
    _up: i32,
    _reason: *const std::ffi::c_char,
    _reason_len: usize,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn host_status_get(
    _this: *mut hookyard_abi::hy_plugin,
    _name: *const std::ffi::c_char,
    _name_len: usize,
    _up: *mut i32,
) -> hy_return {
    HY_ERROR
}

unsafe extern "C" fn remap_param_get(
    _txn: *mut hookyard_abi::hy_txn,
    _index: usize,
    _param: *mut hookyard_abi::hy_str,
) -> hy_return {
    HY_ERROR
}
