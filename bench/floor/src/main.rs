//! The epoll floor: the cheapest keep-alive HTTP server we can write, to
//! measure tarweb-serve against (issue 14: "at most 1.1x the epoll floor").
//!
//! One thread. A nonblocking `SO_REUSEPORT` listener with tarweb's socket
//! options (SO_REUSEADDR, SO_REUSEPORT, TCP_DEFER_ACCEPT 1, TCP_NODELAY),
//! level-triggered, one `accept4` per readiness; a new connection is read
//! and answered before it is registered, as tarweb does. Connections are
//! registered once, edge-triggered, `IN|OUT|RDHUP` (tarweb's registration).
//! On readiness: one `read` into a 64 KiB buffer (a short read means the
//! socket is drained), count the complete request heads (`\r\n\r\n`, no
//! other parsing) and answer every one with the same fixed bytes, in one
//! `write` (`writev` when several are owed). The bytes are a whole response
//! captured from tarweb (`bench/serve.py` fetches them with a raw request),
//! so both put the same bytes on the wire.
//!
//! Switches, to vary one kernel-side thing at a time (bench/README.md):
//!   --events et-inout|et-in|lt-in   epoll interest for connections:
//!       tarweb's (default), IN|RDHUP edge-triggered (OUT added with
//!       EPOLL_CTL_MOD only while a response is blocked, as lwan does), or
//!       IN|RDHUP level-triggered (lwan's registration)
//!   --defer N        TCP_DEFER_ACCEPT N seconds (default 1; 0: not set)
//!   --linger         SO_LINGER {1, 1} on the listener (lwan)
//!   --quickack0      TCP_QUICKACK 0 on the listener (lwan)
//!   --fastopen       TCP_FASTOPEN 5 on the listener (lwan)
//!   --recv-send      recv/send instead of read/write (lwan's calls)
//!   --split A,B,...  one response as writev of pieces cut at these byte
//!       offsets (tarweb sends three: status line, Date + Server, the rest)
//!
//! Usage: floor PORT RESPONSE_FILE [switches]. Prints `ready` once
//! listening on 127.0.0.1:PORT. On SIGTERM/SIGINT it prints its counters
//! (requests, epoll_wait calls, events, reads, reads that found nothing,
//! writes) to stderr and exits.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

const LISTEN: u64 = u64::MAX;
const BUF: usize = 64 * 1024; // tarweb's read size
const MAX_IOV: usize = 64;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

#[derive(Clone, Copy, PartialEq)]
enum Events {
    EtInOut,
    EtIn,
    LtIn,
}

struct Opts {
    port: u16,
    resp: Vec<u8>,
    events: Events,
    defer: i32,
    linger: bool,
    quickack0: bool,
    fastopen: bool,
    recv_send: bool,
    /// Where one response is cut into writev pieces (empty: one write).
    split: Vec<usize>,
}

#[derive(Default)]
struct Conn {
    /// How much of "\r\n\r\n" the bytes read so far end with.
    matched: u8,
    /// Responses owed, and how much of the first one is already sent.
    owed: u64,
    off: usize,
    /// OUT is in the interest set (et-in / lt-in while blocked).
    want_out: bool,
    rdhup: bool,
}

#[derive(Default)]
struct Counts {
    requests: u64,
    waits: u64,
    events: u64,
    reads: u64,
    empty_reads: u64,
    writes: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: floor PORT RESPONSE_FILE [--events et-inout|et-in|lt-in] [--defer N] \
         [--linger] [--quickack0] [--fastopen] [--recv-send] [--split A,B,...]"
    );
    std::process::exit(2);
}

fn parse() -> Opts {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 2 {
        usage();
    }
    let port = a[0].parse().unwrap_or_else(|_| usage());
    let resp = std::fs::read(&a[1]).unwrap_or_else(|e| {
        eprintln!("floor: {}: {e}", a[1]);
        std::process::exit(1)
    });
    if resp.is_empty() {
        usage();
    }
    let mut o = Opts {
        port,
        resp,
        events: Events::EtInOut,
        defer: 1,
        linger: false,
        quickack0: false,
        fastopen: false,
        recv_send: false,
        split: Vec::new(),
    };
    let mut i = 2;
    while i < a.len() {
        match a[i].as_str() {
            "--events" => {
                i += 1;
                o.events = match a.get(i).map(String::as_str) {
                    Some("et-inout") => Events::EtInOut,
                    Some("et-in") => Events::EtIn,
                    Some("lt-in") => Events::LtIn,
                    _ => usage(),
                }
            }
            "--defer" => {
                i += 1;
                o.defer = a
                    .get(i)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage());
            }
            "--linger" => o.linger = true,
            "--quickack0" => o.quickack0 = true,
            "--fastopen" => o.fastopen = true,
            "--recv-send" => o.recv_send = true,
            "--split" => {
                i += 1;
                let cuts = a.get(i).unwrap_or_else(|| usage());
                o.split = cuts
                    .split(',')
                    .map(|c| c.parse().unwrap_or_else(|_| usage()))
                    .collect();
                if o.split.windows(2).any(|w| w[0] >= w[1]) || o.split.contains(&0) {
                    usage();
                }
            }
            _ => usage(),
        }
        i += 1;
    }
    o
}

fn check(r: libc::c_int, what: &str) -> libc::c_int {
    if r < 0 {
        eprintln!("floor: {what}: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    r
}

fn setsockopt<T>(fd: i32, level: i32, name: i32, v: &T, what: &str) {
    // SAFETY: `v` points to a live T of the size passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    check(r, what);
}

fn listener(o: &Opts) -> i32 {
    // SAFETY: plain syscalls on a descriptor we own; the sockaddr is
    // initialised before bind reads it.
    unsafe {
        let fd = check(
            libc::socket(
                libc::AF_INET,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            ),
            "socket",
        );
        setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &1i32,
            "SO_REUSEADDR",
        );
        setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            &1i32,
            "SO_REUSEPORT",
        );
        if o.defer > 0 {
            setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                &o.defer,
                "TCP_DEFER_ACCEPT",
            );
        }
        setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &1i32,
            "TCP_NODELAY",
        );
        if o.linger {
            let l = libc::linger {
                l_onoff: 1,
                l_linger: 1,
            };
            setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, &l, "SO_LINGER");
        }
        if o.fastopen {
            setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_FASTOPEN,
                &5i32,
                "TCP_FASTOPEN",
            );
        }
        if o.quickack0 {
            setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                &0i32,
                "TCP_QUICKACK",
            );
        }
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = o.port.to_be();
        sa.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        check(
            libc::bind(
                fd,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            "bind",
        );
        check(libc::listen(fd, 4096), "listen");
        fd
    }
}

fn ctl(ep: i32, op: i32, fd: i32, events: u32, tok: u64) -> bool {
    let mut ev = libc::epoll_event { events, u64: tok };
    // SAFETY: `ev` is a valid epoll_event for the call.
    unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) == 0 }
}

struct Server {
    o: Opts,
    ep: i32,
    conns: Vec<Option<Conn>>,
    buf: Vec<u8>,
    n: Counts,
}

enum Step {
    Open,
    Close,
}

impl Server {
    fn base_events(&self) -> u32 {
        let (i, o, r, et) = (
            libc::EPOLLIN,
            libc::EPOLLOUT,
            libc::EPOLLRDHUP,
            libc::EPOLLET,
        );
        (match self.o.events {
            Events::EtInOut => i | o | r | et,
            Events::EtIn => i | r | et,
            Events::LtIn => i | r,
        }) as u32
    }

    /// Sends what is owed. False when the socket is full (or broken: the
    /// next read sees it).
    fn flush(&mut self, fd: i32, c: &mut Conn) -> bool {
        let resp = &self.o.resp;
        while c.owed > 0 {
            let r = if c.owed == 1 && c.off == 0 && !self.o.split.is_empty() {
                let mut iov = [libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                }; MAX_IOV];
                let mut k = 0;
                let mut at = 0;
                for &cut in self.o.split.iter().chain(std::iter::once(&resp.len())) {
                    let cut = cut.min(resp.len());
                    if cut > at && k < MAX_IOV {
                        iov[k] = libc::iovec {
                            iov_base: resp[at..].as_ptr() as *mut _,
                            iov_len: cut - at,
                        };
                        k += 1;
                        at = cut;
                    }
                }
                self.n.writes += 1;
                // SAFETY: the first `k` iovecs point into `resp`.
                unsafe { libc::writev(fd, iov.as_ptr(), k as libc::c_int) }
            } else if c.owed == 1 {
                let rest = &resp[c.off..];
                self.n.writes += 1;
                // SAFETY: `rest` is a live byte slice.
                unsafe {
                    if self.o.recv_send {
                        libc::send(fd, rest.as_ptr().cast(), rest.len(), 0)
                    } else {
                        libc::write(fd, rest.as_ptr().cast(), rest.len())
                    }
                }
            } else {
                let k = c.owed.min(MAX_IOV as u64) as usize;
                let mut iov = [libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                }; MAX_IOV];
                for (j, v) in iov.iter_mut().take(k).enumerate() {
                    let s = if j == 0 { &resp[c.off..] } else { &resp[..] };
                    *v = libc::iovec {
                        iov_base: s.as_ptr() as *mut _,
                        iov_len: s.len(),
                    };
                }
                self.n.writes += 1;
                // SAFETY: the first `k` iovecs point into `resp`.
                unsafe { libc::writev(fd, iov.as_ptr(), k as libc::c_int) }
            };
            if r < 0 {
                return false;
            }
            let mut sent = r as usize;
            while sent > 0 {
                let left = resp.len() - c.off;
                if sent >= left {
                    sent -= left;
                    c.off = 0;
                    c.owed -= 1;
                } else {
                    c.off += sent;
                    sent = 0;
                }
            }
        }
        true
    }

    /// Reads what arrived, answers it; Close when the connection is done.
    fn serve(&mut self, fd: i32, c: &mut Conn) -> Step {
        if !self.flush(fd, c) {
            return self.block(fd, c);
        }
        loop {
            self.n.reads += 1;
            // SAFETY: `buf` is a live, writable byte buffer of its length.
            let n = unsafe {
                if self.o.recv_send {
                    libc::recv(fd, self.buf.as_mut_ptr().cast(), BUF, 0)
                } else {
                    libc::read(fd, self.buf.as_mut_ptr().cast(), BUF)
                }
            };
            if n == 0 {
                return Step::Close;
            }
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock {
                    self.n.empty_reads += 1;
                    break;
                }
                return Step::Close;
            }
            let n = n as usize;
            let mut m = c.matched;
            for &b in &self.buf[..n] {
                m = match (m, b) {
                    (0 | 2, b'\r') => m + 1,
                    (1, b'\n') => 2,
                    (3, b'\n') => {
                        c.owed += 1;
                        0
                    }
                    (_, b'\r') => 1,
                    _ => 0,
                };
            }
            c.matched = m;
            let start = c.owed;
            if !self.flush(fd, c) {
                self.n.requests += start - c.owed;
                return self.block(fd, c);
            }
            self.n.requests += start;
            if n < BUF {
                break; // short read: drained
            }
        }
        if c.want_out {
            c.want_out = false;
            ctl(
                self.ep,
                libc::EPOLL_CTL_MOD,
                fd,
                self.base_events(),
                fd as u64,
            );
        }
        if c.rdhup {
            return Step::Close;
        }
        Step::Open
    }

    /// The socket is full: wait for OUT (already in the set for et-inout).
    fn block(&mut self, fd: i32, c: &mut Conn) -> Step {
        if self.o.events != Events::EtInOut && !c.want_out {
            c.want_out = true;
            let ev = self.base_events() | libc::EPOLLOUT as u32;
            ctl(self.ep, libc::EPOLL_CTL_MOD, fd, ev, fd as u64);
        }
        Step::Open
    }

    fn close(&mut self, fd: i32) {
        self.conns[fd as usize] = None;
        // SAFETY: we own `fd`; closing also removes it from epoll.
        unsafe { libc::close(fd) };
    }

    fn accept(&mut self, lfd: i32) {
        // SAFETY: plain syscall; no peer address asked for.
        let fd = unsafe {
            libc::accept4(
                lfd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            return;
        }
        if self.conns.len() <= fd as usize {
            self.conns.resize_with(fd as usize + 1, || None);
        }
        // The data is there (TCP_DEFER_ACCEPT): answer, then register.
        let mut c = Conn::default();
        if let Step::Close = self.serve(fd, &mut c) {
            // SAFETY: we own `fd`.
            unsafe { libc::close(fd) };
            return;
        }
        let mut ev = self.base_events();
        if c.want_out {
            ev |= libc::EPOLLOUT as u32;
        }
        if !ctl(self.ep, libc::EPOLL_CTL_ADD, fd, ev, fd as u64) {
            // SAFETY: we own `fd`.
            unsafe { libc::close(fd) };
            return;
        }
        self.conns[fd as usize] = Some(c);
    }

    fn on_conn(&mut self, fd: i32, ev: u32) {
        let Some(mut c) = self.conns.get_mut(fd as usize).and_then(Option::take) else {
            return;
        };
        if ev & libc::EPOLLERR as u32 != 0 {
            return self.close(fd);
        }
        if ev & (libc::EPOLLRDHUP | libc::EPOLLHUP) as u32 != 0 {
            c.rdhup = true;
        }
        let readable = ev & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP) as u32 != 0;
        if !readable && c.owed == 0 {
            // Only "writable", nothing owed (et-inout after registration).
            self.conns[fd as usize] = Some(c);
            return;
        }
        match self.serve(fd, &mut c) {
            Step::Open => self.conns[fd as usize] = Some(c),
            Step::Close => self.close(fd),
        }
    }
}

fn main() {
    let o = parse();
    let lfd = listener(&o);
    // SAFETY: plain syscalls; the handler only stores to an atomic.
    let ep = unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        check(libc::epoll_create1(libc::EPOLL_CLOEXEC), "epoll_create1")
    };
    if !ctl(ep, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32, LISTEN) {
        eprintln!("floor: epoll_ctl: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    let mut s = Server {
        o,
        ep,
        conns: Vec::new(),
        buf: vec![0u8; BUF],
        n: Counts::default(),
    };
    println!("ready");
    std::io::stdout().flush().ok();
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    while !STOP.load(Ordering::Relaxed) {
        s.n.waits += 1;
        // SAFETY: `evs` has `len()` entries the kernel may overwrite.
        let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as libc::c_int, -1) };
        if n < 0 {
            continue; // EINTR: the loop condition looks at STOP
        }
        s.n.events += n as u64;
        for e in &evs[..n as usize] {
            let (ev, tok) = (e.events, e.u64);
            if tok == LISTEN {
                s.accept(lfd);
            } else {
                s.on_conn(tok as i32, ev);
            }
        }
    }
    let n = &s.n;
    eprintln!(
        "floor: requests {} epoll_wait {} events {} reads {} empty_reads {} writes {}",
        n.requests, n.waits, n.events, n.reads, n.empty_reads, n.writes
    );
}
