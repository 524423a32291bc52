//! `request_id`: a global plugin that gives every transaction an id, sends it to the origin in
//! a request header and returns it to the client in the same response header.
//!
//! ```yaml
//! # plugin.yaml
//! plugins:
//!   - path: request_id.so
//!     params: [header=X-Request-Id, skip=/healthz, priority=50]
//! ```
//!
//! It shows the pieces a global plugin is made of: a global hook (`READ_REQUEST_HDR`) that
//! registers a transaction hook (`SEND_RESPONSE_HDR`) for that transaction only; a transaction
//! user arg carrying the id from one hook to the other; and the priority API: the plugin lowers
//! its own priority (`priority=`), switches itself off for transactions it should not touch
//! (`skip=`), and inspects the callbacks its transaction hook runs among.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hookyard_sdk::{
    ArgKind, Continuation, Error, Event, GlobalPlugin, HookId, HookResult, Host, Msg, ReloadStatus,
    Txn, Url, UrlPart, UserArg,
};

/// What both hooks share.
struct Shared {
    name: String,
    header: String,
    skip: Option<String>,
    slot: UserArg,
    /// Tells ids of different loads apart.
    epoch: u32,
    next: AtomicU64,
}

impl Shared {
    fn id(&self, n: usize) -> String {
        format!("{:08x}-{n:06x}", self.epoch)
    }

    fn on_request(&self, txn: &mut Txn<'_>, on_response: &Continuation) -> Result<(), Error> {
        let path = txn.url(Url::Request, UrlPart::Path).unwrap_or("/");
        if self.skip.as_deref().is_some_and(|skip| path.starts_with(skip)) {
            // Nothing of this plugin runs for the rest of the transaction.
            return txn.set_plugin_enabled(&self.name, false);
        }
        let n = usize::try_from(self.next.fetch_add(1, Ordering::Relaxed)).unwrap_or(usize::MAX);
        txn.set_arg(self.slot, n)?;
        txn.set_header(Msg::ClientRequest, &self.header, self.id(n))?;
        let id = txn.add_hook(HookId::SendResponseHdr, on_response, None)?;
        let callbacks = txn.callbacks(HookId::SendResponseHdr)?;
        let position = callbacks.iter().position(|c| c.id == id);
        hookyard_sdk::debug!(
            "request_id: {} callbacks on SEND_RESPONSE_HDR, ours at {position:?}",
            callbacks.len()
        );
        Ok(())
    }

    fn on_response(&self, txn: &mut Txn<'_>) -> Result<(), Error> {
        match txn.arg(self.slot)? {
            0 => Ok(()),
            n => txn.set_header(Msg::ClientResponse, &self.header, self.id(n)),
        }
    }
}

/// The plugin's state; its continuations are destroyed when it is dropped at done.
struct RequestId {
    _on_request: Continuation,
    _on_response: Arc<Continuation>,
}

fn handle(what: &str, result: Result<(), Error>) -> HookResult {
    if let Err(err) = result {
        // A missing id is not worth failing the transaction for.
        hookyard_sdk::warn!("request_id: {what}: {err}");
    }
    HookResult::Continue
}

impl GlobalPlugin for RequestId {
    fn init(host: Host, args: &[&str]) -> Result<Self, Error> {
        let (mut header, mut skip) = ("X-Request-Id".to_owned(), None);
        for arg in args.iter().skip(1) {
            match arg.split_once('=') {
                Some(("header", h)) => h.clone_into(&mut header),
                Some(("skip", s)) => skip = Some(s.to_owned()),
                Some(("priority", p)) => host.set_priority(p.parse()?)?,
                _ => {
                    return Err(Error::new(format_args!(
                        "unknown argument `{arg}`; expected header=NAME, skip=PATH or priority=N"
                    )));
                }
            }
        }
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let shared = Arc::new(Shared {
            name: host.plugin_name(),
            header,
            skip,
            slot: host.reserve_arg(
                ArgKind::Txn,
                "request_id.id",
                "the transaction's request id",
            )?,
            epoch,
            next: AtomicU64::new(1),
        });
        let on_response = Arc::new(Continuation::new({
            let shared = Arc::clone(&shared);
            move |event| match event {
                Event::Txn(_, mut txn) => handle("response", shared.on_response(&mut txn)),
                _ => HookResult::Continue,
            }
        })?);
        let on_request = Continuation::new({
            let on_response = Arc::clone(&on_response);
            move |event| match event {
                Event::Txn(_, mut txn) => {
                    handle("request", shared.on_request(&mut txn, &on_response))
                }
                _ => HookResult::Continue,
            }
        })?;
        host.add_global_hook(HookId::ReadRequestHdr, &on_request, None)?;
        hookyard_sdk::info!("request_id: ready");
        Ok(RequestId { _on_request: on_request, _on_response: on_response })
    }

    fn post_config_reload(&self, status: ReloadStatus) {
        hookyard_sdk::debug!("request_id: configuration reloaded: {status:?}");
    }
}

hookyard_sdk::plugin! {
    name: "request_id",
    version: env!("CARGO_PKG_VERSION"),
    global: RequestId,
}
