//! Test helpers: a realistic site blob (built with tarweb-format directly,
//! with the header conventions tarweb-pack uses), a server process on an
//! ephemeral port, and a tiny raw HTTP client.
//! Over 600 lines on purpose: every integration test file includes this
//! one module; the site, the server process and the client belong
//! together.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};
use tarweb_format::{BlobSpec, Coding, ResponseSpec, RouteSpec};

pub const LAST_MODIFIED: i64 = 1_700_000_000;
pub const LAST_MODIFIED_STR: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
pub const BIG_LEN: usize = 17 * 1024 * 1024 + 123;

pub struct Site {
    pub path: PathBuf,
    /// Identity bytes of every 200 route.
    pub files: HashMap<String, Vec<u8>>,
}

pub fn xorshift(n: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(n);
    v
}

pub fn text(n: usize) -> Vec<u8> {
    let words = [
        "tarweb ",
        "serves ",
        "static ",
        "sites ",
        "fast, ",
        "counting ",
        "every ",
        "syscall.\n",
    ];
    let mut v = Vec::with_capacity(n + 16);
    let mut i = 0usize;
    while v.len() < n {
        v.extend_from_slice(words[(i * 7 + i / 3) % words.len()].as_bytes());
        if i.is_multiple_of(13) {
            v.extend_from_slice(format!("{i} ").as_bytes());
        }
        i += 1;
    }
    v.truncate(n);
    v
}

pub fn compress(c: Coding, b: &[u8]) -> Vec<u8> {
    match c {
        Coding::Identity => b.to_vec(),
        Coding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(b).unwrap();
            e.finish().unwrap()
        }
        Coding::Br => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(b).unwrap();
            }
            out
        }
        Coding::Zstd => zstd::encode_all(b, 3).unwrap(),
    }
}

pub fn decompress(c: &str, b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match c {
        "" | "identity" => out = b.to_vec(),
        "gzip" => {
            flate2::read::GzDecoder::new(b)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(b, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::decode_all(b).unwrap(),
        other => panic!("unknown coding {other}"),
    }
    out
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, &c| {
        (h ^ u64::from(c)).wrapping_mul(0x100000001b3)
    })
}

fn h(n: &str, v: impl Into<String>) -> (String, String) {
    (n.to_string(), v.into())
}

/// A 200 route with one variant per coding in `codings` (identity always).
fn resource(path: &str, body: &[u8], ctype: &str, codings: &[Coding]) -> RouteSpec {
    let mut all = vec![Coding::Identity];
    all.extend(codings.iter().copied().filter(|&c| c != Coding::Identity));
    let several = all.len() > 1;
    let mut variants: Vec<ResponseSpec> = all
        .iter()
        .map(|&c| {
            let bytes = compress(c, body);
            let etag = format!("\"{:016x}-{}\"", fnv(&bytes), c.token());
            let mut headers = vec![
                h("Content-Type", ctype),
                h("ETag", etag.clone()),
                h("Last-Modified", LAST_MODIFIED_STR),
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
                h("ETag", etag.clone()),
                h("Cache-Control", "public, max-age=0, must-revalidate"),
            ];
            if several {
                nm.push(h("Vary", "Accept-Encoding"));
            }
            nm.push(h("Last-Modified", LAST_MODIFIED_STR));
            ResponseSpec {
                site_encoded: false,
                coding: c,
                headers,
                body: bytes.into(),
                etag: Some(etag),
                not_modified: Some(nm),
            }
        })
        .collect();
    variants.sort_by_key(|v| v.body.len());
    RouteSpec {
        auth: None,
        path: path.into(),
        status: 200,
        last_modified: LAST_MODIFIED,
        variants,
    }
}

fn redirect(path: &str, to: &str) -> RouteSpec {
    let body = format!("<a href=\"{to}\">Moved</a>\n");
    RouteSpec {
        auth: None,
        path: path.into(),
        status: 301,
        last_modified: 0,
        variants: vec![ResponseSpec {
            site_encoded: false,
            coding: Coding::Identity,
            headers: vec![
                h("Location", to),
                h("Content-Type", "text/html; charset=utf-8"),
            ],
            body: body.into_bytes().into(),
            etag: None,
            not_modified: None,
        }],
    }
}

/// Builds the test site once per test binary and writes it to a file.
pub fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        use Coding::*;
        let mut files = HashMap::new();
        let index = {
            let mut v = b"<!doctype html><title>tarweb</title>\n".to_vec();
            v.extend(text(20_000));
            v
        };
        let about = text(5_000);
        let css = b"body { color: #333; margin: 0 auto; max-width: 40em }\n".repeat(200);
        let js = b"console.log('tarweb zstd');\n".repeat(300);
        let mid = text(300 * 1024);
        let data = xorshift(100_000, 42);
        let big = xorshift(BIG_LEN, 7);
        let cafe = b"caf\xc3\xa9\n".to_vec();
        let spaced = b"a file with a space\n".to_vec();
        let html = "text/html; charset=utf-8";
        let routes = vec![
            resource("/", &index, html, &[Gzip, Br, Zstd]),
            resource("/index.html", &index, html, &[Gzip, Br, Zstd]),
            resource("/about/", &about, html, &[Gzip, Br]),
            redirect("/about", "/about/"),
            resource("/style.css", &css, "text/css", &[Gzip]),
            resource("/app.js", &js, "text/javascript", &[Zstd]),
            resource("/mid.txt", &mid, "text/plain", &[Gzip, Br, Zstd]),
            resource("/data.bin", &data, "application/octet-stream", &[]),
            resource("/big.bin", &big, "application/octet-stream", &[]),
            resource("/empty.txt", b"", "text/plain", &[]),
            resource("/caf\u{e9}.txt", &cafe, "text/plain", &[]),
            resource("/dir/a b.txt", &spaced, "text/plain", &[]),
        ];
        for (p, b) in [
            ("/", &index),
            ("/index.html", &index),
            ("/about/", &about),
            ("/style.css", &css),
            ("/app.js", &js),
            ("/mid.txt", &mid),
            ("/data.bin", &data),
            ("/big.bin", &big),
            ("/empty.txt", &Vec::new()),
            ("/caf\u{e9}.txt", &cafe),
            ("/dir/a b.txt", &spaced),
        ] {
            files.insert(p.to_string(), b.clone());
        }
        let nf = b"<!doctype html><title>Not found</title><p>Nothing here, nothing here, nothing here.\n".repeat(10);
        files.insert("404".into(), nf.clone());
        let not_found = [Identity, Gzip]
            .iter()
            .map(|&c| {
                let mut headers = vec![h("Content-Type", html), h("Vary", "Accept-Encoding")];
                if c != Identity {
                    headers.push(h("Content-Encoding", c.token()));
                }
                ResponseSpec {
                    site_encoded: false,
                    coding: c,
                    headers,
                    body: compress(c, &nf).into(),
                    etag: None,
                    not_modified: None,
                }
            })
            .collect::<Vec<_>>();
        let mut not_found = not_found;
        not_found.sort_by_key(|v| v.body.len());
        let spec = BlobSpec {
            routes,
            not_found,
            encoder: [0; 8],
            rules: vec![],
        };
        let (bytes, _) = tarweb_format::blob_to_vec(&spec).unwrap();
        // Named by content: every test binary and every run shares one
        // file instead of leaving a 17 MiB copy per process behind. Written
        // beside and renamed, so a concurrent test never sees half of it.
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join(format!("site-{:016x}.twb", fnv(&bytes)));
        if !path.exists() {
            let tmp = dir.join(format!("site-{}.tmp", std::process::id()));
            std::fs::write(&tmp, &bytes).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        }
        Site { path, files }
    })
}

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every address printed, in --listen order.
    pub addrs: Vec<SocketAddr>,
    pub stats: SocketAddr,
    /// Lines of stdout and stderr (stderr lines are also echoed).
    pub lines: mpsc::Receiver<String>,
    /// The lines printed before `ready` (the `sandbox:` line among them).
    pub startup: Vec<String>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        Self::start_with(&site().path, extra)
    }

    pub fn start_with(blob: &std::path::Path, extra: &[&str]) -> Server {
        Self::start_cmd(
            Command::new(env!("CARGO_BIN_EXE_tarweb-serve")),
            blob,
            extra,
        )
    }

    /// `tarweb-serve --sites DIR`.
    pub fn start_sites(dir: &std::path::Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarweb-serve"));
        cmd.arg("--sites");
        Self::start_cmd(cmd, dir, extra)
    }

    /// `cmd` runs the server (it may be a wrapper such as prlimit, or carry
    /// environment variables).
    pub fn start_cmd(mut cmd: Command, blob: &std::path::Path, extra: &[&str]) -> Server {
        let mut child = cmd
            .arg(blob)
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(strip_log_prefix(&line).to_string()).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                let _ = tx2.send(strip_log_prefix(&line).to_string());
            }
        });
        let (mut addrs, mut stats, mut startup) = (Vec::new(), None, Vec::new());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not get ready");
            };
            if let Some(a) = line.strip_prefix("listening on ") {
                addrs.push(a.split(' ').next().unwrap().parse().unwrap());
            } else if let Some(a) = line.strip_prefix("metrics on ") {
                stats = Some(a.parse().unwrap());
            } else if line == "ready" {
                break;
            }
            startup.push(line);
        }
        Server {
            child,
            addr: addrs[0],
            addrs,
            stats: stats.unwrap(),
            lines: rx,
            startup,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stats(&self) -> HashMap<String, u64> {
        let mut s = TcpStream::connect(self.stats).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut v = String::new();
        s.read_to_string(&mut v).unwrap();
        let body = v.split("\r\n\r\n").nth(1).unwrap();
        body.lines()
            .map(|l| {
                let (k, n) = l.split_once(' ').unwrap();
                (k.to_string(), n.parse().unwrap())
            })
            .collect()
    }

    /// The Prometheus text at `/metrics`.
    pub fn metrics(&self) -> String {
        let mut s = TcpStream::connect(self.stats).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut v = String::new();
        s.read_to_string(&mut v).unwrap();
        let (head, body) = v.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        body.to_string()
    }

    /// One sample of `/metrics`: `series` is the name with its labels as
    /// rendered (`tarweb_x{a="b"}`); 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        metric_in(&self.metrics(), series)
    }

    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// SIGTERM, then the exit status (bounded wait).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Waits (bounded) for an output line satisfying `f`; returns it.
    pub fn wait_line(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if f(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!("no line {what} within 20 s"),
            }
        }
    }

    /// Waits (bounded) until every line of `want` was printed, in any
    /// order.
    pub fn wait_lines(&self, want: &[String]) {
        let mut left: Vec<&String> = want.iter().collect();
        while !left.is_empty() {
            let l = self.wait_line(&format!("{left:?}"), |l| left.iter().any(|w| *w == l));
            left.retain(|w| **w != l);
        }
    }

    /// Drops the lines printed so far.
    pub fn drain_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// Lines of /proc/<pid>/maps, and those of blob copies among them.
    pub fn map_counts(&self) -> (usize, usize) {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.pid())).unwrap();
        let blob = maps.lines().filter(|l| is_blob_copy(l)).count();
        (maps.lines().count(), blob)
    }

    /// Descriptors that are blob copies.
    pub fn copy_count(&self) -> usize {
        self.blob_copies().len()
    }

    /// What the blob-copy descriptors point to (`/memfd:tarweb-blob
    /// (deleted)`, or `<dir>/#<inode> (deleted)` for a nameless file).
    pub fn blob_copies(&self) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                let l = std::fs::read_link(&p).ok()?.to_string_lossy().into_owned();
                // Hot-response files: nameless too, but mode 0600 (or a
                // memfd of their own name) where a blob copy has 0400.
                let hot = std::fs::metadata(&p).is_ok_and(|m| m.mode() & 0o777 == 0o600);
                (is_blob_copy(&l) && !hot).then_some(l)
            })
            .collect()
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }
}

/// The tarweb-pack binary: built beside tarweb-serve by `cargo test
/// --workspace`; otherwise built here, into a target directory of its
/// own (the outer cargo holds the lock of ours).
pub fn tarweb_pack() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let serve = PathBuf::from(env!("CARGO_BIN_EXE_tarweb-serve"));
        let beside = serve.with_file_name("tarweb-pack");
        if beside.exists() {
            return beside;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pack-build");
        let st = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "tarweb-pack", "--bin", "tarweb-pack"])
            .env("CARGO_TARGET_DIR", &dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(st.success(), "building tarweb-pack");
        dir.join("debug/tarweb-pack")
    })
    .clone()
}

/// Packs `dir` into `out` with the tarweb-pack binary; returns the digest
/// it prints (from `tarweb-pack verify`).
pub fn pack(dir: &std::path::Path, out: &std::path::Path) -> String {
    let st = Command::new(tarweb_pack())
        .arg(dir)
        .arg("-q")
        .arg("-o")
        .arg(out)
        .env("SOURCE_DATE_EPOCH", LAST_MODIFIED.to_string())
        .status()
        .unwrap();
    assert!(st.success(), "tarweb-pack {}", dir.display());
    let v = Command::new(tarweb_pack())
        .arg("verify")
        .arg(out)
        .output()
        .unwrap();
    assert!(v.status.success());
    let text =
        String::from_utf8_lossy(&v.stdout).into_owned() + &String::from_utf8_lossy(&v.stderr);
    text.split("digest ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in {text:?}"))
        .to_string()
}

/// Counter deltas.
pub fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>, k: &str) -> u64 {
    after[k] - before[k]
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub head: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
    /// The head without the Date line (to compare heads).
    pub fn head_without_date(&self) -> String {
        String::from_utf8_lossy(&self.head)
            .split("\r\n")
            .filter(|l| !l.starts_with("Date: "))
            .collect::<Vec<_>>()
            .join("\r\n")
    }
}

/// A raw HTTP/1.1 client over any byte stream (TCP, or TLS in tls.rs).
pub struct Client<S = TcpStream> {
    pub s: S,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        Client { s, buf: Vec::new() }
    }
}

impl<S: Read + Write> Client<S> {
    pub fn over(s: S) -> Client<S> {
        Client { s, buf: Vec::new() }
    }

    pub fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match self.s.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
            // TLS: the peer closed without close_notify (tls.rs checks
            // close_notify where it matters).
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => false,
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Reads one response; `None` on EOF before any byte.
    pub fn read_response(&mut self, head_only: bool) -> Option<Response> {
        let end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if !self.fill() {
                assert!(
                    self.buf.is_empty(),
                    "EOF inside a head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return None;
            }
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap();
        let status: u16 = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        let len: usize = if head_only || status == 304 || status == 204 {
            0
        } else {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0)
        };
        while self.buf.len() < len {
            assert!(self.fill(), "EOF inside a body");
        }
        let body: Vec<u8> = self.buf.drain(..len).collect();
        Some(Response {
            status,
            head,
            headers,
            body,
        })
    }

    /// Reads once (at least one byte, kept for `read_response`); false on
    /// EOF.
    pub fn read_some(&mut self) -> bool {
        self.fill()
    }

    /// True if the server closed (EOF or reset) within the read timeout.
    pub fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && !self.fill()
    }

    pub fn get(&mut self, path: &str, extra: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes());
        self.read_response(false).expect("a response")
    }
}

/// A /proc maps line or fd link of what a root serves from: its private
/// copy (the memfd, or an O_TMPFILE, which the kernel names `#<inode>
/// (deleted)`), or the blob's own file under a read lease (every test blob
/// is named `*.twb`).
pub fn is_blob_copy(l: &str) -> bool {
    l.contains("memfd:tarweb-blob")
        || (l.contains("/#") && l.ends_with(" (deleted)"))
        || l.ends_with(".twb")
        || l.ends_with(".twb (deleted)")
}

/// A sample's value in a Prometheus text (0 when the series is absent).
pub fn metric_in(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == series).then(|| v.parse().unwrap())
        })
        .unwrap_or(0.0)
}

/// A server log line without its timestamp and level
/// (`2026-01-02T03:04:05.678Z INFO `) or journald priority (`<6>`), so
/// tests match what it says; access log lines pass as they are.
pub fn strip_log_prefix(l: &str) -> &str {
    if let Some(rest) = l.strip_prefix('<') {
        let b = rest.as_bytes();
        if b.len() >= 2 && b[0].is_ascii_digit() && b[1] == b'>' {
            return &rest[2..];
        }
        return l;
    }
    let b = l.as_bytes();
    let stamp = b.len() > 25
        && b[4] == b'-'
        && b[10] == b'T'
        && b[23] == b'Z'
        && b[24] == b' '
        && b[..4].iter().all(u8::is_ascii_digit);
    if !stamp {
        return l;
    }
    for level in ["INFO ", "WARN ", "ERROR "] {
        if let Some(rest) = l[25..].strip_prefix(level) {
            return rest;
        }
    }
    l
}

/// One response as curl got it.
pub struct Curled {
    pub status: u16,
    /// Header fields, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Curled {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// curl with `args` (the URL among them); its head comes on stderr, the
/// body on stdout.
pub fn curl_response(args: &[&str]) -> Curled {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-D", "/dev/stderr", "-o", "-"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "curl {args:?}");
    let head = String::from_utf8_lossy(&out.stderr).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(a, b)| (a.to_ascii_lowercase(), b.trim().to_string()))
        .collect();
    Curled {
        status,
        headers,
        body: out.stdout,
    }
}
