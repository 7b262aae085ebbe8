//! Live root swap and virtual hosts, with blobs packed by the real
//! tarweb-pack binary: swaps under load (every body byte-equal to one
//! version, its ETag agreeing), bad files refused, old roots released,
//! symlink flips, SIGHUP and polling, `--sites`.
//!
//! Over 600 lines on purpose: every scenario shares the packing helpers
//! and the load loop at the top; split, each file would carry a copy.

mod common;
use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Large enough that a client that stops reading leaves the server blocked
/// in the middle of it (loopback buffers take a few MiB).
const BIG: usize = 20 * 1024 * 1024;

struct Version {
    blob: PathBuf,
    digest: String,
    /// Identity bytes by URL path ("404" for the not-found body).
    files: HashMap<String, Vec<u8>>,
}

struct Versions {
    v: [Version; 2],
    /// ETag → (version, URL paths), every variant of every route (a
    /// directory index and its file share one).
    etags: HashMap<String, (usize, Vec<String>)>,
}

fn tmp(name: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    static SWEEP: OnceLock<()> = OnceLock::new();
    SWEEP.get_or_init(|| {
        // Directories of earlier runs (tens of MiB each) whose process is gone.
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("swap-") {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    });
    let d = base.join(format!("swap-{}", std::process::id())).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Two versions of a small site, every file different between them,
/// packed once per test binary.
fn versions() -> &'static Versions {
    static V: OnceLock<Versions> = OnceLock::new();
    V.get_or_init(|| {
        let base = tmp("versions");
        let mut etags = HashMap::new();
        let v = [0usize, 1].map(|n| {
            let src = base.join(format!("src{n}"));
            std::fs::create_dir_all(src.join("about")).unwrap();
            let mut files = HashMap::new();
            let mut put = |rel: &str, url: &str, b: Vec<u8>| {
                std::fs::write(src.join(rel), &b).unwrap();
                files.insert(url.to_string(), b);
            };
            let mut index = format!("<!doctype html><title>version {n}</title>\n").into_bytes();
            index.extend(text(20_000 + n * 77));
            put("index.html", "/index.html", index);
            put(
                "about/index.html",
                "/about/",
                format!("<p>about, version {n}</p>\n")
                    .repeat(50)
                    .into_bytes(),
            );
            put(
                "style.css",
                "/style.css",
                format!("body {{ color: #{n}{n}{n} }}\n")
                    .repeat(300)
                    .into_bytes(),
            );
            put(
                "small.txt",
                "/small.txt",
                format!("small file, version {n}\n").into_bytes(),
            );
            // .png: stored as is (not worth compressing), sent by sendfile.
            put("big.png", "/big.png", xorshift(BIG + n, 100 + n as u64));
            put(
                "404.html",
                "404",
                format!("<p>not found, version {n}</p>\n")
                    .repeat(20)
                    .into_bytes(),
            );
            let blob = base.join(format!("v{n}.twb"));
            let digest = pack(&src, &blob);
            let bytes = std::fs::read(&blob).unwrap();
            let b = tarweb_format::Blob::parse(&bytes).unwrap();
            for r in b.routes() {
                for var in r.variants().iter() {
                    if let Some(e) = var.etag() {
                        let path = String::from_utf8(r.path().to_vec()).unwrap();
                        let e = String::from_utf8(e.to_vec()).unwrap();
                        let entry = etags.entry(e).or_insert((n, Vec::new()));
                        assert_eq!(entry.0, n, "an ETag in both versions");
                        entry.1.push(path);
                    }
                }
            }
            Version {
                blob,
                digest,
                files,
            }
        });
        assert_ne!(v[0].digest, v[1].digest);
        Versions { v, etags }
    })
}

/// Puts `from` at `to` the way a deploy does: a hard link beside it, then
/// a rename over it.
fn deploy(from: &Path, to: &Path) {
    let tmp = to.with_extension("twb.new");
    let _ = std::fs::remove_file(&tmp);
    std::fs::hard_link(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// Writes `bytes` beside `to` and renames them over it.
fn deploy_bytes(bytes: &[u8], to: &Path) {
    let tmp = to.with_extension("twb.new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

fn wait_published(s: &Server) -> u64 {
    let l = s.wait_line("published generation", |l| {
        l.starts_with("published generation ")
    });
    l["published generation ".len()..].parse().unwrap()
}

/// Which version a response is from, checking that its bytes are exactly
/// that version's (decoded, or the range asked for) and that its ETag says
/// the same. `inm`: the If-None-Match sent, for a 304.
fn check(r: &Response, path: &str, range: Option<(u64, u64)>, inm: Option<&str>) -> usize {
    let vs = versions();
    let which = |etag: &str| {
        let (v, p) = vs
            .etags
            .get(etag)
            .unwrap_or_else(|| panic!("{path}: unknown ETag {etag}"));
        assert!(
            p.iter().any(|p| p == path),
            "ETag {etag} is another route's: {p:?}"
        );
        *v
    };
    match r.status {
        404 => {
            let v = (0..2)
                .find(|&v| r.body == vs.v[v].files["404"])
                .unwrap_or_else(|| panic!("{path}: 404 body of no version"));
            assert!(r.header("ETag").is_none());
            v
        }
        304 => {
            let e = r.header("ETag").expect("304 ETag");
            assert_eq!(Some(e), inm, "{path}: 304 for another ETag");
            which(e)
        }
        200 | 206 => {
            let v = which(r.header("ETag").expect("ETag"));
            let ce = r.header("Content-Encoding").unwrap_or("");
            let want = &vs.v[v].files[path];
            if r.status == 206 {
                let (a, b) = range.expect("206 without a Range");
                assert_eq!(ce, "", "ranges are asked without Accept-Encoding");
                assert_eq!(
                    r.header("Content-Range"),
                    Some(format!("bytes {a}-{b}/{}", want.len()).as_str())
                );
                assert!(
                    r.body == want[a as usize..=b as usize],
                    "{path} {a}-{b}: bytes of no version"
                );
            } else {
                assert!(range.is_none(), "{path}: 200 to a satisfiable Range");
                assert!(
                    decompress(ce, &r.body) == *want,
                    "{path} ({ce}): body is not version {v}'s"
                );
            }
            v
        }
        s => panic!("{path}: status {s}"),
    }
}

/// One request of the load mix; returns (request bytes, path, range,
/// If-None-Match). `big`: include the 20 MiB file and a 4 MB range of it.
fn request(
    i: usize,
    close: bool,
    big: bool,
    host: &str,
    last_css: &Option<String>,
) -> (String, &'static str, Option<(u64, u64)>, Option<String>) {
    let conn = if close { "Connection: close\r\n" } else { "" };
    let k = match (big, i % 8) {
        (false, 2) => 1,
        (false, 3) => 4,
        (_, k) => k,
    };
    let (path, extra, range, inm): (&str, String, _, _) = match k {
        0 => (
            "/index.html",
            "Accept-Encoding: gzip, br\r\n".into(),
            None,
            None,
        ),
        1 => ("/small.txt", String::new(), None, None),
        2 => ("/big.png", String::new(), None, None),
        3 => (
            "/big.png",
            "Range: bytes=1000000-5000000\r\n".into(),
            Some((1_000_000, 5_000_000)),
            None,
        ),
        4 => (
            "/index.html",
            "Range: bytes=100-199\r\n".into(),
            Some((100, 199)),
            None,
        ),
        5 => match last_css {
            Some(e) => (
                "/style.css",
                format!("If-None-Match: {e}\r\n"),
                None,
                Some(e.clone()),
            ),
            None => ("/style.css", String::new(), None, None),
        },
        6 => ("/about/", "Accept-Encoding: zstd\r\n".into(), None, None),
        _ => ("/nope", String::new(), None, None),
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{conn}{extra}\r\n");
    (req, path, range, inm)
}

#[derive(Default)]
struct Tally {
    by_version: [AtomicU64; 2],
}

/// Sends the load mix until `stop` (or a hard deadline); every response
/// checked. `only`: the one version this host may serve.
#[allow(clippy::too_many_arguments)]
fn load(
    addr: std::net::SocketAddr,
    host: &'static str,
    close: bool,
    big: bool,
    seed: usize,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    only: Option<usize>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut c = Client::connect(addr);
        let mut last_css = None;
        let mut i = seed;
        let mut reconnect = false;
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            if reconnect {
                c = Client::connect(addr);
            }
            let (req, path, range, inm) = request(i, close, big, host, &last_css);
            c.send(req.as_bytes());
            let r = c
                .read_response(false)
                .unwrap_or_else(|| panic!("no response to {req:?}"));
            let path = if path == "/nope" { "404" } else { path };
            let v = check(&r, path, range, inm.as_deref());
            if let Some(o) = only {
                assert_eq!(v, o, "{host}{path} served another version");
            }
            if path == "/style.css" && r.status == 200 {
                last_css = r.header("ETag").map(str::to_string);
            }
            tally.by_version[v].fetch_add(1, Ordering::Relaxed);
            // Ours, or the server's after --max-requests-per-connection.
            reconnect = r.header("Connection") == Some("close");
            assert!(reconnect || !close, "Connection: close echoed");
            if reconnect {
                assert!(c.is_closed(), "closed after Connection: close");
            }
            i += 1;
        }
    })
}

/// Waits (bounded) until the server holds `blobs` blob copies and
/// mappings; returns (fds, maps) then.
fn settle(s: &Server, blobs: usize) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (maps, blob_maps) = s.map_counts();
        if blob_maps == blobs && s.copy_count() == blobs {
            // And a quiet second for the rest (connections closing).
            std::thread::sleep(Duration::from_secs(1));
            let (maps, blob_maps) = s.map_counts();
            assert_eq!((blob_maps, s.copy_count()), (blobs, blobs));
            return (s.fd_count(), maps);
        }
        assert!(
            Instant::now() < deadline,
            "still {blob_maps} blob mappings ({maps} in all), {} copies; want {blobs}",
            s.copy_count()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn small_version(c: &mut Client, host: &str) -> usize {
    c.send(format!("GET /small.txt HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    let r = c.read_response(false).expect("a response");
    check(&r, "/small.txt", None, None)
}

#[test]
fn fifty_swaps_under_load_no_errors_no_torn_bodies() {
    let vs = versions();
    let dir = tmp("load");
    let site = dir.join("site.twb");
    deploy(&vs.v[0].blob, &site);
    let s = Server::start_with(&site, &["--threads", "2"]);
    // Baseline: after one swap and a quiet second.
    deploy(&vs.v[1].blob, &site);
    assert_eq!(wait_published(&s), 2);
    let (fds0, maps0) = settle(&s, 1);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    // Keep-alive and close, with and without the 20 MiB file.
    let threads: Vec<_> = (0..4)
        .map(|k| {
            load(
                s.addr,
                "t",
                k % 2 == 1,
                k < 2,
                k * 3,
                stop.clone(),
                tally.clone(),
                None,
            )
        })
        .collect();
    let t0 = Instant::now();
    const SWAPS: u64 = 60;
    for i in 0..SWAPS {
        let v = (i % 2) as usize;
        deploy(&vs.v[v].blob, &site);
        assert_eq!(wait_published(&s), i + 3);
        // Let the clients see this version for a moment.
        std::thread::sleep(Duration::from_millis(30));
    }
    let took = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join()
            .expect("a load thread failed (see its panic above)");
    }
    let counts = [0, 1].map(|v| tally.by_version[v].load(Ordering::Relaxed));
    eprintln!("{SWAPS} swaps in {took:?}; responses by version: {counts:?}");
    assert!(counts[0] > 50 && counts[1] > 50, "{counts:?}");
    let (fds1, maps1) = settle(&s, 1);
    eprintln!("fds {fds0} -> {fds1}, mappings {maps0} -> {maps1}");
    assert_eq!(fds1, fds0, "descriptors after the swaps");
    assert_eq!(maps1, maps0, "mappings after the swaps");
    let st = s.stats();
    assert!(st["requests"] > 0);
}

#[test]
fn new_requests_get_the_new_root_and_a_blocked_response_finishes_from_the_old() {
    let vs = versions();
    let dir = tmp("handover");
    let site = dir.join("site.twb");
    deploy(&vs.v[0].blob, &site);
    let s = Server::start_with(&site, &["--threads", "2", "--root-header"]);
    // (Each worker's `generation 1` line is printed before `ready`.)
    let mut ka = s.client();
    assert_eq!(small_version(&mut ka, "t"), 0);
    let r = ka.get("/small.txt", "");
    assert_eq!(r.header("Tarweb-Root"), Some(vs.v[0].digest.as_str()));
    // A 20 MiB response the client stops reading: the server blocks in
    // the middle of it.
    let mut big = s.client();
    big.send(b"GET /big.png HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(big.read_some());
    deploy(&vs.v[1].blob, &site);
    // In any order: a worker may take the table before the watcher logs.
    let d = &vs.v[1].digest;
    s.wait_lines(&[
        "published generation 2".to_string(),
        format!("worker 0: generation 2: serving {d}"),
        format!("worker 1: generation 2: serving {d}"),
    ]);
    // The old root is still mapped: the blocked response holds it.
    assert_eq!(s.map_counts().1, 2, "old and new root mapped");
    assert_eq!(s.copy_count(), 2);
    // A keep-alive connection's next request gets the new root.
    assert_eq!(small_version(&mut ka, "t"), 1);
    let r = ka.get("/small.txt", "");
    assert_eq!(r.header("Tarweb-Root"), Some(vs.v[1].digest.as_str()));
    // The blocked one finishes, whole, from the old root...
    let r = big.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == vs.v[0].files["/big.png"], "old bytes, whole");
    assert_eq!(r.header("Tarweb-Root"), Some(vs.v[0].digest.as_str()));
    // ...and its connection then gets the new one.
    assert_eq!(small_version(&mut big, "t"), 1);
    // The old root is released after its last response.
    settle(&s, 1);
}

#[test]
fn invalid_files_are_refused_and_the_old_root_keeps_serving() {
    let vs = versions();
    let dir = tmp("bad");
    let site = dir.join("site.twb");
    deploy(&vs.v[0].blob, &site);
    let s = Server::start_with(&site, &["--threads", "2"]);
    let mut c = s.client();
    let good = std::fs::read(&vs.v[1].blob).unwrap();
    // A byte of the index (a route's entry): refused by the index digest.
    let mut flipped = good.clone();
    flipped[128 + 20] ^= 1;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "(truncated or appended to)",
        ),
        ("bad index digest", flipped, "index digest mismatch"),
        (
            "not a blob",
            b"<html>hello</html>\n".repeat(100),
            "bad magic",
        ),
        ("tiny", b"x".to_vec(), "shorter than the 128-byte header"),
    ];
    for (what, bytes, reason) in cases {
        deploy_bytes(&bytes, &site);
        let l = s.wait_line("refusing", |l| l.contains("refusing"));
        assert!(l.contains(reason), "{what}: {l}");
        assert!(
            l.contains(&vs.v[0].digest),
            "{what}: names what still serves: {l}"
        );
        assert_eq!(small_version(&mut c, "t"), 0, "{what}");
    }
    // A FIFO renamed in must not hang the loader.
    let fifo = dir.join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::fs::rename(&fifo, &site).unwrap();
    let l = s.wait_line("refusing", |l| l.contains("refusing"));
    assert!(l.contains("not a regular file"), "{l}");
    // Removed: still serving.
    std::fs::remove_file(&site).unwrap();
    let l = s.wait_line("still serving", |l| l.contains("still serving"));
    assert!(l.contains("No such file"), "{l}");
    assert_eq!(small_version(&mut c, "t"), 0);
    // The next good file is taken (a copy of its own: it is written in
    // place below, and the packed versions are shared by every test).
    deploy_bytes(&std::fs::read(&vs.v[1].blob).unwrap(), &site);
    wait_published(&s);
    assert_eq!(small_version(&mut c, "t"), 1);
    // Written in place (`cp` over it): half-written it is refused even when
    // a check is forced, and taken once the writer closes it.
    let v0 = std::fs::read(&vs.v[0].blob).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&site)
        .unwrap();
    f.write_all(&v0[..v0.len() / 2]).unwrap();
    s.signal("HUP");
    let l = s.wait_line("refusing", |l| l.contains("refusing"));
    assert!(l.contains("(truncated or appended to)"), "{l}");
    assert_eq!(small_version(&mut c, "t"), 1);
    f.write_all(&v0[v0.len() / 2..]).unwrap();
    drop(f);
    wait_published(&s);
    assert_eq!(small_version(&mut c, "t"), 0);
    // Failed loads left no copy behind.
    settle(&s, 1);
}

/// `--blob-verify full`: a blob with any damaged byte (here one in the
/// data section, which the lazy default would load and answer 500 for
/// that response only) is refused whole, and the old root keeps serving.
#[test]
fn full_verification_refuses_a_blob_with_one_damaged_byte() {
    let vs = versions();
    let dir = tmp("full");
    let site = dir.join("site.twb");
    deploy(&vs.v[0].blob, &site);
    let s = Server::start_with(&site, &["--threads", "1", "--blob-verify", "full"]);
    let mut c = s.client();
    let mut flipped = std::fs::read(&vs.v[1].blob).unwrap();
    // A byte of another response's body than the one `small_version` asks.
    let at = {
        let blob = tarweb_format::Blob::parse(&flipped).unwrap();
        let v = blob
            .routes()
            .filter(|r| r.path() != b"/small.txt")
            .flat_map(|r| r.variants().iter())
            .find(|v| v.body_len() > 0)
            .expect("another body");
        (v.body_off() + v.body_len() / 2) as usize
    };
    flipped[at] ^= 1;
    deploy_bytes(&flipped, &site);
    let l = s.wait_line("refusing", |l| l.contains("refusing"));
    assert!(l.contains("digest mismatch") && !l.contains("index"), "{l}");
    assert_eq!(small_version(&mut c, "t"), 0);
    // The same blob under the default: loaded (its index is intact).
    drop(s);
    let s = Server::start_with(&site, &["--threads", "1"]);
    let mut c = s.client();
    assert_eq!(small_version(&mut c, "t"), 1);
}

#[test]
fn symlink_flips_are_seen() {
    let vs = versions();
    let dir = tmp("symlinks");
    let ln = |target: &str, link: &Path| {
        let st = std::process::Command::new("ln")
            .arg("-sfn")
            .arg(target)
            .arg(link)
            .status()
            .unwrap();
        assert!(st.success());
    };
    // A symlinked file: site.twb -> v0.twb, flipped to v1.twb.
    std::fs::hard_link(&vs.v[0].blob, dir.join("v0.twb")).unwrap();
    std::fs::hard_link(&vs.v[1].blob, dir.join("v1.twb")).unwrap();
    ln("v0.twb", &dir.join("site.twb"));
    let s = Server::start_with(&dir.join("site.twb"), &["--threads", "1"]);
    let mut c = s.client();
    assert_eq!(small_version(&mut c, "t"), 0);
    ln("v1.twb", &dir.join("site.twb"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "t"), 1);
    drop(s);
    // A symlinked directory: current -> rel0, serving current/site.twb.
    for n in 0..2 {
        std::fs::create_dir_all(dir.join(format!("rel{n}"))).unwrap();
        std::fs::hard_link(&vs.v[n].blob, dir.join(format!("rel{n}/site.twb"))).unwrap();
    }
    ln("rel0", &dir.join("current"));
    let s = Server::start_with(&dir.join("current/site.twb"), &["--threads", "1"]);
    let mut c = s.client();
    assert_eq!(small_version(&mut c, "t"), 0);
    ln("rel1", &dir.join("current"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "t"), 1);
    // And a rename inside the directory the link now points to.
    deploy(&vs.v[0].blob, &dir.join("rel1/site.twb"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "t"), 0);
}

#[test]
fn sighup_and_polling() {
    let vs = versions();
    let dir = tmp("hup");
    let site = dir.join("site.twb");
    deploy(&vs.v[0].blob, &site);
    // --watch off: only SIGHUP reloads.
    let s = Server::start_with(&site, &["--threads", "1", "--watch", "off"]);
    let mut c = s.client();
    deploy(&vs.v[1].blob, &site);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(small_version(&mut c, "t"), 0, "not watched");
    s.signal("HUP");
    wait_published(&s);
    assert_eq!(small_version(&mut c, "t"), 1);
    // SIGHUP retries a file that failed (and says so again).
    deploy_bytes(b"not a blob at all", &site);
    s.signal("HUP");
    s.wait_line("refusing", |l| l.contains("refusing"));
    s.signal("HUP");
    s.wait_line("refusing again", |l| l.contains("refusing"));
    assert_eq!(small_version(&mut c, "t"), 1);
    drop(s);
    // --watch poll: noticed without inotify.
    deploy(&vs.v[0].blob, &site);
    let s = Server::start_with(
        &site,
        &[
            "--threads",
            "1",
            "--watch",
            "poll",
            "--watch-interval-ms",
            "100",
        ],
    );
    let mut c = s.client();
    assert_eq!(small_version(&mut c, "t"), 0);
    deploy(&vs.v[1].blob, &site);
    wait_published(&s);
    assert_eq!(small_version(&mut c, "t"), 1);
}

fn get_host(c: &mut Client, host: &str, path: &str) -> Response {
    c.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    c.read_response(false).expect("a response")
}

#[test]
fn sites_add_swap_remove_while_another_host_is_under_load() {
    let vs = versions();
    let dir = tmp("sites");
    deploy(&vs.v[0].blob, &dir.join("main.test.twb"));
    let s = Server::start_sites(&dir, &["--threads", "2"]);
    let mut c = s.client();
    assert_eq!(small_version(&mut c, "main.test"), 0);
    assert_eq!(small_version(&mut c, "MAIN.Test:8080"), 0);
    // No site for this host and no default: 421, connection kept.
    let r = get_host(&mut c, "b.test", "/small.txt");
    assert_eq!(r.status, 421);
    assert_eq!(r.body, b"421 Misdirected Request\n");
    // Add b.test; the baseline is taken with two sites.
    deploy(&vs.v[1].blob, &dir.join("b.test.twb"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "B.Test:80"), 1);
    assert_eq!(small_version(&mut c, "b.test."), 1);
    let (fds0, maps0) = settle(&s, 2);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let threads: Vec<_> = (0..2)
        .map(|k| {
            load(
                s.addr,
                "main.test",
                k == 1,
                k == 0,
                k * 5,
                stop.clone(),
                tally.clone(),
                Some(0),
            )
        })
        .collect();
    // Add a host under load, then remove it.
    deploy(&vs.v[1].blob, &dir.join("d.test.twb"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "d.test"), 1);
    std::fs::remove_file(dir.join("d.test.twb")).unwrap();
    wait_published(&s);
    assert_eq!(get_host(&mut c, "d.test", "/small.txt").status, 421);
    // Pipelined requests for different hosts on one connection.
    let mut p = s.client();
    p.send(
        b"GET /small.txt HTTP/1.1\r\nHost: main.test\r\n\r\n\
          GET /small.txt HTTP/1.1\r\nHost: b.test\r\n\r\n\
          GET /index.html HTTP/1.1\r\nHost: main.test\r\n\r\n\
          GET /small.txt HTTP/1.1\r\nHost: nobody.test\r\n\r\n\
          GET http://b.test/index.html HTTP/1.1\r\nHost: main.test\r\n\r\n",
    );
    for (path, want) in [
        ("/small.txt", Some(0)),
        ("/small.txt", Some(1)),
        ("/index.html", Some(0)),
        ("/small.txt", None),
        ("/index.html", Some(1)),
    ] {
        let r = p.read_response(false).unwrap();
        match want {
            Some(v) => assert_eq!(check(&r, path, None, None), v, "{path}"),
            None => assert_eq!(r.status, 421),
        }
    }
    // Swap b.test.
    deploy(&vs.v[0].blob, &dir.join("b.test.twb"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "b.test"), 0);
    // Remove it.
    std::fs::remove_file(dir.join("b.test.twb")).unwrap();
    s.wait_line("removed b.test", |l| l == "removed b.test");
    wait_published(&s);
    assert_eq!(get_host(&mut c, "b.test", "/small.txt").status, 421);
    // A default for everyone else; hosts that are not plain names get it.
    deploy(&vs.v[1].blob, &dir.join("_default.twb"));
    wait_published(&s);
    for h in ["b.test", "nobody.test", "a_b", "[::1]:80", "127.0.0.1"] {
        assert_eq!(small_version(&mut c, h), 1, "{h}");
    }
    // Bad file names are ignored (and said so); a bad blob is refused.
    std::fs::write(dir.join("Upper.Test.twb"), b"x").unwrap();
    s.wait_line("ignored", |l| l.contains("Upper.Test.twb: ignored"));
    deploy_bytes(b"not a blob", &dir.join("c.test.twb"));
    let l = s.wait_line("refusing", |l| l.contains("refusing"));
    assert!(l.contains("c.test") && l.contains("not serving it"), "{l}");
    assert_eq!(small_version(&mut c, "c.test"), 1, "the default");
    std::fs::remove_file(dir.join("c.test.twb")).unwrap();
    std::fs::remove_file(dir.join("Upper.Test.twb")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join()
            .expect("a load thread failed (see its panic above)");
    }
    let n = tally.by_version[0].load(Ordering::Relaxed);
    eprintln!("main.test answered {n} requests, all version 0");
    assert!(n > 20);
    drop(p);
    // main.test and _default now, as main.test and b.test before.
    let (fds1, maps1) = settle(&s, 2);
    eprintln!("fds {fds0} -> {fds1}, mappings {maps0} -> {maps1}");
    assert_eq!(fds1, fds0);
    assert_eq!(maps1, maps0);
}

/// `--sites DIR` is watched on DIR itself, not only through the sites
/// already loaded: into a directory that starts empty, a site is added,
/// replaced and removed, with no signal and no polling.
#[test]
fn sites_added_to_an_empty_directory_are_seen_without_a_signal() {
    let vs = versions();
    let dir = tmp("sites-empty");
    let s = Server::start_sites(&dir, &["--threads", "1"]);
    let mut c = s.client();
    assert_eq!(get_host(&mut c, "a.test", "/small.txt").status, 421);
    deploy(&vs.v[0].blob, &dir.join("a.test.twb"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "a.test"), 0);
    deploy(&vs.v[1].blob, &dir.join("a.test.twb"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "a.test"), 1);
    std::fs::remove_file(dir.join("a.test.twb")).unwrap();
    s.wait_line("removed a.test", |l| l == "removed a.test");
    wait_published(&s);
    assert_eq!(get_host(&mut c, "a.test", "/small.txt").status, 421);
    // Empty again, and still watched.
    deploy(&vs.v[1].blob, &dir.join("_default.twb"));
    wait_published(&s);
    assert_eq!(small_version(&mut c, "b.test"), 1);
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// Minor page faults of each worker thread (a page of memory touched for
/// the first time is one).
fn worker_faults(pid: u32) -> Vec<u64> {
    let mut v = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let Ok(st) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let (name, rest) = st.split_once(") ").unwrap();
        if name.ends_with("(worker-0") || name.ends_with("(worker-1") {
            v.push(rest.split_whitespace().nth(7).unwrap().parse().unwrap());
        }
    }
    v
}

/// Memory used to creep with every swap under load (issue 15: +236 KiB
/// from swap 50 to swap 300). Two things did it: each worker built its
/// "generation G: serving D" line in a fresh, realloc'ed String per swap,
/// and the timer FIFOs were ring buffers preallocated at the slab's size,
/// whose head walked through pages never touched before (traffic, not
/// swaps, moved it; the swaps only set the pace). 300 swaps of a 200-page
/// site under light load (keep-alive and new connections, idle timeout 1
/// s so that the idle queue reaches its steady length during warm-up):
/// after the first 50, anonymous memory stays flat.
#[test]
fn three_hundred_swaps_under_load_leave_memory_flat() {
    let dir = tmp("creep");
    let blobs: Vec<PathBuf> = (0..2)
        .map(|v| {
            let src = dir.join(format!("src{v}"));
            for i in 0..200 {
                let d = src.join(format!("p{}", i / 20));
                std::fs::create_dir_all(&d).unwrap();
                let body = format!("<!doctype html><title>page {i} v{v}</title>\n")
                    + &format!("lorem ipsum dolor sit amet {i}\n").repeat(40 + i % 100);
                std::fs::write(d.join(format!("page{i}.html")), body).unwrap();
            }
            let blob = dir.join(format!("v{v}.twb"));
            pack(&src, &blob);
            blob
        })
        .collect();
    let site = dir.join("site.twb");
    deploy(&blobs[0], &site);
    let s = Server::start_with(&site, &["--threads", "2", "--idle-timeout-ms", "1000"]);
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..2u64)
        .map(|k| {
            let (addr, stop) = (s.addr, stop.clone());
            std::thread::spawn(move || {
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ k;
                let mut next = || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                while !stop.load(Ordering::Relaxed) {
                    let mut c = Client::connect(addr);
                    for _ in 0..1 + next() % 20 {
                        let i = next() % 200;
                        let ae = ["gzip", "br", "zstd", "identity"][(next() % 4) as usize];
                        let r = c.get(
                            &format!("/p{}/page{i}.html", i / 20),
                            &format!("Accept-Encoding: {ae}\r\n"),
                        );
                        assert_eq!(r.status, 200);
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            })
        })
        .collect();
    let pid = s.pid();
    let mut warm = None;
    for i in 1..=300u64 {
        deploy(&blobs[(i % 2) as usize], &site);
        assert_eq!(wait_published(&s), i + 1);
        std::thread::sleep(Duration::from_millis(10));
        if i == 50 {
            warm = Some((status_kib(pid, "RssAnon"), worker_faults(pid)));
        }
    }
    let (end, end_faults) = (status_kib(pid, "RssAnon"), worker_faults(pid));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a load thread failed");
    }
    let (warm, warm_faults) = warm.unwrap();
    eprintln!(
        "RssAnon after 50 swaps {warm} KiB, after 300 {end} KiB; \
         worker page faults {warm_faults:?} -> {end_faults:?}"
    );
    assert!(
        end <= warm + 24,
        "anonymous memory grew from {warm} KiB to {end} KiB over 250 swaps \
         (worker page faults {warm_faults:?} -> {end_faults:?})"
    );
}

/// The budget of tests/budget.rs holds with `--root-header` and across a
/// swap: the generation check costs no syscall, the header no extra write.
#[test]
fn root_header_and_swaps_keep_the_syscall_budget() {
    let vs = versions();
    let dir = tmp("budget");
    let site = dir.join("site.twb");
    deploy(&vs.v[0].blob, &site);
    let s = Server::start_with(&site, &["--threads", "1", "--root-header"]);
    let mut c = s.client();
    let warm = s.stats();
    assert_eq!(small_version(&mut c, "t"), 0);
    // Registered with epoll after its first response.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.stats()["epoll_ctl"] == warm["epoll_ctl"] {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    let keys = [
        "read",
        "writev",
        "sendmsg",
        "sendfile",
        "epoll_ctl",
        "accept4",
        "close",
    ];
    for v in [0, 1] {
        if v == 1 {
            deploy(&vs.v[1].blob, &site);
            s.wait_lines(&[
                "published generation 2".to_string(),
                format!("worker 0: generation 2: serving {}", vs.v[1].digest),
            ]);
        }
        for _ in 0..3 {
            let before = s.stats();
            c.send(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n");
            let r = c.read_response(false).unwrap();
            assert_eq!(check(&r, "/style.css", None, None), v);
            assert_eq!(r.header("Tarweb-Root"), Some(vs.v[v].digest.as_str()));
            let after = s.stats();
            let d: Vec<(&str, u64)> = keys
                .iter()
                .map(|&k| (k, delta(&before, &after, k)))
                .collect();
            assert_eq!(
                d,
                [
                    ("read", 1),
                    ("writev", 1),
                    ("sendmsg", 0),
                    ("sendfile", 0),
                    ("epoll_ctl", 0),
                    ("accept4", 0),
                    ("close", 0)
                ],
                "version {v}"
            );
        }
    }
}
