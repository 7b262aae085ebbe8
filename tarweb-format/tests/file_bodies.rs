//! Bodies read from a file (`Body::from_file`): the same blob as the same
//! bytes in memory, bodies larger than the writer's read chunk, at offsets
//! in a shared file; and a file that changes, shrinks or cannot be read
//! while the blob is written is an error, never a blob with bytes its
//! checks do not cover.

mod common;

use common::{resource, write_from};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use tarweb_format::{
    blob_to_vec, write_blob_from, Blob, BlobSpec, Body, Coding, RouteSpec, Verify, WriteError,
};

/// `bytes` written to a new temporary file after `pad` other bytes.
fn file_with(pad: usize, bytes: &[u8]) -> Arc<File> {
    let mut f = tempfile::tempfile().expect("a temporary file");
    f.write_all(&vec![b'-'; pad]).unwrap();
    f.write_all(bytes).unwrap();
    Arc::new(f)
}

/// Bytes that differ at every offset a chunk boundary could fall on.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed) ^ (i >> 11)) as u8)
        .collect()
}

/// `spec` with each body replaced as `f` says, per (path, coding).
fn with_bodies(mut spec: BlobSpec, mut f: impl FnMut(&str, Coding) -> Body) -> BlobSpec {
    for r in &mut spec.routes {
        for v in &mut r.variants {
            v.body = f(&r.path, v.coding);
        }
    }
    spec
}

/// Writes `routes` route at a time; `after` runs once the writer has taken
/// the last route (before it copies any body), e.g. to change a file.
fn write_then(routes: Vec<RouteSpec>, after: impl FnOnce()) -> Result<Vec<u8>, WriteError> {
    let mut after = Some(after);
    let routes = routes.into_iter().chain(std::iter::from_fn(|| {
        if let Some(f) = after.take() {
            f();
        }
        None
    }));
    let mut c = std::io::Cursor::new(Vec::new());
    let spill = tempfile::tempfile().expect("a temporary file");
    write_blob_from(routes, &[], &[], [0; 8], &mut c, spill)?;
    Ok(c.into_inner())
}

/// A 3 MiB body (a dozen read chunks, and not a whole number of them),
/// two codings of it at offsets of one shared file, one of them a copy of
/// an in-memory body: the blob is byte for byte the in-memory one's, it
/// parses fully verified, and every body reads back.
#[test]
fn large_bodies_at_offsets_round_trip() {
    let big = pattern(3 << 20 | 4321, 1);
    let gz = pattern(700_000, 2);
    let small = b"small body".to_vec();
    let spec = BlobSpec {
        routes: vec![
            resource(
                "/big.bin",
                &[(Coding::Identity, big.clone()), (Coding::Gzip, gz.clone())],
            ),
            resource("/small.txt", &[(Coding::Identity, small.clone())]),
            // The same bytes as `/big.bin`'s gzip, in memory: stored once.
            resource("/gz-copy", &[(Coding::Identity, gz.clone())]),
        ],
        ..Default::default()
    };
    let (want, want_stats) = blob_to_vec(&spec).unwrap();

    let pad = 12_345;
    let file = file_with(pad, &[&big[..], &gz[..], &small[..]].concat());
    let at = |n: usize| pad as u64 + n as u64;
    let spec = with_bodies(spec, |path, coding| match (path, coding) {
        ("/big.bin", Coding::Identity) => Body::from_file(file.clone(), at(0), big.len() as u64),
        ("/big.bin", _) => Body::from_file(file.clone(), at(big.len()), gz.len() as u64),
        ("/small.txt", _) => {
            Body::from_file(file.clone(), at(big.len() + gz.len()), small.len() as u64)
        }
        _ => Body::from(gz.clone()),
    });
    let (got, stats) = blob_to_vec(&spec).unwrap();
    assert!(got == want, "the in-memory bodies' blob");
    assert_eq!(stats, want_stats);
    assert!(write_from(&spec, spec.routes.clone()).unwrap() == want);

    let blob = Blob::parse_with(&got, Verify::Full).unwrap();
    let vs = blob.lookup(b"/big.bin").unwrap().variants();
    assert!(vs.identity().body() == &big[..]);
    let gz_variant = vs.iter().find(|v| v.coding() == Coding::Gzip).unwrap();
    assert!(gz_variant.body() == &gz[..]);
    let copy = blob.lookup(b"/gz-copy").unwrap().variants().identity();
    assert_eq!(copy.body_off(), gz_variant.body_off(), "stored once");
    let s = blob.lookup(b"/small.txt").unwrap().variants().identity();
    assert_eq!(s.body(), &small[..]);
}

/// A route of one file-backed body of `len` bytes at `offset`, and its
/// file.
fn file_route(offset: usize, len: usize) -> (RouteSpec, Arc<File>, Vec<u8>) {
    let bytes = pattern(len, 3);
    let file = file_with(offset, &bytes);
    let mut r = resource("/f", &[(Coding::Identity, vec![])]);
    r.variants[0].body = Body::from_file(file.clone(), offset as u64, len as u64);
    (r, file, bytes)
}

/// One byte of the body changed after its route was built (and hashed),
/// before it is copied: `BodyChanged` naming the range, not a blob.
#[test]
fn a_body_changed_while_writing_is_refused() {
    // The last byte of a body of several chunks: the mismatch is found
    // only at the end of the copy.
    let (offset, len) = (100, (1 << 20) + 17);
    let (r, file, bytes) = file_route(offset, len);
    let e = write_then(vec![r], || {
        let last = bytes[len - 1] ^ 1;
        file.write_all_at(&[last], (offset + len - 1) as u64)
            .unwrap();
    })
    .unwrap_err();
    match e {
        WriteError::BodyChanged {
            offset: o, len: l, ..
        } => assert_eq!((o, l), (offset as u64, len as u64)),
        other => panic!("{other:?}"),
    }
    assert!(e
        .to_string()
        .contains("changed while the blob was being written"));
    // Bytes past the range are not the body's: changing them is fine.
    let (r, file, bytes) = file_route(offset, len);
    let ok = write_then(vec![r], || {
        file.write_all_at(b"appended", (offset + len) as u64)
            .unwrap();
    })
    .unwrap();
    let blob = Blob::parse_with(&ok, Verify::Full).unwrap();
    assert!(blob.lookup(b"/f").unwrap().variants().identity().body() == &bytes[..]);
}

/// A file cut short, after the route was built or before: an error, not a
/// panic and not a blob.
#[test]
fn a_truncated_file_is_an_error() {
    let (offset, len) = (4096, 300_000);
    let (r, file, _) = file_route(offset, len);
    let short = (offset + len / 2) as u64;
    let e = write_then(vec![r.clone()], || file.set_len(short).unwrap()).unwrap_err();
    assert!(matches!(e, WriteError::BodyChanged { .. }), "{e:?}");
    // Already short when the route is built.
    let e = write_then(vec![r], || {}).unwrap_err();
    assert!(matches!(e, WriteError::BodyChanged { .. }), "{e:?}");
}

/// A body whose file cannot be read is an I/O error that says which
/// body's file it was.
#[test]
fn an_unreadable_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    // Opened for writing only: every read fails.
    let f = File::create(dir.path().join("body")).unwrap();
    f.write_all_at(&[7; 64], 0).unwrap();
    let mut r = resource("/f", &[(Coding::Identity, vec![])]);
    r.variants[0].body = Body::from_file(Arc::new(f), 8, 32);
    match write_then(vec![r], || {}).unwrap_err() {
        WriteError::Io(e) => {
            let e = e.to_string();
            assert!(e.contains("body's file") && e.contains("offset 8"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

/// Debug says where a body is and how long, not its bytes.
#[test]
fn debug_shows_place_not_bytes() {
    let b = Body::from(&b"secret bytes"[..]);
    let d = format!("{b:?}");
    assert!(d.contains("12") && !d.contains("secret"), "{d}");
    let f = Body::from_file(file_with(0, b"secret file"), 3, 5);
    let d = format!("{f:?}");
    assert!(d.contains("offset: 3") && d.contains("len: 5"), "{d}");
    assert!(!d.contains("secret"), "{d}");
    assert_eq!((f.len(), f.is_empty()), (5, false));
    assert!(Body::default().is_empty());
}
