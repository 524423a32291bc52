//! Transactions and sessions, as a plugin sees them during one call into it.
//!
//! A [`Txn`] lives only for the call that received it (a remap call or a hook), so it cannot be
//! kept; string views it hands out borrow it, so a change through `&mut self` ends them, which
//! is the host's rule for how long a view stays valid. To answer a hook later, take a [`Resume`]
//! with [`Txn::defer`]: it can go to another thread, gives the transaction back while pending,
//! and resumes it exactly once (with [`HookResult::Error`] if dropped unresumed).

use std::cell::Cell;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::ptr::{self, NonNull};

use hookyard_abi::{self as abi, hy_api, hy_ssn, hy_txn};

use crate::cont::Continuation;
use crate::error::Error;
use crate::hook::{CallbackId, CallbackInfo, HookId, HookResult, Level};
use crate::host::{
    ArgKind, Host, UserArg, c_string, checked, copy_view, threshold_get, threshold_set, view,
};
use crate::message::{Msg, Url, UrlPart};

/// The signature of the client connection's host functions.
type ConnGet = unsafe extern "C" fn(*mut hy_txn, *mut abi::hy_str) -> abi::hy_return;

/// One HTTP transaction, for the duration of a call into the plugin.
pub struct Txn<'a> {
    ptr: NonNull<hy_txn>,
    api: &'static hy_api,
    /// Set when the call is a hook callback: whether it was deferred.
    deferred: Option<&'a Cell<bool>>,
    _call: PhantomData<&'a mut hy_txn>,
}

impl std::fmt::Debug for Txn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn").field("ptr", &self.ptr).finish_non_exhaustive()
    }
}

fn host_call(result: abi::hy_return, function: &str) -> Result<(), Error> {
    checked(result, function)
}

impl<'a> Txn<'a> {
    /// Wraps a transaction handle the host passed in.
    ///
    /// # Safety
    ///
    /// `ptr` is a live transaction the host lets this plugin use for `'a`.
    pub(crate) unsafe fn from_raw(
        ptr: *mut hy_txn,
        api: &'static hy_api,
        deferred: Option<&'a Cell<bool>>,
    ) -> Option<Txn<'a>> {
        NonNull::new(ptr).map(|ptr| Txn { ptr, api, deferred, _call: PhantomData })
    }

    fn raw(&self) -> *mut hy_txn {
        self.ptr.as_ptr()
    }

    /// The method of a request message.
    pub fn method(&self, msg: Msg) -> Option<&str> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: the transaction is live for `'a`; the view stays valid while `self` is borrowed
        // (changes need `&mut self`).
        unsafe {
            if (self.api.method_get)(self.raw(), msg.raw(), &mut out) != abi::HY_SUCCESS {
                return None;
            }
            std::str::from_utf8(view(&out)).ok()
        }
    }

    /// Sets the method of a request message.
    ///
    /// # Errors
    ///
    /// When the message is not there or the host refuses the method.
    pub fn set_method(&mut self, msg: Msg, method: &str) -> Result<(), Error> {
        // SAFETY: the transaction is live; the bytes are valid for the call.
        let r = unsafe {
            (self.api.method_set)(self.raw(), msg.raw(), method.as_ptr().cast(), method.len())
        };
        host_call(r, "method_set")
    }

    /// A part of a URL (`None` when the URL is not there yet, or not UTF-8).
    pub fn url(&self, url: Url, part: UrlPart) -> Option<&str> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: as in `method`.
        unsafe {
            if (self.api.url_get)(self.raw(), url.raw(), part.raw(), &mut out) != abi::HY_SUCCESS {
                return None;
            }
            std::str::from_utf8(view(&out)).ok()
        }
    }

    /// Sets a part of the request URL ([`Url::Request`]; the others are read-only).
    ///
    /// # Errors
    ///
    /// For a read-only URL or an invalid value (a bad port or scheme, a path without `/`).
    pub fn set_url(&mut self, url: Url, part: UrlPart, value: &str) -> Result<(), Error> {
        // SAFETY: the transaction is live; the bytes are valid for the call.
        let r = unsafe {
            (self.api.url_set)(
                self.raw(),
                url.raw(),
                part.raw(),
                value.as_ptr().cast(),
                value.len(),
            )
        };
        host_call(r, "url_set")
    }

    /// The whole URL, e.g. `http://example.com:8080/a?b`.
    pub fn url_string(&self, url: Url) -> Option<&str> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: as in `method`.
        unsafe {
            if (self.api.url_string_get)(self.raw(), url.raw(), &mut out) != abi::HY_SUCCESS {
                return None;
            }
            std::str::from_utf8(view(&out)).ok()
        }
    }

    /// The `index`th value of header `name` (ASCII case ignored).
    pub fn header_value(&self, msg: Msg, name: &str, index: usize) -> Option<&[u8]> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: as in `method`.
        unsafe {
            let r = (self.api.header_get)(
                self.raw(),
                msg.raw(),
                name.as_ptr().cast(),
                name.len(),
                index,
                &mut out,
            );
            (r == abi::HY_SUCCESS).then(|| view(&out))
        }
    }

    /// The first value of header `name`.
    pub fn header(&self, msg: Msg, name: &str) -> Option<&[u8]> {
        self.header_value(msg, name, 0)
    }

    /// The first value of header `name`, if it is UTF-8.
    pub fn header_str(&self, msg: Msg, name: &str) -> Option<&str> {
        self.header(msg, name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of header `name`, in order.
    pub fn header_values<'s>(&'s self, msg: Msg, name: &'s str) -> impl Iterator<Item = &'s [u8]> {
        (0..).map_while(move |i| self.header_value(msg, name, i))
    }

    /// Every field of a message, in order, as (name, value).
    pub fn headers(&self, msg: Msg) -> impl Iterator<Item = (&[u8], &[u8])> {
        (0..).map_while(move |i| {
            let (mut name, mut value) = (abi::hy_str::EMPTY, abi::hy_str::EMPTY);
            // SAFETY: as in `method`.
            unsafe {
                let r =
                    (self.api.header_field_get)(self.raw(), msg.raw(), i, &mut name, &mut value);
                (r == abi::HY_SUCCESS).then(|| (view(&name), view(&value)))
            }
        })
    }

    /// Replaces every field `name` with one field `name: value`.
    ///
    /// # Errors
    ///
    /// When the message is not there or the host refuses the field.
    pub fn set_header(
        &mut self,
        msg: Msg,
        name: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        let value = value.as_ref();
        // SAFETY: the transaction is live; the bytes are valid for the call.
        let r = unsafe {
            (self.api.header_set)(
                self.raw(),
                msg.raw(),
                name.as_ptr().cast(),
                name.len(),
                value.as_ptr().cast(),
                value.len(),
            )
        };
        host_call(r, "header_set")
    }

    /// Appends a field `name: value`.
    ///
    /// # Errors
    ///
    /// When the message is not there or the host refuses the field.
    pub fn add_header(
        &mut self,
        msg: Msg,
        name: &str,
        value: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        let value = value.as_ref();
        // SAFETY: as in `set_header`.
        let r = unsafe {
            (self.api.header_add)(
                self.raw(),
                msg.raw(),
                name.as_ptr().cast(),
                name.len(),
                value.as_ptr().cast(),
                value.len(),
            )
        };
        host_call(r, "header_add")
    }

    /// Removes every field `name` (no error when there is none).
    ///
    /// # Errors
    ///
    /// When the message is not there.
    pub fn remove_header(&mut self, msg: Msg, name: &str) -> Result<(), Error> {
        // SAFETY: as in `set_header`.
        let r = unsafe {
            (self.api.header_remove)(self.raw(), msg.raw(), name.as_ptr().cast(), name.len())
        };
        host_call(r, "header_remove")
    }

    /// The status code of a response message.
    pub fn status(&self, msg: Msg) -> Option<u16> {
        let mut status = 0;
        // SAFETY: the transaction is live; valid out-parameter.
        let r = unsafe { (self.api.status_get)(self.raw(), msg.raw(), &mut status) };
        (r == abi::HY_SUCCESS).then(|| u16::try_from(status).ok()).flatten()
    }

    /// Sets the status code of a response message.
    ///
    /// # Errors
    ///
    /// When the message is not there or the code is not 200-999 (a 1xx is no final response).
    pub fn set_status(&mut self, msg: Msg, status: u16) -> Result<(), Error> {
        // SAFETY: the transaction is live.
        let r = unsafe { (self.api.status_set)(self.raw(), msg.raw(), i32::from(status)) };
        host_call(r, "status_set")
    }

    /// The reason phrase of a response message (since ABI 1.5): the origin's or one a plugin
    /// set, else the status's standard one.
    pub fn reason(&self, msg: Msg) -> Option<&[u8]> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: the transaction is live; the view is valid until the message changes, which
        // needs `&mut self`.
        unsafe {
            let r = (self.api.reason_get)(self.raw(), msg.raw(), &mut out);
            (r == abi::HY_SUCCESS).then(|| view(&out))
        }
    }

    /// Sets the reason phrase of a response message (since ABI 1.5; `""`: the status's
    /// standard one). HTTP/2 clients never see one.
    ///
    /// # Errors
    ///
    /// When the message is not there, or the phrase has CR, LF or another control byte, or is
    /// longer than 256 bytes.
    pub fn set_reason(&mut self, msg: Msg, reason: &str) -> Result<(), Error> {
        // SAFETY: the transaction is live; the span is readable.
        let r = unsafe {
            (self.api.reason_set)(self.raw(), msg.raw(), reason.as_ptr().cast(), reason.len())
        };
        host_call(r, "reason_set")
    }

    /// In `do_remap` (since ABI 1.5): argument `index` of the running instance, as
    /// `new_instance` got them (0 the rule's from URL, 1 its to URL, then the `@pparam=` values);
    /// `None` past the last, or outside `do_remap`.
    pub fn remap_param(&self, index: usize) -> Option<&str> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: the transaction is live; the view lives while do_remap runs, which this
        // borrow does not outlast.
        unsafe {
            let r = (self.api.remap_param_get)(self.raw(), index, &mut out);
            (r == abi::HY_SUCCESS).then(|| std::str::from_utf8(view(&out)).ok()).flatten()
        }
    }

    /// The address the transaction connects to: from `OS_DNS` on (the origin host resolved),
    /// or once [`Txn::set_server_addr`] set it.
    pub fn server_addr(&self) -> Option<std::net::SocketAddr> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: the transaction is live; the view is read at once.
        unsafe {
            if (self.api.server_addr_get)(self.raw(), &mut out) != abi::HY_SUCCESS {
                return None;
            }
            std::str::from_utf8(view(&out)).ok()?.parse().ok()
        }
    }

    /// Connects the transaction to `addr` instead of what the origin host resolves to (the
    /// `Host` field is unchanged); ATS's `TSHttpTxnServerAddrSet`.
    ///
    /// # Errors
    ///
    /// After `OS_DNS`.
    pub fn set_server_addr(&mut self, addr: std::net::SocketAddr) -> Result<(), Error> {
        let text = addr.to_string();
        // SAFETY: the transaction is live; the text is read during the call.
        let r = unsafe { (self.api.server_addr_set)(self.raw(), text.as_ptr().cast(), text.len()) };
        host_call(r, "server_addr_set")
    }

    /// The client's address; a v4-mapped IPv6 client as IPv4 (since ABI 1.3). ATS's
    /// `TSHttpTxnClientAddrGet`.
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.conn_str(self.api.client_addr_get)?.parse().ok()
    }

    /// The proxy's address the client connected to (since ABI 1.3). ATS's
    /// `TSHttpTxnIncomingAddrGet`.
    pub fn incoming_addr(&self) -> Option<SocketAddr> {
        self.conn_str(self.api.incoming_addr_get)?.parse().ok()
    }

    /// `https` when the client connection is TLS, else `http` (since ABI 1.3).
    pub fn client_scheme(&self) -> Option<&str> {
        self.conn_str(self.api.client_scheme_get)
    }

    /// The SNI name the client sent, lowercase; `None` on a plain connection or when the
    /// client sent none (since ABI 1.3).
    pub fn client_sni(&self) -> Option<&str> {
        self.conn_str(self.api.client_sni_get)
    }

    /// The ALPN protocol agreed on with the client (`h2`, `http/1.1`); `None` when none was, on
    /// a plain connection or with a TLS client that offered none (since ABI 1.3).
    pub fn client_alpn(&self) -> Option<&[u8]> {
        self.conn_bytes(self.api.client_alpn_get)
    }

    /// The client connection's TLS version, `TLSv1.2` or `TLSv1.3`; `None` on a plain
    /// connection (since ABI 1.3).
    pub fn client_tls_version(&self) -> Option<&str> {
        self.conn_str(self.api.client_tls_version_get)
    }

    /// The HTTP version the request arrived in: `HTTP/1.0`, `HTTP/1.1` or `HTTP/2` (since ABI
    /// 1.3).
    pub fn client_protocol(&self) -> Option<&str> {
        self.conn_str(self.api.client_protocol_get)
    }

    /// Sets field `name` of the transaction's access log line to `value` (since ABI 1.4): shown
    /// as `%<{name}plf>` in a `format_string` and under `plugin` in JSON lines. Any hook, TXN_CLOSE
    /// included.
    ///
    /// # Errors
    ///
    /// The host refused: a name not of 1 to 64 bytes of `[A-Za-z0-9_.-]`, a value over 4096
    /// bytes, or a 33rd field.
    pub fn log_field_set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        // SAFETY: the transaction is live; both strings are readable for their lengths.
        let result = unsafe {
            (self.api.log_field_set)(
                self.raw(),
                name.as_ptr().cast(),
                name.len(),
                value.as_ptr().cast(),
                value.len(),
            )
        };
        checked(result, "log_field_set")
    }

    /// What one of the client connection's functions writes (`None`: the host has nothing).
    fn conn_bytes(&self, get: ConnGet) -> Option<&[u8]> {
        let mut out = abi::hy_str::EMPTY;
        // SAFETY: the transaction is live; the view stays valid until the transaction ends,
        // which is after `self` is gone.
        unsafe { (get(self.raw(), &mut out) == abi::HY_SUCCESS).then(|| view(&out)) }
    }

    fn conn_str(&self, get: ConnGet) -> Option<&str> {
        std::str::from_utf8(self.conn_bytes(get)?).ok()
    }

    /// Answers the client with `status` and `body` instead of going to the origin. Afterwards
    /// [`Msg::ClientResponse`] exists and can be edited (to add `Location`, say).
    ///
    /// # Errors
    ///
    /// After `POST_REMAP`, or for a status outside 200-999 (a 1xx is no final response).
    pub fn respond(&mut self, status: u16, body: impl AsRef<[u8]>) -> Result<(), Error> {
        let body = body.as_ref();
        // SAFETY: the transaction is live; the body is copied by the host.
        let r = unsafe {
            (self.api.direct_response)(
                self.raw(),
                i32::from(status),
                body.as_ptr().cast(),
                body.len(),
            )
        };
        host_call(r, "direct_response")
    }

    /// The session this transaction belongs to.
    pub fn session(&self) -> Option<Ssn<'_>> {
        // SAFETY: the transaction is live; the session outlives it.
        let ssn = unsafe { (self.api.txn_ssn_get)(self.raw()) };
        NonNull::new(ssn).map(|ptr| Ssn { ptr, api: self.api, deferred: None, _call: PhantomData })
    }

    /// Registers `cont` on `hook` for this transaction only, with `priority` (`None`: the
    /// plugin's own).
    ///
    /// # Errors
    ///
    /// For a lifecycle hook, a priority above the plugin's ceiling, or a hook already past.
    pub fn add_hook(
        &mut self,
        hook: HookId,
        cont: &Continuation,
        priority: Option<i32>,
    ) -> Result<CallbackId, Error> {
        add_hook(self.api, Level::Transaction, self.raw().cast(), hook, cont, priority)
    }

    /// Adds `transform` of `kind` on `body` (since ABI 1.5), in priority order with others
    /// (`None`: the plugin's own priority). Allowed from a hook before that body starts: a
    /// request body's up to `SEND_REQUEST_HDR`, a response body's up to `SEND_RESPONSE_HDR`.
    ///
    /// # Errors
    ///
    /// When the body started already, the transaction was answered directly, or the priority
    /// is above the plugin's ceiling.
    pub fn add_transform(
        &mut self,
        body: crate::BodyKind,
        kind: crate::TransformKind,
        priority: Option<i32>,
        transform: impl crate::Transform,
    ) -> Result<(), Error> {
        // SAFETY: the transaction is lent for this call.
        unsafe {
            crate::cont::add_transform(
                self.api,
                self.raw(),
                body,
                kind,
                priority,
                Box::new(transform),
            )
        }
    }

    /// The value of a transaction slot (0 when unset).
    ///
    /// # Errors
    ///
    /// When `arg` is not a transaction slot.
    pub fn arg(&self, arg: UserArg) -> Result<usize, Error> {
        arg_get(self.api, self.raw().cast(), arg.expect(ArgKind::Txn)?)
    }

    /// Sets the value of a transaction slot.
    ///
    /// # Errors
    ///
    /// When `arg` is not a transaction slot.
    pub fn set_arg(&mut self, arg: UserArg, value: usize) -> Result<(), Error> {
        arg_set(self.api, self.raw().cast(), arg.expect(ArgKind::Txn)?, value)
    }

    /// Switches every callback of `plugin` on or off for this transaction (this plugin itself,
    /// or a plugin whose ceiling is below this plugin's).
    ///
    /// # Errors
    ///
    /// When this plugin may not.
    pub fn set_plugin_enabled(&mut self, plugin: &str, enabled: bool) -> Result<(), Error> {
        plugin_enable_set(self.api, Level::Transaction, self.raw().cast(), plugin, enabled)
    }

    /// Runs `first`'s callbacks before `then`'s on `hook` (`None`: every hook) for this
    /// transaction; `enabled: false` takes such a constraint away (since ABI 1.2). Each plugin
    /// must be this plugin or one whose ceiling is below this plugin's.
    ///
    /// # Errors
    ///
    /// When this plugin may not, a name is unknown, or the constraint would close a cycle.
    pub fn set_order(
        &mut self,
        first: &str,
        then: &str,
        hook: Option<HookId>,
        enabled: bool,
    ) -> Result<(), Error> {
        order_set(self.api, Level::Transaction, self.raw().cast(), [first, then], hook, enabled)
    }

    /// The threshold set for this transaction for `hook` (`None`: for every hook).
    pub fn threshold(&self, hook: Option<HookId>) -> Option<i32> {
        threshold_get(self.api, abi::HY_HOOK_LEVEL_TXN, self.raw().cast(), hook)
    }

    /// Sets (`Some`) or clears (`None`) this transaction's threshold for `hook` (`None`: every
    /// hook): callbacks with a lower priority are skipped, except on cleanup hooks.
    ///
    /// # Errors
    ///
    /// Above the plugin's ceiling.
    pub fn set_threshold(
        &mut self,
        hook: Option<HookId>,
        threshold: Option<i32>,
    ) -> Result<(), Error> {
        threshold_set(self.api, abi::HY_HOOK_LEVEL_TXN, self.raw().cast(), hook, threshold)
    }

    /// The callbacks `hook` would run for this transaction, in order.
    ///
    /// # Errors
    ///
    /// When the host refuses.
    pub fn callbacks(&self, hook: HookId) -> Result<Vec<CallbackInfo>, Error> {
        let mut count = 0;
        // SAFETY: capacity 0 with a NULL array asks for the count only.
        let r = unsafe {
            (self.api.callback_list)(self.raw(), hook.raw(), ptr::null_mut(), 0, &mut count)
        };
        host_call(r, "callback_list")?;
        let empty = abi::hy_callback_info {
            id: 0,
            plugin: abi::hy_str::EMPTY,
            hook: 0,
            level: 0,
            priority: 0,
            enabled: 0,
        };
        let mut infos = vec![empty; count];
        let mut filled = 0;
        // SAFETY: `infos` has room for `count` entries; the host writes at most that many; the
        // plugin names are views copied before this call returns.
        unsafe {
            let r = (self.api.callback_list)(
                self.raw(),
                hook.raw(),
                infos.as_mut_ptr(),
                count,
                &mut filled,
            );
            host_call(r, "callback_list")?;
            infos.truncate(filled.min(count));
            Ok(infos
                .into_iter()
                .map(|i| CallbackInfo {
                    id: CallbackId(i.id),
                    plugin: copy_view(i.plugin),
                    hook: HookId::from_raw(i.hook),
                    level: Level::from_raw(i.level),
                    priority: i.priority,
                    enabled: i.enabled != 0,
                })
                .collect())
        }
    }

    /// Changes a callback's priority for this transaction.
    ///
    /// # Errors
    ///
    /// When the callback's priority or the new one is above this plugin's ceiling.
    pub fn set_callback_priority(
        &mut self,
        hook: HookId,
        id: CallbackId,
        priority: i32,
    ) -> Result<(), Error> {
        // SAFETY: the transaction is live and matches the level.
        let r = unsafe {
            (self.api.callback_priority_set)(
                self.api.plugin,
                abi::HY_HOOK_LEVEL_TXN,
                self.raw().cast(),
                hook.raw(),
                id.0,
                priority,
            )
        };
        host_call(r, "callback_priority_set")
    }

    /// Switches a callback on or off for this transaction.
    ///
    /// # Errors
    ///
    /// When the callback's priority is above this plugin's ceiling.
    pub fn set_callback_enabled(
        &mut self,
        hook: HookId,
        id: CallbackId,
        enabled: bool,
    ) -> Result<(), Error> {
        // SAFETY: the transaction is live and matches the level.
        let r = unsafe {
            (self.api.callback_enable_set)(
                self.api.plugin,
                abi::HY_HOOK_LEVEL_TXN,
                self.raw().cast(),
                hook.raw(),
                id.0,
                i32::from(enabled),
            )
        };
        host_call(r, "callback_enable_set")
    }

    /// Removes a callback for this transaction.
    ///
    /// # Errors
    ///
    /// When the callback's priority is above this plugin's ceiling.
    pub fn remove_callback(&mut self, hook: HookId, id: CallbackId) -> Result<(), Error> {
        // SAFETY: the transaction is live and matches the level.
        let r = unsafe {
            (self.api.callback_remove)(
                self.api.plugin,
                abi::HY_HOOK_LEVEL_TXN,
                self.raw().cast(),
                hook.raw(),
                id.0,
            )
        };
        host_call(r, "callback_remove")
    }

    /// Answers the current hook later: the hook callback's own return value is then ignored,
    /// and the transaction waits until the returned [`Resume`] resumes it.
    ///
    /// # Errors
    ///
    /// Outside a hook callback (in `do_remap`, say), or when already deferred.
    pub fn defer(&mut self) -> Result<Resume, Error> {
        let deferred = self.deferred.ok_or_else(|| Error::new("only a hook callback can defer"))?;
        if deferred.replace(true) {
            return Err(Error::new("this hook callback already deferred"));
        }
        Ok(Resume { target: Target::Txn(self.ptr), api: self.api, done: false })
    }
}

/// One client session, for the duration of a call into the plugin.
pub struct Ssn<'a> {
    ptr: NonNull<hy_ssn>,
    api: &'static hy_api,
    deferred: Option<&'a Cell<bool>>,
    _call: PhantomData<&'a mut hy_ssn>,
}

impl std::fmt::Debug for Ssn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssn").field("ptr", &self.ptr).finish_non_exhaustive()
    }
}

impl<'a> Ssn<'a> {
    /// Wraps a session handle the host passed in.
    ///
    /// # Safety
    ///
    /// `ptr` is a live session the host lets this plugin use for `'a`.
    pub(crate) unsafe fn from_raw(
        ptr: *mut hy_ssn,
        api: &'static hy_api,
        deferred: Option<&'a Cell<bool>>,
    ) -> Option<Ssn<'a>> {
        NonNull::new(ptr).map(|ptr| Ssn { ptr, api, deferred, _call: PhantomData })
    }

    fn object(&self) -> *mut c_void {
        self.ptr.as_ptr().cast()
    }

    /// Registers `cont` on `hook` for every transaction of this session.
    ///
    /// # Errors
    ///
    /// For a lifecycle hook or a priority above the plugin's ceiling.
    pub fn add_hook(
        &mut self,
        hook: HookId,
        cont: &Continuation,
        priority: Option<i32>,
    ) -> Result<CallbackId, Error> {
        add_hook(self.api, Level::Session, self.object(), hook, cont, priority)
    }

    /// The value of a session or connection slot (0 when unset).
    ///
    /// # Errors
    ///
    /// When `arg` is not a session or connection slot.
    pub fn arg(&self, arg: UserArg) -> Result<usize, Error> {
        let index = arg.expect(ArgKind::Ssn).or_else(|_| arg.expect(ArgKind::Conn))?;
        arg_get(self.api, self.object(), index)
    }

    /// Sets the value of a session or connection slot.
    ///
    /// # Errors
    ///
    /// When `arg` is not a session or connection slot.
    pub fn set_arg(&mut self, arg: UserArg, value: usize) -> Result<(), Error> {
        let index = arg.expect(ArgKind::Ssn).or_else(|_| arg.expect(ArgKind::Conn))?;
        arg_set(self.api, self.object(), index, value)
    }

    /// Switches every callback of `plugin` on or off for this session's transactions.
    ///
    /// # Errors
    ///
    /// When this plugin may not.
    pub fn set_plugin_enabled(&mut self, plugin: &str, enabled: bool) -> Result<(), Error> {
        plugin_enable_set(self.api, Level::Session, self.object(), plugin, enabled)
    }

    /// Runs `first`'s callbacks before `then`'s on `hook` (`None`: every hook) for this
    /// session's transactions; `enabled: false` takes such a constraint away (since ABI 1.2).
    ///
    /// # Errors
    ///
    /// As for [`Txn::set_order`].
    pub fn set_order(
        &mut self,
        first: &str,
        then: &str,
        hook: Option<HookId>,
        enabled: bool,
    ) -> Result<(), Error> {
        order_set(self.api, Level::Session, self.object(), [first, then], hook, enabled)
    }

    /// Sets (`Some`) or clears (`None`) this session's threshold for `hook` (`None`: every hook).
    ///
    /// # Errors
    ///
    /// Above the plugin's ceiling.
    pub fn set_threshold(
        &mut self,
        hook: Option<HookId>,
        threshold: Option<i32>,
    ) -> Result<(), Error> {
        threshold_set(self.api, abi::HY_HOOK_LEVEL_SESSION, self.object(), hook, threshold)
    }

    /// Answers the current session hook later (see [`Txn::defer`]).
    ///
    /// # Errors
    ///
    /// Outside a session hook callback, or when already deferred.
    pub fn defer(&mut self) -> Result<Resume, Error> {
        let deferred = self.deferred.ok_or_else(|| Error::new("only a hook callback can defer"))?;
        if deferred.replace(true) {
            return Err(Error::new("this hook callback already deferred"));
        }
        Ok(Resume { target: Target::Ssn(self.ptr), api: self.api, done: false })
    }
}

#[derive(Clone, Copy)]
enum Target {
    Txn(NonNull<hy_txn>),
    Ssn(NonNull<hy_ssn>),
}

/// A deferred hook callback: resume it, from any thread, exactly once. Dropping it unresumed
/// resumes with [`HookResult::Error`] and logs, so a transaction never hangs.
#[must_use = "a deferred transaction waits until it is resumed"]
pub struct Resume {
    target: Target,
    api: &'static hy_api,
    done: bool,
}

impl std::fmt::Debug for Resume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resume").field("done", &self.done).finish_non_exhaustive()
    }
}

// SAFETY: the host allows `txn_resume`/`ssn_resume`, and using a pending transaction, from any
// thread; `Resume` is not `Sync` and hands out the transaction only through `&mut self`.
unsafe impl Send for Resume {}

impl Resume {
    /// The pending transaction (the host allows using it until it is resumed).
    pub fn txn(&mut self) -> Option<Txn<'_>> {
        match self.target {
            // SAFETY: the transaction is pending on this plugin's hook until `resume`, which
            // needs `self` by value, so it is live for the borrow.
            Target::Txn(ptr) => unsafe { Txn::from_raw(ptr.as_ptr(), self.api, None) },
            Target::Ssn(_) => None,
        }
    }

    /// Ends the deferred callback with `result`.
    ///
    /// # Errors
    ///
    /// When the host refuses (it was already resumed by other means).
    pub fn resume(mut self, result: HookResult) -> Result<(), Error> {
        self.done = true;
        self.send(result)
    }

    fn send(&self, result: HookResult) -> Result<(), Error> {
        // SAFETY: the target is pending on this plugin's hook; resuming ends that.
        let r = unsafe {
            match self.target {
                Target::Txn(ptr) => (self.api.txn_resume)(ptr.as_ptr(), result.raw()),
                Target::Ssn(ptr) => (self.api.ssn_resume)(ptr.as_ptr(), result.raw()),
            }
        };
        host_call(r, "txn_resume")
    }
}

impl Drop for Resume {
    fn drop(&mut self) {
        if !self.done {
            crate::__log(
                crate::LogLevel::Error,
                format_args!("a deferred hook was dropped without resuming; failing it"),
            );
            let _ = self.send(HookResult::Error);
        }
    }
}

fn add_hook(
    api: &hy_api,
    level: Level,
    object: *mut c_void,
    hook: HookId,
    cont: &Continuation,
    priority: Option<i32>,
) -> Result<CallbackId, Error> {
    let mut id = 0;
    // SAFETY: `object` matches `level` (the callers pass their own handle); the continuation is
    // live while borrowed; valid out-parameter.
    let r = unsafe {
        (api.hook_add)(
            level.raw(),
            object,
            hook.raw(),
            cont.raw(),
            priority.unwrap_or(abi::HY_PRIORITY_DEFAULT),
            &mut id,
        )
    };
    host_call(r, "hook_add")?;
    Ok(CallbackId(id))
}

impl Host {
    /// Registers `cont` on `hook` for every session and transaction of the configuration
    /// generation, with `priority` (`None`: the plugin's own).
    ///
    /// # Errors
    ///
    /// For a priority above the plugin's ceiling.
    pub fn add_global_hook(
        self,
        hook: HookId,
        cont: &Continuation,
        priority: Option<i32>,
    ) -> Result<CallbackId, Error> {
        add_hook(self.api, Level::Global, ptr::null_mut(), hook, cont, priority)
    }
}

fn arg_get(api: &hy_api, object: *mut c_void, index: i32) -> Result<usize, Error> {
    let mut value = ptr::null_mut();
    // SAFETY: the object is live and of the index's kind (checked by the caller); valid
    // out-parameter.
    let r = unsafe { (api.user_arg_get)(object, index, &mut value) };
    host_call(r, "user_arg_get")?;
    Ok(value as usize)
}

fn arg_set(api: &hy_api, object: *mut c_void, index: i32, value: usize) -> Result<(), Error> {
    // SAFETY: as in `arg_get`; the value is opaque to the host.
    let r = unsafe { (api.user_arg_set)(object, index, ptr::without_provenance_mut(value)) };
    host_call(r, "user_arg_set")
}

fn order_set(
    api: &hy_api,
    level: Level,
    object: *mut c_void,
    [first, then]: [&str; 2],
    hook: Option<HookId>,
    enabled: bool,
) -> Result<(), Error> {
    let hook = hook.map_or(abi::HY_HOOK_ANY, HookId::raw);
    // SAFETY: the object is live and matches the level; the names are valid for the call.
    let r = unsafe {
        (api.order_set)(
            api.plugin,
            level.raw(),
            object,
            hook,
            first.as_ptr().cast(),
            first.len(),
            then.as_ptr().cast(),
            then.len(),
            i32::from(enabled),
        )
    };
    host_call(r, "order_set")
}

fn plugin_enable_set(
    api: &hy_api,
    level: Level,
    object: *mut c_void,
    plugin: &str,
    enabled: bool,
) -> Result<(), Error> {
    let _ = c_string(plugin, "plugin name")?;
    // SAFETY: the object is live and matches the level; the name is valid for the call.
    let r = unsafe {
        (api.plugin_enable_set)(
            api.plugin,
            level.raw(),
            object,
            plugin.as_ptr().cast(),
            plugin.len(),
            i32::from(enabled),
        )
    };
    host_call(r, "plugin_enable_set")
}
