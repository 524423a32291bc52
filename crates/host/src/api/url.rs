//! The transaction's URLs: request, pristine, and the rule's (`hookyard.h`: URLs).

use std::ffi::c_char;

use hookyard_abi::rules;
use hookyard_abi::{
    self as abi, HY_ERROR, HY_SUCCESS, hy_return, hy_str, hy_txn, hy_url, hy_url_part,
};

use super::{bytes, guard, put, state};
use crate::txn::{TxnState, UrlParts};
use rules::UrlValue;

fn url_of(state: &TxnState, url: hy_url) -> Option<&UrlParts> {
    match url {
        abi::HY_URL_REQUEST => Some(&state.url),
        abi::HY_URL_PRISTINE => Some(&state.pristine),
        abi::HY_URL_REMAP_FROM => state.rule.as_ref().map(|r| &r.from),
        abi::HY_URL_REMAP_TO => state.rule.as_ref().map(|r| &r.to),
        _ => None,
    }
}

pub(super) unsafe extern "C" fn url_get(
    txn: *mut hy_txn,
    url: hy_url,
    part: hy_url_part,
    value: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        let checked = rules::url(url).and(rules::url_part(part)).and(rules::out(value.is_null()));
        if let Err(code) = checked {
            return code;
        }
        let Some(parts) = url_of(state, url) else { return HY_ERROR };
        let text = match part {
            abi::HY_URL_PART_SCHEME => parts.scheme.to_string(),
            abi::HY_URL_PART_HOST => parts.host.to_string(),
            abi::HY_URL_PART_PORT => parts.port.map(|p| p.to_string()).unwrap_or_default(),
            abi::HY_URL_PART_PATH => parts.path.to_string(),
            abi::HY_URL_PART_QUERY => parts.query.to_string(),
            _ => return HY_ERROR,
        };
        let view = state.keep(text);
        // SAFETY: `value` is null or writable.
        unsafe { put(value, view) }
    })
}

pub(super) unsafe extern "C" fn url_set(
    txn: *mut hy_txn,
    url: hy_url,
    part: hy_url_part,
    value: *const c_char,
    len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_set`.
        let (Some(state), Some(bytes)) = (unsafe { state(txn) }, unsafe { bytes(value, len) })
        else {
            return HY_ERROR;
        };
        let parts = &mut state.url;
        match rules::url_set(url, part, bytes) {
            Ok(UrlValue::Scheme(text)) => parts.scheme = text.into(),
            Ok(UrlValue::Host(text)) => parts.host = text.into(),
            Ok(UrlValue::Port(port)) => parts.port = port,
            Ok(UrlValue::Path(text)) => parts.path = text.into(),
            Ok(UrlValue::Query(text)) => parts.query = text.into(),
            Err(code) => return code,
        }
        HY_SUCCESS
    })
}

pub(super) unsafe extern "C" fn url_string_get(
    txn: *mut hy_txn,
    url: hy_url,
    value: *mut hy_str,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: as in `method_get`.
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if let Err(code) = rules::url(url).and(rules::out(value.is_null())) {
            return code;
        }
        let Some(parts) = url_of(state, url) else { return HY_ERROR };
        let text = parts.to_url_string();
        let view = state.keep(text);
        // SAFETY: `value` is null or writable.
        unsafe { put(value, view) }
    })
}
