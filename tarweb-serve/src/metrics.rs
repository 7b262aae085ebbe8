//! `--metrics-listen`: Prometheus text exposition (version 0.0.4) at
//! `/metrics`.
//!
//! Each worker counts into its own block (`sys::worker_metrics`, inside
//! its `sys::Counters`, padded to its own cache lines): single writer, a
//! relaxed load and store per bump, no locked instruction, no allocation.
//! The metrics thread reads every block and sums when scraped, so a
//! scrape may see one worker's request a few nanoseconds before its
//! bytes: every series is monotonic on its own, which is all Prometheus
//! asks of counters.
//!
//! Label sets are small and closed: status class (5), method class (3),
//! protocol (3), and the virtual host, by a slot the watcher assigns when
//! it builds a table ([`vhost_slot`]), never a name taken from a request.

use crate::sys::worker_metrics::{
    req_index, WorkerMetrics, BUCKETS_US, CODES, METHOD_NAMES, PROTO_NAMES, TLS_FAILURES, VHOSTS,
    VHOST_OTHER,
};
pub(crate) use crate::sys::worker_metrics::{MethodClass, ProtoClass, VHOST_DEFAULT, VHOST_NONE};
use crate::sys::{Counters, NAMES};
use crate::timers::TimerKind;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Connection states, as the timer a connection waits on says.
const STATES: [(TimerKind, &str); 4] = [
    (TimerKind::Head, "reading"),
    (TimerKind::Idle, "idle"),
    (TimerKind::Send, "writing"),
    (TimerKind::Linger, "closing"),
];

/// The method and protocol labels of a request.
#[inline]
pub(crate) fn classes(req: &crate::http::request::Request<'_>) -> (MethodClass, ProtoClass) {
    use crate::http::request::{Method, Version};
    let m = match req.method {
        Method::Get => MethodClass::Get,
        Method::Head => MethodClass::Head,
        _ => MethodClass::Other,
    };
    let p = match req.version {
        Version::Http10 => 0,
        Version::Http11 => 1,
        Version::Http2 => 2,
    };
    (m, p)
}

/// Live swaps: tables published after the first.
pub static SWAPS: AtomicU64 = AtomicU64::new(0);
/// Blobs the watcher refused (bad file, wrong format, failed load).
pub static REFUSED: AtomicU64 = AtomicU64::new(0);

/// The default site's name (`sites::DEFAULT_STEM`, which depends on
/// this module, not the other way).
const DEFAULT: &str = "_default";

/// Names of the slots handed out so far (index = slot).
static SLOTS: Mutex<Vec<Box<str>>> = Mutex::new(Vec::new());

/// The metrics slot of a site name (the watcher, building a table; never
/// a request). Stable for the life of the process.
pub fn vhost_slot(name: &str) -> u16 {
    if name == DEFAULT {
        return VHOST_DEFAULT;
    }
    let mut s = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    init_slots(&mut s);
    if let Some(i) = s.iter().position(|n| &**n == name) {
        return i as u16;
    }
    if s.len() < usize::from(VHOST_OTHER) {
        s.push(name.into());
        return (s.len() - 1) as u16;
    }
    VHOST_OTHER
}

fn init_slots(s: &mut Vec<Box<str>>) {
    if s.is_empty() {
        s.push("_none".into());
        s.push(DEFAULT.into());
    }
}

fn slot_names() -> Vec<Box<str>> {
    let mut s = SLOTS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    init_slots(&mut s);
    s.resize(VHOSTS, "".into());
    s[usize::from(VHOST_OTHER)] = "_other".into();
    s
}

/// A label value, escaped as the exposition format says (backslash,
/// double quote, line feed).
fn label(out: &mut String, v: &str) {
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(
        out,
        "# HELP tarweb_{name} {help}\n# TYPE tarweb_{name} {kind}"
    );
}

fn sum(all: &[Counters], f: impl Fn(&WorkerMetrics) -> &AtomicU64) -> u64 {
    all.iter()
        .map(|c| f(&c.m).load(Relaxed))
        .fold(0u64, u64::wrapping_add)
}

/// The Prometheus text of every worker's counters, summed, and of the
/// process-wide ones; `roots`: (vhost, digest) of the roots now served
/// (the info metric); `ktls_fallbacks`: `tls::ktls::FALLBACKS`.
pub fn render(all: &[Counters], roots: &[(&str, &str)], ktls_fallbacks: u64) -> String {
    let mut o = String::with_capacity(8192);
    let slots = slot_names();

    head(
        &mut o,
        "requests_total",
        "counter",
        "Requests answered, by status class, method, HTTP version and virtual host.",
    );
    for (v, vname) in slots.iter().enumerate() {
        for code in 0..CODES {
            for (m, mname) in METHOD_NAMES.iter().enumerate() {
                for (p, pname) in PROTO_NAMES.iter().enumerate() {
                    let n = sum(all, |w| &w.requests[req_index(v, code, m, p)]);
                    if n == 0 {
                        continue;
                    }
                    let _ = write!(
                        o,
                        "tarweb_requests_total{{code=\"{}xx\",method=\"{}\",protocol=\"{}\",vhost=\"",
                        code + 1,
                        mname,
                        pname
                    );
                    label(&mut o, vname);
                    let _ = writeln!(o, "\"}} {n}");
                }
            }
        }
    }

    head(
        &mut o,
        "response_body_bytes_total",
        "counter",
        "Response body bytes (as the response says; a HEAD counts none), by virtual host.",
    );
    for (v, vname) in slots.iter().enumerate() {
        let n = sum(all, |w| &w.body_bytes[v]);
        if n == 0 && v != usize::from(VHOST_DEFAULT) {
            continue;
        }
        o.push_str("tarweb_response_body_bytes_total{vhost=\"");
        label(&mut o, vname);
        let _ = writeln!(o, "\"}} {n}");
    }

    head(
        &mut o,
        "request_duration_seconds",
        "histogram",
        "From a request's complete head to its response's last byte handed to the kernel.",
    );
    let mut cum = 0u64;
    for (b, le) in BUCKETS_US.iter().enumerate() {
        cum += sum(all, |w| &w.duration[b]);
        let _ = writeln!(
            o,
            "tarweb_request_duration_seconds_bucket{{le=\"{}\"}} {cum}",
            *le as f64 / 1e6
        );
    }
    cum += sum(all, |w| &w.duration[BUCKETS_US.len()]);
    let _ = writeln!(
        o,
        "tarweb_request_duration_seconds_bucket{{le=\"+Inf\"}} {cum}"
    );
    let s = sum(all, |w| &w.duration_sum_us);
    let _ = writeln!(
        o,
        "tarweb_request_duration_seconds_sum {}\ntarweb_request_duration_seconds_count {cum}",
        s as f64 / 1e6
    );

    head(
        &mut o,
        "connections",
        "gauge",
        "Open connections, by state (reading a head or handshaking, idle, writing, closing).",
    );
    for (k, name) in STATES {
        let n = sum(all, |w| &w.states[k as usize]) as i64;
        let _ = writeln!(o, "tarweb_connections{{state=\"{name}\"}} {}", n.max(0));
    }

    let c = |k: crate::sys::Sc| all.iter().map(|c| c.get(k as usize)).sum::<u64>();
    use crate::sys::Sc;
    let simple: [(&str, &str, u64); 5] = [
        (
            "connections_accepted_total",
            "Connections accepted.",
            c(Sc::Connections),
        ),
        (
            "tls_handshakes_total",
            "TLS handshakes completed.",
            c(Sc::TlsHandshakes),
        ),
        (
            "proxy_refused_total",
            "Connections closed at accept: the peer is not in --proxy-from.",
            c(Sc::ProxyRefused),
        ),
        (
            "proxy_failures_total",
            "Connections closed for a missing, malformed or late PROXY header.",
            c(Sc::ProxyFailures),
        ),
        (
            "ktls_fallbacks_total",
            "TLS connections kTLS could not take (served with user-space records).",
            ktls_fallbacks,
        ),
    ];
    for (name, help, v) in simple {
        head(&mut o, name, "counter", help);
        let _ = writeln!(o, "tarweb_{name} {v}");
    }

    head(
        &mut o,
        "tls_handshake_failures_total",
        "counter",
        "TLS handshakes that failed, by reason.",
    );
    for (i, r) in TLS_FAILURES.iter().enumerate() {
        let n = sum(all, |w| &w.tls_failures[i]);
        let _ = writeln!(
            o,
            "tarweb_tls_handshake_failures_total{{reason=\"{r}\"}} {n}"
        );
    }

    head(
        &mut o,
        "tls_connections_total",
        "counter",
        "TLS connections after the handshake, by record layer (kernel: kTLS; user: user space).",
    );
    for (i, r) in ["kernel", "user"].iter().enumerate() {
        let n = sum(all, |w| &w.tls_records[i]);
        let _ = writeln!(o, "tarweb_tls_connections_total{{records=\"{r}\"}} {n}");
    }

    let globals: [(&str, &str, u64); 3] = [
        (
            "root_swaps_total",
            "Live swaps: new tables of roots published after the first.",
            SWAPS.load(Relaxed),
        ),
        (
            "blobs_refused_total",
            "Blobs the watcher refused to serve (the old root, if any, stays).",
            REFUSED.load(Relaxed),
        ),
        (
            "access_log_dropped_lines_total",
            "Access log lines dropped because the log's writer was behind.",
            sum(all, |w| &w.log_dropped),
        ),
    ];
    for (name, help, v) in globals {
        head(&mut o, name, "counter", help);
        let _ = writeln!(o, "tarweb_{name} {v}");
    }

    head(
        &mut o,
        "root_info",
        "gauge",
        "The roots being served: their digest (as tarweb-pack prints it), by virtual host.",
    );
    for (name, digest) in roots {
        o.push_str("tarweb_root_info{vhost=\"");
        label(&mut o, name);
        o.push_str("\",digest=\"");
        label(&mut o, digest);
        o.push_str("\"} 1\n");
    }

    head(
        &mut o,
        "syscalls_total",
        "counter",
        "System calls the workers made on the request path, by call.",
    );
    for (k, name) in NAMES.iter().enumerate().take(Sc::Requests as usize) {
        let n: u64 = all.iter().map(|c| c.get(k)).sum();
        let _ = writeln!(o, "tarweb_syscalls_total{{call=\"{name}\"}} {n}");
    }
    head(
        &mut o,
        "worker_heap_allocations_total",
        "counter",
        "Heap allocations the worker threads made.",
    );
    let _ = writeln!(o, "tarweb_worker_heap_allocations_total {}", c(Sc::Allocs));
    head(&mut o, "workers", "gauge", "Worker threads.");
    let _ = writeln!(o, "tarweb_workers {}", all.len());
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::Duration;

    #[test]
    fn buckets_and_states() {
        let all: Vec<Counters> = (0..2).map(|_| Counters::default()).collect();
        all[0].m.durations(2, Duration::from_micros(90));
        all[1].m.durations(1, Duration::from_secs(60));
        all[0].m.state(None, Some(TimerKind::Idle as usize));
        all[1].m.state(None, Some(TimerKind::Idle as usize));
        all[1].m.state(
            Some(TimerKind::Idle as usize),
            Some(TimerKind::Send as usize),
        );
        all[0]
            .m
            .request(VHOST_DEFAULT, 404, MethodClass::Get, 1, 10);
        let t = render(&all, &[], 0);
        assert!(
            t.contains("tarweb_request_duration_seconds_bucket{le=\"0.0001\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("tarweb_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{t}"
        );
        assert!(
            t.contains("tarweb_request_duration_seconds_count 3\n"),
            "{t}"
        );
        assert!(t.contains("tarweb_connections{state=\"idle\"} 1\n"), "{t}");
        assert!(
            t.contains("tarweb_connections{state=\"writing\"} 1\n"),
            "{t}"
        );
        assert!(t.contains(
            "tarweb_requests_total{code=\"4xx\",method=\"GET\",protocol=\"1.1\",vhost=\"_default\"} 1\n"
        ), "{t}");
    }

    #[test]
    fn label_escaping() {
        let mut s = String::new();
        label(&mut s, "a\"b\\c\nd");
        assert_eq!(s, "a\\\"b\\\\c\\nd");
    }
}
