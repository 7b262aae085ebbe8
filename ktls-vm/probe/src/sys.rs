//! Plain syscalls the scenarios use on a kTLS socket (nothing TLS-specific:
//! that is the point of kTLS), and /proc/net/tls_stat.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// `writev` all of `bufs`, continuing after partial writes.
pub fn writev_all(fd: RawFd, bufs: &[&[u8]]) -> io::Result<()> {
    let mut bufs: Vec<&[u8]> = bufs.iter().copied().filter(|b| !b.is_empty()).collect();
    while !bufs.is_empty() {
        let iov: Vec<libc::iovec> = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.as_ptr() as *mut libc::c_void,
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: each iovec points into a live slice of `bufs` of the stated
        // length; the kernel only reads them.
        let n = unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut n = n as usize;
        while n > 0 {
            if n >= bufs[0].len() {
                n -= bufs[0].len();
                bufs.remove(0);
            } else {
                bufs[0] = &bufs[0][n..];
                n = 0;
            }
        }
    }
    Ok(())
}

/// `sendfile` `len` bytes of `file` from offset 0 to the socket `fd`.
pub fn sendfile_all(fd: RawFd, file: &File, len: u64) -> io::Result<()> {
    let mut off: libc::off_t = 0;
    while (off as u64) < len {
        let want = (len - off as u64).min(1 << 30) as usize;
        // SAFETY: both fds are open for the call; `off` is a valid, exclusive
        // pointer to an off_t that the kernel advances.
        let n = unsafe { libc::sendfile(fd, file.as_raw_fd(), &mut off, want) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::other("sendfile: unexpected end of file"));
        }
    }
    Ok(())
}

/// `/proc/net/tls_stat` as (name, value) pairs, in file order.
pub fn tls_stat() -> io::Result<Vec<(String, i64)>> {
    let text = std::fs::read_to_string("/proc/net/tls_stat")?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect())
}

/// Counters that changed between two snapshots.
pub fn tls_stat_delta(before: &[(String, i64)], after: &[(String, i64)]) -> Vec<(String, i64)> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let old = before.iter().find(|(b, _)| b == k).map_or(0, |(_, v)| *v);
            (v - old != 0).then(|| (k.clone(), v - old))
        })
        .collect()
}

pub fn get(stat: &[(String, i64)], key: &str) -> i64 {
    stat.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
}

/// Bytes waiting in a socket's receive queue (FIONREAD).
pub fn bytes_queued(fd: RawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A one-socket epoll instance, to observe readiness as an event loop would.
pub struct Epoll {
    ep: std::os::fd::OwnedFd,
    fd: RawFd,
}

impl Epoll {
    /// Watch `fd` for EPOLLIN, level-triggered.
    pub fn new(fd: RawFd) -> io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain syscall without pointers.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `ep` is a new fd that nothing else owns.
        let ep = unsafe { std::os::fd::OwnedFd::from_raw_fd(ep) };
        let this = Epoll { ep, fd };
        this.ctl(libc::EPOLL_CTL_ADD, libc::EPOLLIN as u32)?;
        Ok(this)
    }

    /// Switch to edge-triggered EPOLLIN.
    pub fn set_edge_triggered(&self) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, (libc::EPOLLIN | libc::EPOLLET) as u32)
    }

    fn ctl(&self, op: libc::c_int, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events,
            u64: self.fd as u64,
        };
        // SAFETY: `ev` is a valid epoll_event the kernel reads during the call.
        let rc = unsafe { libc::epoll_ctl(self.ep.as_raw_fd(), op, self.fd, &mut ev) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Wait up to `timeout_ms`; true if the socket was reported readable.
    pub fn wait(&self, timeout_ms: i32) -> io::Result<bool> {
        let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 1];
        // SAFETY: `ev` has room for the one event we allow the kernel to write.
        let n = unsafe { libc::epoll_wait(self.ep.as_raw_fd(), ev.as_mut_ptr(), 1, timeout_ms) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n == 1 && ev[0].events & libc::EPOLLIN as u32 != 0)
    }
}
