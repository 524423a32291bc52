//! `body_hash`: a global plugin that logs the SHA-256 of every response body (at `info`), as a
//! read-only body transform (ABI 1.5): the proxy forwards each chunk without copying it.
//!
//! ```yaml
//! # plugin.yaml
//! plugins:
//!   - path: body_hash.so
//! ```
//!
//! A line reads `body_hash: GET http://site/a sha256=HEX bytes=N`; a body that did not end
//! (the client or the origin left) logs `incomplete` instead of a digest.
#![forbid(unsafe_code)]

use std::fmt::Write as _;

use hookyard_sdk::{
    BodyKind, Chunk, Continuation, Error, Event, GlobalPlugin, HookId, HookResult, Host, Msg,
    Transform, TransformKind, Txn, Url,
};
use sha2::{Digest, Sha256};

/// One body's digest so far.
struct Hash {
    what: String,
    sha: Sha256,
    bytes: u64,
    ended: bool,
}

impl Transform for Hash {
    fn on_chunk(&mut self, chunk: &mut Chunk<'_>) -> Result<(), Error> {
        self.sha.update(chunk.data());
        self.bytes += chunk.data().len() as u64;
        Ok(())
    }

    fn on_end(&mut self, _: &mut Chunk<'_>) -> Result<(), Error> {
        self.ended = true;
        Ok(())
    }

    fn on_close(&mut self) {
        if !self.ended {
            hookyard_sdk::info!("body_hash: {} incomplete bytes={}", self.what, self.bytes);
            return;
        }
        let digest = std::mem::take(&mut self.sha).finalize();
        let mut hex = String::with_capacity(64);
        for byte in digest {
            let _ = write!(hex, "{byte:02x}");
        }
        hookyard_sdk::info!("body_hash: {} sha256={hex} bytes={}", self.what, self.bytes);
    }
}

fn on_response(txn: &mut Txn<'_>) -> Result<(), Error> {
    let method = txn.method(Msg::ClientRequest).unwrap_or("-");
    let url = txn.url_string(Url::Pristine).unwrap_or("-");
    let what = format!("{method} {url}");
    let hash = Hash { what, sha: Sha256::new(), bytes: 0, ended: false };
    txn.add_transform(BodyKind::Response, TransformKind::Inspect, None, hash)
}

/// The plugin's state; its continuation goes when it is dropped at done.
struct BodyHash {
    _on_response: Continuation,
}

impl GlobalPlugin for BodyHash {
    fn init(host: Host, args: &[&str]) -> Result<Self, Error> {
        if let Some(arg) = args.get(1) {
            return Err(Error::new(format_args!("body_hash takes no arguments, got `{arg}`")));
        }
        let cont = Continuation::new(|event| match event {
            Event::Txn(_, mut txn) => {
                if let Err(e) = on_response(&mut txn) {
                    hookyard_sdk::warn!("body_hash: {e}");
                }
                HookResult::Continue
            }
            _ => HookResult::Continue,
        })?;
        host.add_global_hook(HookId::SendResponseHdr, &cont, None)?;
        Ok(BodyHash { _on_response: cont })
    }
}

hookyard_sdk::plugin! {
    name: "body_hash",
    version: env!("CARGO_PKG_VERSION"),
    global: BodyHash,
}
