//! Every raw syscall and every `unsafe` block of tarweb-serve lives here.
//! The hot-path wrappers take the calling worker's [`Counters`] and bump
//! the counter of their kind *before* the call, so a client that has seen
//! a call's effect (bytes, EOF) also sees it counted.

use crate::stats::{Counters, Sc};
use std::ffi::CStr;
use std::io::{self, IoSlice};
use std::mem::{size_of, MaybeUninit};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn cvt_size(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// The global allocator: the system's, counting allocations per thread so
/// the tests can assert that a worker serves requests without allocating
/// (`allocs` in the stats). One thread-local increment per allocation.
pub struct CountingAlloc;

thread_local! {
    // const-initialised, no destructor: usable from inside the allocator.
    static ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Allocations (alloc, alloc_zeroed, realloc) made by the calling thread.
pub fn thread_allocs() -> u64 {
    ALLOCS.with(|n| n.get())
}

fn count_alloc() {
    ALLOCS.with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counting touches no heap.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded as is (see the impl).
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

/// Takes ownership of a descriptor a syscall just returned.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall that creates a
    // descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `v` is a live c_int and the length passed is its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    cvt(r).map(drop)
}

fn sockaddr_from(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

fn sockaddr_to(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin: libc::sockaddr_in =
                unsafe { std::ptr::read((ss as *const libc::sockaddr_storage).cast()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                sin.sin_addr.s_addr.to_ne_bytes().into(),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6: libc::sockaddr_in6 =
                unsafe { std::ptr::read((ss as *const libc::sockaddr_storage).cast()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                sin6.sin6_addr.s6_addr.into(),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// A nonblocking listening TCP socket with `SO_REUSEPORT` (one per worker),
/// dual stack for `[::]`, `TCP_DEFER_ACCEPT` (accept only once data came)
/// and `TCP_NODELAY` (inherited by accepted sockets on Linux).
pub fn listener(addr: &SocketAddr, backlog: i32) -> io::Result<OwnedFd> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall with constant arguments.
    let fd = owned(cvt(unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?);
    let raw = fd.as_raw_fd();
    setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    if addr.is_ipv6() {
        setsockopt_int(raw, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    }
    setsockopt_int(raw, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, 1)?;
    setsockopt_int(raw, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    let (ss, len) = sockaddr_from(addr);
    // SAFETY: `ss` holds a valid sockaddr of `len` bytes.
    cvt(unsafe { libc::bind(raw, (&ss as *const libc::sockaddr_storage).cast(), len) })?;
    // SAFETY: plain syscall on a descriptor we own.
    cvt(unsafe { libc::listen(raw, backlog) })?;
    Ok(fd)
}

/// Sets a listener's TCP congestion control (`TCP_CONGESTION`); the
/// sockets it accepts inherit it. ENOENT: not in this kernel; EPERM: not
/// in `tcp_allowed_congestion_control` (unprivileged callers).
pub fn set_congestion_control(fd: RawFd, name: &str) -> io::Result<()> {
    setsockopt_bytes(fd, libc::IPPROTO_TCP, libc::TCP_CONGESTION, name.as_bytes())
}

/// The address a socket is bound to.
pub fn local_addr(fd: RawFd) -> io::Result<SocketAddr> {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `ss` and `len` are live and `len` is the storage's size.
    cvt(unsafe {
        libc::getsockname(
            fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    })?;
    sockaddr_to(&ss).ok_or_else(|| io::Error::other("not an inet socket"))
}

/// systemd socket activation: takes ownership of the listening sockets
/// passed as fds 3.. when `LISTEN_PID` is this process, once (the variables
/// are removed, so a second call finds nothing and no fd is owned twice).
pub fn systemd_listeners() -> Option<Vec<OwnedFd>> {
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let n: i32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    if pid != std::process::id() || n <= 0 {
        return None;
    }
    (3..3 + n).map(|fd| adopt_listener(fd).ok()).collect()
}

/// Marks an inherited descriptor nonblocking and close-on-exec, and owns it.
fn adopt_listener(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor number; errors are reported, not UB.
    let fl = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    Ok(owned(fd))
}

/// `accept4(SOCK_NONBLOCK|SOCK_CLOEXEC)`.
pub fn accept(listener: RawFd, c: &Counters) -> io::Result<(OwnedFd, Option<SocketAddr>)> {
    c.bump(Sc::Accept4);
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `ss` and `len` are live and `len` is the storage's size.
    let fd = cvt(unsafe {
        libc::accept4(
            listener,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    Ok((owned(fd), sockaddr_to(&ss)))
}

pub fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall.
    Ok(owned(cvt(unsafe {
        libc::epoll_create1(libc::EPOLL_CLOEXEC)
    })?))
}

pub const EPOLLIN: u32 = libc::EPOLLIN as u32;
pub const EPOLLOUT: u32 = libc::EPOLLOUT as u32;
pub const EPOLLET: u32 = libc::EPOLLET as u32;
pub const EPOLLRDHUP: u32 = libc::EPOLLRDHUP as u32;
pub const EPOLLHUP: u32 = libc::EPOLLHUP as u32;
pub const EPOLLERR: u32 = libc::EPOLLERR as u32;
pub const EPOLLEXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;

fn epoll_ctl(
    ep: RawFd,
    op: libc::c_int,
    fd: RawFd,
    events: u32,
    token: u64,
    c: &Counters,
) -> io::Result<()> {
    c.bump(Sc::EpollCtl);
    let mut ev = libc::epoll_event { events, u64: token };
    // SAFETY: `ev` is a live epoll_event.
    cvt(unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) }).map(drop)
}

pub fn epoll_add(ep: RawFd, fd: RawFd, events: u32, token: u64, c: &Counters) -> io::Result<()> {
    epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, events, token, c)
}

pub fn epoll_del(ep: RawFd, fd: RawFd, c: &Counters) -> io::Result<()> {
    epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd, 0, 0, c)
}

/// A reusable buffer of epoll events.
pub struct Events {
    buf: Vec<libc::epoll_event>,
    n: usize,
}

impl Events {
    pub fn with_capacity(n: usize) -> Events {
        Events {
            buf: vec![libc::epoll_event { events: 0, u64: 0 }; n],
            n: 0,
        }
    }
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// (events, token) of the i-th ready entry.
    pub fn get(&self, i: usize) -> (u32, u64) {
        let e = self.buf[i];
        (e.events, e.u64)
    }
}

pub fn epoll_wait(ep: RawFd, evs: &mut Events, timeout_ms: i32, c: &Counters) -> io::Result<usize> {
    c.bump(Sc::EpollWait);
    // SAFETY: `buf` has `len()` initialised entries the kernel may overwrite.
    let r = unsafe {
        libc::epoll_wait(
            ep,
            evs.buf.as_mut_ptr(),
            evs.buf.len() as libc::c_int,
            timeout_ms,
        )
    };
    match cvt(r) {
        Ok(n) => {
            evs.n = n as usize;
            Ok(evs.n)
        }
        Err(e) => {
            evs.n = 0;
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(0)
            } else {
                Err(e)
            }
        }
    }
}

pub fn read(fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<usize> {
    c.bump(Sc::Read);
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    cvt_size(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// `writev`; at most IOV_MAX (1024) slices are passed.
pub fn writev(fd: RawFd, iov: &[IoSlice<'_>], c: &Counters) -> io::Result<usize> {
    c.bump(Sc::Writev);
    let n = iov.len().min(1024);
    // SAFETY: IoSlice is ABI-compatible with iovec and borrows live memory.
    cvt_size(unsafe { libc::writev(fd, iov.as_ptr().cast(), n as libc::c_int) })
}

/// `sendmsg(MSG_MORE|MSG_NOSIGNAL)`: a head that the next `sendfile`
/// continues in the same TCP segment.
pub fn sendmsg_more(fd: RawFd, iov: &[IoSlice<'_>], c: &Counters) -> io::Result<usize> {
    c.bump(Sc::Sendmsg);
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len().min(1024) as _;
    // SAFETY: `msg` points at `iov`, live IoSlices ABI-compatible with iovec.
    cvt_size(unsafe { libc::sendmsg(fd, &msg, libc::MSG_MORE | libc::MSG_NOSIGNAL) })
}

/// `sendfile(out, in_fd, &off, count)`; advances `off`.
pub fn sendfile(
    out: RawFd,
    in_fd: RawFd,
    off: &mut u64,
    count: usize,
    c: &Counters,
) -> io::Result<usize> {
    c.bump(Sc::Sendfile);
    let mut o = *off as libc::off_t;
    // SAFETY: `o` is a live off_t; the kernel checks both descriptors.
    let n = cvt_size(unsafe { libc::sendfile(out, in_fd, &mut o, count) })?;
    *off = o as u64;
    Ok(n)
}

/// `pwritev` at `off`: the whole of `iov` or an error (a short write to a
/// regular file means the disk is full).
pub fn pwritev_all(fd: RawFd, iov: &[IoSlice<'_>], off: u64, c: &Counters) -> io::Result<()> {
    let want: usize = iov.iter().map(|s| s.len()).sum();
    c.bump(Sc::Pwritev);
    let n = iov.len().min(1024);
    // SAFETY: IoSlice is ABI-compatible with iovec and borrows live memory.
    let got = cvt_size(unsafe {
        libc::pwritev(
            fd,
            iov.as_ptr().cast(),
            n as libc::c_int,
            off as libc::off_t,
        )
    })?;
    if got != want {
        return Err(io::Error::new(
            io::ErrorKind::StorageFull,
            format!("pwritev wrote {got} of {want} bytes"),
        ));
    }
    Ok(())
}

/// Frees `off..off + len` of a file (`FALLOC_FL_PUNCH_HOLE`, size kept):
/// its pages leave the page cache, so the next write there gets new ones
/// and pages still referenced by queued socket buffers keep their bytes.
pub fn punch_hole(fd: RawFd, off: u64, len: u64, c: &Counters) -> io::Result<()> {
    c.bump(Sc::Fallocate);
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    // SAFETY: plain syscall on a descriptor we own.
    cvt(unsafe { libc::fallocate(fd, mode, off as libc::off_t, len as libc::off_t) }).map(drop)
}

pub fn write(fd: RawFd, buf: &[u8], c: &Counters) -> io::Result<usize> {
    c.bump(Sc::Write);
    // SAFETY: `buf` is a live slice of `buf.len()` bytes.
    cvt_size(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}

pub fn shutdown_write(fd: RawFd, c: &Counters) {
    c.bump(Sc::Shutdown);
    // SAFETY: plain syscall; an error (already closed by peer) is harmless.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}

/// Closes, counted.
pub fn close(fd: OwnedFd, c: &Counters) {
    c.bump(Sc::Close);
    drop(fd);
}

/// An eventfd used to wake workers (shutdown, a new root).
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall.
    Ok(owned(cvt(unsafe {
        libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)
    })?))
}

pub fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writes the 8 bytes of a live u64.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// A read-only shared mapping of a whole file.
pub struct Mmap {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and of a private copy (a sealed memfd,
// or a nameless file only this process holds: see `mmap_readonly`): no one
// changes the bytes, so sharing references across threads is sound.
unsafe impl Send for Mmap {}
// SAFETY: as above.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Moves the mapping out, leaving an empty one (which unmaps nothing)
    /// behind: a root hands its mapping to the reaper thread this way.
    pub fn take(&mut self) -> Mmap {
        std::mem::replace(
            self,
            Mmap {
                ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(),
                len: 0,
            },
        )
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is mapped readable for the life of `self`,
        // and the file under it is a private copy that nothing writes or
        // shrinks (`mmap_readonly` checked it), so the bytes never change
        // and access never hits a hole (an empty one from `take` has a
        // dangling, aligned, non-null pointer and length 0).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        if self.len == 0 {
            return; // emptied by `take`
        }
        // SAFETY: unmaps exactly what `mmap_readonly` mapped; no borrow of
        // `as_slice` outlives `self`.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// Maps `len` bytes of `fd` read-only and shared. `len` must be > 0 and
/// `fd` a private copy (checked: that is what makes `Mmap::as_slice`
/// sound, since the bytes can then never change or vanish under the
/// mapping): either a memfd sealed against shrinking and writing, or a
/// regular file with no name (`O_TMPFILE`, never linked), which no other
/// process can open except through /proc/PID/fd, that is, with ptrace
/// rights over this process (which could as well write its memory).
pub fn mmap_readonly(fd: RawFd, len: usize) -> io::Result<Mmap> {
    let need = libc::F_SEAL_SHRINK | libc::F_SEAL_WRITE;
    let sealed = get_seals(fd).is_ok_and(|s| s & need == need);
    if !sealed && !is_nameless_file(fd)? {
        return Err(io::Error::other(
            "refusing to map a descriptor that is neither a sealed memfd nor a nameless file",
        ));
    }
    // SAFETY: a fresh mapping chosen by the kernel; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(Mmap {
        ptr: p as *const u8,
        len,
    })
}

pub fn mlock(m: &Mmap) -> io::Result<()> {
    // SAFETY: locks pages of a live mapping.
    cvt(unsafe { libc::mlock(m.ptr.cast(), m.len) }).map(drop)
}

/// `memfd_create(MFD_CLOEXEC|MFD_ALLOW_SEALING)`.
pub fn memfd_create(name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid C string.
    Ok(owned(cvt(unsafe {
        libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
    })?))
}

/// Seals a memfd against shrinking, growing, writing, and further seals.
pub fn seal(fd: RawFd) -> io::Result<()> {
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: plain fcntl on a descriptor we own.
    cvt(unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) }).map(drop)
}

/// A regular file without a name (link count 0): an `O_TMPFILE` that was
/// never linked.
fn is_nameless_file(fd: RawFd) -> io::Result<bool> {
    // SAFETY: fstat fills the zeroed struct we pass; no other memory is touched.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above, on a descriptor we own.
    cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_nlink == 0)
}

/// Is `dir` on tmpfs (where a file is shmem, like a memfd, but unsealable)?
pub fn on_tmpfs(dir: &std::path::Path) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: statfs fills the zeroed struct we pass; `c` is a valid C string.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    cvt(unsafe { libc::statfs(c.as_ptr(), &mut st) })?;
    Ok(st.f_type == libc::TMPFS_MAGIC)
}

pub fn get_seals(fd: RawFd) -> io::Result<i32> {
    // SAFETY: plain fcntl on a descriptor we own.
    cvt(unsafe { libc::fcntl(fd, libc::F_GET_SEALS) })
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns it.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a live rlimit.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) })?;
    r.rlim_cur = r.rlim_max;
    // SAFETY: `r` is a live rlimit.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) })?;
    Ok(r.rlim_cur)
}

fn signal_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset adds to it.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
        libc::sigaddset(set.as_mut_ptr(), libc::SIGINT);
        // SIGHUP: re-check the blob, reload the certificates.
        libc::sigaddset(set.as_mut_ptr(), libc::SIGHUP);
        set.assume_init()
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the
/// threads it spawns afterwards) and ignores SIGPIPE, so [`wait_signal`]
/// gets them (a thread with one unblocked would die of it, taking the
/// process along).
pub fn block_signals() {
    let set = signal_set();
    // SAFETY: `set` is initialised; the old mask is not wanted.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT: shut down.
    Term,
    /// SIGHUP: re-check what is reloadable.
    Hup,
}

/// Waits for one of the signals [`block_signals`] blocked.
pub fn wait_signal() -> Signal {
    let set = signal_set();
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialised and `sig` is live.
    unsafe { libc::sigwait(&set, &mut sig) };
    if sig == libc::SIGHUP {
        Signal::Hup
    } else {
        Signal::Term
    }
}

// ---------------------------------------------------------------- kTLS --
// Kernel TLS (linux/tls.h): after rustls' handshake the session's keys are
// handed to the kernel, which then encrypts and decrypts the records, so
// writev/sendfile/read keep working on the same fd. Needs CONFIG_TLS
// (tls.ko). Versions: TLS 1.3 5.1, ChaCha20 5.11, TLS_TX_ZEROCOPY_RO 5.19,
// TLS_RX_EXPECT_NO_PAD 6.0, TLS 1.3 rekey 6.14.

/// `SOL_TLS`: socket option level of the TLS ULP.
const SOL_TLS: libc::c_int = 282;
/// `TCP_ULP` (level `SOL_TCP`).
const TCP_ULP: libc::c_int = 31;
const TLS_TX: libc::c_int = 1;
const TLS_RX: libc::c_int = 2;
/// cmsg types at level `SOL_TLS`.
const TLS_SET_RECORD_TYPE: libc::c_int = 1;
const TLS_GET_RECORD_TYPE: libc::c_int = 2;

/// Which direction a key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KtlsDir {
    Tx,
    Rx,
}

/// Optional u32 flags at level `SOL_TLS`.
#[derive(Clone, Copy, Debug)]
pub enum KtlsFlag {
    /// `TLS_TX_ZEROCOPY_RO` (5.19): sendfile encrypts straight from the
    /// page cache; safe only when the file never changes (our private copy
    /// of the blob).
    TxZerocopyReadOnly = 3,
    /// `TLS_RX_EXPECT_NO_PAD` (6.0, TLS 1.3): decrypt in place assuming no
    /// record padding (the kernel retries if there is some).
    RxExpectNoPad = 4,
}

fn setsockopt_bytes(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    val: &[u8],
) -> io::Result<()> {
    // SAFETY: `val` is a live buffer of exactly `val.len()` bytes that the
    // kernel only reads during the call.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            val.as_ptr().cast(),
            val.len() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Whether this kernel has the "tls" ULP: asking for it on a fresh,
/// unconnected TCP socket gives ENOENT when tls.ko is missing (and cannot
/// be auto-loaded: that needs CAP_NET_ADMIN), ENOTCONN when it is there.
pub fn ktls_available() -> bool {
    // SAFETY: plain syscall with constant arguments.
    let Ok(fd) =
        cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })
    else {
        return false;
    };
    let fd = owned(fd);
    match setsockopt_bytes(fd.as_raw_fd(), libc::SOL_TCP, TCP_ULP, b"tls") {
        Ok(()) => true,
        Err(e) => e.raw_os_error() != Some(libc::ENOENT),
    }
}

/// Attaches the "tls" ULP to an established TCP socket (after the
/// handshake, before any application data).
pub fn ktls_enable_ulp(fd: RawFd) -> io::Result<()> {
    setsockopt_bytes(fd, libc::SOL_TCP, TCP_ULP, b"tls")
}

/// Installs one direction's `tls12_crypto_info_*` (already serialized in
/// the kernel's layout). A second install of a direction (TLS 1.3
/// KeyUpdate) works from 6.14; older kernels say EBUSY.
pub fn ktls_set_crypto(fd: RawFd, dir: KtlsDir, info: &[u8]) -> io::Result<()> {
    let name = match dir {
        KtlsDir::Tx => TLS_TX,
        KtlsDir::Rx => TLS_RX,
    };
    setsockopt_bytes(fd, SOL_TLS, name, info)
}

/// Turns on an optional flag (after the key of its direction).
pub fn ktls_set_flag(fd: RawFd, flag: KtlsFlag) -> io::Result<()> {
    setsockopt_bytes(fd, SOL_TLS, flag as libc::c_int, &1u32.to_ne_bytes())
}

/// Control-message buffer aligned for `cmsghdr`; CMSG_SPACE(1) is 24 bytes.
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

/// Sends `data` as one record of `record_type` (an alert, a KeyUpdate) on a
/// kTLS socket, via a `TLS_SET_RECORD_TYPE` cmsg. Counted as `sendmsg`.
pub fn ktls_send_record(
    fd: RawFd,
    record_type: u8,
    data: &[u8],
    c: &Counters,
) -> io::Result<usize> {
    c.bump(Sc::Sendmsg);
    let mut cbuf = CmsgBuf([0; 32]);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes a size.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(1) } as _;
    // SAFETY: msg_control points at `cbuf` (32 aligned bytes >=
    // CMSG_SPACE(1)), so CMSG_FIRSTHDR is non-null and the header plus one
    // data byte fit.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = SOL_TLS;
        (*cmsg).cmsg_type = TLS_SET_RECORD_TYPE;
        (*cmsg).cmsg_len = libc::CMSG_LEN(1) as _;
        *libc::CMSG_DATA(cmsg) = record_type;
    }
    // SAFETY: every pointer in `msg` is valid for the call; the kernel only
    // reads `data`.
    cvt_size(unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) })
}

/// Receives plaintext of one record type from a kTLS socket with
/// `recvmsg` and a control buffer (a plain `read` of a non-data record
/// fails with EIO and leaves it queued). Returns (record type, bytes);
/// no cmsg means application data (23); (23, 0) is end of stream.
/// EBADMSG: a record failed to authenticate (sticky: close).
/// Counted as `recvmsg`.
pub fn ktls_recv_record(fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<(u8, usize)> {
    c.bump(Sc::Recvmsg);
    let mut cbuf = CmsgBuf([0; 32]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len() as _;
    // SAFETY: iov points at `buf` and msg_control at `cbuf`, both writable
    // for their stated lengths for the whole call.
    let n = cvt_size(unsafe { libc::recvmsg(fd, &mut msg, 0) })?;
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(io::Error::other("recvmsg: control message truncated"));
    }
    let mut record_type = 23u8;
    // SAFETY: the kernel filled msg_control/msg_controllen; CMSG_FIRSTHDR
    // and CMSG_NXTHDR stay within that range and return null at its end;
    // a TLS_GET_RECORD_TYPE cmsg carries one byte.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == SOL_TLS && (*cmsg).cmsg_type == TLS_GET_RECORD_TYPE {
                record_type = *libc::CMSG_DATA(cmsg);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((record_type, n))
}
