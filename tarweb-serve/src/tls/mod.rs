//! HTTPS. rustls does the handshake on the worker's epoll loop; then
//! either the kernel takes the records (kTLS: `ktls`), so the plain-HTTP
//! writev/sendfile paths serve encrypted sockets unchanged, or the record
//! layer stays in user space (`userspace`, `records`): on kernels without
//! the "tls" ULP, with `--ktls=off`, and for a connection the kernel could
//! not take (it goes on there with the same keys). `config` owns
//! certificates, SNI and reloads; `handshake` the record-at-a-time
//! handshake, and the plain-HTTP check on the first bytes.

pub(crate) mod config;
pub mod handshake;
pub mod ktls;
mod records;
pub(crate) mod userspace;

use crate::output::{Flush, Output};
use crate::root::Root;
use crate::sys::Counters;
use std::io::{self, IoSlice};
use std::os::fd::RawFd;

pub(crate) use config::Tls;
pub use config::{CertSources, KtlsMode};
pub use handshake::is_plain_http;

/// The application protocol a handshake agreed on (RFC 7301).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alpn {
    /// `http/1.1`, or no ALPN at all.
    Http1,
    /// `h2`.
    H2,
    /// `acme-tls/1`: an ACME validator saw the TLS-ALPN-01 certificate;
    /// nothing else is spoken (RFC 8737 §3), the connection closes.
    Acme,
}

impl Alpn {
    fn of(protocol: Option<&[u8]>) -> Alpn {
        match protocol {
            Some(b"h2") => Alpn::H2,
            Some(config::ACME_TLS_ALPN) => Alpn::Acme,
            _ => Alpn::Http1,
        }
    }
}

/// One connection's TLS state.
pub(crate) enum Session {
    /// The handshake; `kernel`: the records then go to kTLS.
    Handshake(Box<handshake::Handshake>, bool, ktls::Limits),
    /// Records in the kernel (at least the sending half).
    Kernel(Box<ktls::KernelTls>),
    /// Records in user space.
    User(Box<userspace::UserTls>),
    /// The client spoke plain HTTP: what is sent goes out as it is (the
    /// 400 that says so), then the connection closes.
    PlainHttp,
    /// Between states after a failed switch; the connection closes.
    Failed,
}

/// The answer to a plain HTTP request on a TLS port (as nginx gives it),
/// around the worker's `Date` (and `Server`) lines.
pub(crate) const PLAIN_HTTP_HEAD: &[u8] = b"HTTP/1.1 400 Bad Request\r\n";
pub(crate) const PLAIN_HTTP_REST: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 66\r\nConnection: close\r\n\r\n\
400 Bad Request: the plain HTTP request was sent to an HTTPS port\n";

impl Session {
    pub fn new(tls: &Tls) -> io::Result<Session> {
        let cfg = tls.server_config.clone();
        let h = if tls.kernel {
            handshake::Handshake::new(cfg)?
        } else {
            handshake::Handshake::greedy(cfg)?
        };
        Ok(Session::Handshake(Box::new(h), tls.kernel, tls.limits))
    }

    /// Drives the handshake; once application data may flow, the protocol
    /// ALPN chose (None: not yet). An error closes the connection;
    /// [`is_plain_http`] tells apart the one that is answered first (the
    /// session then sends in plain text).
    pub fn handshake(&mut self, fd: RawFd, c: &Counters) -> io::Result<Option<Alpn>> {
        let Session::Handshake(h, _, _) = self else {
            return Err(io::Error::other(match self {
                Session::Failed | Session::PlainHttp => "TLS session failed",
                _ => "TLS handshake after its end",
            }));
        };
        match h.drive(fd, c) {
            Ok(handshake::Progress::Blocked) => return Ok(None),
            Ok(handshake::Progress::Done) => {}
            Err(e) => {
                *self = if is_plain_http(&e) {
                    Session::PlainHttp
                } else {
                    Session::Failed
                };
                return Err(e);
            }
        }
        let Session::Handshake(h, kernel, limits) = std::mem::replace(self, Session::Failed) else {
            unreachable!()
        };
        let alpn = Alpn::of(h.alpn_protocol());
        if alpn == Alpn::Acme {
            // Stays Failed: no records follow, the caller closes.
            return Ok(Some(alpn));
        }
        let (secrets, kconn, held) = h.finish()?;
        let version = kconn.protocol_version();
        if kernel {
            match ktls::install(fd, &secrets, version, limits.fail_at) {
                Ok(ktls::Installed::Both) => {
                    *self = Session::Kernel(Box::new(ktls::KernelTls::new(kconn, limits, None)));
                    return Ok(Some(alpn));
                }
                Ok(ktls::Installed::TxOnly) => {
                    let rx = userspace::UserRx::new(version, secrets.rx.0, &secrets.rx.1, held)?;
                    *self = Session::Kernel(Box::new(ktls::KernelTls::new(
                        kconn,
                        limits,
                        Some(Box::new(rx)),
                    )));
                    return Ok(Some(alpn));
                }
                // Nothing of the session is in the kernel: the same keys
                // go on in user space.
                Err((step, e)) => {
                    let cipher = kconn.negotiated_cipher_suite();
                    ktls::note_fallback(step, &e, version, &format!("{:?}", cipher.suite()));
                }
            }
        }
        *self = Session::User(Box::new(userspace::UserTls::new(
            &secrets, kconn, held, limits,
        )?));
        Ok(Some(alpn))
    }

    /// Once established: the protocol version's name and whether the
    /// kernel does the records (the access log).
    pub fn established(&self) -> Option<(&'static str, bool)> {
        let name = |v: rustls::ProtocolVersion| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "TLS",
        };
        match self {
            Session::Kernel(k) => Some((name(k.protocol_version()), true)),
            Session::User(u) => Some((name(u.protocol_version()), false)),
            _ => None,
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
            Session::PlainHttp => out.flush(fd, root, None, iov, c),
            _ => Err(io::Error::other("TLS write before the handshake")),
        }
    }

    /// The session must end after the next response (key usage limits).
    pub fn retiring(&self) -> bool {
        match self {
            Session::Kernel(k) => k.retiring(),
            Session::User(u) => u.retiring(),
            _ => false,
        }
    }

    /// close_notify before our side closes (or shuts down).
    pub fn close_notify(&mut self, fd: RawFd, c: &Counters) {
        match self {
            Session::Kernel(k) => k.close_notify(fd, c),
            Session::User(u) => u.close_notify(fd, c),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_answer_says_its_length() {
        let i = PLAIN_HTTP_REST
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap();
        let body_len = PLAIN_HTTP_REST.len() - i - 4;
        assert!(PLAIN_HTTP_REST.ends_with(b"port\n"));
        let head = std::str::from_utf8(&PLAIN_HTTP_REST[..i]).unwrap();
        assert!(
            head.contains(&format!("Content-Length: {body_len}\r\n")),
            "{head}"
        );
    }
}
