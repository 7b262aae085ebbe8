//! A session whose record layer stays in user space (no kTLS on this
//! kernel, or `--ktls=off`): buffered rustls does the handshake and then
//! encrypts responses straight from the blob's mapping (vectored, no
//! plaintext copy) and decrypts requests.

use crate::output::{Flush, Output};
use crate::root::Root;
use crate::sys;
use crate::sys::Counters;
use rustls::{ServerConfig, ServerConnection};
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::RawFd;
use std::sync::Arc;

/// Plaintext encrypted per round, and rustls' outgoing buffer limit: a
/// response up to it leaves in one writev (16 records; rustls writes up to
/// 64 at once). User-space TLS has no sendfile, so this is not tied to the
/// plain path's sendfile threshold (48 KiB).
const ENCRYPT_CHUNK: usize = 256 * 1024;

/// The socket as rustls sees it, counting syscalls and noting whether the
/// last call was short (for a stream socket: drained, or full).
struct FdIo<'a> {
    fd: RawFd,
    c: &'a Counters,
    short: bool,
}

impl Read for FdIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = sys::read(self.fd, buf, self.c)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

impl Write for FdIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = sys::write(self.fd, buf, self.c)?;
        self.short = n < buf.len();
        Ok(n)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = sys::writev(self.fd, bufs, self.c)?;
        self.short = n < bufs.iter().map(|b| b.len()).sum();
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn tls_err(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

pub struct UserTls {
    conn: ServerConnection,
    /// The peer's close_notify or FIN was seen.
    eof: bool,
    /// Handshake complete and our last flight written.
    ready: bool,
}

impl UserTls {
    pub fn new(cfg: Arc<ServerConfig>) -> io::Result<UserTls> {
        let mut conn = ServerConnection::new(cfg).map_err(tls_err)?;
        conn.set_buffer_limit(Some(ENCRYPT_CHUNK));
        Ok(UserTls {
            conn,
            eof: false,
            ready: false,
        })
    }

    /// Moves the handshake as far as the socket allows; Ok(true) once it
    /// is complete and our last flight (session tickets included) is out.
    /// Application data that came with the client's Finished stays
    /// buffered in rustls for `read`.
    pub fn handshake(&mut self, fd: RawFd, c: &Counters) -> io::Result<bool> {
        let mut io = FdIo {
            fd,
            c,
            short: false,
        };
        loop {
            while self.conn.wants_write() {
                match self.conn.write_tls(&mut io) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(e),
                }
            }
            if !self.conn.is_handshaking() {
                self.ready = true;
                return Ok(true);
            }
            match self.conn.read_tls(&mut io) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "EOF in the TLS handshake",
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // Tell the client why (the alert rustls queued), then close.
                let _ = self.conn.write_tls(&mut io);
                return Err(tls_err(e));
            }
        }
    }

    /// Decrypted request bytes into `buf`. Like a socket read: a result
    /// shorter than `buf` means the socket is drained (so edge-triggered
    /// epoll will report more), Ok(0) is end of stream, WouldBlock means
    /// nothing (complete) arrived.
    pub fn read(&mut self, fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<usize> {
        let mut io = FdIo {
            fd,
            c,
            short: false,
        };
        let mut got = 0;
        let mut drained = false;
        loop {
            while got < buf.len() && !self.eof {
                match self.conn.reader().read(&mut buf[got..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // FIN without close_notify: for HTTP/1.1 requests,
                    // which frame themselves, that is just the end.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.eof = true,
                    Err(e) => return Err(e),
                }
            }
            if got == buf.len() || self.eof {
                return Ok(got);
            }
            if drained {
                return if got > 0 {
                    Ok(got)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            match self.conn.read_tls(&mut io) {
                Ok(0) => drained = true,
                Ok(_) => drained = io.short,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => drained = true,
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                let _ = self.conn.write_tls(&mut io);
                return Err(tls_err(e));
            }
            // A KeyUpdate answer or an alert: best effort, it is small.
            if self.conn.wants_write() {
                let _ = self.conn.write_tls(&mut io);
            }
        }
    }

    /// Encrypts and sends as much of `out` as the socket takes. File
    /// segments (sendfile for plain and kTLS) are encrypted from the
    /// mapping: the same bytes.
    pub fn flush(
        &mut self,
        fd: RawFd,
        out: &mut Output,
        root: Option<&Root>,
        c: &Counters,
    ) -> io::Result<Flush> {
        let mut io = FdIo {
            fd,
            c,
            short: false,
        };
        loop {
            while self.conn.wants_write() {
                match self.conn.write_tls(&mut io) {
                    Ok(_) if io.short => return Ok(Flush::Blocked),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                    Err(e) => return Err(e),
                }
            }
            if out.is_empty() {
                return Ok(Flush::Done);
            }
            let mut iov = [IoSlice::new(&[]); 64];
            let k = out.memory_slices(root, &mut iov, ENCRYPT_CHUNK);
            let n = self.conn.writer().write_vectored(&iov[..k])?;
            if n == 0 {
                return Err(io::Error::other("rustls took no plaintext"));
            }
            out.advance(n as u64);
        }
    }

    /// Queues close_notify and tries to send it (and anything pending).
    pub fn close_notify(&mut self, fd: RawFd, c: &Counters) {
        self.conn.send_close_notify();
        let mut io = FdIo {
            fd,
            c,
            short: false,
        };
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut io).is_err() || io.short {
                break;
            }
        }
    }
}

impl UserTls {
    /// The protocol ALPN agreed on, once the handshake is done.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    pub fn handshaking(&self) -> bool {
        !self.ready
    }
}
