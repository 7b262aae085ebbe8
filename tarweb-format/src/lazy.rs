//! Checking a blob a variant at a time ([`Verify::Lazy`]): the index is
//! verified at load, each variant's blocks before a server first sends
//! them. [`Blob::verify`] checks one variant; [`VariantChecks`] remembers
//! the outcome per variant, shared by every thread serving the blob, so a
//! variant is hashed and parsed once per load (twice at worst, when two
//! threads race to it first), never per request.

use crate::h2::H2Reader;
use crate::head::status_code;
use crate::read::Blob;
use crate::read_error::VariantProblem;
use crate::view::Variant;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

/// Not checked yet.
const UNCHECKED: u8 = 0;
/// Failed its check.
const FAILED: u8 = u8::MAX;

/// A variant's state once it passed under a run of `status`: the statuses a
/// run can carry, numbered from 1 (`None`: a status no run carries). On
/// every request: a match, not a search.
#[inline]
fn state_of(status: u16) -> Option<u8> {
    let i = match status {
        200 => 0,
        301 => 1,
        302 => 2,
        303 => 3,
        307 => 4,
        308 => 5,
        404 => 6,
        _ => return None,
    };
    Some(i as u8 + 1)
}

thread_local! {
    // The decoder scratch (112 KiB), made once per thread that checks.
    static H2: RefCell<Option<H2Reader>> = const { RefCell::new(None) };
}

impl<'a> Blob<'a> {
    /// Whether [`Blob::verify`] has anything to do: the blob was parsed
    /// with [`Verify::Lazy`](crate::Verify::Lazy) and is indexed.
    pub fn deferred(&self) -> bool {
        self.layout().deferred
    }

    /// `v` (of this blob), checked for use under a run of `status`: its
    /// blocks hash to its `check`, its heads and header blocks keep
    /// `format-spec.md` §4, and its head carries `status`. Immediate for a
    /// blob that was checked whole at parse. Without memory: a server
    /// keeps a [`VariantChecks`] and asks it instead.
    pub fn verify(&self, v: Variant<'a>, status: u16) -> Result<Variant<'a>, VariantProblem> {
        if !self.deferred() {
            return Ok(v);
        }
        H2.with(|cell| {
            let mut slot = cell.borrow_mut();
            let h2 = slot.get_or_insert_with(H2Reader::new);
            self.check_blocks(v.index(), h2)
        })?;
        if status_code(v.head()) != Some(status) {
            return Err(VariantProblem::StatusMismatch { expected: status });
        }
        Ok(v)
    }
}

/// What [`VariantChecks::verify`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The variant may be sent.
    Ok,
    /// It failed its check just now, for this reason: say so once.
    Failed(VariantProblem),
    /// It failed before: never send it.
    KnownBad,
}

/// Per variant of one lazily checked blob: unchecked, passed (under which
/// status) or failed. One byte each, relaxed atomics: the bytes checked
/// never change, so a thread that sees "passed" needs nothing else from
/// the thread that checked.
pub struct VariantChecks {
    state: Box<[AtomicU8]>,
}

impl VariantChecks {
    /// Room for `blob`'s variants (none when it was checked whole).
    pub fn new(blob: &Blob<'_>) -> VariantChecks {
        let n = if blob.deferred() {
            blob.layout().variant_count as usize
        } else {
            0
        };
        VariantChecks {
            state: (0..n).map(|_| AtomicU8::new(UNCHECKED)).collect(),
        }
    }

    /// [`Blob::verify`] once per variant: later calls read the outcome
    /// (one byte load on every request). `blob` must be the one this was
    /// made for.
    #[inline]
    pub fn verify(&self, blob: &Blob<'_>, v: &Variant<'_>, status: u16) -> Verdict {
        match self.state.get(v.index()) {
            Some(cell) if state_of(status) == Some(cell.load(Ordering::Relaxed)) => Verdict::Ok,
            None if !blob.deferred() => Verdict::Ok,
            _ => self.verify_first(blob, v, status),
        }
    }

    /// [`VariantChecks::verify`] of a variant not passed yet (under this
    /// status): checks it, or says it failed.
    #[cold]
    #[inline(never)]
    fn verify_first(&self, blob: &Blob<'_>, v: &Variant<'_>, status: u16) -> Verdict {
        if !blob.deferred() {
            return Verdict::Ok;
        }
        let (Some(cell), Some(want)) = (self.state.get(v.index()), state_of(status)) else {
            // Not a blob this was made for, or a status no run has.
            return match blob.verify(*v, status) {
                Ok(_) => Verdict::Ok,
                Err(p) => Verdict::Failed(p),
            };
        };
        let problem = match cell.load(Ordering::Relaxed) {
            s if s == want => return Verdict::Ok,
            FAILED => return Verdict::KnownBad,
            // Passed under another status: a run this variant is not in
            // (only a forged index shares one so).
            UNCHECKED => match blob.verify(*v, status) {
                Ok(_) => {
                    cell.store(want, Ordering::Relaxed);
                    return Verdict::Ok;
                }
                Err(p) => p,
            },
            _ => VariantProblem::StatusMismatch { expected: status },
        };
        // One thread reports it; a racing one finds it known.
        match cell.swap(FAILED, Ordering::Relaxed) {
            FAILED => Verdict::KnownBad,
            _ => Verdict::Failed(problem),
        }
    }

    /// How many variants have passed their check so far.
    pub fn passed(&self) -> usize {
        self.state
            .iter()
            .filter(|s| !matches!(s.load(Ordering::Relaxed), UNCHECKED | FAILED))
            .count()
    }
}

impl std::fmt::Debug for VariantChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariantChecks")
            .field("variants", &self.state.len())
            .field("passed", &self.passed())
            .finish()
    }
}

/// Recomputes a blob's digests after its bytes were edited: every
/// variant's `check` whose blocks are in the file, the index digest, then
/// the whole-file digest (as far as the header's fields allow). For tests
/// and fuzzers that alter a blob and want the reader to reach the rule the
/// edit breaks, not the digest it breaks first.
#[doc(hidden)]
pub fn reseal(v: &mut [u8]) {
    use crate::layout::{self, hdr, u16_at, u32_at, u64_at, variant};
    if v.len() < layout::HEADER_SIZE {
        return;
    }
    let size = v.len();
    // The block at `entry[off..]` of `len` bytes, if inside the file.
    let at = |entry: &[u8], off: usize, len: usize| -> Option<std::ops::Range<usize>> {
        let off = usize::try_from(u64_at(entry, off)).ok()?;
        let end = off.checked_add(len)?;
        (end <= size).then_some(off..end)
    };
    if u16_at(v, hdr::FLAGS) & layout::INDEXED != 0 {
        let vo = u64_at(v, hdr::VARIANTS_OFF) as usize;
        for i in 0..u32_at(v, hdr::VARIANT_COUNT) as usize {
            let Some(e) = i
                .checked_mul(layout::VARIANT_ENTRY_SIZE)
                .and_then(|x| x.checked_add(vo))
                .filter(|&e| e.saturating_add(layout::VARIANT_ENTRY_SIZE) <= v.len())
            else {
                break;
            };
            let entry = v[e..e + layout::VARIANT_ENTRY_SIZE].to_vec();
            let blocks = [
                (
                    variant::HEAD_OFF,
                    u32_at(&entry, variant::HEAD_LEN) as usize,
                ),
                (
                    variant::BODY_OFF,
                    u64_at(&entry, variant::BODY_LEN) as usize,
                ),
                (variant::NM_OFF, u32_at(&entry, variant::NM_LEN) as usize),
                (variant::H2_OFF, u32_at(&entry, variant::H2_LEN) as usize),
                (
                    variant::H2_NM_OFF,
                    u32_at(&entry, variant::H2_NM_LEN) as usize,
                ),
            ];
            let ranges: Option<Vec<_>> = blocks
                .into_iter()
                .filter(|&(_, len)| len > 0)
                .map(|(off, len)| at(&entry, off, len))
                .collect();
            if let Some(ranges) = ranges {
                let c = crate::read::check_of(ranges.into_iter().map(|r| &v[r]));
                v[e + variant::CHECK..e + variant::CHECK + 8].copy_from_slice(&c.to_le_bytes());
            }
        }
        let end = u64_at(v, hdr::STRINGS_OFF).saturating_add(u64_at(v, hdr::STRINGS_LEN));
        if let Ok(end) = usize::try_from(end) {
            if end <= v.len() && end >= layout::DIGEST_START + layout::INDEX_DIGEST_LEN {
                let d = end - layout::INDEX_DIGEST_LEN;
                let h = blake3::hash(&v[layout::DIGEST_START..d]);
                v[d..end].copy_from_slice(h.as_bytes());
            }
        }
    }
    let h = blake3::hash(&v[layout::DIGEST_START..]);
    v[hdr::DIGEST..hdr::DIGEST + 32].copy_from_slice(h.as_bytes());
}
