//! One transaction's HTTP context in a plugin: the filter callbacks, run on the instance of the
//! transaction's worker, and the context's end.

use std::sync::Arc;

use bytes::Bytes;

use crate::Failure;
use crate::abi::{ACTION_PAUSE, buffer};
use crate::call::{
    Call, HttpCall, HttpCallResponse, LocalResponse, Properties, RequestHead, ResponseHead,
};
use crate::plugin::Plugin;
use crate::vm::{Filter, Vm};

/// What a filter callback decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The transaction goes on.
    Continue,
    /// The transaction is answered with this response instead.
    Respond(LocalResponse),
    /// The filter waits for these HTTP calls: make them and hand each answer to
    /// [`HttpFilter::http_call_response`].
    Wait(Vec<HttpCall>),
}

/// What a body callback decided.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyVerdict {
    /// The chunk (as the filter left it) goes on.
    Continue,
    /// The filter holds the chunk (`Action::Pause`): the next callback gets it again with
    /// what follows, as Envoy buffers.
    Buffer,
    /// The transaction is answered with this response instead, if its head has not gone.
    Respond(LocalResponse),
}

/// One transaction's context in one plugin. Dropping it ends the context in the module
/// (`proxy_on_done`, `proxy_on_log`, `proxy_on_delete`).
pub struct HttpFilter {
    plugin: Arc<Plugin>,
    slot: usize,
    /// The instance (by serial) and the context id, once created.
    context: Option<(u64, i32)>,
    /// Boxed: lent to each callback's call and back, it moves as a pointer.
    properties: Option<Box<Properties>>,
}

/// What a header callback left: its action, a local response, the HTTP calls it made.
type Asked = (i32, Option<LocalResponse>, Vec<HttpCall>);

impl HttpFilter {
    pub(crate) fn new(plugin: Arc<Plugin>, slot: usize, properties: Properties) -> HttpFilter {
        HttpFilter { plugin, slot, context: None, properties: Some(Box::new(properties)) }
    }

    /// The plugin version this context belongs to.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Runs `f` on this context in the instance of its slot (starting an instance, or creating
    /// the context in a new one, as needed), with the transaction's properties in the call. A
    /// failure drops the instance.
    fn with_context<T>(
        &mut self,
        f: impl FnOnce(&mut Vm, i32) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let HttpFilter { plugin, slot, context, properties } = self;
        let mut slot = plugin.slot(*slot);
        let vm = match &mut *slot {
            Some(vm) => vm,
            empty => empty.insert(plugin.start_vm()?),
        };
        let started = quanta::Instant::now();
        let id = match *context {
            Some((serial, id)) if serial == vm.serial => Ok(id),
            _ => vm.create_context().inspect(|id| *context = Some((vm.serial, *id))),
        };
        std::mem::swap(&mut vm.call().properties, properties);
        let result = id.and_then(|id| f(vm, id));
        std::mem::swap(&mut vm.call().properties, properties);
        slot.timed(started.elapsed());
        if let Err(failure) = &result {
            *slot = None;
            *context = None;
            plugin.failed(failure);
        }
        result
    }

    /// Runs header callback `which`; `fill` puts its head into the call, `back` takes it out
    /// again (also when the callback failed).
    fn headers(
        &mut self,
        which: Filter,
        arg: i32,
        end_of_stream: bool,
        fill: impl FnOnce(&mut Call),
        back: impl FnOnce(&mut Call),
    ) -> Result<Verdict, Failure> {
        let asked = self.with_context(|vm, id| {
            fill(vm.call());
            let action = vm.filter(which, id, arg, end_of_stream);
            let call = vm.call();
            back(call);
            Ok((action?, call.local.take(), std::mem::take(&mut call.calls)))
        })?;
        Ok(self.verdict(asked))
    }

    fn verdict(&self, (action, local, calls): Asked) -> Verdict {
        if let Some(local) = local {
            self.plugin.local_response();
            return Verdict::Respond(local);
        }
        if action == ACTION_PAUSE && !calls.is_empty() {
            return Verdict::Wait(calls);
        }
        // A pause with nothing to wait for continues: nothing would ever resume it.
        Verdict::Continue
    }

    /// The request as it arrived, for properties: kept at the first request callback.
    fn keep_request(&mut self, head: &RequestHead) {
        let Some(properties) = self.properties.as_mut() else { return };
        if properties.request.is_none() {
            properties.request = Some(head.arrived());
        }
    }

    /// `proxy_on_request_headers`: the filter sees (and may change) `head`.
    ///
    /// # Errors
    ///
    /// The callback trapped, ran past its deadline or over its memory limit, or the instance
    /// could not be started: the transaction fails.
    pub fn request_headers(
        &mut self,
        head: &mut RequestHead,
        end_of_stream: bool,
    ) -> Result<Verdict, Failure> {
        self.keep_request(head);
        let count = head.len() as i32 + 4;
        let lent = std::mem::take(head);
        self.headers(
            Filter::RequestHeaders,
            count,
            end_of_stream,
            |call| call.request = Some(lent),
            |call| *head = call.request.take().unwrap_or_default(),
        )
    }

    /// `proxy_on_response_headers`: the filter sees (and may change) `head`.
    ///
    /// # Errors
    ///
    /// As [`request_headers`](HttpFilter::request_headers).
    pub fn response_headers(
        &mut self,
        head: &mut ResponseHead,
        end_of_stream: bool,
    ) -> Result<Verdict, Failure> {
        if let Some(properties) = self.properties.as_mut() {
            properties.response_code = Some(head.status);
        }
        let count = head.len() as i32 + 1;
        let lent = std::mem::take(head);
        self.headers(
            Filter::ResponseHeaders,
            count,
            end_of_stream,
            |call| call.response = Some(lent),
            |call| *head = call.response.take().unwrap_or_default(),
        )
    }

    /// `proxy_on_request_body` (or `proxy_on_response_body` when `response`): the filter
    /// sees (and may replace, with `proxy_set_buffer_bytes`) one chunk of the body. A chunk the
    /// filter leaves as it is comes back as the same bytes, not a copy.
    ///
    /// # Errors
    ///
    /// As [`request_headers`](HttpFilter::request_headers).
    pub fn body(
        &mut self,
        response: bool,
        chunk: &mut Bytes,
        end_of_stream: bool,
    ) -> Result<BodyVerdict, Failure> {
        let (which, kind) = if response {
            (Filter::ResponseBody, buffer::RESPONSE_BODY)
        } else {
            (Filter::RequestBody, buffer::REQUEST_BODY)
        };
        let size = chunk.len() as i32;
        let lent = std::mem::take(chunk);
        let (action, local) = self.with_context(|vm, id| {
            vm.call().body = Some((kind, lent));
            let action = vm.filter(which, id, size, end_of_stream);
            let call = vm.call();
            *chunk = call.body.take().map(|(_, b)| b).unwrap_or_default();
            Ok((action?, call.local.take()))
        })?;
        if let Some(local) = local {
            self.plugin.local_response();
            return Ok(BodyVerdict::Respond(local));
        }
        // A pause at the end has nothing more to wait for.
        Ok(if action == ACTION_PAUSE && !end_of_stream {
            BodyVerdict::Buffer
        } else {
            BodyVerdict::Continue
        })
    }

    /// `proxy_on_http_call_response`: the answer to call `token`, while the filter waits with
    /// the request `head` (which it may still change).
    ///
    /// # Errors
    ///
    /// As [`request_headers`](HttpFilter::request_headers).
    pub fn http_call_response(
        &mut self,
        token: u32,
        answer: HttpCallResponse,
        head: &mut RequestHead,
    ) -> Result<Verdict, Failure> {
        let counts = (
            answer.headers.len() as i32 + i32::from(answer.status.is_some()),
            answer.body.len() as i32,
            0,
        );
        let lent = std::mem::take(head);
        let asked = self.with_context(|vm, id| {
            let call = vm.call();
            call.request = Some(lent);
            call.call_response = Some(answer);
            let done = vm.http_call_response(id, token, counts);
            let call = vm.call();
            *head = call.request.take().unwrap_or_default();
            call.call_response = None;
            done?;
            // After an answer, the filter goes on unless it answered or called again.
            Ok((ACTION_PAUSE, call.local.take(), std::mem::take(&mut call.calls)))
        })?;
        Ok(self.verdict(asked))
    }
}

impl Drop for HttpFilter {
    fn drop(&mut self) {
        let Some((serial, id)) = self.context else { return };
        let mut slot = self.plugin.slot(self.slot);
        let Some(vm) = slot.as_mut().filter(|vm| vm.serial == serial) else { return };
        std::mem::swap(&mut vm.call().properties, &mut self.properties);
        let ended = vm.end_context(id);
        vm.call().properties = None;
        if let Err(failure) = ended {
            *slot = None;
            self.plugin.failed(&failure);
        }
    }
}
