//! HTTPS. rustls does the handshake on the worker's epoll loop; then
//! either the kernel takes the records (kTLS: `ktls`), so the plain-HTTP
//! writev/sendfile paths serve encrypted sockets unchanged, or, on kernels
//! without the "tls" ULP, rustls keeps the record layer (`userspace`).
//! `config` owns certificates, SNI and reloads; `handshake` the
//! record-at-a-time handshake that kTLS needs.

pub(crate) mod config;
pub mod handshake;
pub mod ktls;
pub(crate) mod userspace;

use crate::output::{Flush, Output};
use crate::root::Root;
use crate::sys::Counters;
use std::io::{self, IoSlice};
use std::os::fd::RawFd;

pub(crate) use config::Tls;
pub use config::{CertSources, KtlsMode};

/// The application protocol a handshake agreed on (RFC 7301).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alpn {
    /// `http/1.1`, or no ALPN at all.
    Http1,
    /// `h2`.
    H2,
}

impl Alpn {
    fn of(protocol: Option<&[u8]>) -> Alpn {
        match protocol {
            Some(b"h2") => Alpn::H2,
            _ => Alpn::Http1,
        }
    }
}

/// One connection's TLS state.
pub(crate) enum Session {
    /// Handshake for kTLS (record at a time).
    KernelHandshake(Box<handshake::Handshake>, ktls::Limits),
    /// Records in the kernel.
    Kernel(Box<ktls::KernelTls>),
    /// Records in user space (handshake included).
    User(Box<userspace::UserTls>),
    /// Between states after a failed switch; the connection closes.
    Failed,
}

impl Session {
    pub fn new(tls: &Tls) -> io::Result<Session> {
        let cfg = tls.server_config.clone();
        Ok(if tls.kernel {
            Session::KernelHandshake(Box::new(handshake::Handshake::new(cfg)?), tls.limits)
        } else {
            Session::User(Box::new(userspace::UserTls::new(cfg)?))
        })
    }

    /// Drives the handshake; once application data may flow, the protocol
    /// ALPN chose (None: not yet).
    pub fn handshake(&mut self, fd: RawFd, c: &Counters) -> io::Result<Option<Alpn>> {
        match self {
            Session::KernelHandshake(h, _) => match h.drive(fd, c)? {
                handshake::Progress::Blocked => Ok(None),
                handshake::Progress::Done => {
                    let alpn = Alpn::of(h.alpn_protocol());
                    let Session::KernelHandshake(h, limits) =
                        std::mem::replace(self, Session::Failed)
                    else {
                        unreachable!()
                    };
                    let (secrets, kconn) = h.into_kernel()?;
                    *self = Session::Kernel(Box::new(ktls::KernelTls::install(
                        fd, secrets, kconn, limits,
                    )?));
                    Ok(Some(alpn))
                }
            },
            Session::User(u) => Ok(u.handshake(fd, c)?.then(|| Alpn::of(u.alpn_protocol()))),
            Session::Kernel(_) => Err(io::Error::other("TLS handshake after its end")),
            Session::Failed => Err(io::Error::other("TLS session failed")),
        }
    }

    pub fn read(&mut self, fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<usize> {
        match self {
            Session::Kernel(k) => k.read(fd, buf, c),
            Session::User(u) => u.read(fd, buf, c),
            _ => Err(io::Error::other("TLS read before the handshake")),
        }
    }

    pub fn flush(
        &mut self,
        fd: RawFd,
        out: &mut Output,
        root: Option<&Root>,
        iov: &mut Vec<IoSlice<'static>>,
        c: &Counters,
    ) -> io::Result<Flush> {
        match self {
            // The kernel encrypts: exactly the plain-HTTP path, plus an
            // estimate of the records it made (key usage limits).
            Session::Kernel(k) => {
                let (bytes, sends) = (out.remaining(), c.sends());
                let r = out.flush(fd, root, None, iov, c);
                k.count_sent(bytes - out.remaining(), c.sends() - sends);
                r
            }
            Session::User(u) => u.flush(fd, out, root, c),
            _ => Err(io::Error::other("TLS write before the handshake")),
        }
    }

    /// The session must end after the next response (kTLS key usage).
    pub fn retiring(&self) -> bool {
        matches!(self, Session::Kernel(k) if k.retiring())
    }

    /// close_notify before our side closes (or shuts down).
    pub fn close_notify(&mut self, fd: RawFd, c: &Counters) {
        match self {
            Session::Kernel(k) => k.close_notify(fd, c),
            Session::User(u) if !u.handshaking() => u.close_notify(fd, c),
            _ => {}
        }
    }
}
