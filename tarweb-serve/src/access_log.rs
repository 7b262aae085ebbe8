//! `--access-log`, `--access-log-format combined|json`.
//!
//! Each worker formats its lines into its own buffer (no lock, no
//! allocation: the buffer is made once at its full size) and, once a
//! second or when 64 KiB are pending, hands the whole buffer to the log's
//! writer thread through its own slot, taking back the writer's empty
//! one: the worker never writes to the file itself, so a slow disk never
//! blocks it, and every write is of whole lines (never torn). While the
//! writer still holds the last buffer, the worker goes on filling its
//! own up to [`BUF_CAP`]; a line that does not fit is dropped and counted
//! (`tarweb_access_log_dropped_lines_total`).
//!
//! SIGUSR1 reopens the file by its path (logrotate's nginx recipe:
//! rename, then signal); the writer does it between two writes.
//!
//! JSON lines carry the request's duration (head complete → last byte
//! handed to the kernel, on the worker's clock): known when the response
//! went out within the event that answered it (the line is still in the
//! buffer and its duration is written into room left for it), `null`
//! when the response outlived that event (a slow reader; the histogram
//! of `--metrics-listen` has those).

use crate::date::{rfc3339, DateCache};
use crate::http::request::{Request, Version};
use crate::sys::Counters;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};
use tarweb_format::Coding;

/// Pending bytes that make a worker hand its buffer over before the
/// second is up.
const FLUSH_AT: usize = 64 * 1024;
/// A worker buffer's size: room to go on while the writer is behind.
const BUF_CAP: usize = 256 * 1024;
/// JSON lines whose duration can still be filled in (per event).
const MAX_OPEN: usize = 64;
/// Room for the duration: `null` or seconds with 6 decimals, padded with
/// spaces (JSON allows whitespace after a value).
const DURATION_W: usize = 14;

/// `--access-log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NCSA combined, as Apache and nginx write it.
    Combined,
    /// One JSON object per line.
    Json,
}

/// What was sent, for the log line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta {
    pub status: u16,
    pub body_bytes: u64,
    /// The stored variant's content coding (None: no stored body).
    pub coding: Option<Coding>,
}

/// The content coding of a plan's response (for the log).
pub(crate) fn coding_of(plan: &crate::dispatch::Plan<'_>) -> Option<Coding> {
    use crate::dispatch::Plan;
    match plan {
        Plan::Stored(v)
        | Plan::NotModified(v)
        | Plan::Partial { v, .. }
        | Plan::Multipart { v, .. } => Some(v.coding()),
        _ => None,
    }
}

/// What the log knows of the connection: client, TLS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub peer: Option<SocketAddr>,
    /// TLS version name and whether the kernel does the records.
    pub tls: Option<(&'static str, bool)>,
}

/// A worker's handoff slot: the buffer it gave (for the writer to take)
/// and the empty one the writer gave back.
#[derive(Default)]
struct Slot {
    full: Option<Vec<u8>>,
    spare: Option<Vec<u8>>,
}

/// The log file and the workers' slots, shared with the writer thread.
pub struct Shared {
    /// None: stdout (`-`), never reopened.
    path: Option<PathBuf>,
    file: Mutex<File>,
    slots: Box<[Mutex<Slot>]>,
    writer: OnceLock<Thread>,
    reopen: AtomicBool,
    stop: AtomicBool,
    /// The writer thread has written everything and ended.
    done: AtomicBool,
}

impl Shared {
    /// Opens (creates, appends to) `path`, or takes stdout for `-`.
    pub fn open(path: &str, workers: usize) -> Result<Arc<Shared>, String> {
        let (file, path) = if path == "-" {
            use std::os::fd::AsFd;
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| e.to_string())?;
            (File::from(fd), None)
        } else {
            let f = open_append(path.as_ref()).map_err(|e| format!("access log {path}: {e}"))?;
            (f, Some(PathBuf::from(path)))
        };
        let slots = (0..workers)
            .map(|_| {
                Mutex::new(Slot {
                    full: None,
                    spare: Some(Vec::with_capacity(BUF_CAP)),
                })
            })
            .collect();
        Ok(Arc::new(Shared {
            path,
            file: Mutex::new(file),
            slots,
            writer: OnceLock::new(),
            reopen: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            done: AtomicBool::new(false),
        }))
    }

    /// The file's path (None: stdout), for the sandbox.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Starts the writer thread (after confinement, like every thread).
    pub fn spawn_writer(self: &Arc<Shared>) -> std::io::Result<std::thread::JoinHandle<()>> {
        let me = self.clone();
        let h = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || me.writer_loop())?;
        let _ = self.writer.set(h.thread().clone());
        Ok(h)
    }

    /// SIGUSR1: reopen the file by its path before the next write.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
        self.wake();
    }

    /// After the workers' last handoffs: the writer writes what is left
    /// and ends. Waits for that at most `limit` (a writer blocked on a
    /// stuck disk or a FIFO must not keep the process from exiting);
    /// false when it did not end in time.
    pub fn stop(&self, limit: Duration) -> bool {
        self.stop.store(true, Ordering::Release);
        self.wake();
        let deadline = Instant::now() + limit;
        while !self.done.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    fn wake(&self) {
        if let Some(t) = self.writer.get() {
            t.unpark();
        }
    }

    fn writer_loop(&self) {
        loop {
            // Read before the pass: a stop seen here comes after every
            // worker's last handoff, which this pass then writes.
            let stopping = self.stop.load(Ordering::Acquire);
            if self.reopen.swap(false, Ordering::AcqRel) {
                self.do_reopen();
            }
            for slot in self.slots.iter() {
                let full = slot.lock().unwrap_or_else(|e| e.into_inner()).full.take();
                let Some(mut buf) = full else { continue };
                let r = self
                    .file
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .write_all(&buf);
                if let Err(e) = r {
                    crate::log::error(format_args!("access log: write: {e}"));
                }
                buf.clear();
                slot.lock().unwrap_or_else(|e| e.into_inner()).spare = Some(buf);
            }
            if stopping {
                self.done.store(true, Ordering::Release);
                return;
            }
            std::thread::park_timeout(Duration::from_secs(1));
        }
    }

    fn do_reopen(&self) {
        let Some(p) = &self.path else { return };
        match open_append(p) {
            Ok(f) => {
                *self.file.lock().unwrap_or_else(|e| e.into_inner()) = f;
                crate::log::info(format_args!("access log reopened: {}", p.display()));
            }
            Err(e) => crate::log::error(format_args!(
                "access log: reopening {}: {e}; still writing to the old file",
                p.display()
            )),
        }
    }
}

fn open_append(p: &std::path::Path) -> std::io::Result<File> {
    OpenOptions::new().append(true).create(true).open(p)
}

/// A worker's side of the log.
pub struct AccessLog {
    shared: Arc<Shared>,
    id: usize,
    format: Format,
    c: &'static Counters,
    buf: Vec<u8>,
    /// When pending lines are handed over at the latest: a second after
    /// the last handover, or soon again after one the writer was not
    /// ready for (never in the past: the worker's epoll waits on it).
    due: Instant,
    /// Offsets of the duration room of JSON lines logged in this event.
    open: [u32; MAX_OPEN],
    n_open: usize,
    /// `2000-10-10T13:55:36` of `secs`.
    stamp: [u8; 19],
    secs: i64,
}

impl AccessLog {
    pub fn new(shared: Arc<Shared>, id: usize, format: Format, c: &'static Counters) -> AccessLog {
        AccessLog {
            shared,
            id,
            format,
            c,
            buf: Vec::with_capacity(BUF_CAP),
            due: Instant::now() + Duration::from_secs(1),
            open: [0; MAX_OPEN],
            n_open: 0,
            stamp: [b'0'; 19],
            secs: i64::MIN,
        }
    }

    /// When a pending line must be handed over by.
    pub fn flush_due(&self, _now: Instant) -> Option<Instant> {
        (!self.buf.is_empty()).then_some(self.due)
    }

    pub fn maybe_flush(&mut self, now: Instant) {
        if self.buf.len() >= FLUSH_AT || (!self.buf.is_empty() && now >= self.due) {
            self.due = if self.hand_over() {
                now + Duration::from_secs(1)
            } else {
                // The writer still has the last buffer (a slow disk): try
                // again a little later, not in a loop.
                now + Duration::from_millis(100)
            };
        }
    }

    /// Gives the buffer to the writer if its slot is free; never waits.
    fn hand_over(&mut self) -> bool {
        self.n_open = 0;
        let Ok(mut slot) = self.shared.slots[self.id].try_lock() else {
            return false;
        };
        if slot.full.is_some() {
            return false;
        }
        let Some(spare) = slot.spare.take() else {
            return false;
        };
        slot.full = Some(std::mem::replace(&mut self.buf, spare));
        drop(slot);
        self.shared.wake();
        true
    }

    /// At the worker's exit: hands over what is left, waiting (a bounded
    /// time) for the writer to take the previous buffer.
    pub fn flush(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.buf.is_empty() && !self.hand_over() && Instant::now() < deadline {
            self.shared.wake();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// A connection's event begins: lines logged from now on may get
    /// their duration from [`AccessLog::finish`].
    pub fn begin(&mut self) {
        self.n_open = 0;
    }

    /// Every response answered in this event went to the kernel, `d`
    /// after the first head: their lines get it.
    pub fn finish(&mut self, d: Duration) {
        let mut room = [b' '; DURATION_W];
        let mut w = &mut room[..];
        let _ = write!(w, "{}.{:06}", d.as_secs().min(9_999_999), d.subsec_micros());
        for &at in &self.open[..self.n_open] {
            let at = at as usize;
            if let Some(r) = self.buf.get_mut(at..at + DURATION_W) {
                r.copy_from_slice(&room);
            }
        }
        self.n_open = 0;
    }

    /// Whether a line of at most `bound` bytes fits; if not, it is
    /// dropped and counted.
    fn room(&mut self, bound: usize) -> bool {
        if self.buf.len() + bound <= self.buf.capacity() {
            return true;
        }
        self.c.m.log_dropped();
        false
    }

    fn stamp(&mut self, date: &DateCache) {
        if date.now() != self.secs {
            self.secs = date.now();
            rfc3339(self.secs, &mut self.stamp);
        }
    }

    pub(crate) fn log(&mut self, conn: ConnInfo, date: &DateCache, req: &Request<'_>, m: Meta) {
        let fields = [
            req.method_bytes,
            req.target,
            req.referer.unwrap_or(b""),
            req.user_agent.unwrap_or(b""),
            req.host.unwrap_or(b""),
        ];
        // Escaping makes a byte at most 6 (JSON's \u00XX).
        let bound = 512 + 6 * fields.iter().map(|f| f.len()).sum::<usize>();
        if !self.room(bound) {
            return;
        }
        match self.format {
            Format::Combined => self.combined(conn.peer, date, Some(req), m),
            Format::Json => self.json(conn, date, Some(req), m),
        }
    }

    /// A request that could not be parsed (answered 400 and the like).
    pub(crate) fn log_bad(&mut self, conn: ConnInfo, date: &DateCache, m: Meta) {
        if !self.room(512) {
            return;
        }
        match self.format {
            Format::Combined => self.combined(conn.peer, date, None, m),
            Format::Json => self.json(conn, date, None, m),
        }
    }

    fn combined(
        &mut self,
        peer: Option<SocketAddr>,
        date: &DateCache,
        req: Option<&Request<'_>>,
        m: Meta,
    ) {
        match peer {
            Some(p) => {
                let _ = write!(self.buf, "{} - - ", p.ip());
            }
            None => self.buf.extend_from_slice(b"- - - "),
        }
        clf_time(&mut self.buf, date.line());
        self.buf.extend_from_slice(b" \"");
        match req {
            Some(req) => {
                clf_escaped(&mut self.buf, req.method_bytes);
                self.buf.push(b' ');
                clf_escaped(&mut self.buf, req.target);
                self.buf.push(b' ');
                self.buf.extend_from_slice(protocol(req.version).as_bytes());
            }
            None => self.buf.push(b'-'),
        }
        let _ = write!(self.buf, "\" {} {} ", m.status, m.body_bytes);
        let (referer, ua) = req.map_or((None, None), |r| (r.referer, r.user_agent));
        clf_quoted(&mut self.buf, referer);
        self.buf.push(b' ');
        clf_quoted(&mut self.buf, ua);
        self.buf.push(b'\n');
    }

    fn json(&mut self, conn: ConnInfo, date: &DateCache, req: Option<&Request<'_>>, m: Meta) {
        self.stamp(date);
        let b = &mut self.buf;
        b.extend_from_slice(b"{\"time\":\"");
        b.extend_from_slice(&self.stamp);
        let _ = write!(b, ".{:03}Z\",\"client\":", date.millis());
        match conn.peer {
            Some(p) => {
                let _ = write!(b, "\"{}\"", p.ip().to_canonical());
            }
            None => b.extend_from_slice(b"null"),
        }
        let field = |b: &mut Vec<u8>, name: &str, v: Option<&[u8]>| {
            let _ = write!(b, ",\"{name}\":");
            match v {
                Some(v) => json_string(b, v),
                None => b.extend_from_slice(b"null"),
            }
        };
        let host = req.and_then(|r| crate::sites::request_host(r.host, r.target));
        field(b, "vhost", host);
        field(b, "method", req.map(|r| r.method_bytes));
        field(b, "path", req.map(|r| r.target));
        field(b, "protocol", req.map(|r| protocol(r.version).as_bytes()));
        let _ = write!(b, ",\"status\":{},\"bytes\":{}", m.status, m.body_bytes);
        b.extend_from_slice(b",\"duration\":");
        let at = b.len();
        b.extend_from_slice(b"null");
        b.resize(at + DURATION_W, b' ');
        field(b, "tls", conn.tls.map(|t| t.0.as_bytes()));
        let _ = write!(b, ",\"ktls\":{}", conn.tls.is_some_and(|t| t.1));
        field(b, "content_coding", m.coding.map(|c| c.token().as_bytes()));
        field(b, "referer", req.and_then(|r| r.referer));
        field(b, "user_agent", req.and_then(|r| r.user_agent));
        b.extend_from_slice(b"}\n");
        if self.n_open < MAX_OPEN {
            if let Ok(at) = u32::try_from(at) {
                self.open[self.n_open] = at;
                self.n_open += 1;
            }
        }
    }
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::Http10 => "HTTP/1.0",
        Version::Http11 => "HTTP/1.1",
        Version::Http2 => "HTTP/2.0",
    }
}

/// `[10/Oct/2000:13:55:36 +0000]` from a `Date: Tue, 10 Oct 2000 13:55:36 GMT\r\n` line.
fn clf_time(buf: &mut Vec<u8>, date_line: &[u8]) {
    let d = &date_line[6..35]; // "Tue, 10 Oct 2000 13:55:36 GMT"
    buf.push(b'[');
    buf.extend_from_slice(&d[5..7]);
    buf.push(b'/');
    buf.extend_from_slice(&d[8..11]);
    buf.push(b'/');
    buf.extend_from_slice(&d[12..16]);
    buf.push(b':');
    buf.extend_from_slice(&d[17..25]);
    buf.extend_from_slice(b" +0000]");
}

/// Apache's escaping: `"`, `\`, controls and non-ASCII as `\xNN`.
fn clf_escaped(buf: &mut Vec<u8>, v: &[u8]) {
    for &c in v {
        if c == b'"' || c == b'\\' || !(0x20..0x7f).contains(&c) {
            let _ = write!(buf, "\\x{c:02x}");
        } else {
            buf.push(c);
        }
    }
}

fn clf_quoted(buf: &mut Vec<u8>, v: Option<&[u8]>) {
    buf.push(b'"');
    match v {
        None => buf.push(b'-'),
        Some(v) => clf_escaped(buf, v),
    }
    buf.push(b'"');
}

/// A JSON string (RFC 8259 §7): `"` and `\` escaped, controls as
/// `\u00XX`; valid UTF-8 as it is, and each byte of invalid UTF-8 as the
/// code point of its value (`\u00XX`), so the line is always valid JSON
/// and no byte is lost.
fn json_string(buf: &mut Vec<u8>, v: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let utf8 = std::str::from_utf8(v).is_ok();
    buf.push(b'"');
    for &c in v {
        match c {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            0x20..=0x7e => buf.push(c),
            0x80.. if utf8 => buf.push(c),
            _ => buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]),
        }
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(v: &[u8]) -> String {
        let mut b = Vec::new();
        json_string(&mut b, v);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn json_strings_are_valid_and_lossless() {
        assert_eq!(js(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(js(b"\n\x00\x7f"), r#""\u000a\u0000\u007f""#);
        assert_eq!(js("é".as_bytes()), "\"é\"");
        assert_eq!(js(b"\xff/"), r#""\u00ff/""#);
    }
}
