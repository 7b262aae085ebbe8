//! Helpers the format's integration tests share: route specs as a packer
//! would make them, a deterministic PRNG, and the route-at-a-time writer
//! run into memory.
#![allow(dead_code)]

use tarweb_format::{write_blob_from, BlobSpec, Coding, ResponseSpec, RouteSpec, WriteError};

/// A 200 route with one variant per `(coding, body)`, each with an ETag
/// (made from the path's length and the coding) and a 304 head.
pub fn resource(path: &str, bodies: &[(Coding, Vec<u8>)]) -> RouteSpec {
    let variants = bodies
        .iter()
        .map(|(c, b)| {
            let etag = format!("\"{}-{}\"", path.len(), c.token());
            let mut headers = vec![
                ("Content-Type".to_string(), "text/plain".to_string()),
                ("ETag".to_string(), etag.clone()),
            ];
            if *c != Coding::Identity {
                headers.push(("Content-Encoding".into(), c.token().into()));
            }
            ResponseSpec {
                site_encoded: false,
                coding: *c,
                headers,
                body: b.clone().into(),
                etag: Some(etag.clone()),
                not_modified: Some(vec![("ETag".into(), etag)]),
            }
        })
        .collect();
    RouteSpec {
        auth: None,
        path: path.into(),
        status: 200,
        last_modified: 1_700_000_000,
        variants,
    }
}

/// A 301 route to `to`.
pub fn redirect(path: &str, to: &str) -> RouteSpec {
    RouteSpec {
        auth: None,
        path: path.into(),
        status: 301,
        last_modified: 0,
        variants: vec![ResponseSpec {
            site_encoded: false,
            coding: Coding::Identity,
            headers: vec![("Location".into(), to.into())],
            body: "".into(),
            etag: None,
            not_modified: None,
        }],
    }
}

/// `spec` written by `write_blob_from` with its routes given as `routes`
/// (e.g. in another order), into memory, spilling to a temporary file.
pub fn write_from(spec: &BlobSpec, routes: Vec<RouteSpec>) -> Result<Vec<u8>, WriteError> {
    let mut c = std::io::Cursor::new(Vec::new());
    let spill = tempfile::tempfile().expect("a temporary file");
    write_blob_from(
        routes,
        &spec.not_found,
        &spec.rules,
        spec.encoder,
        &mut c,
        spill,
    )?;
    Ok(c.into_inner())
}

/// xorshift64*: a tiny deterministic PRNG, so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}
