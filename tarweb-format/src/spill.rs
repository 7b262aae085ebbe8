//! Where the writer keeps the blocks it has built until the data section
//! is laid out: heads, 304 heads and HTTP/2 header blocks go to a spill
//! (a scratch file, or memory for [`write_blob`](crate::write_blob)) as
//! each route is built, and the writer holds only an id per distinct
//! block. On a site of many small pages these blocks are most of the blob
//! (heads outweigh bodies); held in memory they were most of a packer's.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Seek, Write};

/// "None" in the writer's `u32` id and index fields.
pub(crate) const NONE: u32 = u32::MAX;

/// Bytes gathered before one write to the spill file.
const BUF: usize = 256 << 10;

/// Where spilled blocks live.
pub(crate) enum Store {
    /// In memory: [`write_blob`](crate::write_blob), whose spec is in
    /// memory already.
    Mem(Vec<u8>),
    /// A scratch file, written front to back and read at offsets: its
    /// bytes are in the page cache, not the writer's memory.
    /// `base` is the file offset of `buf[0]`; offsets are the file's.
    File { file: File, buf: Vec<u8>, base: u64 },
}

/// The spill: blocks appended, read back by offset.
pub(crate) struct Spill {
    store: Store,
}

/// An I/O error of the spill file, said to be one: "No space left on
/// device" alone would blame the output.
fn scratch(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("the writer's scratch file: {e}"))
}

impl Spill {
    pub(crate) fn memory() -> Spill {
        Spill {
            store: Store::Mem(Vec::new()),
        }
    }

    /// A spill into `file`, from its current position on (the start of a
    /// new temporary file).
    pub(crate) fn file(mut file: File) -> io::Result<Spill> {
        let base = file.stream_position().map_err(scratch)?;
        Ok(Spill {
            store: Store::File {
                file,
                buf: Vec::with_capacity(BUF),
                base,
            },
        })
    }

    /// Appends `b`; returns its offset in the spill.
    fn put(&mut self, b: &[u8]) -> io::Result<u64> {
        match &mut self.store {
            Store::Mem(v) => {
                v.extend_from_slice(b);
                Ok((v.len() - b.len()) as u64)
            }
            Store::File { file, buf, base } => {
                let off = *base + buf.len() as u64;
                if buf.len() + b.len() > BUF {
                    flush(file, buf, base)?;
                }
                if b.len() >= BUF {
                    file.write_all(b).map_err(scratch)?;
                    *base += b.len() as u64;
                } else {
                    buf.extend_from_slice(b);
                }
                Ok(off)
            }
        }
    }

    /// Fills `out` with the spilled bytes at `off`.
    pub(crate) fn read(&mut self, off: u64, out: &mut [u8]) -> io::Result<()> {
        match &mut self.store {
            Store::Mem(v) => {
                let at = off as usize;
                out.copy_from_slice(&v[at..at + out.len()]);
                Ok(())
            }
            Store::File { file, buf, base } => {
                if off >= *base {
                    let at = (off - *base) as usize;
                    out.copy_from_slice(&buf[at..at + out.len()]);
                    return Ok(());
                }
                if off + out.len() as u64 > *base {
                    // Partly still in the buffer: all of it to the file.
                    flush(file, buf, base)?;
                }
                read_at(file, out, off).map_err(scratch)
            }
        }
    }
}

fn flush(file: &mut File, buf: &mut Vec<u8>, base: &mut u64) -> io::Result<()> {
    file.write_all(buf).map_err(scratch)?;
    *base += buf.len() as u64;
    buf.clear();
    Ok(())
}

/// One `pread`: the file's cursor stays at its end for the next append
/// (and a body's file may back other bodies). Short is `UnexpectedEof`.
#[cfg(unix)]
pub(crate) fn read_at(file: &File, out: &mut [u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, out, off)
}

#[cfg(not(unix))]
pub(crate) fn read_at(mut file: &File, out: &mut [u8], off: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let end = file.stream_position()?;
    file.seek(SeekFrom::Start(off))?;
    file.read_exact(out)?;
    file.seek(SeekFrom::Start(end))?;
    Ok(())
}

/// Keys that are hashes already: used as they are.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map from a 64-bit hash to the first item with it; `next` chains the
/// items that share a hash, so equality is decided on the items
/// themselves, never on the hash.
pub(crate) type HashHeads = HashMap<u64, u32, BuildHasherDefault<Prehashed>>;

/// Distinct blocks, each spilled once: identical bytes get one id (the
/// writer stores identical heads, 304 heads and HTTP/2 blocks once).
pub(crate) struct Blocks {
    pub(crate) spill: Spill,
    off: Vec<u64>,
    len: Vec<u32>,
    first: HashHeads,
    next: Vec<u32>,
    /// A block read back to compare (a repeat, or a hash collision).
    scratch: Vec<u8>,
}

impl Blocks {
    pub(crate) fn new(spill: Spill) -> Blocks {
        Blocks {
            spill,
            off: Vec::new(),
            len: Vec::new(),
            first: HashHeads::default(),
            next: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The id of `bytes`: an earlier block's if one has them, else a new
    /// block's. At most `u32::MAX` bytes (a head's bound).
    pub(crate) fn intern(&mut self, bytes: &[u8]) -> io::Result<u32> {
        let h = u64::from_le_bytes(
            blake3::hash(bytes).as_bytes()[..8]
                .try_into()
                .expect("8 bytes"),
        );
        let mut c = self.first.get(&h).copied().unwrap_or(NONE);
        while c != NONE {
            let i = c as usize;
            if self.len[i] as usize == bytes.len() {
                self.scratch.resize(bytes.len(), 0);
                self.spill.read(self.off[i], &mut self.scratch)?;
                if self.scratch == bytes {
                    return Ok(c);
                }
            }
            c = self.next[i];
        }
        let id = self.off.len() as u32;
        self.off.push(self.spill.put(bytes)?);
        self.len.push(bytes.len() as u32);
        self.next.push(self.first.insert(h, id).unwrap_or(NONE));
        Ok(id)
    }

    /// Number of distinct blocks.
    pub(crate) fn count(&self) -> usize {
        self.off.len()
    }

    pub(crate) fn len(&self, id: u32) -> u64 {
        u64::from(self.len[id as usize])
    }

    /// The dedup index is not needed once every block is in: its memory
    /// goes before the layout's.
    pub(crate) fn seal(&mut self) {
        self.first = HashHeads::default();
        self.next = Vec::new();
        self.scratch = Vec::new();
    }

    /// Reads block `id` into `out` (resized to it).
    pub(crate) fn read(&mut self, id: u32, out: &mut Vec<u8>) -> io::Result<()> {
        out.resize(self.len[id as usize] as usize, 0);
        self.spill.read(self.off[id as usize], out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spills() -> Vec<Spill> {
        // A file with bytes before the spill's own: offsets are the file's.
        let mut used = tempfile::tempfile().expect("a temporary file");
        used.write_all(b"other bytes").unwrap();
        vec![
            Spill::memory(),
            Spill::file(tempfile::tempfile().expect("a temporary file")).unwrap(),
            Spill::file(used).unwrap(),
        ]
    }

    /// Identical bytes get one id, different bytes different ids, whether
    /// the earlier block is still buffered or already in the file; every
    /// block reads back as it went in.
    #[test]
    fn interned_blocks_read_back() {
        for spill in spills() {
            let mut b = Blocks::new(spill);
            let mut want: Vec<Vec<u8>> = Vec::new();
            let mut ids = Vec::new();
            // 3,000 blocks of up to 600 bytes: several buffers' worth, and
            // one block larger than the buffer.
            for i in 0..3000u32 {
                let v: Vec<u8> = if i == 1500 {
                    vec![9; BUF + 10]
                } else {
                    let n = (i * 37 % 600) as usize;
                    (0..n).map(|k| (k as u32 ^ (i % 700)) as u8).collect()
                };
                ids.push(b.intern(&v).unwrap());
                want.push(v);
            }
            for (i, v) in want.iter().enumerate() {
                let first = want.iter().position(|w| w == v).unwrap();
                assert_eq!(ids[i], ids[first], "block {i}");
                let mut out = Vec::new();
                b.read(ids[i], &mut out).unwrap();
                assert!(out == *v, "block {i} reads back");
            }
            let distinct = {
                let mut d = want.clone();
                d.sort();
                d.dedup();
                d.len()
            };
            assert_eq!(b.count(), distinct);
            assert!(distinct < want.len(), "the test repeats blocks");
        }
    }

    /// Blocks with one hash but other bytes are kept apart (the chain).
    #[test]
    fn equal_hashes_are_not_equal_blocks() {
        let mut b = Blocks::new(Spill::memory());
        let x = b.intern(b"x").unwrap();
        // A block whose hash collides with `x`'s: put in the chain by hand.
        let h = *b.first.keys().next().unwrap();
        let y_off = b.spill.put(b"y").unwrap();
        b.off.push(y_off);
        b.len.push(1);
        b.next.push(b.first.insert(h, 1).unwrap());
        let y = 1;
        assert_eq!(b.intern(b"x").unwrap(), x);
        let mut out = Vec::new();
        b.read(y, &mut out).unwrap();
        assert_eq!(out, b"y");
    }

    /// A spill file that cannot be read back is an error, not a panic.
    #[test]
    fn unreadable_spill_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // Opened for writing only: every read fails.
        let f = File::create(dir.path().join("spill")).unwrap();
        let mut b = Blocks::new(Spill::file(f).unwrap());
        let v = vec![1u8; BUF + 1];
        b.intern(&v).unwrap();
        let e = b.intern(&v).unwrap_err();
        assert!(e.to_string().contains("scratch file"), "{e}");
    }
}
