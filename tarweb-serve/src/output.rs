//! The queue of bytes a connection still has to send, and how it is sent.
//!
//! Output is a list of segments, most of them ranges of the blob (the
//! mmap, for writev, or its private copy, for sendfile): the body is never
//! copied in user space. Only the few dynamic header bytes (Date,
//! Connection, Content-Range...) are written into a small per-output
//! buffer. One output points into one blob (`site`); an output that waits
//! for the socket holds its root alive (`pin`), across a swap.

use crate::hot::{self, Hot};
use crate::root::Root;
use crate::sites::Sites;
use crate::sys::{self, Counters};
use std::io::{self, IoSlice};
use std::os::fd::RawFd;
use std::sync::Arc;

/// Default for `--sendfile-threshold`: bodies above it go out with
/// sendfile (in `SENDFILE_CHUNK` steps) after their head (sendmsg with
/// MSG_MORE), smaller ones in the one writev with their head. Measured by
/// `make bench-threshold` (bench/threshold.md): up to ~48 KiB copying from
/// the mmap in the writev costs the server the same CPU as sendfile and
/// one syscall less; from 64 KiB on, sendfile's page references (no copy)
/// win, by 10-40% of server CPU per request.
pub const DEFAULT_SENDFILE_THRESHOLD: u64 = 48 * 1024;
pub(crate) const SENDFILE_CHUNK: u64 = 2 * 1024 * 1024;
/// Most segments in one output (IOV_MAX is 1024); a batch of pipelined
/// responses stops short of it and continues after a flush.
pub(crate) const MAX_SEGS: usize = 1000;
pub(crate) const DYN_CAP: usize = 16 * 1024;

#[derive(Debug, Clone, Copy)]
enum Seg {
    /// Bytes of `Output::dyn_bytes`.
    Dyn {
        start: u32,
        len: u32,
    },
    /// Bytes of the blob, sent from the mmap by writev.
    Map {
        off: u64,
        len: u64,
    },
    /// Bytes of the blob, sent from its private copy by sendfile.
    File {
        off: u64,
        len: u64,
    },
    Static(&'static [u8]),
    /// The response that the segments after this one make up (`len`
    /// bytes), also whole in the hot file: sent from there with one
    /// sendfile when it is reached from its first byte and still current,
    /// otherwise skipped (`hot`). Zero bytes of its own.
    Hot {
        entry: hot::Entry,
        len: u64,
    },
}

impl Seg {
    fn len(&self) -> u64 {
        match *self {
            Seg::Dyn { len, .. } => u64::from(len),
            Seg::Map { len, .. } | Seg::File { len, .. } => len,
            Seg::Static(s) => s.len() as u64,
            Seg::Hot { .. } => 0,
        }
    }
}

/// Responses queued for one connection (pooled per worker and reused).
pub struct Output {
    dyn_bytes: Vec<u8>,
    segs: Vec<Seg>,
    /// Next segment to send, and bytes of it already sent.
    pos: usize,
    skip: u64,
    /// The site (index into the worker's current `Sites`) whose blob the
    /// segments point into; `None` while they point into none.
    site: Option<u32>,
    /// Set when the output outlives the call that built it: the root its
    /// segments point into stays alive across a swap (`publish`), and is
    /// released with the output.
    root: Option<Arc<Root>>,
}

impl Default for Output {
    fn default() -> Self {
        Self::new()
    }
}

pub enum Flush {
    Done,
    /// The socket is full; wait for EPOLLOUT.
    Blocked,
}

impl Output {
    pub fn new() -> Output {
        // Small at first: a pooled output grows (once) only as deep as the
        // pipelining it meets, so 10k blocked connections do not cost
        // 10k full-size batches.
        Output {
            dyn_bytes: Vec::with_capacity(1024),
            segs: Vec::with_capacity(16),
            pos: 0,
            skip: 0,
            site: None,
            root: None,
        }
    }

    pub fn clear(&mut self) {
        self.dyn_bytes.clear();
        self.segs.clear();
        self.pos = 0;
        self.skip = 0;
        self.site = None;
        self.root = None;
    }

    pub fn is_empty(&self) -> bool {
        self.pos == self.segs.len()
    }

    /// Whether a response from site `i` (an index into the worker's
    /// current `Sites`) may join: one output points into one blob, and a
    /// pinned one (waiting across a swap) into no table's.
    pub fn takes_site(&self, i: u32) -> bool {
        self.root.is_none() && self.site.is_none_or(|s| s == i)
    }

    /// The segments pushed from now on point into site `i`'s blob.
    pub fn set_site(&mut self, i: u32) {
        self.site = Some(i);
    }

    /// Whether bytes of `root` (held by an HTTP/2 stream across a swap)
    /// may join: the output points into that blob, or into none yet.
    pub fn takes_root(&self, root: &Arc<Root>, sites: &Sites) -> bool {
        match (&self.root, self.site) {
            (Some(own), _) => Arc::ptr_eq(own, root),
            (None, Some(i)) => Arc::ptr_eq(sites.get(i), root),
            (None, None) => true,
        }
    }

    /// The segments pushed from now on point into `root` (which
    /// `takes_root` accepted).
    pub fn set_root(&mut self, root: &Arc<Root>) {
        if self.root.is_none() && self.site.is_none() {
            self.root = Some(root.clone());
        }
    }

    /// Runs `f` with the root the segments point into (`None`: they point
    /// into none): the pinned one, or the site's in `sites`.
    pub fn with_root<R>(
        &mut self,
        sites: &Sites,
        f: impl FnOnce(&mut Output, Option<&Root>) -> R,
    ) -> R {
        let own = self.root.take();
        let root = own
            .as_deref()
            .or_else(|| self.site.map(|i| &**sites.get(i)));
        let r = f(self, root);
        self.root = own;
        r
    }

    /// The output outlives this call, maybe this table: keep its root
    /// alive (the one atomic increment on the path, and only for a
    /// response that waits for the socket).
    pub fn pin(&mut self, sites: &Sites) {
        if let (None, Some(i)) = (&self.root, self.site) {
            self.root = Some(sites.get(i).clone());
        }
    }

    /// Room for one more response?
    pub fn has_room(&self) -> bool {
        self.segs.len() + 8 <= MAX_SEGS && self.dyn_bytes.len() + 512 <= DYN_CAP
    }

    /// Appends dynamic bytes as a segment (merged with a preceding one).
    pub fn push_dyn(&mut self, b: &[u8]) {
        let start = self.dyn_bytes.len() as u32;
        self.dyn_bytes.extend_from_slice(b);
        if let Some(Seg::Dyn { start: s, len }) = self.segs.last_mut() {
            if *s + *len == start {
                *len += b.len() as u32;
                return;
            }
        }
        self.segs.push(Seg::Dyn {
            start,
            len: b.len() as u32,
        });
    }

    /// Appends a blob range (merged with a preceding adjacent one).
    pub fn push_map(&mut self, off: u64, len: u64) {
        if len == 0 {
            return;
        }
        if let Some(Seg::Map { off: o, len: l }) = self.segs.last_mut() {
            if *o + *l == off {
                *l += len;
                return;
            }
        }
        self.segs.push(Seg::Map { off, len });
    }

    pub fn push_file(&mut self, off: u64, len: u64) {
        if len > 0 {
            self.segs.push(Seg::File { off, len });
        }
    }

    /// Marks the next `len` bytes pushed as one response also held by the
    /// hot file.
    pub fn push_hot(&mut self, entry: hot::Entry, len: u64) {
        self.segs.push(Seg::Hot { entry, len });
    }

    pub fn push_static(&mut self, s: &'static [u8]) {
        if !s.is_empty() {
            self.segs.push(Seg::Static(s));
        }
    }

    /// Total bytes still to send.
    pub fn remaining(&self) -> u64 {
        self.segs[self.pos..].iter().map(Seg::len).sum::<u64>() - self.skip
    }

    /// The bytes still to send as memory slices, file segments taken from
    /// the mapping (same bytes as the memfd), up to about `max` bytes; for
    /// user-space TLS, which encrypts from memory. Returns how many slices.
    pub fn memory_slices<'a>(
        &'a self,
        root: Option<&'a Root>,
        iov: &mut [IoSlice<'a>],
        max: usize,
    ) -> usize {
        // No root: an output with no blob segment (a built-in response).
        let bytes = root.map_or(&[][..], Root::bytes);
        let mut k = 0;
        let mut total = 0;
        for (i, seg) in self.segs[self.pos..].iter().enumerate() {
            if k == iov.len() || total >= max {
                break;
            }
            let skip = if i == 0 { self.skip as usize } else { 0 };
            let s: &[u8] = match *seg {
                Seg::Dyn { start, len } => &self.dyn_bytes[start as usize..(start + len) as usize],
                Seg::Map { off, len } | Seg::File { off, len } => {
                    &bytes[off as usize..(off + len) as usize]
                }
                Seg::Static(s) => s,
                Seg::Hot { .. } => continue,
            };
            let s = &s[skip..];
            let s = &s[..s.len().min(max - total)];
            total += s.len();
            iov[k] = IoSlice::new(s);
            k += 1;
        }
        k
    }

    pub fn advance(&mut self, mut n: u64) {
        while n > 0 {
            let left = self.segs[self.pos].len() - self.skip;
            if n >= left {
                n -= left;
                self.pos += 1;
                self.skip = 0;
            } else {
                self.skip += n;
                n = 0;
            }
        }
        // Skip empty segments so `is_empty` is exact (not a hot mark: its
        // response follows).
        while self.pos < self.segs.len()
            && self.segs[self.pos].len() == self.skip
            && !matches!(self.segs[self.pos], Seg::Hot { .. })
        {
            self.pos += 1;
            self.skip = 0;
        }
    }

    /// Sends as much as the socket takes: runs of memory segments with one
    /// writev (sendmsg MSG_MORE when a sendfile follows, so the head and
    /// the first body bytes share a segment), file segments with sendfile.
    /// A short write means the socket is full: no retry until EPOLLOUT.
    /// `root` is the blob the segments point into (`None` when they point
    /// into none); `hot` the worker's hot responses (`None`: skip marks).
    pub fn flush(
        &mut self,
        fd: RawFd,
        root: Option<&Root>,
        hot: Option<&Hot>,
        iov_store: &mut Vec<IoSlice<'static>>,
        c: &Counters,
    ) -> io::Result<Flush> {
        while !self.is_empty() {
            if let Seg::Hot { entry, len } = self.segs[self.pos] {
                let Some((hot_fd, mut at)) = hot.and_then(|h| h.source(entry)) else {
                    self.pos += 1;
                    continue;
                };
                let n = match sys::sendfile(fd, hot_fd, &mut at, len as usize, c) {
                    Ok(n) => n as u64,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    return Err(io::Error::other("sendfile sent nothing"));
                }
                // The rest, if any, from the ordinary segments: same bytes.
                self.pos += 1;
                self.advance(n);
                if n < len {
                    return Ok(Flush::Blocked);
                }
                continue;
            }
            if let Seg::File { off, len } = self.segs[self.pos] {
                let mut at = off + self.skip;
                let want = (len - self.skip).min(SENDFILE_CHUNK) as usize;
                let root = root.expect("a blob segment has its root");
                let n = match sys::sendfile(fd, root.fd(), &mut at, want, c) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    return Err(io::Error::other("sendfile sent nothing"));
                }
                self.advance(n as u64);
                if n < want {
                    return Ok(Flush::Blocked);
                }
                continue;
            }
            let mut iov = recycle(std::mem::take(iov_store));
            let mut total = 0u64;
            let mut more = false;
            let bytes = root.map_or(&[][..], Root::bytes);
            for (i, seg) in self.segs[self.pos..].iter().enumerate() {
                if iov.len() == 1024 {
                    break;
                }
                let skip = if i == 0 { self.skip as usize } else { 0 };
                let s: &[u8] = match *seg {
                    Seg::Dyn { start, len } => {
                        &self.dyn_bytes[start as usize..(start + len) as usize]
                    }
                    Seg::Map { off, len } => &bytes[off as usize..(off + len) as usize],
                    Seg::Static(s) => s,
                    Seg::File { .. } | Seg::Hot { .. } => {
                        more = true;
                        break;
                    }
                };
                total += (s.len() - skip) as u64;
                iov.push(IoSlice::new(&s[skip..]));
            }
            let r = if more {
                sys::sendmsg_more(fd, &iov, c)
            } else {
                sys::writev(fd, &iov, c)
            };
            *iov_store = recycle(iov);
            let n = match r {
                Ok(n) => n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                Err(e) => return Err(e),
            };
            self.advance(n);
            if n < total {
                return Ok(Flush::Blocked);
            }
        }
        Ok(Flush::Done)
    }
}

/// Reuses a Vec's allocation for slices of another lifetime (the vector is
/// emptied first, so no slice outlives its data; in-place collect keeps the
/// allocation).
fn recycle<'b>(mut v: Vec<IoSlice<'_>>) -> Vec<IoSlice<'b>> {
    v.clear();
    v.into_iter().map(|_| unreachable!()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycle_keeps_the_allocation() {
        let mut v: Vec<IoSlice<'static>> = Vec::with_capacity(1024);
        let data = vec![1u8; 10];
        let p = v.as_ptr() as usize;
        let mut w = recycle(std::mem::take(&mut v));
        w.push(IoSlice::new(&data));
        assert_eq!(w.as_ptr() as usize, p, "no new allocation");
        let back: Vec<IoSlice<'static>> = recycle(w);
        assert_eq!(
            (back.as_ptr() as usize, back.capacity(), back.len()),
            (p, 1024, 0)
        );
    }

    #[test]
    fn segments_merge_and_advance() {
        let mut o = Output::new();
        o.push_map(100, 10);
        o.push_map(110, 5);
        o.push_dyn(b"ab");
        o.push_dyn(b"cd");
        o.push_map(0, 0);
        assert_eq!(o.segs.len(), 2);
        assert_eq!(o.remaining(), 19);
        o.advance(16);
        assert_eq!(o.remaining(), 3);
        o.advance(3);
        assert!(o.is_empty());
    }
}
