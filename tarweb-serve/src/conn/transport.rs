//! How bytes move on the wire: plain TCP, or TLS (`tls::Session`).

use crate::hot::Hot;
use crate::output::{Flush, Output};
use crate::root::Root;
use crate::sys::{self, Counters};
use crate::tls;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// How bytes move on the wire: plain TCP, or TLS (`tls::Session`: a
/// handshake in user space, then the kernel's record layer, so the same
/// writev/sendfile paths apply to the same fd, or rustls' when the kernel
/// has no kTLS).
pub(crate) enum Transport {
    Plain(OwnedFd),
    Tls(OwnedFd, tls::Session),
}

impl Transport {
    pub fn fd(&self) -> RawFd {
        match self {
            Transport::Plain(fd) | Transport::Tls(fd, _) => fd.as_raw_fd(),
        }
    }

    /// Closes our side: close_notify first on TLS.
    pub fn close(mut self, c: &Counters) {
        self.close_notify(c);
        let fd = match self {
            Transport::Plain(fd) | Transport::Tls(fd, _) => fd,
        };
        sys::close(fd, c);
    }

    pub fn close_notify(&mut self, c: &Counters) {
        if let Transport::Tls(fd, s) = self {
            s.close_notify(fd.as_raw_fd(), c);
        }
    }

    /// Plain TCP: no TLS. Only plain connections are redirected to HTTPS
    /// (`--redirect-https`) and get hot responses (TLS ones are encrypted
    /// from memory or in the kernel).
    pub fn is_plain(&self) -> bool {
        matches!(self, Transport::Plain(_))
    }

    /// TLS with the kernel's record layer (kTLS, at least for sending).
    pub fn is_kernel_tls(&self) -> bool {
        matches!(self, Transport::Tls(_, tls::Session::Kernel(_)))
    }

    /// TLS: the version's name and whether the kernel does the records.
    pub fn tls_info(&self) -> Option<(&'static str, bool)> {
        match self {
            Transport::Tls(_, s) => s.established(),
            Transport::Plain(_) => None,
        }
    }

    /// TLS only: the session must end after the next response.
    pub fn retiring(&self) -> bool {
        matches!(self, Transport::Tls(_, s) if s.retiring())
    }

    /// Drives a TLS handshake; once requests may be read, the protocol
    /// ALPN chose (None: not yet).
    pub fn handshake(&mut self, c: &Counters) -> io::Result<Option<tls::Alpn>> {
        match self {
            Transport::Plain(_) => Ok(Some(tls::Alpn::Http1)),
            Transport::Tls(fd, s) => s.handshake(fd.as_raw_fd(), c),
        }
    }

    /// Request bytes (decrypted on TLS). As for a socket: shorter than
    /// `buf` means drained, Ok(0) is the end.
    pub fn read(&mut self, buf: &mut [u8], c: &Counters) -> io::Result<usize> {
        match self {
            Transport::Plain(fd) => sys::read(fd.as_raw_fd(), buf, c),
            Transport::Tls(fd, s) => s.read(fd.as_raw_fd(), buf, c),
        }
    }

    /// Sends as much of `out` as the socket takes.
    /// `hot`: plain connections only (TLS ones never get hot marks).
    pub fn flush(
        &mut self,
        out: &mut Output,
        root: Option<&Root>,
        hot: Option<&Hot>,
        iov: &mut Vec<IoSlice<'static>>,
        c: &Counters,
    ) -> io::Result<Flush> {
        match self {
            Transport::Plain(fd) => out.flush(fd.as_raw_fd(), root, hot, iov, c),
            Transport::Tls(fd, s) => s.flush(fd.as_raw_fd(), out, root, iov, c),
        }
    }
}
