//! The stats endpoint's text: the workers' counters (`sys::Counters`),
//! summed, as `name value` lines.

use crate::sys::{Counters, NAMES};
use std::fmt::Write as _;

/// `name value` lines, summed over all workers.
pub fn render(all: &[Counters]) -> String {
    let mut s = String::new();
    for (k, name) in NAMES.iter().enumerate() {
        let sum: u64 = all.iter().map(|c| c.get(k)).sum();
        let _ = writeln!(s, "{name} {sum}");
    }
    // Not a worker counter: bumped only when it happens (tls::ktls).
    let fallbacks = crate::tls::ktls::FALLBACKS.load(std::sync::atomic::Ordering::Relaxed);
    let _ = writeln!(s, "ktls_fallbacks {fallbacks}");
    s
}
