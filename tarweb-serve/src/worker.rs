//! One worker: its own epoll, its own SO_REUSEPORT listeners, its own
//! preallocated connection slab, buffer pools, timers, Date cache and
//! counters. Nothing is shared with other workers but the read-only
//! roots, which it takes from `publish` between events: one atomic load
//! per wakeup, and the request path borrows from the worker's own
//! `Arc<Sites>`.
//!
//! The worker owns the event loop, accept and the timers; what happens on
//! a connection is the connection's (`conn`). Epoll is edge-triggered for
//! connections (registered once with IN|OUT|RDHUP|ET, never modified: no
//! epoll_ctl per request) and level-triggered for listeners (one accept4
//! per readiness, so a new connection costs no EAGAIN accept).

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::conn::{Conn, Pools, Step, Transport};
use crate::date::DateCache;
use crate::hot::Hot;
use crate::http::request::MAX_TARGET;
use crate::proto::{h2, Env, Proto};
use crate::publish::Published;
use crate::sites::Sites;
use crate::sys::{
    self, Counters, Events, Sc, EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN, EPOLLOUT,
    EPOLLRDHUP,
};
use crate::timers::{self, TimerKind, Timers};
use crate::tls;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tarweb_format::hpack::Fields;

/// A listening socket and what its connections speak.
pub(crate) struct Listener {
    pub fd: OwnedFd,
    pub tls: bool,
}

const WAKE_TOKEN: u64 = 1 << 62;
const RELOAD_TOKEN: u64 = 1 << 61;
const LISTEN_TOKEN: u64 = 1 << 63;
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Longest lingering close after an error response.
const LINGER: Duration = Duration::from_secs(2);

struct Slot {
    gen: u32,
    conn: Option<Conn>,
    /// The timer its connection waits on, for the connections-by-state
    /// gauge (None: not counted yet).
    state: Option<TimerKind>,
}

/// The worker's connections: a slab of slots, each with a generation that
/// moves on every close, so a stale epoll token or timer entry (same
/// slot, older generation) is recognised and ignored.
struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

impl Slab {
    fn token(&self, slot: u32) -> u64 {
        (u64::from(self.slots[slot as usize].gen) << 32) | u64::from(slot)
    }

    fn take(&mut self, slot: u32, gen: u32) -> Option<Conn> {
        let s = self.slots.get_mut(slot as usize)?;
        if s.gen != gen {
            return None;
        }
        s.conn.take()
    }
}

/// What the worker lends a connection while it runs: the protocol's
/// [`Env`] and the buffer [`Pools`].
struct Serving {
    cfg: Arc<Config>,
    c: &'static Counters,
    date: DateCache,
    hot: Hot,
    log: Option<AccessLog>,
    path_buf: Vec<u8>,
    /// An HTTP/2 request's decoded fields (one request at a time).
    h2_fields: Fields,
    pools: Pools,
    now: Instant,
    /// Shutting down: the deadline for in-flight responses.
    stopping: Option<Instant>,
}

impl Serving {
    fn env<'a>(&'a mut self, sites: &'a Sites) -> (Env<'a>, &'a mut Pools) {
        (
            Env {
                sites,
                cfg: &self.cfg,
                date: &self.date,
                hot: &mut self.hot,
                log: self.log.as_mut(),
                path_buf: &mut self.path_buf,
                h2_fields: Some(&mut self.h2_fields),
                c: self.c,
                now: self.now,
                stopping: self.stopping.is_some(),
            },
            &mut self.pools,
        )
    }
}

pub(crate) struct Worker {
    /// Index, for logs.
    id: usize,
    published: Arc<Published>,
    ep: OwnedFd,
    listeners: Vec<Listener>,
    listen_flags: u32,
    listening: bool,
    /// Listeners out of epoll until then (EMFILE/ENFILE).
    paused_until: Option<Instant>,
    wake: RawFd,
    slab: Slab,
    timers: Timers,
    events: Events,
    /// Rate limit of the out-of-descriptors line.
    fd_warning: RateLimit,
    s: Serving,
}

/// A log line said at most once per `every`, with a count of the times it
/// was not.
struct RateLimit {
    every: Duration,
    last: Option<Instant>,
    missed: u64,
}

impl RateLimit {
    fn hit(&mut self, now: Instant, say: impl FnOnce(u64)) {
        if self.last.is_some_and(|t| now < t + self.every) {
            self.missed += 1;
            return;
        }
        say(self.missed);
        self.last = Some(now);
        self.missed = 0;
    }
}

impl Worker {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: Arc<Config>,
        id: usize,
        published: Arc<Published>,
        c: &'static Counters,
        listeners: Vec<Listener>,
        shared_listeners: bool,
        wake: RawFd,
        log: Option<AccessLog>,
        hot: Hot,
    ) -> io::Result<Worker> {
        let ep = sys::epoll_create()?;
        let cap = cfg.max_conns.max(1);
        let server_line = cfg.server_line.clone();
        let timers = Timers::new(
            cap,
            cfg.head_timeout,
            cfg.idle_timeout,
            cfg.send_timeout,
            LINGER,
        );
        let mut w = Worker {
            id,
            published,
            ep,
            listeners,
            listen_flags: if shared_listeners {
                EPOLLIN | EPOLLEXCLUSIVE
            } else {
                EPOLLIN
            },
            listening: false,
            paused_until: None,
            wake,
            slab: Slab {
                slots: Vec::with_capacity(cap),
                free: Vec::with_capacity(cap),
                live: 0,
            },
            timers,
            events: Events::with_capacity(512),
            fd_warning: RateLimit {
                every: Duration::from_secs(60),
                last: None,
                missed: 0,
            },
            s: Serving {
                cfg,
                c,
                date: DateCache::new(&server_line),
                hot,
                log,
                // The decoded target, and a rewrite's route path.
                path_buf: vec![0u8; 2 * (MAX_TARGET + 1)],
                h2_fields: Fields::new(h2::MAX_LIST, h2::MAX_FIELDS),
                pools: Pools::new(),
                now: Instant::now(),
                stopping: None,
            },
        };
        sys::epoll_add(w.ep.as_raw_fd(), wake, EPOLLIN, WAKE_TOKEN, c)?;
        // Edge-triggered and never read: each publish is one new edge.
        let reload = w.published.wake_fd();
        sys::epoll_add(w.ep.as_raw_fd(), reload, EPOLLIN | EPOLLET, RELOAD_TOKEN, c)?;
        w.listen(true)?;
        Ok(w)
    }

    fn listen(&mut self, on: bool) -> io::Result<()> {
        if self.listening == on {
            return Ok(());
        }
        for (i, l) in self.listeners.iter().enumerate() {
            if on {
                sys::epoll_add(
                    self.ep.as_raw_fd(),
                    l.fd.as_raw_fd(),
                    self.listen_flags,
                    LISTEN_TOKEN | i as u64,
                    self.s.c,
                )?;
            } else {
                sys::epoll_del(self.ep.as_raw_fd(), l.fd.as_raw_fd(), self.s.c)?;
            }
        }
        self.listening = on;
        Ok(())
    }

    pub fn run(mut self) {
        let mut sites = self.published.current();
        self.announce(None, &sites);
        loop {
            if let Some(deadline) = self.s.stopping {
                if self.slab.live == 0 || self.s.now >= deadline {
                    break;
                }
            }
            let now = self.s.now;
            let mut next = self.timers.next_deadline();
            for d in [
                self.paused_until,
                self.s.stopping,
                self.s.log.as_ref().and_then(|l| l.flush_due(now)),
            ]
            .into_iter()
            .flatten()
            {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
            let ms = timers::wait_ms(now, next);
            if let Err(e) = sys::epoll_wait(self.ep.as_raw_fd(), &mut self.events, ms, self.s.c) {
                error!("tarweb-serve: epoll_wait: {e}");
                break;
            }
            self.s.now = Instant::now();
            self.s.date.refresh();
            self.s.hot.tick(self.s.date.now(), self.s.c);
            // A request that arrived after a publish is answered from the
            // new table: the publish happened before its bytes woke us.
            if let Some(new) = self.published.changed(sites.generation) {
                self.announce(Some(&sites), &new);
                // The old table (and a root only it held) goes here;
                // outputs still sending from it hold their own `Arc`.
                sites = new;
            }
            for i in 0..self.events.len() {
                let (ev, tok) = self.events.get(i);
                if tok & LISTEN_TOKEN != 0 {
                    self.on_listener(&sites, (tok & !LISTEN_TOKEN) as usize);
                } else if tok == WAKE_TOKEN {
                    self.begin_stop();
                } else if tok == RELOAD_TOKEN {
                    // Handled above.
                } else {
                    self.on_conn(&sites, tok as u32, (tok >> 32) as u32, ev);
                }
            }
            self.run_timers(&sites);
            if self.paused_until.is_some_and(|t| t <= self.s.now) {
                self.paused_until = None;
                if self.s.stopping.is_none() && self.slab.live < self.s.cfg.max_conns {
                    let _ = self.listen(true);
                }
            }
            if let Some(l) = self.s.log.as_mut() {
                l.maybe_flush(self.s.now);
            }
        }
        for i in 0..self.slab.slots.len() {
            if let Some(conn) = self.slab.slots[i].conn.take() {
                self.close(i as u32, conn);
            }
        }
        if let Some(l) = self.s.log.as_mut() {
            l.flush();
        }
    }

    /// Logs which roots this thread serves from now on (the digests as
    /// `tarweb-pack` prints them): all of them at start, then what changed.
    /// The line is built in a buffer this thread keeps: a `String` made
    /// per swap (and grown by `+=`, i.e. realloc'ed) crept the worker's
    /// malloc arena by about a page per 40 swaps for good, although the
    /// live heap stayed flat (heaptrack).
    fn announce(&self, old: Option<&Sites>, new: &Sites) {
        use std::fmt::Write as _;
        thread_local! {
            static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            let _ = write!(line, "worker {}: generation {}:", self.id, new.generation);
            let same =
                |o: &Sites, name: &str, g: u64| o.named(name).is_some_and(|r| r.generation == g);
            for (name, r) in new.entries() {
                if old.is_some_and(|o| same(o, name, r.generation)) {
                    continue;
                }
                if new.vhosts {
                    let _ = write!(line, " {name} {}", r.digest_hex);
                } else {
                    let _ = write!(line, " serving {}", r.digest_hex);
                }
            }
            for (name, _) in old.iter().flat_map(|o| o.entries()) {
                if new.named(name).is_none() {
                    let _ = write!(line, " {name} removed");
                }
            }
            if new.entries().next().is_none() {
                line.push_str(" no sites (421 for every host)");
            }
            info!("{line}");
        });
    }

    /// SIGTERM: stop accepting, close idle connections, let the others
    /// finish what they are doing (their responses say `Connection:
    /// close`) until `--shutdown-timeout-ms`.
    fn begin_stop(&mut self) {
        if self.s.stopping.is_some() {
            return;
        }
        self.s.stopping = Some(self.s.now + self.s.cfg.shutdown_timeout);
        let _ = sys::epoll_del(self.ep.as_raw_fd(), self.wake, self.s.c);
        let _ = self.listen(false);
        for l in std::mem::take(&mut self.listeners) {
            sys::close(l.fd, self.s.c);
        }
        for i in 0..self.slab.slots.len() {
            let idle = match self.slab.slots[i].conn.as_mut() {
                None => continue,
                Some(c) => c.stop(&mut self.s.pools, self.s.c),
            };
            if idle {
                if let Some(conn) = self.slab.slots[i].conn.take() {
                    self.close(i as u32, conn);
                }
            }
        }
    }

    fn on_listener(&mut self, sites: &Sites, i: usize) {
        if self.slab.live >= self.s.cfg.max_conns {
            let _ = self.listen(false);
            return;
        }
        let Some(l) = self.listeners.get(i) else {
            return;
        };
        let tls = l.tls;
        let (fd, peer) = match sys::accept(l.fd.as_raw_fd(), self.s.c) {
            Ok(accepted) => accepted,
            Err(e) => {
                if let Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) =
                    e.raw_os_error()
                {
                    // Out of descriptors: stop polling the listener for a
                    // while instead of spinning on it, and say so (once a
                    // minute at most, with what was not said).
                    let _ = self.listen(false);
                    self.paused_until = Some(self.s.now + ACCEPT_PAUSE);
                    self.fd_warning.hit(self.s.now, |missed| {
                        warn!(
                            "tarweb-serve: worker {}: accept: {e}: out of file descriptors \
                             (RLIMIT_NOFILE, or the system's); accepting again in {} ms{}",
                            self.id,
                            ACCEPT_PAUSE.as_millis(),
                            if missed > 0 {
                                format!(" ({missed} more since the last line)")
                            } else {
                                String::new()
                            }
                        )
                    });
                }
                return;
            }
        };
        if !self.s.cfg.peer_allowed(peer) {
            self.s.c.bump(Sc::ProxyRefused);
            sys::close(fd, self.s.c);
            return;
        }
        let transport = match (tls, &self.s.cfg.tls) {
            (true, Some(cfg)) => match tls::Session::new(cfg) {
                Ok(s) => Transport::Tls(fd, s),
                Err(_) => {
                    sys::close(fd, self.s.c);
                    return;
                }
            },
            _ => Transport::Plain(fd),
        };
        self.s.c.bump(Sc::Connections);
        let slot = match self.slab.free.pop() {
            Some(s) => s,
            None => {
                self.slab.slots.push(Slot {
                    gen: 1,
                    conn: None,
                    state: None,
                });
                (self.slab.slots.len() - 1) as u32
            }
        };
        self.slab.live += 1;
        let now = self.s.now;
        let proxy = self.s.cfg.proxy_protocol;
        let proto = Proto::h1(now, self.s.cfg.head_timeout);
        let mut conn = Conn::new(transport, peer, proto, now, proxy);
        // Read (the data is there: TCP_DEFER_ACCEPT) and answer before
        // registering: a connection closed after one response never
        // touches epoll, and the registration does not report the bytes
        // already read.
        let (mut env, pools) = self.s.env(sites);
        let step = conn.drive(&mut env, pools);
        if let Step::Close = step {
            self.close(slot, conn);
            return;
        }
        let tok = self.slab.token(slot);
        if sys::epoll_add(
            self.ep.as_raw_fd(),
            conn.fd(),
            EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
            tok,
            self.s.c,
        )
        .is_err()
        {
            self.close(slot, conn);
            return;
        }
        self.settle(slot, conn, step);
    }

    /// An event of a connection: driven where it lies in the slab (a
    /// connection is a few hundred bytes, not moved out and back).
    fn on_conn(&mut self, sites: &Sites, slot: u32, gen: u32, ev: u32) {
        let Some(s) = self.slab.slots.get_mut(slot as usize) else {
            return;
        };
        if s.gen != gen {
            return;
        }
        let Some(conn) = s.conn.as_mut() else {
            return;
        };
        let step = if ev & EPOLLERR != 0 {
            Step::Close
        } else {
            let readable = ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP) != 0;
            if !conn.on_event(readable, ev & (EPOLLRDHUP | EPOLLHUP) != 0) {
                return;
            }
            let (mut env, pools) = self.s.env(sites);
            conn.drive(&mut env, pools)
        };
        match step {
            Step::Wait { kind, from } => {
                self.timers.arm(conn.timer(), kind, from, slot, gen);
                self.s
                    .c
                    .m
                    .state(s.state.map(|k| k as usize), Some(kind as usize));
                s.state = Some(kind);
            }
            Step::Close => {
                let conn = s.conn.take().expect("driven above");
                self.close(slot, conn);
            }
        }
    }

    /// After a drive: back into its slot on the timer it waits on, or
    /// closed.
    fn settle(&mut self, slot: u32, mut conn: Conn, step: Step) {
        match step {
            Step::Close => self.close(slot, conn),
            Step::Wait { kind, from } => {
                let s = &mut self.slab.slots[slot as usize];
                self.timers.arm(conn.timer(), kind, from, slot, s.gen);
                s.conn = Some(conn);
                self.s
                    .c
                    .m
                    .state(s.state.map(|k| k as usize), Some(kind as usize));
                s.state = Some(kind);
            }
        }
    }

    fn run_timers(&mut self, sites: &Sites) {
        for k in TimerKind::ALL {
            while let Some(e) = self.timers.pop_due(k, self.s.now) {
                let Some(mut conn) = self.slab.take(e.slot, e.gen) else {
                    continue;
                };
                if !self.timers.fires(conn.timer(), k, e, self.s.now) {
                    self.slab.slots[e.slot as usize].conn = Some(conn);
                    continue;
                }
                let (mut env, pools) = self.s.env(sites);
                conn.expire(k, &mut env, pools);
                self.close(e.slot, conn);
            }
        }
    }

    fn close(&mut self, slot: u32, conn: Conn) {
        conn.close(&mut self.s.pools, self.s.c);
        let s = &mut self.slab.slots[slot as usize];
        self.s.c.m.state(s.state.take().map(|k| k as usize), None);
        s.gen = s.gen.wrapping_add(1).max(1);
        self.slab.free.push(slot);
        self.slab.live -= 1;
        if !self.listening && self.paused_until.is_none() && self.s.stopping.is_none() {
            let _ = self.listen(true);
        }
    }
}
