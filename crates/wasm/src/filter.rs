//! One transaction's HTTP context in a plugin: the filter callbacks, run on the instance of the
//! transaction's worker, and the context's end.

use std::sync::Arc;
use std::time::Instant;

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
    properties: Properties,
}

impl HttpFilter {
    pub(crate) fn new(plugin: Arc<Plugin>, slot: usize, properties: Properties) -> HttpFilter {
        HttpFilter { plugin, slot, context: None, properties }
    }

    /// The plugin version this context belongs to.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// Runs `f` on this context in the instance of its slot (starting an instance, or creating
    /// the context in a new one, as needed). A failure drops the instance.
    fn with_context<T>(
        &mut self,
        f: impl FnOnce(&mut Vm, i32) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let plugin = self.plugin.clone();
        let mut slot = plugin.slot(self.slot);
        let vm = match &mut *slot {
            Some(vm) => vm,
            empty => empty.insert(plugin.start_vm()?),
        };
        let started = Instant::now();
        let id = match self.context {
            Some((serial, id)) if serial == vm.serial => Ok(id),
            _ => vm.create_context().inspect(|id| self.context = Some((vm.serial, *id))),
        };
        let result = id.and_then(|id| f(vm, id));
        plugin.timed(started.elapsed());
        if let Err(failure) = &result {
            *slot = None;
            self.context = None;
            plugin.failed(failure);
        }
        result
    }

    /// Runs a filter callback with `call`, and turns what it asked for into a verdict.
    fn run(
        &mut self,
        which: Filter,
        arg: i32,
        end_of_stream: bool,
        call: &mut Call,
    ) -> Result<Verdict, Failure> {
        call.properties = Some(std::mem::take(&mut self.properties));
        let action = self.with_context(|vm, id| {
            let (result, back) = vm.filter(which, id, arg, end_of_stream, std::mem::take(call));
            *call = back;
            result
        });
        if let Some(properties) = call.properties.take() {
            self.properties = properties;
        }
        let action = action?;
        Ok(self.verdict(action, call))
    }

    fn verdict(&self, action: i32, call: &mut Call) -> Verdict {
        if let Some(local) = call.local.take() {
            self.plugin.local_response();
            return Verdict::Respond(local);
        }
        let calls = std::mem::take(&mut call.calls);
        if action == ACTION_PAUSE && !calls.is_empty() {
            return Verdict::Wait(calls);
        }
        // A pause with nothing to wait for continues: nothing would ever resume it.
        Verdict::Continue
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
        if self.properties.request.is_none() {
            self.properties.request = Some(RequestHead {
                headers: http::HeaderMap::new(),
                method: head.method.clone(),
                path: head.path.clone(),
                authority: head.authority.clone(),
                scheme: head.scheme.clone(),
            });
        }
        let count = head.headers.len() as i32 + 4;
        let mut call = Call { request: Some(std::mem::take(head)), ..Call::default() };
        let verdict = self.run(Filter::RequestHeaders, count, end_of_stream, &mut call);
        *head = call.request.take().unwrap_or_default();
        verdict
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
        self.properties.response_code = Some(head.status);
        let count = head.headers.len() as i32 + 1;
        let mut call = Call { response: Some(std::mem::take(head)), ..Call::default() };
        let verdict = self.run(Filter::ResponseHeaders, count, end_of_stream, &mut call);
        *head = call.response.take().unwrap_or_default();
        verdict
    }

    /// `proxy_on_request_body` (or `proxy_on_response_body` when `response`): the filter
    /// sees (and may replace, with `proxy_set_buffer_bytes`) one chunk of the body.
    ///
    /// # Errors
    ///
    /// As [`request_headers`](HttpFilter::request_headers).
    pub fn body(
        &mut self,
        response: bool,
        chunk: &mut Vec<u8>,
        end_of_stream: bool,
    ) -> Result<BodyVerdict, Failure> {
        let (which, kind) = if response {
            (Filter::ResponseBody, buffer::RESPONSE_BODY)
        } else {
            (Filter::RequestBody, buffer::REQUEST_BODY)
        };
        let size = chunk.len() as i32;
        let mut call = Call { body: Some((kind, std::mem::take(chunk))), ..Call::default() };
        call.properties = Some(std::mem::take(&mut self.properties));
        let action = self.with_context(|vm, id| {
            let (result, back) =
                vm.filter(which, id, size, end_of_stream, std::mem::take(&mut call));
            call = back;
            result
        });
        *chunk = call.body.take().map(|(_, b)| b).unwrap_or_default();
        if let Some(properties) = call.properties.take() {
            self.properties = properties;
        }
        let action = action?;
        if let Some(local) = call.local.take() {
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
        let mut call = Call {
            request: Some(std::mem::take(head)),
            call_response: Some(answer),
            properties: Some(std::mem::take(&mut self.properties)),
            ..Call::default()
        };
        let result = self.with_context(|vm, id| {
            let (result, back) =
                vm.http_call_response(id, token, counts, std::mem::take(&mut call));
            call = back;
            result
        });
        *head = call.request.take().unwrap_or_default();
        if let Some(properties) = call.properties.take() {
            self.properties = properties;
        }
        result?;
        // After an answer, the filter goes on unless it answered or called again.
        Ok(self.verdict(ACTION_PAUSE, &mut call))
    }
}

impl Drop for HttpFilter {
    fn drop(&mut self) {
        let Some((serial, id)) = self.context else { return };
        let mut slot = self.plugin.slot(self.slot);
        let Some(vm) = slot.as_mut().filter(|vm| vm.serial == serial) else { return };
        let call =
            Call { properties: Some(std::mem::take(&mut self.properties)), ..Call::default() };
        if let Err(failure) = vm.end_context(id, call) {
            *slot = None;
            self.plugin.failed(&failure);
        }
    }
}
