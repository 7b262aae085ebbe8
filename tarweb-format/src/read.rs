//! Validating reader. `Blob::parse` checks every rule of `format-spec.md`
//! once, so the accessors afterwards only slice within bounds already proven.
//! It allocates nothing on success and never panics on arbitrary bytes.

use crate::head::{check_head, status_code, valid_etag};
use crate::header::{parse_header, Layout};
use crate::layout::{self, hdr, route, u16_at, u32_at, u64_at, variant, Coding};
use crate::read_error::{
    err, FormatError, FormatErrorKind, RouteProblem, RunProblem, VariantProblem,
};
use crate::rules::{check_route_path, is_route_status};

/// A validated blob: a view over its bytes.
#[derive(Clone, Copy)]
pub struct Blob<'a> {
    bytes: &'a [u8],
    layout: Layout,
}

/// What `parse` checks beyond structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Structure, bounds and the blake3 digest of the whole file.
    Full,
    /// Structure and bounds only (the digest is still read, not recomputed).
    SkipDigest,
}

impl<'a> Blob<'a> {
    /// Validates everything, digest included.
    pub fn parse(bytes: &'a [u8]) -> Result<Blob<'a>, FormatError> {
        Self::parse_with(bytes, Verify::Full)
    }

    pub fn parse_with(bytes: &'a [u8], verify: Verify) -> Result<Blob<'a>, FormatError> {
        let layout = parse_header(bytes)?;
        if verify == Verify::Full {
            let digest = blake3::hash(&bytes[layout::DIGEST_START..]);
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
        let blob = Blob { bytes, layout };
        blob.check_variants()?;
        blob.check_routes()?;
        if layout.not_found_count > 0 {
            blob.check_variant_range(layout.not_found_first, layout.not_found_count, 404)
                .map_err(|p| FormatError {
                    offset: hdr::NOT_FOUND_FIRST as u64,
                    kind: FormatErrorKind::NotFoundRun(p),
                })?;
        }
        Ok(blob)
    }

    /// A view over `bytes` that were already parsed into `layout`.
    /// Returns `None` if the length differs; the bytes must be the same ones
    /// (if not, accessors may panic, but never read out of bounds).
    pub fn with_layout(bytes: &'a [u8], layout: Layout) -> Option<Blob<'a>> {
        (bytes.len() as u64 == layout.file_size).then_some(Blob { bytes, layout })
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn digest(&self) -> [u8; 32] {
        self.layout.digest
    }

    /// The digest as lower-case hex, as `tarweb-pack` prints it.
    pub fn digest_hex(&self) -> String {
        hex(&self.layout.digest)
    }

    pub fn route_count(&self) -> usize {
        self.layout.route_count as usize
    }

    pub fn route(&self, i: usize) -> Option<Route<'a>> {
        (i < self.route_count()).then_some(Route { blob: *self, i })
    }

    pub fn routes(&self) -> impl Iterator<Item = Route<'a>> + 'a {
        let blob = *self;
        (0..blob.route_count()).map(move |i| Route { blob, i })
    }

    /// Binary search for an exact, decoded path (e.g. `b"/docs/"`).
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

    fn route_entry(&self, i: usize) -> &'a [u8] {
        let at = self.layout.routes_off as usize + i * layout::ROUTE_ENTRY_SIZE;
        &self.bytes[at..at + layout::ROUTE_ENTRY_SIZE]
    }

    fn variant_entry(&self, i: usize) -> &'a [u8] {
        let at = self.layout.variants_off as usize + i * layout::VARIANT_ENTRY_SIZE;
        &self.bytes[at..at + layout::VARIANT_ENTRY_SIZE]
    }

    fn string(&self, off: u32, len: usize) -> &'a [u8] {
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

    fn check_variants(&self) -> Result<(), FormatError> {
        for i in 0..self.layout.variant_count as usize {
            let at = self.layout.variants_off + (i * layout::VARIANT_ENTRY_SIZE) as u64;
            let e = self.variant_entry(i);
            let bad = |problem| err(at, FormatErrorKind::Variant { index: i, problem });
            if Coding::from_u8(e[variant::CODING]).is_none() {
                return bad(VariantProblem::UnknownCoding(e[variant::CODING]));
            }
            if e[variant::FLAGS] != 0
                || u16_at(e, variant::RESERVED_A) != 0
                || u64_at(e, variant::RESERVED_B) != 0
            {
                return bad(VariantProblem::Reserved);
            }
            let (head_off, head_len) = (
                u64_at(e, variant::HEAD_OFF),
                u64::from(u32_at(e, variant::HEAD_LEN)),
            );
            let (body_off, body_len) = (u64_at(e, variant::BODY_OFF), u64_at(e, variant::BODY_LEN));
            if !self.in_data(head_off, head_len) {
                return bad(VariantProblem::HeadOutside {
                    off: head_off,
                    len: head_len,
                });
            }
            if !self.in_data(body_off, body_len) {
                return bad(VariantProblem::BodyOutside {
                    off: body_off,
                    len: body_len,
                });
            }
            let head = &self.bytes[head_off as usize..(head_off + head_len) as usize];
            let status_len = usize::from(u16_at(e, variant::STATUS_LEN));
            let length_len = usize::from(u16_at(e, variant::LENGTH_LEN));
            if let Err(p) = check_head(head, status_len, Some((length_len, body_len))) {
                return bad(VariantProblem::Head(p));
            }
            let (nm_off, nm_len) = (
                u64_at(e, variant::NM_OFF),
                u64::from(u32_at(e, variant::NM_LEN)),
            );
            let nm_status_len = usize::from(u16_at(e, variant::NM_STATUS_LEN));
            if nm_len == 0 {
                if nm_off != 0 || nm_status_len != 0 {
                    return bad(VariantProblem::NotModifiedFieldsSet);
                }
            } else {
                if !self.in_data(nm_off, nm_len) {
                    return bad(VariantProblem::NotModifiedOutside {
                        off: nm_off,
                        len: nm_len,
                    });
                }
                let nm = &self.bytes[nm_off as usize..(nm_off + nm_len) as usize];
                if let Err(p) = check_head(nm, nm_status_len, None) {
                    return bad(VariantProblem::NotModifiedHead(p));
                }
                if status_code(nm) != Some(304) {
                    return bad(VariantProblem::NotModifiedStatus);
                }
            }
            let (etag_off, etag_len) = (
                u32_at(e, variant::ETAG_OFF),
                usize::from(u16_at(e, variant::ETAG_LEN)),
            );
            if etag_len == 0 {
                if etag_off != 0 {
                    return bad(VariantProblem::EtagOffsetSet);
                }
            } else {
                if !self.in_strings(etag_off, etag_len as u64) {
                    return bad(VariantProblem::EtagOutside);
                }
                if !valid_etag(self.string(etag_off, etag_len)) {
                    return bad(VariantProblem::EtagInvalid);
                }
            }
        }
        Ok(())
    }

    fn check_routes(&self) -> Result<(), FormatError> {
        let mut prev: Option<&[u8]> = None;
        for i in 0..self.route_count() {
            let at = self.layout.routes_off + (i * layout::ROUTE_ENTRY_SIZE) as u64;
            let e = self.route_entry(i);
            let bad = |problem| err(at, FormatErrorKind::Route { index: i, problem });
            if u16_at(e, route::FLAGS) != 0 || u64_at(e, route::RESERVED) != 0 {
                return bad(RouteProblem::Reserved);
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
            if status_code(v.head()) != Some(status) {
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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One route: a path and its variants.
#[derive(Clone, Copy)]
pub struct Route<'a> {
    blob: Blob<'a>,
    i: usize,
}

impl<'a> Route<'a> {
    pub fn index(&self) -> usize {
        self.i
    }
    fn e(&self) -> &'a [u8] {
        self.blob.route_entry(self.i)
    }
    /// The decoded URL path, e.g. `b"/docs/"`.
    pub fn path(&self) -> &'a [u8] {
        let e = self.e();
        self.blob.string(
            u32_at(e, route::PATH_OFF),
            usize::from(u16_at(e, route::PATH_LEN)),
        )
    }
    /// 200 for a resource, 301/302/303/307/308 for a redirect.
    pub fn status(&self) -> u16 {
        u16_at(self.e(), route::STATUS)
    }
    /// Seconds since the Unix epoch (the `Last-Modified` of a 200 route).
    pub fn last_modified(&self) -> i64 {
        u64_at(self.e(), route::LAST_MODIFIED) as i64
    }
    /// Sorted by body length: the first acceptable one is the smallest.
    pub fn variants(&self) -> Variants<'a> {
        let e = self.e();
        Variants {
            blob: self.blob,
            first: u32_at(e, route::FIRST_VARIANT) as usize,
            count: usize::from(u16_at(e, route::VARIANT_COUNT)),
        }
    }
}

/// A run of variants (one route's, or the 404's).
#[derive(Clone, Copy)]
pub struct Variants<'a> {
    blob: Blob<'a>,
    first: usize,
    count: usize,
}

impl<'a> Variants<'a> {
    pub fn len(&self) -> usize {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Index of the first variant in the blob's variant table.
    pub fn first_index(&self) -> usize {
        self.first
    }
    pub fn get(&self, i: usize) -> Option<Variant<'a>> {
        (i < self.count).then(|| Variant {
            blob: self.blob,
            i: self.first + i,
        })
    }
    pub fn iter(&self) -> impl Iterator<Item = Variant<'a>> + 'a {
        let (blob, first) = (self.blob, self.first);
        (first..first + self.count).map(move |i| Variant { blob, i })
    }
    pub fn identity(&self) -> Variant<'a> {
        self.iter()
            .find(|v| v.coding() == Coding::Identity)
            .expect("validated: every run has an identity variant")
    }
}

/// One stored response: head (status line, `Content-Length` line, other
/// headers, empty line) and body, plus its optional 304 block.
#[derive(Clone, Copy)]
pub struct Variant<'a> {
    blob: Blob<'a>,
    i: usize,
}

impl<'a> Variant<'a> {
    pub fn index(&self) -> usize {
        self.i
    }
    fn e(&self) -> &'a [u8] {
        self.blob.variant_entry(self.i)
    }
    pub fn coding(&self) -> Coding {
        Coding::from_u8(self.e()[variant::CODING]).expect("validated coding")
    }
    pub fn head_off(&self) -> u64 {
        u64_at(self.e(), variant::HEAD_OFF)
    }
    /// The whole head, status line to empty line.
    pub fn head(&self) -> &'a [u8] {
        let off = self.head_off() as usize;
        &self.blob.bytes[off..off + u32_at(self.e(), variant::HEAD_LEN) as usize]
    }
    /// `HTTP/1.1 200 OK\r\n`: dynamic lines go right after it.
    pub fn status_line(&self) -> &'a [u8] {
        &self.head()[..usize::from(u16_at(self.e(), variant::STATUS_LEN))]
    }
    /// `Content-Length: N\r\n` (a 206 replaces it).
    pub fn length_line(&self) -> &'a [u8] {
        let s = usize::from(u16_at(self.e(), variant::STATUS_LEN));
        &self.head()[s..s + usize::from(u16_at(self.e(), variant::LENGTH_LEN))]
    }
    /// Everything after the `Content-Length` line, through the empty line.
    pub fn fields(&self) -> &'a [u8] {
        let e = self.e();
        let s = usize::from(u16_at(e, variant::STATUS_LEN))
            + usize::from(u16_at(e, variant::LENGTH_LEN));
        &self.head()[s..]
    }
    pub fn body_off(&self) -> u64 {
        u64_at(self.e(), variant::BODY_OFF)
    }
    pub fn body_len(&self) -> u64 {
        u64_at(self.e(), variant::BODY_LEN)
    }
    pub fn body(&self) -> &'a [u8] {
        let off = self.body_off() as usize;
        &self.blob.bytes[off..off + self.body_len() as usize]
    }
    /// True when the body follows the head directly in the file, so one
    /// `sendfile` from `head_off() + status_line().len()` sends the rest.
    pub fn contiguous(&self) -> bool {
        self.head_off() + self.head().len() as u64 == self.body_off()
    }
    /// The strong entity-tag, quotes included, e.g. `"3f0c…"`.
    pub fn etag(&self) -> Option<&'a [u8]> {
        let e = self.e();
        let len = usize::from(u16_at(e, variant::ETAG_LEN));
        (len > 0).then(|| self.blob.string(u32_at(e, variant::ETAG_OFF), len))
    }
    /// The precomputed `304 Not Modified` head, when the route has one.
    pub fn not_modified(&self) -> Option<NotModified<'a>> {
        let e = self.e();
        let len = u32_at(e, variant::NM_LEN) as usize;
        (len > 0).then(|| {
            let off = u64_at(e, variant::NM_OFF);
            NotModified {
                off,
                head: &self.blob.bytes[off as usize..off as usize + len],
                status_len: usize::from(u16_at(e, variant::NM_STATUS_LEN)),
            }
        })
    }
}

/// A 304 head: a status line, then header lines and the empty line.
#[derive(Clone, Copy)]
pub struct NotModified<'a> {
    pub off: u64,
    pub head: &'a [u8],
    pub status_len: usize,
}

impl<'a> NotModified<'a> {
    pub fn status_line(&self) -> &'a [u8] {
        &self.head[..self.status_len]
    }
    pub fn fields(&self) -> &'a [u8] {
        &self.head[self.status_len..]
    }
}
