//! `substitute`: a global plugin that replaces single bytes of text responses in place, as a
//! length-preserving body transform (ABI 1.5): the body keeps its `Content-Length`, and the
//! proxy copies a chunk only when its buffer is shared.
//!
//! ```yaml
//! # plugin.yaml
//! plugins:
//!   - path: substitute.so
//!     params: ["a=4", "e=3", "o=0"]   # each FROM=TO, one byte each
//! ```
#![forbid(unsafe_code)]

use std::sync::Arc;

use hookyard_sdk::{
    BodyKind, Chunk, Continuation, Error, Event, GlobalPlugin, HookId, HookResult, Host, Msg,
    Transform, TransformKind, Txn,
};

/// What each byte becomes.
struct Table([u8; 256]);

impl Table {
    fn on_response(self: &Arc<Self>, txn: &mut Txn<'_>) -> Result<(), Error> {
        let text = txn
            .header_str(Msg::ClientResponse, "Content-Type")
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/"));
        if text && txn.header(Msg::ClientResponse, "Content-Encoding").is_none() {
            let transform = Substitute(Arc::clone(self));
            txn.add_transform(
                BodyKind::Response,
                TransformKind::LengthPreserving,
                None,
                transform,
            )?;
        }
        Ok(())
    }
}

/// One response's transform.
struct Substitute(Arc<Table>);

impl Transform for Substitute {
    fn on_chunk(&mut self, chunk: &mut Chunk<'_>) -> Result<(), Error> {
        if let Some(bytes) = chunk.data_mut() {
            for byte in bytes {
                *byte = self.0.0[usize::from(*byte)];
            }
        }
        Ok(())
    }
}

/// The plugin's state; its continuation goes when it is dropped at done.
struct SubstitutePlugin {
    _on_response: Continuation,
}

impl GlobalPlugin for SubstitutePlugin {
    fn init(host: Host, args: &[&str]) -> Result<Self, Error> {
        let mut table = Table(std::array::from_fn(|i| i as u8));
        for arg in args.iter().skip(1) {
            match arg.as_bytes() {
                [from, b'=', to] => table.0[usize::from(*from)] = *to,
                _ => {
                    return Err(Error::new(format_args!(
                        "argument `{arg}` is not FROM=TO (one byte each)"
                    )));
                }
            }
        }
        let table = Arc::new(table);
        let on_response = Continuation::new(move |event| match event {
            Event::Txn(_, mut txn) => {
                if let Err(e) = table.on_response(&mut txn) {
                    hookyard_sdk::warn!("substitute: {e}");
                }
                HookResult::Continue
            }
            _ => HookResult::Continue,
        })?;
        host.add_global_hook(HookId::SendResponseHdr, &on_response, None)?;
        Ok(SubstitutePlugin { _on_response: on_response })
    }
}

hookyard_sdk::plugin! {
    name: "substitute",
    version: env!("CARGO_PKG_VERSION"),
    global: SubstitutePlugin,
}
