//! Checking a blob a variant at a time (`Verify::Lazy`, `format-spec.md`
//! §2 "Indexed blobs" and §8): what is checked at load, what before a
//! variant's first use, and that a damaged byte anywhere a server sends
//! from is caught by one or the other.

mod common;

use common::{redirect, resource, Rng};
use tarweb_format::layout::{self, hdr, variant};
use tarweb_format::{
    blob_to_vec, reseal, Blob, BlobSpec, Coding, FormatErrorKind, ResponseSpec, VariantChecks,
    VariantProblem, Verdict, Verify,
};

fn sample() -> Vec<u8> {
    let big: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let spec = BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes: vec![
            resource(
                "/a",
                &[
                    (Coding::Identity, b"aaaa".to_vec()),
                    (Coding::Gzip, b"A".to_vec()),
                ],
            ),
            resource("/big", &[(Coding::Identity, big)]),
            resource("/empty", &[(Coding::Identity, vec![])]),
            redirect("/old", "/a"),
        ],
        not_found: vec![ResponseSpec {
            site_encoded: false,
            coding: Coding::Identity,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: "<h1>gone</h1>".into(),
            etag: None,
            not_modified: None,
        }],
    };
    blob_to_vec(&spec).unwrap().0
}

/// Every variant of `blob` with the status of the run it is in.
fn variants<'a>(blob: &Blob<'a>) -> Vec<(tarweb_format::Variant<'a>, u16)> {
    let mut all: Vec<_> = blob
        .routes()
        .flat_map(|r| r.variants().iter().map(move |v| (v, r.status())))
        .collect();
    all.extend(
        blob.not_found()
            .into_iter()
            .flat_map(|vs| vs.iter().map(|v| (v, 404))),
    );
    all
}

#[test]
fn a_packed_blob_is_indexed_and_checks_lazily() {
    let bytes = sample();
    let flags = u16::from_le_bytes([bytes[hdr::FLAGS], bytes[hdr::FLAGS + 1]]);
    assert_eq!(flags, layout::INDEXED);
    // Checked whole, the `check` values are compared too.
    assert!(!Blob::parse(&bytes).unwrap().deferred());
    let blob = Blob::parse_with(&bytes, Verify::Lazy(2)).unwrap();
    assert!(blob.deferred());
    let checks = VariantChecks::new(&blob);
    assert_eq!(checks.passed(), 0);
    let all = variants(&blob);
    assert_eq!(all.len(), 6);
    for &(v, status) in &all {
        assert_eq!(blob.verify(v, status).map(|v| v.index()), Ok(v.index()));
        // Under the wrong run's status, a variant is refused.
        let other = if status == 200 { 404 } else { 200 };
        assert_eq!(
            blob.verify(v, other).unwrap_err(),
            VariantProblem::StatusMismatch { expected: other }
        );
        assert_eq!(checks.verify(&blob, &v, status), Verdict::Ok);
        assert_eq!(checks.verify(&blob, &v, status), Verdict::Ok);
    }
    assert_eq!(checks.passed(), all.len());
    // A blob checked whole needs no memory and no checks.
    let whole = Blob::parse_with(&bytes, Verify::FullThreads(2)).unwrap();
    let none = VariantChecks::new(&whole);
    let (v, status) = variants(&whole)[0];
    assert_eq!(none.verify(&whole, &v, status), Verdict::Ok);
    assert_eq!(none.passed(), 0);
}

/// The data section's byte offsets of every variant block, for damaging.
fn block_bytes(blob: &Blob) -> Vec<(usize, usize)> {
    let mut out = vec![];
    for (v, _) in variants(blob) {
        for (off, len) in [
            (v.head_off(), v.head().len()),
            (v.body_off(), v.body().len()),
            (v.h2_off(), v.h2_head().len()),
        ] {
            out.push((off as usize, len));
        }
    }
    out
}

#[test]
fn a_damaged_block_is_refused_before_use_and_only_its_variants() {
    let good = sample();
    let blob = Blob::parse(&good).unwrap();
    let mut damaged = 0;
    for (off, len) in block_bytes(&blob) {
        if len == 0 {
            continue;
        }
        for at in [off, off + len / 2, off + len - 1] {
            let mut v = good.clone();
            v[at] ^= 0x20;
            // The whole-file digest refuses it at load; the lazy load
            // accepts it (the index is intact)...
            assert!(matches!(
                Blob::parse(&v).unwrap_err().kind,
                FormatErrorKind::DigestMismatch { .. }
            ));
            let lazy = Blob::parse_with(&v, Verify::Lazy(1)).unwrap();
            let checks = VariantChecks::new(&lazy);
            // ...and every variant whose blocks hold the byte is refused
            // before use, the others served.
            let mut refused = 0;
            for (x, status) in variants(&lazy) {
                let holds = [
                    (x.head_off(), x.head().len()),
                    (x.body_off(), x.body().len()),
                    (x.h2_off(), x.h2_head().len()),
                ]
                .into_iter()
                .chain(x.not_modified().map(|nm| {
                    let off = nm.head.as_ptr() as usize - v.as_ptr() as usize;
                    (off as u64, nm.head.len())
                }))
                .chain(x.not_modified().map(|nm| {
                    let off = nm.h2_head.as_ptr() as usize - v.as_ptr() as usize;
                    (off as u64, nm.h2_head.len())
                }))
                .any(|(o, l)| (o as usize..o as usize + l).contains(&at));
                match checks.verify(&lazy, &x, status) {
                    Verdict::Failed(VariantProblem::CheckMismatch { .. }) if holds => {
                        refused += 1;
                        assert_eq!(checks.verify(&lazy, &x, status), Verdict::KnownBad);
                    }
                    Verdict::Ok if !holds => {}
                    other => panic!("byte {at}, variant {}: {other:?}", x.index()),
                }
            }
            assert!(refused > 0);
            damaged += 1;
        }
    }
    assert!(damaged > 30, "{damaged}");
}

#[test]
fn a_damaged_index_is_refused_at_load() {
    let good = sample();
    let blob = Blob::parse(&good).unwrap();
    let end = (blob.layout().strings_off + blob.layout().strings_len) as usize;
    // Header fields after the digest, the tables, the strings, the index
    // digest itself: every byte of the index.
    for at in (layout::DIGEST_START..end).step_by(7) {
        let mut v = good.clone();
        v[at] ^= 0x01;
        let e = Blob::parse_with(&v, Verify::Lazy(1)).unwrap_err();
        assert!(!e.to_string().is_empty());
        // Structure rules come first where the edit breaks one; the
        // digest catches every other edit.
        if at >= end - layout::INDEX_DIGEST_LEN {
            assert!(
                matches!(e.kind, FormatErrorKind::IndexDigestMismatch { .. }),
                "{at}: {e}"
            );
        }
    }
    // The message names the index.
    let mut v = good.clone();
    v[end - 1] ^= 1;
    let e = Blob::parse_with(&v, Verify::Lazy(1)).unwrap_err();
    assert!(e.to_string().contains("index digest mismatch"), "{e}");
}

#[test]
fn a_resealed_bad_head_is_still_refused_before_use() {
    // The `check` matches (recomputed), the head breaks §4.1: the lazy
    // checks still parse it.
    let good = sample();
    let blob = Blob::parse(&good).unwrap();
    let v = blob.lookup(b"/a").unwrap().variants().identity();
    let mut bad = good.clone();
    let colon = v.head_off() as usize + v.head().len() - 4;
    bad[colon] = 0x01; // a control byte in the last field's value
    reseal(&mut bad);
    let lazy = Blob::parse_with(&bad, Verify::Lazy(1)).unwrap();
    let v = lazy.lookup(b"/a").unwrap().variants().identity();
    assert!(matches!(
        lazy.verify(v, 200).unwrap_err(),
        VariantProblem::Head(_)
    ));
    // Checked whole, the same blob is refused at load.
    assert!(matches!(
        Blob::parse(&bad).unwrap_err().kind,
        FormatErrorKind::Variant {
            problem: VariantProblem::Head(_),
            ..
        }
    ));
}

#[test]
fn a_wrong_check_is_refused_by_the_whole_check_too() {
    let good = sample();
    let blob = Blob::parse(&good).unwrap();
    let at = blob.layout().variants_off as usize + variant::CHECK;
    let mut v = good.clone();
    v[at] ^= 1;
    // Only the digests resealed, not the check.
    let end = (blob.layout().strings_off + blob.layout().strings_len) as usize;
    let d = end - layout::INDEX_DIGEST_LEN;
    let h = blake3::hash(&v[layout::DIGEST_START..d]);
    v[d..end].copy_from_slice(h.as_bytes());
    let h = blake3::hash(&v[layout::DIGEST_START..]);
    v[hdr::DIGEST..hdr::DIGEST + 32].copy_from_slice(h.as_bytes());
    assert!(matches!(
        Blob::parse(&v).unwrap_err().kind,
        FormatErrorKind::Variant {
            index: 0,
            problem: VariantProblem::CheckMismatch { .. }
        }
    ));
    // Without digests, the check is not compared.
    assert!(Blob::parse_with(&v, Verify::SkipDigest).is_ok());
}

#[test]
fn a_blob_that_is_not_indexed_is_checked_whole() {
    let mut v = sample();
    let l = Blob::parse(&v).unwrap().layout();
    // Clear the flag, every check and the index digest's 32 bytes stay
    // (as strings no one points at), then reseal.
    v[hdr::FLAGS..hdr::FLAGS + 2].copy_from_slice(&[0, 0]);
    for i in 0..l.variant_count as usize {
        let e = l.variants_off as usize + i * layout::VARIANT_ENTRY_SIZE;
        v[e + variant::CHECK..e + variant::CHECK + 8].fill(0);
    }
    reseal(&mut v);
    let lazy = Blob::parse_with(&v, Verify::Lazy(2)).unwrap();
    assert!(!lazy.deferred());
    // Its data damaged: refused at load, as before.
    let body = lazy
        .lookup(b"/big")
        .unwrap()
        .variants()
        .identity()
        .body_off() as usize;
    v[body] ^= 1;
    assert!(matches!(
        Blob::parse_with(&v, Verify::Lazy(2)).unwrap_err().kind,
        FormatErrorKind::DigestMismatch { .. }
    ));
    // A check value in a blob that is not indexed is a reserved byte.
    let mut v = sample();
    v[hdr::FLAGS..hdr::FLAGS + 2].copy_from_slice(&[0, 0]);
    reseal(&mut v);
    assert!(matches!(
        Blob::parse(&v).unwrap_err().kind,
        FormatErrorKind::Variant {
            problem: VariantProblem::Reserved,
            ..
        }
    ));
}

/// Mutated blobs loaded lazily: the load refuses or accepts, a handle's
/// accessors never panic on a variant not yet checked, and a variant that
/// passes `verify` is walkable whole.
#[test]
fn mutated_blobs_loaded_lazily_never_panic() {
    let good = sample();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let (mut passed, mut failed) = (0, 0);
    for round in 0..20_000 {
        let mut v = good.clone();
        for _ in 0..1 + rng.below(4) {
            let at = if round % 2 == 0 {
                rng.below(v.len().min(1500))
            } else {
                rng.below(v.len())
            };
            v[at] = rng.next() as u8;
        }
        if round % 3 == 0 {
            reseal(&mut v);
        }
        for verify in [Verify::Lazy(1), Verify::LazySkipDigest] {
            let Ok(blob) = Blob::parse_with(&v, verify) else {
                continue;
            };
            for (x, status) in variants(&blob) {
                // What a server reads before the check: coding, length, ETag.
                let _ = (x.coding(), x.body_len(), x.etag(), x.site_encoded());
                let _ = (
                    x.head(),
                    x.status_line(),
                    x.length_line(),
                    x.fields(),
                    x.body(),
                );
                let _ = &x.h2_head()[..x.h2_status_len() + x.h2_length_len()];
                if let Some(nm) = x.not_modified() {
                    let _ = (
                        nm.status_line(),
                        nm.fields(),
                        &nm.h2_head[..nm.h2_status_len],
                    );
                }
                match blob.verify(x, status) {
                    Ok(_) => passed += 1,
                    Err(p) => {
                        assert!(!p.to_string().is_empty());
                        failed += 1;
                    }
                }
            }
        }
    }
    assert!(passed > 1000 && failed > 100, "{passed} {failed}");
}
