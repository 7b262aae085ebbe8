//! Hands a new `Sites` table from the watcher to every worker.
//!
//! A generation counter plus a mutex-protected `Arc` slot, rather than the
//! arc-swap crate: a worker already has a natural point between events, so
//! it compares one atomic there (a plain load, no syscall, no lock) and
//! takes the mutex only when the generation moved, once per worker per
//! publish. Between publishes the request path touches neither the
//! counter nor any reference count: it borrows from the worker's own
//! `Arc<Sites>`.
//!
//! Publishing also writes an eventfd that every worker polls
//! edge-triggered, so an idle worker wakes, takes the new table and drops
//! its reference to the old one: an old root is released after its last
//! response even on a server with no traffic.

use crate::sites::Sites;
use crate::sys;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Published {
    generation: AtomicU64,
    slot: Mutex<Arc<Sites>>,
    wake: OwnedFd,
}

impl Published {
    pub fn new(mut first: Sites) -> io::Result<Published> {
        first.generation = 1;
        Ok(Published {
            generation: AtomicU64::new(1),
            slot: Mutex::new(Arc::new(first)),
            wake: sys::eventfd()?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Arc<Sites>> {
        // Nothing panics while holding it, but a poisoned slot still holds
        // a complete table.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `sites` current and wakes every worker; returns its
    /// generation.
    pub fn publish(&self, mut sites: Sites) -> u64 {
        let mut slot = self.lock();
        let g = slot.generation + 1;
        sites.generation = g;
        let old = std::mem::replace(&mut *slot, Arc::new(sites));
        // Release: a worker that sees `g` then locks and finds the table.
        self.generation.store(g, Ordering::Release);
        drop(slot);
        drop(old);
        sys::eventfd_signal(self.wake.as_raw_fd());
        g
    }

    /// The current table.
    pub fn current(&self) -> Arc<Sites> {
        self.lock().clone()
    }

    /// The current table if it is not the one of generation `held`.
    #[inline]
    pub fn changed(&self, held: u64) -> Option<Arc<Sites>> {
        if self.generation.load(Ordering::Acquire) == held {
            return None;
        }
        Some(self.current())
    }

    /// The eventfd workers add to their epoll (edge-triggered, never read).
    pub fn wake_fd(&self) -> RawFd {
        self.wake.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_advance_and_are_seen_once() {
        let p = Published::new(Sites::hosts(Vec::new(), None)).unwrap();
        let s = p.current();
        assert_eq!(s.generation, 1);
        assert!(p.changed(1).is_none());
        assert_eq!(p.publish(Sites::hosts(Vec::new(), None)), 2);
        let s2 = p.changed(1).expect("moved");
        assert_eq!(s2.generation, 2);
        assert!(p.changed(s2.generation).is_none());
        // The old table is only held by whoever still has it.
        assert_eq!(Arc::strong_count(&s), 1);
    }
}
