//! Labelled per-worker counters (`--metrics-listen`, rendered by the
//! crate's `metrics`): like the syscall counters beside them, one block
//! per worker, written only by it (a relaxed load and store, no locked
//! instruction), read and summed by the metrics thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Virtual-host slots: 0 is no site (421, bad requests), 1 the default
/// site (or the one blob), the others site names in the order first met;
/// the last takes every name beyond (a bound on memory and on series).
pub const VHOSTS: usize = 64;
pub const VHOST_NONE: u16 = 0;
pub const VHOST_DEFAULT: u16 = 1;
pub const VHOST_OTHER: u16 = (VHOSTS - 1) as u16;

pub const CODES: usize = 5;
pub const METHODS: usize = 3;
pub const PROTOS: usize = 3;
pub const METHOD_NAMES: [&str; METHODS] = ["GET", "HEAD", "other"];
pub const PROTO_NAMES: [&str; PROTOS] = ["1.0", "1.1", "2"];

/// Upper bounds of the duration histogram's buckets, in microseconds
/// (from a cached small response to a big one to a slow reader).
pub const BUCKETS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
    5_000_000, 30_000_000,
];

/// Why a TLS handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum TlsFailure {
    /// Plain HTTP on the TLS port (answered 400).
    PlainHttp,
    /// Not TLS, or TLS we refuse (no shared version or cipher, a bad
    /// record, an alert from the client).
    Protocol,
    /// The client closed in the middle.
    Eof,
    /// A socket error (reset).
    Io,
    /// The head timer ran out.
    Timeout,
}
pub const TLS_FAILURES: [&str; 5] = ["plain_http", "protocol", "eof", "io", "timeout"];

/// The request's method, for the method label.
#[derive(Debug, Clone, Copy)]
pub enum MethodClass {
    Get = 0,
    Head = 1,
    Other = 2,
}

/// Protocol label index: 0 HTTP/1.0, 1 HTTP/1.1, 2 HTTP/2.
pub type ProtoClass = usize;

/// One worker's metrics; see the module comment.
pub struct WorkerMetrics {
    pub(crate) requests: Box<[AtomicU64]>,
    pub(crate) body_bytes: Box<[AtomicU64]>,
    /// Per bucket (not cumulative), the last one beyond every bound.
    pub(crate) duration: [AtomicU64; BUCKETS_US.len() + 1],
    pub(crate) duration_sum_us: AtomicU64,
    /// Open connections by state (a gauge: moves both ways).
    pub(crate) states: [AtomicU64; 4],
    pub(crate) tls_failures: [AtomicU64; 5],
    /// TLS connections by record layer: 0 kernel, 1 user space.
    pub(crate) tls_records: [AtomicU64; 2],
    pub(crate) log_dropped: AtomicU64,
}

impl Default for WorkerMetrics {
    fn default() -> WorkerMetrics {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        WorkerMetrics {
            requests: zeros(VHOSTS * CODES * METHODS * PROTOS),
            body_bytes: zeros(VHOSTS),
            duration: Default::default(),
            duration_sum_us: AtomicU64::new(0),
            states: Default::default(),
            tls_failures: Default::default(),
            tls_records: Default::default(),
            log_dropped: AtomicU64::new(0),
        }
    }
}

/// Single writer: a plain load and store, no locked instruction.
#[inline]
fn add(a: &AtomicU64, n: u64) {
    a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
}

pub fn req_index(vhost: usize, code: usize, method: usize, proto: usize) -> usize {
    ((vhost * CODES + code) * METHODS + method) * PROTOS + proto
}

impl WorkerMetrics {
    /// A request answered with `status` and `body` bytes of body.
    #[inline]
    pub fn request(&self, vhost: u16, status: u16, m: MethodClass, p: ProtoClass, body: u64) {
        let vhost = usize::from(vhost).min(VHOSTS - 1);
        let code = usize::from(status / 100).clamp(1, 5) - 1;
        add(
            &self.requests[req_index(vhost, code, m as usize, p.min(PROTOS - 1))],
            1,
        );
        add(&self.body_bytes[vhost], body);
    }

    /// `n` responses whose last byte went to the kernel `d` after their
    /// head was complete.
    #[inline]
    pub fn durations(&self, n: u64, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let b = BUCKETS_US
            .iter()
            .position(|&le| us <= le)
            .unwrap_or(BUCKETS_US.len());
        add(&self.duration[b], n);
        add(&self.duration_sum_us, us.saturating_mul(n));
    }

    /// A connection moved from state `from` (None: just accepted) to `to`
    /// (None: closed).
    #[inline]
    /// `from`, `to`: the timer kinds' indexes (`TimerKind as usize`).
    pub fn state(&self, from: Option<usize>, to: Option<usize>) {
        if from == to {
            return;
        }
        if let Some(f) = from {
            add(&self.states[f], u64::MAX); // -1, wrapping
        }
        if let Some(t) = to {
            add(&self.states[t], 1);
        }
    }

    pub fn tls_failure(&self, why: TlsFailure) {
        add(&self.tls_failures[why as usize], 1);
    }

    /// A TLS connection's records go to the kernel (`kernel`) or are made
    /// in user space.
    pub fn tls_records(&self, kernel: bool) {
        add(&self.tls_records[usize::from(!kernel)], 1);
    }

    /// An access log line that did not fit (the disk is behind).
    pub fn log_dropped(&self) {
        add(&self.log_dropped, 1);
    }
}
