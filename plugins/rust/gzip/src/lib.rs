//! `gzip`: a global plugin that compresses responses for clients that accept gzip, as a rewrite
//! body transform (ABI 1.5).
//!
//! ```yaml
//! # plugin.yaml
//! plugins:
//!   - path: gzip.so
//!     params: [level=6, min_size=1024, types=text/|application/json|application/javascript]
//! ```
//!
//! At `SEND_RESPONSE_HDR` it looks at the response: a `200` to a `GET` or `POST` whose
//! `Content-Type` starts with one of `types`, without `Content-Encoding`, without
//! `Cache-Control: no-transform`, and not known to be smaller than `min_size` bytes. Such a
//! response gets `Vary: Accept-Encoding`; when the request's `Accept-Encoding` accepts gzip
//! (RFC 9110 §12.5.3: `gzip` or `*` with a non-zero `q`), it also gets `Content-Encoding: gzip`
//! and a transform that streams the body through a gzip encoder at `level`. The proxy re-frames
//! it (chunked, or a new `Content-Length` when all of it was ready at once).
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;
use hookyard_sdk::{
    BodyKind, Chunk, Continuation, Error, Event, GlobalPlugin, HookId, HookResult, Host, Msg,
    Transform, TransformKind, Txn,
};

/// What the plugin was configured with.
struct Settings {
    level: u32,
    min_size: u64,
    types: Vec<String>,
}

/// Output is handed to the proxy once this much is compressed (and at the end).
const FLUSH_AT: usize = 16 * 1024;

/// Whether an `Accept-Encoding` value accepts gzip.
fn accepts_gzip(value: &str) -> bool {
    let mut gzip = None;
    let mut any = None;
    for item in value.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(q > 0.0),
            "*" => any = Some(q > 0.0),
            _ => {}
        }
    }
    gzip.or(any).unwrap_or(false)
}

impl Settings {
    /// Whether the response may be compressed at all (then it varies by `Accept-Encoding`).
    fn compressible(&self, txn: &Txn<'_>) -> bool {
        let method = txn.method(Msg::ClientRequest).unwrap_or("");
        if txn.status(Msg::ClientResponse) != Some(200) || !matches!(method, "GET" | "POST") {
            return false;
        }
        if txn.header(Msg::ClientResponse, "Content-Encoding").is_some() {
            return false;
        }
        let no_transform = txn
            .header_values(Msg::ClientResponse, "Cache-Control")
            .any(|v| String::from_utf8_lossy(v).to_ascii_lowercase().contains("no-transform"));
        if no_transform {
            return false;
        }
        let kind = txn.header_str(Msg::ClientResponse, "Content-Type").unwrap_or("");
        let kind = kind.to_ascii_lowercase();
        if !self.types.iter().any(|t| kind.starts_with(t.as_str())) {
            return false;
        }
        let length = txn.header_str(Msg::ClientResponse, "Content-Length");
        length.and_then(|l| l.trim().parse::<u64>().ok()).is_none_or(|l| l >= self.min_size)
    }

    fn on_response(&self, txn: &mut Txn<'_>) -> Result<(), Error> {
        if !self.compressible(txn) {
            return Ok(());
        }
        let varies = txn.header_values(Msg::ClientResponse, "Vary").any(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .any(|f| f.trim().eq_ignore_ascii_case("accept-encoding") || f.trim() == "*")
        });
        if !varies {
            txn.add_header(Msg::ClientResponse, "Vary", "Accept-Encoding")?;
        }
        let accepted = txn
            .header_values(Msg::ClientRequest, "Accept-Encoding")
            .any(|v| accepts_gzip(&String::from_utf8_lossy(v)));
        if !accepted {
            return Ok(());
        }
        let encoder = GzEncoder::new(Vec::new(), Compression::new(self.level));
        txn.add_transform(BodyKind::Response, TransformKind::Rewrite, None, Gzip(Some(encoder)))?;
        txn.set_header(Msg::ClientResponse, "Content-Encoding", "gzip")?;
        txn.remove_header(Msg::ClientResponse, "Content-Length")?;
        Ok(())
    }
}

/// One response's encoder.
struct Gzip(Option<GzEncoder<Vec<u8>>>);

impl Transform for Gzip {
    fn on_chunk(&mut self, chunk: &mut Chunk<'_>) -> Result<(), Error> {
        let Some(encoder) = &mut self.0 else { return Err(Error::new("gzip: data after the end")) };
        encoder.write_all(chunk.data()).map_err(|e| Error::new(format_args!("gzip: {e}")))?;
        if encoder.get_ref().len() >= FLUSH_AT {
            let out = std::mem::take(encoder.get_mut());
            chunk.write(&out)?;
        }
        Ok(())
    }

    fn on_end(&mut self, chunk: &mut Chunk<'_>) -> Result<(), Error> {
        let Some(encoder) = self.0.take() else { return Ok(()) };
        let out = encoder.finish().map_err(|e| Error::new(format_args!("gzip: {e}")))?;
        chunk.write(&out)
    }
}

/// The plugin's state; its continuation goes when it is dropped at done.
struct GzipPlugin {
    _on_response: Continuation,
}

impl GlobalPlugin for GzipPlugin {
    fn init(host: Host, args: &[&str]) -> Result<Self, Error> {
        let mut settings = Settings {
            level: 6,
            min_size: 1024,
            types: ["text/", "application/json", "application/javascript", "application/xml"]
                .map(String::from)
                .to_vec(),
        };
        for arg in args.iter().skip(1) {
            match arg.split_once('=') {
                Some(("level", n)) => match n.parse() {
                    Ok(level) if level <= 9 => settings.level = level,
                    _ => return Err(Error::new(format_args!("level must be 0 to 9, not `{n}`"))),
                },
                Some(("min_size", n)) => settings.min_size = n.parse()?,
                Some(("types", t)) => {
                    settings.types = t.split('|').map(str::to_ascii_lowercase).collect();
                }
                _ => {
                    return Err(Error::new(format_args!(
                        "unknown argument `{arg}`; expected level=N, min_size=BYTES or \
                         types=PREFIX|PREFIX"
                    )));
                }
            }
        }
        let settings = Arc::new(settings);
        let on_response = Continuation::new(move |event| match event {
            Event::Txn(_, mut txn) => {
                if let Err(e) = settings.on_response(&mut txn) {
                    hookyard_sdk::warn!("gzip: {e}");
                }
                HookResult::Continue
            }
            _ => HookResult::Continue,
        })?;
        host.add_global_hook(HookId::SendResponseHdr, &on_response, None)?;
        hookyard_sdk::info!("gzip: ready");
        Ok(GzipPlugin { _on_response: on_response })
    }
}

hookyard_sdk::plugin! {
    name: "gzip",
    version: env!("CARGO_PKG_VERSION"),
    global: GzipPlugin,
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn accept_encoding_is_negotiated() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("br, gzip;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, *;q=0"));
        assert!(!accepts_gzip("gzip;q=0, *"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
    }
}
