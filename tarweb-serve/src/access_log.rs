//! `--access-log`: combined log format, buffered per thread, written when
//! the buffer fills or once a second (no write per request).

use crate::http::request::{Request, Version};
use crate::sys;
use crate::sys::Counters;
use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CAP: usize = 64 * 1024;

/// What was sent, for the log line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub status: u16,
    pub body_bytes: u64,
}

pub struct AccessLog {
    file: Arc<File>,
    buf: Vec<u8>,
    last_flush: Instant,
}

impl AccessLog {
    pub fn new(file: Arc<File>) -> AccessLog {
        AccessLog {
            file,
            buf: Vec::with_capacity(CAP + 4096),
            last_flush: Instant::now(),
        }
    }

    /// When a pending line must be written by.
    pub fn flush_due(&self, _now: Instant) -> Option<Instant> {
        (!self.buf.is_empty()).then(|| self.last_flush + Duration::from_secs(1))
    }

    pub fn maybe_flush(&mut self, now: Instant, c: &Counters) {
        if self.buf.len() >= CAP
            || (!self.buf.is_empty() && now >= self.last_flush + Duration::from_secs(1))
        {
            self.flush(c);
            self.last_flush = now;
        }
    }

    pub fn flush(&mut self, c: &Counters) {
        let mut at = 0;
        while at < self.buf.len() {
            match sys::write(self.file.as_raw_fd(), &self.buf[at..], c) {
                Ok(0) | Err(_) => break,
                Ok(n) => at += n,
            }
        }
        self.buf.clear();
    }

    /// `[10/Oct/2000:13:55:36 +0000]` from a `Date: Tue, 10 Oct 2000 13:55:36 GMT\r\n` line.
    fn time(&mut self, date_line: &[u8]) {
        let d = &date_line[6..35]; // "Tue, 10 Oct 2000 13:55:36 GMT"
        self.buf.push(b'[');
        self.buf.extend_from_slice(&d[5..7]);
        self.buf.push(b'/');
        self.buf.extend_from_slice(&d[8..11]);
        self.buf.push(b'/');
        self.buf.extend_from_slice(&d[12..16]);
        self.buf.push(b':');
        self.buf.extend_from_slice(&d[17..25]);
        self.buf.extend_from_slice(b" +0000]");
    }

    fn escaped(&mut self, v: &[u8]) {
        for &c in v {
            if c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c) {
                let _ = write!(self.buf, "\\x{c:02x}");
            } else {
                self.buf.push(c);
            }
        }
    }

    fn quoted(&mut self, v: Option<&[u8]>) {
        self.buf.push(b'"');
        match v {
            None => self.buf.push(b'-'),
            Some(v) => self.escaped(v),
        }
        self.buf.push(b'"');
    }

    fn start(&mut self, peer: Option<SocketAddr>, date_line: &[u8]) {
        match peer {
            Some(p) => {
                let _ = write!(self.buf, "{} - - ", p.ip());
            }
            None => self.buf.extend_from_slice(b"- - - "),
        }
        self.time(date_line);
        self.buf.push(b' ');
    }

    pub fn log(&mut self, peer: Option<SocketAddr>, date_line: &[u8], req: &Request<'_>, m: Meta) {
        self.start(peer, date_line);
        self.buf.push(b'"');
        self.escaped(req.method_bytes);
        self.buf.push(b' ');
        self.escaped(req.target);
        self.buf.extend_from_slice(match req.version {
            Version::Http10 => b" HTTP/1.0\"",
            Version::Http11 => b" HTTP/1.1\"",
            Version::Http2 => b" HTTP/2.0\"",
        });
        let _ = write!(self.buf, " {} {} ", m.status, m.body_bytes);
        self.quoted(req.referer);
        self.buf.push(b' ');
        self.quoted(req.user_agent);
        self.buf.push(b'\n');
    }

    pub fn log_bad(&mut self, peer: Option<SocketAddr>, date_line: &[u8], m: Meta) {
        self.start(peer, date_line);
        let _ = writeln!(self.buf, "\"-\" {} {} \"-\" \"-\"", m.status, m.body_bytes);
    }
}
