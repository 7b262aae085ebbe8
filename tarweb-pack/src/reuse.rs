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
use std::path::Path;
use tarweb_format::{Blob, Coding, Verify};

#[derive(Default)]
pub struct Reuse {
    bytes: Vec<u8>,
    /// blake3 of an identity body → per coding, the (offset, length) of
    /// the writer-encoded variant of that body in `bytes`.
    by_hash: HashMap<[u8; 32], [Option<(usize, usize)>; 4]>,
}

impl Reuse {
    /// Reads `path` and indexes its variants; on any problem, a warning and
    /// an empty index.
    pub fn load(path: &Path, encoder: [u8; 8], warn: &mut dyn FnMut(String)) -> Reuse {
        let name = crate::printable(&path.display().to_string()).into_owned();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                warn(format!("--reuse {name}: {e}: nothing reused"));
                return Reuse::default();
            }
        };
        // No digest check: every copy is decoded and compared with its body
        // before use, which a damaged byte cannot pass.
        let by_hash = match Blob::parse_with(&bytes, Verify::SkipDigest) {
            Err(e) => {
                warn(format!("--reuse {name}: {e}: nothing reused"));
                return Reuse::default();
            }
            Ok(blob) if blob.encoder() != encoder => {
                warn(format!(
                    "--reuse {name}: packed with other compression settings or by \
                     another release: nothing reused"
                ));
                return Reuse::default();
            }
            Ok(blob) => index(&blob),
        };
        Reuse { bytes, by_hash }
    }

    /// The old blob's `coding` variant of the body hashing to `hash`.
    pub fn get(&self, hash: &blake3::Hash, coding: Coding) -> Option<&[u8]> {
        let (off, len) = self.by_hash.get(hash.as_bytes())?[coding as usize]?;
        Some(&self.bytes[off..off + len])
    }
}

fn index(blob: &Blob<'_>) -> HashMap<[u8; 32], [Option<(usize, usize)>; 4]> {
    let mut by_hash: HashMap<[u8; 32], [Option<(usize, usize)>; 4]> = HashMap::new();
    let runs = blob
        .routes()
        .filter(|r| r.status() == 200)
        .map(|r| r.variants())
        .chain(blob.not_found());
    for vs in runs {
        let hash = *blake3::hash(vs.identity().body()).as_bytes();
        let slots = by_hash.entry(hash).or_default();
        for v in vs.iter() {
            if v.coding() != Coding::Identity && !v.site_encoded() {
                slots[v.coding() as usize] = Some((v.body_off() as usize, v.body().len()));
            }
        }
    }
    by_hash
}
