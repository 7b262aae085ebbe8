//! Every raw syscall and every `unsafe` block of tarweb-serve lives here.
//! The hot-path wrappers take the calling worker's [`Counters`] and bump
//! the counter of their kind *before* the call, so a client that has seen
//! a call's effect (bytes, EOF) also sees it counted.
//!
//! Split by concern: `net` (sockets), `epoll`, `io` (reads and writes),
//! `mem` (mappings, memfds), `signal`, `process` (limits, credentials,
//! threads), `ktls`, `alloc` (the counting global allocator), `counters`
//! (the per-worker syscall counters every wrapper bumps), and the
//! confinement: `landlock` and `seccomp`. Each concern file lists the
//! syscalls its wrappers make after start-up in a `SECCOMP` table, which
//! `seccomp` joins into the allowlist. The crate root denies
//! `unsafe_code` everywhere else, and every `unsafe` here carries a
//! `// SAFETY:` line (clippy's `undocumented_unsafe_blocks` is denied).

mod alloc;
mod counters;
mod epoll;
mod io;
mod ktls;
mod landlock;
mod lease;
mod mem;
mod net;
mod process;
mod seccomp;
mod signal;
pub(crate) mod worker_metrics;

pub(crate) use alloc::thread_allocs;
pub use alloc::CountingAlloc;
pub use counters::Counters;
pub(crate) use counters::{Sc, NAMES};
pub(crate) use epoll::{
    epoll_add, epoll_create, epoll_del, epoll_wait, eventfd, eventfd_signal, Events, EPOLLERR,
    EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP,
};
#[cfg(test)]
pub(crate) use io::pread;
pub(crate) use io::{close, punch_hole, pwritev_all, read, sendfile, sendmsg_more, write, writev};
pub(crate) use ktls::ktls_available;
pub use ktls::{
    ktls_enable_ulp, ktls_recv_record, ktls_send_record, ktls_set_crypto, ktls_set_flag, KtlsDir,
    KtlsFlag,
};
pub use landlock::{landlock_read_only, LandlockExtra, Landlocked};
pub(crate) use lease::{lease_held, read_lease, release_lease, replace_fd};
pub(crate) use mem::{
    memfd_create, mlock, mmap_leased, mmap_readonly, on_tmpfs, remap_private, seal, Mmap,
};
pub(crate) use net::{
    accept, listener, local_addr, peek, port_taken, set_congestion_control, shutdown_write,
    systemd_listeners,
};
pub use process::{
    become_account, drop_capabilities, euid, lookup_account, monotonic_usec, raise_nofile_limit,
    set_no_new_privs, unlimit_memlock, Account,
};
pub use seccomp::{install_seccomp, seccomp_allowlist};
pub(crate) use signal::{block_signals, wait_signal, Signal};

use std::io as stdio;
use std::os::fd::{FromRawFd, OwnedFd};

fn cvt(r: libc::c_int) -> stdio::Result<libc::c_int> {
    if r < 0 {
        Err(stdio::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_size(r: libc::ssize_t) -> stdio::Result<usize> {
    if r < 0 {
        Err(stdio::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Takes ownership of a descriptor a syscall just returned.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates a
    // descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
