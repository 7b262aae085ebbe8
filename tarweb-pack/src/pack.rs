//! `tarweb-pack SITE -o OUT`: read the site, plan its routes, compress every
//! distinct body on all cores, and write the blob atomically (the output is
//! checked, and its temporary file created, before anything else).

use crate::compress::{self, MIN_COMPRESS_LEN};
use crate::content_type::{content_type, worth_compressing};
use crate::input::{self, SiteFile, Source};
use crate::output::Output;
use crate::response::{self, Resource};
use crate::reuse::Reuse;
use crate::site::{self, DynTarget, Site, Target};
use crate::store::{Store, Stored};
use anyhow::Context;
use rayon::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tarweb_format::dynamic::RuleKind;
use tarweb_format::rules::basic_auth_digest;
use tarweb_format::{
    write_blob_from, AuthSpec, Body as BodyBytes, Coding, ResponseSpec, RouteSpec, RuleSpec,
};

pub struct Options {
    pub source: Source,
    pub prefix: Option<String>,
    pub output: Output,
    pub compress: compress::Options,
    /// Default `Cache-Control` of every response (`_headers` can override).
    pub cache_control: Option<String>,
    /// `SOURCE_DATE_EPOCH`: no `Last-Modified` is later than this.
    pub source_date_epoch: Option<i64>,
    /// Compression threads (default: every core).
    pub threads: Option<usize>,
    /// Show a progress bar (only drawn on a terminal).
    pub progress: bool,
    /// `--reuse OLD`: a blob whose compressed variants may be copied.
    pub reuse: Option<std::path::PathBuf>,
}

#[derive(Debug)]
pub struct Summary {
    pub files: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub routes: usize,
    pub variants: usize,
    pub padding: u64,
    /// Identity bytes of every file, and the bytes of its smallest variant:
    /// what a client accepting every coding downloads.
    pub identity_bytes: u64,
    pub smallest_bytes: u64,
    pub digest: [u8; 32],
    pub elapsed: Duration,
    /// Compressed variants the pack needed (siblings not counted), and how
    /// many of them were copied from the `--reuse` blob.
    pub encoded: usize,
    pub reused: usize,
}

/// A distinct body and what it becomes. Its bytes are in the store: a
/// job reads back the one it works on.
struct Body {
    data: Stored,
    /// blake3 of `data`: what `--reuse` looks bodies up by.
    hash: blake3::Hash,
    /// The first file with these bytes (an index into the site's files):
    /// names it in messages, gives its type.
    file: usize,
    /// Per coding: the file index of a precompressed sibling.
    siblings: [Option<usize>; 4],
    /// Per coding: the kept encoding (identity always).
    variants: [Option<Kept>; 4],
    /// Per coding: the variant is a sibling's bytes (the site's encoding).
    site_encoded: [bool; 4],
}

impl Body {
    fn len(&self) -> usize {
        self.data.len as usize
    }
}

/// A kept variant: its bytes in the store, and its entity-tag's 32 hex
/// digits (the first 16 bytes of their blake3).
#[derive(Clone, Copy)]
struct Kept {
    stored: Stored,
    tag: [u8; 16],
}

impl Kept {
    fn new(stored: Stored, hash: &blake3::Hash) -> Kept {
        Kept {
            stored,
            tag: hash.as_bytes()[..16].try_into().expect("16 bytes"),
        }
    }

    fn etag(&self) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(34);
        s.push('"');
        for b in self.tag {
            let _ = write!(s, "{b:02x}");
        }
        s.push('"');
        s
    }
}

pub fn pack(opts: &Options, warn: &mut dyn FnMut(String)) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let out = opts.output.prepare()?;
    let store = Store::new(out.scratch()?);
    let encoder = compress::encoder_id(opts.compress);
    let reuse = match &opts.reuse {
        Some(p) => Reuse::load(p, encoder, warn),
        None => Reuse::default(),
    };
    let files = input::read_site(&opts.source, opts.prefix.as_deref(), &store, warn)?;
    let bytes_in = files.iter().map(|f| f.data.len()).sum();
    let site = site::plan(files, &store, warn)?;
    let (bodies, body_of) = distinct_bodies(&site);
    let (bodies, encoded, reused) = encode_all(bodies, &site.files, &store, &reuse, opts, warn)?;
    drop(reuse);
    let specs = Specs {
        site: &site,
        bodies: &bodies,
        body_of: &body_of,
        store: &store,
        cc: opts.cache_control.as_deref(),
    };
    let routes = specs.routes(opts.source_date_epoch);
    let not_found = specs.not_found();
    let rules = specs.rules();

    let stats = out
        .finish(|w, spill| {
            Ok(write_blob_from(
                routes, &not_found, &rules, encoder, w, spill,
            )?)
        })
        .with_context(|| format!("writing {}", opts.output.describe()))?;
    let (mut identity_bytes, mut smallest_bytes) = (0, 0);
    for &b in &body_of {
        let b = &bodies[b];
        identity_bytes += b.data.len;
        smallest_bytes += b
            .variants
            .iter()
            .flatten()
            .map(|v| v.stored.len)
            .min()
            .unwrap_or(0);
    }
    Ok(Summary {
        files: site.files.len(),
        bytes_in,
        bytes_out: stats.file_size,
        routes: stats.routes,
        variants: stats.variants,
        padding: stats.padding,
        identity_bytes,
        smallest_bytes,
        digest: stats.digest,
        elapsed: start.elapsed(),
        encoded,
        reused,
    })
}

/// One entry per distinct content; `body_of[file] = body index`.
fn distinct_bodies(site: &Site) -> (Vec<Body>, Vec<usize>) {
    let mut by_hash: HashMap<blake3::Hash, usize> = HashMap::new();
    // At most one per file; grown by doubling, up to half would be slack
    // held to the end of the pack.
    let mut bodies: Vec<Body> = Vec::with_capacity(site.files.len());
    let mut body_of = Vec::with_capacity(site.files.len());
    for (i, f) in site.files.iter().enumerate() {
        let hash = f.data.hash;
        let b = *by_hash.entry(hash).or_insert_with(|| {
            bodies.push(Body {
                data: f.data.stored,
                hash,
                file: i,
                siblings: [None; 4],
                variants: [Some(Kept::new(f.data.stored, &hash)), None, None, None],
                site_encoded: [false; 4],
            });
            bodies.len() - 1
        });
        for (slot, s) in bodies[b].siblings.iter_mut().zip(site.siblings[i]) {
            *slot = slot.or(s);
        }
        body_of.push(b);
    }
    (bodies, body_of)
}

/// Fills in every body's variants, compressing on all cores (or copying
/// from `reuse`), with the counts of compressed variants needed and of
/// those copied. The result does not depend on the number of threads, nor
/// on `reuse`: every job is a pure function of its input, results are
/// gathered in job order, and a copy is what compressing gives. A job
/// holds its body, its encoding and a sibling or old copy while it runs,
/// and puts what it keeps in the store: memory is a few of the largest
/// files per thread, not the site.
fn encode_all(
    mut bodies: Vec<Body>,
    files: &[SiteFile],
    store: &Store,
    reuse: &Reuse,
    opts: &Options,
    warn: &mut dyn FnMut(String),
) -> anyhow::Result<(Vec<Body>, usize, usize)> {
    let mut jobs: Vec<(usize, Coding)> = Vec::new();
    for (b, body) in bodies.iter().enumerate() {
        for c in [Coding::Gzip, Coding::Br, Coding::Zstd] {
            let try_it = body.siblings[c as usize].is_some()
                || (worth_compressing(&files[body.file].path) && body.len() >= MIN_COMPRESS_LEN);
            if try_it {
                jobs.push((b, c));
            }
        }
    }
    // Largest first, so one big file does not finish last on one core.
    jobs.sort_by_key(|&(b, c)| (std::cmp::Reverse(bodies[b].len()), b, c));
    let copyable = |&(b, c): &(usize, Coding)| -> bool {
        let body = &bodies[b];
        body.siblings[c as usize].is_none() && reuse.has(&body.hash, c)
    };
    let total: u64 = jobs
        .iter()
        .filter(|j| !copyable(j))
        .map(|&(b, _)| bodies[b].data.len)
        .sum();
    let bar = progress_bar(opts.progress && total > 16 << 20, total);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .context("starting the compression threads")?;
    let results: Vec<anyhow::Result<Encoded>> = pool.install(|| {
        // One job per task: rayon's adaptive splitting otherwise leaves a
        // long sequential run of jobs on one thread that the other cannot
        // steal (measured: 50 s of one idle core on python3.11-doc).
        jobs.par_iter()
            .with_max_len(1)
            .map(|job| {
                let (b, c) = *job;
                let body = &bodies[b];
                let copy = copyable(job);
                let r = encode_one(body, c, files, store, copy.then_some(reuse), opts);
                if !copy {
                    bar.inc(body.data.len);
                }
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    let (mut encoded, mut reused) = (0, 0);
    for (&(b, c), r) in jobs.iter().zip(results) {
        let r = r?;
        if let Some(w) = r.warning {
            warn(w);
        }
        encoded += usize::from(!r.site_encoded);
        reused += usize::from(r.reused);
        bodies[b].variants[c as usize] = r.kept;
        bodies[b].site_encoded[c as usize] = r.site_encoded;
    }
    Ok((bodies, encoded, reused))
}

/// What a (body, coding) job gave.
struct Encoded {
    /// The variant, if kept.
    kept: Option<Kept>,
    /// A sibling's bytes (the site's own encoding).
    site_encoded: bool,
    /// Copied from the `--reuse` blob.
    reused: bool,
    /// A stale sibling, or a `--reuse` copy that did not decode to the body.
    warning: Option<String>,
}

/// One (body, coding) job: the sibling's bytes if they decode to the body,
/// else the `--reuse` blob's copy if it decodes to the body, else a fresh
/// encoding; kept (put in the store, a sibling where it already is) only
/// if worth it.
fn encode_one(
    body: &Body,
    c: Coding,
    files: &[SiteFile],
    store: &Store,
    reuse: Option<&Reuse>,
    opts: &Options,
) -> anyhow::Result<Encoded> {
    let path = &files[body.file].path;
    let data = store.read(body.data)?;
    let mut warning = None;
    let mut encoded = None;
    let mut reused = false;
    let mut sibling = None;
    if let Some(s) = body.siblings[c as usize] {
        let sib = &files[s];
        let bytes = store.read(sib.data.stored)?;
        match compress::decode(&bytes, c, data.len()) {
            Ok(d) if d == data => {
                encoded = Some(bytes);
                sibling = Some(sib.data);
            }
            Ok(_) => {
                warning = Some(format!(
                    "{} does not decode to {}: ignored, {} is compressed afresh",
                    sib.path, path, path
                ))
            }
            Err(e) => {
                warning = Some(format!(
                    "{} is not valid {} data ({e}): ignored, {} is compressed afresh",
                    sib.path,
                    c.token(),
                    path
                ))
            }
        }
    }
    let site_encoded = encoded.is_some();
    if let Some(old) = reuse.map(|r| r.get(&body.hash, c)).transpose()?.flatten() {
        // Same source bytes and the same encoder: the bytes a fresh
        // compression gives. Decoding checks it (a damaged or foreign blob
        // costs time, never correctness) at a fraction of encoding's cost.
        match compress::decode(&old, c, data.len()) {
            Ok(d) if d == data => {
                encoded = Some(old);
                reused = true;
            }
            _ => {
                warning = Some(format!(
                    "the reused blob's {} variant of {} does not decode to it: compressed afresh",
                    c.token(),
                    path
                ))
            }
        }
    }
    let encoded = encoded.unwrap_or_else(|| compress::encode(&data, c, opts.compress));
    drop(data);
    let kept = if !compress::worth_keeping(body.len(), encoded.len()) {
        None
    } else if let Some(sib) = sibling {
        Some(Kept::new(sib.stored, &sib.hash))
    } else {
        Some(Kept::new(store.put(&encoded)?, &blake3::hash(&encoded)))
    };
    Ok(Encoded {
        kept,
        site_encoded,
        reused,
        warning,
    })
}

fn progress_bar(show: bool, total: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    // `stderr()` draws nothing when stderr is not a terminal (CI logs).
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "compressing {bar:40} {bytes}/{total_bytes} ({eta} left)",
    ) {
        bar.set_style(style);
    }
    bar
}

/// A route's Basic-Auth credentials as the blob stores them: a salt made
/// from the credential set (so the same site packs to the same bytes) and
/// one digest per credential; never the passwords.
fn auth(list: &[(String, String)]) -> Option<AuthSpec> {
    if list.is_empty() {
        return None;
    }
    let mut h = blake3::Hasher::new();
    h.update(b"tarweb-pack basic-auth salt\n");
    for (u, p) in list {
        h.update(&(u.len() as u64).to_le_bytes());
        h.update(u.as_bytes());
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let salt: [u8; 16] = h.finalize().as_bytes()[..16].try_into().expect("16 bytes");
    let digests = list
        .iter()
        .map(|(u, p)| basic_auth_digest(&salt, format!("{u}:{p}").as_bytes()))
        .collect();
    Some(AuthSpec { salt, digests })
}

/// What the specs are made from.
#[derive(Clone, Copy)]
struct Specs<'a> {
    site: &'a Site,
    bodies: &'a [Body],
    body_of: &'a [usize],
    store: &'a Store,
    /// Default `Cache-Control`.
    cc: Option<&'a str>,
}

impl<'a> Specs<'a> {
    /// The routes' specs, made one at a time as the writer asks (all at
    /// once they would be most of the packer's memory on a site of small
    /// pages). `Last-Modified` is clamped to `epoch`.
    fn routes(&self, epoch: Option<i64>) -> impl Iterator<Item = RouteSpec> + 'a {
        let this = *self;
        let clamp = move |t: i64| epoch.map_or(t, |e| t.min(e)).max(0);
        self.site.routes.iter().map(move |r| {
            let paths: Vec<&str> = r.match_paths.iter().map(String::as_str).collect();
            let set = this.site.headers.for_paths(&paths);
            match &r.target {
                Target::File(i) => {
                    let f = &this.site.files[*i];
                    let body = &this.bodies[this.body_of[*i]];
                    let ct = content_type(&f.path, f.data.utf8);
                    let negotiated = body.variants.iter().flatten().count() > 1;
                    let last_modified = clamp(f.mtime);
                    let variants = Coding::ALL
                        .iter()
                        .filter_map(|&c| {
                            let kept = body.variants[c as usize]?;
                            let etag = kept.etag();
                            let (headers, nm) = response::resource(&Resource {
                                content_type: &ct,
                                coding: c,
                                etag: &etag,
                                last_modified,
                                negotiated,
                                cache_control: this.cc,
                                site: &set,
                            });
                            Some(ResponseSpec {
                                coding: c,
                                headers,
                                body: this.store.body(kept.stored),
                                etag: Some(etag),
                                not_modified: Some(nm),
                                site_encoded: body.site_encoded[c as usize],
                            })
                        })
                        .collect();
                    RouteSpec {
                        auth: auth(&set.auth),
                        path: r.path.clone(),
                        status: 200,
                        last_modified,
                        variants,
                    }
                }
                Target::NotFound(i) => RouteSpec {
                    auth: None,
                    path: r.path.clone(),
                    status: 404,
                    last_modified: 0,
                    variants: this.page_404(*i, &paths),
                },
                Target::Redirect { status, location } => RouteSpec {
                    auth: None,
                    path: r.path.clone(),
                    status: *status,
                    last_modified: 0,
                    variants: vec![redirect(location, &set)],
                },
            }
        })
    }

    /// A page of the site answered with status 404 (the site's 404 page, a
    /// `_redirects` 404 rule's), with the `_headers` of `paths`.
    fn page_404(&self, i: usize, paths: &[&str]) -> Vec<ResponseSpec> {
        let f = &self.site.files[i];
        let body = &self.bodies[self.body_of[i]];
        let ct = content_type(&f.path, f.data.utf8);
        let set = self.site.headers.for_paths(paths);
        let negotiated = body.variants.iter().flatten().count() > 1;
        Coding::ALL
            .iter()
            .filter_map(|&c| {
                Some(ResponseSpec {
                    coding: c,
                    headers: response::not_found(&ct, c, negotiated, self.cc, &set),
                    body: self.store.body(body.variants[c as usize]?.stored),
                    etag: None,
                    not_modified: None,
                    site_encoded: body.site_encoded[c as usize],
                })
            })
            .collect()
    }

    /// The dynamic `_redirects` rules, in order: a fixed redirect's or a
    /// 404 rule's responses are stored (with the `_headers` a path spelled
    /// like the rule's source gets), the others are templates.
    fn rules(&self) -> Vec<RuleSpec> {
        self.site
            .rules
            .iter()
            .map(|r| {
                let paths = [r.from.as_str()];
                let (kind, status, template, variants) = match &r.target {
                    DynTarget::Redirect { status, location } => (
                        RuleKind::Redirect,
                        *status,
                        vec![],
                        vec![redirect(location, &self.site.headers.for_paths(&paths))],
                    ),
                    DynTarget::Template { status, template } => {
                        (RuleKind::Redirect, *status, template.clone(), vec![])
                    }
                    DynTarget::Rewrite(t) => (RuleKind::Rewrite, 200, t.clone(), vec![]),
                    DynTarget::NotFound(i) => {
                        (RuleKind::NotFound, 404, vec![], self.page_404(*i, &paths))
                    }
                };
                RuleSpec {
                    kind,
                    status,
                    pattern: r.pattern.clone(),
                    template,
                    variants,
                }
            })
            .collect()
    }

    /// The 404's variants (none without a `404.html`).
    fn not_found(&self) -> Vec<ResponseSpec> {
        self.site
            .not_found
            .map(|i| self.page_404(i, &["/404.html"]))
            .unwrap_or_default()
    }
}

/// A redirect's one variant: no body.
fn redirect(location: &str, set: &crate::rules::headers::HeaderSet) -> ResponseSpec {
    ResponseSpec {
        coding: Coding::Identity,
        headers: response::redirect(location, set),
        body: BodyBytes::default(),
        etag: None,
        not_modified: None,
        site_encoded: false,
    }
}
