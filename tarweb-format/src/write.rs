//! Writer: lays out routes, variants and response blocks as `format-spec.md`
//! says. The caller decides which headers a response has; this module owns
//! how they become bytes (status line, `Content-Length`, order, CRLFs; and
//! the same fields as an HTTP/2 header block) and where every block lands
//! in the file.
//!
//! Over 600 lines on purpose: the writer lays out every section in one place, the mirror of `read.rs` (`spill.rs` keeps the built blocks meanwhile).

use crate::body::Body;
use crate::dynamic::{self, RuleKind, Token};
use crate::h2::{build_h2_block, H2Block};
use crate::head::{content_length_line, valid_etag};
use crate::layout::{self, hdr, route, variant, Coding};
use crate::place::place;
use crate::read::check_value;
use crate::rules::{self, check_route_path, is_route_status, is_tchar};
use crate::spill::{Blocks, HashHeads, Spill, NONE};
use crate::write_error::{InvalidKind, SpecPart, WriteError};
use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, Seek, SeekFrom, Write};

/// One stored response (a variant of a route, or of the 404): the writer
/// adds the status line (the route's status) and the `Content-Length` line,
/// then these headers, then the empty line, then the body. It also stores
/// the same fields as an HTTP/2 header block: `:status`, `content-length`,
/// then these headers with lower-cased names, without the connection-specific
/// ones HTTP/2 forbids ([`is_connection_specific`](crate::rules::is_connection_specific)).
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    /// The coding `body` is in; a run has each coding at most once and
    /// always `identity`. The caller adds the `Content-Encoding` header.
    pub coding: Coding,
    /// Header fields after `Content-Length`, in this order. Must not contain
    /// `Content-Length` (the writer adds it from the body).
    /// Names must be tokens, values free of control bytes (HTAB allowed);
    /// as an HTTP/2 header list, with `:status` and `content-length`, at
    /// most [`MAX_H2_LIST_SIZE`](crate::MAX_H2_LIST_SIZE) bytes (name +
    /// value + 32 per field).
    pub headers: Vec<(String, String)>,
    /// The body, in `coding`: bytes, or a range of a file the writer
    /// reads when it needs them. Identical bodies are stored once.
    pub body: Body,
    /// Strong entity-tag with quotes; required on 200 routes, where `headers`
    /// must carry the same value as `ETag`.
    pub etag: Option<String>,
    /// Header fields of the `304 Not Modified` head (200 routes only).
    pub not_modified: Option<Vec<(String, String)>>,
    /// The body's encoding is the site's own (a precompressed file), not
    /// the encoder's named by [`BlobSpec::encoder`]; never for `identity`.
    pub site_encoded: bool,
}

/// A route: a path and the responses it answers with.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Decoded URL path, e.g. `/docs/` (see [`check_route_path`]).
    pub path: String,
    /// 200, or a redirect status (301, 302, 303, 307, 308).
    pub status: u16,
    /// Seconds since the Unix epoch (`Last-Modified`); 0 for redirects.
    pub last_modified: i64,
    /// One response per coding, 1 to 4, one of them `identity`; in any
    /// order (the writer sorts them by body length).
    pub variants: Vec<ResponseSpec>,
    /// Basic-Auth: only a client sending one of these credentials gets
    /// the route (200 routes only).
    pub auth: Option<AuthSpec>,
}

/// The credentials a route accepts, as digests
/// ([`basic_auth_digest`](crate::rules::basic_auth_digest)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSpec {
    /// The salt every digest of the route was made with.
    pub salt: [u8; layout::AUTH_SALT_LEN],
    /// 1 to [`MAX_AUTH`](crate::layout::MAX_AUTH) digests.
    pub digests: Vec<[u8; 32]>,
}

/// Everything a blob holds: what [`write_blob`] turns into bytes.
#[derive(Debug, Clone, Default)]
pub struct BlobSpec {
    /// The routes, in any order (the writer sorts them by path; two with
    /// the same path are an error).
    pub routes: Vec<RouteSpec>,
    /// Variants of the site's 404 response (status 404); empty for none.
    pub not_found: Vec<ResponseSpec>,
    /// Dynamic `_redirects` rules, in order (`format-spec.md` §5.1).
    pub rules: Vec<RuleSpec>,
    /// Who compressed the variants that are not `site_encoded`, and with
    /// which settings: an id that changes whenever a compressor's output
    /// may (all zero: not said). A packer copies a variant from an older
    /// blob only when the ids are equal.
    pub encoder: [u8; 8],
}

/// A dynamic `_redirects` rule.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// What it does.
    pub kind: RuleKind,
    /// 301-308 (redirect), 200 (rewrite), 404.
    pub status: u16,
    /// Its source: literal segments, placeholders (numbered from 0), a
    /// final splat.
    pub pattern: Vec<Token>,
    /// A `Location` (redirect) or route path (rewrite) with captures; empty
    /// with `variants`.
    pub template: Vec<Token>,
    /// The responses it answers with: a redirect to a fixed target, a 404
    /// body; empty with a template.
    pub variants: Vec<ResponseSpec>,
}

/// What [`write_blob`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteStats {
    /// Length of the blob in bytes.
    pub file_size: u64,
    /// The blake3 digest in its header (what `Tarweb-Root` reports).
    pub digest: [u8; 32],
    /// Number of routes.
    pub routes: usize,
    /// Number of variant entries (identical runs are stored once).
    pub variants: usize,
    /// Distinct bytes stored in the data section (heads, bodies, 304 heads,
    /// HTTP/2 header blocks).
    pub data_bytes: u64,
    /// Alignment padding inside the data section.
    pub padding: u64,
}

fn invalid<T>(at: SpecPart, kind: InvalidKind) -> Result<T, WriteError> {
    Err(WriteError::Invalid { at, kind })
}

/// A variant with its bytes composed: kept only until its blocks are
/// spilled ([`Runs::keep`]).
struct Built {
    coding: Coding,
    head: Vec<u8>,
    status_len: u16,
    length_len: u16,
    h2: H2Block,
    body: Body,
    /// blake3 of the body, by which [`Runs::keep`] stores it once.
    body_hash: blake3::Hash,
    nm: Option<BuiltNm>,
    etag: Option<String>,
    site_encoded: bool,
    /// The variant entry's `check` ([`check_value`] of its blocks,
    /// computed here where all of them are at hand).
    check: u64,
}

/// A 304 head, and its HTTP/2 header block.
struct BuiltNm {
    head: Vec<u8>,
    status_len: u16,
    h2: H2Block,
}

/// The part of the spec being built, for an error (made only on failure).
type At<'a> = &'a dyn Fn() -> SpecPart;

fn check_fields(fields: &[(String, String)], at: At) -> Result<(), WriteError> {
    for (n, v) in fields {
        if n.is_empty() || !n.bytes().all(is_tchar) {
            return invalid(at(), InvalidKind::HeaderName(n.clone()));
        }
        if n.eq_ignore_ascii_case("content-length") {
            return invalid(at(), InvalidKind::ContentLength);
        }
        if v.bytes().any(|c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            return invalid(at(), InvalidKind::HeaderValue(n.clone()));
        }
    }
    Ok(())
}

fn push_fields(out: &mut Vec<u8>, fields: &[(String, String)]) {
    for (n, v) in fields {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The HTTP/2 header block of a response, refused if its header list is
/// over the format's bound.
fn h2_block(
    status: u16,
    body_len: Option<u64>,
    fields: &[(String, String)],
    at: At,
) -> Result<H2Block, WriteError> {
    let b = build_h2_block(status, body_len, fields);
    if b.list_size > layout::MAX_H2_LIST_SIZE {
        return invalid(at(), InvalidKind::H2ListTooLarge(b.list_size));
    }
    Ok(b)
}

/// A head starting with the status line of `status` (one the caller has
/// checked the format can store).
fn status_line(status: u16) -> Vec<u8> {
    rules::status_line(status)
        .expect("a status the format stores")
        .to_vec()
}

/// Builds a variant; a file-backed body is read through `buf`.
fn build(r: &ResponseSpec, status: u16, at: At, buf: &mut Vec<u8>) -> Result<Built, WriteError> {
    check_fields(&r.headers, at)?;
    if r.site_encoded && r.coding == Coding::Identity {
        return invalid(at(), InvalidKind::SiteEncodedIdentity);
    }
    let mut head = status_line(status);
    let status_len = head.len() as u16;
    let mut len_buf = [0u8; 40];
    let cl = content_length_line(r.body.len(), &mut len_buf);
    head.extend_from_slice(cl);
    push_fields(&mut head, &r.headers);
    if head.len() > u32::MAX as usize {
        return invalid(at(), InvalidKind::HeadTooLarge(head.len()));
    }
    let h2 = h2_block(status, Some(r.body.len()), &r.headers, at)?;
    let resource = status == 200;
    match (&r.etag, resource) {
        (Some(t), true) => {
            if !valid_etag(t.as_bytes()) || t.len() > usize::from(u16::MAX) {
                return invalid(at(), InvalidKind::Etag(t.clone()));
            }
            if !r
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("etag") && v == t)
            {
                return invalid(at(), InvalidKind::EtagNotInHeaders(t.clone()));
            }
        }
        (None, false) => {}
        (Some(_), false) => return invalid(at(), InvalidKind::UnexpectedEtag),
        (None, true) => return invalid(at(), InvalidKind::MissingEtag),
    }
    let nm = match (&r.not_modified, resource) {
        (None, _) => None,
        (Some(_), false) => return invalid(at(), InvalidKind::UnexpectedNotModified),
        (Some(fields), true) => {
            check_fields(fields, at)?;
            let mut head = status_line(304);
            let status_len = head.len() as u16;
            push_fields(&mut head, fields);
            // The HTTP/2 block's bound keeps this head far below 4 GiB.
            Some(BuiltNm {
                head,
                status_len,
                h2: h2_block(304, None, fields, at)?,
            })
        }
    };
    // The check's blocks in entry order, the body streamed through it (a
    // file's in bounded chunks), hashed on its own in the same pass.
    let mut check = blake3::Hasher::new();
    check.update(&head);
    let mut body_hash = blake3::Hasher::new();
    r.body.each_chunk(buf, |c| {
        check.update(c);
        body_hash.update(c);
        Ok(())
    })?;
    if let Some(n) = &nm {
        check.update(&n.head);
    }
    check.update(&h2.bytes);
    if let Some(n) = &nm {
        check.update(&n.h2.bytes);
    }
    Ok(Built {
        check: check_value(&check),
        body_hash: body_hash.finalize(),
        coding: r.coding,
        status_len,
        length_len: cl.len() as u16,
        head,
        h2,
        body: r.body.clone(),
        nm,
        etag: r.etag.clone(),
        site_encoded: r.site_encoded,
    })
}

/// Checks a run of variants (sorting it by body length) and builds it.
fn build_run(
    variants: &[ResponseSpec],
    status: u16,
    at: At,
    buf: &mut Vec<u8>,
) -> Result<Vec<Built>, WriteError> {
    if variants.is_empty() || variants.len() > layout::MAX_VARIANTS_PER_ROUTE {
        return invalid(at(), InvalidKind::VariantCount(variants.len()));
    }
    let mut sorted: Vec<&ResponseSpec> = variants.iter().collect();
    sorted.sort_by_key(|v| (v.body.len(), v.coding));
    // Sorted by size, two variants of one coding need not be neighbours.
    let mut seen = [false; Coding::ALL.len()];
    for v in &sorted {
        if std::mem::replace(&mut seen[v.coding as usize], true) {
            return invalid(at(), InvalidKind::DuplicateCoding(v.coding));
        }
    }
    if !sorted.iter().any(|v| v.coding == Coding::Identity) {
        return invalid(at(), InvalidKind::NoIdentity);
    }
    sorted.iter().map(|v| build(v, status, at, buf)).collect()
}

/// What the writer keeps of a built variant until the blob is written: its
/// entry's fields, its blocks as ids in [`Blocks`] (their bytes are in the
/// spill) and its body as an index into the distinct bodies.
#[derive(Clone, Copy)]
struct Meta {
    check: u64,
    /// The ETag in [`Runs::etags`]; `etag_len` 0 for none (an
    /// entity-tag has at least its quotes).
    etag_off: u64,
    etag_len: u16,
    head: u32,
    body: u32,
    /// The 304 head and block, or [`NONE`].
    nm: u32,
    h2: u32,
    h2_nm: u32,
    status_len: u16,
    length_len: u16,
    nm_status_len: u16,
    h2_status_len: u16,
    h2_length_len: u16,
    h2_nm_status_len: u16,
    coding: Coding,
    site_encoded: bool,
}

/// Most variants a blob may be built from (identical runs included).
const MAX_BUILT: usize = 1 << 30;

/// A route once its run is built: what its entry and path need.
struct Lite {
    path: Box<str>,
    status: u16,
    last_modified: i64,
    auth: Option<Box<AuthSpec>>,
    /// Index into [`Runs::runs`].
    run: u32,
}

impl Lite {
    fn new(r: RouteSpec, run: u32) -> Lite {
        Lite {
            path: r.path.into_boxed_str(),
            status: r.status,
            last_modified: r.last_modified,
            auth: r.auth.map(Box::new),
            run,
        }
    }

    fn of(r: &RouteSpec, run: u32) -> Lite {
        Lite {
            path: r.path.as_str().into(),
            status: r.status,
            last_modified: r.last_modified,
            auth: r.auth.clone().map(Box::new),
            run,
        }
    }
}

/// Runs of variants as they are built (routes', the 404's, rules'), their
/// blocks spilled: the writer's memory is the index it will write, not the
/// responses.
struct Runs {
    blocks: Blocks,
    /// Distinct bodies (by blake3), in the order they came, with their
    /// blake3: a file-backed one is checked against it as it is copied.
    bodies: Vec<(Body, blake3::Hash)>,
    body_id: HashMap<blake3::Hash, u32>,
    /// Where file-backed bodies are read, a chunk at a time.
    buf: Vec<u8>,
    metas: Vec<Meta>,
    /// Every variant's ETag, one after the other.
    etags: Vec<u8>,
    /// (first meta, count) per run.
    runs: Vec<(u32, u8)>,
}

impl Runs {
    fn new(spill: Spill) -> Runs {
        Runs {
            blocks: Blocks::new(spill),
            bodies: Vec::new(),
            body_id: HashMap::new(),
            buf: Vec::new(),
            metas: Vec::new(),
            etags: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Checks a route and builds its run; returns the run's index.
    fn add_route(&mut self, r: &RouteSpec) -> Result<u32, WriteError> {
        let at = || SpecPart::Route(r.path.clone());
        if let Err(e) = check_route_path(r.path.as_bytes()) {
            return invalid(at(), InvalidKind::Path(e));
        }
        if !is_route_status(r.status) {
            return invalid(at(), InvalidKind::Status(r.status));
        }
        if let Some(a) = &r.auth {
            if r.status != 200 || a.digests.is_empty() || a.digests.len() > layout::MAX_AUTH {
                return invalid(at(), InvalidKind::Auth);
            }
        }
        self.add_run(&r.variants, r.status, &at)
    }

    fn add_not_found(&mut self, nf: &[ResponseSpec]) -> Result<Option<u32>, WriteError> {
        if nf.is_empty() {
            return Ok(None);
        }
        self.add_run(nf, 404, &|| SpecPart::NotFound).map(Some)
    }

    /// Checks and builds a run (sorted by body length), spilling its
    /// blocks; returns its index.
    fn add_run(
        &mut self,
        variants: &[ResponseSpec],
        status: u16,
        at: At,
    ) -> Result<u32, WriteError> {
        let built = build_run(variants, status, at, &mut self.buf)?;
        // A variant has at most four blocks and four units: their `u32`
        // ids stay below `NONE`.
        if self.metas.len() + built.len() > MAX_BUILT {
            return invalid(SpecPart::Blob, InvalidKind::TooManyEntries);
        }
        let first = self.metas.len() as u32;
        let n = built.len() as u8;
        for b in built {
            let m = self.keep(b)?;
            self.metas.push(m);
        }
        self.runs.push((first, n));
        Ok(self.runs.len() as u32 - 1)
    }

    /// Spills a variant's blocks (once per distinct block) and keeps its
    /// body (once per distinct body).
    fn keep(&mut self, b: Built) -> Result<Meta, WriteError> {
        let head = self.blocks.intern(&b.head)?;
        let h2 = self.blocks.intern(&b.h2.bytes)?;
        let (nm, h2_nm, nm_status_len, h2_nm_status_len) = match &b.nm {
            Some(n) => (
                self.blocks.intern(&n.head)?,
                self.blocks.intern(&n.h2.bytes)?,
                n.status_len,
                n.h2.status_len,
            ),
            None => (NONE, NONE, 0, 0),
        };
        let bodies = &mut self.bodies;
        let body = *self.body_id.entry(b.body_hash).or_insert_with(|| {
            bodies.push((b.body, b.body_hash));
            bodies.len() as u32 - 1
        });
        let (etag_off, etag_len) = match &b.etag {
            Some(t) => {
                self.etags.extend_from_slice(t.as_bytes());
                ((self.etags.len() - t.len()) as u64, t.len() as u16)
            }
            None => (0, 0),
        };
        Ok(Meta {
            check: b.check,
            etag_off,
            etag_len,
            head,
            body,
            nm,
            h2,
            h2_nm,
            status_len: b.status_len,
            length_len: b.length_len,
            nm_status_len,
            h2_status_len: b.h2.status_len,
            h2_length_len: b.h2.length_len,
            h2_nm_status_len,
            coding: b.coding,
            site_encoded: b.site_encoded,
        })
    }

    fn etag(&self, m: &Meta) -> Option<&[u8]> {
        let at = m.etag_off as usize;
        (m.etag_len > 0).then(|| &self.etags[at..at + usize::from(m.etag_len)])
    }

    fn run(&self, r: u32) -> &[Meta] {
        let (first, n) = self.runs[r as usize];
        &self.metas[first as usize..first as usize + usize::from(n)]
    }

    /// What makes two runs the same stored run: per variant its coding,
    /// head, body, 304 head, ETag and flag.
    fn run_hash(&self, r: u32) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        for m in self.run(r) {
            (m.coding, m.head, m.body, m.nm, self.etag(m), m.site_encoded).hash(&mut h);
        }
        h.finish()
    }

    fn same_run(&self, a: u32, b: u32) -> bool {
        let (a, b) = (self.run(a), self.run(b));
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                (x.coding, x.head, x.body, x.nm, x.site_encoded)
                    == (y.coding, y.head, y.body, y.nm, y.site_encoded)
                    && self.etag(x) == self.etag(y)
            })
    }
}

/// Lays out and writes routes (sorted, checked) whose runs are built, the
/// 404's run and the dynamic rules (checked and built here).
fn write_built<W: Write + Seek>(
    mut runs: Runs,
    routes: &[&Lite],
    nf_run: Option<u32>,
    rules: &[RuleSpec],
    encoder: [u8; 8],
    out: W,
) -> Result<WriteStats, WriteError> {
    // Dynamic rules: checked, their runs built; records after the ETags.
    if rules.len() > dynamic::MAX_RULES {
        return invalid(SpecPart::Blob, InvalidKind::Rule);
    }
    let mut rule_run = Vec::with_capacity(rules.len());
    let mut rule_bytes = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let at = || SpecPart::Rule(i);
        let (p, t) = (dynamic::encode(&r.pattern), dynamic::encode(&r.template));
        let run = !r.variants.is_empty();
        let ok = dynamic::check_pattern(&p)
            && dynamic::check_template(&t, dynamic::shape(&p))
            && p.len() <= usize::from(u16::MAX)
            && t.len() <= usize::from(u16::MAX)
            && match r.kind {
                RuleKind::Redirect => {
                    matches!(r.status, 301 | 302 | 303 | 307 | 308) && run == t.is_empty()
                }
                RuleKind::Rewrite => r.status == 200 && !run && !t.is_empty(),
                RuleKind::NotFound => r.status == 404 && run && t.is_empty(),
            };
        if !ok {
            return invalid(at(), InvalidKind::Rule);
        }
        rule_run.push(if run {
            Some(runs.add_run(&r.variants, r.status, &at)?)
        } else {
            None
        });
        rule_bytes.push((p, t));
    }
    // Every block is in: the indexes that found repeats go.
    runs.blocks.seal();
    runs.body_id = HashMap::new();

    // Identical runs (e.g. `/docs/` and `/docs/index.html`) share
    // entries; the table lists runs in route order, then the 404's, then
    // the rules'.
    let order: Vec<u32> = routes
        .iter()
        .map(|r| r.run)
        .chain(nf_run)
        .chain(rule_run.iter().flatten().copied())
        .collect();
    let mut run_first: Vec<u32> = vec![0; runs.runs.len()];
    let mut table: Vec<u32> = Vec::new();
    {
        let mut seen = HashHeads::default();
        let mut next = vec![NONE; runs.runs.len()];
        for &r in &order {
            let h = runs.run_hash(r);
            let mut c = seen.get(&h).copied().unwrap_or(NONE);
            while c != NONE && !runs.same_run(c, r) {
                c = next[c as usize];
            }
            run_first[r as usize] = if c != NONE {
                run_first[c as usize]
            } else {
                next[r as usize] = seen.insert(h, r).unwrap_or(NONE);
                let (first, n) = runs.runs[r as usize];
                let f = table.len() as u32;
                table.extend(first..first + u32::from(n));
                f
            };
        }
    }
    if table.len() > u32::MAX as usize || routes.len() > u32::MAX as usize {
        return invalid(SpecPart::Blob, InvalidKind::TooManyEntries);
    }
    let run_len = |r: u32| u16::from(runs.runs[r as usize].1);

    // Strings: paths in route order, then distinct ETags.
    let mut strings: Vec<u8> = Vec::new();
    let mut path_at = Vec::with_capacity(routes.len());
    for r in routes {
        path_at.push(strings.len() as u32);
        strings.extend_from_slice(r.path.as_bytes());
    }
    // Credentials: a salt then digests, per protected route.
    let mut auth_at = Vec::with_capacity(routes.len());
    for r in routes {
        auth_at.push(r.auth.as_ref().map(|a| {
            let at = strings.len() as u32;
            strings.extend_from_slice(&a.salt);
            for d in &a.digests {
                strings.extend_from_slice(d);
            }
            (at, a.digests.len() as u16)
        }));
    }
    let mut etag_at: HashMap<&[u8], u32> = HashMap::new();
    for &m in &table {
        if let Some(t) = runs.etag(&runs.metas[m as usize]) {
            etag_at.entry(t).or_insert_with(|| {
                let at = strings.len() as u32;
                strings.extend_from_slice(t);
                at
            });
        }
    }
    let rules_at = strings.len() as u32;
    for (i, r) in rules.iter().enumerate() {
        let (p, t) = &rule_bytes[i];
        let mut h = [0u8; dynamic::RECORD_HEAD];
        h[0] = r.kind as u8;
        put16(&mut h, 2, r.status);
        if let Some(run) = rule_run[i] {
            put32(&mut h, 4, run_first[run as usize]);
            put16(&mut h, 8, run_len(run));
        }
        put16(&mut h, 10, p.len() as u16);
        put16(&mut h, 12, t.len() as u16);
        strings.extend_from_slice(&h);
        strings.extend_from_slice(p);
        strings.extend_from_slice(t);
    }
    // The index digest's place, filled in once the tables are written.
    strings.extend_from_slice(&[0; layout::INDEX_DIGEST_LEN]);
    if strings.len() > u32::MAX as usize {
        return invalid(SpecPart::Blob, InvalidKind::StringsTooLarge(strings.len()));
    }

    // Data units: a body is stored once, after the head of the first
    // variant that has it; later variants with the same body get a lone
    // head. Identical heads, 304 heads and HTTP/2 blocks (e.g. the 304
    // blocks of variants whose 304 fields are the same) are stored once.
    let nblocks = runs.blocks.count();
    let mut units: Vec<Unit> = Vec::new();
    let mut body_unit = vec![NONE; runs.bodies.len()];
    let mut head_unit: HashMap<u32, u32> = HashMap::new();
    let mut nm_unit = vec![NONE; nblocks];
    let mut h2_unit = vec![NONE; nblocks];
    let mut placed: Vec<Placed> = Vec::with_capacity(table.len());
    for &m in &table {
        let v = &runs.metas[m as usize];
        let first = body_unit[v.body as usize];
        let (head, body) = if first != NONE && !runs.bodies[v.body as usize].0.is_empty() {
            (
                lone(&mut units, head_unit.entry(v.head).or_insert(NONE), v.head),
                first,
            )
        } else {
            units.push(Unit {
                head: v.head,
                body: v.body,
            });
            let u = units.len() as u32 - 1;
            if first == NONE {
                body_unit[v.body as usize] = u;
            }
            (u, u)
        };
        let nm = (v.nm != NONE).then(|| lone(&mut units, &mut nm_unit[v.nm as usize], v.nm));
        let h2 = lone(&mut units, &mut h2_unit[v.h2 as usize], v.h2);
        let h2_nm =
            (v.h2_nm != NONE).then(|| lone(&mut units, &mut h2_unit[v.h2_nm as usize], v.h2_nm));
        placed.push(Placed {
            head,
            body,
            nm: nm.unwrap_or(NONE),
            h2,
            h2_nm: h2_nm.unwrap_or(NONE),
        });
    }
    drop((body_unit, head_unit, nm_unit, h2_unit));
    let unit_len = |u: &Unit| {
        runs.blocks.len(u.head)
            + if u.body == NONE {
                0
            } else {
                runs.bodies[u.body as usize].0.len()
            }
    };
    let lens: Vec<u64> = units.iter().map(unit_len).collect();
    let (unit_off, data_len) = place(&lens);
    drop(lens);

    // Header.
    let routes_off = layout::HEADER_SIZE as u64;
    let variants_off = routes_off + (routes.len() * layout::ROUTE_ENTRY_SIZE) as u64;
    let strings_off = variants_off + (table.len() * layout::VARIANT_ENTRY_SIZE) as u64;
    let data_off = layout::align_up(strings_off + strings.len() as u64, layout::PAGE);
    let file_size = data_off + data_len;
    let mut h = [0u8; layout::HEADER_SIZE];
    h[hdr::MAGIC..hdr::MAGIC + 8].copy_from_slice(&layout::MAGIC);
    put32(&mut h, hdr::VERSION, layout::VERSION);
    put32(&mut h, hdr::HEADER_SIZE, layout::HEADER_SIZE as u32);
    put64(&mut h, hdr::FILE_SIZE, file_size);
    put32(&mut h, hdr::ROUTE_COUNT, routes.len() as u32);
    put32(&mut h, hdr::VARIANT_COUNT, table.len() as u32);
    put64(&mut h, hdr::ROUTES_OFF, routes_off);
    put64(&mut h, hdr::VARIANTS_OFF, variants_off);
    put64(&mut h, hdr::STRINGS_OFF, strings_off);
    put64(&mut h, hdr::STRINGS_LEN, strings.len() as u64);
    put64(&mut h, hdr::DATA_OFF, data_off);
    h[hdr::ENCODER..hdr::ENCODER + 8].copy_from_slice(&encoder);
    put16(&mut h, hdr::FLAGS, layout::INDEXED);
    if !rules.is_empty() {
        put32(&mut h, hdr::RULES_OFF, rules_at);
        put16(&mut h, hdr::RULES_COUNT, rules.len() as u16);
    }
    match nf_run {
        Some(r) => {
            put32(&mut h, hdr::NOT_FOUND_FIRST, run_first[r as usize]);
            put16(&mut h, hdr::NOT_FOUND_COUNT, run_len(r));
        }
        None => put32(&mut h, hdr::NOT_FOUND_FIRST, layout::NONE_U32),
    }

    let mut w = Hashing {
        inner: out,
        hasher: blake3::Hasher::new(),
        pos: 0,
    };
    w.put(&h)?;
    // The index digest: everything from the digest field's end to itruns.
    let mut index = blake3::Hasher::new();
    index.update(&h[layout::DIGEST_START..]);
    for (i, r) in routes.iter().enumerate() {
        let mut e = [0u8; layout::ROUTE_ENTRY_SIZE];
        put32(&mut e, route::PATH_OFF, path_at[i]);
        put16(&mut e, route::PATH_LEN, r.path.len() as u16);
        put16(&mut e, route::STATUS, r.status);
        put32(&mut e, route::FIRST_VARIANT, run_first[r.run as usize]);
        put16(&mut e, route::VARIANT_COUNT, run_len(r.run));
        put64(&mut e, route::LAST_MODIFIED, r.last_modified as u64);
        if let Some((at, n)) = auth_at[i] {
            put32(&mut e, route::AUTH_OFF, at);
            put16(&mut e, route::AUTH_COUNT, n);
        }
        index.update(&e);
        w.put(&e)?;
    }
    let abs = |u: u32| data_off + unit_off[u as usize];
    for (&m, p) in table.iter().zip(&placed) {
        let b = &runs.metas[m as usize];
        let mut e = [0u8; layout::VARIANT_ENTRY_SIZE];
        e[variant::CODING] = b.coding as u8;
        if b.site_encoded {
            e[variant::FLAGS] = layout::SITE_ENCODED;
        }
        put16(&mut e, variant::STATUS_LEN, b.status_len);
        put16(&mut e, variant::LENGTH_LEN, b.length_len);
        put64(&mut e, variant::HEAD_OFF, abs(p.head));
        put32(&mut e, variant::HEAD_LEN, runs.blocks.len(b.head) as u32);
        if b.nm != NONE {
            put32(&mut e, variant::NM_LEN, runs.blocks.len(b.nm) as u32);
            put64(&mut e, variant::NM_OFF, abs(p.nm));
            put16(&mut e, variant::NM_STATUS_LEN, b.nm_status_len);
            put32(&mut e, variant::H2_NM_LEN, runs.blocks.len(b.h2_nm) as u32);
            put64(&mut e, variant::H2_NM_OFF, abs(p.h2_nm));
            put16(&mut e, variant::H2_NM_STATUS_LEN, b.h2_nm_status_len);
        }
        put64(&mut e, variant::H2_OFF, abs(p.h2));
        put32(&mut e, variant::H2_LEN, runs.blocks.len(b.h2) as u32);
        put16(&mut e, variant::H2_STATUS_LEN, b.h2_status_len);
        put16(&mut e, variant::H2_LENGTH_LEN, b.h2_length_len);
        // The body follows its unit's head.
        let body_unit = &units[p.body as usize];
        put64(
            &mut e,
            variant::BODY_OFF,
            abs(p.body) + runs.blocks.len(body_unit.head),
        );
        put64(
            &mut e,
            variant::BODY_LEN,
            runs.bodies[b.body as usize].0.len(),
        );
        if let Some(t) = runs.etag(b) {
            put32(&mut e, variant::ETAG_OFF, etag_at[t]);
            put16(&mut e, variant::ETAG_LEN, t.len() as u16);
        }
        put64(&mut e, variant::CHECK, b.check);
        index.update(&e);
        w.put(&e)?;
    }
    let variant_count = table.len();
    drop((placed, etag_at, table));
    let digest_at = strings.len() - layout::INDEX_DIGEST_LEN;
    index.update(&strings[..digest_at]);
    strings[digest_at..].copy_from_slice(index.finalize().as_bytes());
    w.put(&strings)?;
    drop(strings);
    w.zeros(data_off - w.pos)?;
    // Front to back: each block read from the spill (the page cache)
    // as its place comes.
    let mut order: Vec<u32> = (0..units.len() as u32).collect();
    order.sort_by_key(|&i| unit_off[i as usize]);
    let mut data_bytes = 0;
    let mut head = Vec::new();
    for i in order {
        let u = &units[i as usize];
        w.zeros(data_off + unit_off[i as usize] - w.pos)?;
        runs.blocks.read(u.head, &mut head)?;
        w.put(&head)?;
        data_bytes += head.len() as u64;
        if u.body != NONE {
            let (body, kept) = &runs.bodies[u.body as usize];
            copy_body(&mut w, body, kept, &mut runs.buf)?;
            data_bytes += body.len();
        }
    }
    debug_assert_eq!(w.pos, file_size);
    let digest: [u8; 32] = *w.hasher.finalize().as_bytes();
    let mut out = w.inner;
    out.seek(SeekFrom::Start(hdr::DIGEST as u64))?;
    out.write_all(&digest)?;
    out.seek(SeekFrom::Start(file_size))?;
    out.flush()?;
    Ok(WriteStats {
        file_size,
        digest,
        routes: routes.len(),
        variants: variant_count,
        data_bytes,
        padding: data_len - data_bytes,
    })
}

/// Copies `body` to its place. A file's bytes are hashed as they go: the
/// blob is refused if they are not those its variants' checks were
/// computed over (`kept`, hashed when they were built).
fn copy_body<W: Write>(
    w: &mut Hashing<W>,
    body: &Body,
    kept: &blake3::Hash,
    buf: &mut Vec<u8>,
) -> Result<(), WriteError> {
    if !body.is_file() {
        return body.each_chunk(buf, |c| Ok(w.put(c)?));
    }
    let mut h = blake3::Hasher::new();
    body.each_chunk(buf, |c| {
        h.update(c);
        Ok(w.put(c)?)
    })?;
    if h.finalize() != *kept {
        return Err(body.changed());
    }
    Ok(())
}

/// A block of the data section: a head then its body, or a lone head, 304
/// head or HTTP/2 header block (`body` [`NONE`]).
struct Unit {
    head: u32,
    body: u32,
}

/// Where a variant's pieces live: the units holding its head, its body
/// (after that unit's head), its 304 head and its HTTP/2 blocks
/// ([`NONE`]: no 304).
struct Placed {
    head: u32,
    body: u32,
    nm: u32,
    h2: u32,
    h2_nm: u32,
}

/// The unit holding block `block` alone: the one in `slot`, or a new one.
fn lone(units: &mut Vec<Unit>, slot: &mut u32, block: u32) -> u32 {
    if *slot == NONE {
        units.push(Unit {
            head: block,
            body: NONE,
        });
        *slot = units.len() as u32 - 1;
    }
    *slot
}

/// Hashes everything written from file offset `DIGEST_START` on.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
    pos: u64,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        let start = layout::DIGEST_START as u64;
        if self.pos + b.len() as u64 > start {
            let skip = start.saturating_sub(self.pos) as usize;
            self.hasher.update(&b[skip..]);
        }
        self.pos += b.len() as u64;
        self.inner.write_all(b)
    }

    fn zeros(&mut self, mut n: u64) -> io::Result<()> {
        const Z: [u8; 4096] = [0; 4096];
        while n > 0 {
            let k = n.min(Z.len() as u64) as usize;
            self.put(&Z[..k])?;
            n -= k as u64;
        }
        Ok(())
    }
}

/// Writes the blob for `spec` to `out` (positioned at 0) and returns stats.
/// Deterministic: the same spec gives the same bytes, whatever the order of
/// its routes.
///
/// The spec is checked whole before the first byte is written: a
/// [`WriteError::Invalid`] names the route (or the 404) and the rule.
/// `out` is written once front to back; then the writer seeks back to put
/// the digest in the header and leaves `out` at the end of the blob.
///
/// A file-backed [`Body`] must keep its bytes until the write ends: its
/// file is read when its variant is built and again as it is copied, and
/// if the bytes differ (or the file got shorter) the write fails with
/// [`WriteError::BodyChanged`], the blob unfinished (its header digest not
/// written). A failed read is a [`WriteError::Io`] that names the range.
pub fn write_blob<W: Write + Seek>(spec: &BlobSpec, out: W) -> Result<WriteStats, WriteError> {
    let mut routes: Vec<&RouteSpec> = spec.routes.iter().collect();
    routes.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    check_unique(routes.iter().map(|r| &r.path[..]))?;
    let mut runs = Runs::new(Spill::memory());
    let mut lite = Vec::with_capacity(routes.len());
    for r in routes {
        let run = runs.add_route(r)?;
        lite.push(Lite::of(r, run));
    }
    let nf = runs.add_not_found(&spec.not_found)?;
    let sorted: Vec<&Lite> = lite.iter().collect();
    write_built(runs, &sorted, nf, &spec.rules, spec.encoder, out)
}

/// [`write_blob`] for routes given one by one (in any order), which need
/// not be held whole: as each route is built, its heads, 304 heads and
/// HTTP/2 header blocks go to `spill` (identical ones once) and the rest of
/// the route is dropped. The writer keeps the index (paths, ETags, the
/// entries' fields) and a handle per distinct [`Body`] (bytes in memory,
/// or a range of a file: read in bounded chunks when the route is built
/// and again when it is copied), then copies every block from `spill` and
/// every body to its place, front to back. The same bytes as
/// [`write_blob`] for the same routes.
///
/// `spill` is scratch space, written from its current position on and
/// read back: ideally a new unnamed temporary file on a disk (not tmpfs,
/// where it would take memory after all); a failure to write or read it is
/// a [`WriteError::Io`] that says it was the scratch file.
pub fn write_blob_from<W: Write + Seek>(
    routes: impl IntoIterator<Item = RouteSpec>,
    not_found: &[ResponseSpec],
    rules: &[RuleSpec],
    encoder: [u8; 8],
    out: W,
    spill: File,
) -> Result<WriteStats, WriteError> {
    let mut runs = Runs::new(Spill::file(spill)?);
    let mut lite: Vec<Lite> = Vec::new();
    for r in routes {
        let run = runs.add_route(&r)?;
        lite.push(Lite::new(r, run));
    }
    let mut sorted: Vec<&Lite> = lite.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    check_unique(sorted.iter().map(|r| &r.path[..]))?;
    let nf = runs.add_not_found(not_found)?;
    write_built(runs, &sorted, nf, rules, encoder, out)
}

/// Two routes with the same path (`paths` sorted) are an error.
fn check_unique<'p>(paths: impl Iterator<Item = &'p str>) -> Result<(), WriteError> {
    let mut last: Option<&str> = None;
    for p in paths {
        if last == Some(p) {
            return invalid(SpecPart::Route(p.to_string()), InvalidKind::DuplicateRoute);
        }
        last = Some(p);
    }
    Ok(())
}

/// [`write_blob`] into memory: the blob as a vector, with its stats.
pub fn blob_to_vec(spec: &BlobSpec) -> Result<(Vec<u8>, WriteStats), WriteError> {
    let mut c = io::Cursor::new(Vec::new());
    let stats = write_blob(spec, &mut c)?;
    Ok((c.into_inner(), stats))
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
