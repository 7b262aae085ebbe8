//! Reads and writes on descriptors: the request path's syscalls.

use super::counters::{Counters, Sc};
use super::seccomp::Allow;
use super::{cvt, cvt_size};
use std::io::{self, IoSlice};
use std::os::fd::{OwnedFd, RawFd};

/// This file's syscalls (the seccomp allowlist, `seccomp.rs`).
pub(super) const SECCOMP: &[Allow] = &[
    Allow::any(libc::SYS_read, "read"),
    // Responses, the access log, stdout and stderr.
    Allow::any(libc::SYS_write, "write"),
    Allow::any(libc::SYS_writev, "writev"),
    Allow::any(libc::SYS_sendmsg, "sendmsg"),
    Allow::any(libc::SYS_sendfile, "sendfile"),
    // Hot responses: written, and their old pages punched out (only that).
    Allow::any(libc::SYS_pwritev, "pwritev"),
    Allow::arg_eq(
        libc::SYS_fallocate,
        "fallocate",
        1,
        (libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE) as u64,
    ),
    Allow::any(libc::SYS_close, "close"),
];

// read, writev and sendmsg go through syscall(2), not glibc's wrappers:
// those are cancellation points, which costs two locked instructions per
// call to say so, and this server never cancels a thread.

pub fn read(fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<usize> {
    c.bump(Sc::Read);
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    cvt_size(unsafe { libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) } as isize)
}

/// `writev`; at most IOV_MAX (1024) slices are passed.
pub fn writev(fd: RawFd, iov: &[IoSlice<'_>], c: &Counters) -> io::Result<usize> {
    c.bump(Sc::Writev);
    let n = iov.len().min(1024);
    // SAFETY: IoSlice is ABI-compatible with iovec and borrows live memory.
    cvt_size(
        unsafe { libc::syscall(libc::SYS_writev, fd, iov.as_ptr(), n as libc::c_int) } as isize,
    )
}

/// `sendmsg(MSG_MORE|MSG_NOSIGNAL)`: a head that the next `sendfile`
/// continues in the same TCP segment.
pub fn sendmsg_more(fd: RawFd, iov: &[IoSlice<'_>], c: &Counters) -> io::Result<usize> {
    c.bump(Sc::Sendmsg);
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len().min(1024) as _;
    let flags = libc::MSG_MORE | libc::MSG_NOSIGNAL;
    // SAFETY: `msg` points at `iov`, live IoSlices ABI-compatible with iovec.
    cvt_size(unsafe { libc::syscall(libc::SYS_sendmsg, fd, &msg, flags) } as isize)
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

/// Closes, counted.
pub fn close(fd: OwnedFd, c: &Counters) {
    c.bump(Sc::Close);
    drop(fd);
}

/// `pread` (tests read back what a worker wrote to its files).
#[cfg(test)]
pub fn pread(fd: RawFd, buf: &mut [u8], off: u64) -> io::Result<usize> {
    // SAFETY: `buf` is a live, writable slice of `buf.len()` bytes.
    cvt_size(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off as libc::off_t) })
}
