//! What plugins add to what the operator sees (since 1.4): access log fields
//! (`log_field_set`), statistics (`stat_create`, `stat_increment`, `stat_set`, `stat_get`;
//! ATS's `TSStatCreate` family) and answers to operator messages (`msg_reply`).

use std::ffi::c_char;

use hookyard_abi::{
    HY_ERROR, HY_SUCCESS, hy_lifecycle_msg, hy_plugin, hy_return, hy_stat_kind, hy_txn, rules,
};

use super::{bytes, guard, plugin, put_i32, state};
use crate::message::MessageState;
use crate::stats::Stat;

pub(super) unsafe extern "C" fn log_field_set(
    txn: *mut hy_txn,
    name: *const c_char,
    name_len: usize,
    value: *const c_char,
    value_len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `txn` is null or a lent `TxnState` (the plugin's contract).
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        // SAFETY: the plugin passes readable (pointer, length) pairs, or NULL with 0.
        let (Some(name), Some(value)) =
            (unsafe { bytes(name, name_len) }, unsafe { bytes(value, value_len) })
        else {
            return HY_ERROR;
        };
        let at = state.log_fields.iter().position(|(n, _)| n.as_bytes() == name);
        match rules::log_field(name, value, state.log_fields.len(), at.is_some()) {
            Ok((name, value)) => {
                match at {
                    Some(at) => state.log_fields[at].1 = value.to_owned(),
                    None => state.log_fields.push((name.to_owned(), value.to_owned())),
                }
                HY_SUCCESS
            }
            Err(code) => code,
        }
    })
}

pub(super) unsafe extern "C" fn stat_create(
    this: *mut hy_plugin,
    name: *const c_char,
    name_len: usize,
    kind: hy_stat_kind,
    id: *mut i32,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `this` is null or the table's own plugin state.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        if rules::out(id.is_null()).is_err() {
            return HY_ERROR;
        }
        // SAFETY: as in `log_field_set`.
        let Some(name) = (unsafe { bytes(name, name_len) }) else { return HY_ERROR };
        let Ok(name) = rules::stat_create(name, kind) else { return HY_ERROR };
        let found = plugin
            .stats()
            .create(name, kind, |found, count| rules::stat_found(found, kind, count).is_ok());
        match found {
            // SAFETY: `id` is writable (checked non-null above).
            Some(found) => unsafe { put_i32(id, found) },
            None => HY_ERROR,
        }
    })
}

pub(super) unsafe extern "C" fn stat_increment(
    this: *mut hy_plugin,
    id: i32,
    amount: i64,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `stat_create`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let added = plugin
            .stats()
            .with(id, |stat| rules::stat_increment(stat.kind, amount).map(|()| stat.add(amount)));
        if added.is_some_and(|added| added.is_ok()) { HY_SUCCESS } else { HY_ERROR }
    })
}

pub(super) unsafe extern "C" fn stat_set(this: *mut hy_plugin, id: i32, value: i64) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `stat_create`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let set =
            plugin.stats().with(id, |stat| rules::stat_set(stat.kind).map(|()| stat.set(value)));
        if set.is_some_and(|set| set.is_ok()) { HY_SUCCESS } else { HY_ERROR }
    })
}

pub(super) unsafe extern "C" fn stat_get(
    this: *mut hy_plugin,
    id: i32,
    value: *mut i64,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `stat_create`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        let Some(now) = plugin.stats().with(id, Stat::get) else { return HY_ERROR };
        if rules::out(value.is_null()).is_err() {
            return HY_ERROR;
        }
        // SAFETY: `value` is writable (checked non-null above).
        unsafe { *value = now };
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn msg_reply(
    this: *mut hy_plugin,
    msg: *const hy_lifecycle_msg,
    text: *const c_char,
    len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `stat_create`.
        let Some(plugin) = (unsafe { plugin(this) }) else { return HY_ERROR };
        // SAFETY: `msg` is null or the message of the callback running (the plugin's
        // contract); `MessageState::of` checks its tag before anything else is read.
        let Some(message) = (unsafe { MessageState::of(msg) }) else { return HY_ERROR };
        // SAFETY: as in `log_field_set`.
        let Some(text) = (unsafe { bytes(text, len) }) else { return HY_ERROR };
        message.reply(&plugin.name, text)
    })
}
