//! Timeouts without a syscall per connection per tick: one FIFO per kind
//! of timeout. Every entry of a queue has the same duration, so push order
//! is deadline order and only the fronts are ever looked at (on the
//! epoll_wait timeout). Entries are invalidated lazily: a connection keeps
//! its current deadline and kind (its [`Timer`]); an entry whose slot was
//! reused (other generation) is dropped, one whose connection moved its
//! deadline later is pushed again. A live connection has at most one entry
//! per queue; a closed one's entries stay until their deadline, so a queue
//! holds about the connections of the last timeout's length. A re-pushed
//! entry may sit behind later ones, so a timeout can fire late by at most
//! its own duration; never early.
//!
//! The queues start small and grow (double) to the longest they have been:
//! allocation while traffic rises past what it was, none in steady state.
//! They used to be preallocated at the slab's full size: a ring buffer
//! whose head walks through all of its capacity, so the worker's resident
//! memory crept up by a page every ~170 entries pushed, for as long as it
//! took to touch every page (4 x 24 B x `--max-connections`/threads: about
//! 768 KiB per worker by default), which read as memory growing with every
//! live swap under load. Now what is touched is what was needed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a connection is waiting for, and so how long it may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// The rest of a request head, a body to discard, or a TLS handshake.
    Head = 0,
    /// Keep-alive, nothing pending.
    Idle = 1,
    /// Output blocked on a full socket.
    Send = 2,
    /// After an error response: our side shut down, the client's bytes
    /// read and dropped until it closes (so its unread request does not
    /// turn our close into a reset that destroys the response).
    Linger = 3,
}

impl TimerKind {
    pub const ALL: [TimerKind; 4] = [
        TimerKind::Head,
        TimerKind::Idle,
        TimerKind::Send,
        TimerKind::Linger,
    ];
}

/// An entry of one queue: a connection (slot and generation) and the
/// deadline it had when pushed.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    deadline: Instant,
    pub slot: u32,
    pub gen: u32,
}

/// A connection's side of the timers: its current kind and deadline, and
/// which queues hold an entry for it.
pub(crate) struct Timer {
    kind: TimerKind,
    deadline: Instant,
    queued: [bool; 4],
}

impl Timer {
    pub fn new(now: Instant) -> Timer {
        Timer {
            kind: TimerKind::Idle,
            deadline: now,
            queued: [false; 4],
        }
    }
}

/// Entries a queue has room for at first (24 bytes each).
const FIRST_CAP: usize = 256;

pub(crate) struct Timers {
    queues: [VecDeque<Entry>; 4],
    durations: [Duration; 4],
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
            queues: std::array::from_fn(|_| VecDeque::with_capacity(cap.min(FIRST_CAP))),
            durations: [head, idle, send, linger],
        }
    }

    /// Sets connection `slot`'s timer to `kind`, due its duration after
    /// `from`, and queues an entry for it unless that queue holds one
    /// already. A lingering connection keeps its first deadline: the
    /// client's bytes do not extend it.
    pub fn arm(&mut self, t: &mut Timer, kind: TimerKind, from: Instant, slot: u32, gen: u32) {
        if !(kind == TimerKind::Linger && t.kind == TimerKind::Linger) {
            t.deadline = from + self.durations[kind as usize];
        }
        t.kind = kind;
        let k = kind as usize;
        if !t.queued[k] {
            t.queued[k] = true;
            self.queues[k].push_back(Entry {
                deadline: t.deadline,
                slot,
                gen,
            });
        }
    }

    /// The earliest deadline at the front of any queue.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queues
            .iter()
            .filter_map(|q| q.front().map(|e| e.deadline))
            .min()
    }

    /// Pops the front of queue `k` if it is due. The caller finds the
    /// connection by slot and generation and asks [`Timers::fires`].
    pub fn pop_due(&mut self, k: TimerKind, now: Instant) -> Option<Entry> {
        let q = &mut self.queues[k as usize];
        if q.front().is_some_and(|e| e.deadline <= now) {
            q.pop_front()
        } else {
            None
        }
    }

    /// For an entry of queue `k` popped for the connection whose timer is
    /// `t`: true when that timer runs out now. When the connection moved
    /// on to another kind, the entry is spent; when its deadline moved
    /// later, the entry goes back into the queue.
    pub fn fires(&mut self, t: &mut Timer, k: TimerKind, e: Entry, now: Instant) -> bool {
        let i = k as usize;
        t.queued[i] = false;
        if t.kind != k {
            return false;
        }
        if t.deadline > now {
            t.queued[i] = true;
            self.queues[i].push_back(Entry {
                deadline: t.deadline,
                ..e
            });
            return false;
        }
        true
    }
}

/// Milliseconds to wait for `deadline`, rounded up (never a busy 0 early).
pub(crate) fn wait_ms(now: Instant, deadline: Option<Instant>) -> i32 {
    match deadline {
        None => -1,
        Some(d) if d <= now => 0,
        Some(d) => {
            let us = (d - now).as_micros();
            us.div_ceil(1000).min(i32::MAX as u128) as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timers() -> Timers {
        let s = Duration::from_secs;
        Timers::new(4, s(10), s(60), s(60), s(2))
    }

    #[test]
    fn fires_at_the_deadline_not_before() {
        let mut ts = timers();
        let t0 = Instant::now();
        let mut t = Timer::new(t0);
        ts.arm(&mut t, TimerKind::Head, t0, 3, 1);
        assert_eq!(ts.next_deadline(), Some(t0 + Duration::from_secs(10)));
        assert!(ts
            .pop_due(TimerKind::Head, t0 + Duration::from_secs(9))
            .is_none());
        let now = t0 + Duration::from_secs(10);
        let e = ts.pop_due(TimerKind::Head, now).expect("due");
        assert_eq!((e.slot, e.gen), (3, 1));
        assert!(ts.fires(&mut t, TimerKind::Head, e, now));
    }

    #[test]
    fn a_moved_deadline_is_pushed_again_and_another_kind_is_spent() {
        let mut ts = timers();
        let t0 = Instant::now();
        let mut t = Timer::new(t0);
        ts.arm(&mut t, TimerKind::Head, t0, 0, 1);
        // Rearmed later: still one entry, which comes back once.
        let t1 = t0 + Duration::from_secs(5);
        ts.arm(&mut t, TimerKind::Head, t1, 0, 1);
        let now = t0 + Duration::from_secs(10);
        let e = ts.pop_due(TimerKind::Head, now).expect("first entry");
        assert!(!ts.fires(&mut t, TimerKind::Head, e, now));
        assert!(ts.pop_due(TimerKind::Head, now).is_none(), "re-pushed");
        let later = t1 + Duration::from_secs(10);
        let e = ts.pop_due(TimerKind::Head, later).expect("re-pushed entry");
        // Meanwhile the connection went idle: the head entry is spent.
        ts.arm(&mut t, TimerKind::Idle, later, 0, 1);
        assert!(!ts.fires(&mut t, TimerKind::Head, e, later));
        assert!(ts
            .pop_due(TimerKind::Head, later + Duration::from_secs(99))
            .is_none());
    }

    #[test]
    fn lingering_keeps_its_first_deadline() {
        let mut ts = timers();
        let t0 = Instant::now();
        let mut t = Timer::new(t0);
        ts.arm(&mut t, TimerKind::Linger, t0, 0, 1);
        ts.arm(&mut t, TimerKind::Linger, t0 + Duration::from_secs(1), 0, 1);
        let now = t0 + Duration::from_secs(2);
        let e = ts.pop_due(TimerKind::Linger, now).expect("due at 2 s");
        assert!(ts.fires(&mut t, TimerKind::Linger, e, now));
    }

    #[test]
    fn wait_rounds_up() {
        let t0 = Instant::now();
        assert_eq!(wait_ms(t0, None), -1);
        assert_eq!(wait_ms(t0, Some(t0)), 0);
        assert_eq!(wait_ms(t0, Some(t0 + Duration::from_micros(1))), 1);
        assert_eq!(wait_ms(t0, Some(t0 + Duration::from_micros(1001))), 2);
    }
}
