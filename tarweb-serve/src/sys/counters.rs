//! Syscall counters: one block per worker thread, written only by that
//! thread (a relaxed load + store, no locked instruction, no shared cache
//! line), read and summed by the stats thread. The wrappers of this module
//! bump them themselves, before each call.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What is counted. Syscalls first, then events that are not syscalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Sc {
    Accept4,
    EpollCtl,
    EpollWait,
    Read,
    Write,
    Writev,
    Sendmsg,
    Sendfile,
    Close,
    Shutdown,
    /// kTLS reads (recvmsg with a control buffer).
    Recvmsg,
    /// Hot responses (`hot`): written, and their old pages freed.
    Pwritev,
    Fallocate,
    /// PROXY headers peeked at on TLS listeners (`recv` with MSG_PEEK).
    Recv,
    /// Not syscalls: requests answered, connections accepted, TLS
    /// handshakes completed and failed.
    Requests,
    Connections,
    /// Heap allocations the worker thread has made (set, not bumped).
    Allocs,
    TlsHandshakes,
    TlsFailures,
    /// Connections closed at accept: the peer is not in `--proxy-from`.
    ProxyRefused,
    /// Connections closed for a missing, malformed or late PROXY header.
    ProxyFailures,
}

pub const NAMES: [&str; 21] = [
    "accept4",
    "epoll_ctl",
    "epoll_wait",
    "read",
    "write",
    "writev",
    "sendmsg",
    "sendfile",
    "close",
    "shutdown",
    "recvmsg",
    "pwritev",
    "fallocate",
    "recv",
    "requests",
    "connections",
    "allocs",
    "tls_handshakes",
    "tls_failures",
    "proxy_refused",
    "proxy_failures",
];

/// One worker's counters, padded to its own cache lines.
#[repr(align(128))]
#[derive(Default)]
pub struct Counters {
    n: [AtomicU64; 21],
    /// The labelled metrics (`--metrics-listen`), same single writer.
    pub m: super::worker_metrics::WorkerMetrics,
}

impl Counters {
    /// Single writer: the owning worker thread.
    #[inline]
    pub fn bump(&self, k: Sc) {
        let c = &self.n[k as usize];
        c.store(c.load(Relaxed) + 1, Relaxed);
        // With every syscall, so a client that saw a response also sees
        // the allocations made before it.
        self.n[Sc::Allocs as usize].store(super::thread_allocs(), Relaxed);
    }

    pub fn get(&self, k: usize) -> u64 {
        self.n[k].load(Relaxed)
    }

    /// Send calls so far (writev, sendmsg, sendfile): each may end a TLS
    /// record early, which the kTLS record estimate needs.
    pub fn sends(&self) -> u64 {
        self.get(Sc::Writev as usize)
            + self.get(Sc::Sendmsg as usize)
            + self.get(Sc::Sendfile as usize)
    }
}
