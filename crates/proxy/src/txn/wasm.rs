//! The WebAssembly filters of a transaction (`crate::wasm`): their request side on the origin
//! request's head, their response side (in reverse order) on the origin's response head.

use hookyard_wasm::{HttpCallResponse, HttpFilter, RequestHead, ResponseHead, Verdict};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri};
use tracing::debug;

use super::answer::Answer;

/// The origin request's head as the filters may change it.
pub(super) struct OriginHead<'a> {
    pub(super) method: &'a mut Method,
    pub(super) uri: &'a mut Uri,
    pub(super) headers: &'a mut HeaderMap,
    pub(super) scheme: &'a str,
    pub(super) end_of_stream: bool,
}

/// Runs each filter's request side on `origin`; an answer when one responded or failed.
pub(super) fn request(filters: &mut [HttpFilter], origin: OriginHead<'_>) -> Result<(), Answer> {
    if filters.is_empty() {
        return Ok(());
    }
    let authority = origin
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut head = RequestHead {
        method: origin.method.as_str().to_owned(),
        path: origin.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_owned(),
        authority: authority.clone(),
        scheme: origin.scheme.to_owned(),
        headers: std::mem::take(origin.headers),
    };
    for filter in filters.iter_mut() {
        let mut verdict = filter.request_headers(&mut head, origin.end_of_stream);
        // Calls are answered at once: no upstream is reachable from a filter yet.
        while let Ok(Verdict::Wait(calls)) = verdict {
            verdict = Ok(Verdict::Continue);
            for call in calls {
                debug!(plugin = %filter.plugin().name(), upstream = %call.upstream,
                    "a wasm plugin's http call has no upstream to go to: answered as failed");
                verdict =
                    filter.http_call_response(call.token, HttpCallResponse::default(), &mut head);
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
    *origin.headers = head.headers;
    if *origin.method != head.method.as_str() {
        *origin.method =
            Method::from_bytes(head.method.as_bytes()).map_err(|_| Answer::WasmFailed)?;
    }
    if origin.uri.path_and_query().map_or("/", |pq| pq.as_str()) != head.path {
        *origin.uri = head.path.parse().map_err(|_| Answer::InvalidOriginUrl)?;
    }
    if head.authority != authority {
        let host = HeaderValue::from_str(&head.authority).map_err(|_| Answer::InvalidOriginHost)?;
        origin.headers.insert(header::HOST, host);
    }
    Ok(())
}

/// Runs each filter's response side, last filter first, on the origin's response head.
pub(super) fn response(
    filters: &mut [HttpFilter],
    parts: &mut http::response::Parts,
    end_of_stream: bool,
) -> Result<(), Answer> {
    if filters.is_empty() {
        return Ok(());
    }
    let mut head =
        ResponseHead { status: parts.status.as_u16(), headers: std::mem::take(&mut parts.headers) };
    for filter in filters.iter_mut().rev() {
        match filter.response_headers(&mut head, end_of_stream) {
            Ok(Verdict::Continue | Verdict::Wait(_)) => {}
            Ok(Verdict::Respond(local)) => return Err(Answer::WasmLocal(local)),
            Err(_) => return Err(Answer::WasmFailed),
        }
    }
    parts.headers = head.headers;
    parts.status = http::StatusCode::from_u16(head.status).map_err(|_| Answer::WasmFailed)?;
    Ok(())
}
