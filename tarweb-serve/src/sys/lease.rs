//! File leases: a blob served straight from its file while no one can
//! write it (see `root.rs`, "Serving from the file itself").
//!
//! A read lease (`F_SETLEASE F_RDLCK`) can only be taken while no one has
//! the file open for writing, and whoever then opens it for writing (or
//! truncates it) is held by the kernel for up to
//! `/proc/sys/fs/lease-break-time` seconds (45 by default) while this
//! process gets SIGIO: time to make its private copy and let go of the file.

use super::cvt;
use super::seccomp::Allow;
use std::io;
use std::os::fd::RawFd;

/// This file's syscalls (the seccomp allowlist, `seccomp.rs`): taking and
/// asking about a lease (a blob loaded by a live swap), and moving a
/// private copy onto the leased descriptor's number when it breaks.
pub(super) const SECCOMP: &[Allow] = &[
    Allow::arg_eq(libc::SYS_fcntl, "fcntl", 1, libc::F_SETLEASE as u64),
    Allow::arg_eq(libc::SYS_fcntl, "fcntl", 1, libc::F_GETLEASE as u64),
    Allow::any(libc::SYS_dup3, "dup3"),
];

/// Takes a read lease on `fd` (opened read-only). Fails (EAGAIN) while
/// anyone has the file open for writing, and (EACCES) unless this process
/// owns the file or has CAP_LEASE; EINVAL where the filesystem has no
/// leases (NFS, FUSE).
pub fn read_lease(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain fcntl on a descriptor the caller owns.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) }).map(drop)
}

/// Lets go of the lease on `fd` (a load that took one but then copies).
pub fn release_lease(fd: RawFd) {
    // SAFETY: plain fcntl on a descriptor the caller owns.
    unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK) };
}

/// Is the read lease on `fd` still whole? `false` once a writer's open has
/// started breaking it (the kernel then reports the type it is breaking
/// to, `F_UNLCK`), or if there is none.
pub fn lease_held(fd: RawFd) -> bool {
    // SAFETY: plain fcntl on a descriptor the caller owns.
    let t = unsafe { libc::fcntl(fd, libc::F_GETLEASE) };
    t == libc::F_RDLCK
}

/// Makes `to` refer to what `from` refers to, atomically (`dup3`): a
/// sendfile on `to` in another thread reads either the old file or the
/// new one, whole. Closes what `to` was (here: the leased file, releasing
/// its lease once nothing else holds it).
pub fn replace_fd(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: both are descriptors the caller owns; `to` stays owned by
    // its `OwnedFd`, which now closes the new file.
    cvt(unsafe { libc::dup3(from, to, libc::O_CLOEXEC) }).map(drop)
}
