//! tarweb-pack end to end: the real binary on `testdata/` and on broken input.
//! Over 600 lines on purpose: one test per behaviour of the binary, all
//! sharing the runner helpers at the top.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tarweb_format::{Blob, Coding, Variant};

mod common;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tarweb-pack"))
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running tarweb-pack")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn pack(input: &Path, out: &Path, extra: &[&str]) -> Vec<u8> {
    let o = run(bin().arg(input).arg("-o").arg(out).args(extra));
    assert!(o.status.success(), "pack failed: {}", stderr(&o));
    std::fs::read(out).unwrap()
}

/// Every file of testdata (links followed), by URL path.
fn originals() -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                out.insert(format!("/{rel}"), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(&testdata(), &testdata(), &mut m);
    m
}

fn decode(v: &Variant) -> Vec<u8> {
    let mut out = Vec::new();
    let body = v.body();
    match v.coding() {
        Coding::Identity => out.extend_from_slice(body),
        Coding::Gzip => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Coding::Br => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        Coding::Zstd => out = zstd::decode_all(body).unwrap(),
    }
    out
}

/// Parses a stored head with httparse; returns (status, headers).
fn parse_head(head: &[u8]) -> (u16, Vec<(String, String)>) {
    let mut h = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut h);
    let n = match r.parse(head).expect("head parses") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => panic!("incomplete head"),
    };
    assert_eq!(n, head.len(), "head is exactly one response head");
    let code = r.code.unwrap();
    let headers = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8(h.value.to_vec()).unwrap(),
            )
        })
        .collect();
    (code, headers)
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    hs.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn round_trip_every_route_and_variant_of_testdata() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = pack(&testdata(), &tmp.path().join("site.twb"), &["-q"]);
    let blob = Blob::parse(&bytes).unwrap();
    let files = originals();
    let mut checked = 0;
    for r in blob.routes() {
        let path = String::from_utf8(r.path().to_vec()).unwrap();
        let vs = r.variants();
        let identity = vs.identity();
        let codings: Vec<_> = vs.iter().map(|v| v.coding()).collect();
        let mut etags = std::collections::HashSet::new();
        for v in vs.iter() {
            let (code, hs) = parse_head(v.head());
            assert_eq!(code, r.status(), "{path}");
            let cl: Vec<_> = header(&hs, "content-length");
            assert_eq!(
                cl,
                [v.body_len().to_string().as_str()],
                "{path}: Content-Length"
            );
            if r.status() != 200 {
                assert_eq!(header(&hs, "location").len(), 1, "{path}");
                continue;
            }
            let plain = decode(&v);
            assert_eq!(
                plain,
                identity.body(),
                "{path} {:?} decodes to identity",
                v.coding()
            );
            let etag = header(&hs, "etag");
            assert_eq!(etag.len(), 1);
            assert_eq!(etag[0].as_bytes(), v.etag().unwrap());
            assert!(
                etags.insert(etag[0].to_string()),
                "{path}: ETag distinct per variant"
            );
            let ce = header(&hs, "content-encoding");
            match v.coding() {
                Coding::Identity => assert!(ce.is_empty(), "{path}"),
                c => assert_eq!(ce, [c.token()], "{path}"),
            }
            let vary = header(&hs, "vary");
            if codings.len() > 1 {
                assert_eq!(vary, ["Accept-Encoding"], "{path}: Vary exactly once");
            } else {
                assert!(vary.is_empty(), "{path}: no variants, no Vary");
            }
            assert_eq!(header(&hs, "accept-ranges"), ["bytes"]);
            assert_eq!(header(&hs, "last-modified").len(), 1);
            assert_eq!(header(&hs, "content-type").len(), 1);
            let nm = v.not_modified().unwrap();
            let (nm_code, nm_hs) = parse_head(nm.head);
            assert_eq!(nm_code, 304);
            assert_eq!(header(&nm_hs, "etag"), etag);
            assert_eq!(header(&nm_hs, "vary"), vary);
            assert!(header(&nm_hs, "content-length").is_empty());
        }
        if r.status() == 200 {
            // Which file does this route serve?
            let file = files
                .get(&path)
                .or_else(|| files.get(&format!("{path}index.html")))
                .unwrap_or_else(|| panic!("{path}: no such file in testdata"));
            assert_eq!(identity.body(), &file[..], "{path}: identity bytes");
            checked += 1;
        }
    }
    // Every file except the consumed rule files is a route.
    for (p, _) in files.iter().filter(|(p, _)| !p.starts_with("/_")) {
        assert!(blob.lookup(p.as_bytes()).is_some(), "{p} has no route");
    }
    assert!(checked >= files.len() - 2, "checked {checked}");
    let nf = blob.not_found().expect("testdata has a 404.html");
    assert_eq!(nf.identity().body(), &files["/404.html"][..]);
    for v in nf.iter() {
        assert_eq!(decode(&v), files["/404.html"]);
        assert_eq!(parse_head(v.head()).0, 404);
    }
}

#[test]
fn stored_responses_follow_the_site_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = pack(&testdata(), &tmp.path().join("site.twb"), &["-q"]);
    let blob = Blob::parse(&bytes).unwrap();
    let head = |p: &str| {
        let r = blob.lookup(p.as_bytes()).unwrap_or_else(|| panic!("{p}"));
        (r.status(), parse_head(r.variants().identity().head()).1)
    };
    // Directories: index pages and the redirect to the slash form.
    assert_eq!(head("/docs").0, 301);
    assert_eq!(header(&head("/docs").1, "location"), ["/docs/"]);
    assert_eq!(head("/docs/").0, 200);
    assert_eq!(head("/").0, 200);
    assert!(blob
        .lookup(b"/files/r\xc3\xa9sum\xc3\xa9 final.txt")
        .is_some());
    // _redirects.
    assert_eq!(head("/old-about").0, 301);
    assert_eq!(header(&head("/old-about").1, "location"), ["/about/"]);
    assert_eq!(head("/blog/hello").0, 302);
    assert_eq!(head("/feed").0, 307);
    assert_eq!(
        header(&head("/feed").1, "location"),
        ["https://example.org/feed.xml"]
    );
    assert_eq!(head("/docs/start").0, 308);
    assert!(blob.lookup(b"/_headers").is_none() && blob.lookup(b"/_redirects").is_none());
    // _headers: on every path, and per pattern.
    let (_, css) = head("/css/site.css");
    assert_eq!(header(&css, "x-content-type-options"), ["nosniff"]);
    assert_eq!(header(&css, "content-type"), ["text/css; charset=utf-8"]);
    let (_, font) = head("/fonts/inter.woff2");
    assert_eq!(
        header(&font, "cache-control"),
        ["public, max-age=31536000, immutable"]
    );
    assert_eq!(header(&font, "content-type"), ["font/woff2"]);
    let (_, json) = head("/data/site.json");
    assert_eq!(header(&json, "access-control-allow-origin"), ["*"]);
    // Incompressible types have no variants; text has them.
    assert_eq!(
        blob.lookup(b"/fonts/inter.woff2").unwrap().variants().len(),
        1
    );
    assert_eq!(blob.lookup(b"/img/photo.png").unwrap().variants().len(), 1);
    assert_eq!(
        blob.lookup(b"/data/search-index.json")
            .unwrap()
            .variants()
            .len(),
        4
    );
    // The empty file: identity only, Content-Length 0.
    let empty = blob.lookup(b"/empty.txt").unwrap().variants();
    assert_eq!((empty.len(), empty.identity().body_len()), (1, 0));
    // Precompressed siblings are used as they are, and stay requestable.
    let vendor = blob.lookup(b"/js/vendor.js").unwrap().variants();
    for (c, ext) in [
        (Coding::Gzip, "gz"),
        (Coding::Br, "br"),
        (Coding::Zstd, "zst"),
    ] {
        let sib = std::fs::read(testdata().join(format!("js/vendor.js.{ext}"))).unwrap();
        let v = vendor.iter().find(|v| v.coding() == c).unwrap();
        assert_eq!(v.body(), &sib[..], "{ext} sibling used as is");
        let own = blob
            .lookup(format!("/js/vendor.js.{ext}").as_bytes())
            .unwrap();
        assert_eq!(own.variants().identity().body(), &sib[..]);
    }
    // The symlink serves its target's bytes, stored once.
    let app = blob.lookup(b"/js/app.js").unwrap().variants().identity();
    let latest = blob
        .lookup(b"/js/app.latest.js")
        .unwrap()
        .variants()
        .identity();
    assert_eq!(app.body_off(), latest.body_off());
}

#[test]
fn dir_tar_formats_and_stdin_give_identical_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let from_dir = pack(&testdata(), &tmp.path().join("dir.twb"), &["-q"]);
    for format in ["gnu", "posix", "ustar"] {
        let tar = tmp.path().join(format!("{format}.tar"));
        let o = run(Command::new("tar")
            .arg(format!("--format={format}"))
            .arg("-C")
            .arg(testdata())
            .arg("-cf")
            .arg(&tar)
            .arg("."));
        assert!(o.status.success(), "tar: {}", stderr(&o));
        let from_tar = pack(&tar, &tmp.path().join(format!("{format}.twb")), &["-q"]);
        assert!(from_tar == from_dir, "{format} tar and directory differ");
    }
    // `-` reads the tar from stdin; --prefix strips `public/`.
    let tar = tmp.path().join("public.tar");
    let staging = tmp.path().join("staging");
    std::fs::create_dir(&staging).unwrap();
    let o = run(Command::new("cp")
        .arg("-a")
        .arg(testdata())
        .arg(staging.join("public")));
    assert!(o.status.success());
    let o = run(Command::new("tar")
        .arg("-C")
        .arg(&staging)
        .arg("-cf")
        .arg(&tar)
        .arg("public"));
    assert!(o.status.success());
    let out = tmp.path().join("stdin.twb");
    let o = run(bin()
        .args(["-", "--prefix", "public", "-q", "-o"])
        .arg(&out)
        .stdin(Stdio::from(std::fs::File::open(&tar).unwrap())));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read(&out).unwrap() == from_dir,
        "stdin + prefix differs"
    );
}

#[test]
fn reproducible_whatever_the_thread_count_and_clamped_by_source_date_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let a = pack(&testdata(), &tmp.path().join("a.twb"), &["-q", "-j", "1"]);
    let b = pack(&testdata(), &tmp.path().join("b.twb"), &["-q", "-j", "3"]);
    assert!(a == b, "thread count changed the blob");

    let out = tmp.path().join("sde.twb");
    let o = run(bin()
        .arg(testdata())
        .args(["-q", "-o"])
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", "1000000000"));
    assert!(o.status.success());
    let bytes = std::fs::read(&out).unwrap();
    let blob = Blob::parse(&bytes).unwrap();
    for r in blob.routes().filter(|r| r.status() == 200) {
        assert_eq!(r.last_modified(), 1_000_000_000);
        let (_, hs) = parse_head(r.variants().identity().head());
        assert_eq!(
            header(&hs, "last-modified"),
            ["Sun, 09 Sep 2001 01:46:40 GMT"]
        );
    }
    let o = run(bin()
        .arg(testdata())
        .arg("-o")
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", "soon"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("SOURCE_DATE_EPOCH"));
}

#[test]
fn summary_inspect_verify_and_help() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("site.twb");
    let o = run(bin().arg(testdata()).arg("-o").arg(&out));
    assert!(o.status.success());
    let err = stderr(&o);
    for want in ["files", "MiB in", "MiB out", "saves", " s; digest "] {
        assert!(err.contains(want), "summary lacks {want:?}: {err}");
    }
    assert!(
        !err.contains('\x1b'),
        "no terminal escapes when stderr is not a TTY"
    );

    let o = run(bin().arg("inspect").arg(&out));
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("/docs/start") && text.contains("308 -> /docs/guide/getting-started/"));
    assert!(text.contains("padding"));

    let o = run(bin().args(["inspect", "--json"]).arg(&out));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let routes = json["routes"].as_array().unwrap();
    let css = routes
        .iter()
        .find(|r| r["path"] == "/css/site.css")
        .unwrap();
    let codings: Vec<_> = css["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["coding"].as_str().unwrap())
        .collect();
    assert_eq!(codings.len(), 4, "{codings:?}");
    assert!(json["padding_bytes"].as_u64().is_some());

    let o = run(bin().arg("verify").arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(": OK, "));

    // A flipped byte deep in the data: verify names the problem.
    let mut bytes = std::fs::read(&out).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x55;
    let bad = tmp.path().join("bad.twb");
    std::fs::write(&bad, bytes).unwrap();
    let o = run(bin().arg("verify").arg(&bad));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("digest mismatch"), "{}", stderr(&o));

    let o = run(bin().arg("--help"));
    let help = String::from_utf8(o.stdout).unwrap();
    for want in [
        "inspect",
        "verify",
        "--output",
        "--prefix",
        "--cache-control",
        "--zopfli",
        "--threads",
        "--quiet",
        "SOURCE_DATE_EPOCH",
        "_headers",
        "_redirects",
    ] {
        assert!(help.contains(want), "--help lacks {want}");
    }
}

/// Runs a pack that must fail: non-zero exit, `want` in the message, and
/// nothing left in the output directory.
fn fails(cmd: &mut Command, out_dir: &Path, want: &str) {
    let before: Vec<_> = std::fs::read_dir(out_dir)
        .map(|d| d.count())
        .into_iter()
        .collect();
    let o = run(cmd);
    let err = stderr(&o);
    assert!(!o.status.success(), "must fail ({want})");
    assert!(err.contains(want), "expected {want:?} in: {err}");
    assert!(err.starts_with("tarweb-pack: error: "), "{err}");
    let after: Vec<_> = std::fs::read_dir(out_dir)
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert_eq!(
        before,
        after,
        "a failed pack left a file in {}",
        out_dir.display()
    );
}

fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn bad_input_is_refused_with_a_clear_message_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("site.twb");
    let pack_to = |input: &Path| {
        let mut c = bin();
        c.arg(input).arg("-o").arg(&out);
        c
    };

    // Missing input.
    fails(
        &mut pack_to(&tmp.path().join("nope")),
        &outdir,
        "nope: no such file or directory",
    );

    // Truncated tar, in the data and at a header boundary.
    let good = tar_with(&[("index.html", &[b'x'; 3000]), ("b.txt", b"b")]);
    let t = tmp.path().join("trunc.tar");
    std::fs::write(&t, &good[..1000]).unwrap();
    fails(&mut pack_to(&t), &outdir, "truncated");
    std::fs::write(&t, &good[..512 + 3072]).unwrap();
    fails(&mut pack_to(&t), &outdir, "truncated");

    // Bad header checksum.
    let mut bad = good.clone();
    bad[0] ^= 1;
    std::fs::write(&t, &bad).unwrap();
    fails(&mut pack_to(&t), &outdir, "checksum");

    // Paths escaping the site: a `..` entry, and a symlink out of a directory.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_gnu_mut().unwrap().name[..12].copy_from_slice(b"../evil.html");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    std::fs::write(&t, b.into_inner().unwrap()).unwrap();
    fails(&mut pack_to(&t), &outdir, "../evil.html");
    let site = tmp.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), "hi").unwrap();
    std::os::unix::fs::symlink("../../etc/passwd", site.join("passwd")).unwrap();
    fails(&mut pack_to(&site), &outdir, "passwd");
    std::fs::remove_file(site.join("passwd")).unwrap();

    // A name longer than the format allows.
    let long = format!("{}/x.html", "d".repeat(4100));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, &long, &b"x"[..]).unwrap();
    std::fs::write(&t, b.into_inner().unwrap()).unwrap();
    fails(
        &mut pack_to(&t),
        &outdir,
        "longer than the format's 4096-byte limit",
    );

    // A broken _headers: the message names the line.
    std::fs::write(site.join("_headers"), "/*\n  Content-Length: 3\n").unwrap();
    fails(&mut pack_to(&site), &outdir, "_headers line 2");
    std::fs::remove_file(site.join("_headers")).unwrap();

    // A _redirects path the format cannot store: refused at its line, not
    // later by the blob writer.
    std::fs::write(site.join("_redirects"), "/ok /x\n/a//b /x\n").unwrap();
    fails(
        &mut pack_to(&site),
        &outdir,
        "_redirects line 2: `/a//b` has an empty segment",
    );
    std::fs::remove_file(site.join("_redirects")).unwrap();

    // Output directory not writable: /proc takes no new files, even from root.
    let o = run(bin().arg(&site).arg("-o").arg("/proc/tarweb-test.twb"));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot create a temporary file in /proc"),
        "{}",
        stderr(&o)
    );
    assert!(!Path::new("/proc/tarweb-test.twb").exists());

    // A previous blob survives a failed pack untouched.
    pack(&site, &out, &["-q"]);
    let before = std::fs::read(&out).unwrap();
    let o = run(&mut pack_to(&tmp.path().join("nope")));
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(
        std::fs::read_dir(&outdir).unwrap().count(),
        1,
        "no temporary file left"
    );
}

/// Permissions do not stop root, so run the binary as `nobody` for these.
fn as_nobody(cmd_args: &[&std::ffi::OsStr]) -> Output {
    let setpriv = Path::new("/usr/bin/setpriv");
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let is_root = uid_line.split_whitespace().nth(1) == Some("0");
    if !is_root {
        // Permissions apply to us directly.
        return run(bin().args(cmd_args));
    }
    assert!(
        setpriv.exists(),
        "setpriv (util-linux) is needed to test permissions as root"
    );
    run(Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_tarweb-pack"))
        .args(cmd_args))
}

#[test]
fn unreadable_file_and_unwritable_directory() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    // `nobody` must be able to reach the temp dir.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index.html"), "hi").unwrap();
    std::fs::write(site.join("secret.html"), "s").unwrap();
    std::fs::set_permissions(
        site.join("secret.html"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    std::fs::set_permissions(&outdir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = outdir.join("x.twb");
    let o = as_nobody(&[site.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("secret.html") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 0);

    // Readable site, but an output directory `nobody` cannot write to.
    std::fs::remove_file(site.join("secret.html")).unwrap();
    std::fs::set_permissions(&outdir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = as_nobody(&[site.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("cannot create a temporary file in") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 0);
}

/// A small site: an index page, a stylesheet and a `.git` directory (which
/// makes the pack print a warning).
fn small_site(dir: &Path) -> PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(site.join(".git")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>hi</h1>".repeat(100)).unwrap();
    std::fs::write(site.join("site.css"), "body { color: red }\n".repeat(50)).unwrap();
    std::fs::write(site.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    site
}

#[test]
fn output_must_be_a_regular_file_and_is_checked_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let site = small_site(tmp.path());

    // A symlink to /dev/null: had the check regressed, only the link would
    // be replaced, never the device itself.
    let null = tmp.path().join("null.twb");
    std::os::unix::fs::symlink("/dev/null", &null).unwrap();
    let o = run(bin().arg(&site).arg("-o").arg(&null));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("null.twb is a character device, not a regular file") && err.contains("-o -"),
        "{err}"
    );
    assert!(std::fs::symlink_metadata(&null).unwrap().is_symlink());

    let fifo = tmp.path().join("fifo.twb");
    common::mkfifo(&fifo);
    let o = run(bin().arg(&site).arg("-o").arg(&fifo));
    assert!(stderr(&o).contains("fifo.twb is a FIFO"), "{}", stderr(&o));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());

    let dir = tmp.path().join("dir.twb");
    std::fs::create_dir(&dir).unwrap();
    let o = run(bin().arg(&site).arg("-o").arg(&dir));
    assert!(
        stderr(&o).contains("dir.twb is a directory"),
        "{}",
        stderr(&o)
    );

    // Nothing was left beside them.
    let mut names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["dir.twb", "fifo.twb", "null.twb", "site"]);

    // The output is checked first: with a missing input and an unwritable
    // output directory, the output is what is reported.
    let o = run(bin()
        .arg(tmp.path().join("nope"))
        .arg("-o")
        .arg("/proc/tarweb-test.twb"));
    let err = stderr(&o);
    assert!(
        err.contains("cannot create a temporary file in /proc") && !err.contains("nope"),
        "{err}"
    );
}

#[test]
fn blobs_are_created_with_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let site = small_site(tmp.path());
    for (umask, want) in [("022", 0o644), ("027", 0o640), ("077", 0o600)] {
        let out = tmp.path().join(format!("u{umask}.twb"));
        let o = run(Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_tarweb-pack"))
            .arg(&site)
            .arg("-q")
            .arg("-o")
            .arg(&out));
        assert!(o.status.success(), "{}", stderr(&o));
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, want, "umask {umask}: mode {mode:o}");
    }
}

#[test]
fn dash_writes_the_blob_to_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let site = small_site(tmp.path());
    let file = pack(&site, &tmp.path().join("site.twb"), &["-q"]);
    let work = tmp.path().join("cwd");
    std::fs::create_dir(&work).unwrap();
    let o = run(bin()
        .current_dir(&work)
        .arg(&site)
        .args(["-q", "-o", "-"])
        .stdout(Stdio::piped()));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, file, "the same bytes as a file");
    Blob::parse(&o.stdout).unwrap();
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "no file (named `-` or temporary) beside the working directory"
    );

    // A reader that leaves before the end did not get the blob: an error.
    let mut child = bin()
        .arg(&site)
        .args(["-q", "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("writing the blob to standard output") && err.contains("Broken pipe"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// `inspect … | head`: the reader goes away; the command ends quietly with
/// status 0. Its pipe is closed before it writes, so the write must fail.
#[test]
fn reports_end_quietly_when_their_reader_leaves() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = tmp.path().join("site.twb");
    pack(&testdata(), &blob, &["-q"]);
    for args in [&["inspect"][..], &["inspect", "--json"], &["verify"]] {
        let mut child = bin()
            .args(args)
            .arg(&blob)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {:?} {}",
            o.status,
            stderr(&o)
        );
        assert_eq!(stderr(&o), "", "{args:?}: nothing on stderr");
    }
    // And through a real `head`, under pipefail.
    let o = run(Command::new("bash")
        .arg("-c")
        .arg("set -o pipefail; \"$0\" inspect \"$1\" | head -n 1")
        .arg(env!("CARGO_BIN_EXE_tarweb-pack"))
        .arg(&blob));
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("tarweb blob v2"));

    // Warnings into a closed stderr: the pack goes on and succeeds.
    let site = small_site(tmp.path());
    let out = tmp.path().join("w.twb");
    let mut child = bin()
        .arg(&site)
        .arg("-o")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    assert!(child.wait().unwrap().success());
    Blob::parse(&std::fs::read(&out).unwrap()).unwrap();
}

/// Everything the binary printed on stderr is one clean line of printable
/// text (no byte of the input, no control character).
fn clean_error(o: &Output) -> String {
    assert!(!o.status.success());
    let err = stderr(o);
    assert!(err.starts_with("tarweb-pack: error: "), "{err}");
    assert_eq!(err.matches('\n').count(), 1, "{err:?}");
    assert!(
        err.trim_end().chars().all(|c| !c.is_control()) && err.len() < 400,
        "{err:?}"
    );
    err
}

#[test]
fn a_file_that_is_not_a_tar_gets_a_clean_message() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.twb");
    // Binary noise with terminal escapes in it, under a name with some too.
    let mut noise = common::noise(&mut 0x9E37_79B9_7F4A_7C15, 8192);
    noise[..8].copy_from_slice(b"\x7fELF\x1b[2J");
    noise[100..110].copy_from_slice(b"\x1b]0;pwned\x07");
    let bin_file = tmp.path().join("evil\x1b[2J\u{202e}.tar");
    std::fs::write(&bin_file, &noise).unwrap();
    let err = clean_error(&run(bin().arg(&bin_file).arg("-o").arg(&out)));
    assert!(
        err.contains("evil\\u{1b}[2J\\u{202e}.tar: not a tar archive"),
        "{err}"
    );

    // A header with a valid checksum whose size field is text: the tar
    // crate's message would quote the field and the name.
    let mut t = tar_with(&[("index.html", b"hi")]);
    t[0..10].copy_from_slice(b"a\x1b[31mb.ht");
    t[124..136].copy_from_slice(b"\x1b[31mzzzz\x07\0\0");
    t[148..156].copy_from_slice(b"        ");
    let sum: u32 = t[..512].iter().map(|&b| u32::from(b)).sum();
    t[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let f = tmp.path().join("fields.tar");
    std::fs::write(&f, &t).unwrap();
    let err = clean_error(&run(bin().arg(&f).arg("-o").arg(&out)));
    assert!(
        err.contains("fields.tar: not a tar archive") && err.contains("size field"),
        "{err}"
    );
    assert!(!err.contains("zzzz"), "no bytes of the header: {err}");

    // The same header as the second entry.
    let mut two = tar_with(&[("a.html", b"a")]);
    two.truncate(1024);
    two.extend_from_slice(&t);
    std::fs::write(&f, &two).unwrap();
    let err = clean_error(&run(bin().arg(&f).arg("-o").arg(&out)));
    assert!(
        err.contains("tar entry #1 (header at byte 1024): its size field is not a valid number"),
        "{err}"
    );

    // Formats that are archives, just not tars, are named.
    std::fs::write(&f, b"PK\x03\x04rest of a zip").unwrap();
    assert!(clean_error(&run(bin().arg(&f).arg("-o").arg(&out))).contains("a zip archive"));
    let blob = tmp.path().join("b.twb");
    pack(&small_site(tmp.path()), &blob, &["-q"]);
    assert!(clean_error(&run(bin().arg(&blob).arg("-o").arg(&out))).contains("a tarweb blob"));
    assert!(!out.exists());
}

/// `Basic-Auth` in `_headers` protects the matching files: their routes
/// carry digests that admit exactly the listed credentials, and the blob
/// holds no password. A malformed line fails the pack at its line.
#[test]
fn basic_auth_in_headers_protects_paths_with_digests_only() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(site.join("admin")).unwrap();
    std::fs::write(site.join("index.html"), "<p>home</p>\n").unwrap();
    std::fs::write(site.join("admin/index.html"), "<p>admin</p>\n").unwrap();
    std::fs::write(
        site.join("_headers"),
        "/*\n  X-Frame-Options: DENY\n/admin/*\n  Basic-Auth: admin:hunter2 ops:correct-horse\n",
    )
    .unwrap();
    let out = tmp.path().join("s.twb");
    let bytes = pack(&site, &out, &["-q"]);
    for secret in [
        &b"hunter2"[..],
        b"correct-horse",
        b"Basic-Auth",
        b"basic-auth",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "{secret:?} in the blob"
        );
    }
    let blob = Blob::parse(&bytes).unwrap();
    for path in [&b"/admin/"[..], b"/admin/index.html"] {
        let a = blob.lookup(path).unwrap().auth().expect("protected");
        assert_eq!(a.len(), 2);
        assert!(a.admits(b"admin:hunter2") && a.admits(b"ops:correct-horse"));
        assert!(!a.admits(b"admin:hunter3") && !a.admits(b"ops:hunter2"));
    }
    assert!(blob.lookup(b"/index.html").unwrap().auth().is_none());
    // The same site packs to the same bytes (the salt is derived).
    assert_eq!(pack(&site, &tmp.path().join("again.twb"), &["-q"]), bytes);

    std::fs::write(site.join("_headers"), "/admin/*\n  Basic-Auth: admin\n").unwrap();
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    fails(
        bin().arg(&site).arg("-o").arg(outdir.join("s.twb")),
        &outdir,
        "_headers line 2: Basic-Auth takes `user:password` pairs",
    );
}
