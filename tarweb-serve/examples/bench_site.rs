//! Writes the benchmark site twice: as a `.twb` blob for tarweb-serve and as
//! a directory tree for nginx (same bytes, plus `.gz` files for
//! gzip_static). Usage: `bench_site OUT_DIR`.

use std::io::Write;
use std::sync::Arc;
use tarweb_format::{BlobSpec, Coding, ResponseSpec, RouteSpec};

const LM: i64 = 1_700_000_000;
const LM_STR: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn route(path: &str, body: &[u8], ctype: &str, with_gzip: bool) -> RouteSpec {
    let mut codings = vec![(Coding::Identity, body.to_vec())];
    if with_gzip {
        codings.push((Coding::Gzip, gzip(body)));
    }
    let several = codings.len() > 1;
    let mut variants: Vec<ResponseSpec> = codings
        .into_iter()
        .map(|(c, bytes)| {
            let etag = format!("\"{:x}-{}-{}\"", LM, bytes.len(), c.token());
            let h = |n: &str, v: &str| (n.to_string(), v.to_string());
            let mut headers = vec![
                h("Content-Type", ctype),
                h("ETag", &etag),
                h("Last-Modified", LM_STR),
                h("Cache-Control", "public, max-age=0, must-revalidate"),
            ];
            if several {
                headers.push(h("Vary", "Accept-Encoding"));
            }
            if c != Coding::Identity {
                headers.push(h("Content-Encoding", c.token()));
            }
            headers.push(h("Accept-Ranges", "bytes"));
            let mut nm = vec![
                h("ETag", &etag),
                h("Cache-Control", "public, max-age=0, must-revalidate"),
            ];
            if several {
                nm.push(h("Vary", "Accept-Encoding"));
            }
            nm.push(h("Last-Modified", LM_STR));
            ResponseSpec {
                coding: c,
                headers,
                body: Arc::from(bytes),
                etag: Some(etag),
                not_modified: Some(nm),
            }
        })
        .collect();
    variants.sort_by_key(|v| v.body.len());
    RouteSpec {
        path: path.into(),
        status: 200,
        last_modified: LM,
        variants,
    }
}

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: bench_site OUT_DIR"));
    let root = out.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mut index = b"<!doctype html><html><head><title>bench</title></head><body>\n".to_vec();
    for i in 0..150 {
        index.extend_from_slice(
            format!("<p>Paragraph {i}: a static site served by counting syscalls.</p>\n")
                .as_bytes(),
        );
    }
    index.extend_from_slice(b"</body></html>\n");
    let mut seed = 0x9e3779b97f4a7c15u64;
    let big: Vec<u8> = (0..1024 * 1024)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let spec = BlobSpec {
        routes: vec![
            route("/", &index, "text/html", true),
            route("/index.html", &index, "text/html", true),
            route("/big.bin", &big, "application/octet-stream", false),
        ],
        not_found: vec![],
    };
    let (bytes, _) = tarweb_format::blob_to_vec(&spec).unwrap();
    std::fs::write(out.join("site.twb"), bytes).unwrap();
    std::fs::write(root.join("index.html"), &index).unwrap();
    std::fs::write(root.join("index.html.gz"), gzip(&index)).unwrap();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    println!(
        "index.html {} bytes, big.bin {} bytes",
        index.len(),
        big.len()
    );
}
