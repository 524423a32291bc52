//! Global plugins (`plugin.yaml`): init with arguments, and beyond ATS done and reload
//! notifications, so global plugins reload like remap plugins.

use std::ffi::c_char;

use crate::api::{hy_api, hy_return};
use crate::layout::{define_aliases, define_entry_points};
use crate::remap::hy_reload_status;

define_aliases! {
    ALIASES;
    /// `hy_plugin_init`: once per load; `argv[0]` is the plugin path, then its params.
    pub type hy_plugin_init_fn = unsafe extern "C" fn(
        api: *const hy_api,
        argc: i32,
        argv: *mut *const c_char,
        errbuf: *mut c_char,
        errbuf_size: i32,
    ) -> hy_return;
    /// `hy_plugin_done`: when no configuration uses this version any more.
    pub type hy_plugin_done_fn = unsafe extern "C" fn();
    /// `hy_plugin_pre_config_reload`: before a configuration reload.
    pub type hy_plugin_pre_config_reload_fn = unsafe extern "C" fn();
    /// `hy_plugin_post_config_reload`: after a configuration load.
    pub type hy_plugin_post_config_reload_fn = unsafe extern "C" fn(status: hy_reload_status);
}

define_entry_points! {
    ENTRY_POINTS;
    hy_plugin_init: hy_plugin_init_fn,
    hy_plugin_done: hy_plugin_done_fn,
    hy_plugin_pre_config_reload: hy_plugin_pre_config_reload_fn,
    hy_plugin_post_config_reload: hy_plugin_post_config_reload_fn,
}
