//! Logging and the plugin's own identity (`hookyard.h`: plugin and log).

use std::ffi::c_char;

use hookyard_abi::rules;
use hookyard_abi::{self as abi, HY_ERROR, HY_SUCCESS, hy_log_level, hy_plugin, hy_return, hy_str};

use super::{bytes, guard, plugin, put, str_view};

pub(super) unsafe extern "C" fn log_enabled(this: *mut hy_plugin, level: hy_log_level) -> i32 {
    guard(0, || {
        if this.is_null() {
            return 0;
        }
        i32::from(match rules::log_level(level) {
            abi::HY_LOG_ERROR => tracing::enabled!(tracing::Level::ERROR),
            abi::HY_LOG_WARN => tracing::enabled!(tracing::Level::WARN),
            abi::HY_LOG_INFO => tracing::enabled!(tracing::Level::INFO),
            _ => tracing::enabled!(tracing::Level::DEBUG),
        })
    })
}

pub(super) unsafe extern "C" fn log(
    this: *mut hy_plugin,
    level: hy_log_level,
    message: *const c_char,
    len: usize,
) {
    guard((), || {
        // SAFETY: `this` is null or the table's own plugin state (contract of `hy_api.plugin`).
        let Some(plugin) = (unsafe { plugin(this) }) else { return };
        // SAFETY: the plugin passes `len` readable bytes (or null with 0).
        let Some(bytes) = (unsafe { bytes(message, len) }) else { return };
        let message = String::from_utf8_lossy(bytes);
        let (name, version) = (plugin.name.as_str(), plugin.version.as_str());
        match rules::log_level(level) {
            abi::HY_LOG_ERROR => tracing::error!(plugin = name, version, "{message}"),
            abi::HY_LOG_WARN => tracing::warn!(plugin = name, version, "{message}"),
            abi::HY_LOG_INFO => tracing::info!(plugin = name, version, "{message}"),
            _ => tracing::debug!(plugin = name, version, "{message}"),
        }
    })
}

pub(super) unsafe extern "C" fn plugin_name_get(this: *mut hy_plugin, name: *mut hy_str) {
    guard((), || {
        // SAFETY: as in `log`.
        if let Some(plugin) = unsafe { plugin(this) } {
            // SAFETY: `name` is null or writable; the string lives as long as the table.
            unsafe { put(name, str_view(&plugin.name)) };
        }
    })
}

pub(super) unsafe extern "C" fn plugin_version_get(this: *mut hy_plugin, version: *mut hy_str) {
    guard((), || {
        // SAFETY: as in `log`.
        if let Some(plugin) = unsafe { plugin(this) } {
            // SAFETY: as in `plugin_name_get`.
            unsafe { put(version, str_view(&plugin.version)) };
        }
    })
}

pub(super) unsafe extern "C" fn plugin_dir_get(
    this: *mut hy_plugin,
    dir: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `this` is null or this host's plugin state (contract).
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        // SAFETY: `dir` is null (refused) or writable; the string lives as long as the state,
        // which outlives the plugin's done entry point.
        unsafe { put(dir, str_view(&plugin.dir)) }
    })
}

pub(super) unsafe extern "C" fn host_status_set(
    this: *mut hy_plugin,
    name: *const c_char,
    name_len: usize,
    up: i32,
    reason: *const c_char,
    reason_len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `this` is null or this host's plugin state (contract); the spans are readable
        // for their lengths or null (checked).
        let (Some(plugin), Some(name), Some(reason)) =
            (unsafe { plugin(this) }, unsafe { bytes(name, name_len) }, unsafe {
                bytes(reason, reason_len)
            })
        else {
            return HY_ERROR;
        };
        let (name, reason) = match rules::host_status_set(name, up, reason) {
            Ok(checked) => checked,
            Err(code) => return code,
        };
        let Some(hosts) = plugin.host_status() else { return HY_ERROR };
        let reason = reason.map(|r| format!("{}: {r}", plugin.name));
        if hosts.mark(name, reason.as_deref()) { HY_SUCCESS } else { HY_ERROR }
    })
}

pub(super) unsafe extern "C" fn host_status_get(
    this: *mut hy_plugin,
    name: *const c_char,
    name_len: usize,
    up: *mut i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `host_status_set`.
        let (Some(plugin), Some(name)) =
            (unsafe { plugin(this) }, unsafe { bytes(name, name_len) })
        else {
            return HY_ERROR;
        };
        let checked = rules::host_name(name).and_then(|n| rules::out(up.is_null()).map(|()| n));
        let name = match checked {
            Ok(name) => name,
            Err(code) => return code,
        };
        let Some(is_up) = plugin.host_status().and_then(|hosts| hosts.is_up(name)) else {
            return HY_ERROR;
        };
        // SAFETY: `up` is writable (checked non-null).
        unsafe { *up = i32::from(is_up) };
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn config_dir_get(
    this: *mut hy_plugin,
    dir: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `this` is null or this host's plugin state (contract).
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let Some(view) = plugin.config_dir() else { return HY_ERROR };
        // SAFETY: `dir` is null (refused) or writable; the view lives as long as the link.
        unsafe { put(dir, view) }
    })
}
