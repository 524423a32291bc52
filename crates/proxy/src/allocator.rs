//! The binary's allocator (a module of `main.rs` and of the benches, not of the library):
//! mimalloc, asked for a plain block whenever the layout's alignment is one every mimalloc block
//! of that size has.
//!
//! `mimalloc::MiMalloc` hands every layout to `mi_malloc_aligned`. That call checks the free
//! block's alignment on its fast path and, when the fast path misses (a block over 1 KiB, or
//! an empty free list), goes through a generic path that over-allocates for sizes that are not
//! powers of two. A proxy allocates about fifteen times per request, nearly all with
//! alignments of 8 or 16, so the plain calls save about a third of the allocator's
//! instructions per request (`docs/benchmarks.md`). This is the whole FFI of the binary.
//!
//! mimalloc's blocks are aligned to 16 bytes from 16 bytes up, and to their size below
//! (`MI_MAX_ALIGN_SIZE`; size classes are whole double words): the same rule as C's `malloc`,
//! and the one Rust's own `System` allocator relies on.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The largest alignment every mimalloc block of at least that size has.
const PLAIN_ALIGN: usize = 16;

/// mimalloc, with plain calls where the layout allows them.
pub(crate) struct Allocator;

/// Whether a block of `size` bytes from the plain calls is aligned enough for `align`.
fn plain(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

// SAFETY: every path returns a block of mimalloc's of at least `layout.size()` bytes aligned to
// `layout.align()` (the plain calls only where `plain` holds, see the module docs), or null;
// `mi_free` and the reallocations accept any block mimalloc returned, aligned or not.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout.align(), layout.size()) {
            // SAFETY: mimalloc takes any size; the block's alignment is as `plain` says.
            unsafe { mi::mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: a `Layout`'s alignment is a power of two, as mimalloc requires.
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(layout.align(), layout.size()) {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator returned, so one of mimalloc's.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain(layout.align(), new_size) {
            // SAFETY: `ptr` is one of mimalloc's blocks (the caller's promise); the new
            // block's alignment is as `plain` says.
            unsafe { mi::mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            // SAFETY: as above, with a power-of-two alignment.
            unsafe { mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast() }
        }
    }
}

#[cfg(test)]
mod tests {
    // Imports inside the tests: the benches include this module, and their build drops the
    // tests, which would leave a module-wide import unused.

    /// Every size up to 4 KiB and past mimalloc's small and medium classes, at every alignment
    /// up to a page: the block is aligned, writable whole, and keeps its bytes when it grows.
    #[test]
    fn blocks_are_aligned_as_their_layout_asks() {
        use super::{Allocator, GlobalAlloc, Layout};
        let sizes = (1..=4096).chain([8191, 65_537, 1 << 20, (4 << 20) + 3]);
        for size in sizes {
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; the block is written within its size, grown with
                // the layout it was made with, and freed once.
                unsafe {
                    let p = Allocator.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    p.write_bytes(0xa5, size);
                    let grown = Allocator.realloc(p, layout, size * 2 + 1);
                    assert_eq!(grown as usize % align, 0, "grown {size} align {align}");
                    assert_eq!(*grown.add(size - 1), 0xa5);
                    Allocator.dealloc(grown, Layout::from_size_align(size * 2 + 1, align).unwrap());
                    let z = Allocator.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zeroed {size} align {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    Allocator.dealloc(z, layout);
                }
            }
        }
    }

    /// A block shrunk below its alignment keeps it (the plain call would not promise it).
    #[test]
    fn shrinking_below_the_alignment_keeps_it() {
        use super::{Allocator, GlobalAlloc, Layout};
        for align in [2, 4, 8, 16] {
            let layout = Layout::from_size_align(64, align).unwrap();
            // SAFETY: as in the test above.
            unsafe {
                let p = Allocator.alloc(layout);
                let small = Allocator.realloc(p, layout, 1);
                assert_eq!(small as usize % align, 0);
                Allocator.dealloc(small, Layout::from_size_align(1, align).unwrap());
            }
        }
    }
}
