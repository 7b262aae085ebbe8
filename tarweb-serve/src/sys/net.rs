//! Sockets: listeners (and systemd's), accept, socket options, addresses.

use super::counters::{Counters, Sc};
use super::seccomp::Allow;
use super::{cvt, owned};
use std::io;
use std::mem::size_of;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// This file's syscalls after start-up (listeners are made before
/// confinement; the seccomp allowlist, `seccomp.rs`).
pub(super) const SECCOMP: &[Allow] = &[
    Allow::any(libc::SYS_accept4, "accept4"),
    Allow::any(libc::SYS_shutdown, "shutdown"),
    // `peek`: a PROXY header in front of a TLS handshake.
    Allow::any(libc::SYS_recvfrom, "recvfrom"),
];

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

/// Whether some socket already holds `addr`'s port (a listener of
/// another process, SO_REUSEPORT or not): a bind without SO_REUSEPORT
/// says EADDRINUSE. SO_REUSEADDR keeps connections in TIME_WAIT from
/// counting.
pub fn port_taken(addr: &SocketAddr) -> io::Result<bool> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall with constant arguments.
    let fd = owned(cvt(unsafe {
        libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0)
    })?);
    let raw = fd.as_raw_fd();
    setsockopt_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if addr.is_ipv6() {
        setsockopt_int(raw, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    }
    let (ss, len) = sockaddr_from(addr);
    // SAFETY: `ss` holds a valid sockaddr of `len` bytes.
    match cvt(unsafe { libc::bind(raw, (&ss as *const libc::sockaddr_storage).cast(), len) }) {
        Ok(_) => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(true),
        Err(e) => Err(e),
    }
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

pub(super) fn setsockopt_bytes(
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

pub fn shutdown_write(fd: RawFd, c: &Counters) {
    c.bump(Sc::Shutdown);
    // SAFETY: plain syscall; an error (already closed by peer) is harmless.
    unsafe { libc::shutdown(fd, libc::SHUT_WR) };
}

/// `recv(MSG_PEEK)`: the bytes waiting on a socket, left there.
pub fn peek(fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<usize> {
    c.bump(Sc::Recv);
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_PEEK) };
    super::cvt_size(n)
}
