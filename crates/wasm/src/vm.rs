//! One instance of a module: its store (memory, limits, the current call), the callbacks it
//! exports, and its root context, started and configured.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{InstancePre, Store, StoreLimitsBuilder, TypedFunc};

use crate::call::Call;
use crate::host::{HostState, Shared};
use crate::runtime::EPOCH_TICK;
use crate::{Failure, FailureKind};

/// The root context's id in every instance.
pub(crate) const ROOT_ID: i32 = 1;

type F1 = TypedFunc<i32, i32>;
type F2 = TypedFunc<(i32, i32), i32>;
type F3 = TypedFunc<(i32, i32, i32), i32>;
type F5 = TypedFunc<(i32, i32, i32, i32, i32), ()>;

/// The callbacks a module may export; a missing one is not called (it would continue).
struct Exports {
    context_create: Option<TypedFunc<(i32, i32), ()>>,
    request_headers: Option<F3>,
    request_body: Option<F3>,
    response_headers: Option<F3>,
    response_body: Option<F3>,
    http_call_response: Option<F5>,
    tick: Option<TypedFunc<i32, ()>>,
    done: Option<F1>,
    log: Option<TypedFunc<i32, ()>>,
    delete: Option<TypedFunc<i32, ()>>,
}

/// A filter callback of an HTTP context.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Filter {
    RequestHeaders,
    RequestBody,
    ResponseHeaders,
    ResponseBody,
}

/// One instance, ready for HTTP contexts.
pub(crate) struct Vm {
    store: Store<HostState>,
    exports: Exports,
    next_id: i32,
    /// Which instance of its slot this is: contexts of an earlier one are not in it.
    pub(crate) serial: u64,
    deadline_ticks: u64,
}

impl Vm {
    /// Instantiates `pre` with `limits`, runs its initialiser, creates its root context, starts
    /// it and configures it.
    pub(crate) fn start(
        pre: &InstancePre<HostState>,
        shared: Arc<Shared>,
        memory: usize,
        deadline: Duration,
        serial: u64,
    ) -> Result<Vm, Failure> {
        let engine = pre.module().engine();
        let limits =
            StoreLimitsBuilder::new().memory_size(memory).trap_on_grow_failure(true).build();
        let state = HostState {
            limits,
            shared: shared.clone(),
            memory: None,
            alloc: None,
            call: Call::default(),
            next_token: 0,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        let deadline_ticks = deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64 + 1;
        store.set_epoch_deadline(deadline_ticks);
        let name = &shared.name;
        let instance = pre.instantiate(&mut store).map_err(|e| Failure::of(name, &e))?;
        let broken = |what: &str| Failure {
            plugin: name.clone(),
            kind: FailureKind::Broken,
            message: what.to_owned(),
        };
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| broken("the module exports no memory named `memory`"))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate")
            .or_else(|_| instance.get_typed_func::<i32, i32>(&mut store, "malloc"))
            .map_err(|_| broken("the module exports no `proxy_on_memory_allocate`"))?;
        store.data_mut().memory = Some(memory);
        store.data_mut().alloc = Some(alloc);
        let abi_marker = ["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"]
            .iter()
            .any(|m| instance.get_func(&mut store, m).is_some());
        if !abi_marker {
            return Err(broken(
                "the module is not a proxy-wasm 0.2 module: it exports neither \
                 `proxy_abi_version_0_2_1` nor `proxy_abi_version_0_2_0`",
            ));
        }
        macro_rules! export {
            ($name:literal) => {
                instance.get_typed_func(&mut store, $name).ok()
            };
        }
        let exports = Exports {
            context_create: export!("proxy_on_context_create"),
            request_headers: export!("proxy_on_request_headers"),
            request_body: export!("proxy_on_request_body"),
            response_headers: export!("proxy_on_response_headers"),
            response_body: export!("proxy_on_response_body"),
            http_call_response: export!("proxy_on_http_call_response"),
            tick: export!("proxy_on_tick"),
            done: export!("proxy_on_done"),
            log: export!("proxy_on_log"),
            delete: export!("proxy_on_delete"),
        };
        let vm_start: Option<F2> = export!("proxy_on_vm_start");
        let configure: Option<F2> = export!("proxy_on_configure");
        let initialize: Option<TypedFunc<(), ()>> =
            export!("_initialize").or_else(|| export!("_start"));
        let mut vm = Vm { store, exports, next_id: ROOT_ID + 1, serial, deadline_ticks };
        if let Some(init) = initialize {
            vm.run(|store| init.call(store, ()))?;
        }
        if let Some(create) = vm.exports.context_create.clone() {
            vm.run(|store| create.call(store, (ROOT_ID, 0)))?;
        }
        if let Some(start) = vm_start
            && vm.run(|store| start.call(store, (ROOT_ID, 0)))? == 0
        {
            return Err(broken("proxy_on_vm_start answered false"));
        }
        let size = shared.config.len() as i32;
        if let Some(configure) = configure
            && vm.run(|store| configure.call(store, (ROOT_ID, size)))? == 0
        {
            return Err(broken(
                "proxy_on_configure answered false (the module refused its configuration)",
            ));
        }
        Ok(vm)
    }

    /// Runs `f` within the callback deadline; a trap, the deadline or a limit is a failure.
    fn run<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        self.store.set_epoch_deadline(self.deadline_ticks);
        f(&mut self.store).map_err(|e| Failure::of(&self.store.data().shared.name, &e))
    }

    /// A new HTTP context's id, created in the module.
    pub(crate) fn create_context(&mut self) -> Result<i32, Failure> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(ROOT_ID + 1);
        if let Some(create) = self.exports.context_create.clone() {
            self.run(|store| create.call(store, (id, ROOT_ID)))?;
        }
        Ok(id)
    }

    /// Runs filter callback `which` of context `id` with `call` as what it sees; returns the
    /// callback's action and the call as it left it.
    pub(crate) fn filter(
        &mut self,
        which: Filter,
        id: i32,
        arg: i32,
        end_of_stream: bool,
        call: Call,
    ) -> (Result<i32, Failure>, Call) {
        let f = match which {
            Filter::RequestHeaders => &self.exports.request_headers,
            Filter::RequestBody => &self.exports.request_body,
            Filter::ResponseHeaders => &self.exports.response_headers,
            Filter::ResponseBody => &self.exports.response_body,
        };
        let Some(f) = f.clone() else { return (Ok(0), call) };
        self.store.data_mut().call = call;
        let result = self.run(|store| f.call(store, (id, arg, i32::from(end_of_stream))));
        (result, std::mem::take(&mut self.store.data_mut().call))
    }

    /// Delivers the answer of HTTP call `token` to context `id`.
    pub(crate) fn http_call_response(
        &mut self,
        id: i32,
        token: u32,
        counts: (i32, i32, i32),
        call: Call,
    ) -> (Result<(), Failure>, Call) {
        let Some(f) = self.exports.http_call_response.clone() else { return (Ok(()), call) };
        self.store.data_mut().call = call;
        let (headers, body, trailers) = counts;
        let result = self.run(|store| f.call(store, (id, token as i32, headers, body, trailers)));
        (result, std::mem::take(&mut self.store.data_mut().call))
    }

    /// Ends context `id`: done, log, delete.
    pub(crate) fn end_context(&mut self, id: i32, call: Call) -> Result<(), Failure> {
        self.store.data_mut().call = call;
        let done = self.exports.done.clone();
        let log = self.exports.log.clone();
        let delete = self.exports.delete.clone();
        let result = (|| {
            if let Some(done) = done {
                self.run(|store| done.call(store, id))?;
            }
            if let Some(log) = log {
                self.run(|store| log.call(store, id))?;
            }
            if let Some(delete) = delete {
                self.run(|store| delete.call(store, id))?;
            }
            Ok(())
        })();
        self.store.data_mut().call = Call::default();
        result
    }

    /// Runs the root context's tick.
    pub(crate) fn tick(&mut self) -> Result<(), Failure> {
        let Some(tick) = self.exports.tick.clone() else { return Ok(()) };
        self.run(|store| tick.call(store, ROOT_ID))
    }
}
