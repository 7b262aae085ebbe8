//! `tarweb-pack --reuse OLD`: the blob is byte for byte a fresh pack's
//! whatever changed between the two sites, what can be copied is, and a
//! cache that cannot be used costs a warning, never a wrong blob.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tarweb_format::{Blob, Coding};

mod common;

fn pack(site: &Path, out: &Path, extra: &[&str]) -> (Vec<u8>, String) {
    let o: Output = Command::new(env!("CARGO_BIN_EXE_tarweb-pack"))
        .arg(site)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "pack failed: {err}");
    (std::fs::read(out).unwrap(), err)
}

/// (copied, needed) from the summary's second line.
fn copied(stderr: &str) -> (usize, usize) {
    let line = stderr
        .lines()
        .find(|l| l.contains("compressed variants copied from"))
        .unwrap_or_else(|| panic!("no reuse line in {stderr:?}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    (w[1].parse().unwrap(), w[3].parse().unwrap())
}

/// A page whose compressed forms differ from any other's.
fn page(n: usize, extra: &str) -> String {
    let mut s = format!("<!doctype html><title>page {n}</title>{extra}\n");
    for i in 0..400 {
        s.push_str(&format!(
            "<p>paragraph {i} of page {n}: some words repeat</p>\n"
        ));
    }
    s
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// gzip at level 1: bytes our encoder (level 9) never writes.
fn gzip_fast(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn site_v1(dir: &Path) -> PathBuf {
    let s = dir.join("v1");
    for n in 0..6 {
        write(&s, &format!("p{n}.html"), page(n, "").as_bytes());
    }
    write(&s, "docs/guide.html", page(10, "guide").as_bytes());
    write(&s, "tiny.txt", b"too small to compress\n");
    // A precompressed sibling: the site's own gzip bytes.
    let css = "body { color: black; margin: 0 auto; }\n".repeat(300);
    write(&s, "site.css", css.as_bytes());
    write(&s, "site.css.gz", &gzip_fast(css.as_bytes()));
    s
}

/// v1 with one page edited, one renamed, one moved, one deleted, one
/// added, and the sibling gone (so site.css is compressed afresh).
fn site_v2(dir: &Path) -> PathBuf {
    let s = dir.join("v2");
    write(&s, "p0.html", page(0, "edited").as_bytes());
    write(&s, "p1.html", page(1, "").as_bytes());
    write(&s, "renamed.html", page(2, "").as_bytes());
    write(&s, "deep/moved/p3.html", page(3, "").as_bytes());
    // p4 deleted.
    write(&s, "p5.html", page(5, "").as_bytes());
    write(&s, "new.html", page(99, "new").as_bytes());
    write(&s, "docs/guide.html", page(10, "guide").as_bytes());
    write(&s, "tiny.txt", b"too small to compress\n");
    let css = "body { color: black; margin: 0 auto; }\n".repeat(300);
    write(&s, "site.css", css.as_bytes());
    s
}

#[test]
fn reuse_gives_a_fresh_packs_bytes_and_copies_what_did_not_change() {
    let tmp = tempfile::tempdir().unwrap();
    let (v1, v2) = (site_v1(tmp.path()), site_v2(tmp.path()));
    let old = tmp.path().join("old.twb");
    let (old_bytes, _) = pack(&v1, &old, &[]);

    // The sibling's variant is marked as the site's, the others are not.
    let blob = Blob::parse(&old_bytes).unwrap();
    let css = blob.lookup(b"/site.css").unwrap().variants();
    let gz = css.iter().find(|v| v.coding() == Coding::Gzip).unwrap();
    assert!(gz.site_encoded());
    assert!(css
        .iter()
        .filter(|v| v.coding() != Coding::Gzip)
        .all(|v| !v.site_encoded()));

    // The same site again: everything copied, the same bytes.
    let (again, err) = pack(
        &v1,
        &tmp.path().join("again.twb"),
        &["--reuse", old.to_str().unwrap()],
    );
    assert_eq!(again, old_bytes);
    let (n, of) = copied(&err);
    assert_eq!(n, of, "{err}");
    assert!(n >= 7 * 3, "{err}");

    // The changed site: the bytes of a fresh pack; the unchanged, renamed
    // and moved pages copied, the edited and new ones and the CSS (whose
    // old gzip was the site's) compressed.
    let (fresh, _) = pack(&v2, &tmp.path().join("fresh.twb"), &[]);
    let (reused, err) = pack(
        &v2,
        &tmp.path().join("reused.twb"),
        &["--reuse", old.to_str().unwrap()],
    );
    assert!(fresh == reused, "a reused pack differs from a fresh one");
    let (n, of) = copied(&err);
    // Pages 1, 2, 3, 5 and the guide in br, gzip and zstd; site.css's br
    // and zstd (the encoder's); not its gzip, not p0 nor new.html.
    assert_eq!(n, 5 * 3 + 2, "{err}");
    assert_eq!(of, 7 * 3 + 3, "{err}");
}

#[test]
fn an_unusable_cache_is_a_warning_and_a_fresh_pack() {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = site_v1(tmp.path());
    let old = tmp.path().join("old.twb");
    let (old_bytes, _) = pack(&v1, &old, &[]);
    let reuse_from = |p: &Path| {
        let out = tmp.path().join("out.twb");
        pack(&v1, &out, &["--reuse", p.to_str().unwrap()])
    };

    // Missing.
    let (b, err) = reuse_from(&tmp.path().join("nope.twb"));
    assert_eq!(b, old_bytes);
    assert!(
        err.contains("warning: --reuse") && err.contains("nothing reused"),
        "{err}"
    );
    assert_eq!(copied(&err).0, 0);

    // Not a blob (truncated).
    let cut = tmp.path().join("cut.twb");
    std::fs::write(&cut, &old_bytes[..old_bytes.len() / 2]).unwrap();
    let (b, err) = reuse_from(&cut);
    assert_eq!(b, old_bytes);
    assert!(err.contains("nothing reused"), "{err}");

    // A damaged index: refused by its digest, whatever byte it is.
    let mut bad = old_bytes.clone();
    bad[130] ^= 1; // in the first route entry
    let bad_index = tmp.path().join("bad-index.twb");
    std::fs::write(&bad_index, &bad).unwrap();
    let (b, err) = reuse_from(&bad_index);
    assert_eq!(b, old_bytes);
    assert!(
        err.contains("index digest mismatch") && err.contains("nothing reused"),
        "{err}"
    );

    // Not a file: refused before it is opened (a FIFO would block).
    let fifo = tmp.path().join("fifo");
    common::mkfifo(&fifo);
    for p in [fifo.as_path(), Path::new("/dev/zero")] {
        let (b, err) = reuse_from(p);
        assert_eq!(b, old_bytes);
        assert!(
            err.contains("not a regular file") && err.contains("nothing reused"),
            "{err}"
        );
    }

    // Packed with other settings (zopfli): nothing copied, even the br
    // and zstd variants, as the id covers the whole encoder set.
    let z = tmp.path().join("z.twb");
    pack(&v1, &z, &["--zopfli"]);
    let (b, err) = reuse_from(&z);
    assert_eq!(b, old_bytes);
    assert!(err.contains("other compression settings"), "{err}");
    assert_eq!(copied(&err).0, 0);

    // A damaged variant (the digest is not what is checked: decoding is):
    // that one compressed afresh, with a warning; the rest copied.
    let blob = Blob::parse(&old_bytes).unwrap();
    let v = blob
        .lookup(b"/p1.html")
        .unwrap()
        .variants()
        .iter()
        .find(|v| v.coding() == Coding::Zstd)
        .unwrap();
    let at = v.body_off() as usize + v.body().len() / 2;
    let mut bad = old_bytes.clone();
    bad[at] ^= 0x55;
    let damaged = tmp.path().join("damaged.twb");
    std::fs::write(&damaged, &bad).unwrap();
    let (b, err) = reuse_from(&damaged);
    assert_eq!(b, old_bytes);
    assert!(
        err.contains("zstd variant of p1.html does not decode"),
        "{err}"
    );
    let (n, of) = copied(&err);
    assert_eq!(n + 1, of, "{err}");
}
