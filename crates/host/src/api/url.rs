//! The transaction's URLs: request, pristine, and the rule's (`hookyard.h`: URLs).

use std::ffi::c_char;

use hookyard_abi::{
    self as abi, HY_ERROR, HY_SUCCESS, hy_return, hy_str, hy_txn, hy_url, hy_url_part,
};

use super::{bytes, guard, put, state};
use crate::txn::{TxnState, UrlParts};

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
        let Some(parts) = url_of(state, url) else { return HY_ERROR };
        let text = match part {
            abi::HY_URL_PART_SCHEME => parts.scheme.clone(),
            abi::HY_URL_PART_HOST => parts.host.clone(),
            abi::HY_URL_PART_PORT => parts.port.map(|p| p.to_string()).unwrap_or_default(),
            abi::HY_URL_PART_PATH => parts.path.clone(),
            abi::HY_URL_PART_QUERY => parts.query.clone(),
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
        let Ok(text) = std::str::from_utf8(bytes) else { return HY_ERROR };
        if url != abi::HY_URL_REQUEST || text.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return HY_ERROR;
        }
        let parts = &mut state.url;
        match part {
            abi::HY_URL_PART_SCHEME if matches!(text, "http" | "https") => {
                parts.scheme = text.to_owned()
            }
            abi::HY_URL_PART_HOST if !text.is_empty() && !text.contains(['/', '?', '#', '@']) => {
                parts.host = text.to_owned();
            }
            abi::HY_URL_PART_PORT if text.is_empty() => parts.port = None,
            abi::HY_URL_PART_PORT => match text.parse::<u16>() {
                Ok(port) if port > 0 => parts.port = Some(port),
                _ => return HY_ERROR,
            },
            abi::HY_URL_PART_PATH if text.starts_with('/') && !text.contains(['?', '#']) => {
                parts.path = text.to_owned();
            }
            abi::HY_URL_PART_QUERY if !text.contains('#') => parts.query = text.to_owned(),
            _ => return HY_ERROR,
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
        let Some(parts) = url_of(state, url) else { return HY_ERROR };
        let text = parts.to_url_string();
        let view = state.keep(text);
        // SAFETY: `value` is null or writable.
        unsafe { put(value, view) }
    })
}
