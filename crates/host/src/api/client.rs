//! The client connection: `client_addr_get`, `incoming_addr_get`, `client_scheme_get`,
//! `client_sni_get`, `client_alpn_get`, `client_tls_version_get` (read through the
//! transaction's session) and `client_protocol_get` (the transaction's own); ATS's
//! `TSHttpTxnClientAddrGet`, `TSHttpTxnIncomingAddrGet`, `TSVConnSslSniGet`.
//!
//! Every text stays valid until the transaction ends: addresses are written into the
//! transaction's state (`TxnState::keep`); the rest are static, or owned by the session's
//! `ClientConn`, which never changes and which the transaction's state keeps alive.

use hookyard_abi::{HY_ERROR, hy_return, hy_str, hy_txn, rules};
use http::Version;

use super::{guard, put, state, str_view};
use crate::ssn::ClientConn;
use crate::txn::TxnState;

/// What a function writes: text the transaction keeps, or a view that outlives it.
enum Text {
    Kept(String),
    View(hy_str),
}

/// Writes to `out` what `read` finds in the state of `txn`; `HY_ERROR` when it finds nothing.
///
/// # Safety
///
/// `txn` is null or a lent `TxnState`; `out` is null or writable.
unsafe fn answer(
    txn: *mut hy_txn,
    out: *mut hy_str,
    read: impl FnOnce(&TxnState) -> Option<Text>,
) -> hy_return {
    guard(HY_ERROR, || {
        // SAFETY: `txn` is null or a lent `TxnState` (the caller's contract).
        let Some(state) = (unsafe { state(txn) }) else { return HY_ERROR };
        if let Err(code) = rules::out(out.is_null()) {
            return code;
        }
        let view = match read(state) {
            Some(Text::Kept(text)) => state.keep(text),
            Some(Text::View(view)) => view,
            None => return HY_ERROR,
        };
        // SAFETY: `out` is writable (checked non-null above).
        unsafe { put(out, view) }
    })
}

/// Writes to `out` what `read` finds in the client connection of `txn`'s session.
///
/// # Safety
///
/// As for [`answer`].
unsafe fn conn_answer(
    txn: *mut hy_txn,
    out: *mut hy_str,
    read: impl FnOnce(&ClientConn) -> Option<Text>,
) -> hy_return {
    // SAFETY: forwarded.
    unsafe { answer(txn, out, |state| read(state.session_arc()?.conn()?)) }
}

/// A view of text the session's `ClientConn` owns: valid as long as the session, which the
/// transaction's state keeps alive.
fn owned(bytes: &[u8]) -> Text {
    Text::View(hy_str { ptr: bytes.as_ptr().cast(), len: bytes.len() })
}

pub(super) unsafe extern "C" fn client_addr_get(txn: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: the plugin's arguments, as the ABI lets it pass them.
    unsafe { conn_answer(txn, out, |conn| Some(Text::Kept(rules::conn_addr(conn.addr)))) }
}

pub(super) unsafe extern "C" fn incoming_addr_get(txn: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: as in `client_addr_get`.
    unsafe { conn_answer(txn, out, |conn| Some(Text::Kept(rules::conn_addr(conn.local)))) }
}

pub(super) unsafe extern "C" fn client_scheme_get(txn: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: as in `client_addr_get`.
    unsafe {
        conn_answer(txn, out, |conn| {
            Some(Text::View(str_view(rules::client_scheme(conn.tls.is_some()))))
        })
    }
}

pub(super) unsafe extern "C" fn client_sni_get(txn: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: as in `client_addr_get`.
    unsafe {
        conn_answer(txn, out, |conn| Some(owned(conn.tls.as_ref()?.sni.as_ref()?.as_bytes())))
    }
}

pub(super) unsafe extern "C" fn client_alpn_get(txn: *mut hy_txn, out: *mut hy_str) -> hy_return {
    // SAFETY: as in `client_addr_get`.
    unsafe { conn_answer(txn, out, |conn| Some(owned(conn.tls.as_ref()?.alpn.as_ref()?))) }
}

pub(super) unsafe extern "C" fn client_tls_version_get(
    txn: *mut hy_txn,
    out: *mut hy_str,
) -> hy_return {
    // SAFETY: as in `client_addr_get`.
    unsafe { conn_answer(txn, out, |conn| Some(Text::View(str_view(conn.tls.as_ref()?.version)))) }
}

pub(super) unsafe extern "C" fn client_protocol_get(
    txn: *mut hy_txn,
    out: *mut hy_str,
) -> hy_return {
    // SAFETY: as in `client_addr_get`.
    unsafe { answer(txn, out, |state| Some(Text::View(str_view(protocol(state.version)?)))) }
}

/// How `client_protocol_get` names an HTTP version.
fn protocol(version: Version) -> Option<&'static str> {
    match version {
        Version::HTTP_10 => Some("HTTP/1.0"),
        Version::HTTP_11 => Some("HTTP/1.1"),
        Version::HTTP_2 => Some("HTTP/2"),
        _ => None,
    }
}
