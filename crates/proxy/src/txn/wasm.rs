//! The WebAssembly filters of a transaction (`crate::wasm`): their request side on the origin
//! request's head, their response side (in reverse order) on the origin's response head, and
//! their body callbacks over the request and response bodies ([`WasmBody`]).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hookyard_wasm::{
    BodyVerdict, HttpCall, HttpCallResponse, LocalResponse, RequestHead, ResponseHead, Verdict,
};
use http::header::{self, HeaderMap, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Method, Uri};
use hyper::body::{Body, Frame, SizeHint};
use tracing::{debug, warn};

use super::answer::Answer;
use super::fields::LentRequest;
use super::transform::BoxError;
use crate::origin::{LentFields, OriginBody};
use crate::wasm::FilterList;

/// A transaction's filters: its head phases run them, and its bodies (on the origin
/// connection's task) while they stream. Locked only for one callback at a time.
pub(crate) type Filters = Arc<Mutex<FilterList>>;

fn lock(filters: &Filters) -> std::sync::MutexGuard<'_, FilterList> {
    filters.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A local response a request body's filter answered, for the transaction to send.
pub(crate) type Answered = Arc<Mutex<Option<LocalResponse>>>;

/// The origin request's head as the filters may change it.
pub(super) struct OriginHead<'a> {
    pub(super) method: &'a mut Method,
    pub(super) uri: &'a mut Uri,
    pub(super) headers: &'a mut HeaderMap,
    pub(super) scheme: &'static str,
    pub(super) end_of_stream: bool,
}

/// Runs each filter's request side on `origin`, making the HTTP calls a filter waits for (to
/// the origins of `rules`); an answer when one responded or failed. The client's fields `lent`
/// as received are put in the head's map only if a filter reads or changes them (see
/// [`LentRequest::to_origin`]), and come back after.
pub(super) async fn request(
    filters: &Filters,
    origin: OriginHead<'_>,
    rules: &hookyard_remap::Rules,
    lent: &mut Option<Box<LentRequest>>,
) -> Result<(), Answer> {
    let count = lock(filters).len();
    if count == 0 {
        return Ok(());
    }
    let path = origin.uri.path_and_query().cloned();
    let authority = origin.headers.get(header::HOST).cloned();
    let mut head = RequestHead::new(
        origin.method.clone(),
        path.clone().unwrap_or_else(|| PathAndQuery::from_static("/")),
        authority.clone().unwrap_or_else(|| HeaderValue::from_static("")),
        if origin.scheme == "https" { Scheme::HTTPS } else { Scheme::HTTP },
        std::mem::take(origin.headers),
    );
    if let Some(unread) = lent.take() {
        head = head.with_unread(unread);
    }
    // The lock is taken per callback, never across a call's wait.
    for at in 0..count {
        let mut verdict = lock(filters)[at].request_headers(&mut head, origin.end_of_stream);
        while let Ok(Verdict::Wait(calls)) = verdict {
            verdict = Ok(Verdict::Continue);
            for call in calls {
                let answer = http_call(rules, &call).await;
                verdict = lock(filters)[at].http_call_response(call.token, answer, &mut head);
                if !matches!(verdict, Ok(Verdict::Continue)) {
                    break;
                }
            }
        }
        match verdict {
            Ok(Verdict::Continue | Verdict::Wait(_)) => {}
            Ok(Verdict::Respond(local)) => return Err(Answer::WasmLocal(local)),
            Err(_) => return Err(Answer::WasmFailed),
        }
    }
    *lent = head.take_unread();
    *origin.headers = head.headers;
    *origin.method = head.method;
    if path.as_ref() != Some(&head.path) {
        *origin.uri = Uri::from(head.path);
    }
    if authority.as_ref() != Some(&head.authority) {
        origin.headers.insert(header::HOST, head.authority);
    }
    Ok(())
}

/// Runs each filter's response side, last filter first, on the origin's response head: the
/// fields in `parts`, and those `body` holds as received, which are put into `parts` only if a
/// filter reads or changes the fields (the proxy-wasm SDKs export every callback, so a filter
/// that acts on requests alone still gets one for each response).
pub(super) fn response(
    filters: &Filters,
    parts: &mut http::response::Parts,
    body: &mut OriginBody,
    end_of_stream: bool,
) -> Result<(), Answer> {
    let mut filters = lock(filters);
    if filters.is_empty() {
        return Ok(());
    }
    let status = parts.status.as_u16();
    let headers = std::mem::take(&mut parts.headers);
    let mut head = match body.lend() {
        Some(lent) => ResponseHead::with_unread(status, headers, Box::new(lent)),
        None => ResponseHead::new(status, headers),
    };
    for filter in filters.iter_mut().rev() {
        match filter.response_headers(&mut head, end_of_stream) {
            Ok(Verdict::Continue | Verdict::Wait(_)) => {}
            Ok(Verdict::Respond(local)) => return Err(Answer::WasmLocal(local)),
            Err(_) => return Err(Answer::WasmFailed),
        }
    }
    let (status, headers, lent) = head.into_parts::<LentFields>();
    parts.headers = headers;
    if let Some(lent) = lent {
        super::give_back(body, *lent)?;
    }
    parts.status = http::StatusCode::from_u16(status).map_err(|_| Answer::WasmFailed)?;
    Ok(())
}

/// A body stopped by a WebAssembly filter: it failed, or answered with a local response.
#[derive(Debug, thiserror::Error)]
#[error("a WebAssembly filter stopped the body: {0}")]
pub(crate) struct WasmStopped(String);

/// A body through the filters' body callbacks: each data frame goes through the filters in
/// order (the response's last filter first), a filter answering pause holds what it got until
/// its next callback (which gets it again with what follows), and the end goes through all.
pub(crate) struct WasmBody<B> {
    input: B,
    filters: Filters,
    response: bool,
    /// Per filter, what it holds; empty until a filter first holds a chunk.
    held: Vec<Vec<u8>>,
    /// Where a request body's local response goes.
    answered: Option<Answered>,
    /// The most a filter may hold (`transforms.buffer_limit`).
    limit: usize,
    trailers: Option<HeaderMap>,
    done: bool,
}

impl<B> WasmBody<B> {
    /// The body it filters.
    pub(crate) fn input(&self) -> &B {
        &self.input
    }

    /// `input` through `filters`' body callbacks (`response`: the response side), each holding
    /// at most `limit` bytes; a local response goes to `answered`.
    pub(crate) fn new(
        input: B,
        filters: Filters,
        response: bool,
        answered: Option<Answered>,
        limit: usize,
    ) -> WasmBody<B> {
        WasmBody {
            input,
            filters,
            response,
            held: Vec::new(),
            answered,
            limit,
            trailers: None,
            done: false,
        }
    }

    /// Runs `chunk` through the filters; what comes out of the last one (the same bytes when
    /// no filter changed or held them).
    fn run(&mut self, chunk: Bytes, end: bool) -> Result<Bytes, BoxError> {
        let mut filters = lock(&self.filters);
        let n = filters.len();
        let mut data = chunk;
        for step in 0..n {
            let at = if self.response { n - 1 - step } else { step };
            if let Some(held) = self.held.get_mut(at).filter(|h| !h.is_empty()) {
                let mut held = std::mem::take(held);
                held.extend_from_slice(&data);
                data = Bytes::from(held);
            }
            match filters[at].body(self.response, &mut data, end) {
                Ok(BodyVerdict::Continue) => {}
                Ok(BodyVerdict::Buffer) if data.len() > self.limit => {
                    let plugin = filters[at].plugin().name();
                    return Err(Box::new(WasmStopped(format!(
                        "{plugin} held more than transforms.buffer_limit ({} bytes)",
                        self.limit
                    ))));
                }
                Ok(BodyVerdict::Buffer) => {
                    if self.held.len() < n {
                        self.held.resize_with(n, Vec::new);
                    }
                    self.held[at] = Vec::from(data);
                    return Ok(Bytes::new());
                }
                Ok(BodyVerdict::Respond(local)) => {
                    let plugin = filters[at].plugin().name().to_owned();
                    match &self.answered {
                        Some(answered) => {
                            *answered.lock().unwrap_or_else(PoisonError::into_inner) = Some(local);
                        }
                        None => warn!(%plugin, "a wasm filter answered locally from the response \
                            body, after its head went: the body is cut short"),
                    }
                    return Err(Box::new(WasmStopped(format!("{plugin} answered locally"))));
                }
                Err(failure) => return Err(Box::new(WasmStopped(failure.to_string()))),
            }
        }
        Ok(data)
    }

    /// Ends the body: the end goes through every filter.
    fn finish(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        match self.run(Bytes::new(), true) {
            Ok(out) if !out.is_empty() => Poll::Ready(Some(Ok(Frame::data(out)))),
            Ok(_) => Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t)))),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl<B> Body for WasmBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
        }
        loop {
            match Pin::new(&mut this.input).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return this.finish(),
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    // The last chunk goes with the end: a reader that knows the length (a
                    // `Content-Length`) stops polling once it has it.
                    Ok(data) if this.input.is_end_stream() => {
                        this.done = true;
                        return match this.run(data, true) {
                            Ok(out) if out.is_empty() => Poll::Ready(None),
                            Ok(out) => Poll::Ready(Some(Ok(Frame::data(out)))),
                            Err(e) => Poll::Ready(Some(Err(e))),
                        };
                    }
                    Ok(data) => match this.run(data, false) {
                        Ok(out) if out.is_empty() => {}
                        Ok(out) => return Poll::Ready(Some(Ok(Frame::data(out)))),
                        Err(e) => {
                            this.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    },
                    Err(frame) => {
                        // Trailers: the body's data ended.
                        this.trailers = frame.into_trailers().ok();
                        return this.finish();
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // Filters may change the length; a `Content-Length` field the filters left stands.
        SizeHint::default()
    }
}

/// The most of an HTTP call's answer body a filter gets.
const CALL_BODY_LIMIT: usize = 1 << 20;

/// Makes a filter's HTTP call (`dispatch_http_call`): to the origin of the rule whose FROM host
/// is the call's upstream, over a connection of its own, within the call's timeout. Any failure
/// (no such rule, an `https://` origin, no connection, no answer in time, a body past 1 MiB) is
/// answered to the filter as a failed call.
async fn http_call(rules: &hookyard_remap::Rules, call: &HttpCall) -> HttpCallResponse {
    let failed = |why: &str| {
        debug!(upstream = %call.upstream, why, "a wasm plugin's http call failed");
        HttpCallResponse::default()
    };
    let Some(rule) = rules.rules().iter().find(|r| r.from.host == call.upstream) else {
        return failed("no remap rule has that host");
    };
    if rule.to.scheme != "http" {
        return failed("only http:// origins take calls");
    }
    let host = rule.to.host.clone();
    let port = rule.to.port.unwrap_or(80);
    let field = |name: &str| {
        call.headers.iter().find(|(k, _)| k == name).map(|(_, v)| String::from_utf8_lossy(v))
    };
    let method = field(":method").unwrap_or("GET".into()).into_owned();
    let path = field(":path").unwrap_or("/".into()).into_owned();
    let authority = field(":authority").map_or_else(|| call.upstream.clone(), |a| a.into_owned());
    let mut builder = http::Request::builder().method(method.as_str()).uri(path.as_str());
    for (name, value) in call.headers.iter().filter(|(k, _)| !k.starts_with(':')) {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    let request = builder
        .header(header::HOST, authority)
        .body(http_body_util::Full::new(Bytes::from(call.body.clone())));
    let Ok(request) = request else { return failed("the call's head is not valid HTTP") };
    let timeout = Duration::from_millis(u64::from(call.timeout_ms.clamp(1, 60_000)));
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await.ok()?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.ok()?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await.ok()?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, CALL_BODY_LIMIT);
        let body = http_body_util::BodyExt::collect(body).await.ok()?.to_bytes();
        Some(HttpCallResponse {
            status: Some(parts.status.as_u16()),
            headers: parts.headers,
            body: body.to_vec(),
        })
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Some(answer)) => answer,
        Ok(None) => failed("no answer"),
        Err(_) => failed("timed out"),
    }
}
