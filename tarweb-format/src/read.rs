//! Validating reader. `Blob::parse` checks every rule of `format-spec.md`
//! once, so the accessors afterwards only slice within bounds already proven.
//! It never panics on arbitrary bytes. On success it allocates only what
//! decoding the HTTP/2 header blocks needs, once per parse (not per
//! variant): a header list buffer of
//! [`MAX_H2_LIST_SIZE`](crate::MAX_H2_LIST_SIZE) bytes and 2,048 field
//! slots, 112 KiB in all. [`Verify::Lazy`] leaves each variant's blocks
//! to [`Blob::verify`] (`lazy.rs`); everything else is still checked here,
//! so a handle's accessors never slice out of bounds either way.
//!
//! Over 600 lines on purpose: the validating reader is one pass over the whole format, kept together so its checks read in the order of `format-spec.md` §8.

use crate::dynamic::{self, Captures, Rule, RuleKind};
use crate::h2::H2Reader;
use crate::head::{check_head, status_code, valid_etag};
use crate::header::{parse_header, Layout};
use crate::layout::{self, hdr, route, u16_at, u32_at, u64_at, variant, Coding};
use crate::read_error::{
    err, FormatError, FormatErrorKind, H2Problem, HeadProblem, RouteProblem, RuleProblem,
    RunProblem, VariantProblem,
};
use crate::rules::{check_route_path, is_route_status};
use crate::view::{Route, Variants};
use std::fmt;

/// A validated blob: a view over its bytes, made by [`Blob::parse`].
///
/// Every accessor slices within bounds the parse has proven, allocates
/// nothing and borrows from the bytes: `Blob`, [`Route`], [`Variants`] and
/// [`Variant`](crate::Variant) are small `Copy` handles.
#[derive(Clone, Copy)]
pub struct Blob<'a> {
    pub(crate) bytes: &'a [u8],
    layout: Layout,
}

/// What [`Blob::parse_with`] checks beyond structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Structure, bounds and the blake3 digest of the whole file.
    Full,
    /// Structure and bounds only (the digest is still read, not recomputed).
    SkipDigest,
    /// [`Verify::Full`], the digest hashed on up to this many threads
    /// ([`digest_threads`]): a server loading a large blob is not then
    /// bound by one core's hashing speed. The variants' `check` values are
    /// not compared: the whole-file digest already covers every byte they
    /// cover, and hashing each block again would double the load.
    FullThreads(usize),
    /// The index now, each variant before its first use: for an
    /// [`INDEXED`](crate::layout::INDEXED) blob, the index digest (on up
    /// to this many threads) and every rule that reads no byte of the data
    /// section; a variant's blocks (their `check`, heads, header blocks,
    /// its run's status) are checked by [`Blob::verify`], which a server
    /// calls before it sends any of them. Loading then costs the index,
    /// not the bytes. A blob that is not indexed is checked whole, as
    /// [`Verify::FullThreads`].
    Lazy(usize),
    /// [`Verify::Lazy`] without the digests (index digest, `check`
    /// values), as [`Verify::SkipDigest`] is [`Verify::Full`] without
    /// them: lets a fuzzer reach what a lazily checked blob's handles and
    /// [`Blob::verify`] do without forging blake3.
    LazySkipDigest,
}

/// blake3 of `data` on up to `threads` threads: the same digest as
/// `blake3::hash` (blake3 is a tree: subtrees are hashed apart and their
/// chaining values merged). One thread where one could not be started.
pub fn digest_threads(data: &[u8], threads: usize) -> blake3::Hash {
    use blake3::hazmat::{left_subtree_len, merge_subtrees_root, Mode};
    // Below this, starting a thread costs more than it saves.
    if threads <= 1 || data.len() <= PARALLEL_MIN {
        return blake3::hash(data);
    }
    let l = left_subtree_len(data.len() as u64);
    let (a, b) = data.split_at(l as usize);
    let (ca, cb) = both(
        || subtree(a, 0, threads / 2),
        || subtree(b, l, threads - threads / 2),
    );
    merge_subtrees_root(&ca, &cb, Mode::Hash)
}

const PARALLEL_MIN: usize = 1 << 20;

/// The chaining value of the subtree `data` at `offset` (aligned, as
/// blake3's tree places it), on up to `threads` threads.
fn subtree(data: &[u8], offset: u64, threads: usize) -> blake3::hazmat::ChainingValue {
    use blake3::hazmat::{left_subtree_len, merge_subtrees_non_root, HasherExt, Mode};
    if threads <= 1 || data.len() <= PARALLEL_MIN {
        return blake3::Hasher::new()
            .set_input_offset(offset)
            .update(data)
            .finalize_non_root();
    }
    let l = left_subtree_len(data.len() as u64);
    let (a, b) = data.split_at(l as usize);
    let (ca, cb) = both(
        || subtree(a, offset, threads / 2),
        || subtree(b, offset + l, threads - threads / 2),
    );
    merge_subtrees_non_root(&ca, &cb, Mode::Hash)
}

/// Runs `f` here and `g` on another thread (or here too, if none starts).
fn both<A, B: Send>(f: impl FnOnce() -> A, g: impl FnOnce() -> B + Send) -> (A, B) {
    // Kept here, so that a thread that cannot start leaves `g` to run.
    let g = std::sync::Mutex::new(Some(g));
    let run_g = || g.lock().ok().and_then(|mut g| g.take()).map(|g| g());
    std::thread::scope(
        |s| match std::thread::Builder::new().spawn_scoped(s, run_g) {
            Ok(h) => {
                let a = f();
                let b = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                (a, b.expect("g runs once"))
            }
            Err(_) => {
                let a = f();
                (a, run_g().expect("g runs once"))
            }
        },
    )
}

impl<'a> Blob<'a> {
    /// Validates everything `format-spec.md` §8 lists, the digest included,
    /// and returns a view over `bytes`; the [`FormatError`] says which rule
    /// the file breaks and at which offset.
    pub fn parse(bytes: &'a [u8]) -> Result<Blob<'a>, FormatError> {
        Self::parse_with(bytes, Verify::Full)
    }

    /// [`Blob::parse`], with the digest check optional: skipping it saves
    /// hashing the whole file when the bytes are already trusted (e.g.
    /// checked when copied), and lets a fuzzer reach the structure checks.
    pub fn parse_with(bytes: &'a [u8], verify: Verify) -> Result<Blob<'a>, FormatError> {
        let mut layout = parse_header(bytes)?;
        let indexed = layout.indexed();
        // (threads for the whole file's digest, for the index digest)
        let (whole, index) = match verify {
            Verify::Full => (Some(1), Some(1)),
            Verify::FullThreads(n) => (Some(n), Some(n)),
            Verify::Lazy(n) if !indexed => (Some(n), Some(n)),
            Verify::Lazy(n) => (None, Some(n)),
            Verify::SkipDigest | Verify::LazySkipDigest => (None, None),
        };
        layout.deferred = indexed && matches!(verify, Verify::Lazy(_) | Verify::LazySkipDigest);
        layout.check_values =
            indexed && index.is_some() && !matches!(verify, Verify::FullThreads(_));
        if let Some(threads) = whole {
            let digest = digest_threads(&bytes[layout::DIGEST_START..], threads);
            if digest.as_bytes() != &layout.digest {
                return err(
                    hdr::DIGEST as u64,
                    FormatErrorKind::DigestMismatch {
                        stored: layout.digest,
                        computed: *digest.as_bytes(),
                    },
                );
            }
        }
        if let (Some(threads), true) = (index, indexed) {
            let end = (layout.strings_off + layout.strings_len) as usize;
            let at = end - layout::INDEX_DIGEST_LEN;
            let computed = digest_threads(&bytes[layout::DIGEST_START..at], threads);
            if computed.as_bytes()[..] != bytes[at..end] {
                return err(
                    at as u64,
                    FormatErrorKind::IndexDigestMismatch {
                        stored: bytes[at..end].try_into().expect("32 bytes"),
                        computed: *computed.as_bytes(),
                    },
                );
            }
        }
        let blob = Blob { bytes, layout };
        blob.check_variants(whole.or(index).unwrap_or(1))?;
        blob.check_routes()?;
        if layout.not_found_count > 0 {
            blob.check_variant_range(layout.not_found_first, layout.not_found_count, 404)
                .map_err(|p| FormatError {
                    offset: hdr::NOT_FOUND_FIRST as u64,
                    kind: FormatErrorKind::NotFoundRun(p),
                })?;
        }
        blob.check_rules()?;
        Ok(blob)
    }

    /// A view over `bytes` that were already parsed into `layout`.
    /// Returns `None` if the length differs; the bytes must be the same ones
    /// (if not, accessors may panic, but never read out of bounds).
    pub fn with_layout(bytes: &'a [u8], layout: Layout) -> Option<Blob<'a>> {
        (bytes.len() as u64 == layout.file_size).then_some(Blob { bytes, layout })
    }

    /// The header's offsets and counts, to rebuild this view later with
    /// [`Blob::with_layout`].
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The blake3 digest stored in the header (verified by
    /// [`Verify::Full`]): it names the blob.
    pub fn digest(&self) -> [u8; 32] {
        self.layout.digest
    }

    /// The `encoder` id of the header: who compressed the variants that
    /// are not [`Variant::site_encoded`](crate::Variant::site_encoded), and with which settings (all
    /// zero: not said).
    pub fn encoder(&self) -> [u8; 8] {
        self.layout.encoder
    }

    /// The digest as lower-case hex, as `tarweb-pack` prints it.
    pub fn digest_hex(&self) -> String {
        hex(&self.layout.digest)
    }

    /// Number of routes.
    pub fn route_count(&self) -> usize {
        self.layout.route_count as usize
    }

    /// Route `i` in table order (sorted by path), `None` past the end.
    pub fn route(&self, i: usize) -> Option<Route<'a>> {
        (i < self.route_count()).then_some(Route { blob: *self, i })
    }

    /// Every route, sorted by path.
    pub fn routes(&self) -> impl Iterator<Item = Route<'a>> + 'a {
        let blob = *self;
        (0..blob.route_count()).map(move |i| Route { blob, i })
    }

    /// The route of an exact, decoded path (e.g. `b"/docs/"`), by binary
    /// search: no normalisation, `b"/docs"` is another route.
    pub fn lookup(&self, path: &[u8]) -> Option<Route<'a>> {
        let (mut lo, mut hi) = (0usize, self.route_count());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let r = Route {
                blob: *self,
                i: mid,
            };
            match r.path().cmp(path) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(r),
            }
        }
        None
    }

    /// The dynamic `_redirects` rules, in order (`format-spec.md` §5.1).
    pub fn rules(&self) -> impl Iterator<Item = Rule<'a>> + 'a {
        let blob = *self;
        let mut at = self.layout.rules_off as usize;
        (0..self.layout.rules_count).map(move |_| {
            let r = blob.rule_at(at).expect("validated rule");
            at += r.len;
            r
        })
    }

    /// The first dynamic rule matching `path` (a path no route has), and
    /// what its pattern took from the path, in `caps`.
    pub fn match_rule(&self, path: &[u8], caps: &mut Captures) -> Option<Rule<'a>> {
        self.rules()
            .find(|r| dynamic::matches(r.pattern(), path, caps))
    }

    /// The rule record at strings offset `at`, if its bytes are there.
    fn rule_at(&self, at: usize) -> Option<Rule<'a>> {
        let strings = self.string(0, self.layout.strings_len as usize);
        let h = strings.get(at..at.checked_add(dynamic::RECORD_HEAD)?)?;
        let pl = usize::from(u16_at(h, 10));
        let tl = usize::from(u16_at(h, 12));
        let body = at + dynamic::RECORD_HEAD;
        strings.get(body..body + pl + tl)?;
        Some(Rule {
            blob: *self,
            head: h,
            pattern: &strings[body..body + pl],
            template: &strings[body + pl..body + pl + tl],
            len: dynamic::RECORD_HEAD + pl + tl,
        })
    }

    fn check_rules(&self) -> Result<(), FormatError> {
        let n = usize::from(self.layout.rules_count);
        let bad = |index: usize, problem| {
            err(
                hdr::RULES_OFF as u64,
                FormatErrorKind::Rule { index, problem },
            )
        };
        if n == 0 {
            return match self.layout.rules_off {
                0 => Ok(()),
                _ => bad(0, RuleProblem::Outside),
            };
        }
        if n > dynamic::MAX_RULES {
            return bad(0, RuleProblem::TooMany(n));
        }
        let mut at = self.layout.rules_off as usize;
        for i in 0..n {
            let Some(r) = self.rule_at(at) else {
                return bad(i, RuleProblem::Outside);
            };
            at += r.len;
            let Some(kind) = RuleKind::from_u8(r.head[0]) else {
                return bad(i, RuleProblem::Kind(r.head[0]));
            };
            if r.head[1] != 0 {
                return bad(i, RuleProblem::Reserved);
            }
            let status = r.status();
            let status_ok = match kind {
                RuleKind::Redirect => matches!(status, 301 | 302 | 303 | 307 | 308),
                RuleKind::Rewrite => status == 200,
                RuleKind::NotFound => status == 404,
            };
            if !status_ok {
                return bad(i, RuleProblem::Status(status));
            }
            if !dynamic::check_pattern(r.pattern) {
                return bad(i, RuleProblem::Pattern);
            }
            let (first, count) = (u32_at(r.head, 4), u16_at(r.head, 8));
            let run = count > 0;
            // A stored run (a redirect with a fixed target, a 404 body) or a
            // template (a redirect with captures, a rewrite), never both.
            let shape_ok = match kind {
                RuleKind::Redirect => run == r.template.is_empty(),
                RuleKind::Rewrite => !run && !r.template.is_empty(),
                RuleKind::NotFound => run && r.template.is_empty(),
            };
            if !shape_ok || (!run && first != 0) {
                return bad(i, RuleProblem::Shape);
            }
            if !dynamic::check_template(r.template, dynamic::shape(r.pattern)) {
                return bad(i, RuleProblem::Template);
            }
            if run {
                if let Err(p) = self.check_variant_range(first, count, status) {
                    return bad(i, RuleProblem::Run(p));
                }
            }
        }
        Ok(())
    }

    /// The variants of the site's 404 response, when it has one.
    pub fn not_found(&self) -> Option<Variants<'a>> {
        (self.layout.not_found_count > 0).then_some(Variants {
            blob: *self,
            first: self.layout.not_found_first as usize,
            count: self.layout.not_found_count as usize,
        })
    }

    /// Every variant entry, in table order.
    pub fn all_variants(&self) -> Variants<'a> {
        Variants {
            blob: *self,
            first: 0,
            count: self.layout.variant_count as usize,
        }
    }

    pub(crate) fn route_entry(&self, i: usize) -> &'a [u8] {
        let at = self.layout.routes_off as usize + i * layout::ROUTE_ENTRY_SIZE;
        &self.bytes[at..at + layout::ROUTE_ENTRY_SIZE]
    }

    pub(crate) fn variant_entry(&self, i: usize) -> &'a [u8] {
        let at = self.layout.variants_off as usize + i * layout::VARIANT_ENTRY_SIZE;
        &self.bytes[at..at + layout::VARIANT_ENTRY_SIZE]
    }

    pub(crate) fn string(&self, off: u32, len: usize) -> &'a [u8] {
        let at = self.layout.strings_off as usize + off as usize;
        &self.bytes[at..at + len]
    }

    /// `[off, off+len)` inside the data section?
    fn in_data(&self, off: u64, len: u64) -> bool {
        off >= self.layout.data_off
            && off
                .checked_add(len)
                .is_some_and(|end| end <= self.layout.file_size)
    }

    fn in_strings(&self, off: u32, len: u64) -> bool {
        u64::from(off) + len <= self.layout.strings_len
    }

    /// Checks every variant entry, on up to `threads` threads (ranges of
    /// entries; the error reported is the first one's in entry order,
    /// whatever the number of threads).
    fn check_variants(&self, threads: usize) -> Result<(), FormatError> {
        self.check_variant_entries(0, self.layout.variant_count as usize, threads)
    }

    fn check_variant_entries(
        &self,
        lo: usize,
        hi: usize,
        threads: usize,
    ) -> Result<(), FormatError> {
        // Below this many entries a thread costs more than it saves.
        if threads <= 1 || hi - lo < 4096 {
            return self.check_variant_range_entries(lo, hi);
        }
        let mid = lo + (hi - lo) / 2;
        let (a, b) = both(
            || self.check_variant_entries(lo, mid, threads / 2),
            || self.check_variant_entries(mid, hi, threads - threads / 2),
        );
        a.and(b)
    }

    fn check_variant_range_entries(&self, lo: usize, hi: usize) -> Result<(), FormatError> {
        if lo >= hi {
            return Ok(());
        }
        // Deferred: blocks are checked by `verify`, before first use.
        let mut h2 = (!self.layout.deferred).then(H2Reader::new);
        for i in lo..hi {
            let at = self.layout.variants_off + (i * layout::VARIANT_ENTRY_SIZE) as u64;
            let r = self
                .check_entry(i)
                .and_then(|()| h2.as_mut().map_or(Ok(()), |h2| self.check_blocks(i, h2)));
            if let Err(problem) = r {
                return err(at, FormatErrorKind::Variant { index: i, problem });
            }
        }
        Ok(())
    }

    /// The rules of variant entry `i` that read only the index: codings,
    /// flags, every block inside the data section, the lengths inside
    /// their blocks, the ETag. What a handle's accessors rely on to slice
    /// without panicking, checked or not.
    fn check_entry(&self, i: usize) -> Result<(), VariantProblem> {
        use VariantProblem as P;
        let e = self.variant_entry(i);
        if Coding::from_u8(e[variant::CODING]).is_none() {
            return Err(P::UnknownCoding(e[variant::CODING]));
        }
        if e[variant::FLAGS] & !layout::SITE_ENCODED != 0
            || u16_at(e, variant::RESERVED_A) != 0
            || (!self.layout.indexed() && u64_at(e, variant::CHECK) != 0)
            || u16_at(e, variant::RESERVED_C) != 0
        {
            return Err(P::Reserved);
        }
        if e[variant::FLAGS] & layout::SITE_ENCODED != 0
            && e[variant::CODING] == Coding::Identity as u8
        {
            return Err(P::SiteEncodedIdentity);
        }
        let (head_off, head_len) = (
            u64_at(e, variant::HEAD_OFF),
            u64::from(u32_at(e, variant::HEAD_LEN)),
        );
        let (body_off, body_len) = (u64_at(e, variant::BODY_OFF), u64_at(e, variant::BODY_LEN));
        if !self.in_data(head_off, head_len) {
            return Err(P::HeadOutside {
                off: head_off,
                len: head_len,
            });
        }
        if !self.in_data(body_off, body_len) {
            return Err(P::BodyOutside {
                off: body_off,
                len: body_len,
            });
        }
        let status_len = u64::from(u16_at(e, variant::STATUS_LEN));
        let length_len = u64::from(u16_at(e, variant::LENGTH_LEN));
        if status_len > head_len {
            return Err(P::Head(HeadProblem::StatusLenPastEnd {
                status_len: status_len as usize,
            }));
        }
        if status_len + length_len > head_len {
            return Err(P::Head(HeadProblem::LengthLinePastEnd));
        }
        let (nm_off, nm_len) = (
            u64_at(e, variant::NM_OFF),
            u64::from(u32_at(e, variant::NM_LEN)),
        );
        let nm_status_len = u64::from(u16_at(e, variant::NM_STATUS_LEN));
        if nm_len == 0 {
            if nm_off != 0 || nm_status_len != 0 {
                return Err(P::NotModifiedFieldsSet);
            }
        } else {
            if !self.in_data(nm_off, nm_len) {
                return Err(P::NotModifiedOutside {
                    off: nm_off,
                    len: nm_len,
                });
            }
            if nm_status_len > nm_len {
                return Err(P::NotModifiedHead(HeadProblem::StatusLenPastEnd {
                    status_len: nm_status_len as usize,
                }));
            }
        }
        let (h2_off, h2_len) = (
            u64_at(e, variant::H2_OFF),
            u64::from(u32_at(e, variant::H2_LEN)),
        );
        if !self.in_data(h2_off, h2_len) {
            return Err(P::H2Outside {
                off: h2_off,
                len: h2_len,
            });
        }
        let h2_fixed = u64::from(u16_at(e, variant::H2_STATUS_LEN))
            + u64::from(u16_at(e, variant::H2_LENGTH_LEN));
        if h2_fixed > h2_len {
            return Err(P::H2Block(H2Problem::LengthsPastEnd));
        }
        let (h2_nm_off, h2_nm_len) = (
            u64_at(e, variant::H2_NM_OFF),
            u64::from(u32_at(e, variant::H2_NM_LEN)),
        );
        let h2_nm_status_len = u64::from(u16_at(e, variant::H2_NM_STATUS_LEN));
        if h2_nm_len == 0 && (h2_nm_off != 0 || h2_nm_status_len != 0) {
            return Err(P::H2NotModifiedFieldsSet);
        }
        if (h2_nm_len > 0) != (nm_len > 0) {
            return Err(P::H2NotModifiedMismatch {
                has_head: nm_len > 0,
            });
        }
        if h2_nm_len > 0 {
            if !self.in_data(h2_nm_off, h2_nm_len) {
                return Err(P::H2NotModifiedOutside {
                    off: h2_nm_off,
                    len: h2_nm_len,
                });
            }
            if h2_nm_status_len > h2_nm_len {
                return Err(P::H2NotModifiedBlock(H2Problem::LengthsPastEnd));
            }
        }
        let (etag_off, etag_len) = (
            u32_at(e, variant::ETAG_OFF),
            usize::from(u16_at(e, variant::ETAG_LEN)),
        );
        if etag_len == 0 {
            if etag_off != 0 {
                return Err(P::EtagOffsetSet);
            }
        } else {
            if !self.in_strings(etag_off, etag_len as u64) {
                return Err(P::EtagOutside);
            }
            if !valid_etag(self.string(etag_off, etag_len)) {
                return Err(P::EtagInvalid);
            }
        }
        Ok(())
    }

    /// The rules of variant `i` (its entry checked) that read its blocks:
    /// its `check` (when compared), heads, header blocks. `h2` decodes the
    /// blocks (reused from one variant to the next).
    pub(crate) fn check_blocks(&self, i: usize, h2: &mut H2Reader) -> Result<(), VariantProblem> {
        use VariantProblem as P;
        let e = self.variant_entry(i);
        let block = |off: usize, len: usize| -> &'a [u8] {
            let (off, len) = (u64_at(e, off) as usize, len);
            &self.bytes[off..off + len]
        };
        let head = block(variant::HEAD_OFF, u32_at(e, variant::HEAD_LEN) as usize);
        let body_len = u64_at(e, variant::BODY_LEN);
        let body = block(variant::BODY_OFF, body_len as usize);
        let nm_len = u32_at(e, variant::NM_LEN) as usize;
        let nm = (nm_len > 0).then(|| block(variant::NM_OFF, nm_len));
        let h2_block = block(variant::H2_OFF, u32_at(e, variant::H2_LEN) as usize);
        let h2_nm_len = u32_at(e, variant::H2_NM_LEN) as usize;
        let h2_nm = (h2_nm_len > 0).then(|| block(variant::H2_NM_OFF, h2_nm_len));
        if self.layout.check_values {
            let blocks = [Some(head), Some(body), nm, Some(h2_block), h2_nm];
            let (stored, computed) = (
                u64_at(e, variant::CHECK),
                check_of(blocks.into_iter().flatten()),
            );
            if stored != computed {
                return Err(P::CheckMismatch { stored, computed });
            }
        }
        let status_len = usize::from(u16_at(e, variant::STATUS_LEN));
        let length_len = usize::from(u16_at(e, variant::LENGTH_LEN));
        check_head(head, status_len, Some((length_len, body_len))).map_err(P::Head)?;
        if let Some(nm) = nm {
            let nm_status_len = usize::from(u16_at(e, variant::NM_STATUS_LEN));
            check_head(nm, nm_status_len, None).map_err(P::NotModifiedHead)?;
            if status_code(nm) != Some(304) {
                return Err(P::NotModifiedStatus);
            }
        }
        // The HTTP/2 block carries the head's status (the run's check
        // ties that to the route's) and its body length.
        let status = status_code(head).unwrap_or(0);
        let h2_status_len = usize::from(u16_at(e, variant::H2_STATUS_LEN));
        let h2_length_len = usize::from(u16_at(e, variant::H2_LENGTH_LEN));
        h2.check(
            h2_block,
            h2_status_len,
            Some((h2_length_len, body_len)),
            status,
        )
        .map_err(P::H2Block)?;
        if let Some(b) = h2_nm {
            let h2_nm_status_len = usize::from(u16_at(e, variant::H2_NM_STATUS_LEN));
            h2.check(b, h2_nm_status_len, None, 304)
                .map_err(P::H2NotModifiedBlock)?;
        }
        Ok(())
    }

    fn check_routes(&self) -> Result<(), FormatError> {
        let mut prev: Option<&[u8]> = None;
        for i in 0..self.route_count() {
            let at = self.layout.routes_off + (i * layout::ROUTE_ENTRY_SIZE) as u64;
            let e = self.route_entry(i);
            let bad = |problem| err(at, FormatErrorKind::Route { index: i, problem });
            if u16_at(e, route::FLAGS) != 0 || u16_at(e, route::RESERVED) != 0 {
                return bad(RouteProblem::Reserved);
            }
            let (auth_off, auth_count) = (u32_at(e, route::AUTH_OFF), u16_at(e, route::AUTH_COUNT));
            let auth_len =
                layout::AUTH_SALT_LEN + usize::from(auth_count) * layout::AUTH_DIGEST_LEN;
            let auth_ok = match auth_count {
                0 => auth_off == 0,
                n => {
                    usize::from(n) <= layout::MAX_AUTH
                        && u16_at(e, route::STATUS) == 200
                        && self.in_strings(auth_off, auth_len as u64)
                }
            };
            if !auth_ok {
                return bad(RouteProblem::Auth);
            }
            let (path_off, path_len) = (
                u32_at(e, route::PATH_OFF),
                usize::from(u16_at(e, route::PATH_LEN)),
            );
            if path_len == 0 || path_len > layout::MAX_PATH_LEN {
                return bad(RouteProblem::PathLength(path_len));
            }
            if !self.in_strings(path_off, path_len as u64) {
                return bad(RouteProblem::PathOutside);
            }
            let path = self.string(path_off, path_len);
            if let Err(error) = check_route_path(path) {
                return bad(RouteProblem::Path {
                    path: path.to_vec(),
                    error,
                });
            }
            if prev.is_some_and(|p| p >= path) {
                return bad(RouteProblem::Unsorted {
                    path: path.to_vec(),
                });
            }
            prev = Some(path);
            let status = u16_at(e, route::STATUS);
            if !is_route_status(status) {
                return bad(RouteProblem::Status(status));
            }
            let (first, count) = (
                u32_at(e, route::FIRST_VARIANT),
                u16_at(e, route::VARIANT_COUNT),
            );
            if let Err(p) = self.check_variant_range(first, count, status) {
                return bad(RouteProblem::Run(p));
            }
        }
        Ok(())
    }

    /// A route's (or the 404's) variants: in the table, 1 to 4 of them,
    /// distinct codings, one identity, sorted by body length, and every
    /// head's status line carries `status`.
    fn check_variant_range(&self, first: u32, count: u16, status: u16) -> Result<(), RunProblem> {
        let count = usize::from(count);
        if count == 0 || count > layout::MAX_VARIANTS_PER_ROUTE {
            return Err(RunProblem::Count(count));
        }
        let first = first as usize;
        if first + count > self.layout.variant_count as usize {
            return Err(RunProblem::PastTable { first, count });
        }
        let vs = Variants {
            blob: *self,
            first,
            count,
        };
        let mut seen = [false; 4];
        let mut prev_len = 0u64;
        for v in vs.iter() {
            if std::mem::replace(&mut seen[v.coding() as usize], true) {
                return Err(RunProblem::DuplicateCoding(v.coding()));
            }
            if v.body_len() < prev_len {
                return Err(RunProblem::NotSorted);
            }
            prev_len = v.body_len();
            // Deferred, the head is not read now: `verify` checks it.
            if !self.layout.deferred && status_code(v.head()) != Some(status) {
                return Err(RunProblem::StatusMismatch {
                    variant: v.index(),
                    expected: status,
                });
            }
            let resource = status == 200;
            if resource && v.etag().is_none() {
                return Err(RunProblem::MissingEtag { variant: v.index() });
            }
            if !resource && (v.etag().is_some() || v.not_modified().is_some()) {
                return Err(RunProblem::UnexpectedValidator { variant: v.index() });
            }
        }
        if !seen[Coding::Identity as usize] {
            return Err(RunProblem::NoIdentity);
        }
        Ok(())
    }
}

/// A variant entry's `check` (`format-spec.md` §4): the first 8 bytes,
/// little-endian, of blake3 over its blocks as stored, in entry order
/// (head, body, 304 head, HTTP/2 block, HTTP/2 304 block; absent ones
/// left out). The one definition the writer, the reader and `reseal` use.
pub(crate) fn check_of<'b>(blocks: impl IntoIterator<Item = &'b [u8]>) -> u64 {
    let mut h = blake3::Hasher::new();
    for b in blocks {
        h.update(b);
    }
    check_value(&h)
}

/// [`check_of`] the blocks fed to `h`, in entry order: for the writer,
/// which streams a body from its file through the hasher in chunks.
pub(crate) fn check_value(h: &blake3::Hasher) -> u64 {
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// Debug shows what a handle points at, not the bytes behind it.

impl fmt::Debug for Blob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob")
            .field("file_size", &self.layout.file_size)
            .field("routes", &self.layout.route_count)
            .field("variants", &self.layout.variant_count)
            .field("digest", &self.digest_hex())
            .finish()
    }
}

#[cfg(test)]
mod digest_tests {
    use super::digest_threads;

    /// Split on threads, the digest is blake3's, at lengths around the
    /// split points (powers of two of chunks, odd tails).
    #[test]
    fn threads_give_blake3() {
        let data: Vec<u8> = (0..(5u32 << 20) + 4097)
            .map(|i| (i * 7 + i / 251) as u8)
            .collect();
        for len in [
            0,
            1,
            1024,
            1025,
            1 << 20,
            (1 << 20) + 1,
            (3 << 20) + 1000,
            data.len(),
        ] {
            let want = blake3::hash(&data[..len]);
            for t in [1, 2, 3, 4, 8] {
                assert_eq!(
                    digest_threads(&data[..len], t),
                    want,
                    "len {len}, {t} threads"
                );
            }
        }
    }
}
