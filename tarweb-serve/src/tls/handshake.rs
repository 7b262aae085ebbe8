//! The handshake: rustls' unbuffered API, fed from the nonblocking socket
//! one TLS record at a time, so that it never processes a byte of
//! application data; then the traffic secrets go to the kernel (kTLS) or
//! to the user-space record layer (`records`).
//!
//! For kTLS the socket is also *read* one record at a time (the 5-byte
//! header, then exactly the length it gives): the client's first request
//! usually follows its Finished in the same segment, and it must stay in
//! the socket, as ciphertext, for the kernel to decrypt once the keys are
//! installed. Greedy reading would swallow it. In user space (`greedy`)
//! reads are as large as a plain read, and what came behind the last
//! handshake record is handed to the record layer.
//!
//! Before any of it, the first bytes are looked at: a TLS connection
//! starts with a handshake record (22), never with a letter; a plain HTTP
//! request starts with its method. That is answered in plain text
//! (`PlainHttp`), not with a TLS alert.

use crate::sys;
use crate::sys::Counters;
use rustls::kernel::KernelConnection;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError};
use rustls::{ExtractedSecrets, ServerConfig};
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

/// Largest record we accept during the handshake: 2^14 bytes of payload
/// plus the 256 bytes of expansion TLS allows (RFC 8446 5.2), and header.
const MAX_RECORD: usize = 5 + (1 << 14) + 256;
/// A greedy read during the handshake (a ClientHello is 0.5-2 KB).
const GREEDY_READ: usize = 8 * 1024;

pub enum Progress {
    /// Waiting for the socket (readable or writable).
    Blocked,
    /// Established; the server's last flight (and session tickets) sent.
    Done,
}

/// The error of a connection whose first bytes are a plain HTTP request
/// (an upper-case method token), not a TLS record.
#[derive(Debug)]
pub struct PlainHttp;

impl std::fmt::Display for PlainHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a plain HTTP request on a TLS port")
    }
}

impl std::error::Error for PlainHttp {}

/// Whether a handshake error is [`PlainHttp`].
pub fn is_plain_http(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|e| e.is::<PlainHttp>())
}

pub struct Handshake {
    conn: UnbufferedServerConnection,
    /// Complete records not yet consumed, then the one being assembled;
    /// in greedy mode, anything read after it too.
    inbuf: Vec<u8>,
    /// Encoded handshake bytes not yet written.
    out: Vec<u8>,
    sent: usize,
    done: bool,
    greedy: bool,
    /// Bytes at the front of `inbuf` that rustls has seen and kept.
    fed: usize,
    /// The last state was `BlockedHandshake`: the next record may go in.
    wants_more: bool,
    /// How much of `inbuf` the last call to rustls was given.
    given: usize,
    /// Nothing has been read yet (the plain HTTP check is still to make).
    first: bool,
}

fn tls_err(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl Handshake {
    /// Reads one record at a time (for kTLS).
    pub fn new(cfg: Arc<ServerConfig>) -> io::Result<Handshake> {
        Ok(Handshake {
            conn: UnbufferedServerConnection::new(cfg).map_err(tls_err)?,
            inbuf: Vec::new(),
            out: Vec::new(),
            sent: 0,
            done: false,
            greedy: false,
            fed: 0,
            wants_more: true,
            given: 0,
            first: true,
        })
    }

    /// Reads as much as is there (for the user-space record layer).
    pub fn greedy(cfg: Arc<ServerConfig>) -> io::Result<Handshake> {
        let mut h = Handshake::new(cfg)?;
        h.greedy = true;
        Ok(h)
    }

    /// Moves the handshake as far as the socket allows. An error means the
    /// connection is to be closed (garbage, not TLS, a failed handshake:
    /// the alert rustls has for the client is sent first, if the socket
    /// takes it); [`is_plain_http`] tells a plain HTTP request apart.
    pub fn drive(&mut self, fd: RawFd, c: &Counters) -> io::Result<Progress> {
        match self.drive_inner(fd, c) {
            Err(e) if e.kind() == io::ErrorKind::InvalidData && !is_plain_http(&e) => {
                self.send_alert(fd, c);
                Err(e)
            }
            r => r,
        }
    }

    fn drive_inner(&mut self, fd: RawFd, c: &Counters) -> io::Result<Progress> {
        loop {
            // Earlier bytes first: rustls was told they were transmitted.
            while self.sent < self.out.len() {
                match sys::write(fd, &self.out[self.sent..], c) {
                    Ok(n) => self.sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(Progress::Blocked)
                    }
                    Err(e) => return Err(e),
                }
            }
            self.out.clear();
            self.sent = 0;
            if self.done {
                return Ok(Progress::Done);
            }
            // One more complete record at a time, never what follows it
            // (rustls keeps the start of a handshake message split across
            // records in front: `fed`).
            // And only when rustls asked for more: between the client's
            // Finished and our tickets it must not be given the request
            // behind them.
            let fed = self.fed;
            let end = match self.wants_more {
                true => fed + record_end(&self.inbuf[fed..])?.unwrap_or(0),
                false => fed,
            };
            self.given = end;
            let status = self.conn.process_tls_records(&mut self.inbuf[..end]);
            let discard = status.discard;
            let mut need = false;
            let state = status.state.map_err(tls_err)?;
            self.wants_more = matches!(state, ConnectionState::BlockedHandshake);
            match state {
                ConnectionState::EncodeTlsData(mut enc) => {
                    encode(&mut self.out, |b| enc.encode(b))?;
                }
                // The bytes sit in `out` and are written before anything
                // else happens on this connection.
                ConnectionState::TransmitTlsData(t) => t.done(),
                ConnectionState::BlockedHandshake => need = end == fed,
                ConnectionState::WriteTraffic(_) => {
                    if !self.greedy && self.inbuf.len() != discard {
                        return Err(io::Error::other("bytes left over after the handshake"));
                    }
                    self.done = true;
                }
                other => {
                    return Err(io::Error::other(format!(
                        "unexpected TLS state in the handshake: {other:?}"
                    )))
                }
            }
            self.inbuf.drain(..discard);
            self.fed = end - discard;
            if need && record_end(&self.inbuf[self.fed..])?.is_none() {
                let want = if self.greedy {
                    GREEDY_READ
                } else {
                    bytes_to_record_boundary(&self.inbuf)?
                };
                let at = self.inbuf.len();
                self.inbuf.resize(at + want, 0);
                match sys::read(fd, &mut self.inbuf[at..], c) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "EOF in the TLS handshake",
                        ))
                    }
                    Ok(n) => self.inbuf.truncate(at + n),
                    Err(e) => {
                        self.inbuf.truncate(at);
                        if e.kind() == io::ErrorKind::WouldBlock {
                            return Ok(Progress::Blocked);
                        }
                        return Err(e);
                    }
                }
                if std::mem::take(&mut self.first) && self.inbuf[0].is_ascii_uppercase() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, PlainHttp));
                }
            }
        }
    }

    /// After a failed step, the alert rustls queued for the client, if the
    /// socket takes it now.
    fn send_alert(&mut self, fd: RawFd, c: &Counters) {
        let mut alert = Vec::new();
        // The bytes of the failed call again: rustls remembers how far
        // into them it got.
        let given = self.given.min(self.inbuf.len());
        let status = self.conn.process_tls_records(&mut self.inbuf[..given]);
        if let Ok(ConnectionState::EncodeTlsData(mut enc)) = status.state {
            if encode(&mut alert, |b| enc.encode(b)).is_ok() && !alert.is_empty() {
                let _ = sys::write(fd, &alert, c);
            }
        }
    }

    /// After `Progress::Done`: the traffic secrets (with the record
    /// sequence numbers to start at) and the object that computes the
    /// KeyUpdate secrets later.
    /// The protocol ALPN agreed on, once the handshake is done.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    pub fn into_kernel(
        self,
    ) -> io::Result<(ExtractedSecrets, KernelConnection<ServerConnectionData>)> {
        self.finish().map(|(s, k, _)| (s, k))
    }

    /// [`Handshake::into_kernel`], and the bytes read after the client's
    /// last handshake record (greedy mode: its first records).
    pub fn finish(
        self,
    ) -> io::Result<(
        ExtractedSecrets,
        KernelConnection<ServerConnectionData>,
        Vec<u8>,
    )> {
        let (secrets, kconn) = self
            .conn
            .dangerous_into_kernel_connection()
            .map_err(tls_err)?;
        Ok((secrets, kconn, self.inbuf))
    }
}

/// Appends what `enc` encodes to `out`, growing it as asked.
fn encode(
    out: &mut Vec<u8>,
    mut enc: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) -> io::Result<()> {
    let at = out.len();
    out.resize(at + 4096, 0);
    loop {
        match enc(&mut out[at..]) {
            Ok(n) => {
                out.truncate(at + n);
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(s)) => out.resize(at + s.required_size, 0),
            Err(e) => {
                out.truncate(at);
                return Err(io::Error::other(format!("TLS encode: {e}")));
            }
        }
    }
}

/// The end of the first record of `buf` when it is complete. An error
/// for what cannot start a TLS record (a content type from 20 to 23,
/// version 3.x), at once rather than after waiting for a length that
/// never comes.
fn record_end(buf: &[u8]) -> io::Result<Option<usize>> {
    if let Some(&t) = buf.first() {
        if !(20..=23).contains(&t) || buf.get(1).is_some_and(|&v| v != 3) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a TLS record",
            ));
        }
    }
    if buf.len() < 5 {
        return Ok(None);
    }
    let total = 5 + usize::from(u16::from_be_bytes([buf[3], buf[4]]));
    if total > MAX_RECORD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("TLS record of {total} bytes in the handshake"),
        ));
    }
    Ok((buf.len() >= total).then_some(total))
}

/// How many more bytes complete the first incomplete record in `buf`.
fn bytes_to_record_boundary(buf: &[u8]) -> io::Result<usize> {
    let mut off = 0;
    loop {
        let rest = &buf[off..];
        if rest.len() < 5 {
            return Ok(5 - rest.len());
        }
        let total = 5 + usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if total > MAX_RECORD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("TLS record of {total} bytes in the handshake"),
            ));
        }
        if rest.len() < total {
            return Ok(total - rest.len());
        }
        off += total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rustls::server::{ClientHello, ResolvesServerCert};
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[derive(Debug)]
    struct NoCert;

    impl ResolvesServerCert for NoCert {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
            None
        }
    }

    fn config() -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(NoCert));
        cfg.enable_secret_extraction = true;
        Arc::new(cfg)
    }

    /// Both ways of reading (record at a time for kTLS, greedy for user
    /// space) see a plain HTTP request for what it is, from its first
    /// byte, before rustls sees anything; anything else that is not TLS
    /// is refused as such.
    #[test]
    fn plain_http_is_told_apart_from_the_first_bytes() {
        let c = Counters::default();
        for greedy in [false, true] {
            for (first, plain) in [
                (&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], true),
                (b"G", true),
                (b"OPTIONS * HTTP/1.1\r\n", true),
                (b"\x16\x03\x01\x00\x05hello", false),
                (b"get / HTTP/1.1\r\n", false),
            ] {
                let (mut client, server) = UnixStream::pair().unwrap();
                server.set_nonblocking(true).unwrap();
                client.write_all(first).unwrap();
                let mut h = if greedy {
                    Handshake::greedy(config()).unwrap()
                } else {
                    Handshake::new(config()).unwrap()
                };
                let r = h.drive(server.as_raw_fd(), &c);
                let what = format!("{:?} greedy={greedy}", String::from_utf8_lossy(first));
                match r {
                    Err(e) => assert_eq!(is_plain_http(&e), plain, "{what}: {e}"),
                    Ok(_) => assert!(!plain, "{what}: no error"),
                }
            }
        }
    }

    #[test]
    fn record_boundary() {
        assert_eq!(bytes_to_record_boundary(&[]).unwrap(), 5);
        assert_eq!(bytes_to_record_boundary(&[22, 3, 1]).unwrap(), 2);
        assert_eq!(bytes_to_record_boundary(&[22, 3, 1, 0, 4]).unwrap(), 4);
        assert_eq!(
            bytes_to_record_boundary(&[22, 3, 1, 0, 1, 9, 22]).unwrap(),
            4
        );
        assert!(bytes_to_record_boundary(&[22, 3, 1, 0xff, 0xff]).is_err());
    }
}
