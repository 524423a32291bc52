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
        store.data_mut().alloc = Some(Arc::new(alloc));
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
        run(&mut self.store, self.deadline_ticks, f)
    }

    /// A new HTTP context's id, created in the module.
    pub(crate) fn create_context(&mut self) -> Result<i32, Failure> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(ROOT_ID + 1);
        if let Some(create) = &self.exports.context_create {
            run(&mut self.store, self.deadline_ticks, |store| create.call(store, (id, ROOT_ID)))?;
        }
        Ok(id)
    }

    /// What the current callback sees and what it asked for: filled before a callback, emptied
    /// after it, left in place between callbacks (its buffers are reused).
    pub(crate) fn call(&mut self) -> &mut Call {
        &mut self.store.data_mut().call
    }

    /// Runs filter callback `which` of context `id` on what [`call`](Vm::call) holds; the
    /// callback's action.
    pub(crate) fn filter(
        &mut self,
        which: Filter,
        id: i32,
        arg: i32,
        end_of_stream: bool,
    ) -> Result<i32, Failure> {
        let f = match which {
            Filter::RequestHeaders => &self.exports.request_headers,
            Filter::RequestBody => &self.exports.request_body,
            Filter::ResponseHeaders => &self.exports.response_headers,
            Filter::ResponseBody => &self.exports.response_body,
        };
        let Some(f) = f else { return Ok(0) };
        let args = (id, arg, i32::from(end_of_stream));
        run(&mut self.store, self.deadline_ticks, |store| f.call(store, args))
    }

    /// Delivers the answer of HTTP call `token` to context `id` (the answer in
    /// [`call`](Vm::call)).
    pub(crate) fn http_call_response(
        &mut self,
        id: i32,
        token: u32,
        counts: (i32, i32, i32),
    ) -> Result<(), Failure> {
        let Some(f) = &self.exports.http_call_response else { return Ok(()) };
        let (headers, body, trailers) = counts;
        let args = (id, token as i32, headers, body, trailers);
        run(&mut self.store, self.deadline_ticks, |store| f.call(store, args))
    }

    /// Ends context `id`: done, log, delete.
    pub(crate) fn end_context(&mut self, id: i32) -> Result<(), Failure> {
        let Vm { store, exports, deadline_ticks, .. } = self;
        if let Some(done) = &exports.done {
            run(store, *deadline_ticks, |store| done.call(&mut *store, id))?;
        }
        if let Some(log) = &exports.log {
            run(store, *deadline_ticks, |store| log.call(&mut *store, id))?;
        }
        if let Some(delete) = &exports.delete {
            run(store, *deadline_ticks, |store| delete.call(&mut *store, id))?;
        }
        Ok(())
    }

    /// Runs the root context's tick.
    pub(crate) fn tick(&mut self) -> Result<(), Failure> {
        let Some(tick) = &self.exports.tick else { return Ok(()) };
        run(&mut self.store, self.deadline_ticks, |store| tick.call(store, ROOT_ID))
    }
}

/// Runs `f` on `store` within a deadline of `ticks` epochs; a trap, the deadline or a limit
/// is a failure.
fn run<R>(
    store: &mut Store<HostState>,
    ticks: u64,
    f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>,
) -> Result<R, Failure> {
    store.set_epoch_deadline(ticks);
    f(store).map_err(|e| Failure::of(&store.data().shared.name, &e))
}
