//! epoll, and the eventfds that wake workers.

use super::counters::{Counters, Sc};
use super::seccomp::Allow;
use super::{cvt, owned};
use std::io;
use std::os::fd::{OwnedFd, RawFd};

/// This file's syscalls after start-up (epolls and the eventfd are made
/// before confinement; `eventfd_signal` is a `write`, listed by `io`).
pub(super) const SECCOMP: &[Allow] = &[
    Allow::any(libc::SYS_epoll_wait, "epoll_wait"),
    Allow::any(libc::SYS_epoll_ctl, "epoll_ctl"),
];

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
    /// (events, token) of the i-th ready entry.
    pub fn get(&self, i: usize) -> (u32, u64) {
        let e = self.buf[i];
        (e.events, e.u64)
    }
}

pub fn epoll_wait(ep: RawFd, evs: &mut Events, timeout_ms: i32, c: &Counters) -> io::Result<usize> {
    c.bump(Sc::EpollWait);
    // syscall(2), not glibc's cancellation-point wrapper (see `io`).
    // SAFETY: `buf` has `len()` initialised entries the kernel may overwrite.
    let r = unsafe {
        libc::syscall(
            libc::SYS_epoll_wait,
            ep,
            evs.buf.as_mut_ptr(),
            evs.buf.len() as libc::c_int,
            timeout_ms,
        )
    } as libc::c_int;
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
