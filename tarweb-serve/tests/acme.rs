//! Automatic HTTPS against a real ACME server: Debian's Pebble (the ACME
//! project's own test CA), with pebble-challtestsrv as its DNS (every name
//! is 127.0.0.1 unless a test says otherwise). Each test starts its own
//! pair on free loopback ports, points Pebble's validator at the server's
//! listeners (its `tlsPort` and `httpPort`), and checks with curl that the
//! chain served verifies against the root Pebble issues from.
//!
//! Skipped (with a line saying so) where `pebble` is not installed;
//! tools/test-deps.sh installs it for `make test`.

mod common;
use common::*;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn have_pebble() -> bool {
    let ok = Command::new("pebble")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        && Command::new("pebble-challtestsrv")
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    if !ok {
        eprintln!("SKIP: pebble or pebble-challtestsrv missing (apt-get install pebble)");
    }
    ok
}

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("acme-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A TCP port free on 127.0.0.1 now (and, for DNS, its UDP twin), below
/// the kernel's ephemeral range (so that no port-0 socket of a test
/// running beside takes it between now and its use), never the same twice
/// in this process.
fn free_port(udp_too: bool) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        20000 + (std::process::id() % 500) as u16 * 20,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32000, "no free port");
        let tcp = TcpListener::bind(("127.0.0.1", port)).is_ok();
        if tcp && (!udp_too || UdpSocket::bind(("127.0.0.1", port)).is_ok()) {
            return port;
        }
    }
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pebble and its DNS, killed (by PID, through `Child`) when dropped.
struct Pebble {
    pebble: Child,
    dns: Child,
    /// The directory URL.
    directory: String,
    /// The root of Pebble's own HTTPS (`--acme-directory-ca`).
    https_ca: PathBuf,
    /// The root issued certificates chain to (from the management port).
    root: PathBuf,
    /// pebble-challtestsrv's management address.
    dns_mgmt: u16,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in [&mut self.pebble, &mut self.dns] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Pebble {
    /// Validates on 127.0.0.1:`tls_port` (TLS-ALPN-01) and :`http_port`
    /// (HTTP-01); certificates valid `validity` seconds.
    fn start(dir: &Path, tls_port: u16, http_port: u16, validity: u64) -> Pebble {
        let (dns_port, dns_mgmt) = (free_port(true), free_port(false));
        let dns = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-management", &format!("127.0.0.1:{dns_mgmt}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .unwrap();
        let https_ca = dir.join("pebble-https.pem");
        std::fs::write(&https_ca, ck.cert.pem()).unwrap();
        std::fs::write(dir.join("pebble-key.pem"), ck.signing_key.serialize_pem()).unwrap();
        let (listen, mgmt) = (free_port(false), free_port(false));
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt}"),
            "certificate": https_ca,
            "privateKey": dir.join("pebble-key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity,
        }});
        std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
        let log = std::fs::File::create(dir.join("pebble.log")).unwrap();
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            // No validation delay; every order validates afresh (no
            // reused authorizations), as a renewal must be shown to.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let p = Pebble {
            pebble,
            dns,
            directory: format!("https://127.0.0.1:{listen}/dir"),
            https_ca,
            root: dir.join("pebble-root.pem"),
            dns_mgmt,
        };
        wait_port(listen, "pebble");
        wait_port(mgmt, "pebble management");
        wait_port(dns_mgmt, "pebble-challtestsrv");
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&p.https_ca)
            .arg(format!("https://127.0.0.1:{mgmt}/roots/0"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        std::fs::write(&p.root, &out.stdout).unwrap();
        p
    }

    /// Points `host` at `addr` in the DNS (another address: validation
    /// fails there).
    fn set_a(&self, host: &str, addr: &str) {
        let body = serde_json::json!({"host": format!("{host}."), "addresses": [addr]});
        let out = Command::new("curl")
            .args(["-sS", "--fail", "-d", &body.to_string()])
            .arg(format!("http://127.0.0.1:{}/add-a", self.dns_mgmt))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

/// The server's ACME arguments for `pebble`.
fn acme_args(p: &Pebble, cache: &Path, names: &[&str], challenge: &str) -> Vec<String> {
    let mut v = vec![
        "--acme-directory".to_string(),
        p.directory.clone(),
        "--acme-directory-ca".into(),
        p.https_ca.display().to_string(),
        "--acme-cache".into(),
        cache.display().to_string(),
        "--acme-challenge".into(),
        challenge.into(),
        "--acme-email".into(),
        "ops@example.test".into(),
    ];
    for n in names {
        v.push("--acme-domain".into());
        v.push(n.to_string());
    }
    v
}

fn start_server(tls_port: u16, http_port: u16, acme: &[String]) -> Server {
    let mut args: Vec<String> = vec![
        "--tls-listen".into(),
        format!("127.0.0.1:{tls_port}"),
        "--listen".into(),
        format!("127.0.0.1:{http_port}"),
        "--threads".into(),
        "2".into(),
    ];
    args.extend(acme.iter().cloned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&refs)
}

/// Waits (up to `secs`) for a line with `needle`; returns it. A line of
/// a failed order fails the test unless `failures_ok`.
fn wait_for(s: &Server, needle: &str, secs: u64, failures_ok: bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match s.lines.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return l,
            Ok(l) => assert!(failures_ok || !l.contains("order failed"), "{l}"),
            Err(_) => panic!("no line with {needle:?} within {secs} s"),
        }
    }
}

/// curl over HTTPS to `name` (resolved to the server), verifying against
/// `ca`: Ok(the leaf's serial number) or Err(curl's complaint).
fn curl_https(name: &str, port: u16, ca: &Path, path: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "-o", "/dev/null", "-w", "%{certs}"])
        .args(["--max-time", "10"])
        .args(["--resolve", &format!("{name}:{port}:127.0.0.1")])
        .arg("--cacert")
        .arg(ca)
        .arg(format!("https://{name}:{port}{path}"))
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let certs = String::from_utf8_lossy(&out.stdout).into_owned();
    let serial = certs
        .lines()
        .find_map(|l| l.strip_prefix("Serial Number:"))
        .map(str::trim)
        .map(str::to_string);
    // Older curls print no %{certs}: any success is one.
    Ok(serial.unwrap_or_else(|| "?".into()))
}

/// The leaf's serial number as openssl sees it (for certificate changes).
fn served_serial(name: &str, port: u16) -> String {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let pem = String::from_utf8_lossy(&out.stdout).into_owned();
    let begin = pem
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a certificate");
    let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
    let mut x = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    x.stdin
        .take()
        .unwrap()
        .write_all(&pem.as_bytes()[begin..end])
        .unwrap();
    let out = x.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// TLS-ALPN-01 on the HTTPS listener: the certificate is issued, served
/// live (curl verifies it against Pebble's root), cached 0600; before it,
/// HTTPS answered with a self-signed one.
#[test]
fn first_issuance_by_tls_alpn_01() {
    if !have_pebble() {
        return;
    }
    let dir = tmpdir("alpn");
    let (tls, http) = (free_port(false), free_port(false));
    let p = Pebble::start(&dir, tls, http, 3600);
    let cache = dir.join("cache");
    let started = Instant::now();
    let s = start_server(
        tls,
        http,
        &acme_args(&p, &cache, &["alpn.acme.test"], "tls-alpn-01"),
    );
    // Confined as usual, with the cache writable and the directory's
    // port reachable (where Landlock is there to say so).
    let sandbox = s
        .startup
        .iter()
        .find(|l| l.starts_with("sandbox:"))
        .expect("a sandbox line");
    if sandbox.contains("landlock") {
        assert!(
            sandbox.contains("writes beneath") && sandbox.contains("(ACME)"),
            "{sandbox}"
        );
    }
    assert!(sandbox.contains("seccomp"), "{sandbox}");
    wait_for(&s, "alpn.acme.test: certificate installed", 60, false);
    eprintln!(
        "TLS-ALPN-01 issuance: {:.2} s from start",
        started.elapsed().as_secs_f64()
    );
    let serial = curl_https("alpn.acme.test", tls, &p.root, "/").expect("verified");
    assert!(!serial.is_empty());
    let sub = cache.join(
        p.directory
            .trim_start_matches("https://")
            .replace([':', '/'], "_"),
    );
    assert_eq!(mode(&sub.join("alpn.acme.test.pem")), 0o600);
    assert_eq!(mode(&sub.join("account.json")), 0o600);
    // The plain listener still serves the site.
    let r = s.client().get("/", "");
    assert_eq!(r.status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

/// HTTP-01 on the plain listener, from memory.
#[test]
fn first_issuance_by_http_01() {
    if !have_pebble() {
        return;
    }
    let dir = tmpdir("http01");
    let (tls, http) = (free_port(false), free_port(false));
    let p = Pebble::start(&dir, tls, http, 3600);
    // The directory by name: glibc's resolver runs in the sandbox too.
    let mut args = acme_args(&p, &dir.join("cache"), &["web.acme.test"], "http-01");
    args[1] = p.directory.replace("127.0.0.1", "localhost");
    let s = start_server(tls, http, &args);
    // A token nobody asked for: 404, not the site.
    let mut c = s.client();
    let r = c.get("/.well-known/acme-challenge/nothing", "");
    assert_eq!(r.status, 404);
    wait_for(&s, "web.acme.test: certificate installed", 60, false);
    curl_https("web.acme.test", tls, &p.root, "/").expect("verified");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A short lifetime (Pebble's certificateValidityPeriod): renewed at two
/// thirds, installed live, and not one request fails meanwhile.
#[test]
fn renewal_before_expiry_without_a_failed_request() {
    if !have_pebble() {
        return;
    }
    let dir = tmpdir("renew");
    let (tls, http) = (free_port(false), free_port(false));
    let p = Pebble::start(&dir, tls, http, 24);
    let name = "renew.acme.test";
    let s = start_server(
        tls,
        http,
        &acme_args(&p, &dir.join("cache"), &[name], "auto"),
    );
    wait_for(&s, &format!("{name}: certificate installed"), 60, false);
    let first = served_serial(name, tls);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let root = p.root.clone();
    let stop2 = stop.clone();
    let client = std::thread::spawn(move || {
        let (mut ok, mut failed) = (0, Vec::new());
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            match curl_https(name, tls, &root, "/") {
                Ok(_) => ok += 1,
                Err(e) => failed.push(e),
            }
        }
        (ok, failed)
    });
    let l = wait_for(&s, &format!("{name}: certificate installed"), 60, false);
    // A few more requests on the new certificate.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = client.join().unwrap();
    assert!(failed.is_empty(), "{} failed: {failed:?}", failed.len());
    assert!(ok > 5, "only {ok} requests");
    let second = served_serial(name, tls);
    assert_ne!(first, second, "renewed: {l}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An order that fails (the name now points elsewhere: the validator
/// finds no one) leaves the served certificate in place.
#[test]
fn failed_order_keeps_the_old_certificate() {
    if !have_pebble() {
        return;
    }
    let dir = tmpdir("fail");
    let (tls, http) = (free_port(false), free_port(false));
    let p = Pebble::start(&dir, tls, http, 30);
    let name = "moved.acme.test";
    let s = start_server(
        tls,
        http,
        &acme_args(&p, &dir.join("cache"), &[name], "tls-alpn-01"),
    );
    wait_for(&s, &format!("{name}: certificate installed"), 60, false);
    // Workers adopt a new certificate a moment after the line: until one
    // verifies against the CA's root, a handshake may still get the
    // self-signed one (seen on a loaded machine).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while curl_https(name, tls, &p.root, "/").is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "CA certificate not served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let first = served_serial(name, tls);
    p.set_a(name, "127.0.0.2");
    let l = wait_for(&s, &format!("{name}: order failed"), 60, true);
    assert!(l.contains("keeping the served certificate"), "{l}");
    assert_eq!(served_serial(name, tls), first);
    curl_https(name, tls, &p.root, "/").expect("still verified");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A restart serves the cached certificate from the first handshake and
/// orders nothing (the account too comes from the cache).
#[test]
fn restart_reuses_the_cache() {
    if !have_pebble() {
        return;
    }
    let dir = tmpdir("restart");
    let (tls, http) = (free_port(false), free_port(false));
    let p = Pebble::start(&dir, tls, http, 3600);
    let name = "again.acme.test";
    let mut args = acme_args(&p, &dir.join("cache"), &[name], "tls-alpn-01");
    // As root (CI): serve as nobody, which must own the cache it writes.
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if root {
        args.extend(["--user".to_string(), "nobody".to_string()]);
    }
    let first = {
        let mut s = start_server(tls, http, &args);
        wait_for(&s, &format!("{name}: certificate installed"), 60, false);
        let serial = served_serial(name, tls);
        assert!(s.terminate().success());
        serial
    };
    if root {
        let sub = std::fs::read_dir(dir.join("cache"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert_eq!(
            std::fs::metadata(sub.join("account.json")).unwrap().uid(),
            65534
        );
    }
    let s = start_server(tls, http, &args);
    // Said before `ready` (stderr and stdout may arrive in either order).
    let cached = format!("{name}: serving the cached certificate");
    if !s.startup.iter().any(|l| l.contains(&cached)) {
        wait_for(&s, &cached, 5, false);
    }
    curl_https(name, tls, &p.root, "/").expect("verified at once");
    assert_eq!(served_serial(name, tls), first);
    wait_for(&s, "(cached in", 30, false);
    std::thread::sleep(Duration::from_secs(1));
    let later: Vec<String> = s.drain_lines();
    assert!(!later.iter().any(|l| l.contains("ordering")), "{later:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--acme-sites`: every `--sites` host name gets its own certificate.
#[test]
fn acme_sites_covers_every_site() {
    if !have_pebble() {
        return;
    }
    let dir = tmpdir("sites");
    let sites = dir.join("sites");
    std::fs::create_dir_all(&sites).unwrap();
    for host in ["one.acme.test", "two.acme.test"] {
        std::fs::copy(&site().path, sites.join(format!("{host}.twb"))).unwrap();
    }
    let (tls, http) = (free_port(false), free_port(false));
    let p = Pebble::start(&dir, tls, http, 3600);
    let mut args: Vec<String> = vec![
        "--tls-listen".into(),
        format!("127.0.0.1:{tls}"),
        "--listen".into(),
        format!("127.0.0.1:{http}"),
        "--acme-sites".into(),
    ];
    args.extend(acme_args(&p, &dir.join("cache"), &[], "tls-alpn-01"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Server::start_sites(&sites, &refs);
    for host in ["one.acme.test", "two.acme.test"] {
        wait_for(&s, &format!("{host}: certificate installed"), 60, false);
        curl_https(host, tls, &p.root, "/").expect("verified");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// With the CA unreachable, HTTPS answers at once with a self-signed
/// certificate for the name (the system's roots, read in the sandbox,
/// verify the CA's side), plain HTTP serves the site, and the failure is
/// retried later. Needs no Pebble.
#[test]
fn self_signed_until_the_ca_answers() {
    let dir = tmpdir("unreachable");
    let (tls, http) = (free_port(false), free_port(false));
    let closed = free_port(false);
    let s = start_server(
        tls,
        http,
        &[
            "--acme-domain".into(),
            "early.acme.test".into(),
            "--acme-cache".into(),
            dir.join("cache").display().to_string(),
            "--acme-directory".into(),
            format!("https://127.0.0.1:{closed}/dir"),
        ],
    );
    let l = wait_for(&s, "next attempt in", 30, true);
    assert!(l.contains("account at"), "{l}");
    let out = Command::new("curl")
        .args(["-sS", "-k", "--fail", "-o", "/dev/null", "-w", "%{certs}"])
        .args(["--resolve", &format!("early.acme.test:{tls}:127.0.0.1")])
        .arg(format!("https://early.acme.test:{tls}/"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let certs = String::from_utf8_lossy(&out.stdout);
    if certs.contains("Subject:") {
        // Self-signed: subject and issuer are the same (rcgen's name).
        let field = |k: &str| {
            certs
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(str::trim)
                .map(str::to_string)
        };
        assert_eq!(field("Subject:"), field("Issuer:"), "{certs}");
    }
    let r = s.client().get("/", "");
    assert_eq!(r.status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Beside `--tls-cert` files: the files' certificate stays the default,
/// ACME's serves its name, and a SIGHUP reload of the files keeps it.
#[test]
fn sighup_keeps_acme_certificates_beside_the_files() {
    if !have_pebble() {
        return;
    }
    let dir = tmpdir("sighup");
    let ck = rcgen::generate_simple_self_signed(vec!["files.test".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let (tls, http) = (free_port(false), free_port(false));
    let p = Pebble::start(&dir, tls, http, 3600);
    let name = "beside.acme.test";
    let mut args = acme_args(&p, &dir.join("cache"), &[name], "tls-alpn-01");
    args.extend([
        "--tls-cert".to_string(),
        cert.display().to_string(),
        "--tls-key".into(),
        key.display().to_string(),
    ]);
    let s = start_server(tls, http, &args);
    wait_for(&s, &format!("{name}: certificate installed"), 60, false);
    let acme = served_serial(name, tls);
    s.signal("HUP");
    let l = wait_for(&s, "reloaded", 20, false);
    assert!(l.contains("2 certificate(s)"), "{l}");
    curl_https(name, tls, &p.root, "/").expect("ACME's, still verified");
    assert_eq!(served_serial(name, tls), acme);
    curl_https("files.test", tls, &cert, "/").expect("the files' default");
    let _ = std::fs::remove_dir_all(&dir);
}
