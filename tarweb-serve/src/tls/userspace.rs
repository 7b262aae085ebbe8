//! A session whose records stay in user space: no kTLS on this kernel,
//! `--ktls=off`, or a connection the kernel could not take over. The
//! handshake is rustls' (`handshake`); then the records are sealed and
//! opened here (`records`), with the keys rustls hands over, as the
//! kernel would.
//!
//! Memory: a connection keeps its keys, its sequence numbers and where it
//! is in its output, not ciphertext. Responses are encrypted when they are
//! sent, from the blob's mapping and the output's own bytes, in batches of
//! up to 256 KiB (16 records) in one buffer per worker thread, written with
//! one `writev`. When the socket takes only part of a batch, the records it
//! did not take are dropped (their sequence numbers were not used) and the
//! one it took part of is sealed again, identically, when the socket has
//! room. A slow reader therefore costs no buffer at all; the price is
//! sealing again what was dropped, which the batch size, adapted to what
//! the socket last took, keeps small. Requests are read into a second
//! per-thread buffer and decrypted there; only a record split across reads
//! (or plaintext beyond the caller's room) is kept per connection.

use super::ktls::Limits;
use super::records::{RecordKey, ALERT, APPLICATION_DATA, HANDSHAKE, MAX_PLAIN, MAX_RECORD};
use crate::output::{Flush, Output};
use crate::root::Root;
use crate::sys;
use crate::sys::Counters;
use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::{ExtractedSecrets, ProtocolVersion};
use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::os::fd::RawFd;

/// Plaintext encrypted per batch at most: a response up to it leaves in one
/// writev (user-space TLS has no sendfile).
const BATCH: usize = 256 * 1024;
const BATCH_RECORDS: usize = BATCH / MAX_PLAIN;
/// Ciphertext read per call at most (as a plain read).
const READ: usize = 64 * 1024;
// A record split across reads is held in front of the next read.
const _: () = assert!(MAX_RECORD < READ);

thread_local! {
    /// Records being sent (one batch).
    static SEAL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Records being read: a split record's start, then what was read.
    static OPEN: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn scratch(v: &mut Vec<u8>, cap: usize) {
    if v.capacity() < cap {
        *v = Vec::with_capacity(cap);
    }
    v.clear();
}

/// The sending half.
pub(crate) struct UserTx {
    key: RecordKey,
    seq: u64,
    /// The record the socket took part of: its plaintext length (from the
    /// output's current position) and how many of its bytes went out.
    partial: Option<(usize, usize)>,
    /// Plaintext to encrypt next time: what the socket took last time it
    /// filled (at least a record), back to `BATCH` once the output is sent.
    window: usize,
    /// A control record went out in part: nothing may follow it.
    broken: bool,
}

impl UserTx {
    pub fn new(
        version: ProtocolVersion,
        seq: u64,
        secret: &rustls::ConnectionTrafficSecrets,
    ) -> io::Result<UserTx> {
        Ok(UserTx {
            key: RecordKey::new(version, secret)?,
            seq,
            partial: None,
            window: BATCH,
            broken: false,
        })
    }

    /// Records sent under the current key.
    pub fn records(&self) -> u64 {
        self.seq
    }

    /// Encrypts and sends as much of `out` as the socket takes (see the
    /// module comment).
    pub fn flush(
        &mut self,
        fd: RawFd,
        out: &mut Output,
        root: Option<&Root>,
        c: &Counters,
    ) -> io::Result<Flush> {
        if self.broken {
            return Err(io::Error::other("half a TLS record went out before"));
        }
        loop {
            if out.is_empty() {
                debug_assert!(self.partial.is_none());
                self.window = BATCH;
                return Ok(Flush::Done);
            }
            let partial = self.partial;
            let (first, sent) = partial.unwrap_or((0, 0));
            let mut iov = [IoSlice::new(&[]); 64];
            let k = out.memory_slices(root, &mut iov, self.window.max(first));
            let (key, seq) = (&self.key, self.seq);
            let r = SEAL.with_borrow_mut(|buf| {
                scratch(buf, BATCH + (BATCH_RECORDS + 1) * 64);
                // (plaintext, wire) length of each record of the batch.
                let mut recs = [(0usize, 0usize); BATCH_RECORDS + 1];
                let mut n = 0;
                let mut slices = iov[..k].iter().map(|s| &**s);
                let mut cur: &[u8] = &[];
                let mut left: usize = iov[..k].iter().map(|s| s.len()).sum();
                while left > 0 && n < recs.len() {
                    let len = match (n, partial) {
                        (0, Some((len, _))) => len,
                        _ => left.min(MAX_PLAIN),
                    };
                    // Deterministic: the slices from a record's start
                    // cover at least what they covered when it was first
                    // sealed, so this cannot happen; if it did, the
                    // connection ends, not the worker.
                    if len > left {
                        return Err(io::Error::other("a half-sent record lost its bytes"));
                    }
                    let at = buf.len();
                    buf.resize(at + key.prefix(), 0);
                    let mut need = len;
                    while need > 0 {
                        if cur.is_empty() {
                            cur = slices.next().expect("counted above");
                        }
                        let take = need.min(cur.len());
                        buf.extend_from_slice(&cur[..take]);
                        cur = &cur[take..];
                        need -= take;
                    }
                    key.seal(seq + n as u64, APPLICATION_DATA, buf, at, len);
                    recs[n] = (len, buf.len() - at);
                    n += 1;
                    left -= len;
                }
                if n == 0 {
                    return Err(io::Error::other("an output with no bytes to send"));
                }
                let total = buf.len() - sent;
                let wrote = match sys::writev(fd, &[IoSlice::new(&buf[sent..])], c) {
                    Ok(w) => w,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(e) => return Err(e),
                };
                // Whole records sent leave the output; a record cut short
                // is remembered; the rest were never seen, and their
                // sequence numbers are used again.
                let (mut end, mut plain, mut whole, mut cut) = (0, 0, 0, None);
                let on_wire = sent + wrote;
                for &(len, wire) in &recs[..n] {
                    if on_wire >= end + wire {
                        plain += len as u64;
                        whole += 1;
                    } else {
                        if on_wire > end {
                            cut = Some((len, on_wire - end));
                        }
                        break;
                    }
                    end += wire;
                }
                Ok((wrote, total, plain, whole, cut))
            });
            let (wrote, total, plain, whole, cut) = r?;
            out.advance(plain);
            self.seq += whole;
            self.partial = cut;
            if wrote < total {
                self.window = wrote.clamp(MAX_PLAIN, BATCH);
                return Ok(Flush::Blocked);
            }
        }
    }

    /// One small record of its own (an alert, a KeyUpdate), whole or not
    /// at all: only when no record is half sent.
    pub fn send_control(&mut self, fd: RawFd, typ: u8, msg: &[u8], c: &Counters) -> io::Result<()> {
        if self.partial.is_some() || self.broken {
            return Err(io::Error::other("a record is half sent"));
        }
        SEAL.with_borrow_mut(|buf| {
            scratch(buf, BATCH + (BATCH_RECORDS + 1) * 64);
            buf.resize(self.key.prefix(), 0);
            buf.extend_from_slice(msg);
            self.key.seal(self.seq, typ, buf, 0, msg.len());
            // Not sent at all: the sequence number stays unused.
            let n = sys::writev(fd, &[IoSlice::new(buf)], c)?;
            if n < buf.len() {
                self.broken = true;
                return Err(io::Error::other("socket full while sending a TLS record"));
            }
            self.seq += 1;
            Ok(())
        })
    }

    /// Our KeyUpdate (not requesting one back) under the current key,
    /// then the next TX key.
    pub fn key_update(
        &mut self,
        fd: RawFd,
        kconn: &mut KernelConnection<ServerConnectionData>,
        c: &Counters,
    ) -> io::Result<()> {
        self.send_control(
            fd,
            HANDSHAKE,
            &super::ktls::record::key_update_message(false),
            c,
        )?;
        // The peer expects the next key from here: nothing more under the
        // old one if it cannot be had.
        self.broken = true;
        let (seq, secret) = kconn
            .update_tx_secret()
            .map_err(|e| io::Error::other(format!("KeyUpdate: {e}")))?;
        self.key = RecordKey::new(kconn.protocol_version(), &secret)?;
        self.seq = seq;
        self.broken = false;
        Ok(())
    }
}

/// How a peer's KeyUpdate asking for ours is answered: on the TX side,
/// whichever holds it (this module's, or the kernel's).
pub(crate) trait AnswerKeyUpdate {
    fn key_update(
        &mut self,
        fd: RawFd,
        kconn: &mut KernelConnection<ServerConnectionData>,
        c: &Counters,
    ) -> io::Result<()>;
}

impl AnswerKeyUpdate for UserTx {
    fn key_update(
        &mut self,
        fd: RawFd,
        kconn: &mut KernelConnection<ServerConnectionData>,
        c: &Counters,
    ) -> io::Result<()> {
        UserTx::key_update(self, fd, kconn, c)
    }
}

/// The receiving half.
pub(crate) struct UserRx {
    key: RecordKey,
    seq: u64,
    /// The start of a record that has not all arrived.
    held: Vec<u8>,
    /// Decrypted bytes the caller had no room for (from `at`).
    plain: Vec<u8>,
    at: usize,
    /// close_notify or FIN seen.
    eof: bool,
    /// A record failed to decrypt or the peer sent a fatal alert: nothing
    /// more is sent, not even close_notify.
    pub dead: bool,
}

impl UserRx {
    /// `held`: records that came behind the client's last handshake flight.
    pub fn new(
        version: ProtocolVersion,
        seq: u64,
        secret: &rustls::ConnectionTrafficSecrets,
        held: Vec<u8>,
    ) -> io::Result<UserRx> {
        Ok(UserRx {
            key: RecordKey::new(version, secret)?,
            seq,
            held,
            plain: Vec::new(),
            at: 0,
            eof: false,
            dead: false,
        })
    }

    /// Decrypted request bytes into `buf`. Like a socket read: a result
    /// shorter than `buf` means the socket is drained (so edge-triggered
    /// epoll will report more), Ok(0) is the end, WouldBlock means nothing
    /// (complete) arrived. Alerts and KeyUpdate are handled here (a
    /// KeyUpdate asking for ours is answered through `tx`); an error means:
    /// close.
    pub fn read(
        &mut self,
        fd: RawFd,
        buf: &mut [u8],
        c: &Counters,
        kconn: &mut KernelConnection<ServerConnectionData>,
        tx: &mut dyn AnswerKeyUpdate,
    ) -> io::Result<usize> {
        let mut got = self.take_plain(buf);
        if got == buf.len() || self.eof {
            return Ok(got);
        }
        let r = OPEN.with_borrow_mut(|s| -> io::Result<bool> {
            if s.len() < READ + MAX_RECORD {
                *s = vec![0; READ + MAX_RECORD];
            }
            loop {
                // A record split across reads: its start first.
                let held = std::mem::take(&mut self.held);
                s[..held.len()].copy_from_slice(&held);
                let at = held.len();
                drop(held);
                let (filled, drained) = match sys::read(fd, &mut s[at..at + READ], c) {
                    Ok(0) => {
                        self.eof = true;
                        (at, true)
                    }
                    Ok(n) => (at + n, n < READ),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => (at, true),
                    Err(e) => return Err(e),
                };
                let mut off = 0;
                while !self.eof {
                    let complete = self.key.complete(&s[off..filled]).inspect_err(|_| {
                        self.dead = true;
                    })?;
                    let Some(len) = complete else {
                        break;
                    };
                    let rec = &mut s[off..off + len];
                    off += len;
                    let (typ, range) = self.key.open(self.seq, rec).inspect_err(|_| {
                        self.dead = true;
                    })?;
                    self.seq += 1;
                    let data = &rec[range];
                    match typ {
                        APPLICATION_DATA => {
                            let n = data.len().min(buf.len() - got);
                            buf[got..got + n].copy_from_slice(&data[..n]);
                            got += n;
                            self.plain.extend_from_slice(&data[n..]);
                        }
                        ALERT => match data {
                            [_, 0] => self.eof = true, // close_notify
                            [1, 90] => {}              // user_canceled: a close follows
                            _ => {
                                self.dead = true;
                                return Err(io::Error::other(format!("TLS alert {data:?}")));
                            }
                        },
                        HANDSHAKE if self.key.tls13() => {
                            let requested = match *data {
                                [24, 0, 0, 1, 0] => false,
                                [24, 0, 0, 1, 1] => true,
                                _ => {
                                    return Err(io::Error::other(
                                        "unexpected post-handshake message",
                                    ))
                                }
                            };
                            let (seq, secret) = kconn
                                .update_rx_secret()
                                .map_err(|e| io::Error::other(format!("KeyUpdate: {e}")))?;
                            self.key = RecordKey::new(kconn.protocol_version(), &secret)?;
                            self.seq = seq;
                            if requested {
                                tx.key_update(fd, kconn, c)?;
                            }
                        }
                        t => {
                            return Err(io::Error::other(format!(
                                "TLS record of type {t} after the handshake"
                            )))
                        }
                    }
                }
                if !self.eof && off < filled {
                    self.held = s[off..filled].to_vec();
                }
                if got == buf.len() || self.eof || drained {
                    return Ok(drained);
                }
            }
        });
        let drained = r?;
        if got > 0 || self.eof || !drained {
            Ok(got)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    /// Plaintext left from an earlier read, into `buf`.
    fn take_plain(&mut self, buf: &mut [u8]) -> usize {
        let n = (self.plain.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        if self.at == self.plain.len() {
            // Given back: a connection that is done with a big body keeps
            // nothing.
            self.plain = Vec::new();
            self.at = 0;
        }
        n
    }
}

/// Both halves in user space.
pub(crate) struct UserTls {
    kconn: KernelConnection<ServerConnectionData>,
    rx: UserRx,
    tx: UserTx,
    limits: Limits,
    closed: bool,
}

impl UserTls {
    pub fn protocol_version(&self) -> rustls::ProtocolVersion {
        self.kconn.protocol_version()
    }

    /// From the handshake's secrets; `held`: bytes that came behind the
    /// client's last flight.
    pub fn new(
        secrets: &ExtractedSecrets,
        kconn: KernelConnection<ServerConnectionData>,
        held: Vec<u8>,
        limits: Limits,
    ) -> io::Result<UserTls> {
        let version = kconn.protocol_version();
        Ok(UserTls {
            rx: UserRx::new(version, secrets.rx.0, &secrets.rx.1, held)?,
            tx: UserTx::new(version, secrets.tx.0, &secrets.tx.1)?,
            kconn,
            limits,
            closed: false,
        })
    }

    fn tls13(&self) -> bool {
        self.kconn.protocol_version() == ProtocolVersion::TLSv1_3
    }

    pub fn read(&mut self, fd: RawFd, buf: &mut [u8], c: &Counters) -> io::Result<usize> {
        // The TX key protected as many records as it should (RFC 8446
        // 5.5): TLS 1.3 renews it before the next request is read, so
        // nothing is in flight; TLS 1.2 closes instead (`retiring`).
        if self.tx.records() >= self.limits.records && self.tls13() {
            self.tx.key_update(fd, &mut self.kconn, c)?;
        }
        self.rx.read(fd, buf, c, &mut self.kconn, &mut self.tx)
    }

    pub fn flush(
        &mut self,
        fd: RawFd,
        out: &mut Output,
        root: Option<&Root>,
        c: &Counters,
    ) -> io::Result<Flush> {
        self.tx.flush(fd, out, root, c)
    }

    /// The TX key is used up and cannot be renewed (TLS 1.2).
    pub fn retiring(&self) -> bool {
        self.tx.records() >= self.limits.records && !self.tls13()
    }

    /// close_notify (once), unless the session is dead or a record is half
    /// sent.
    pub fn close_notify(&mut self, fd: RawFd, c: &Counters) {
        if !self.rx.dead && !self.closed {
            self.closed = true;
            let _ = self.tx.send_control(fd, ALERT, &[1, 0], c);
        }
    }
}
