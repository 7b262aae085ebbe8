//! Tests for the input layer. Real archives come from GNU tar; malformed ones
//! from the `tar` crate's Builder (or by editing bytes).
//! Over 600 lines on purpose: a table of directory and tar cases, each
//! short; both readers are checked against the same expectations.

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tempfile::TempDir;

use super::{read_site, SiteFile, Source};
use crate::store::{Content, Store};

// ---------------------------------------------------------------- helpers

thread_local! {
    /// Where the files read by this thread's test go.
    static STORE: Store = Store::temp();
}

/// Runs `read_site`, collecting warnings.
fn run(source: &Source, prefix: Option<&str>) -> (anyhow::Result<Vec<SiteFile>>, Vec<String>) {
    let mut warnings = Vec::new();
    let result = STORE.with(|s| read_site(source, prefix, s, &mut |w| warnings.push(w)));
    (result, warnings)
}

/// A file's bytes, read back from the store.
fn bytes(f: &SiteFile) -> Vec<u8> {
    let b = STORE.with(|s| s.read(f.data.stored).unwrap());
    assert_eq!(blake3::hash(&b), f.data.hash, "{}", f.path);
    b
}

/// The two are the same bytes stored once (a link and its target).
fn shared(a: &Content, b: &Content) -> bool {
    a.stored == b.stored
}

fn ok(source: &Source, prefix: Option<&str>) -> (Vec<SiteFile>, Vec<String>) {
    let (result, warnings) = run(source, prefix);
    match result {
        Ok(files) => (files, warnings),
        Err(e) => panic!("read_site failed: {e:#}"),
    }
}

fn err(source: &Source, prefix: Option<&str>) -> String {
    match run(source, prefix).0 {
        Ok(files) => panic!("expected an error, got {:?}", paths_of(&files)),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected {needle:?} in message: {haystack}"
        );
    }
}

fn paths_of(files: &[SiteFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

fn summary(files: &[SiteFile]) -> Vec<(String, Vec<u8>, i64)> {
    files
        .iter()
        .map(|f| (f.path.clone(), bytes(f), f.mtime))
        .collect()
}

fn get<'a>(files: &'a [SiteFile], path: &str) -> &'a SiteFile {
    files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} missing from {:?}", paths_of(files)))
}

/// Writes `data` at `root/rel`, creating parents, with mtime `secs.nanos`.
fn put(root: &Path, rel: &str, data: &[u8], secs: u64, nanos: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, data).unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::new(secs, nanos))
        .unwrap();
}

fn link(root: &Path, rel: &str, target: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    symlink(target, path).unwrap();
}

/// Archives `dir` with GNU tar in `format` (gnu, posix, ustar).
fn gnu_tar(dir: &Path, format: &str, out: &Path) {
    let status = Command::new("tar")
        .arg(format!("--format={format}"))
        .args(["--sort=name", "-cf"])
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()
        .expect("GNU tar runs");
    assert!(status.success(), "tar --format={format} failed");
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// Tar via the `tar` crate, for archives GNU tar would not produce.
struct TarBuilder(tar::Builder<Vec<u8>>);

impl TarBuilder {
    fn new() -> TarBuilder {
        TarBuilder(tar::Builder::new(Vec::new()))
    }

    fn header(entry_type: tar::EntryType, size: u64, mtime: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(entry_type);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h
    }

    fn file(mut self, path: &str, data: &[u8], mtime: u64) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, data.len() as u64, mtime);
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }

    fn link(mut self, entry_type: tar::EntryType, path: &str, target: &str) -> Self {
        let mut h = Self::header(entry_type, 0, 1);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    /// An entry whose name bytes are written verbatim (no validation).
    fn raw(mut self, entry_type: tar::EntryType, name: &[u8], data: &[u8]) -> Self {
        let mut h = Self::header(entry_type, data.len() as u64, 1);
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    /// A PAX extended header ('x') applying to the next entry.
    fn pax(self, records: &[(&str, &str)]) -> Self {
        let mut body = Vec::new();
        for (key, value) in records {
            let rest = format!(" {key}={value}\n");
            // The length field counts itself.
            let mut len = rest.len() + 1;
            while format!("{len}{rest}").len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        self.raw(tar::EntryType::XHeader, b"PaxHeaders/x", &body)
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn tar_source(dir: &TempDir, bytes: &[u8]) -> Source {
    Source::TarFile(write_file(dir.path(), "site.tar", bytes))
}

// ---------------------------------------------------------------- equivalence

/// A site exercising long names, non-ASCII names, links and fractional mtimes.
fn sample_site(root: &Path) -> String {
    put(
        root,
        "index.html",
        b"<h1>home</h1>",
        1_700_000_000,
        750_000_000,
    );
    put(root, "blog/2026/post.html", b"post", 1_600_000_000, 0);
    put(
        root,
        "caf\u{e9} menu/na\u{ef}ve file.html",
        b"menu",
        1_650_000_000,
        1,
    );
    let long = format!("{}/{}/page.html", "d".repeat(60), "e".repeat(60));
    assert!(long.len() > 100);
    put(root, &long, b"long", 1_650_000_001, 0);
    put(
        root,
        ".well-known/security.txt",
        b"contact",
        1_650_000_002,
        0,
    );
    fs::hard_link(root.join("index.html"), root.join("copy.html")).unwrap();
    link(root, "home.html", "index.html");
    link(root, "latest", "blog/2026");
    fs::create_dir(root.join("empty")).unwrap();
    long
}

#[test]
fn input_dir_and_gnu_tar_formats_are_equivalent() {
    let tmp = TempDir::new().unwrap();
    let site = tmp.path().join("site");
    fs::create_dir(&site).unwrap();
    let long = sample_site(&site);

    let (from_dir, warnings) = ok(&Source::Dir(site.clone()), None);
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut expected = vec![
        ".well-known/security.txt",
        "blog/2026/post.html",
        "caf\u{e9} menu/na\u{ef}ve file.html",
        "copy.html",
        long.as_str(),
        "home.html",
        "index.html",
        "latest/post.html",
    ];
    expected.sort();
    assert_eq!(paths_of(&from_dir), expected);
    assert_eq!(get(&from_dir, "index.html").mtime, 1_700_000_000);
    assert_eq!(get(&from_dir, "home.html").mtime, 1_700_000_000);
    assert!(shared(
        &get(&from_dir, "home.html").data,
        &get(&from_dir, "index.html").data
    ));

    for format in ["gnu", "posix", "ustar"] {
        let tar_path = tmp.path().join(format!("{format}.tar"));
        gnu_tar(&site, format, &tar_path);
        let (from_tar, warnings) = ok(&Source::TarFile(tar_path), None);
        assert!(warnings.is_empty(), "{format}: {warnings:?}");
        assert_eq!(summary(&from_tar), summary(&from_dir), "format {format}");
        // GNU tar stores the second name of a hard-linked file as a link.
        assert!(shared(
            &get(&from_tar, "copy.html").data,
            &get(&from_tar, "index.html").data
        ));
        assert!(shared(
            &get(&from_tar, "latest/post.html").data,
            &get(&from_tar, "blog/2026/post.html").data
        ));
    }
}

#[test]
fn input_pax_fractional_mtime_is_floored() {
    let tmp = TempDir::new().unwrap();
    let tar = TarBuilder::new()
        .raw(
            tar::EntryType::XGlobalHeader,
            b"pax_global_header",
            b"17 comment=hello\n",
        )
        .pax(&[("mtime", "1700000000.987654321")])
        .file("a.txt", b"a", 5)
        .pax(&[("mtime", "-1.5"), ("path", "pax/long name.txt")])
        .file("ignored", b"b", 5)
        .file("plain.txt", b"c", 42)
        .finish();
    let (files, _) = ok(&tar_source(&tmp, &tar), None);
    let got: Vec<(&str, i64)> = files.iter().map(|f| (f.path.as_str(), f.mtime)).collect();
    assert_eq!(
        got,
        [
            ("a.txt", 1_700_000_000),
            ("pax/long name.txt", -2),
            ("plain.txt", 42)
        ]
    );
}

// ---------------------------------------------------------------- prefix

#[test]
fn input_prefix_strips_leading_directory() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    put(&root, "public/index.html", b"i", 10, 0);
    put(&root, "public/a/b.txt", b"b", 11, 0);
    put(&root, "other/x.txt", b"x", 12, 0);
    put(&root, "README", b"r", 13, 0);
    let tar_path = tmp.path().join("site.tar");
    gnu_tar(&root, "gnu", &tar_path);

    for prefix in ["public", "public/", "./public"] {
        let (from_dir, warnings) = ok(&Source::Dir(root.clone()), Some(prefix));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(paths_of(&from_dir), ["a/b.txt", "index.html"]);

        let (from_tar, warnings) = ok(&Source::TarFile(tar_path.clone()), Some(prefix));
        assert_eq!(summary(&from_tar), summary(&from_dir));
        // "./", "./other/", "./other/x.txt", "./README": one summary line.
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_contains(&warnings[0], &["skipped 4 tar entries", "\"public\""]);
    }

    let e = err(&Source::TarFile(tar_path), Some("nope"));
    assert_contains(&e, &["no files under the prefix \"nope\""]);
    let e = err(&Source::Dir(root.clone()), Some("nope"));
    assert_contains(&e, &["nope", "no such file or directory"]);
    let e = err(&Source::Dir(root), Some("../x"));
    assert_contains(&e, &["prefix \"../x\"", "escapes"]);
}

#[test]
fn input_tar_hard_link_uses_prefix_and_shares_data() {
    let tmp = TempDir::new().unwrap();
    let tar = TarBuilder::new()
        .file("public/a.html", b"A", 7)
        .link(tar::EntryType::Link, "public/b.html", "public/a.html")
        .file("outside.txt", b"o", 7)
        .finish();
    let (files, warnings) = ok(&tar_source(&tmp, &tar), Some("public"));
    assert_eq!(paths_of(&files), ["a.html", "b.html"]);
    assert!(shared(&files[0].data, &files[1].data));
    assert_eq!(files[1].mtime, 7);
    assert_eq!(warnings.len(), 1);

    let tar = TarBuilder::new()
        .file("outside.txt", b"o", 7)
        .link(tar::EntryType::Link, "public/b.html", "outside.txt")
        .finish();
    let e = err(&tar_source(&tmp, &tar), Some("public"));
    assert_contains(
        &e,
        &["\"public/b.html\"", "\"outside.txt\"", "escapes the site"],
    );

    let tar = TarBuilder::new()
        .link(tar::EntryType::Link, "b.html", "missing.html")
        .finish();
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(&e, &["b.html: hard link to \"missing.html\"", "dangling"]);
}

// ---------------------------------------------------------------- tar details

#[test]
fn input_duplicate_tar_entries_last_wins() {
    let tmp = TempDir::new().unwrap();
    let tar = TarBuilder::new()
        .file("a.txt", b"first", 1)
        .file("b.txt", b"b", 1)
        .file("./a.txt", b"second", 2)
        .finish();
    let (files, warnings) = ok(&tar_source(&tmp, &tar), None);
    assert_eq!(paths_of(&files), ["a.txt", "b.txt"]);
    assert_eq!(bytes(&files[0]), b"second");
    assert_eq!(files[0].mtime, 2);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_contains(
        &warnings[0],
        &["\"a.txt\"", "more than once", "last entry wins"],
    );
}

#[test]
fn input_compressed_tars_are_detected() {
    let tmp = TempDir::new().unwrap();
    let site = tmp.path().join("site");
    put(&site, "index.html", b"hello hello hello", 100, 0);
    put(&site, "sub/x.css", b"body{}", 101, 0);
    let plain = tmp.path().join("plain.tar");
    gnu_tar(&site, "posix", &plain);
    let bytes = fs::read(&plain).unwrap();
    let (expected, _) = ok(&Source::TarFile(plain), None);
    assert_eq!(paths_of(&expected), ["index.html", "sub/x.css"]);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).unwrap();
    let gz = write_file(tmp.path(), "site.tar.gz", &gz.finish().unwrap());
    let (files, _) = ok(&Source::TarFile(gz), None);
    assert_eq!(summary(&files), summary(&expected));

    let zst = write_file(
        tmp.path(),
        "site.tar.zst",
        &zstd::encode_all(&bytes[..], 3).unwrap(),
    );
    let (files, _) = ok(&Source::TarFile(zst), None);
    assert_eq!(summary(&files), summary(&expected));
}

#[test]
fn input_unsafe_tar_names_are_errors() {
    let tmp = TempDir::new().unwrap();
    let tar = TarBuilder::new()
        .file("ok.txt", b"ok", 1)
        .raw(tar::EntryType::Regular, b"public/../etc/passwd", b"x")
        .finish();
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(
        &e,
        &["tar entry \"public/../etc/passwd\": path escapes the site"],
    );

    let tar = TarBuilder::new()
        .raw(tar::EntryType::Regular, b"/etc/passwd", b"x")
        .finish();
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(&e, &["tar entry \"/etc/passwd\": absolute path"]);

    let tar = TarBuilder::new()
        .raw(tar::EntryType::Regular, b"bad\nname", b"x")
        .finish();
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(&e, &["tar entry \"bad\\nname\"", "control character 0x0a"]);
}

#[test]
fn input_tar_name_over_4096_bytes_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let long = vec!["c".repeat(200); 21].join("/");
    assert_eq!(long.len(), 4220);
    let tar = TarBuilder::new().file(&long, b"x", 1).finish();
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(
        &e,
        &[&format!(
            "{long}: name is 4220 bytes, longer than the format's 4096-byte limit"
        )],
    );
    // Under the limit once the prefix is stripped: fine.
    let prefixed = format!(
        "{}/{}",
        "p".repeat(200),
        vec!["c".repeat(200); 20].join("/")
    );
    let tar = TarBuilder::new().file(&prefixed, b"x", 1).finish();
    let prefix = "p".repeat(200);
    let (files, _) = ok(&tar_source(&tmp, &tar), Some(&prefix));
    assert_eq!(files[0].path.len(), 4019);
}

/// A small tar: "a.txt" (1000 bytes) then "b.txt" (512 bytes), end marker.
fn two_file_tar() -> Vec<u8> {
    TarBuilder::new()
        .file("a.txt", &[b'a'; 1000], 1)
        .file("b.txt", &[b'b'; 512], 1)
        .finish()
}

#[test]
fn input_truncated_tar_inside_data_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let tar = two_file_tar();
    let e = err(&tar_source(&tmp, &tar[..512 + 300]), None);
    assert_contains(
        &e,
        &["site.tar: truncated tar (entry \"a.txt\" has only 300 of its 1000 bytes)"],
    );
}

#[test]
fn input_truncated_tar_at_header_boundary_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let tar = two_file_tar();
    // a.txt: header + 2 data blocks; b.txt: header + 1 block; then zeros.
    assert_eq!(&tar[5 * 512..], &[0u8; 1024][..]);
    for cut in [3 * 512, 5 * 512] {
        let e = err(&tar_source(&tmp, &tar[..cut]), None);
        assert_contains(
            &e,
            &[&format!(
                "truncated tar (input ends at byte {cut} without the end-of-archive marker)"
            )],
        );
    }
    // One zero block is enough.
    let (files, _) = ok(&tar_source(&tmp, &tar[..6 * 512]), None);
    assert_eq!(paths_of(&files), ["a.txt", "b.txt"]);
    // Inside the padding of a.txt's data.
    let e = err(&tar_source(&tmp, &tar[..512 + 1000]), None);
    assert_contains(&e, &["truncated tar (input ends at byte 1512"]);
}

#[test]
fn input_empty_input_is_not_a_tar() {
    let tmp = TempDir::new().unwrap();
    let e = err(&tar_source(&tmp, b""), None);
    assert_contains(&e, &["site.tar: empty input, not a tar"]);
}

#[test]
fn input_garbage_and_truncated_compression_are_errors() {
    let tmp = TempDir::new().unwrap();
    let e = err(&tar_source(&tmp, b"hello, world\n"), None);
    assert_contains(&e, &["site.tar: not a tar (only 13 bytes"]);
    let e = err(&tar_source(&tmp, &[b'x'; 2048]), None);
    assert_contains(
        &e,
        &[
            "site.tar: not a tar archive (its first 512 bytes are not a tar header: \
           its checksum field is not a valid number)",
        ],
    );

    let tar = two_file_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let e = err(&tar_source(&tmp, &gz[..gz.len() / 2]), None);
    assert_contains(&e, &["site.tar: ", "gzip data (truncated or corrupt?)"]);
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    let e = err(&tar_source(&tmp, &zst[..zst.len() / 2]), None);
    assert_contains(&e, &["site.tar: ", "zstd data (truncated or corrupt?)"]);
}

#[test]
fn input_bad_header_checksum_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let mut tar = two_file_tar();
    tar[3 * 512] ^= 0x01; // first byte of b.txt's name
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(
        &e,
        &["site.tar: tar entry #1 (header at byte 1536): header checksum mismatch"],
    );
}

#[test]
fn input_special_tar_entries_are_errors() {
    let tmp = TempDir::new().unwrap();
    let tar = TarBuilder::new()
        .raw(tar::EntryType::Fifo, b"pipe", b"")
        .finish();
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(
        &e,
        &["pipe: is a FIFO; only regular files, directories and links can be packed"],
    );
    let tar = TarBuilder::new()
        .raw(tar::EntryType::Char, b"dev/null", b"")
        .finish();
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(&e, &["dev/null: is a character device"]);
}

#[test]
fn input_file_vs_directory_conflict_in_tar_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let tar = TarBuilder::new()
        .file("a", b"file", 1)
        .file("a/b.txt", b"x", 1)
        .finish();
    let e = err(&tar_source(&tmp, &tar), None);
    assert_contains(&e, &["tar entry \"a/b.txt\"", "parent \"a\" is a file"]);
}

// ---------------------------------------------------------------- links

#[test]
fn input_symlink_inside_shares_data_and_chains() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path();
    put(root, "docs/target.html", b"T", 99, 0);
    link(root, "docs/alias.html", "target.html");
    link(root, "chain1", "chain2");
    link(root, "chain2", "docs/alias.html");
    link(root, "via/deep.html", "../latest/target.html");
    link(root, "latest", "docs");
    let (files, warnings) = ok(&Source::Dir(root.to_path_buf()), None);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        paths_of(&files),
        [
            "chain1",
            "chain2",
            "docs/alias.html",
            "docs/target.html",
            "latest/alias.html",
            "latest/target.html",
            "via/deep.html"
        ]
    );
    let target = &get(&files, "docs/target.html").data;
    for f in &files {
        assert!(shared(&f.data, target), "{} not shared", f.path);
        assert_eq!(f.mtime, 99, "{}", f.path);
    }
}

#[test]
fn input_bad_symlinks_are_errors() {
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "escape",
            "../../outside.html",
            &["sub/link.html: symlink to \"../../outside.html\": link escapes the site"],
        ),
        (
            "absolute",
            "/etc/passwd",
            &["sub/link.html: symlink to \"/etc/passwd\": absolute link target"],
        ),
        (
            "dangling",
            "missing.html",
            &["sub/link.html: symlink to \"missing.html\": dangling link (sub/missing.html does not exist)"],
        ),
        (
            "through a file",
            "../index.html/x",
            &["sub/link.html: symlink to \"../index.html/x\": dangling link (index.html is not a directory)"],
        ),
    ];
    for (_what, target, needles) in cases {
        let tmp = TempDir::new().unwrap();
        put(tmp.path(), "index.html", b"i", 1, 0);
        link(tmp.path(), "sub/link.html", target);
        let e = err(&Source::Dir(tmp.path().to_path_buf()), None);
        assert_contains(&e, needles);

        // The same link in a tar gives the same error.
        let tar = TarBuilder::new()
            .file("index.html", b"i", 1)
            .link(tar::EntryType::Symlink, "sub/link.html", target)
            .finish();
        let out = TempDir::new().unwrap();
        let e = err(&tar_source(&out, &tar), None);
        assert_contains(&e, needles);
    }

    // Escaping through a chain names both links.
    let tmp = TempDir::new().unwrap();
    link(tmp.path(), "a", "b/c");
    link(tmp.path(), "b/c", "../../x");
    let e = err(&Source::Dir(tmp.path().to_path_buf()), None);
    assert_contains(
        &e,
        &["a: symlink to \"b/c\": link escapes the site (via b/c -> \"../../x\")"],
    );
}

#[test]
fn input_directory_symlink_aliases_files() {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path();
    put(root, "blog/2026/post.html", b"P", 5, 0);
    put(root, "blog/2026/img/a.png", b"A", 6, 0);
    link(root, "blog/2026/about.html", "../../about.html");
    put(root, "about.html", b"about", 7, 0);
    link(root, "latest", "blog/2026");
    let (files, warnings) = ok(&Source::Dir(root.to_path_buf()), None);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        paths_of(&files),
        [
            "about.html",
            "blog/2026/about.html",
            "blog/2026/img/a.png",
            "blog/2026/post.html",
            "latest/about.html",
            "latest/img/a.png",
            "latest/post.html"
        ]
    );
    assert!(shared(
        &get(&files, "latest/post.html").data,
        &get(&files, "blog/2026/post.html").data
    ));
    // A link inside the aliased directory resolves from its real place.
    assert!(shared(
        &get(&files, "latest/about.html").data,
        &get(&files, "about.html").data
    ));
}

#[test]
fn input_symlink_cycles_terminate() {
    // A directory link to an ancestor: skipped with a warning.
    let tmp = TempDir::new().unwrap();
    let root = tmp.path();
    put(root, "blog/post.html", b"P", 5, 0);
    link(root, "blog/up", "..");
    link(root, "self", ".");
    let (files, warnings) = ok(&Source::Dir(root.to_path_buf()), None);
    assert_eq!(paths_of(&files), ["blog/post.html"]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_contains(&warnings[0], &["blog/up: link to \"..\" is a cycle"]);
    assert_contains(&warnings[1], &["self: link to \".\" is a cycle"]);

    // Mutually recursive directory links through a sibling.
    let tmp = TempDir::new().unwrap();
    let root = tmp.path();
    put(root, "a/x.txt", b"x", 5, 0);
    put(root, "b/y.txt", b"y", 5, 0);
    link(root, "a/to-b", "../b");
    link(root, "b/to-a", "../a");
    let (files, warnings) = ok(&Source::Dir(root.to_path_buf()), None);
    assert_eq!(
        paths_of(&files),
        ["a/to-b/y.txt", "a/x.txt", "b/to-a/x.txt", "b/y.txt"]
    );
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_contains(&warnings[0], &["a/to-b/to-a: link to \"../a\" is a cycle"]);

    // Links to each other: too many levels.
    let tmp = TempDir::new().unwrap();
    link(tmp.path(), "p", "q");
    link(tmp.path(), "q", "p");
    let e = err(&Source::Dir(tmp.path().to_path_buf()), None);
    assert_contains(&e, &["p: symlink to \"q\": too many levels of links"]);
}

#[test]
fn input_link_chains_stop_after_40_hops() {
    // l0 -> l1 -> ... -> l{n-1} -> file.txt: resolving l0 takes n hops.
    let chain = |n: usize| {
        let mut b = TarBuilder::new().file("file.txt", b"f", 3);
        for i in 0..n {
            let next = if i + 1 == n {
                "file.txt".to_string()
            } else {
                format!("l{}", i + 1)
            };
            b = b.link(tar::EntryType::Symlink, &format!("l{i}"), &next);
        }
        b.finish()
    };
    let tmp = TempDir::new().unwrap();
    let (files, _) = ok(&tar_source(&tmp, &chain(40)), None);
    assert_eq!(files.len(), 41);
    assert!(files.iter().all(|f| shared(&f.data, &files[0].data)));
    let e = err(&tar_source(&tmp, &chain(41)), None);
    assert_contains(
        &e,
        &["l0: symlink to \"l1\": too many levels of links (more than 40"],
    );
}

// ---------------------------------------------------------------- directories

#[test]
fn input_fifo_in_directory_is_an_error_without_blocking() {
    let tmp = TempDir::new().unwrap();
    put(tmp.path(), "index.html", b"i", 1, 0);
    let fifo = tmp.path().join("pipe");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let source = Source::Dir(tmp.path().to_path_buf());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run(&source, None).0.map_err(|e| format!("{e:#}")));
    });
    let result = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("read_site blocked on a FIFO");
    let e = result.expect_err("a FIFO must be refused");
    assert_eq!(
        e,
        format!(
            "{}: is a FIFO; only regular files, directories and links can be packed",
            fifo.display()
        )
    );
}

#[test]
fn input_vcs_directories_are_skipped_with_a_warning() {
    let tmp = TempDir::new().unwrap();
    let site = tmp.path().join("site");
    put(&site, ".git/config", b"c", 1, 0);
    put(&site, ".git/objects/x", b"c", 1, 0);
    put(&site, "sub/.svn/entries", b"c", 1, 0);
    put(&site, ".well-known/a", b"a", 1, 0);
    put(&site, ".htaccess", b"h", 1, 0);
    let (files, warnings) = ok(&Source::Dir(site.clone()), None);
    assert_eq!(paths_of(&files), [".htaccess", ".well-known/a"]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert_contains(&warnings[0], &[".git", "skipping version-control"]);
    assert_contains(&warnings[1], &["sub/.svn", "skipping version-control"]);

    let tar_path = tmp.path().join("site.tar");
    gnu_tar(&site, "gnu", &tar_path);
    let (from_tar, tar_warnings) = ok(&Source::TarFile(tar_path), None);
    assert_eq!(summary(&from_tar), summary(&files));
    assert_eq!(tar_warnings.len(), 2, "{tar_warnings:?}");
}

#[test]
fn input_non_utf8_name_in_directory_is_an_error() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = TempDir::new().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad\xff.html");
    fs::write(tmp.path().join(name), b"x").unwrap();
    let e = err(&Source::Dir(tmp.path().to_path_buf()), None);
    assert_contains(&e, &["bad\u{fffd}.html: file name is not valid UTF-8"]);
}

// An unreadable file is tested in tests/pack.rs, which runs the binary as
// an unprivileged user (file permissions do not stop root).

#[test]
fn input_file_growing_while_read_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("big.bin");
    fs::write(&path, vec![7u8; 16 << 20]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let (stop, path) = (Arc::clone(&stop), path.clone());
        std::thread::spawn(move || {
            let mut f = fs::File::options().append(true).open(path).unwrap();
            let chunk = [1u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                f.write_all(&chunk).unwrap();
            }
        })
    };
    // Make sure appending has started before reading.
    while fs::metadata(&path).unwrap().len() == 16 << 20 {
        std::thread::yield_now();
    }
    let source = Source::Dir(tmp.path().to_path_buf());
    // The appender may be descheduled for a whole read on a busy machine;
    // a few attempts make the test reliable without weakening it.
    let mut outcome = None;
    for _ in 0..20 {
        if let Err(e) = run(&source, None).0 {
            outcome = Some(format!("{e:#}"));
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    appender.join().unwrap();
    let e = outcome.expect("growth was never detected");
    let prefix = format!("{}: file changed while being read (size ", path.display());
    assert!(e.starts_with(&prefix), "{e}");
}

#[test]
fn input_missing_input_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let missing = tmp.path().join("nope");
    let want = format!("{}: no such file or directory", missing.display());
    assert_eq!(err(&Source::Dir(missing.clone()), None), want);
    assert_eq!(err(&Source::TarFile(missing), None), want);
}

#[test]
fn input_mtime_before_epoch_is_floored() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("old.html");
    fs::write(&path, b"o").unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(UNIX_EPOCH - Duration::from_millis(1500))
        .unwrap();
    let (files, _) = ok(&Source::Dir(tmp.path().to_path_buf()), None);
    assert_eq!(files[0].mtime, -2);
}
