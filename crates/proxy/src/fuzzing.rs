//! Entry points for the fuzz targets in `crates/proxy/fuzz/`. Not an API: hidden from the
//! documentation, changed with the code they reach, never used by the proxy itself.
//!
//! They reach what a client's bytes meet before a transaction starts, without a socket: the
//! framing tracker of `conn/io.rs`, and hyper's HTTP/1.1 server set up with the limits the
//! workers use, reading through the same connection wrapper; and what an operator's TLS files
//! meet: the `ssl_multicert.config` parser and the certificate reader of `tls/x509.rs`; and what
//! clients and plugins put in the access log (`access_log_line`).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Limits;
use crate::conn::io::{ConnIo, ConnState, Framing};

/// Parses an `ssl_multicert.config` text (paths from `/nonexistent`): the lines of its entries,
/// or of its problems.
pub fn multicert_lines(text: &str) -> Result<Vec<usize>, Vec<usize>> {
    let dir = std::path::Path::new("/nonexistent");
    match crate::config::multicert::parse(&dir.join("ssl_multicert.config"), dir, text) {
        Ok((specs, _)) => Ok(specs.iter().map(|s| s.line).collect()),
        Err(problems) => Err(problems.iter().map(|p| p.line).collect()),
    }
}

/// Reads a DER certificate's DNS names and validity period (start, end), as the proxy does to
/// choose and check certificates.
pub fn certificate_facts(der: &[u8]) -> Option<(Vec<String>, i64, i64)> {
    let facts = crate::tls::x509::facts(der).ok()?;
    Some((facts.names, facts.not_before, facts.not_after))
}

/// Follows `stream` with the proxy's framing tracker, fed in pieces whose sizes cycle through
/// `pieces` (a 0 counts as 1; none: the whole stream at once). Returns the indexes of the heads
/// it flagged as having both `Content-Length` and `Transfer-Encoding`.
pub fn framing_conflicts(stream: &[u8], pieces: &[u8]) -> Vec<u64> {
    let mut framing = Framing::default();
    let mut found = Vec::new();
    let mut rest = stream;
    let mut sizes = pieces.iter().map(|&n| usize::from(n).max(1)).cycle();
    while !rest.is_empty() {
        let take = if pieces.is_empty() { rest.len() } else { sizes.next().unwrap_or(1) };
        let (piece, after) = rest.split_at(take.min(rest.len()));
        found.extend(framing.feed(piece));
        rest = after;
    }
    found
}

/// One request head as hyper handed it to the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Its index on the connection.
    pub index: u64,
    /// Its method.
    pub method: String,
    /// Its request target.
    pub target: String,
    /// The framing tracker flagged it: a transaction refuses it with 400 and closes.
    pub conflicting: bool,
    /// Its `Transfer-Encoding` values, as delivered.
    pub transfer_encoding: Vec<Vec<u8>>,
    /// Its `Content-Length` values, as delivered.
    pub content_length: Vec<Vec<u8>>,
    /// Body bytes read, or `None` when reading the body failed.
    pub body: Option<usize>,
}

/// What [`serve_connection`] saw.
#[derive(Clone, Debug, Default)]
pub struct Served {
    /// Every request head delivered, in order.
    pub delivered: Vec<Delivered>,
    /// Everything written back to the client.
    pub response: Vec<u8>,
}

/// Serves `stream` as one client connection that sends it and then closes: hyper's HTTP/1.1
/// server with the default `limits` applied as the workers apply them, reading through the
/// proxy's connection wrapper (activity and framing), and a stand-in for the transaction that
/// refuses a flagged head as the transaction does, else reads the body and answers 200.
///
/// # Panics
///
/// When a single-threaded tokio runtime cannot be built.
pub fn serve_connection(stream: &[u8]) -> Served {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime without drivers builds");
    runtime.block_on(serve(stream))
}

async fn serve(stream: &[u8]) -> Served {
    let limits = Limits::default();
    let (client, server) = tokio::io::duplex(stream.len() + 64 * 1024);
    let state = Arc::new(ConnState::new());
    let delivered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let service = {
        let (state, delivered) = (state.clone(), delivered.clone());
        service_fn(move |request| stand_in(state.clone(), delivered.clone(), request))
    };
    // As `server/worker.rs` sets hyper up, without the timers (no time passes here).
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .max_buf_size(limits.max_header_bytes.max(8192) + 8192)
        .max_header_size(limits.max_header_bytes);
    let connection = builder.serve_connection(TokioIo::new(ConnIo::new(server, state)), service);
    let (mut read, mut write) = tokio::io::split(client);
    let send = async move {
        let _ = write.write_all(stream).await;
        let _ = write.shutdown().await;
    };
    let mut response = Vec::new();
    let receive = read.read_to_end(&mut response);
    let (_, _, _) = tokio::join!(connection, send, receive);
    let delivered = std::mem::take(&mut *delivered.lock().unwrap_or_else(|e| e.into_inner()));
    Served { delivered, response }
}

async fn stand_in(
    state: Arc<ConnState>,
    delivered: Arc<std::sync::Mutex<Vec<Delivered>>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // As `txn::handle` numbers requests and asks the tracker.
    let index = state.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let conflicting = state.conflicting(index);
    let values = |name| request.headers().get_all(name).iter().map(|v| v.as_bytes().to_vec());
    let mut seen = Delivered {
        index,
        method: request.method().to_string(),
        target: request.uri().to_string(),
        conflicting,
        transfer_encoding: values(header::TRANSFER_ENCODING).collect(),
        content_length: values(header::CONTENT_LENGTH).collect(),
        body: None,
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    if conflicting {
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    } else {
        seen.body = request.into_body().collect().await.ok().map(|b| b.to_bytes().len());
    }
    delivered.lock().unwrap_or_else(|e| e.into_inner()).push(seen);
    Ok(response)
}

/// The access log line of a transaction `GET /p` whose `User-Agent` and `X-Any` request fields
/// and plugin fields `a` and `b` hold `values` (those a field can hold), in the format
/// `format` (a built-in's name, else a format string); `None` for a format that does not parse.
pub fn access_log_line(format: &str, values: &[&str]) -> Option<String> {
    use crate::access_log::{Format, record::Entry};
    let format = match Format::builtin(format) {
        Some(builtin) => builtin,
        None => Format::parse(format).ok()?,
    };
    let settings = std::sync::Arc::new(crate::config::AccessLogSettings {
        path: std::path::PathBuf::from("/nonexistent/access.log"),
        format,
        listeners: None,
        rotate_size: None,
        rotate_interval: None,
        queue: 1,
    });
    let mut request = Request::get("http://h.test/p").body(()).ok()?;
    let names = ["user-agent", "x-any"];
    for (name, value) in names.iter().zip(values) {
        if let Ok(value) = HeaderValue::from_str(value) {
            request.headers_mut().append(*name, value);
        }
    }
    let (parts, ()) = request.into_parts();
    let client = std::net::SocketAddr::from(([192, 0, 2, 1], 40000));
    let mut entry = Entry::start(settings.clone(), 1, client, "http", &parts);
    entry.plugin =
        ["a", "b"].iter().zip(values).map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    let mut line = String::new();
    settings.format.write(&entry, &mut line);
    Some(line)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_access_log_line_is_one_line_whatever_the_values() {
        let hostile = ["a\"b\\c", "x\ny\r\u{1b}[31m", "é\u{7f}"];
        for format in ["squid", "common", "extended", "combined", "json", "%<{a}plf>|%<{x-any}cqh>"]
        {
            let line = super::access_log_line(format, &hostile).unwrap();
            assert_eq!(line.matches('\n').count(), 1, "{format}: {line:?}");
            assert!(line.ends_with('\n'));
            assert!(!line.contains(['\r', '\u{1b}', '\u{7f}']), "{format}: {line:?}");
            if format == "json" {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                assert_eq!(v["plugin"]["b"], hostile[1]);
            }
        }
        let line = super::access_log_line("%<{a}plf>|%<{b}plf>", &hostile).unwrap();
        assert_eq!(line, "a\\x22b\\x5Cc|x\\x0Ay\\x0D\\x1B[31m\n");
        assert!(super::access_log_line("%<bogus>", &[]).is_none());
    }
}
