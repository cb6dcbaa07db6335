//! The process's allocator: mimalloc, asked for alignment only when a type
//! needs more than every mimalloc block already has.
//!
//! The `mimalloc` crate sends every Rust allocation through
//! `mi_malloc_aligned`, whose fast path only serves blocks up to 1 KiB; every
//! larger allocation (a request's future, response buffers) took the generic
//! aligned path, ~200 instructions more each under callgrind. Blocks from
//! plain `mi_malloc` are aligned to 16 bytes from 16 bytes up (8 below), as
//! glibc's are, so Rust's standard library makes the same choice for its
//! `System` allocator: plain calls when `align <= 16 && align <= size`.
//!
//! The only `unsafe` code in the crate: a `GlobalAlloc` cannot be written
//! without it. Each function forwards to mimalloc under the contract
//! `GlobalAlloc` states.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The largest alignment every mimalloc block of at least that size has.
const MIN_ALIGN: usize = 16;

/// mimalloc as the global allocator; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator;

/// Whether a plain (unaligned) mimalloc call satisfies `layout`.
const fn plain(align: usize, size: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

// SAFETY: every method forwards to the mimalloc function with the same
// contract (`mi_malloc`/`mi_malloc_aligned` return null or a block of at
// least `size` bytes with the requested alignment, `mi_free` accepts any
// block mimalloc returned); `plain` only picks the unaligned functions when
// their blocks are aligned enough for the layout.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout.align(), layout.size()) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: see the impl.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: see the impl.
        unsafe {
            if plain(layout.align(), new_size) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_and_size_asked_for() {
        let allocator = Allocator;
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in [1, 3, 8, 15, 16, 24, 100, 1024, 1025, 5000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; freed with the same allocator.
                unsafe {
                    let p = allocator.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p.addr() % align, 0, "size {size} align {align}");
                    p.write_bytes(0xab, size);
                    let p = allocator.realloc(p, layout, size * 3);
                    assert_eq!(p.addr() % align, 0, "realloc size {size} align {align}");
                    assert_eq!(*p.add(size - 1), 0xab, "contents kept");
                    allocator.dealloc(p, Layout::from_size_align(size * 3, align).unwrap());
                    let z = allocator.alloc_zeroed(layout);
                    assert_eq!(z.addr() % align, 0);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    allocator.dealloc(z, layout);
                }
            }
        }
    }
}
