//! `inspect` and `verify`: read a blob back through the format crate's
//! validating reader, report what it holds, and check what only the packer
//! knows (variants decode to the identity bytes, ETags hash their bytes).

use crate::compress;
use anyhow::{bail, Context};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use tarweb_format::{Blob, Coding, Variant, Variants};

#[derive(Serialize)]
struct VariantInfo {
    coding: &'static str,
    body_len: u64,
    head_len: usize,
    etag: Option<String>,
    contiguous: bool,
}

#[derive(Serialize)]
struct RouteInfo {
    path: String,
    status: u16,
    last_modified: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    variants: Vec<VariantInfo>,
}

#[derive(Serialize)]
struct Report {
    format_version: u32,
    file_size: u64,
    digest: String,
    data_bytes: u64,
    padding_bytes: u64,
    routes: Vec<RouteInfo>,
    not_found: Option<Vec<VariantInfo>>,
    /// Sum of the body bytes of every stored variant per coding (shared
    /// bodies counted once per route that uses them).
    totals: std::collections::BTreeMap<&'static str, u64>,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn variant_infos(vs: Variants) -> Vec<VariantInfo> {
    vs.iter()
        .map(|v| VariantInfo {
            coding: v.coding().token(),
            body_len: v.body_len(),
            head_len: v.head().len(),
            etag: v.etag().map(|t| String::from_utf8_lossy(t).into_owned()),
            contiguous: v.contiguous(),
        })
        .collect()
}

fn location(v: &Variant) -> Option<String> {
    let head = std::str::from_utf8(v.fields()).ok()?;
    head.split("\r\n")
        .find_map(|l| l.strip_prefix("Location: "))
        .map(str::to_string)
}

/// Bytes of the data section covered by some block, and its padding.
fn data_usage(blob: &Blob) -> (u64, u64) {
    let mut extents: Vec<(u64, u64)> = Vec::new();
    for v in blob.all_variants().iter() {
        extents.push((v.head_off(), v.head().len() as u64));
        extents.push((v.body_off(), v.body_len()));
        extents.push((v.h2_off(), v.h2_head().len() as u64));
        if let Some(nm) = v.not_modified() {
            extents.push((nm.off, nm.head.len() as u64));
            extents.push((nm.h2_off, nm.h2_head.len() as u64));
        }
    }
    extents.sort_unstable();
    let (mut used, mut end) = (0u64, 0u64);
    for (off, len) in extents {
        let e = off + len;
        if e > end {
            used += e - off.max(end);
            end = e;
        }
    }
    let data_len = blob.layout().file_size - blob.layout().data_off;
    (used, data_len - used)
}

fn report(blob: &Blob) -> Report {
    let mut totals = std::collections::BTreeMap::new();
    let routes: Vec<RouteInfo> = blob
        .routes()
        .map(|r| {
            let variants = variant_infos(r.variants());
            for v in &variants {
                *totals.entry(v.coding).or_insert(0) += v.body_len;
            }
            RouteInfo {
                path: String::from_utf8_lossy(r.path()).into_owned(),
                status: r.status(),
                last_modified: r.last_modified(),
                location: (r.status() != 200)
                    .then(|| location(&r.variants().identity()))
                    .flatten(),
                variants,
            }
        })
        .collect();
    let (data_bytes, padding_bytes) = data_usage(blob);
    Report {
        format_version: tarweb_format::layout::VERSION,
        file_size: blob.layout().file_size,
        digest: blob.digest_hex(),
        data_bytes,
        padding_bytes,
        routes,
        not_found: blob.not_found().map(variant_infos),
        totals,
    }
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

pub fn inspect(path: &Path, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let bytes = read(path)?;
    let blob = Blob::parse(&bytes).with_context(|| format!("{}", path.display()))?;
    let rep = report(&blob);
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&rep)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{}: tarweb blob v{}, {} bytes, digest {}",
        crate::printable(&path.display().to_string()),
        rep.format_version,
        rep.file_size,
        rep.digest
    )?;
    let width = rep
        .routes
        .iter()
        .map(|r| r.path.len())
        .max()
        .unwrap_or(0)
        .min(60);
    for r in &rep.routes {
        let what = match &r.location {
            Some(l) => format!("{} -> {l}", r.status),
            None => {
                let id = r
                    .variants
                    .iter()
                    .find(|v| v.coding == "identity")
                    .map_or(0, |v| v.body_len);
                r.variants
                    .iter()
                    .map(|v| {
                        if v.coding == "identity" {
                            format!("identity {}", human(v.body_len))
                        } else {
                            let saved = 100.0 * (1.0 - v.body_len as f64 / id.max(1) as f64);
                            format!("{} {} (-{saved:.0}%)", v.coding, human(v.body_len))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        writeln!(
            out,
            "  {:width$}  {}",
            crate::printable(&r.path),
            crate::printable(&what)
        )?;
    }
    if let Some(nf) = &rep.not_found {
        let list: Vec<String> = nf
            .iter()
            .map(|v| format!("{} {}", v.coding, human(v.body_len)))
            .collect();
        writeln!(out, "  (404 page)  {}", list.join(", "))?;
    }
    let totals: Vec<String> = rep
        .totals
        .iter()
        .map(|(c, n)| format!("{c} {}", human(*n)))
        .collect();
    writeln!(
        out,
        "routes: {}; variant bytes: {}",
        rep.routes.len(),
        totals.join(", ")
    )?;
    writeln!(
        out,
        "data section: {} in blocks, {} padding ({:.1}%)",
        human(rep.data_bytes),
        human(rep.padding_bytes),
        100.0 * rep.padding_bytes as f64 / (rep.data_bytes + rep.padding_bytes).max(1) as f64
    )?;
    Ok(())
}

/// The reader's full validation, plus: every head parses as an HTTP
/// response, every compressed variant decodes to the identity bytes, and
/// every ETag is the blake3 of its variant's bytes.
pub fn verify(path: &Path) -> anyhow::Result<String> {
    let bytes = read(path)?;
    let blob = Blob::parse(&bytes).with_context(|| format!("{}", path.display()))?;
    let check_run = |what: &str, vs: Variants| -> anyhow::Result<()> {
        let identity = vs.identity().body();
        for v in vs.iter() {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(v.head()) {
                Ok(httparse::Status::Complete(n)) if n == v.head().len() => {}
                other => bail!(
                    "{what}: {} head does not parse as one HTTP response: {other:?}",
                    v.coding().token()
                ),
            }
            if v.coding() != Coding::Identity {
                let d = compress::decode(v.body(), v.coding(), identity.len())
                    .with_context(|| format!("{what}: {} variant", v.coding().token()))?;
                if d != identity {
                    bail!(
                        "{what}: {} variant does not decode to the identity bytes",
                        v.coding().token()
                    );
                }
            }
            if let Some(t) = v.etag() {
                let want = format!("\"{}\"", &blake3::hash(v.body()).to_hex()[..32]);
                if t != want.as_bytes() {
                    bail!(
                        "{what}: {} ETag is not the blake3 of its bytes",
                        v.coding().token()
                    );
                }
            }
        }
        Ok(())
    };
    for r in blob.routes() {
        check_run(
            &format!("route {}", String::from_utf8_lossy(r.path())),
            r.variants(),
        )?;
    }
    if let Some(nf) = blob.not_found() {
        check_run("the 404 page", nf)?;
    }
    Ok(format!(
        "{}: OK, {} routes, {} variants, digest {}",
        path.display(),
        blob.route_count(),
        blob.all_variants().len(),
        blob.digest_hex()
    ))
}
