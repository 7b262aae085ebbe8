//! One connection: its transport, the input no request has consumed yet,
//! the output still to send, and the state machine that moves it as far
//! as it goes without blocking ([`Conn::drive`]). What the bytes mean is
//! its protocol's business (`proto`); which timer runs while it waits,
//! and closing it, are the worker's.
//!
//! Edge-triggered epoll: a readable edge is read until a short read (the
//! socket is drained), so a keep-alive request costs exactly one read; a
//! response that fills the socket waits for the next writable edge.
//!
//! Over 600 lines on purpose: the connection's state machine, whose phases share one transport and its buffers.

mod input;
mod transport;

pub(crate) use input::{InBuf, IN_CAP};
pub(crate) use transport::Transport;

use crate::output::{Flush, Output};
use crate::proto::{proxy, Env, Link, Proto, Verdict};
use crate::sys::worker_metrics::TlsFailure;
use crate::sys::{self, Counters, Sc};
use crate::timers::{Timer, TimerKind};
use crate::tls::{self, Alpn};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::time::Instant;

/// Spare buffers a pool keeps: enough that connections coming and going
/// find theirs without allocating; beyond it a buffer given back is freed,
/// so that 1,000 slow readers that came and went do not leave 1,000
/// outputs (1.5 KiB each) behind for good.
const POOLED: usize = 64;

/// The buffers a worker lends its connections, so that the request path
/// allocates nothing in steady state: input buffers, outputs, one read
/// buffer for connections with nothing buffered, and iovec room.
pub(crate) struct Pools {
    inputs: Vec<InBuf>,
    outputs: Vec<Output>,
    scratch: Vec<u8>,
    pub iov: Vec<IoSlice<'static>>,
}

impl Pools {
    pub fn new() -> Pools {
        Pools {
            inputs: Vec::new(),
            outputs: (0..4).map(|_| Output::new()).collect(),
            scratch: vec![0u8; IN_CAP],
            iov: Vec::with_capacity(1024),
        }
    }

    pub fn output(&mut self) -> Output {
        self.outputs.pop().unwrap_or_default()
    }

    pub fn recycle(&mut self, mut out: Output) {
        if self.outputs.len() < POOLED {
            out.clear();
            self.outputs.push(out);
        }
    }

    fn recycle_input(&mut self, mut buf: InBuf) {
        if self.inputs.len() < POOLED {
            buf.clear();
            self.inputs.push(buf);
        }
    }
}

/// Where a connection is in its life.
enum Phase {
    /// `--proxy-protocol`: waiting for the balancer's PROXY header (on the
    /// head timer, from accept); then the handshake or the requests.
    Proxy,
    /// TLS handshake under way (on the head timer, from accept).
    Handshake,
    /// Reading and answering requests.
    Open,
    /// No more requests: the output is finished, then the connection
    /// closes; with `linger`, after a lingering drain.
    Closing { linger: bool },
    /// Our side is shut down; the client's bytes are read and dropped
    /// until it closes or the linger timer ends.
    Lingering,
}

/// Received bytes not consumed yet.
enum Input {
    Empty,
    /// The start of a request that needs more bytes.
    Partial(InBuf),
    /// Requests that may be complete, left for when the output is sent.
    Ready(InBuf),
}

/// What the worker does with a connection after [`Conn::drive`].
pub(crate) enum Step {
    /// Keep it, on the timer of `kind`, counted from `from`.
    Wait { kind: TimerKind, from: Instant },
    /// Close it.
    Close,
}

pub(crate) struct Conn {
    transport: Transport,
    peer: Option<SocketAddr>,
    proto: Proto,
    phase: Phase,
    input: Input,
    out: Option<Output>,
    /// A readable edge that was not read to a short read yet.
    readable: bool,
    /// The peer shut down its side (EPOLLRDHUP/EPOLLHUP).
    hup: bool,
    timer: Timer,
    /// Responses answered and not yet all handed to the kernel, and when
    /// the first of them had its head (the duration histogram).
    busy: u32,
    busy_since: Instant,
}

impl Conn {
    /// `proxy`: a PROXY header comes first (`--proxy-protocol`).
    pub fn new(
        transport: Transport,
        peer: Option<SocketAddr>,
        proto: Proto,
        now: Instant,
        proxy: bool,
    ) -> Conn {
        Conn {
            phase: if proxy {
                Phase::Proxy
            } else {
                after_proxy(&transport)
            },
            transport,
            peer,
            proto,
            input: Input::Empty,
            out: None,
            // TCP_DEFER_ACCEPT: the first bytes are there.
            readable: true,
            hup: false,
            timer: Timer::new(now),
            busy: 0,
            busy_since: now,
        }
    }

    pub fn fd(&self) -> std::os::fd::RawFd {
        self.transport.fd()
    }

    pub fn timer(&mut self) -> &mut Timer {
        &mut self.timer
    }

    /// An epoll event (not an error): false when there is nothing to do,
    /// i.e. only "writable" and nothing to write (right after registration).
    pub fn on_event(&mut self, readable: bool, hup: bool) -> bool {
        if readable {
            self.readable = true;
        } else if self.out.is_none() && !matches!(self.phase, Phase::Handshake) {
            return false;
        }
        self.hup |= hup;
        true
    }

    /// Moves the connection as far as it goes without blocking.
    pub fn drive(&mut self, env: &mut Env<'_>, pools: &mut Pools) -> Step {
        if let Some(l) = env.log.as_mut() {
            l.begin();
        }
        if let Phase::Proxy = self.phase {
            match self.read_proxy(env, pools) {
                Some(true) => self.phase = after_proxy(&self.transport),
                Some(false) => return self.wait(env),
                None => {
                    env.c.bump(Sc::ProxyFailures);
                    return Step::Close;
                }
            }
        }
        if let Phase::Handshake = self.phase {
            match self.transport.handshake(env.c) {
                Ok(Some(Alpn::Acme)) => return Step::Close,
                Ok(Some(alpn)) => {
                    env.c.bump(Sc::TlsHandshakes);
                    env.c.m.tls_records(self.transport.is_kernel_tls());
                    self.phase = Phase::Open;
                    if alpn == Alpn::H2 && env.cfg.http2 {
                        self.proto = Proto::h2(env.now);
                    }
                    // The first request may have come with the client's
                    // last flight (already in rustls, or in the socket for
                    // the kernel) without a new edge: read it.
                    self.readable = true;
                }
                Ok(None) => return self.wait(env),
                Err(e) => {
                    env.c.bump(Sc::TlsFailures);
                    env.c.m.tls_failure(tls_failure(&e));
                    if !tls::is_plain_http(&e) {
                        return Step::Close;
                    }
                    // Plain HTTP on a TLS port: a plain-text 400 that says
                    // so (the session now sends as it is), then a
                    // lingering close.
                    let mut out = pools.output();
                    out.push_static(tls::PLAIN_HTTP_HEAD);
                    out.push_dyn(env.date.head_lines());
                    out.push_static(tls::PLAIN_HTTP_REST);
                    self.out = Some(out);
                    self.phase = Phase::Closing { linger: true };
                }
            }
        }
        loop {
            // 1. Pending output first.
            if let Some(mut out) = self.out.take() {
                let transport = &mut self.transport;
                let r = out.with_root(env.sites, |out, root| {
                    transport.flush(out, root, Some(&*env.hot), &mut pools.iov, env.c)
                });
                match r {
                    Ok(Flush::Done) => {
                        // HTTP/2: more DATA the windows allow (bodies
                        // longer than one output's worth).
                        out.clear();
                        if self.proto.pending() {
                            self.proto.produce(&mut out, env);
                        }
                        if !out.is_empty() {
                            self.out = Some(out);
                            continue;
                        }
                        pools.recycle(out);
                        if !self.proto.pending() {
                            self.sent_all(env);
                        }
                    }
                    Ok(Flush::Blocked) => {
                        out.pin(env.sites);
                        self.out = Some(out);
                        return self.wait(env);
                    }
                    Err(_) => {
                        pools.recycle(out);
                        return Step::Close;
                    }
                }
            }
            if let Phase::Open = self.phase {
                if self.proto.finished() {
                    // HTTP/2 after GOAWAY: the last stream is done.
                    self.phase = Phase::Closing { linger: true };
                }
            }
            match self.phase {
                Phase::Closing { linger: false } => return Step::Close,
                Phase::Closing { linger: true } => {
                    self.start_linger(pools, env.c);
                    return self.drain(env, pools);
                }
                Phase::Lingering => return self.drain(env, pools),
                Phase::Proxy | Phase::Handshake | Phase::Open => {}
            }
            // 2. Requests already buffered.
            if let Input::Ready(_) = self.input {
                if let Input::Ready(buf) | Input::Partial(buf) = self.take_input() {
                    self.serve_buffered(buf, env, pools);
                }
                continue;
            }
            if !self.readable {
                if self.hup {
                    return Step::Close; // the peer is gone and everything is answered
                }
                return self.wait(env);
            }
            // 3. Read.
            if !self.read(env, pools) {
                return Step::Close;
            }
        }
    }

    /// The PROXY header: Some(true) once read (the client's address is
    /// then the header's), Some(false) while it is incomplete, None when
    /// it is missing or malformed (close, with no answer).
    ///
    /// On a plain connection the bytes are read into the connection's
    /// buffer and what follows the header (the request) stays there. On a
    /// TLS connection they are only peeked at, and exactly the header is
    /// read, so the ClientHello stays in the socket for the handshake.
    fn read_proxy(&mut self, env: &mut Env<'_>, pools: &mut Pools) -> Option<bool> {
        let fd = self.transport.fd();
        if !self.transport.is_plain() {
            let buf = &mut pools.scratch[..proxy::MAX_HEADER];
            let n = match sys::peek(fd, buf, env.c) {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(false),
                Err(_) => return None,
            };
            return match proxy::parse(&buf[..n]) {
                // More comes with a new edge; until then the head timer runs.
                proxy::Parsed::Incomplete => Some(false),
                proxy::Parsed::Invalid => None,
                proxy::Parsed::Header { len, client } => {
                    match sys::read(fd, &mut buf[..len], env.c) {
                        Ok(got) if got == len => {}
                        _ => return None,
                    }
                    self.peer = client.or(self.peer);
                    Some(true)
                }
            };
        }
        let mut buf = match self.take_input() {
            Input::Partial(b) | Input::Ready(b) => b,
            Input::Empty => pools.inputs.pop().unwrap_or_default(),
        };
        loop {
            match proxy::parse(buf.filled()) {
                proxy::Parsed::Header { len, client } => {
                    self.peer = client.or(self.peer);
                    buf.consume(len);
                    if buf.is_empty() {
                        pools.recycle_input(buf);
                    } else {
                        self.input = Input::Ready(buf);
                    }
                    return Some(true);
                }
                proxy::Parsed::Invalid => {
                    pools.recycle_input(buf);
                    return None;
                }
                proxy::Parsed::Incomplete if !self.readable => {
                    self.input = Input::Partial(buf);
                    return Some(false);
                }
                proxy::Parsed::Incomplete => {}
            }
            let spare = buf.spare();
            let room = spare.len();
            match self.transport.read(spare, env.c) {
                Ok(0) => {
                    pools.recycle_input(buf);
                    return None;
                }
                Ok(n) => {
                    self.readable = n == room;
                    buf.commit(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(_) => {
                    pools.recycle_input(buf);
                    return None;
                }
            }
        }
    }

    /// One read, into the connection's buffer when it holds part of a
    /// request, else into the worker's scratch buffer (copied to a pooled
    /// buffer only if a part of a request is left over). False: close.
    fn read(&mut self, env: &mut Env<'_>, pools: &mut Pools) -> bool {
        if let Input::Partial(mut buf) | Input::Ready(mut buf) = self.take_input() {
            let spare = buf.spare();
            let room = spare.len();
            return match self.transport.read(spare, env.c) {
                Ok(0) => {
                    pools.recycle_input(buf);
                    false
                }
                Ok(n) => {
                    self.readable = n == room;
                    buf.commit(n);
                    self.serve_buffered(buf, env, pools);
                    true
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    self.input = Input::Partial(buf);
                    true
                }
                Err(_) => {
                    pools.recycle_input(buf);
                    false
                }
            };
        }
        let mut scratch = std::mem::take(&mut pools.scratch);
        let keep = match self.transport.read(&mut scratch, env.c) {
            Ok(0) => false,
            Ok(n) => {
                self.readable = n == scratch.len();
                let (used, verdict) = self.serve(&scratch[..n], env, pools);
                if used < n {
                    let mut buf = pools.inputs.pop().unwrap_or_default();
                    buf.set(&scratch[used..n]);
                    self.input = kept(buf, verdict);
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                true
            }
            Err(_) => false,
        };
        pools.scratch = scratch;
        keep
    }

    /// Serves what `buf` holds and keeps the rest, if any.
    fn serve_buffered(&mut self, mut buf: InBuf, env: &mut Env<'_>, pools: &mut Pools) {
        let (used, verdict) = self.serve(buf.filled(), env, pools);
        buf.consume(used);
        if buf.is_empty() {
            pools.recycle_input(buf);
        } else {
            self.input = kept(buf, verdict);
        }
    }

    fn take_input(&mut self) -> Input {
        std::mem::replace(&mut self.input, Input::Empty)
    }

    /// Hands `data` to the protocol with an output to answer into.
    fn serve(&mut self, data: &[u8], env: &mut Env<'_>, pools: &mut Pools) -> (usize, Verdict) {
        let mut out = self.out.take().unwrap_or_else(|| pools.output());
        let link = Link {
            peer: self.peer,
            plain: self.transport.is_plain(),
            retiring: self.transport.retiring(),
            tls: self.transport.tls_info(),
        };
        let answered = env.c.get(Sc::Requests as usize);
        let (mut used, mut verdict) = self.proto.serve(data, &mut out, env, link);
        if verdict == Verdict::Http2 {
            // Prior knowledge: the same bytes, read as HTTP/2.
            self.proto = Proto::h2(env.now);
            (used, verdict) = self.proto.serve(data, &mut out, env, link);
        }
        let answered = env.c.get(Sc::Requests as usize) - answered;
        if answered > 0 {
            if self.busy == 0 {
                // The worker's clock, read once per wakeup: the read that
                // completed these heads came right after it.
                self.busy_since = env.now;
            }
            self.busy = self.busy.saturating_add(answered as u32);
        }
        if out.is_empty() {
            pools.recycle(out);
        } else {
            self.out = Some(out);
        }
        if let Verdict::Close { linger } = verdict {
            self.phase = Phase::Closing { linger };
        }
        (used, verdict)
    }

    /// Every response answered so far is in the kernel: into the duration
    /// histogram (responses sent together count from the first one's
    /// head; one at a time, as almost always, each from its own).
    fn sent_all(&mut self, env: &mut Env<'_>) {
        if self.busy > 0 {
            let d = env.now.saturating_duration_since(self.busy_since);
            env.c.m.durations(u64::from(self.busy), d);
            if let Some(l) = env.log.as_mut() {
                l.finish(d);
            }
            self.busy = 0;
        }
    }

    /// Nothing to do until an event: which timer runs meanwhile. What the
    /// protocol still sends from a blob is pinned first (it may outlive
    /// the worker's current table).
    fn wait(&mut self, env: &Env<'_>) -> Step {
        let now = env.now;
        self.proto.pin(env.sites);
        let (kind, from) = match self.phase {
            Phase::Lingering => (TimerKind::Linger, now),
            _ if self.out.is_some() => (TimerKind::Send, now),
            Phase::Proxy | Phase::Handshake => (TimerKind::Head, self.proto.waiting(false, now).1),
            Phase::Open | Phase::Closing { .. } => {
                self.proto.waiting(!matches!(self.input, Input::Empty), now)
            }
        };
        Step::Wait { kind, from }
    }

    /// After an error response: shut our side down (close_notify first on
    /// TLS) and drop what is buffered; the client's bytes are drained from
    /// now on.
    fn start_linger(&mut self, pools: &mut Pools, c: &Counters) {
        self.phase = Phase::Lingering;
        self.transport.close_notify(c);
        sys::shutdown_write(self.transport.fd(), c);
        if let Input::Partial(buf) | Input::Ready(buf) = self.take_input() {
            pools.recycle_input(buf);
        }
    }

    /// Reads and drops the client's bytes; closes at its end.
    fn drain(&mut self, env: &mut Env<'_>, pools: &mut Pools) -> Step {
        let fd = self.transport.fd();
        while self.readable {
            match sys::read(fd, &mut pools.scratch, env.c) {
                Ok(0) => return Step::Close,
                Ok(n) => self.readable = n == pools.scratch.len(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(_) => return Step::Close,
            }
        }
        self.wait(env)
    }

    /// The worker is stopping: true when the connection can close now
    /// (nothing in flight); otherwise it closes after what it is doing.
    /// HTTP/2 is told first (GOAWAY): no new streams, the ones in flight
    /// finish.
    pub fn stop(&mut self, pools: &mut Pools, c: &Counters) -> bool {
        let busy =
            self.out.is_some() || !matches!(self.input, Input::Empty) || self.proto.mid_request();
        if let (Phase::Open, Proto::H2(_)) = (&self.phase, &self.proto) {
            let mut out = self.out.take().unwrap_or_else(|| pools.output());
            self.proto.go_away(&mut out);
            if busy {
                self.out = Some(out);
                return false;
            }
            // Best effort: the connection closes right after.
            let _ = self
                .transport
                .flush(&mut out, None, None, &mut pools.iov, c);
            pools.recycle(out);
            return true;
        }
        if !busy {
            return true;
        }
        if let Phase::Proxy | Phase::Handshake | Phase::Open = self.phase {
            self.phase = Phase::Closing { linger: false };
        }
        false
    }

    /// The timer of `kind` ran out; the worker closes the connection next.
    /// The protocol says its last words: 408 for an HTTP/1.1 head that
    /// never completed, GOAWAY on HTTP/2.
    pub fn expire(&mut self, kind: TimerKind, env: &mut Env<'_>, pools: &mut Pools) {
        if let Phase::Proxy = self.phase {
            env.c.bump(Sc::ProxyFailures);
        }
        if let (Phase::Handshake, TimerKind::Head) = (&self.phase, kind) {
            env.c.m.tls_failure(TlsFailure::Timeout);
        }
        // Not before the requests: a late PROXY header or handshake gets no
        // answer; nor behind output the client does not take.
        if self.out.is_some() || !matches!(self.phase, Phase::Open) {
            return;
        }
        let mut out = pools.output();
        self.proto.expire(kind, &mut out, env);
        let _ = self
            .transport
            .flush(&mut out, None, None, &mut pools.iov, env.c);
        pools.recycle(out);
    }

    /// Returns the buffers to the pools and closes (close_notify first on
    /// TLS).
    pub fn close(mut self, pools: &mut Pools, c: &Counters) {
        if let Some(out) = self.out.take() {
            pools.recycle(out);
        }
        if let Input::Partial(buf) | Input::Ready(buf) = self.input {
            pools.recycle_input(buf);
        }
        self.transport.close(c);
    }
}

/// The metrics' reason for a failed handshake.
fn tls_failure(e: &io::Error) -> TlsFailure {
    if tls::is_plain_http(e) {
        return TlsFailure::PlainHttp;
    }
    match e.kind() {
        io::ErrorKind::InvalidData => TlsFailure::Protocol,
        io::ErrorKind::UnexpectedEof => TlsFailure::Eof,
        _ if e.raw_os_error().is_some() => TlsFailure::Io,
        _ => TlsFailure::Protocol,
    }
}

/// The phase after the PROXY header (or from accept, without one).
fn after_proxy(transport: &Transport) -> Phase {
    if transport.is_plain() {
        Phase::Open
    } else {
        Phase::Handshake
    }
}

/// Unconsumed input after the protocol stopped for `verdict`.
fn kept(buf: InBuf, verdict: Verdict) -> Input {
    match verdict {
        Verdict::OutputFull => Input::Ready(buf),
        Verdict::NeedBytes | Verdict::Close { .. } | Verdict::Http2 => Input::Partial(buf),
    }
}
