//! Timeouts without a syscall per connection per tick: one FIFO per kind
//! of timeout. Every entry of a queue has the same duration, so push order
//! is deadline order and only the fronts are ever looked at (on the
//! epoll_wait timeout). Entries are invalidated lazily: a connection keeps
//! its current deadline and kind; an entry whose slot was reused (other
//! generation) is dropped, one whose connection moved its deadline later
//! is pushed again. A connection has at most one entry per queue, so the
//! queues never grow past the slab size (preallocated: no allocation).
//! A re-pushed entry may sit behind later ones, so a timeout can fire late
//! by at most its own duration; never early.

use crate::conn::TimerKind;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
pub struct Entry {
    pub deadline: Instant,
    pub slot: u32,
    pub gen: u32,
}

pub struct Timers {
    pub queues: [VecDeque<Entry>; 4],
    pub durations: [Duration; 4],
}

impl Timers {
    pub fn new(
        cap: usize,
        head: Duration,
        idle: Duration,
        send: Duration,
        linger: Duration,
    ) -> Timers {
        Timers {
            queues: [
                VecDeque::with_capacity(cap),
                VecDeque::with_capacity(cap),
                VecDeque::with_capacity(cap),
                VecDeque::with_capacity(cap),
            ],
            durations: [head, idle, send, linger],
        }
    }

    pub fn duration(&self, k: TimerKind) -> Duration {
        self.durations[k as usize]
    }

    pub fn push(&mut self, k: TimerKind, e: Entry) {
        self.queues[k as usize].push_back(e);
    }

    /// The earliest deadline at the front of any queue.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter_map(|q| q.front().map(|e| e.deadline))
            .min()
    }

    /// Pops the front of queue `k` if it is due.
    pub fn pop_due(&mut self, k: usize, now: Instant) -> Option<Entry> {
        let q = &mut self.queues[k];
        if q.front().is_some_and(|e| e.deadline <= now) {
            q.pop_front()
        } else {
            None
        }
    }
}

/// Milliseconds to wait for `deadline`, rounded up (never a busy 0 early).
pub fn wait_ms(now: Instant, deadline: Option<Instant>) -> i32 {
    match deadline {
        None => -1,
        Some(d) if d <= now => 0,
        Some(d) => {
            let us = (d - now).as_micros();
            us.div_ceil(1000).min(i32::MAX as u128) as i32
        }
    }
}
