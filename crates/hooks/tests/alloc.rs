//! Dispatch allocates nothing for up to eight callbacks: proved with a counting allocator.
#![allow(clippy::unwrap_used, reason = "a test fails loudly on the first unexpected error")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use hookyard_context::{Context, Continuation};
use hookyard_hooks::{
    Dispatch, HookId, Hooks, Level, Local, Outcome, Priorities, Priority, Progress,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards to the system allocator unchanged; counting touches only a
// const-initialised thread-local without a destructor, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

type Handler = dyn Fn(&mut Txn) -> Outcome + Send + Sync;

struct Txn {
    session: Hooks<Handler>,
    txn: Hooks<Handler>,
    ran: u64,
}

fn callback(plugin: &str) -> Arc<Continuation<Handler>> {
    Context::builtin(plugin).run(|| {
        Arc::new(Continuation::new(|t: &mut Txn| {
            t.ran += 1;
            Outcome::Continue
        })) as Arc<Continuation<Handler>>
    })
}

fn local(t: &Txn) -> Local<'_, Handler> {
    Local {
        session: Some(&t.session),
        txn: Some(&t.txn),
        session_control: None,
        txn_control: None,
        ..Local::default()
    }
}

#[test]
fn dispatching_eight_callbacks_over_three_levels_allocates_nothing() {
    let priorities = Priorities::default();
    let hook = HookId::ReadRequestHdr;
    let mut global: Hooks<Handler> = Hooks::new(Level::Global);
    let mut t =
        Txn { session: Hooks::new(Level::Session), txn: Hooks::new(Level::Transaction), ran: 0 };
    for i in 0..4 {
        global.add(hook, callback(&format!("g{i}")), Some(Priority(-i)), &priorities).unwrap();
    }
    for i in 0..2 {
        t.session.add(hook, callback(&format!("s{i}")), None, &priorities).unwrap();
        t.txn.add(hook, callback(&format!("t{i}")), None, &priorities).unwrap();
    }
    // Warm up lazily initialised thread-locals (the current-context cell, tracing's).
    Dispatch::new(hook).run(Some(&global), &priorities, &mut t, local, |h, _, t| h(t));

    assert!(allocations() > 0, "the counting allocator sees the registrations");
    let before = allocations();
    for _ in 0..100 {
        let progress =
            Dispatch::new(hook).run(Some(&global), &priorities, &mut t, local, |h, _, t| h(t));
        assert_eq!(progress, Progress::Done(Outcome::Continue));
    }
    let allocated = allocations() - before;
    assert_eq!(t.ran, 8 * 101);
    assert_eq!(
        allocated, 0,
        "dispatch allocated {allocated} times in 100 dispatches of 8 callbacks"
    );
}
