//! The handshake of a connection whose records will go to the kernel:
//! rustls' unbuffered API, fed from the nonblocking socket **one TLS
//! record at a time** (the 5-byte header, then exactly the length it
//! gives). The client's first request usually follows its Finished in the
//! same segment; it must stay in the socket, as ciphertext, for the kernel
//! to decrypt once the keys are installed. Greedy reading would swallow it.

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

pub enum Progress {
    /// Waiting for the socket (readable or writable).
    Blocked,
    /// Established; the server's last flight (and session tickets) sent.
    Done,
}

pub struct Handshake {
    conn: UnbufferedServerConnection,
    /// Complete records not yet consumed, then the one being assembled.
    inbuf: Vec<u8>,
    /// Encoded handshake bytes not yet written.
    out: Vec<u8>,
    sent: usize,
    done: bool,
}

fn tls_err(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl Handshake {
    pub fn new(cfg: Arc<ServerConfig>) -> io::Result<Handshake> {
        Ok(Handshake {
            conn: UnbufferedServerConnection::new(cfg).map_err(tls_err)?,
            inbuf: Vec::new(),
            out: Vec::new(),
            sent: 0,
            done: false,
        })
    }

    /// Moves the handshake as far as the socket allows. An error means the
    /// connection is to be closed (garbage, not TLS, a failed handshake).
    pub fn drive(&mut self, fd: RawFd, c: &Counters) -> io::Result<Progress> {
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
            let status = self.conn.process_tls_records(&mut self.inbuf);
            let discard = status.discard;
            let mut need = 0;
            match status.state.map_err(tls_err)? {
                ConnectionState::EncodeTlsData(mut enc) => {
                    let at = self.out.len();
                    self.out.resize(at + 4096, 0);
                    loop {
                        match enc.encode(&mut self.out[at..]) {
                            Ok(n) => {
                                self.out.truncate(at + n);
                                break;
                            }
                            Err(EncodeError::InsufficientSize(s)) => {
                                self.out.resize(at + s.required_size, 0)
                            }
                            Err(e) => return Err(io::Error::other(format!("TLS encode: {e}"))),
                        }
                    }
                }
                // The bytes sit in `out` and are written before anything
                // else happens on this connection.
                ConnectionState::TransmitTlsData(t) => t.done(),
                ConnectionState::BlockedHandshake => need = 1,
                ConnectionState::WriteTraffic(_) => {
                    if self.inbuf.len() != discard {
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
            if need > 0 {
                let need = bytes_to_record_boundary(&self.inbuf)?;
                let at = self.inbuf.len();
                self.inbuf.resize(at + need, 0);
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
        self.conn
            .dangerous_into_kernel_connection()
            .map_err(tls_err)
    }
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
