//! The global allocator: the system's, counting allocations per thread, so
//! tests can assert that a worker serves requests without allocating.

use super::seccomp::Allow;

/// The allocator's syscalls (glibc malloc: brk for the main arena, mmap
/// and mprotect for the threads' arenas and large blocks, mremap for
/// growing them, madvise and munmap to give memory back; thread stacks the
/// same way). Never executable memory.
pub(super) const SECCOMP: &[Allow] = &[
    Allow::any(libc::SYS_brk, "brk"),
    Allow::arg_masked(libc::SYS_mmap, "mmap", 2, libc::PROT_EXEC as u64, 0),
    Allow::arg_masked(libc::SYS_mprotect, "mprotect", 2, libc::PROT_EXEC as u64, 0),
    Allow::any(libc::SYS_mremap, "mremap"),
    Allow::any(libc::SYS_madvise, "madvise"),
    Allow::any(libc::SYS_munmap, "munmap"),
];

/// The global allocator: the system's, counting allocations per thread so
/// the tests can assert that a worker serves requests without allocating
/// (`allocs` in the stats). One thread-local increment per allocation.
pub struct CountingAlloc;

thread_local! {
    // const-initialised, no destructor: usable from inside the allocator.
    static ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Allocations (alloc, alloc_zeroed, realloc) made by the calling thread.
pub fn thread_allocs() -> u64 {
    ALLOCS.with(|n| n.get())
}

fn count_alloc() {
    ALLOCS.with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counting touches no heap.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}
