//! Hot responses: the busiest mid-size responses of the current second,
//! written whole (status line, `Date` and the other dynamic lines, stored
//! head, body) into a per-worker file, so that one sendfile sends a
//! response instead of `sendmsg(head, MSG_MORE)` + `sendfile(body)`.
//!
//! Why: above the writev threshold a response costs read + sendmsg +
//! sendfile, and the head's sendmsg is ~15% of the server's CPU per
//! request on a 52 KB page (A/B against nginx, see tarweb-serve/README.md).
//! The `Date` line changes every second, so the bytes cannot live in the
//! blob; here they are rebuilt once a second, for responses requested
//! often enough in that second to pay for the copy (`worth_building`).
//!
//! Safety of the bytes:
//! - A region is never rewritten in place. Its pages are punched out of
//!   the file first (`sys::punch_hole`), so bytes already queued on
//!   sockets (sendfile passes page references, and on loopback the
//!   receiver's queue holds those very pages) keep their old content, and
//!   the new write gets new pages.
//! - Regions sit `STRIDE` apart, so no page-cache folio (at most 2 MiB on
//!   x86-64) straddles two regions: a punch never has to zero part of a
//!   folio in place.
//! - A response is sent from here only whole, from its first byte, and only
//!   while its region is still the one it was given (`source` checks the
//!   build id). The output also holds the same response as ordinary
//!   segments (`Seg::Hot` is a shortcut over them), so whatever sendfile
//!   leaves unsent continues from those, byte for byte the same.
//!
//! The file is a nameless file next to the blob (the same filesystem as
//! the blob's copy, so the same large folios) or a memfd when the blob's
//! copy is one (`--blob-copy`). Pages are freed two seconds after a
//! response stops being hot, so nothing waits for writeback.

use crate::sys;
use crate::sys::Counters;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Longest response kept here: beyond it the saved syscall is lost in the
/// cost of sending the body.
pub const MAX_LEN: u64 = 256 * 1024;
/// Distance between regions: a multiple of the largest page-cache folio.
const STRIDE: u64 = 2 * 1024 * 1024;
const BUCKETS: usize = 1024;
const NONE: u32 = u32::MAX;

/// Which response: a variant of one loaded root, with one connection line.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Key {
    /// `Root::generation`: unique per loaded root.
    pub root: u64,
    /// The variant's head offset in that blob.
    pub head_off: u64,
    /// Which `Connection` line (none, close, keep-alive).
    pub conn: u8,
}

#[derive(Clone, Copy, Default)]
struct Region {
    key: Key,
    /// Build id; 0 while the region is free.
    id: u32,
    /// The second whose `Date` it carries.
    second: i64,
    /// Pages to punch before the next write here.
    dirty: bool,
}

/// Requests per key in the current second.
#[derive(Clone, Copy, Default)]
struct Bucket {
    key: Key,
    second: i64,
    hits: u32,
    region: u32,
}

/// A response to send from the hot file: `Seg::Hot` carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub region: u32,
    pub id: u32,
}

pub struct Hot {
    /// `None`: disabled (`--hot-responses 0`, or after a write error).
    file: Option<OwnedFd>,
    regions: Vec<Region>,
    buckets: Vec<Bucket>,
    second: i64,
    next_id: u32,
}

/// Requests in one second from which writing a response of `len` bytes
/// costs less than the head syscalls it saves (~1.5 us each, against a
/// copy at ~8 GB/s plus a punch and a write).
fn worth_building(len: u64) -> u32 {
    4 + (len / 8192) as u32
}

fn bucket_of(k: &Key) -> usize {
    let h = (k.root.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        ^ k.head_off.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ u64::from(k.conn);
    (h ^ (h >> 29)) as usize & (BUCKETS - 1)
}

impl Hot {
    pub fn disabled() -> Hot {
        Hot {
            file: None,
            regions: Vec::new(),
            buckets: Vec::new(),
            second: 0,
            next_id: 1,
        }
    }

    /// `regions` responses at most, in `file` (empty, writable).
    pub fn new(file: OwnedFd, regions: usize) -> Hot {
        if regions == 0 {
            return Hot::disabled();
        }
        Hot {
            file: Some(file),
            regions: vec![Region::default(); regions],
            buckets: vec![
                Bucket {
                    region: NONE,
                    ..Bucket::default()
                };
                BUCKETS
            ],
            second: 0,
            next_id: 1,
        }
    }

    pub fn enabled(&self) -> bool {
        self.file.is_some()
    }

    /// Once per loop turn with the worker's `Date` second: on a new second,
    /// frees the regions no one asked for in the last two.
    pub fn tick(&mut self, second: i64, c: &Counters) {
        if second == self.second {
            return;
        }
        self.second = second;
        let Some(fd) = self.file.as_ref().map(AsRawFd::as_raw_fd) else {
            return;
        };
        for (i, r) in self.regions.iter_mut().enumerate() {
            if r.id != 0 && r.second < second - 1 {
                r.id = 0;
                if sys::punch_hole(fd, i as u64 * STRIDE, STRIDE, c).is_ok() {
                    r.dirty = false;
                }
            }
        }
    }

    /// The hot copy of the response `parts` (concatenated, `len` bytes)
    /// for `key`, current for this second: found, or written now when
    /// the key was asked for often enough this second. `None`: send it
    /// the ordinary way.
    pub fn get(&mut self, key: Key, parts: &[&[u8]], len: u64, c: &Counters) -> Option<Entry> {
        if self.file.is_none() || len > MAX_LEN {
            return None;
        }
        let now = self.second;
        let bi = bucket_of(&key);
        let b = &mut self.buckets[bi];
        if b.key != key {
            *b = Bucket {
                key,
                second: now,
                hits: 0,
                region: NONE,
            };
        } else if b.second != now {
            b.second = now;
            b.hits = 0;
        }
        b.hits += 1;
        if b.region != NONE {
            let r = &self.regions[b.region as usize];
            if r.id != 0 && r.key == key && r.second == now {
                return Some(Entry {
                    region: b.region,
                    id: r.id,
                });
            }
        }
        if b.hits < worth_building(len) {
            return None;
        }
        let at = match b.region {
            i if i != NONE && self.regions[i as usize].key == key => i,
            _ => match self.free_region(now) {
                Some(i) => i,
                None => {
                    // All regions are this second's: look again only after
                    // as many requests more, not on every one.
                    self.buckets[bi].hits = 0;
                    return None;
                }
            },
        };
        self.buckets[bi].region = at;
        match self.write(at, key, parts, c) {
            Ok(id) => Some(Entry { region: at, id }),
            Err(e) => {
                warn!("tarweb-serve: hot responses off for this worker: {e}");
                self.file = None;
                None
            }
        }
    }

    /// The region nobody asked for the longest (none: all are this
    /// second's).
    fn free_region(&self, now: i64) -> Option<u32> {
        self.regions
            .iter()
            .enumerate()
            .filter(|(_, r)| r.id == 0 || r.second < now)
            .min_by_key(|(_, r)| if r.id == 0 { i64::MIN } else { r.second })
            .map(|(i, _)| i as u32)
    }

    fn write(&mut self, at: u32, key: Key, parts: &[&[u8]], c: &Counters) -> io::Result<u32> {
        let fd = self.file.as_ref().expect("enabled").as_raw_fd();
        let off = u64::from(at) * STRIDE;
        let r = &mut self.regions[at as usize];
        // From here on the region is not what any earlier entry was given.
        r.id = 0;
        if r.dirty {
            sys::punch_hole(fd, off, STRIDE, c)
                .map_err(|e| io::Error::new(e.kind(), format!("punching region {at}: {e}")))?;
        }
        let mut iov = [IoSlice::new(&[]); 8];
        let n = parts.len().min(iov.len());
        for (slot, p) in iov.iter_mut().zip(parts) {
            *slot = IoSlice::new(p);
        }
        // Dirty from the first byte written, even if the write fails.
        r.dirty = true;
        sys::pwritev_all(fd, &iov[..n], off, c)
            .map_err(|e| io::Error::new(e.kind(), format!("writing region {at}: {e}")))?;
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        *r = Region {
            key,
            id,
            second: self.second,
            dirty: true,
        };
        Ok(id)
    }

    /// Where to sendfile `e` from, while its region still holds it.
    pub fn source(&self, e: Entry) -> Option<(RawFd, u64)> {
        let fd = self.file.as_ref()?.as_raw_fd();
        let r = self.regions.get(e.region as usize)?;
        (r.id == e.id).then_some((fd, u64::from(e.region) * STRIDE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot(regions: usize) -> (Hot, Counters) {
        let fd = sys::memfd_create(c"hot-test").expect("memfd");
        let mut h = Hot::new(fd, regions);
        let c = Counters::default();
        h.tick(100, &c);
        (h, c)
    }

    fn key(head_off: u64) -> Key {
        Key {
            root: 1,
            head_off,
            conn: 0,
        }
    }

    fn read_at(h: &Hot, e: Entry, len: usize) -> Vec<u8> {
        let (fd, off) = h.source(e).expect("current");
        let mut v = vec![0u8; len];
        assert_eq!(sys::pread(fd, &mut v, off).unwrap(), len);
        v
    }

    #[test]
    fn built_after_enough_requests_then_found() {
        let (mut h, c) = hot(4);
        let body = vec![7u8; 60_000];
        let parts: [&[u8]; 3] = [b"HTTP/1.1 200 OK\r\n", b"Date: x\r\n\r\n", &body];
        let len = parts.iter().map(|p| p.len() as u64).sum();
        let need = worth_building(len);
        for _ in 1..need {
            assert_eq!(h.get(key(1), &parts, len, &c), None);
        }
        let e = h.get(key(1), &parts, len, &c).expect("built");
        assert_eq!(
            h.get(key(1), &parts, len, &c),
            Some(e),
            "found, not rebuilt"
        );
        assert_eq!(read_at(&h, e, len as usize), parts.concat());
        // Another second: stale until asked for often enough again, then
        // rebuilt (a new id: outputs holding the old one fall back).
        h.tick(101, &c);
        assert_eq!(h.source(e).map(|_| ()), Some(()), "still readable");
        assert_eq!(h.get(key(1), &parts, len, &c), None);
        for _ in 2..need {
            h.get(key(1), &parts, len, &c);
        }
        let e2 = h.get(key(1), &parts, len, &c).expect("rebuilt");
        assert_ne!(e2.id, e.id);
        assert_eq!(h.source(e), None);
        // Two seconds without a request: freed.
        h.tick(103, &c);
        assert_eq!(h.source(e2), None);
    }

    #[test]
    fn too_long_or_disabled_is_never_hot() {
        let (mut h, c) = hot(4);
        let body = vec![1u8; MAX_LEN as usize + 1];
        for _ in 0..100 {
            assert_eq!(h.get(key(1), &[&body], body.len() as u64, &c), None);
        }
        let mut off = Hot::disabled();
        for _ in 0..100 {
            assert_eq!(off.get(key(1), &[b"x"], 1, &c), None);
        }
    }

    #[test]
    fn regions_busy_this_second_are_not_taken() {
        let (mut h, c) = hot(2);
        let parts: [&[u8]; 1] = [b"some response bytes"];
        let mut got = Vec::new();
        for k in 0..3 {
            let mut e = None;
            for _ in 0..worth_building(19) {
                e = h.get(key(k), &parts, 19, &c);
            }
            got.push(e);
        }
        assert!(got[0].is_some() && got[1].is_some());
        assert_eq!(got[2], None, "both regions are this second's");
        assert!(h.source(got[0].unwrap()).is_some());
        // Next second the least recent one goes to the third key.
        h.tick(101, &c);
        let mut e = None;
        for _ in 0..worth_building(19) {
            e = h.get(key(2), &parts, 19, &c);
        }
        assert!(e.is_some());
        assert_eq!(
            got[..2]
                .iter()
                .filter(|g| h.source(g.unwrap()).is_some())
                .count(),
            1
        );
    }
}
