//! HTTPS through real clients: a rustls client and curl (`--cacert`)
//! against the server binary. This host's kernel has no kTLS, so this is
//! the user-space record path (`--ktls=auto` falls back; the kernel path
//! is tested under QEMU by `make test-ktls`). Certificates are made at
//! run time with rcgen.
//!
//! Over 600 lines on purpose: one scenario per test, all sharing the
//! certificate and client helpers at the top.

mod common;
use common::*;
use rustls::client::{ClientConnection, Resumption};
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, HandshakeKind, RootCertStore, StreamOwned, SupportedProtocolVersion};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

type Tls = StreamOwned<ClientConnection, TcpStream>;

struct Pki {
    /// localhost + 127.0.0.1 (ECDSA P-256, PKCS#8).
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn make_cert(names: &[&str]) -> (String, String, CertificateDer<'static>) {
    let ck =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    (
        ck.cert.pem(),
        ck.signing_key.serialize_pem(),
        ck.cert.der().clone(),
    )
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tmpdir("pki");
        let (cert, key, der) = make_cert(&["localhost", "127.0.0.1"]);
        std::fs::write(dir.join("cert.pem"), cert).unwrap();
        std::fs::write(dir.join("key.pem"), key).unwrap();
        Pki {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            der,
        }
    })
}

fn start(extra: &[&str]) -> Server {
    let p = pki();
    start_with_cert(&p.cert, &p.key, extra)
}

/// A server with an HTTPS listener on `cert` and `key`.
fn start_with_cert(cert: &Path, key: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn tls_addr(s: &Server) -> SocketAddr {
    *s.addrs.last().unwrap()
}

fn config_with(
    roots: &[CertificateDer<'static>],
    versions: &[&'static SupportedProtocolVersion],
) -> ClientConfig {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let mut c = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    c
}

fn config() -> Arc<ClientConfig> {
    Arc::new(config_with(
        &[pki().der.clone()],
        &[&rustls::version::TLS13, &rustls::version::TLS12],
    ))
}

fn connect_as(addr: SocketAddr, cfg: Arc<ClientConfig>, name: &str) -> Client<Tls> {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = ServerName::try_from(name.to_string()).unwrap();
    let conn = ClientConnection::new(cfg, name).unwrap();
    Client::over(StreamOwned::new(conn, sock))
}

fn connect(s: &Server) -> Client<Tls> {
    connect_as(tls_addr(s), config(), "localhost")
}

/// `--proxy-protocol` on a TLS listener: the PROXY header comes before the
/// ClientHello (v1 and v2, whole or cut), the handshake then proceeds on
/// the same connection, and the header's address is the client's.
#[test]
fn proxy_header_before_the_client_hello() {
    let log = tmpdir("proxy-tls").join("access.log");
    let mut s = start(&[
        "--threads",
        "1",
        "--proxy-protocol",
        "--access-log",
        log.to_str().unwrap(),
    ]);
    let v2: Vec<u8> = [
        &b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"[..],
        &[198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x41, 0x01, 0xbb],
    ]
    .concat();
    let v1 = b"PROXY TCP4 192.0.2.44 127.0.0.1 40001 443\r\n".to_vec();
    for (header, cut) in [(&v2, v2.len()), (&v1, v1.len()), (&v2, 5), (&v1, 9)] {
        let mut sock = TcpStream::connect(tls_addr(&s)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        sock.set_nodelay(true).unwrap();
        sock.write_all(&header[..cut]).unwrap();
        if cut < header.len() {
            std::thread::sleep(Duration::from_millis(20));
            sock.write_all(&header[cut..]).unwrap();
        }
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(config(), name).unwrap();
        let mut c = Client::over(StreamOwned::new(conn, sock));
        let r = c.get("/style.css", "");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, site().files["/style.css"]);
    }
    // No header: the ClientHello itself is refused, with no answer.
    let mut sock = TcpStream::connect(tls_addr(&s)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = ClientConnection::new(config(), name).unwrap();
    assert!(conn.complete_io(&mut sock).is_err());
    assert!(conn.is_handshaking());
    assert!(s.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let clients: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        clients,
        ["198.51.100.9", "192.0.2.44", "198.51.100.9", "192.0.2.44"],
        "{text}"
    );
}

fn coding(r: &Response) -> String {
    r.header("content-encoding").unwrap_or("").to_string()
}

#[test]
fn every_byte_of_every_variant() {
    let s = start(&[]);
    let site = site();
    let mut c = connect(&s);
    let mut paths: Vec<&String> = site.files.keys().filter(|p| p.starts_with('/')).collect();
    paths.sort();
    for path in paths {
        let want = &site.files[path.as_str()];
        let target: String = path
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"/._-".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        for ae in ["identity", "gzip", "br", "zstd"] {
            let r = c.get(&target, &format!("Accept-Encoding: {ae}\r\n"));
            assert_eq!(r.status, 200, "{path} [{ae}]");
            let ce = coding(&r);
            assert!(
                ce.is_empty() || ce == ae,
                "{path} [{ae}]: Content-Encoding {ce}"
            );
            assert!(
                decompress(&ce, &r.body) == *want,
                "{path} [{ae}]: body differs ({} bytes)",
                r.body.len()
            );
        }
    }
    // The 17 MiB body crossed the sendfile threshold: in user space it is
    // encrypted from the mapping, same bytes.
    let st = s.stats();
    assert_eq!(st["tls_handshakes"], 1, "{st:?}");
    assert_eq!(st["sendfile"], 0, "user-space TLS never sendfiles: {st:?}");
}

#[test]
fn ranges_head_keepalive_and_pipelining() {
    let s = start(&[]);
    let big = &site().files["/big.bin"];
    let data = &site().files["/data.bin"];
    let mut c = connect(&s);
    let r = c.get("/data.bin", "Range: bytes=100-199\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, data[100..200]);
    let r = c.get("/big.bin", "Range: bytes=1000000-3000000\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, big[1_000_000..=3_000_000]);
    let r = c.get("/big.bin", "Range: bytes=-10\r\n");
    assert_eq!(r.body, big[big.len() - 10..]);

    c.send(b"HEAD /mid.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let h = c.read_response(true).unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(
        h.header("content-length").unwrap(),
        site().files["/mid.txt"].len().to_string()
    );
    assert!(h.body.is_empty());

    // 50 requests in one write; the answers in order, byte-exact.
    let paths = ["/style.css", "/data.bin", "/about/", "/empty.txt", "/nope"];
    let mut batch = Vec::new();
    for i in 0..50 {
        batch.extend_from_slice(
            format!("GET {} HTTP/1.1\r\nHost: t\r\n\r\n", paths[i % 5]).as_bytes(),
        );
    }
    c.send(&batch);
    for i in 0..50 {
        let r = c.read_response(false).unwrap();
        let p = paths[i % 5];
        if p == "/nope" {
            assert_eq!(r.status, 404);
        } else {
            assert_eq!(r.status, 200, "{p}");
            assert_eq!(r.body, site().files[p], "{p}");
        }
    }
    assert_eq!(s.stats()["tls_handshakes"], 1);
}

#[test]
fn request_in_the_finished_flight_and_close_notify() {
    let s = start(&[]);
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let cfg = Arc::new(config_with(&[pki().der.clone()], versions));
        let mut c = connect_as(tls_addr(&s), cfg, "localhost");
        // Queued before the handshake: rustls sends it right behind its
        // Finished (TLS 1.3), in the same flight.
        c.s.conn
            .writer()
            .write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut all = Vec::new();
        // read_to_end succeeds only on close_notify: a bare FIN is an
        // UnexpectedEof error in rustls.
        c.s.read_to_end(&mut all)
            .expect("clean TLS close (close_notify)");
        let text = String::from_utf8_lossy(&all);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(all.ends_with(&site().files["/style.css"]));
    }
}

#[test]
fn client_close_notify_ends_the_connection() {
    let s = start(&["--threads", "1"]);
    let mut c = connect(&s);
    assert_eq!(c.get("/empty.txt", "").status, 200);
    let before = s.stats();
    c.s.conn.send_close_notify();
    c.s.flush().unwrap();
    c.s.conn.complete_io(&mut c.s.sock).unwrap();
    let mut rest = Vec::new();
    c.s.read_to_end(&mut rest)
        .expect("our close_notify answered by the server's");
    assert!(rest.is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.stats()["close"] == before["close"] {
        assert!(Instant::now() < deadline, "server did not close");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn session_resumption() {
    let s = start(&[]);
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let mut cfg = config_with(&[pki().der.clone()], versions);
        cfg.resumption = Resumption::in_memory_sessions(16);
        let cfg = Arc::new(cfg);
        let mut first = connect_as(tls_addr(&s), cfg.clone(), "localhost");
        assert_eq!(first.get("/style.css", "").status, 200);
        assert_eq!(first.s.conn.handshake_kind(), Some(HandshakeKind::Full));
        drop(first);
        let mut second = connect_as(tls_addr(&s), cfg, "localhost");
        assert_eq!(second.get("/style.css", "").status, 200);
        assert_eq!(
            second.s.conn.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{versions:?}"
        );
    }
}

/// A ClientHello as rustls writes it.
fn client_hello() -> Vec<u8> {
    let mut conn =
        ClientConnection::new(config(), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut v = Vec::new();
    conn.write_tls(&mut v).unwrap();
    v
}

#[test]
fn bad_handshakes_close_without_disturbing_others() {
    let s = start(&["--header-timeout-ms", "1500"]);
    let addr = tls_addr(&s);
    let mut good = connect(&s);
    assert_eq!(good.get("/style.css", "").status, 200);

    let hello = client_hello();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "garbage",
            (0..3000u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("record too long", vec![22, 3, 1, 0xff, 0xff, 1, 2, 3]),
        ("truncated ClientHello", hello[..hello.len() / 2].to_vec()),
    ];
    let mut bad = Vec::new();
    for (name, bytes) in &cases {
        let mut t = TcpStream::connect(addr).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        t.write_all(bytes).unwrap();
        bad.push((name, t));
    }
    // The good connection is served while the bad ones are pending.
    for _ in 0..3 {
        let r = good.get("/data.bin", "");
        assert_eq!(r.body, site().files["/data.bin"]);
    }
    for (name, mut t) in bad {
        // Closed by the server: an alert at most, then EOF (or a reset
        // over the unread bytes); never an HTTP answer, never a hang (the
        // truncated hello waits for the handshake timeout, 1.5 s here).
        let mut got = Vec::new();
        let r = t.read_to_end(&mut got);
        assert!(
            !String::from_utf8_lossy(&got).contains("HTTP/1.1"),
            "{name}: {got:?}"
        );
        if let Err(e) = r {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{name}: {e}");
        }
        if !got.is_empty() {
            assert_eq!(got[0], 21, "{name}: not an alert record: {got:?}");
        }
    }
    let r = good.get("/about/", "");
    assert_eq!(r.body, site().files["/about/"]);
    let st = s.stats();
    assert_eq!(st["tls_handshakes"], 1, "{st:?}");
    assert_eq!(
        st["tls_failures"], 2,
        "the truncated hello timed out, not failed: {st:?}"
    );
}

/// Plain HTTP sent to the TLS port gets a plain-text 400 that says so (as
/// nginx answers), then the connection closes: not a TLS alert, not a
/// reset. Told apart from the first bytes (a method, not a TLS record);
/// the rest of the request, however long, is drained by the lingering
/// close.
#[test]
fn plain_http_on_the_tls_port_gets_a_plain_400() {
    let s = start(&["--threads", "1"]);
    let addr = tls_addr(&s);
    for req in [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        // Pipelined, and a body: all of it read and dropped.
        [
            &b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"[..],
            &[b'x'; 100_000],
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        .concat(),
        // Only the start of a method.
        b"HEA".to_vec(),
    ] {
        let mut t = TcpStream::connect(addr).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        t.write_all(&req).unwrap();
        let mut got = Vec::new();
        t.read_to_end(&mut got).expect("a clean close, not a reset");
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert!(text.contains("\r\nDate: "), "{text}");
        assert!(
            text.ends_with(
                "\r\n\r\n400 Bad Request: the plain HTTP request was sent to an HTTPS port\n"
            ),
            "{text}"
        );
        let len: usize = text
            .split("Content-Length: ")
            .nth(1)
            .and_then(|v| v.split("\r\n").next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert_eq!(len, text.split("\r\n\r\n").nth(1).unwrap().len());
    }
    // curl with http:// to the TLS port: the same answer.
    let (err, out) = curl(&["-i", &format!("http://127.0.0.1:{}/", addr.port())]);
    assert!(err.is_empty(), "{err}");
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(
        out.contains("plain HTTP request was sent to an HTTPS port"),
        "{out}"
    );
    // HTTPS on the same port is unaffected.
    assert_eq!(connect(&s).get("/style.css", "").status, 200);
    let st = s.stats();
    assert_eq!((st["tls_handshakes"], st["tls_failures"]), (1, 4), "{st:?}");
}

#[test]
fn handshake_timeout_closes_a_silent_client() {
    let s = start(&["--header-timeout-ms", "300", "--threads", "1"]);
    let mut t = TcpStream::connect(tls_addr(&s)).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let hello = client_hello();
    // Half the hello, then nothing.
    t.write_all(&hello[..40]).unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 64];
    let n = t.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "EOF expected, got {:?}", &buf[..n]);
    assert!(
        t0.elapsed() < Duration::from_secs(9),
        "closed by the timeout, not ours"
    );
    assert_eq!(s.stats()["tls_handshakes"], 0);
}

#[test]
fn no_sni_gets_the_default_certificate_and_sni_picks_from_the_dir() {
    let dir = tmpdir("sni");
    let (cert, key, other) = make_cert(&["other.test"]);
    std::fs::write(dir.join("other.test.pem"), format!("{cert}{key}")).unwrap();
    let s = start(&["--tls-cert-dir", dir.to_str().unwrap()]);
    let roots = [pki().der.clone(), other.clone()];
    let both = Arc::new(config_with(&roots, &[&rustls::version::TLS13]));
    // An IP address as the name: rustls sends no SNI.
    let mut c = connect_as(tls_addr(&s), both.clone(), "127.0.0.1");
    assert_eq!(c.get("/style.css", "").status, 200);
    assert_eq!(c.s.conn.peer_certificates().unwrap()[0], pki().der);
    let mut c = connect_as(tls_addr(&s), both.clone(), "other.test");
    assert_eq!(c.get("/style.css", "").status, 200);
    assert_eq!(c.s.conn.peer_certificates().unwrap()[0], other);
    // Names not in the directory get the default.
    let mut c = connect_as(tls_addr(&s), both, "localhost");
    assert_eq!(c.get("/", "").status, 200);
    assert_eq!(c.s.conn.peer_certificates().unwrap()[0], pki().der);
}

/// Two certificates for localhost; a server started on the first (files
/// `c.pem`/`k.pem` in `dir`); and a probe returning the certificate a fresh
/// handshake (no resumption) is served.
struct Reload {
    dir: PathBuf,
    c: PathBuf,
    k: PathBuf,
    pems: [(String, String); 2],
    ders: [CertificateDer<'static>; 2],
    cfg: Arc<ClientConfig>,
    s: Server,
}

impl Reload {
    fn start(name: &str) -> Reload {
        let dir = tmpdir(name);
        let (cert1, key1, der1) = make_cert(&["localhost"]);
        let (cert2, key2, der2) = make_cert(&["localhost"]);
        let (c, k) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&c, &cert1).unwrap();
        std::fs::write(&k, &key1).unwrap();
        let s = start_with_cert(&c, &k, &[]);
        let mut cfg = config_with(&[der1.clone(), der2.clone()], &[&rustls::version::TLS13]);
        // A resumed session shows the certificate of the first one.
        cfg.resumption = Resumption::disabled();
        Reload {
            dir,
            c,
            k,
            pems: [(cert1, key1), (cert2, key2)],
            ders: [der1, der2],
            cfg: Arc::new(cfg),
            s,
        }
    }

    fn served(&self) -> CertificateDer<'static> {
        let mut t = connect_as(tls_addr(&self.s), self.cfg.clone(), "localhost");
        assert_eq!(t.get("/empty.txt", "").status, 200);
        t.s.conn.peer_certificates().unwrap()[0].clone()
    }

    fn wait_served(&self, i: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.served() != self.ders[i] {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn sighup_reloads_the_certificate_and_keeps_it_when_the_new_one_is_bad() {
    let r = Reload::start("reload");
    let hup = |s: &Server| {
        assert!(Command::new("kill")
            .args(["-HUP", &s.pid().to_string()])
            .status()
            .unwrap()
            .success());
    };
    assert_eq!(r.served(), r.ders[0]);
    std::fs::write(&r.c, &r.pems[1].0).unwrap();
    std::fs::write(&r.k, &r.pems[1].1).unwrap();
    hup(&r.s);
    r.wait_served(1, "new certificate never served");
    // A key that does not match the certificate: refused, cert2 stays.
    std::fs::write(&r.k, &r.pems[0].1).unwrap();
    hup(&r.s);
    // The signal is handled asynchronously: give the main thread a moment
    // (a wrongly accepted key would show as der1 or a failed handshake).
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..3 {
        assert_eq!(r.served(), r.ders[1]);
    }
}

/// No signal: the certificate files ride on the blob's watch, so a renewal
/// that renames new files over the old ones is served on its own, and a
/// bad key written later is refused (the renewed certificate stays).
#[test]
fn renamed_certificate_files_are_picked_up_without_a_signal() {
    let r = Reload::start("rename");
    assert_eq!(r.served(), r.ders[0]);
    // As a renewal tool would: new files beside, renamed over.
    std::fs::write(r.dir.join("k.new"), &r.pems[1].1).unwrap();
    std::fs::write(r.dir.join("c.new"), &r.pems[1].0).unwrap();
    std::fs::rename(r.dir.join("k.new"), &r.k).unwrap();
    std::fs::rename(r.dir.join("c.new"), &r.c).unwrap();
    r.wait_served(1, "renamed certificate never served");
    // A mismatched key: refused with a log line, der2 stays.
    std::fs::write(r.dir.join("k.new"), &r.pems[0].1).unwrap();
    std::fs::rename(r.dir.join("k.new"), &r.k).unwrap();
    r.s.wait_line("the refusal of the bad key", |l| {
        l.contains("certificate files changed: certificates not reloaded")
    });
    for _ in 0..3 {
        assert_eq!(r.served(), r.ders[1]);
    }
}

#[test]
fn rsa_pkcs8_key() {
    let dir = tmpdir("rsa");
    let (c, k) = (dir.join("rsa.crt"), dir.join("rsa.key"));
    let st = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&k)
        .arg("-out")
        .arg(&c)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(std::fs::read_to_string(&k)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let s = start_with_cert(&c, &k, &[]);
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(&c).unwrap();
    for v in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let cfg = Arc::new(config_with(std::slice::from_ref(&der), &[v]));
        let mut t = connect_as(tls_addr(&s), cfg, "localhost");
        let r = t.get("/style.css", "");
        assert_eq!(r.body, site().files["/style.css"]);
    }
}

#[test]
fn bad_certificate_files_fail_at_start_with_the_file_name() {
    let dir = tmpdir("bad");
    let c = dir.join("empty.pem");
    std::fs::write(&c, "not a certificate\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&site().path)
        .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(&c)
        .arg("--tls-key")
        .arg(&pki().key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("empty.pem"), "{err}");
}

#[test]
fn ktls_require_refuses_to_start_without_kernel_tls() {
    let p = pki();
    let out = Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&site().path)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--ktls",
            "require",
        ])
        .arg("--tls-cert")
        .arg(&p.cert)
        .arg("--tls-key")
        .arg(&p.key)
        .stdout(std::process::Stdio::null())
        .spawn();
    let mut child = out.unwrap();
    // With tls.ko loaded this host would start (and be killed here); the
    // CI kernel has none, so the server must exit 1 at once.
    let deadline = Instant::now() + Duration::from_secs(10);
    let ulp = std::path::Path::new("/sys/module/tls").exists();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(!ulp, "exited although tls.ko is loaded: {st}");
            assert_eq!(st.code(), Some(1));
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            assert!(ulp, "kept running without kTLS");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.stdout,
    )
}

/// `--redirect-https` redirects only names this server serves: its
/// certificate's (here `localhost`), `--redirect-host`; any other Host
/// gets 421, not a Location pointing wherever the client said (issue 15).
#[test]
fn redirect_https_only_for_served_names() {
    let s = start(&["--redirect-https", "--redirect-host", "www.example.org"]);
    let port = tls_addr(&s).port();
    let mut c = s.client();
    for (host, want) in [
        ("localhost", Some("https://localhost")),
        ("LocalHost.:8080", Some("https://LocalHost")),
        ("www.example.org", Some("https://www.example.org")),
        ("evil.example", None),
        // The test certificate names 127.0.0.1 too; 192.0.2.1 it does not.
        ("127.0.0.1", Some("https://127.0.0.1")),
        ("192.0.2.1", None),
        ("localhost.evil.example", None),
    ] {
        c.send(format!("GET /x?y HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        let r = c.read_response(false).unwrap();
        match want {
            Some(to) => {
                assert_eq!(r.status, 308, "{host}");
                assert_eq!(
                    r.header("Location"),
                    Some(&*format!("{to}:{port}/x?y")),
                    "{host}"
                );
            }
            None => {
                assert_eq!(r.status, 421, "{host}");
                assert_eq!(r.header("Location"), None, "{host}");
            }
        }
    }
}

#[test]
fn curl_with_cacert() {
    let s = start(&["--redirect-https"]);
    let port = tls_addr(&s).port();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let cacert = pki().cert.to_str().unwrap().to_string();
    let base = format!("https://localhost:{port}");
    for (enc, path) in [
        ("identity", "/"),
        ("gzip", "/mid.txt"),
        ("br", "/about/"),
        ("zstd", "/app.js"),
    ] {
        let url = format!("{base}{path}");
        let ae = format!("Accept-Encoding: {enc}");
        let (err, body) = curl(&[
            "--cacert",
            &cacert,
            "--resolve",
            &resolve,
            "--compressed",
            "-H",
            &ae,
            &url,
        ]);
        assert!(err.is_empty(), "{err}");
        assert_eq!(body, site().files[path], "{path} [{enc}]");
    }
    // TLS 1.2 and the 17 MiB file.
    let url = format!("{base}/big.bin");
    let (err, body) = curl(&[
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        "--tlsv1.2",
        "--tls-max",
        "1.2",
        &url,
    ]);
    assert!(err.is_empty(), "{err}");
    assert!(
        body == site().files["/big.bin"],
        "big.bin over TLS 1.2: {} bytes",
        body.len()
    );
    // --redirect-https: 308 from the plain port to https, followed.
    let plain = format!("http://localhost:{}/style.css?v=1", s.addr.port());
    let resolve_plain = format!("localhost:{}:127.0.0.1", s.addr.port());
    let (err, head) = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        "--resolve",
        &resolve_plain,
        &plain,
    ]);
    assert!(err.is_empty(), "{err}");
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 308 Permanent Redirect\r\n"),
        "{head}"
    );
    assert!(
        head.contains(&format!(
            "\r\nLocation: https://localhost:{port}/style.css?v=1\r\n"
        )),
        "{head}"
    );
    let (err, body) = curl(&[
        "-L",
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        "--resolve",
        &resolve_plain,
        &plain,
    ]);
    assert!(err.is_empty(), "{err}");
    assert_eq!(body, site().files["/style.css"]);
}

#[test]
fn user_space_keepalive_request_is_one_read_one_writev() {
    // Up to 256 KiB of body (one encryption round) is encrypted in one
    // round and leaves in one writev: no sendfile in user-space TLS.
    let s = start(&["--threads", "1"]);
    let mut c = connect(&s);
    assert_eq!(c.get("/empty.txt", "").status, 200);
    // Registration with epoll follows the first answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.stats()["epoll_ctl"] == 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    for path in ["/style.css", "/data.bin", "/nope"] {
        // Twice: the first time a path may allocate (a buffer growing to
        // its size), the second must not.
        for _ in 0..2 {
            let before = s.stats();
            c.get(path, "");
            let after = s.stats();
            let d = |k: &str| delta(&before, &after, k);
            assert_eq!(
                (
                    d("read"),
                    d("writev"),
                    d("write"),
                    d("sendfile"),
                    d("recvmsg")
                ),
                (1, 1, 0, 0, 0),
                "{path}"
            );
        }
        // Encrypted and decrypted in per-thread buffers: a request
        // allocates nothing (its read publishes what the one before
        // allocated).
        let before = s.stats();
        c.get(path, "");
        c.get(path, "");
        let after = s.stats();
        assert_eq!(delta(&before, &after, "allocs"), 0, "{path}");
    }
}

/// The server's stderr for a start that must fail, and its exit code.
fn failed_start(cert: &Path, key: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&site().path)
        .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--tls-cert /dev/zero` used to read until the OOM killer came: a
/// certificate or key must be a regular file of at most 1 MiB, said
/// clearly at start.
#[test]
fn dev_zero_and_huge_certificate_files_are_refused_at_start() {
    let p = pki();
    let zero = Path::new("/dev/zero");
    for (cert, key) in [(zero, p.key.as_path()), (p.cert.as_path(), zero)] {
        let (code, err) = failed_start(cert, key);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains("/dev/zero: not a regular file"),
            "no clear error: {err}"
        );
    }
    let dir = tmpdir("huge");
    let huge = dir.join("huge.pem");
    let mut pem = std::fs::read(&p.cert).unwrap();
    pem.resize(2 << 20, b'\n');
    std::fs::write(&huge, &pem).unwrap();
    let (code, err) = failed_start(&huge, &p.key);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("huge.pem: 2097152 bytes, larger than the 1024 KiB"),
        "{err}"
    );
}

/// A FIFO renamed over the certificate (then the key) used to block the
/// watch thread in open(), then SIGHUP the main thread, which then never
/// took SIGTERM. Now each reload refuses it at once, the old certificate
/// keeps being served, and SIGTERM ends the server.
#[test]
fn a_fifo_renamed_over_the_certificate_blocks_nothing() {
    let mut r = Reload::start("fifo");
    assert_eq!(r.served(), r.ders[0]);
    for target in [r.c.clone(), r.k.clone()] {
        let fifo = r.dir.join("fifo");
        let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(st.success());
        std::fs::rename(&fifo, &target).unwrap();
        let name = target.file_name().unwrap().to_str().unwrap().to_string();
        let refused = |why: &str| {
            let name = name.clone();
            let why = why.to_string();
            move |l: &str| {
                l.contains(&why)
                    && l.contains("certificates not reloaded")
                    && l.contains(&format!("{name}: not a regular file"))
            }
        };
        r.s.wait_line(
            "the watcher's refusal",
            refused("certificate files changed"),
        );
        assert!(Command::new("kill")
            .args(["-HUP", &r.s.pid().to_string()])
            .status()
            .unwrap()
            .success());
        r.s.wait_line("SIGHUP's refusal", refused("SIGHUP"));
        assert_eq!(r.served(), r.ders[0]);
        // Back to a real file for the next round.
        let pem = if target == r.c {
            &r.pems[0].0
        } else {
            &r.pems[0].1
        };
        std::fs::remove_file(&target).unwrap();
        std::fs::write(&target, pem).unwrap();
    }
    assert!(r.s.terminate().success());
}

/// `--tls-cert-dir DIR` is watched on DIR itself: a certificate added to
/// it, replaced in it and removed from it is served (or no longer) with
/// no signal.
#[test]
fn certificate_dir_changes_are_seen_without_a_signal() {
    let dir = tmpdir("certdir").join("certs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The default certificate is valid for the name too, so that the
    // client accepts whichever it is served.
    let (cert0, key0, der0) = make_cert(&["other.test"]);
    std::fs::write(dir.with_file_name("c.pem"), cert0).unwrap();
    std::fs::write(dir.with_file_name("k.pem"), key0).unwrap();
    let s = start_with_cert(
        &dir.with_file_name("c.pem"),
        &dir.with_file_name("k.pem"),
        &["--tls-cert-dir", dir.to_str().unwrap()],
    );
    let (cert_a, key_a, der_a) = make_cert(&["other.test"]);
    let (cert_b, key_b, der_b) = make_cert(&["other.test"]);
    let mut cfg = config_with(
        &[der0.clone(), der_a.clone(), der_b.clone()],
        &[&rustls::version::TLS13],
    );
    cfg.resumption = Resumption::disabled();
    let cfg = Arc::new(cfg);
    let served = || {
        let mut t = connect_as(tls_addr(&s), cfg.clone(), "other.test");
        assert_eq!(t.get("/empty.txt", "").status, 200);
        t.s.conn.peer_certificates().unwrap()[0].clone()
    };
    let wait_served = |want: &CertificateDer<'static>, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while served() != *want {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(served(), der0, "no file for other.test yet");
    let put = |pem: String| {
        std::fs::write(dir.join("other.test.new"), pem).unwrap();
        std::fs::rename(dir.join("other.test.new"), dir.join("other.test.pem")).unwrap();
    };
    put(format!("{cert_a}{key_a}"));
    wait_served(&der_a, "added certificate never served");
    put(format!("{cert_b}{key_b}"));
    wait_served(&der_b, "replaced certificate never served");
    std::fs::remove_file(dir.join("other.test.pem")).unwrap();
    wait_served(&der0, "removed certificate still served");
}

/// The user-space record layer (records sealed and opened by tarweb, from
/// the keys rustls hands over) against rustls clients in each suite the
/// server offers: every byte of a 17 MiB body read slowly (the socket
/// fills in the middle of records, which are then sealed again), a
/// request trickled in one byte at a time (records split across reads),
/// a KeyUpdate asking for ours (TLS 1.3), and a tampered record (closed).
#[test]
fn every_suite_byte_exact_with_slow_reads_trickled_requests_and_key_updates() {
    use rustls::crypto::ring::cipher_suite as cs;
    let s = start(&["--threads", "1"]);
    let big = &site().files["/big.bin"];
    for (suite, version) in [
        (cs::TLS13_AES_128_GCM_SHA256, &rustls::version::TLS13),
        (cs::TLS13_AES_256_GCM_SHA384, &rustls::version::TLS13),
        (cs::TLS13_CHACHA20_POLY1305_SHA256, &rustls::version::TLS13),
        (
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            &rustls::version::TLS12,
        ),
        (
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            &rustls::version::TLS12,
        ),
        (
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            &rustls::version::TLS12,
        ),
    ] {
        let name = format!("{:?}", suite.suite());
        let provider = rustls::crypto::CryptoProvider {
            cipher_suites: vec![suite],
            ..ring::default_provider()
        };
        let mut roots = RootCertStore::empty();
        roots.add(pki().der.clone()).unwrap();
        let mut cfg = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let cfg = Arc::new(cfg);
        let mut c = connect_as(tls_addr(&s), cfg.clone(), "localhost");
        // Slowly: the head and 1 MiB, a pause with the socket full, the rest.
        c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while got.len() < 1 << 20 {
            let n = c.s.read(&mut buf).unwrap();
            assert!(n > 0, "{name}: EOF");
            got.extend_from_slice(&buf[..n]);
        }
        std::thread::sleep(Duration::from_millis(300));
        let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        while got.len() < head_end + big.len() {
            let n = c.s.read(&mut buf).unwrap();
            assert!(n > 0, "{name}: EOF in the body");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got[head_end..] == big[..], "{name}: body differs");
        assert_eq!(c.get("/data.bin", "").body, site().files["/data.bin"]);
        // A request trickled in byte by byte, each its own write (the
        // record arrives in pieces).
        c.s.conn
            .writer()
            .write_all(b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut rec = Vec::new();
        while c.s.conn.wants_write() {
            c.s.conn.write_tls(&mut rec).unwrap();
        }
        for b in &rec {
            c.s.sock.write_all(std::slice::from_ref(b)).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let r = c.read_response(false).unwrap();
        assert_eq!(r.body, site().files["/style.css"], "{name}");
        if version == &rustls::version::TLS13 {
            // KeyUpdate, update_requested: the server renews its RX key,
            // answers with its own KeyUpdate and sends under the new key.
            c.s.conn.refresh_traffic_keys().unwrap();
            for _ in 0..2 {
                assert_eq!(c.get("/about/", "").body, site().files["/about/"], "{name}");
            }
        }
        // A tampered record: closed, nothing answered.
        let mut t = connect_as(tls_addr(&s), cfg, "localhost");
        assert_eq!(t.get("/empty.txt", "").status, 200);
        let mut garbage = vec![23u8, 3, 3, 0, 48];
        garbage.extend((0..48u8).map(|i| i.wrapping_mul(37) ^ 0x5a));
        t.s.sock.write_all(&garbage).unwrap();
        let mut rest = Vec::new();
        let _ = t.s.sock.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{name}: answered a bad record: {rest:?}");
    }
}

/// The key usage limit holds in user space too (records are counted
/// exactly there): with a limit of 64 records, after the 17 MiB body the
/// next request is answered under a renewed TX key (TLS 1.3: a KeyUpdate
/// from the server) or with `Connection: close` (TLS 1.2).
#[test]
fn user_space_tx_key_is_renewed_or_retired_at_the_record_limit() {
    let p = pki();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tarweb-serve"));
    cmd.env("TARWEB_KTLS_RECORD_LIMIT", "64");
    let s = Server::start_cmd(
        cmd,
        &site().path,
        &[
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            p.cert.to_str().unwrap(),
            "--tls-key",
            p.key.to_str().unwrap(),
        ],
    );
    for (version, renew) in [
        (&rustls::version::TLS13, true),
        (&rustls::version::TLS12, false),
    ] {
        let cfg = Arc::new(config_with(std::slice::from_ref(&p.der), &[version]));
        let mut c = connect_as(tls_addr(&s), cfg, "localhost");
        let r = c.get("/big.bin", "");
        assert!(r.body == site().files["/big.bin"], "{version:?}");
        let r = c.get("/style.css", "");
        assert_eq!(r.body, site().files["/style.css"], "{version:?}");
        let closing = r.header("connection") == Some("close");
        assert_eq!(closing, !renew, "{version:?}");
        if renew {
            for _ in 0..2 {
                assert_eq!(c.get("/about/", "").body, site().files["/about/"]);
            }
        } else {
            let mut rest = Vec::new();
            c.s.read_to_end(&mut rest).expect("a clean close_notify");
        }
    }
}
