//! `--reuse OLD`: the compressed variants of an earlier blob, by the blake3
//! of the body they encode, so that a re-pack compresses only what changed.
//!
//! A variant is offered only when the old blob's `encoder` id is this
//! pack's (same compressors, same settings, same release), and only if the
//! writer encoded it (a site's precompressed file may differ from what the
//! encoder would write). The caller still decodes each copy and compares
//! it with the body before using it. So the blob written is byte for byte
//! the one a fresh pack writes; the old blob only saves time.
//!
//! The old blob is a cache, not an input: missing, unreadable, invalid or
//! packed with other settings, it is said in one warning and nothing is
//! reused.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use tarweb_format::layout::{hdr, HEADER_SIZE, INDEXED};
use tarweb_format::{Blob, Coding, Verify};

/// blake3 of an identity body → per coding, the (offset, length) of the
/// writer-encoded variant of that body in the old blob.
type ByHash = HashMap<[u8; 32], [Option<(u64, u64)>; 4]>;

/// The old blob's index, and the file its variants are read from when a
/// job asks for one: the blob is never held whole.
#[derive(Default)]
pub struct Reuse {
    file: Option<File>,
    by_hash: ByHash,
}

impl Reuse {
    /// Opens `path` and indexes its variants; on any problem, a warning
    /// and an empty index.
    pub fn load(path: &Path, encoder: [u8; 8], warn: &mut dyn FnMut(String)) -> Reuse {
        let name = crate::printable(&path.display().to_string()).into_owned();
        match open(path, encoder) {
            Ok(r) => r,
            Err(why) => {
                warn(format!("--reuse {name}: {why}: nothing reused"));
                Reuse::default()
            }
        }
    }

    /// The old blob has a `coding` variant of the body hashing to `hash`.
    pub fn has(&self, hash: &blake3::Hash, coding: Coding) -> bool {
        self.at(hash, coding).is_some()
    }

    /// The old blob's `coding` variant of the body hashing to `hash`, read.
    pub fn get(&self, hash: &blake3::Hash, coding: Coding) -> io::Result<Option<Vec<u8>>> {
        let (Some(file), Some((off, len))) = (&self.file, self.at(hash, coding)) else {
            return Ok(None);
        };
        let mut v = vec![0; len as usize];
        file.read_exact_at(&mut v, off)?;
        Ok(Some(v))
    }

    fn at(&self, hash: &blake3::Hash, coding: Coding) -> Option<(u64, u64)> {
        self.by_hash.get(hash.as_bytes())?[coding as usize]
    }
}

/// The old blob's index, read without reading its data section into
/// memory (but for blobs from before indexed blobs, read whole).
fn open(path: &Path, encoder: [u8; 8]) -> Result<Reuse, String> {
    // Checked before opening too: opening a FIFO would wait for a writer.
    let regular = |m: std::fs::Metadata| {
        if m.is_file() {
            Ok(m)
        } else {
            Err("not a regular file".to_string())
        }
    };
    regular(std::fs::metadata(path).map_err(|e| e.to_string())?)?;
    let file = File::open(path).map_err(|e| e.to_string())?;
    let meta = regular(file.metadata().map_err(|e| e.to_string())?)?;
    let size = usize::try_from(meta.len()).map_err(|e| e.to_string())?;
    // A zeroed buffer of the file's size, with only the bytes the parse
    // reads filled in: the allocator maps large zeroed blocks lazily, so
    // the pages of the data section are never touched (`VmRSS` stays at
    // the index; measured in `bench/pack-results.md`).
    let mut bytes = vec![0u8; size];
    let mut head = [0u8; HEADER_SIZE];
    if size >= HEADER_SIZE {
        file.read_exact_at(&mut head, 0)
            .map_err(|e| e.to_string())?;
    }
    let field = |at: usize, len: usize| {
        let mut v = [0u8; 8];
        v[..len].copy_from_slice(&head[at..at + len]);
        u64::from_le_bytes(v)
    };
    let indexed = size >= HEADER_SIZE && field(hdr::FLAGS, 2) & u64::from(INDEXED) != 0;
    // The index is everything before the data section; a header whose
    // `data_off` lies is refused by the parse.
    let filled = if indexed {
        usize::try_from(field(hdr::DATA_OFF, 8)).map_or(size, |d| d.min(size))
    } else {
        size
    };
    file.read_exact_at(&mut bytes[..filled], 0)
        .map_err(|e| e.to_string())?;
    // An indexed blob: its index digest and every rule on the index are
    // checked, never a byte of the data section (each copy is decoded and
    // compared with its body before use). An older one: its structure.
    let verify = if indexed {
        Verify::Lazy(1)
    } else {
        Verify::SkipDigest
    };
    let blob = Blob::parse_with(&bytes, verify).map_err(|e| e.to_string())?;
    if blob.encoder() != encoder {
        return Err("packed with other compression settings or by another release".into());
    }
    let by_hash = index(&blob, &file).map_err(|e| e.to_string())?;
    Ok(Reuse {
        file: Some(file),
        by_hash,
    })
}

/// Every writer-encoded variant, by the blake3 of its run's identity body
/// (read from `file` a chunk at a time).
fn index(blob: &Blob<'_>, file: &File) -> io::Result<ByHash> {
    let mut by_hash = ByHash::new();
    let runs = blob
        .routes()
        .filter(|r| r.status() == 200)
        .map(|r| r.variants())
        .chain(blob.not_found());
    let mut buf = vec![0; 256 << 10];
    for vs in runs {
        let id = vs.identity();
        let mut h = blake3::Hasher::new();
        let (mut off, end) = (id.body_off(), id.body_off() + id.body_len());
        while off < end {
            let n = buf.len().min((end - off) as usize);
            file.read_exact_at(&mut buf[..n], off)?;
            h.update(&buf[..n]);
            off += n as u64;
        }
        let slots = by_hash.entry(*h.finalize().as_bytes()).or_default();
        for v in vs.iter() {
            if v.coding() != Coding::Identity && !v.site_encoded() {
                slots[v.coding() as usize] = Some((v.body_off(), v.body_len()));
            }
        }
    }
    Ok(by_hash)
}
