//! `delay`: a global plugin that holds every request for a while before it goes on, by
//! deferring its `READ_REQUEST_HDR` hook and resuming it from a scheduled continuation.
//!
//! ```yaml
//! # plugin.yaml
//! plugins:
//!   - path: delay.so
//!     params: [delay_ms=20, header=X-Delayed-Ms]
//! ```
//!
//! It shows continuations: a hook handler that answers later (the transaction waits, no thread
//! blocks), and a one-shot continuation created inside that handler, on a host thread after the
//! delay, which marks the request and resumes it. While such a continuation is pending it keeps
//! the plugin's code loaded, even across a reload that dropped the plugin.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hookyard_sdk::{Continuation, Error, Event, GlobalPlugin, HookId, HookResult, Host, Msg, Txn};

struct Shared {
    delay: Duration,
    header: String,
    held: AtomicU64,
}

impl Shared {
    fn hold(self: &Arc<Self>, txn: &mut Txn<'_>) -> Result<(), Error> {
        let mut resume = txn.defer()?;
        let shared = Arc::clone(self);
        // If scheduling fails, the closure and its `Resume` are dropped, which fails the
        // transaction rather than leaving it hanging.
        hookyard_sdk::schedule(self.delay, move || {
            if let Some(mut txn) = resume.txn() {
                let ms = shared.delay.as_millis().to_string();
                if let Err(err) = txn.set_header(Msg::ClientRequest, &shared.header, ms) {
                    hookyard_sdk::warn!("delay: {err}");
                }
            }
            shared.held.fetch_add(1, Ordering::Relaxed);
            if let Err(err) = resume.resume(HookResult::Continue) {
                hookyard_sdk::error!("delay: {err}");
            }
        })
    }
}

/// The plugin's state; its hook's continuation is destroyed when it is dropped at done.
struct Delay {
    shared: Arc<Shared>,
    _hook: Continuation,
}

impl GlobalPlugin for Delay {
    fn init(host: Host, args: &[&str]) -> Result<Self, Error> {
        let (mut delay, mut header) = (Duration::from_millis(10), "X-Delayed-Ms".to_owned());
        for arg in args.iter().skip(1) {
            match arg.split_once('=') {
                Some(("delay_ms", ms)) => delay = Duration::from_millis(ms.parse()?),
                Some(("header", h)) => h.clone_into(&mut header),
                _ => {
                    return Err(Error::new(format_args!(
                        "unknown argument `{arg}`; expected delay_ms=N or header=NAME"
                    )));
                }
            }
        }
        let shared = Arc::new(Shared { delay, header, held: AtomicU64::new(0) });
        let hook = Continuation::new({
            let shared = Arc::clone(&shared);
            move |event| match event {
                Event::Txn(_, mut txn) => match shared.hold(&mut txn) {
                    // Deferred: this value is ignored, the scheduled continuation resumes.
                    Ok(()) => HookResult::Continue,
                    Err(err) => {
                        hookyard_sdk::error!("delay: {err}");
                        HookResult::Error
                    }
                },
                _ => HookResult::Continue,
            }
        })?;
        host.add_global_hook(HookId::ReadRequestHdr, &hook, None)?;
        Ok(Delay { shared, _hook: hook })
    }
}

impl Drop for Delay {
    fn drop(&mut self) {
        hookyard_sdk::info!(
            "delay: done after holding {} requests",
            self.shared.held.load(Ordering::Relaxed)
        );
    }
}

hookyard_sdk::plugin! {
    name: "delay",
    version: env!("CARGO_PKG_VERSION"),
    global: Delay,
}
