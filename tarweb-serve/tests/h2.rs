//! HTTP/2 through real clients: curl (`--http2` over TLS, and
//! `--http2-prior-knowledge` on plain TCP), nghttp with many streams,
//! Python's h2 (tests/h2/peer.py) as a client and, with its framing
//! library, as the hostile peer; headless Chromium over HTTPS. A small
//! client of our own (below) counts syscalls and allocations per request.
//!
//! Over 600 lines on purpose: one scenario per test, sharing the clients
//! at the top.

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tarweb_format::hpack::{encode_field, Decoder, Fields};

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("h2-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A self-signed certificate for localhost and 127.0.0.1: (cert, key).
fn pki() -> &'static (PathBuf, PathBuf) {
    static PKI: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tmpdir("pki");
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .unwrap();
        std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
        (dir.join("cert.pem"), dir.join("key.pem"))
    })
}

/// `--tls-listen` on a free port with the test certificate; returns the
/// arguments and the port.
fn tls_args() -> (Vec<String>, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (cert, key) = pki();
    (
        vec![
            "--tls-listen".into(),
            format!("127.0.0.1:{port}"),
            "--tls-cert".into(),
            cert.display().to_string(),
            "--tls-key".into(),
            key.display().to_string(),
        ],
        port,
    )
}

fn start_tls(blob: &Path, extra: &[&str]) -> (Server, u16) {
    let (mut args, port) = tls_args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (Server::start_with(blob, &args), port)
}

fn peer(scenario: &str, port: u16, tls: bool, args: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2/peer.py");
    // Debian's python3-h2 is for Debian's python (a pyenv shim on PATH may
    // be another one).
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| Path::new(p).exists() || !p.starts_with('/'))
        .unwrap();
    let mut cmd = Command::new(python);
    cmd.arg(script).arg(scenario).arg(port.to_string());
    if tls {
        cmd.arg("--tls");
    }
    let out = cmd.args(args).output().expect("python3 runs");
    assert!(
        out.status.success(),
        "peer.py {scenario}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "peer.py {scenario} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// curl over HTTP/2: (HTTP version, status, headers, body).
fn curl(url: &str, args: &[&str]) -> (String, u16, String, Vec<u8>) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = tmpdir("curl");
    let head = dir.join(format!(
        "head-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let out = Command::new("curl")
        .args(["-s", "-k", "--max-time", "30", "-D"])
        .arg(&head)
        .args(["-w", "%{stderr}%{http_version} %{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs");
    let meta = String::from_utf8_lossy(&out.stderr).to_string();
    let (version, code) = meta.trim().rsplit_once(' ').unwrap_or(("", "0"));
    let headers = std::fs::read_to_string(&head).unwrap_or_default();
    let _ = std::fs::remove_file(&head);
    (
        version.to_string(),
        code.parse().unwrap_or(0),
        headers,
        out.stdout,
    )
}

fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

// --- A client of our own: frames by hand, for counting ---

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(9 + payload.len());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

struct H2Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl H2Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct H2Client {
    s: TcpStream,
    buf: Vec<u8>,
    next: u32,
    dec: Decoder,
    /// WINDOW_UPDATEs owed, sent with the next request.
    owed: Vec<u8>,
    /// Frames of other streams, read while waiting for one.
    stash: Vec<Frame>,
}

impl H2Client {
    /// Prior knowledge on plain TCP; both SETTINGS exchanged.
    fn connect(s: &Server) -> H2Client {
        let sock = TcpStream::connect(s.addrs[0]).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut c = H2Client {
            s: sock,
            buf: Vec::new(),
            next: 1,
            dec: Decoder::new(4096),
            owed: Vec::new(),
            stash: Vec::new(),
        };
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(4, 0, 0, &[]));
        c.s.write_all(&hello).unwrap();
        let (mut theirs, mut ours) = (false, false);
        while !(theirs && ours) {
            let f = c.frame().expect("the server's SETTINGS");
            match (f.kind, f.flags & 1) {
                (4, 0) => {
                    theirs = true;
                    c.s.write_all(&frame(4, 1, 0, &[])).unwrap();
                }
                (4, 1) => ours = true,
                _ => panic!("unexpected frame {} before the SETTINGS", f.kind),
            }
        }
        c
    }

    fn frame(&mut self) -> Option<Frame> {
        loop {
            if self.buf.len() >= 9 {
                let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
                if self.buf.len() >= 9 + len {
                    let f = Frame {
                        kind: self.buf[3],
                        flags: self.buf[4],
                        stream: u32::from_be_bytes(self.buf[5..9].try_into().unwrap())
                            & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    return Some(f);
                }
            }
            let mut b = [0u8; 65536];
            match self.s.read(&mut b) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
            }
        }
    }

    /// The HEADERS frame of a request (not sent).
    fn request_frame(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
    ) -> (u32, Vec<u8>) {
        let id = self.next;
        self.next += 2;
        let mut block = Vec::new();
        for (n, v) in [
            (":method", method),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
        ]
        .iter()
        .chain(extra)
        {
            encode_field(&mut block, n.as_bytes(), v.as_bytes());
        }
        (id, frame(1, 0x4 | 0x1, id, &block))
    }

    fn send(&mut self, frames: &[u8]) {
        let mut all = std::mem::take(&mut self.owed);
        all.extend_from_slice(frames);
        self.s.write_all(&all).unwrap();
    }

    /// Reads until stream `id` ends (or is reset: status 0).
    fn response(&mut self, id: u32) -> H2Response {
        let mut r = H2Response {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let mut fields = Fields::new(64 * 1024, 256);
        loop {
            let f = match self.stash.iter().position(|f| f.stream == id) {
                Some(i) => self.stash.remove(i),
                None => self.frame().expect("the response"),
            };
            if f.stream != id {
                assert!(f.stream != 0 || f.kind != 7, "GOAWAY: {:?}", f.payload);
                if f.stream != 0 {
                    self.stash.push(f);
                }
                continue;
            }
            match f.kind {
                1 | 9 => {
                    self.dec.decode(&f.payload, &mut fields).unwrap();
                    for (n, v) in fields.iter() {
                        let (n, v) = (
                            String::from_utf8_lossy(n).to_string(),
                            String::from_utf8_lossy(v).to_string(),
                        );
                        if n == ":status" {
                            r.status = v.parse().unwrap();
                        } else {
                            r.headers.push((n, v));
                        }
                    }
                }
                0 => {
                    r.body.extend_from_slice(&f.payload);
                    if !f.payload.is_empty() {
                        let inc = (f.payload.len() as u32).to_be_bytes();
                        self.owed.extend(frame(8, 0, 0, &inc));
                    }
                }
                3 => return r,
                _ => {}
            }
            if f.flags & 1 != 0 {
                return r;
            }
        }
    }

    fn get(&mut self, path: &str, extra: &[(&str, &str)]) -> H2Response {
        let (id, f) = self.request_frame("GET", path, extra);
        self.send(&f);
        self.response(id)
    }
}

fn decoded(r: &H2Response) -> Vec<u8> {
    decompress(r.header("content-encoding").unwrap_or("identity"), &r.body)
}

// --- Real clients ---

#[test]
fn curl_prior_knowledge_and_tls_fetch_every_file_with_each_coding() {
    let site = site();
    let (s, port) = start_tls(&site.path, &[]);
    let plain = s.url("");
    let tls = format!("https://127.0.0.1:{port}");
    let mut paths: Vec<&String> = site.files.keys().filter(|p| p.starts_with('/')).collect();
    paths.sort();
    for (base, how) in [(&plain, "--http2-prior-knowledge"), (&tls, "--http2")] {
        for path in &paths {
            if path.as_str() == "/big.bin" && how == "--http2" {
                continue; // once is enough (below, over TLS)
            }
            for coding in ["identity", "gzip", "br", "zstd"] {
                let url = format!("{base}{}", urlencode(path));
                let ae = format!("Accept-Encoding: {coding}");
                let (v, code, headers, body) = curl(&url, &[how, "-H", &ae]);
                assert_eq!((v.as_str(), code), ("2", 200), "{url} {coding}");
                let got = header(&headers, "content-encoding").unwrap_or("identity");
                assert!(
                    got == coding || got == "identity",
                    "{url}: {got} for {coding}"
                );
                assert_eq!(
                    decompress(got, &body),
                    site.files[path.as_str()],
                    "{url} {coding}"
                );
                for h in [
                    "date",
                    "etag",
                    "last-modified",
                    "content-type",
                    "content-length",
                ] {
                    assert!(header(&headers, h).is_some(), "{url}: no {h}:\n{headers}");
                }
                assert_eq!(
                    header(&headers, "content-length").unwrap(),
                    body.len().to_string()
                );
                if path.as_str() == "/big.bin" {
                    break;
                }
            }
        }
    }
    let (v, code, _, body) = curl(&format!("{tls}/big.bin"), &["--http2"]);
    assert_eq!((v.as_str(), code), ("2", 200));
    assert!(body == site.files["/big.bin"], "17 MiB over TLS");
}

fn urlencode(p: &str) -> String {
    p.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'.' | b'-' | b'_' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The repository's own sample site, packed by tarweb-pack, over TLS.
#[test]
fn curl_fetches_testdata_over_tls_byte_exact() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let dir = tmpdir("testdata");
    let blob = dir.join("site.twb");
    pack(&root, &blob);
    let (_s, port) = start_tls(&blob, &[]);
    let mut n = 0;
    for entry in walk(&root) {
        let rel = entry
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if rel.starts_with('_') {
            continue; // _headers, _redirects: rules, not files
        }
        let want = std::fs::read(&entry).unwrap();
        for coding in ["identity", "gzip", "br", "zstd"] {
            let url = format!("https://127.0.0.1:{port}/{}", urlencode(&rel));
            let (v, code, headers, body) = curl(
                &url,
                &["--http2", "-H", &format!("Accept-Encoding: {coding}")],
            );
            assert_eq!((v.as_str(), code), ("2", 200), "{url}");
            let got = header(&headers, "content-encoding").unwrap_or("identity");
            assert!(decompress(got, &body) == want, "{url} {coding} ({got})");
            n += 1;
        }
    }
    assert!(n >= 80, "{n} fetches");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn nghttp_many_concurrent_streams() {
    let s = Server::start(&[]);
    // 300 requests on one connection: 128 at a time (our
    // SETTINGS_MAX_CONCURRENT_STREAMS), the rest as streams end.
    let out = Command::new("nghttp")
        .args(["-n", "--stat", "-m", "300", "-t", "30"])
        .arg(s.url("/style.css"))
        .output()
        .expect("nghttp runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = text.lines().filter(|l| l.contains("/style.css")).count();
    assert_eq!(rows, 300, "{text}");
    // Each row's status column says 200.
    assert!(
        text.lines()
            .filter(|l| l.contains("/style.css"))
            .all(|l| l.split_whitespace().any(|w| w == "200")),
        "{text}"
    );
    let st = s.stats();
    assert!(st["requests"] >= 300, "{st:?}");
}

/// Python's h2: every file at once on one connection, a large download
/// first, with a small window so flow control paces everything; every
/// body exact, and the small ones finish long before the large one
/// (a frame per stream per round).
#[test]
fn python_h2_many_streams_fair_and_exact() {
    let site = site();
    let s = Server::start(&[]);
    let mut paths = vec!["/big.bin"];
    let mut rest: Vec<&str> = site
        .files
        .keys()
        .map(String::as_str)
        .filter(|p| p.starts_with('/') && *p != "/big.bin")
        .collect();
    rest.sort();
    paths.extend(rest);
    let encoded: Vec<String> = paths.iter().map(|p| urlencode(p)).collect();
    let mut args = vec!["--window=262144"];
    args.extend(encoded.iter().map(String::as_str));
    let r = peer("get", s.addrs[0].port(), false, &args);
    let streams = r["streams"].as_array().unwrap();
    assert_eq!(streams.len(), paths.len());
    let mut big_done = None;
    for (st, path) in streams.iter().zip(&paths) {
        assert_eq!(st["status"], 200, "{path}: {st}");
        assert_eq!(st["sha256"], sha256(&site.files[*path]), "{path}");
        if *path == "/big.bin" {
            big_done = st["big_when_done"].as_u64();
        } else {
            let at = st["big_when_done"].as_u64().unwrap();
            assert!(
                at < (BIG_LEN / 4) as u64,
                "{path} ended after {at} bytes of /big.bin"
            );
        }
    }
    assert_eq!(big_done, Some(BIG_LEN as u64));
}

fn check_goaway(r: &Value, code: &str, max_sent: u64) {
    assert_eq!(r["goaway"], code, "{r}");
    let sent = r["sent"].as_u64().unwrap_or(0);
    assert!(sent <= max_sent, "the attack sent {sent} bytes first: {r}");
}

/// Each flood ends with GOAWAY ENHANCE_YOUR_CALM early, and a client on
/// another connection is served throughout.
#[test]
fn hostile_floods_end_with_enhance_your_calm() {
    let s = Server::start(&["--threads", "1"]);
    let port = s.addrs[0].port();
    for (scenario, max) in [
        ("rapid-reset", 2_000_000),
        ("settings-flood", 200_000),
        ("ping-flood", 200_000),
        ("window-flood", 200_000),
        ("empty-data-flood", 200_000),
        ("priority-flood", 200_000),
    ] {
        let r = peer(scenario, port, false, &[]);
        check_goaway(&r, "ENHANCE_YOUR_CALM", max);
        let mut c = H2Client::connect(&s);
        assert_eq!(c.get("/style.css", &[]).status, 200, "after {scenario}");
    }
    let st = s.stats();
    // The rapid reset opened streams; none of them leaked a response.
    assert!(st["requests"] < 3000, "{st:?}");
}

#[test]
fn continuation_flood_is_cut_at_the_block_limit() {
    let s = Server::start(&[]);
    let r = peer("continuation-flood", s.addrs[0].port(), false, &[]);
    // 64 KiB of block, plus what was in flight (batches of 40 KB).
    check_goaway(&r, "ENHANCE_YOUR_CALM", 300_000);
    let mut c = H2Client::connect(&s);
    assert_eq!(c.get("/", &[]).status, 200);
}

#[test]
fn hpack_bomb_and_table_abuse() {
    let s = Server::start(&[]);
    let port = s.addrs[0].port();
    let r = peer("hpack-bomb", port, false, &[]);
    // 12 MB decoded from 3 KB: the stream is refused, the connection lives.
    assert_eq!(r["bomb"]["reset"], "PROTOCOL_ERROR", "{r}");
    assert_eq!(r["after"]["status"], 200, "{r}");
    let r = peer("table-size-abuse", port, false, &[]);
    assert_eq!(r["goaway"], "COMPRESSION_ERROR", "{r}");
}

#[test]
fn frame_level_errors() {
    let s = Server::start(&[]);
    let port = s.addrs[0].port();
    let r = peer("oversized-frame", port, false, &[]);
    assert_eq!(r["goaway"], "FRAME_SIZE_ERROR", "{r}");
    let r = peer("stream-reuse", port, false, &[]);
    assert_eq!(
        (r["first"].as_u64(), &r["goaway"]),
        (Some(200), &Value::from("PROTOCOL_ERROR")),
        "{r}"
    );
    let r = peer("closed-stream", port, false, &[]);
    assert_eq!(r["first"], 200, "{r}");
    assert_eq!(r["late"]["reset"], "STREAM_CLOSED", "{r}");
    assert_eq!(r["after"], 200, "{r}");
    let r = peer("malformed", port, false, &[]);
    for case in [
        "upper-case name",
        "no :path",
        "pseudo after regular",
        "connection field",
        "te gzip",
        "unknown pseudo",
        "two :path",
        "empty :path",
        "content-length mismatch",
        "content-length without body",
    ] {
        assert_eq!(r[case], "PROTOCOL_ERROR", "{case}: {r}");
    }
    assert_eq!(r["after"], 200, "{r}");
}

#[test]
fn timeouts_preface_settings_ack_and_a_window_held_shut() {
    let s = Server::start(&["--header-timeout-ms", "700", "--send-timeout-ms", "1500"]);
    let port = s.addrs[0].port();
    // No preface: closed at the header timeout, with nothing said.
    let r = peer("no-preface", port, false, &[]);
    assert_eq!(r["frame"], Value::Null, "{r}");
    assert_eq!(r["closed"], true, "{r}");
    let after = r["after"].as_f64().unwrap();
    assert!((0.5..5.0).contains(&after), "{r}");
    // Our SETTINGS never acknowledged.
    let r = peer("no-ack", port, false, &[]);
    assert_eq!(r["goaway"], "SETTINGS_TIMEOUT", "{r}");
    // A window at zero for longer than the send timeout: the headers came,
    // no DATA, then GOAWAY and the close.
    let r = peer("zero-window", port, false, &["4"]);
    let held: Vec<&str> = r["held"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(held.contains(&"HeadersFrame"), "{r}");
    assert!(!held.contains(&"DataFrame"), "{r}");
    assert!(held.iter().any(|f| f.starts_with("GoAwayFrame")), "{r}");
    assert_eq!(r["closed"], true, "{r}");
    // Within the timeout, the window opens and the whole body follows.
    let r = peer("zero-window", port, false, &["0.5", "/mid.txt"]);
    assert_eq!(
        r["after"]["sha256"],
        sha256(&site().files["/mid.txt"]),
        "{r}"
    );
}

// --- Semantics: the same answers as HTTP/1.1 ---

#[test]
fn same_semantics_as_http1() {
    let s = Server::start(&[]);
    let mut c = H2Client::connect(&s);
    let mut h1 = s.client();
    // Every stored header of the HTTP/1.1 response, lower-cased.
    for (path, ae) in [
        ("/style.css", "gzip"),
        ("/", "br"),
        ("/app.js", "zstd"),
        ("/about/", ""),
    ] {
        let r2 = c.get(path, &[("accept-encoding", ae)]);
        let r1 = h1.get(path, &format!("Accept-Encoding: {ae}\r\n"));
        assert_eq!(r2.status, r1.status, "{path}");
        assert_eq!(r2.body, r1.body, "{path}");
        for (n, v) in &r1.headers {
            let n = n.to_ascii_lowercase();
            if n == "date" || n == "connection" || n == "keep-alive" {
                continue;
            }
            assert_eq!(r2.header(&n), Some(v.as_str()), "{path}: {n}");
        }
    }
    // HEAD: the GET's headers, no body.
    let (id, f) = c.request_frame("HEAD", "/style.css", &[]);
    c.send(&f);
    let r = c.response(id);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(
        r.header("content-length").unwrap(),
        site().files["/style.css"].len().to_string()
    );
    // Conditionals.
    let etag = c.get("/style.css", &[]).header("etag").unwrap().to_string();
    let r = c.get("/style.css", &[("if-none-match", &etag)]);
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    // Ranges: 206 with content-range, 416.
    let r = c.get("/data.bin", &[("range", "bytes=10-19")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, site().files["/data.bin"][10..20]);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/100000"));
    assert_eq!(r.header("content-length"), Some("10"));
    let r = c.get("/data.bin", &[("range", "bytes=200000-")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */100000"));
    // Redirect, 404 page, OPTIONS, POST.
    let r = c.get("/about", &[]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/about/"));
    let r = c.get("/nope", &[("accept-encoding", "gzip")]);
    assert_eq!(r.status, 404);
    assert_eq!(decoded(&r), site().files["404"]);
    let (id, f) = c.request_frame("OPTIONS", "*", &[]);
    c.send(&f);
    let r = c.response(id);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    let (id, f) = c.request_frame("DELETE", "/style.css", &[]);
    c.send(&f);
    let r = c.response(id);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    // Percent-encoded paths decode as on HTTP/1.1.
    let r = c.get("/caf%C3%A9.txt", &[]);
    assert_eq!(r.body, site().files["/caf\u{e9}.txt"]);
}

/// A request with a body we do not need: 405 at once, then RST_STREAM
/// NO_ERROR so the client stops sending it; the connection goes on.
#[test]
fn post_body_is_cut_short_with_no_error() {
    let s = Server::start(&[]);
    let mut c = H2Client::connect(&s);
    let id = c.next;
    c.next += 2;
    let mut block = Vec::new();
    for (n, v) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "x"),
    ] {
        encode_field(&mut block, n.as_bytes(), v.as_bytes());
    }
    c.send(&frame(1, 0x4, id, &block));
    let mut saw = (0u16, false);
    let mut fields = Fields::new(65536, 64);
    while !saw.1 {
        let f = c.frame().unwrap();
        match f.kind {
            1 => {
                c.dec.decode(&f.payload, &mut fields).unwrap();
                saw.0 = String::from_utf8_lossy(fields.get(0).unwrap().1)
                    .parse()
                    .unwrap();
            }
            3 => {
                assert_eq!(f.payload, [0, 0, 0, 0], "RST_STREAM NO_ERROR");
                saw.1 = true;
            }
            _ => {}
        }
    }
    assert_eq!(saw.0, 405);
    // Its DATA still in flight is dropped quietly.
    c.send(&frame(0, 1, id, b"late body"));
    assert_eq!(c.get("/style.css", &[]).status, 200);
}

#[test]
fn access_log_says_http_2() {
    let dir = tmpdir("log");
    let log = dir.join("access.log");
    let s = Server::start(&["--access-log", log.to_str().unwrap()]);
    let mut c = H2Client::connect(&s);
    assert_eq!(c.get("/style.css", &[]).status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("\"GET /style.css HTTP/2.0\" 200") {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn http2_off_offers_only_http11() {
    let site = site();
    let (s, port) = start_tls(&site.path, &["--http2", "off"]);
    let (v, code, _, _) = curl(&format!("https://127.0.0.1:{port}/style.css"), &["--http2"]);
    assert_eq!((v.as_str(), code), ("1.1", 200));
    let (_, code, _, _) = curl(&s.url("/style.css"), &["--http2-prior-knowledge"]);
    assert_eq!(code, 0, "prior knowledge refused (connection closed)");
}

/// SIGTERM: an idle HTTP/2 connection gets GOAWAY NO_ERROR, then the close.
#[test]
fn shutdown_says_goaway() {
    let mut s = Server::start(&[]);
    let mut c = H2Client::connect(&s);
    assert_eq!(c.get("/style.css", &[]).status, 200);
    s.signal("TERM");
    let f = c.frame().expect("GOAWAY");
    assert_eq!((f.kind, f.stream), (7, 0));
    assert_eq!(&f.payload[..4], &1u32.to_be_bytes(), "last stream 1");
    assert_eq!(&f.payload[4..8], &[0, 0, 0, 0], "NO_ERROR");
    assert!(c.frame().is_none(), "then the close");
    assert!(s.terminate().success());
}

// --- Budgets ---

fn h2_warm(s: &Server) -> H2Client {
    let mut c = H2Client::connect(s);
    assert_eq!(c.get("/empty.txt", &[]).status, 200);
    // The registration with epoll follows the first response.
    let deadline = Instant::now() + Duration::from_secs(5);
    let before = s.stats()["epoll_ctl"];
    while s.stats()["epoll_ctl"] == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    c
}

fn syscalls(b: &HashMap<String, u64>, a: &HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = [
        "read",
        "write",
        "writev",
        "sendmsg",
        "sendfile",
        "epoll_ctl",
        "close",
        "requests",
        "allocs",
    ]
    .iter()
    .map(|k| (k.to_string(), delta(b, a, k)))
    .filter(|(_, d)| *d > 0)
    .collect();
    v.sort();
    v
}

#[test]
fn small_get_on_an_open_connection_is_one_read_one_writev_no_allocation() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = h2_warm(&s);
    let cases: [(&str, &[(&str, &str)]); 7] = [
        ("/style.css", &[]),
        ("/style.css", &[("if-none-match", "*")]),
        ("/style.css", &[("accept-encoding", "gzip")]),
        ("/", &[("accept-encoding", "br")]),
        ("/nope", &[]),
        ("/about", &[]),
        ("/data.bin", &[("range", "bytes=0-99")]),
    ];
    for round in 0..2 {
        for (path, extra) in cases {
            let before = s.stats();
            let r = c.get(path, extra);
            assert!(matches!(r.status, 200 | 206 | 301 | 304 | 404), "{path}");
            let after = s.stats();
            let d = syscalls(&before, &after);
            let mut want = vec![
                ("read".to_string(), 1),
                ("requests".to_string(), 1),
                ("writev".to_string(), 1),
            ];
            if round == 0 {
                // The first pass may grow pooled buffers once.
                want.extend(d.iter().filter(|(k, _)| k == "allocs").cloned());
                want.sort();
            }
            assert_eq!(d, want, "{path} (round {round})");
        }
    }
    // Several requests in one read: one writev for all of them (the
    // second batch allocates nothing: stream slots and buffers have grown).
    for round in 0..2 {
        let mut batch = Vec::new();
        let mut ids = Vec::new();
        for (path, extra) in cases {
            let (id, f) = c.request_frame("GET", path, extra);
            batch.extend(f);
            ids.push(id);
        }
        let before = s.stats();
        c.send(&batch);
        for id in ids {
            assert!(c.response(id).status > 0);
        }
        let after = s.stats();
        let mut d = syscalls(&before, &after);
        if round == 0 {
            d.retain(|(k, _)| k != "allocs");
        }
        assert_eq!(
            d,
            vec![
                ("read".to_string(), 1),
                ("requests".to_string(), cases.len() as u64),
                ("writev".to_string(), 1)
            ],
            "batch, round {round}"
        );
    }
}

// --- Live swap ---

/// A download in flight when the root is swapped finishes from the root it
/// started on; new streams on the same connection get the new one.
#[test]
fn a_stream_in_flight_finishes_from_its_root_across_a_swap() {
    let dir = tmpdir("swap");
    let (old, new) = (dir.join("old"), dir.join("new"));
    for (d, fill) in [(&old, b'o'), (&new, b'n')] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("big.bin"), vec![fill; 3 << 20]).unwrap();
        std::fs::write(d.join("v.txt"), [fill]).unwrap();
    }
    let live = dir.join("site.twb");
    pack(&old, &live);
    let next = dir.join("next.twb");
    pack(&new, &next);
    let s = Server::start_with(&live, &[]);
    let port = s.addrs[0].port();
    // The peer holds the window shut for 2 s; we swap meanwhile.
    let t = std::thread::spawn(move || peer("zero-window", port, false, &["2", "/big.bin"]));
    std::thread::sleep(Duration::from_millis(700));
    std::fs::rename(&next, &live).unwrap();
    s.wait_line("the swap", |l| l.starts_with("published generation "));
    let r = t.join().unwrap();
    assert_eq!(r["after"]["sha256"], sha256(&vec![b'o'; 3 << 20]), "{r}");
    let mut c = H2Client::connect(&s);
    assert_eq!(c.get("/v.txt", &[]).body, b"n");
}

// --- A browser ---

/// Headless Chromium loads a page over HTTPS: the page and its assets
/// come over h2 (`nextHopProtocol`).
#[test]
fn chromium_loads_a_page_over_h2() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
    else {
        panic!("headless Chromium is needed (tools/test-deps.sh installs it)");
    };
    let dir = tmpdir("browser");
    let src = dir.join("site");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("index.html"),
        "<!doctype html><link rel=stylesheet href=/a.css><script src=/b.js></script>\
         <body><img src=/c.svg><script>\
         addEventListener('load', () => { document.body.insertAdjacentHTML('beforeend', \
         '<pre id=out>' + performance.getEntries().filter(e => e.nextHopProtocol !== undefined)\
         .map(e => new URL(e.name).pathname + ' ' + e.nextHopProtocol).join('\\n') + '</pre>'); });\
         </script>",
    )
    .unwrap();
    std::fs::write(src.join("a.css"), "body { color: #123 }\n").unwrap();
    std::fs::write(src.join("b.js"), "window.b = 1;\n").unwrap();
    std::fs::write(
        src.join("c.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'/>\n",
    )
    .unwrap();
    let blob = dir.join("site.twb");
    pack(&src, &blob);
    let (_s, port) = start_tls(&blob, &[]);
    let profile = dir.join("profile");
    let out = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--ignore-certificate-errors",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("https://127.0.0.1:{port}/"))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    for path in ["/ h2", "/a.css h2", "/b.js h2", "/c.svg h2"] {
        assert!(
            dom.contains(path),
            "{path} missing:\n{dom}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
