//! One worker: its own epoll, its own SO_REUSEPORT listeners, its own
//! preallocated connection slab, buffer pools, timers, Date cache and
//! counters. Nothing is shared with other workers but the read-only
//! roots, which it takes from `publish` between events: one atomic load
//! per wakeup, and the request path borrows from the worker's own
//! `Arc<Sites>`.
//!
//! Epoll is edge-triggered for connections (registered once with
//! IN|OUT|RDHUP|ET, never modified: no epoll_ctl per request) and
//! level-triggered for listeners (one accept4 per readiness, so a new
//! connection costs no EAGAIN accept). A short read means the socket was
//! drained, so a keep-alive request costs exactly one read.

use crate::access_log::AccessLog;
use crate::conn::{Conn, Flush, InBuf, Output, TimerKind, Transport, IN_CAP};
use crate::date::DateCache;
use crate::hot::Hot;
use crate::http::request::{self, Error as ParseError, Version, MAX_TARGET};
use crate::publish::Published;
use crate::response::{self, Ctx, HotCtx};
use crate::sites::Sites;
use crate::sys::{
    self, Events, EPOLLERR, EPOLLET, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP,
};
use crate::sys::{Counters, Sc};
use crate::timers::{self, Entry, Timers};
use crate::tls::{self, Tls};
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Config {
    /// `Server: ...\r\n` or empty.
    pub server_line: Vec<u8>,
    pub max_requests: u32,
    pub max_conns: usize,
    pub max_body: u64,
    pub head_timeout: Duration,
    pub idle_timeout: Duration,
    pub send_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub sendfile_threshold: u64,
    /// Send `Tarweb-Root: <digest>` with every response from a blob.
    pub root_header: bool,
    /// HTTPS listeners serve with this.
    pub tls: Option<Arc<Tls>>,
    /// `--redirect-https`: plain listeners answer 308 to https://, with
    /// this after the host (`:PORT`, empty for 443).
    pub redirect_https: Option<String>,
}

/// A listening socket and what its connections speak.
pub struct Listener {
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
}

pub struct Worker {
    cfg: Arc<Config>,
    /// Index, for logs.
    id: usize,
    published: Arc<Published>,
    c: &'static Counters,
    ep: OwnedFd,
    listeners: Vec<Listener>,
    listen_flags: u32,
    listening: bool,
    /// Listeners out of epoll until then (EMFILE/ENFILE).
    paused_until: Option<Instant>,
    wake: RawFd,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    scratch: Vec<u8>,
    in_pool: Vec<InBuf>,
    out_pool: Vec<Output>,
    iov: Vec<IoSlice<'static>>,
    path_buf: Vec<u8>,
    date: DateCache,
    timers: Timers,
    events: Events,
    now: Instant,
    stopping: Option<Instant>,
    log: Option<AccessLog>,
    hot: Hot,
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
            c,
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
            slots: Vec::with_capacity(cap),
            free: Vec::with_capacity(cap),
            live: 0,
            scratch: vec![0u8; IN_CAP],
            in_pool: Vec::new(),
            out_pool: (0..4).map(|_| Output::new()).collect(),
            iov: Vec::with_capacity(1024),
            path_buf: vec![0u8; MAX_TARGET + 1],
            date: DateCache::new(),
            timers,
            events: Events::with_capacity(512),
            now: Instant::now(),
            stopping: None,
            log,
            hot,
            cfg,
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
                    self.c,
                )?;
            } else {
                sys::epoll_del(self.ep.as_raw_fd(), l.fd.as_raw_fd(), self.c)?;
            }
        }
        self.listening = on;
        Ok(())
    }

    pub fn run(mut self) {
        let mut sites = self.published.current();
        self.announce(None, &sites);
        loop {
            if let Some(deadline) = self.stopping {
                if self.live == 0 || self.now >= deadline {
                    break;
                }
            }
            let mut next = self.timers.next_deadline();
            for d in [
                self.paused_until,
                self.stopping,
                self.log.as_ref().and_then(|l| l.flush_due(self.now)),
            ]
            .into_iter()
            .flatten()
            {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
            let ms = timers::wait_ms(self.now, next);
            if let Err(e) = sys::epoll_wait(self.ep.as_raw_fd(), &mut self.events, ms, self.c) {
                eprintln!("tarweb-serve: epoll_wait: {e}");
                break;
            }
            self.now = Instant::now();
            self.date.refresh();
            self.hot.tick(self.date.now(), self.c);
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
            self.run_timers();
            if self.paused_until.is_some_and(|t| t <= self.now) {
                self.paused_until = None;
                if self.stopping.is_none() && self.live < self.cfg.max_conns {
                    let _ = self.listen(true);
                }
            }
            if let Some(l) = self.log.as_mut() {
                l.maybe_flush(self.now, self.c);
            }
        }
        for i in 0..self.slots.len() {
            if let Some(conn) = self.slots[i].conn.take() {
                self.close(i as u32, conn);
            }
        }
        if let Some(l) = self.log.as_mut() {
            l.flush(self.c);
        }
    }

    /// Logs which roots this thread serves from now on (the digests as
    /// `tarweb-pack` prints them): all of them at start, then what changed.
    fn announce(&self, old: Option<&Sites>, new: &Sites) {
        let mut line = format!("worker {}: generation {}:", self.id, new.generation);
        let same = |o: &Sites, name: &str, g: u64| o.named(name).is_some_and(|r| r.generation == g);
        for (name, r) in new.entries() {
            if old.is_some_and(|o| same(o, name, r.generation)) {
                continue;
            }
            if new.vhosts {
                line += &format!(" {name} {}", r.digest_hex);
            } else {
                line += &format!(" serving {}", r.digest_hex);
            }
        }
        for (name, _) in old.iter().flat_map(|o| o.entries()) {
            if new.named(name).is_none() {
                line += &format!(" {name} removed");
            }
        }
        if new.entries().next().is_none() {
            line += " no sites (421 for every host)";
        }
        println!("{line}");
    }

    fn begin_stop(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(self.now + self.cfg.shutdown_timeout);
        let _ = sys::epoll_del(self.ep.as_raw_fd(), self.wake, self.c);
        let _ = self.listen(false);
        for l in std::mem::take(&mut self.listeners) {
            sys::close(l.fd, self.c);
        }
        for i in 0..self.slots.len() {
            let busy = match &self.slots[i].conn {
                None => continue,
                Some(c) => c.out.is_some() || c.input.is_some() || c.discard > 0,
            };
            if busy {
                if let Some(c) = self.slots[i].conn.as_mut() {
                    c.close_after = true;
                }
            } else if let Some(conn) = self.slots[i].conn.take() {
                self.close(i as u32, conn);
            }
        }
    }

    fn on_listener(&mut self, sites: &Sites, i: usize) {
        if self.live >= self.cfg.max_conns {
            let _ = self.listen(false);
            return;
        }
        let Some(l) = self.listeners.get(i) else {
            return;
        };
        let tls = l.tls;
        match sys::accept(l.fd.as_raw_fd(), self.c) {
            Ok((fd, peer)) => {
                let transport = match (tls, &self.cfg.tls) {
                    (true, Some(cfg)) => match tls::Session::new(cfg) {
                        Ok(s) => Transport::Tls(fd, s),
                        Err(_) => {
                            sys::close(fd, self.c);
                            return;
                        }
                    },
                    _ => Transport::Plain(fd),
                };
                self.c.bump(Sc::Connections);
                let slot = match self.free.pop() {
                    Some(s) => s,
                    None => {
                        self.slots.push(Slot { gen: 1, conn: None });
                        (self.slots.len() - 1) as u32
                    }
                };
                self.live += 1;
                let mut conn = Conn::new(transport, peer, self.now);
                // Read (the data is there: TCP_DEFER_ACCEPT) and answer
                // before registering: a connection closed after one
                // response never touches epoll, and the registration does
                // not report the bytes already read.
                if !self.drive(sites, slot, &mut conn) {
                    self.close(slot, conn);
                    return;
                }
                let tok = (u64::from(self.slots[slot as usize].gen) << 32) | u64::from(slot);
                let fd = conn.transport.fd();
                if sys::epoll_add(
                    self.ep.as_raw_fd(),
                    fd,
                    EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                    tok,
                    self.c,
                )
                .is_err()
                {
                    self.close(slot, conn);
                    return;
                }
                self.slots[slot as usize].conn = Some(conn);
            }
            Err(e) => {
                if let Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) =
                    e.raw_os_error()
                {
                    // Out of descriptors: stop polling the listener for a
                    // while instead of spinning on it.
                    let _ = self.listen(false);
                    self.paused_until = Some(self.now + ACCEPT_PAUSE);
                }
            }
        }
    }

    fn on_conn(&mut self, sites: &Sites, slot: u32, gen: u32, ev: u32) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if s.gen != gen {
            return;
        }
        let Some(mut conn) = s.conn.take() else {
            return;
        };
        if ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) != 0 {
            conn.read_pending = true;
        } else if conn.out.is_none() && !conn.transport.handshaking() {
            // Only "writable" and nothing to write (e.g. right after
            // registration).
            self.slots[slot as usize].conn = Some(conn);
            return;
        }
        if ev & (EPOLLRDHUP | EPOLLHUP) != 0 {
            conn.rdhup = true;
        }
        if ev & EPOLLERR != 0 {
            self.close(slot, conn);
            return;
        }
        if self.drive(sites, slot, &mut conn) {
            self.slots[slot as usize].conn = Some(conn);
        } else {
            self.close(slot, conn);
        }
    }

    /// Moves a connection as far as it goes without blocking. Returns false
    /// when it must be closed.
    fn drive(&mut self, sites: &Sites, slot: u32, conn: &mut Conn) -> bool {
        if conn.transport.handshaking() {
            match conn.transport.handshake(self.c) {
                Ok(true) => {
                    self.c.bump(Sc::TlsHandshakes);
                    // The first request may have come with the client's
                    // last flight (already in rustls, or in the socket for
                    // the kernel) without a new edge: read it.
                    conn.read_pending = true;
                }
                Ok(false) => {
                    // The handshake shares the head timeout, from accept.
                    self.arm(slot, conn, TimerKind::Head);
                    return true;
                }
                Err(_) => {
                    self.c.bump(Sc::TlsFailures);
                    return false;
                }
            }
        }
        loop {
            // 1. Pending output first.
            if let Some(mut out) = conn.out.take() {
                let own = out.root.take();
                let root = own.as_deref().or_else(|| out.site.map(|i| &**sites.get(i)));
                let r =
                    conn.transport
                        .flush(&mut out, root, Some(&self.hot), &mut self.iov, self.c);
                out.root = own;
                match r {
                    Ok(Flush::Done) => {
                        out.clear();
                        self.out_pool.push(out);
                    }
                    Ok(Flush::Blocked) => {
                        // It outlives this call, maybe this table: keep
                        // its root alive (the one atomic increment, and
                        // only for a blocked response).
                        if let (None, Some(i)) = (&out.root, out.site) {
                            out.root = Some(sites.get(i).clone());
                        }
                        conn.out = Some(out);
                        self.arm(slot, conn, TimerKind::Send);
                        return true;
                    }
                    Err(_) => {
                        out.clear();
                        self.out_pool.push(out);
                        return false;
                    }
                }
            }
            if conn.close_after {
                return self.linger(slot, conn);
            }
            // 2. Complete requests already buffered.
            if conn.input_ready {
                if let Some(mut buf) = conn.input.take() {
                    let used = self.process(sites, conn, &buf.data[..buf.len]);
                    buf.consume(used);
                    self.keep_input(conn, buf);
                    continue;
                }
                conn.input_ready = false;
            }
            if !conn.read_pending {
                if conn.rdhup {
                    return false; // peer is gone and everything is answered
                }
                // A connection that never sent a request is on the head
                // timer from its accept, not on the (longer) idle timer.
                let kind = if conn.input.is_some() || conn.discard > 0 || conn.requests == 0 {
                    TimerKind::Head
                } else {
                    TimerKind::Idle
                };
                self.arm(slot, conn, kind);
                return true;
            }
            // 3. Read.
            if let Some(mut buf) = conn.input.take() {
                buf.grow_if_full();
                let room = buf.data.len() - buf.len;
                match conn.transport.read(&mut buf.data[buf.len..], self.c) {
                    Ok(0) => {
                        self.in_pool.push(buf);
                        return false;
                    }
                    Ok(n) => {
                        conn.read_pending = n == room;
                        buf.len += n;
                        let used = self.process(sites, conn, &buf.data[..buf.len]);
                        buf.consume(used);
                        self.keep_input(conn, buf);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        conn.read_pending = false;
                        conn.input = Some(buf);
                    }
                    Err(_) => {
                        self.in_pool.push(buf);
                        return false;
                    }
                }
            } else {
                let mut scratch = std::mem::take(&mut self.scratch);
                let keep = match conn.transport.read(&mut scratch, self.c) {
                    Ok(0) => false,
                    Ok(n) => {
                        conn.read_pending = n == scratch.len();
                        let used = self.process(sites, conn, &scratch[..n]);
                        if used < n {
                            let mut buf = self.in_pool.pop().unwrap_or_default();
                            buf.reserve_total(n - used);
                            buf.data[..n - used].copy_from_slice(&scratch[used..n]);
                            buf.len = n - used;
                            conn.input = Some(buf);
                        }
                        true
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        conn.read_pending = false;
                        true
                    }
                    Err(_) => false,
                };
                self.scratch = scratch;
                if !keep {
                    return false;
                }
            }
        }
    }

    /// Closing after an error response: shut our side down, then read
    /// and drop whatever the client still sends until it closes or the
    /// linger time ends. Returns false when the connection can go now.
    fn linger(&mut self, slot: u32, conn: &mut Conn) -> bool {
        if !conn.linger {
            return false;
        }
        let fd = conn.transport.fd();
        if !conn.lingering {
            conn.lingering = true;
            conn.transport.close_notify(self.c);
            sys::shutdown_write(fd, self.c);
            if let Some(mut buf) = conn.input.take() {
                buf.len = 0;
                self.in_pool.push(buf);
            }
            conn.input_ready = false;
            self.arm(slot, conn, TimerKind::Linger);
        }
        while conn.read_pending {
            match sys::read(fd, &mut self.scratch, self.c) {
                Ok(0) => return false,
                Ok(n) => conn.read_pending = n == self.scratch.len(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.read_pending = false,
                Err(_) => return false,
            }
        }
        true
    }

    fn keep_input(&mut self, conn: &mut Conn, buf: InBuf) {
        if buf.len == 0 {
            self.in_pool.push(buf);
            conn.input_ready = false;
        } else {
            conn.input = Some(buf);
        }
    }

    /// Parses and answers the complete requests at the start of `data`;
    /// returns how many bytes were consumed.
    fn process(&mut self, sites: &Sites, conn: &mut Conn, data: &[u8]) -> usize {
        let mut out = conn
            .out
            .take()
            .unwrap_or_else(|| self.out_pool.pop().unwrap_or_default());
        let ctx = Ctx {
            date: self.date.line(),
            server: &self.cfg.server_line,
            sendfile_threshold: self.cfg.sendfile_threshold,
            root: b"",
        };
        let mut at = 0;
        loop {
            if conn.close_after {
                at = data.len();
                break;
            }
            if conn.discard > 0 {
                let k = conn.discard.min((data.len() - at) as u64);
                conn.discard -= k;
                at += k as usize;
                if conn.discard > 0 {
                    break;
                }
                conn.head_start = None;
            }
            if at == data.len() {
                conn.input_ready = false;
                break;
            }
            if !out.has_room() {
                conn.input_ready = true;
                break;
            }
            if conn.head_start.is_none() {
                conn.head_start = Some(self.now);
            }
            match request::parse_from(&data[at..], std::mem::take(&mut conn.scanned)) {
                Err(ParseError::Incomplete) => {
                    conn.scanned = data.len() - at;
                    conn.input_ready = false;
                    break;
                }
                Err(ParseError::H2Preface) => {
                    conn.close_after = true;
                }
                Err(ParseError::Status(s)) => {
                    let meta = response::builtin(&mut out, &ctx, s, false, true, Version::Http11);
                    self.c.bump(Sc::Requests);
                    if let Some(l) = self.log.as_mut() {
                        l.log_bad(conn.peer, self.date.line(), meta);
                    }
                    conn.close_after = true;
                    conn.linger = true;
                }
                Ok(req) => {
                    let site = sites.pick(req.host, req.target);
                    if let Some((i, _)) = site {
                        // One output points into one blob: a request for
                        // another site waits for this batch to be sent.
                        if out.root.is_some() || out.site.is_some_and(|s| s != i) {
                            conn.input_ready = true;
                            break;
                        }
                        out.site = Some(i);
                    }
                    at += req.head_len;
                    conn.requests += 1;
                    conn.head_start = None;
                    let too_big = req.content_length > self.cfg.max_body;
                    let close = too_big
                        || !req.keep_alive()
                        || conn.requests >= self.cfg.max_requests
                        || self.stopping.is_some()
                        || conn.transport.retiring();
                    let redirect = match (&self.cfg.redirect_https, &conn.transport) {
                        (Some(port), Transport::Plain(_)) => Some(port.as_bytes()),
                        _ => None,
                    };
                    let meta = if too_big {
                        conn.linger = true;
                        response::builtin(&mut out, &ctx, 413, false, true, req.version)
                    } else if let Some(port) = redirect {
                        conn.discard = req.content_length;
                        response::redirect_https(&mut out, &ctx, &req, port, close)
                    } else {
                        conn.discard = req.content_length;
                        match site {
                            Some((_, root)) => {
                                let ctx = Ctx {
                                    root: if self.cfg.root_header {
                                        &root.header_line
                                    } else {
                                        b""
                                    },
                                    ..ctx
                                };
                                let blob = root.blob();
                                // TLS sends from memory or encrypts in the
                                // kernel: plain connections only.
                                let hot = match conn.transport {
                                    Transport::Plain(_) if self.hot.enabled() => Some(HotCtx {
                                        hot: &mut self.hot,
                                        root: root.generation,
                                        c: self.c,
                                    }),
                                    _ => None,
                                };
                                response::respond(
                                    &mut out,
                                    &ctx,
                                    blob,
                                    &req,
                                    close,
                                    &mut self.path_buf,
                                    hot,
                                )
                            }
                            // No site for this host (and no default).
                            None => response::builtin(
                                &mut out,
                                &ctx,
                                421,
                                req.method == request::Method::Head,
                                close,
                                req.version,
                            ),
                        }
                    };
                    self.c.bump(Sc::Requests);
                    if let Some(l) = self.log.as_mut() {
                        l.log(conn.peer, self.date.line(), &req, meta);
                    }
                    conn.close_after |= close;
                }
            }
        }
        if out.is_empty() {
            out.clear();
            self.out_pool.push(out);
        } else {
            conn.out = Some(out);
        }
        at
    }

    fn arm(&mut self, slot: u32, conn: &mut Conn, kind: TimerKind) {
        let d = self.timers.duration(kind);
        let deadline = match kind {
            TimerKind::Head => conn.head_start.unwrap_or(self.now) + d,
            TimerKind::Linger if conn.timer == TimerKind::Linger => conn.deadline,
            _ => self.now + d,
        };
        conn.timer = kind;
        conn.deadline = deadline;
        if !conn.queued[kind as usize] {
            conn.queued[kind as usize] = true;
            let gen = self.slots[slot as usize].gen;
            self.timers.push(
                kind,
                Entry {
                    deadline,
                    slot,
                    gen,
                },
            );
        }
    }

    fn run_timers(&mut self) {
        for k in 0..4 {
            while let Some(e) = self.timers.pop_due(k, self.now) {
                let s = &mut self.slots[e.slot as usize];
                if s.gen != e.gen {
                    continue;
                }
                let Some(mut conn) = s.conn.take() else {
                    continue;
                };
                conn.queued[k] = false;
                if conn.timer as usize != k {
                    s.conn = Some(conn);
                    continue;
                }
                if conn.deadline > self.now {
                    conn.queued[k] = true;
                    self.timers.queues[k].push_back(Entry {
                        deadline: conn.deadline,
                        ..e
                    });
                    s.conn = Some(conn);
                    continue;
                }
                if conn.timer == TimerKind::Head
                    && conn.out.is_none()
                    && !conn.transport.handshaking()
                {
                    // Slowloris or a stalled body: say so, once, and close.
                    let mut out = self.out_pool.pop().unwrap_or_default();
                    let ctx = Ctx {
                        date: self.date.line(),
                        server: &self.cfg.server_line,
                        sendfile_threshold: self.cfg.sendfile_threshold,
                        root: b"",
                    };
                    response::builtin(&mut out, &ctx, 408, false, true, Version::Http11);
                    let _ = conn
                        .transport
                        .flush(&mut out, None, None, &mut self.iov, self.c);
                    out.clear();
                    self.out_pool.push(out);
                }
                self.close(e.slot, conn);
            }
        }
    }

    fn close(&mut self, slot: u32, mut conn: Conn) {
        if let Some(mut out) = conn.out.take() {
            out.clear();
            self.out_pool.push(out);
        }
        if let Some(mut buf) = conn.input.take() {
            buf.len = 0;
            self.in_pool.push(buf);
        }
        conn.transport.close(self.c);
        let s = &mut self.slots[slot as usize];
        s.gen = s.gen.wrapping_add(1).max(1);
        self.free.push(slot);
        self.live -= 1;
        if !self.listening && self.paused_until.is_none() && self.stopping.is_none() {
            let _ = self.listen(true);
        }
    }
}
