//! The site's bytes as read, and the compressed variants as they are made,
//! in one nameless scratch file: what the packer holds instead of the
//! bytes, so that its memory is the site's index and the files a job has
//! in hand, not the site.
//!
//! Input is copied in as it is read, in bounded chunks (a file is never
//! whole in memory on the way in), with its blake3 and whether it is
//! UTF-8 worked out on the way; a compression job reads back the one body
//! it works on; the blob writer reads bodies straight from the file
//! ([`Body::from_file`]) when it lays out the data section.
//!
//! The file is made beside the blob's scratch files (the disk the blob
//! must fit on anyway) and vanishes with the process. It takes the site's
//! bytes plus its kept compressed variants, about the blob's data section.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use tarweb_format::Body;

/// Bytes copied in at a time.
const CHUNK: usize = 256 << 10;

/// A file's bytes in the [`Store`], and what was learnt reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Content {
    pub stored: Stored,
    /// blake3 of the bytes: what identical bodies and `--reuse` are found by.
    pub hash: blake3::Hash,
    /// The bytes are UTF-8 (a text type then says `charset=utf-8`).
    pub utf8: bool,
}

impl Content {
    pub fn len(&self) -> u64 {
        self.stored.len
    }
}

/// A range of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub at: u64,
    pub len: u64,
}

#[derive(Debug)]
pub struct Store {
    file: Arc<File>,
    tail: Mutex<Tail>,
}

/// Where the next bytes go. Appends reserve their range under the lock,
/// then write without it (jobs on other threads may append meanwhile).
#[derive(Debug, Default)]
struct Tail {
    end: u64,
    /// Copies read through this, one buffer for the whole input.
    buf: Vec<u8>,
}

impl Store {
    /// A store in `file`, an empty scratch file nobody else writes.
    pub fn new(file: File) -> Store {
        Store {
            file: Arc::new(file),
            tail: Mutex::default(),
        }
    }

    /// A store in a nameless file in `$TMPDIR` (tests).
    #[cfg(test)]
    pub fn temp() -> Store {
        Store::new(tempfile::tempfile().expect("a scratch file in $TMPDIR"))
    }

    /// Copies what `r` gives, up to `limit` bytes, in bounded chunks. The
    /// caller compares the length with what it expected: reading one byte
    /// more than a file's size is how growth is noticed.
    pub fn copy_from(&self, r: &mut dyn Read, limit: u64) -> Result<Content, CopyError> {
        // Held throughout: the copy's length is known only at its end.
        let mut tail = self.lock();
        let Tail { end, buf } = &mut *tail;
        let at = *end;
        let mut hash = blake3::Hasher::new();
        let mut utf8 = Utf8::default();
        buf.resize(CHUNK, 0);
        let mut len = 0u64;
        let mut r = r.take(limit);
        loop {
            let n = match r.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CopyError::Read(e)),
            };
            let chunk = &buf[..n];
            self.file
                .write_all_at(chunk, at + len)
                .map_err(|e| CopyError::Scratch(scratch(e)))?;
            hash.update(chunk);
            utf8.feed(chunk);
            len += n as u64;
        }
        *end = at + len;
        Ok(Content {
            stored: Stored { at, len },
            hash: hash.finalize(),
            utf8: utf8.finish(),
        })
    }

    /// Appends `bytes` (a compressed variant); safe from any thread.
    pub fn put(&self, bytes: &[u8]) -> io::Result<Stored> {
        let at = {
            let mut tail = self.lock();
            let at = tail.end;
            tail.end += bytes.len() as u64;
            at
        };
        self.file.write_all_at(bytes, at).map_err(scratch)?;
        Ok(Stored {
            at,
            len: bytes.len() as u64,
        })
    }

    /// The bytes of `s`, read back.
    pub fn read(&self, s: Stored) -> io::Result<Vec<u8>> {
        let mut v = vec![0; usize::try_from(s.len).map_err(io::Error::other)?];
        self.file.read_exact_at(&mut v, s.at).map_err(scratch)?;
        Ok(v)
    }

    /// `s` as a response body the blob writer reads when it copies it.
    pub fn body(&self, s: Stored) -> Body {
        Body::from_file(Arc::clone(&self.file), s.at, s.len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tail> {
        // A panicking job poisons nothing that matters: the offset is
        // updated in one step.
        self.tail.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why [`Store::copy_from`] failed: the input, or the scratch file (the
/// caller names the input; "truncated or corrupt?" would mislead for a
/// full disk).
#[derive(Debug)]
pub enum CopyError {
    Read(io::Error),
    Scratch(io::Error),
}

/// Errors of the scratch file say so: "No space left on device" alone
/// would point at the site or the blob.
fn scratch(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("the packer's scratch file: {e}"))
}

/// Whether a stream of chunks is UTF-8, a character cut by a chunk's end
/// carried to the next.
#[derive(Default)]
struct Utf8 {
    bad: bool,
    carry: [u8; 4],
    n: usize,
}

impl Utf8 {
    fn feed(&mut self, mut chunk: &[u8]) {
        if self.bad {
            return;
        }
        if self.n > 0 {
            // Complete the cut character with the chunk's first bytes.
            let take = chunk.len().min(4 - self.n);
            let mut buf = self.carry;
            buf[self.n..self.n + take].copy_from_slice(&chunk[..take]);
            let have = self.n + take;
            let valid = match std::str::from_utf8(&buf[..have]) {
                Ok(_) => have,
                Err(e) if e.valid_up_to() > 0 => e.valid_up_to(),
                Err(e) if e.error_len().is_none() => {
                    // Still cut: the chunk was shorter than the character.
                    self.carry = buf;
                    self.n = have;
                    return;
                }
                Err(_) => {
                    self.bad = true;
                    return;
                }
            };
            // The carried bytes began a character longer than them, so the
            // first valid boundary lies past them, inside this chunk.
            chunk = &chunk[valid - self.n..];
            self.n = 0;
        }
        if let Err(e) = std::str::from_utf8(chunk) {
            if e.error_len().is_some() {
                self.bad = true;
            } else {
                let rest = &chunk[e.valid_up_to()..];
                self.carry[..rest.len()].copy_from_slice(rest);
                self.n = rest.len();
            }
        }
    }

    fn finish(&self) -> bool {
        !self.bad && self.n == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_across_chunk_cuts_matches_the_whole() {
        let texts: [&[u8]; 7] = [
            "héllo wörld €uro 𝄞 clef".as_bytes(),
            b"plain ascii",
            b"bad \xff byte",
            b"cut at end \xe2\x82",
            b"overlong \xc0\xaf",
            "€".as_bytes(),
            b"",
        ];
        for t in texts {
            let whole = std::str::from_utf8(t).is_ok();
            // Every way to cut it in up to three pieces.
            for i in 0..=t.len() {
                for j in i..=t.len() {
                    let mut u = Utf8::default();
                    for piece in [&t[..i], &t[i..j], &t[j..]] {
                        u.feed(piece);
                    }
                    assert_eq!(u.finish(), whole, "{t:?} cut at {i}, {j}");
                }
            }
            // One byte at a time.
            let mut u = Utf8::default();
            for b in t {
                u.feed(std::slice::from_ref(b));
            }
            assert_eq!(u.finish(), whole, "{t:?} byte by byte");
        }
    }

    #[test]
    fn copies_hashes_and_reads_back() {
        let s = Store::temp();
        let big: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let a = s.copy_from(&mut &b"first"[..], 100).unwrap();
        let b = s.copy_from(&mut &big[..], u64::MAX).unwrap();
        let c = s.put(b"variant").unwrap();
        assert_eq!(a.stored, Stored { at: 0, len: 5 });
        assert_eq!(b.stored.at, 5);
        assert_eq!(b.hash, blake3::hash(&big));
        assert!(a.utf8 && !b.utf8);
        assert_eq!(c.at, 5 + big.len() as u64);
        assert_eq!(s.read(a.stored).unwrap(), b"first");
        assert_eq!(s.read(b.stored).unwrap(), big);
        assert_eq!(s.read(c).unwrap(), b"variant");
        // The limit stops the copy: one byte past a file's size shows growth.
        let d = s.copy_from(&mut &big[..], 10).unwrap();
        assert_eq!(d.len(), 10);
        assert_eq!(s.body(d.stored).len(), 10);
    }
}
