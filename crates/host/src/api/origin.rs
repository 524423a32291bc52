//! The origin's address: `server_addr_get`, `server_addr_set` (ATS's `TSHttpTxnServerAddrGet`
//! and `TSHttpTxnServerAddrSet`).

use std::ffi::c_char;

use hookyard_abi::{HY_ERROR, HY_SUCCESS, hy_return, hy_str, hy_txn, rules};

use super::{bytes, guard, put, state};

pub(super) unsafe extern "C" fn server_addr_get(txn: *mut hy_txn, addr: *mut hy_str) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `txn` is null or a lent `TxnState` (module contract).
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if let Err(code) = rules::out(addr.is_null()) {
            return code;
        }
        let Some(server) = state.server_addr else { return HY_ERROR };
        let view = state.keep(server.to_string());
        // SAFETY: `addr` is null or writable.
        unsafe { put(addr, view) }
    })
}

pub(super) unsafe extern "C" fn server_addr_set(
    txn: *mut hy_txn,
    addr: *const c_char,
    len: usize,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `txn` is null or a lent `TxnState`; `addr` is null or `len` readable bytes.
        let (Some(state), Some(text)) = (unsafe { state(txn) }, unsafe { bytes(addr, len) }) else {
            return HY_ERROR;
        };
        let server = match rules::server_addr(text) {
            Ok(server) => server,
            Err(code) => return code,
        };
        if state.server_addr_fixed {
            return HY_ERROR;
        }
        state.server_addr = Some(server);
        HY_SUCCESS
    })
}
