//! Round trip, layout rules and hostile input for the blob format.

mod common;

use common::{redirect, resource, write_from, Rng};
use tarweb_format::rules::RoutePathError;
use tarweb_format::{
    blob_to_vec, layout, Blob, BlobSpec, Coding, FormatError, FormatErrorKind, InvalidKind,
    ResponseSpec, RouteProblem, RouteSpec, RunProblem, SpecPart, VariantProblem, Verify,
    WriteError,
};

/// A resource: its path and a body per coding.
type Resource = (&'static str, Vec<(Coding, Vec<u8>)>);

/// The sample's resources (a spec's bodies are write-only: the round trip
/// compares with these).
fn sample_bodies() -> Vec<Resource> {
    let big: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let page: Vec<u8> = vec![b'p'; 4096];
    vec![
        ("/b.txt", vec![(Coding::Identity, b"hello b".to_vec())]),
        (
            "/a.js",
            vec![
                (Coding::Identity, b"console.log('a');".repeat(20)),
                (Coding::Gzip, b"GZ".to_vec()),
                (Coding::Br, b"B".to_vec()),
            ],
        ),
        ("/big.bin", vec![(Coding::Identity, big.clone())]),
        ("/big-copy.bin", vec![(Coding::Identity, big)]),
        ("/page", vec![(Coding::Identity, page)]),
        ("/empty", vec![(Coding::Identity, vec![])]),
    ]
}

/// A spec with small, page-sized, large, shared and empty bodies.
fn sample() -> BlobSpec {
    let mut routes: Vec<RouteSpec> = sample_bodies()
        .iter()
        .map(|(path, bodies)| resource(path, bodies))
        .collect();
    routes.push(redirect("/dir", "/dir/"));
    BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes,
        not_found: vec![ResponseSpec {
            site_encoded: false,
            coding: Coding::Identity,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: "<h1>gone</h1>".into(),
            etag: None,
            not_modified: None,
        }],
    }
}

#[test]
fn round_trip_every_field() {
    let spec = sample();
    let bodies = sample_bodies();
    let (bytes, stats) = blob_to_vec(&spec).unwrap();
    assert_eq!(stats.file_size, bytes.len() as u64);
    let blob = Blob::parse(&bytes).unwrap();
    assert_eq!(blob.digest(), stats.digest);
    assert_eq!(blob.route_count(), spec.routes.len());
    let paths: Vec<_> = blob.routes().map(|r| r.path().to_vec()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "route table is sorted");
    for r in &spec.routes {
        let got = blob.lookup(r.path.as_bytes()).expect(&r.path);
        assert_eq!(got.status(), r.status);
        assert_eq!(got.last_modified(), r.last_modified);
        assert_eq!(got.variants().len(), r.variants.len());
        for want in &r.variants {
            let v = got
                .variants()
                .iter()
                .find(|v| v.coding() == want.coding)
                .unwrap();
            let body = bodies
                .iter()
                .find(|(p, _)| *p == r.path)
                .and_then(|(_, b)| b.iter().find(|(c, _)| *c == want.coding))
                .map_or(&[][..], |(_, b)| &b[..]);
            assert_eq!(v.body(), body);
            assert_eq!(
                v.etag().map(|t| t.to_vec()),
                want.etag.clone().map(String::into_bytes)
            );
            let head = std::str::from_utf8(v.head()).unwrap();
            let status = format!("HTTP/1.1 {} ", r.status);
            assert!(head.starts_with(&status), "{head}");
            assert_eq!(
                v.length_line(),
                format!("Content-Length: {}\r\n", want.body.len()).as_bytes()
            );
            assert!(v.fields().ends_with(b"\r\n\r\n") || v.fields() == b"\r\n");
            for (n, val) in &want.headers {
                assert!(head.contains(&format!("\r\n{n}: {val}\r\n")), "{head}");
            }
            let status_then_rest = [v.status_line(), v.length_line(), v.fields()].concat();
            assert_eq!(status_then_rest, v.head());
            match &want.not_modified {
                Some(_) => {
                    let nm = v.not_modified().unwrap();
                    assert_eq!(nm.status_line(), b"HTTP/1.1 304 Not Modified\r\n");
                    assert!(nm.fields().ends_with(b"\r\n\r\n"));
                }
                None => assert!(v.not_modified().is_none()),
            }
        }
        let lens: Vec<u64> = got.variants().iter().map(|v| v.body_len()).collect();
        assert!(
            lens.windows(2).all(|w| w[0] <= w[1]),
            "smallest first: {lens:?}"
        );
    }
    assert!(blob.lookup(b"/nope").is_none());
    assert!(blob.lookup(b"").is_none());
    let nf = blob.not_found().unwrap();
    assert_eq!(nf.identity().body(), b"<h1>gone</h1>");
    assert!(nf
        .identity()
        .head()
        .starts_with(b"HTTP/1.1 404 Not Found\r\n"));
}

/// The route-at-a-time writer a packer uses gives `write_blob`'s bytes,
/// whatever the order routes come in, and the same errors.
#[test]
fn write_blob_from_matches_write_blob() {
    let spec = sample();
    let (a, _) = blob_to_vec(&spec).unwrap();
    let mut routes = spec.routes.clone();
    routes.reverse();
    assert_eq!(a, write_from(&spec, routes).unwrap());
    let mut dup = spec.routes.clone();
    dup.push(spec.routes[0].clone());
    let e = write_from(&spec, dup).unwrap_err();
    assert!(matches!(
        e,
        WriteError::Invalid {
            kind: InvalidKind::DuplicateRoute,
            ..
        }
    ));
}

#[test]
fn deterministic_and_shares_identical_bodies() {
    let (a, stats) = blob_to_vec(&sample()).unwrap();
    let mut reversed = sample();
    reversed.routes.reverse();
    let (b, _) = blob_to_vec(&reversed).unwrap();
    assert_eq!(a, b, "route order of the spec does not change the bytes");
    let blob = Blob::parse(&a).unwrap();
    let big = blob.lookup(b"/big.bin").unwrap().variants().identity();
    let copy = blob.lookup(b"/big-copy.bin").unwrap().variants().identity();
    assert_eq!(
        big.body_off(),
        copy.body_off(),
        "identical bodies stored once"
    );
    // Only one 10,000-byte body in the data section.
    assert!(stats.data_bytes < 10_000 * 2, "{stats:?}");
}

#[test]
fn blocks_are_page_aligned_or_within_one_page() {
    let (bytes, stats) = blob_to_vec(&sample()).unwrap();
    let blob = Blob::parse(&bytes).unwrap();
    let page = layout::PAGE;
    let mut blocks = Vec::new();
    for v in blob.all_variants().iter() {
        let len = if v.contiguous() {
            v.head().len() as u64 + v.body_len()
        } else {
            v.head().len() as u64
        };
        blocks.push((v.head_off(), len));
        blocks.push((v.h2_off(), v.h2_head().len() as u64));
        if let Some(nm) = v.not_modified() {
            blocks.push((nm.off, nm.head.len() as u64));
            blocks.push((nm.h2_off, nm.h2_head.len() as u64));
        }
    }
    for (off, len) in blocks {
        if len >= page {
            assert_eq!(
                off % page,
                0,
                "block of {len} bytes at {off} is not page aligned"
            );
        } else {
            assert_eq!(
                off / page,
                (off + len - 1) / page,
                "block of {len} at {off} straddles"
            );
        }
    }
    assert_eq!(blob.layout().data_off % page, 0);
    assert!(stats.padding < stats.file_size);
}

/// The writer's refusal: which part of the spec, and what is wrong.
fn refusal(spec: &BlobSpec) -> (SpecPart, InvalidKind) {
    match blob_to_vec(spec) {
        Err(WriteError::Invalid { at, kind }) => (at, kind),
        Err(e) => panic!("not a refusal: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

fn routes(routes: Vec<RouteSpec>) -> BlobSpec {
    BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes,
        ..Default::default()
    }
}

#[test]
fn writer_refuses_bad_specs() {
    let mut s = sample();
    s.routes.push(redirect("/dir", "/elsewhere"));
    let dir = SpecPart::Route("/dir".into());
    assert_eq!(refusal(&s), (dir.clone(), InvalidKind::DuplicateRoute));
    assert_eq!(
        blob_to_vec(&s).unwrap_err().to_string(),
        "route \"/dir\" appears twice"
    );

    let long = format!("/{}", "x".repeat(layout::MAX_PATH_LEN));
    let e = blob_to_vec(&routes(vec![redirect(&long, "/")])).unwrap_err();
    assert!(
        e.to_string()
            .ends_with(": path is 4097 bytes, longer than the format's 4096-byte limit"),
        "{e}"
    );
    assert!(matches!(
        e,
        WriteError::Invalid {
            kind: InvalidKind::Path(RoutePathError::TooLong { len: 4097 }),
            ..
        }
    ));

    for (bad, want) in [
        ("/a/../b", RoutePathError::DotSegment),
        ("no-slash", RoutePathError::NoLeadingSlash),
        ("/a//b", RoutePathError::EmptySegment),
        ("/a\0b", RoutePathError::Nul),
    ] {
        let (at, kind) = refusal(&routes(vec![redirect(bad, "/")]));
        assert_eq!(at, SpecPart::Route(bad.into()));
        assert_eq!(kind, InvalidKind::Path(want), "{bad:?}");
    }

    let mut r = redirect("/x", "/y\r\nSet-Cookie: a=b");
    r.status = 410;
    assert_eq!(
        refusal(&routes(vec![r.clone()])).1,
        InvalidKind::Status(410)
    );
    r.status = 301;
    assert_eq!(
        refusal(&routes(vec![r.clone()])),
        (
            SpecPart::Route("/x".into()),
            InvalidKind::HeaderValue("Location".into())
        )
    );
    r.variants[0].headers = vec![("Content-Length".into(), "5".into())];
    assert_eq!(
        refusal(&routes(vec![r.clone()])).1,
        InvalidKind::ContentLength
    );
    r.variants[0].headers = vec![("Bad Name".into(), "5".into())];
    assert_eq!(
        refusal(&routes(vec![r.clone()])).1,
        InvalidKind::HeaderName("Bad Name".into())
    );
    r.variants[0].headers = vec![];
    r.variants[0].etag = Some("\"x\"".into());
    assert_eq!(
        refusal(&routes(vec![r.clone()])).1,
        InvalidKind::UnexpectedEtag
    );
    r.variants[0].etag = None;
    r.variants[0].not_modified = Some(vec![]);
    assert_eq!(
        refusal(&routes(vec![r.clone()])).1,
        InvalidKind::UnexpectedNotModified
    );
    r.variants = vec![];
    assert_eq!(refusal(&routes(vec![r])).1, InvalidKind::VariantCount(0));

    let mut r = resource("/x", &[(Coding::Identity, b"1".to_vec())]);
    r.variants[0].etag = None;
    assert_eq!(
        refusal(&routes(vec![r.clone()])).1,
        InvalidKind::MissingEtag
    );
    r.variants[0].etag = Some("W/\"weak\"".into());
    assert_eq!(
        refusal(&routes(vec![r.clone()])).1,
        InvalidKind::Etag("W/\"weak\"".into())
    );
    r.variants[0].etag = Some("\"other\"".into());
    assert_eq!(
        refusal(&routes(vec![r])).1,
        InvalidKind::EtagNotInHeaders("\"other\"".into())
    );

    let r = resource("/x", &[(Coding::Gzip, b"1".to_vec())]);
    assert_eq!(refusal(&routes(vec![r])).1, InvalidKind::NoIdentity);
    let mut r = resource(
        "/x",
        &[
            (Coding::Identity, b"1".to_vec()),
            (Coding::Br, b"2".to_vec()),
        ],
    );
    r.variants[1].coding = Coding::Identity;
    assert_eq!(
        refusal(&routes(vec![r])).1,
        InvalidKind::DuplicateCoding(Coding::Identity)
    );

    // Same coding twice, not next to each other by size.
    let mut r = resource(
        "/x",
        &[
            (Coding::Identity, b"12345".to_vec()),
            (Coding::Gzip, b"123456".to_vec()),
            (Coding::Br, b"1234567".to_vec()),
        ],
    );
    r.variants[2].coding = Coding::Identity;
    assert_eq!(
        refusal(&routes(vec![r])).1,
        InvalidKind::DuplicateCoding(Coding::Identity)
    );

    let mut s = sample();
    s.not_found[0].etag = Some("\"nf\"".into());
    assert_eq!(
        refusal(&s),
        (SpecPart::NotFound, InvalidKind::UnexpectedEtag)
    );
    assert_eq!(
        blob_to_vec(&s).unwrap_err().to_string(),
        "the 404 response: only 200 responses have ETags"
    );
}

#[test]
fn reader_names_the_problem() {
    let (bytes, stats) = blob_to_vec(&sample()).unwrap();
    let e = |b: &[u8]| Blob::parse(b).expect_err("must fail");
    let kind = |b: &[u8]| e(b).kind;

    assert_eq!(
        e(&bytes[..10]),
        FormatError {
            offset: 10,
            kind: FormatErrorKind::TooShort { len: 10 }
        }
    );
    assert!(e(&bytes[..10])
        .to_string()
        .contains("shorter than the 128-byte header"));
    let text = b"<html>not a blob at all, really not, but long enough to have a header ............................................................";
    assert_eq!(kind(text), FormatErrorKind::BadMagic);
    assert!(e(text).to_string().contains("bad magic"));

    let mut v = bytes.clone();
    v[8] = 3;
    assert_eq!(kind(&v), FormatErrorKind::UnsupportedVersion { version: 3 });
    assert!(e(&v).to_string().contains("format version 3"));

    let short = &bytes[..bytes.len() - 1];
    assert_eq!(
        kind(short),
        FormatErrorKind::FileSize {
            header: stats.file_size,
            actual: stats.file_size - 1
        }
    );
    assert!(e(short).to_string().contains("(truncated or appended to)"));
    let mut v = bytes.clone();
    v.push(0);
    assert!(matches!(kind(&v), FormatErrorKind::FileSize { .. }));

    let mut v = bytes.clone();
    let last = v.len() - 1;
    v[last] ^= 1;
    let FormatErrorKind::DigestMismatch { stored, computed } = kind(&v) else {
        panic!("{}", e(&v));
    };
    assert_eq!(stored, stats.digest);
    assert_eq!(
        computed,
        *blake3::hash(&v[layout::DIGEST_START..]).as_bytes()
    );
    assert!(e(&v).to_string().contains("digest mismatch"));
    // Without the digest check, the same file is fine.
    assert!(Blob::parse_with(&v, Verify::SkipDigest).is_ok());

    for at in [layout::hdr::RESERVED_B, layout::hdr::RESERVED_B + 1] {
        let mut v = bytes.clone();
        v[at] = 1;
        assert_eq!(kind(&v), FormatErrorKind::ReservedHeader);
    }
    // `flags` knows one bit, INDEXED.
    for bit in 1..16 {
        let mut v = bytes.clone();
        let at = layout::hdr::FLAGS;
        let flags = u16::from_le_bytes([v[at], v[at + 1]]) | 1 << bit;
        v[at..at + 2].copy_from_slice(&flags.to_le_bytes());
        assert_eq!(kind(&v), FormatErrorKind::UnknownFlags(flags));
    }
    // The encoder id is the writer's to say; any value reads back.
    let mut v = bytes.clone();
    v[layout::hdr::ENCODER..layout::hdr::ENCODER + 8].copy_from_slice(b"12345678");
    fix_digest(&mut v);
    assert_eq!(Blob::parse(&v).unwrap().encoder(), *b"12345678");
    assert_eq!(Blob::parse(&bytes).unwrap().encoder(), [0; 8]);
    // SITE_ENCODED is the one variant flag, and never on identity.
    {
        let blob = Blob::parse(&bytes).unwrap();
        let at = |i: usize| {
            blob.layout().variants_off as usize
                + i * layout::VARIANT_ENTRY_SIZE
                + layout::variant::FLAGS
        };
        let identity = blob.routes().next().unwrap().variants().identity().index();
        let mut v = bytes.clone();
        v[at(identity)] = layout::SITE_ENCODED;
        fix_digest(&mut v);
        let FormatErrorKind::Variant { problem, .. } = kind(&v) else {
            panic!("{}", e(&v));
        };
        assert_eq!(problem, VariantProblem::SiteEncodedIdentity);
        let mut v = bytes.clone();
        v[at(identity)] = 2;
        fix_digest(&mut v);
        let FormatErrorKind::Variant { problem, .. } = kind(&v) else {
            panic!("{}", e(&v));
        };
        assert_eq!(problem, VariantProblem::Reserved);
        let other = blob
            .routes()
            .flat_map(|r| r.variants().iter())
            .find(|v| v.coding() != Coding::Identity)
            .expect("the sample has a compressed variant");
        let mut v = bytes.clone();
        v[at(other.index())] = layout::SITE_ENCODED;
        fix_digest(&mut v);
        let b = Blob::parse(&v).unwrap();
        assert!(b
            .routes()
            .flat_map(|r| r.variants().iter())
            .any(|v| v.site_encoded()));
    }

    // Structure behind a valid digest: a route with a bad path, an unknown
    // coding, a 404 run that lies about its count.
    let blob = Blob::parse(&bytes).unwrap();
    let l = blob.layout();
    let route0 = l.routes_off as usize;
    let path0 = l.strings_off as usize;
    let mut v = bytes.clone();
    v[path0] = b'x';
    fix_digest(&mut v);
    let err = e(&v);
    assert_eq!(err.offset, route0 as u64);
    let FormatErrorKind::Route {
        index: 0,
        problem: RouteProblem::Path { error, .. },
    } = err.kind
    else {
        panic!("{err}");
    };
    assert_eq!(error, RoutePathError::NoLeadingSlash);

    let mut v = bytes.clone();
    v[l.variants_off as usize + layout::variant::CODING] = 9;
    fix_digest(&mut v);
    assert_eq!(
        kind(&v),
        FormatErrorKind::Variant {
            index: 0,
            problem: VariantProblem::UnknownCoding(9)
        }
    );
    assert!(e(&v).to_string().contains("variant 0: unknown coding 9"));

    let mut v = bytes.clone();
    v[layout::hdr::NOT_FOUND_COUNT] = 5;
    fix_digest(&mut v);
    assert_eq!(kind(&v), FormatErrorKind::NotFoundRun(RunProblem::Count(5)));
    assert!(e(&v)
        .to_string()
        .contains("404 response: variant count 5 is not in 1..=4"));
}

/// xorshift64*: a tiny deterministic PRNG, so failures reproduce.
/// Touches every byte every accessor can reach: a panic or an out-of-bounds
/// slice here is a reader bug.
fn walk(blob: &Blob) -> u64 {
    let mut sum = 0u64;
    let mut touch =
        |b: &[u8]| sum = sum.wrapping_add(b.len() as u64 + b.first().copied().unwrap_or(0) as u64);
    for r in blob.routes() {
        touch(r.path());
        let _ = blob.lookup(r.path());
        for v in r.variants().iter() {
            touch(v.head());
            touch(v.status_line());
            touch(v.length_line());
            touch(v.fields());
            touch(v.body());
            touch(v.h2_head());
            touch(&v.h2_head()[..v.h2_status_len() + v.h2_length_len()]);
            if let Some(t) = v.etag() {
                touch(t);
            }
            if let Some(nm) = v.not_modified() {
                touch(nm.status_line());
                touch(nm.fields());
                touch(&nm.h2_head[..nm.h2_status_len]);
            }
        }
        let _ = r.variants().identity();
    }
    if let Some(nf) = blob.not_found() {
        touch(nf.identity().body());
    }
    sum
}

fn fix_digest(v: &mut [u8]) {
    tarweb_format::reseal(v);
}

#[test]
fn thousands_of_mutated_and_truncated_blobs_never_panic() {
    let (good, _) = blob_to_vec(&sample()).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..20_000 {
        let mut v = good.clone();
        match round % 4 {
            // Flip 1-8 random bytes, mostly in the tables where structure lives.
            0 | 1 => {
                let hot = (v.len()).min(1024);
                for _ in 0..1 + rng.below(8) {
                    let at = if rng.below(4) > 0 {
                        rng.below(hot)
                    } else {
                        rng.below(v.len())
                    };
                    v[at] = rng.next() as u8;
                }
            }
            // Overwrite an aligned integer with an extreme value.
            2 => {
                let at = rng.below(1024.min(v.len()) / 2) * 2;
                let val: u64 =
                    [0, 1, u64::MAX, u32::MAX as u64, 4096, v.len() as u64][rng.below(6)];
                let w = [2usize, 4, 8][rng.below(3)].min(v.len() - at);
                v[at..at + w].copy_from_slice(&val.to_le_bytes()[..w]);
            }
            // Truncate anywhere.
            _ => v.truncate(rng.below(good.len())),
        }
        // Half the time re-seal the digest, so the structure checks are reached.
        if round % 2 == 0 {
            fix_digest(&mut v);
        }
        for verify in [Verify::Full, Verify::SkipDigest] {
            match Blob::parse_with(&v, verify) {
                Ok(b) => {
                    walk(&b);
                    accepted += 1;
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    refused += 1;
                }
            }
        }
    }
    // Both outcomes must occur, or the test is not exercising the reader.
    assert!(refused > 10_000, "refused {refused}");
    assert!(accepted > 100, "accepted {accepted}");
}

/// Basic-Auth: digests round-trip, only their credentials are admitted,
/// and the rules of §3 hold on both sides.
#[test]
fn basic_auth_credentials() {
    use tarweb_format::layout::{self, route};
    use tarweb_format::rules::basic_auth_digest;
    use tarweb_format::{AuthSpec, RouteProblem};
    let salt = *b"0123456789abcdef";
    let mut spec = sample();
    spec.routes[0].auth = Some(AuthSpec {
        salt,
        digests: vec![
            basic_auth_digest(&salt, b"alice:s3cret"),
            basic_auth_digest(&salt, b"bob:hunter2"),
        ],
    });
    let (bytes, _) = blob_to_vec(&spec).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"s3cret"),
        "no password stored"
    );
    let blob = Blob::parse(&bytes).unwrap();
    let r = blob.lookup(b"/b.txt").unwrap();
    let a = r.auth().expect("protected");
    assert_eq!(a.len(), 2);
    assert!(a.admits(b"alice:s3cret") && a.admits(b"bob:hunter2"));
    for wrong in [
        &b"alice:s3cre"[..],
        b"alice:s3cret ",
        b"bob:s3cret",
        b"",
        b":",
    ] {
        assert!(!a.admits(wrong), "{wrong:?}");
    }
    assert!(blob.lookup(b"/a.js").unwrap().auth().is_none());

    // The writer: credentials only on 200 routes, 1 to 64 of them.
    let mut s = sample();
    let last = s.routes.len() - 1; // the redirect
    s.routes[last].auth = spec.routes[0].auth.clone();
    assert_eq!(refusal(&s).1, InvalidKind::Auth);
    let mut s = sample();
    s.routes[0].auth = Some(AuthSpec {
        salt,
        digests: vec![],
    });
    assert_eq!(refusal(&s).1, InvalidKind::Auth);
    s.routes[0].auth = Some(AuthSpec {
        salt,
        digests: vec![[7; 32]; layout::MAX_AUTH + 1],
    });
    assert_eq!(refusal(&s).1, InvalidKind::Auth);

    // The reader: an offset without a count, a count past the strings,
    // credentials on a redirect.
    let at = |i: usize, f: usize| blob.layout().routes_off as usize + i * 32 + f;
    let i = r.index();
    let route_problem = |v: &[u8]| match Blob::parse(v).expect_err("must fail").kind {
        FormatErrorKind::Route { problem, .. } => problem,
        k => panic!("{k:?}"),
    };
    let mut v = bytes.clone();
    v[at(i, route::AUTH_COUNT)] = 0;
    fix_digest(&mut v);
    assert_eq!(route_problem(&v), RouteProblem::Auth);
    let mut v = bytes.clone();
    v[at(i, route::AUTH_COUNT)] = 200;
    fix_digest(&mut v);
    assert_eq!(route_problem(&v), RouteProblem::Auth);
    let redirect = blob.routes().find(|r| r.status() != 200).unwrap().index();
    let mut v = bytes.clone();
    let (from, to) = (at(i, route::AUTH_OFF), at(redirect, route::AUTH_OFF));
    let moved: Vec<u8> = v[from..from + 6].to_vec();
    v[to..to + 6].copy_from_slice(&moved);
    fix_digest(&mut v);
    assert_eq!(route_problem(&v), RouteProblem::Auth);
}

/// Dynamic `_redirects` rules: written, read back in order, matched; the
/// writer and reader refuse the shapes §5.1 rules out.
#[test]
fn dynamic_rules_round_trip() {
    use tarweb_format::dynamic::{Captures, RuleKind, Token::*};
    use tarweb_format::{RuleProblem, RuleSpec};
    let mut spec = sample();
    let moved = redirect("/unused", "/news/");
    spec.rules = vec![
        RuleSpec {
            kind: RuleKind::Redirect,
            status: 301,
            pattern: vec![Lit(b"news".to_vec()), Splat],
            template: vec![Lit(b"/blog/".to_vec()), Splat],
            variants: vec![],
        },
        RuleSpec {
            kind: RuleKind::Redirect,
            status: 302,
            pattern: vec![Lit(b"old".to_vec()), Capture(0)],
            template: vec![],
            variants: moved.variants.clone(),
        },
        RuleSpec {
            kind: RuleKind::Rewrite,
            status: 200,
            pattern: vec![Splat],
            template: vec![Lit(b"/b.txt".to_vec())],
            variants: vec![],
        },
    ];
    let (bytes, _) = blob_to_vec(&spec).unwrap();
    let blob = Blob::parse(&bytes).unwrap();
    let kinds: Vec<_> = blob.rules().map(|r| (r.kind(), r.status())).collect();
    assert_eq!(
        kinds,
        [
            (RuleKind::Redirect, 301),
            (RuleKind::Redirect, 302),
            (RuleKind::Rewrite, 200)
        ]
    );
    let mut c = Captures::default();
    let r = blob.match_rule(b"/news/a b", &mut c).unwrap();
    let mut out = [0u8; 64];
    let n = tarweb_format::dynamic::expand(r.template(), b"/news/a b", &c, true, &mut out).unwrap();
    assert_eq!(&out[..n], b"/blog/a%20b");
    let r = blob.match_rule(b"/old/x", &mut c).unwrap();
    assert_eq!(
        r.run().unwrap().identity().status_line(),
        b"HTTP/1.1 302 Found\r\n"
    );
    assert_eq!(
        blob.match_rule(b"/anything", &mut c).unwrap().kind(),
        RuleKind::Rewrite
    );

    // Writer: a rewrite with a run, a redirect with neither, a template
    // naming a capture the pattern lacks.
    for bad in [
        RuleSpec {
            kind: RuleKind::Rewrite,
            status: 200,
            pattern: vec![Splat],
            template: vec![],
            variants: moved.variants.clone(),
        },
        RuleSpec {
            kind: RuleKind::Redirect,
            status: 301,
            pattern: vec![Splat],
            template: vec![],
            variants: vec![],
        },
        RuleSpec {
            kind: RuleKind::Redirect,
            status: 301,
            pattern: vec![Splat],
            template: vec![Capture(0)],
            variants: vec![],
        },
    ] {
        let mut s = sample();
        s.rules = vec![bad];
        assert_eq!(refusal(&s), (SpecPart::Rule(0), InvalidKind::Rule));
    }
    // Reader: a kind byte out of range, behind a valid digest.
    let l = blob.layout();
    let at =
        l.strings_off as usize + u32::from_le_bytes(bytes[120..124].try_into().unwrap()) as usize;
    let mut v = bytes.clone();
    v[at] = 9;
    fix_digest(&mut v);
    match Blob::parse(&v).unwrap_err().kind {
        FormatErrorKind::Rule { index: 0, problem } => assert_eq!(problem, RuleProblem::Kind(9)),
        k => panic!("{k:?}"),
    }
}
