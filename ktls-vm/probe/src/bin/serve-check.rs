//! tarweb-serve with kernel TLS, checked from inside the VM: starts the
//! static `/tarweb-serve` with `--ktls=require` on a blob written here,
//! then drives it with rustls clients, one suite at a time, and checks
//! byte-exact bodies (writev and sendfile paths), requests riding in the
//! client's Finished flight, keep-alive, resumption, close_notify both
//! ways, a fatal alert from the client, a tampered record, KeyUpdate (rekey on 6.14+, clean close before),
//! key renewal at the record limit (a tiny limit on a second server), no
//! spin on half a record, the syscall budget of a keep-alive request
//! (same as plain HTTP, from the server's own counters) and the
//! `/proc/net/tls_stat` deltas; a plain HTTP request on the TLS port
//! (a plain 400), and connections the kernel cannot take (servers with
//! `TARWEB_KTLS_FAIL=ulp|tx|rx`, and a client that half-closes right
//! after its Finished) going on in user-space TLS; and HTTP/2 (ALPN h2)
//! on the kernel's records, its large bodies as DATA frames whose
//! payloads go by sendfile. Prints `N passed, M failed`.
//!
//! Usage: serve-check [FILTER] (scenarios whose name contains FILTER)
//!
//! Over 600 lines on purpose: it is one static program that runs inside
//! the VM with nothing else there, every scenario beside the others.
//!
//! Over 600 lines on purpose: one static program holding every kTLS scenario the VM runs, so one build is one test run.

#[path = "../suites.rs"]
mod suites;
#[allow(dead_code)]
#[path = "../sys.rs"]
mod sys;

use suites::{suites, Suite};

use rustls::client::{ClientConnection, Resumption};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, HandshakeKind, RootCertStore, StreamOwned};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};
use tarweb_format::{BlobSpec, Coding, ResponseSpec, RouteSpec};

const WATCHDOG: Duration = Duration::from_secs(200);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const PLAIN: &str = "127.0.0.1:8080";
const HTTPS: &str = "127.0.0.1:8443";
const STATS: &str = "127.0.0.1:8099";
/// A second server whose TX keys are used up after a few records
/// (TARWEB_KTLS_RECORD_LIMIT), to exercise key renewal.
const LIMITED_HTTPS: &str = "127.0.0.1:8444";
const LIMIT_RECORDS: &str = "64";
/// Servers whose kTLS install fails at one step (`TARWEB_KTLS_FAIL`):
/// (step, HTTPS, plain, stats).
const FALLBACKS: [(&str, &str, &str, &str); 3] = [
    ("ulp", "127.0.0.1:8445", "127.0.0.1:8082", "127.0.0.1:8100"),
    ("tx", "127.0.0.1:8446", "127.0.0.1:8083", "127.0.0.1:8101"),
    ("rx", "127.0.0.1:8447", "127.0.0.1:8084", "127.0.0.1:8102"),
];
/// Below the server's sendfile threshold (48 KiB): one writev with its head.
const SMALL_LEN: usize = 20_000;
/// Above it: sendfile from the memfd, encrypted by the kernel.
const BIG_LEN: usize = 3 << 20;

type Tls = StreamOwned<ClientConnection, TcpStream>;
type Outcome = Result<String, String>;

struct Env {
    cert: CertificateDer<'static>,
    small: Vec<u8>,
    big: Vec<u8>,
}

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    thread::spawn(|| {
        thread::sleep(WATCHDOG);
        println!("FAIL watchdog: still running after {WATCHDOG:?}");
        println!("0 passed, 1 failed");
        std::process::exit(3);
    });
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("serve-check: kernel {}", release.trim());
    let (env, mut servers) = match setup() {
        Ok(x) => x,
        Err(e) => {
            println!("FAIL setup: {e}");
            println!("0 passed, 1 failed");
            std::process::exit(1);
        }
    };
    let rekey = sys::tls_stat()
        .map(|s| s.iter().any(|(k, _)| k == "TlsRxRekeyOk"))
        .unwrap_or(false);
    println!(
        "kernel {} rekey (TlsRxRekeyOk counter {})",
        if rekey { "can" } else { "cannot" },
        if rekey { "present" } else { "absent" }
    );

    let start_stat = sys::tls_stat().unwrap_or_default();
    let (mut passed, mut failed) = (0, 0);
    let mut run = |name: String, f: &dyn Fn() -> Outcome| {
        if !name.contains(&filter) {
            return;
        }
        let before = sys::tls_stat().unwrap_or_default();
        let t = Instant::now();
        let r = f().and_then(|note| {
            let after = sys::tls_stat().map_err(|e| format!("/proc/net/tls_stat: {e}"))?;
            let d = sys::tls_stat_delta(&before, &after);
            let g = |k| sys::get(&d, k);
            let fallback = name.contains("/fallback-");
            // Who did the records: nothing in the kernel when the ULP or
            // TLS_TX failed, only TX when TLS_RX failed; the half-close
            // may go either way (a race with the client's FIN).
            let (tx, rx) = (g("TlsTxSw"), g("TlsRxSw"));
            if (name.ends_with("/fallback-ulp") || name.ends_with("/fallback-tx"))
                && (tx != 0 || rx != 0)
            {
                return Err(format!("kernel TLS used: tls_stat {}", fmt_delta(&d)));
            }
            if name.ends_with("/fallback-rx") && (tx < 1 || rx != 0) {
                return Err(format!("want kTLS TX only: tls_stat {}", fmt_delta(&d)));
            }
            if !fallback
                && !name.starts_with("plain/")
                && !name.ends_with("/half-close")
                && (tx < 1 || rx < 1)
            {
                return Err(format!("kernel TLS not used: tls_stat {}", fmt_delta(&d)));
            }
            // A mis-encrypted alert would also be closed on: it must have
            // decrypted (and been taken as an alert).
            if name.ends_with("/fatal-alert") && g("TlsDecryptError") != 0 {
                return Err(format!("the alert did not decrypt: {}", fmt_delta(&d)));
            }
            if name.ends_with("/tamper") && g("TlsDecryptError") < 1 {
                return Err(format!("no TlsDecryptError: {}", fmt_delta(&d)));
            }
            if name.ends_with("/record-limit")
                && rekey
                && name.starts_with("tls13")
                && g("TlsTxRekeyOk") < 1
            {
                return Err(format!(
                    "no TX rekey at the record limit: {}",
                    fmt_delta(&d)
                ));
            }
            if name.ends_with("/key-update")
                && rekey
                && (g("TlsRxRekeyOk") < 1 || g("TlsTxRekeyOk") < 1)
            {
                return Err(format!("rekey counters did not move: {}", fmt_delta(&d)));
            }
            Ok(format!("{note}\n   tls_stat: {}", fmt_delta(&d)))
        });
        match r {
            Ok(note) => {
                passed += 1;
                println!("ok {name}\n   {:.2}s {note}", t.elapsed().as_secs_f64());
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}: {e}");
            }
        }
    };

    run("plain/budget".into(), &|| plain_budget());
    run("plain/http-on-tls-port".into(), &|| {
        plain_http_on_tls_port()
    });
    for suite in suites() {
        let cfg = client_config(&env, &suite);
        let tls13 = suite.version == &rustls::version::TLS13;
        run(format!("{}/serve", suite.name), &|| {
            serve(&env, &cfg, tls13)
        });
        run(format!("{}/resume", suite.name), &|| resume(&env, &cfg));
        run(format!("{}/client-close", suite.name), &|| {
            client_close(&cfg)
        });
        run(format!("{}/tamper", suite.name), &|| tamper(&cfg));
        run(format!("{}/fatal-alert", suite.name), &|| {
            fatal_alert(&env, &suite)
        });
        if tls13 {
            run(format!("{}/key-update", suite.name), &|| {
                key_update(&cfg, rekey)
            });
        }
        if suite.name == "tls13-aes128gcm" || suite.name == "tls12-ecdhe-aes128gcm" {
            run(format!("{}/h2", suite.name), &|| h2(&env, &suite));
            run(format!("{}/half-record", suite.name), &|| half_record(&cfg));
            run(format!("{}/record-limit", suite.name), &|| {
                record_limit(&env, &cfg, tls13 && rekey)
            });
        }
        if suite.name != "tls13-aes256gcm" && suite.name != "tls12-ecdhe-aes256gcm" {
            for (step, https, _, stats_addr) in FALLBACKS {
                run(format!("{}/fallback-{step}", suite.name), &|| {
                    fallback(&env, &cfg, step, https, stats_addr, tls13, rekey)
                });
            }
        }
        if suite.name == "tls13-aes128gcm" {
            run(format!("{}/half-close", suite.name), &|| {
                half_close(&env, &cfg)
            });
        }
    }
    let end_stat = sys::tls_stat().unwrap_or_default();
    println!(
        "tls_stat total delta: {}",
        fmt_delta(&sys::tls_stat_delta(&start_stat, &end_stat))
    );
    for s in servers.iter_mut() {
        if let Err(e) = server_alive(s) {
            failed += 1;
            println!("FAIL server: {e}");
        }
        let _ = s.kill();
        let _ = s.wait();
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 && passed > 0 { 0 } else { 1 });
}

fn server_alive(server: &mut Child) -> Result<(), String> {
    match server.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(st)) => Err(format!("tarweb-serve exited during the run: {st}")),
        Err(e) => Err(e.to_string()),
    }
}

fn fmt_delta(d: &[(String, i64)]) -> String {
    if d.is_empty() {
        return "(no change)".into();
    }
    d.iter()
        .map(|(k, v)| format!("{k} {v:+}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pseudo_random(n: usize, mut x: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

fn route(path: &str, body: &[u8]) -> RouteSpec {
    let etag = format!("\"{}-{}\"", path.len(), body.len());
    RouteSpec {
        auth: None,
        path: path.into(),
        status: 200,
        last_modified: 1_700_000_000,
        variants: vec![ResponseSpec {
            site_encoded: false,
            coding: Coding::Identity,
            headers: vec![
                ("Content-Type".into(), "application/octet-stream".into()),
                ("ETag".into(), etag.clone()),
            ],
            body: body.to_vec().into(),
            etag: Some(etag),
            not_modified: None,
        }],
    }
}

fn setup() -> Result<(Env, Vec<Child>), String> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(|e| format!("rcgen: {e}"))?;
    std::fs::write("/tmp/cert.pem", ck.cert.pem()).map_err(|e| e.to_string())?;
    std::fs::write("/tmp/key.pem", ck.key_pair.serialize_pem()).map_err(|e| e.to_string())?;
    let small = pseudo_random(SMALL_LEN, 1);
    let big = pseudo_random(BIG_LEN, 2);
    let spec = BlobSpec {
        encoder: [0; 8],
        rules: vec![],
        routes: vec![route("/small", &small), route("/big", &big)],
        not_found: vec![],
    };
    let (blob, _) = tarweb_format::blob_to_vec(&spec).map_err(|e| format!("blob: {e}"))?;
    std::fs::write("/tmp/site.twb", blob).map_err(|e| e.to_string())?;

    let mut servers = vec![start_server(
        &[
            "--listen",
            PLAIN,
            "--tls-listen",
            HTTPS,
            "--stats-listen",
            STATS,
        ],
        &[],
    )?];
    servers.push(start_server(
        &["--listen", "127.0.0.1:8081", "--tls-listen", LIMITED_HTTPS],
        &[("TARWEB_KTLS_RECORD_LIMIT", LIMIT_RECORDS)],
    )?);
    for (step, https, plain, stats) in FALLBACKS {
        servers.push(start_server(
            &[
                "--listen",
                plain,
                "--tls-listen",
                https,
                "--stats-listen",
                stats,
            ],
            &[("TARWEB_KTLS_FAIL", step)],
        )?);
    }
    Ok((
        Env {
            cert: ck.cert.der().clone(),
            small,
            big,
        },
        servers,
    ))
}

fn start_server(args: &[&str], env: &[(&str, &str)]) -> Result<Child, String> {
    let mut cmd = Command::new("/tarweb-serve");
    cmd.arg("/tmp/site.twb")
        .args(args)
        .args(["--tls-cert", "/tmp/cert.pem", "--tls-key", "/tmp/key.pem"])
        .args(["--ktls", "require", "--threads", "1"])
        .args(["--header-timeout-ms", "5000"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("spawn /tarweb-serve: {e}"))?;
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            println!("   server: {line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ktls_line = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            // The line ends in `ready` after its timestamp and level.
            Ok(l) if l == "ready" || l.ends_with(" ready") || l == "<6>ready" => break,
            Ok(l) => ktls_line |= l.contains("(https, kTLS"),
            Err(_) => {
                let _ = child.kill();
                return Err("tarweb-serve did not get ready".into());
            }
        }
    }
    if !ktls_line {
        let _ = child.kill();
        return Err("no `listening on ... (https, kTLS...)` line".into());
    }
    Ok(child)
}

fn client_config(env: &Env, suite: &Suite) -> Arc<ClientConfig> {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: vec![suite.suite],
        ..ring::default_provider()
    });
    let mut roots = RootCertStore::empty();
    roots.add(env.cert.clone()).unwrap();
    let mut c = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[suite.version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    c.resumption = Resumption::in_memory_sessions(8);
    Arc::new(c)
}

fn stats() -> Result<HashMap<String, u64>, String> {
    stats_at(STATS)
}

fn stats_at(addr: &str) -> Result<HashMap<String, u64>, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("stats: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut v = String::new();
    s.read_to_string(&mut v).map_err(|e| e.to_string())?;
    let body = v.split("\r\n\r\n").nth(1).ok_or("stats: no body")?;
    Ok(body
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, n)| (k.to_string(), n.parse().unwrap_or(0)))
        .collect())
}

const COUNTED: [&str; 12] = [
    "accept4",
    "epoll_ctl",
    "read",
    "write",
    "writev",
    "sendmsg",
    "sendfile",
    "close",
    "shutdown",
    "recvmsg",
    "requests",
    "ktls_fallbacks",
];

fn deltas(a: &HashMap<String, u64>, b: &HashMap<String, u64>) -> Vec<(&'static str, u64)> {
    COUNTED
        .iter()
        .map(|&k| {
            (
                k,
                b.get(k).copied().unwrap_or(0) - a.get(k).copied().unwrap_or(0),
            )
        })
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn connect(cfg: &Arc<ClientConfig>) -> Result<Tls, String> {
    connect_to(HTTPS, cfg)
}

fn connect_to(addr: &str, cfg: &Arc<ClientConfig>) -> Result<Tls, String> {
    let sock = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let conn = ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
        .map_err(|e| e.to_string())?;
    Ok(StreamOwned::new(conn, sock))
}

fn request(path: &str, close: bool) -> Vec<u8> {
    let c = if close { "Connection: close\r\n" } else { "" };
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{c}\r\n").into_bytes()
}

/// Reads one response with a Content-Length body; returns (head, body).
fn read_response<S: Read>(s: &mut S, buf: &mut Vec<u8>) -> Result<(String, Vec<u8>), String> {
    let mut tmp = vec![0u8; 64 << 10];
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        match s.read(&mut tmp) {
            Ok(0) => return Err(format!("EOF before a response ({} bytes)", buf.len())),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) => return Err(format!("read: {e}")),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
    buf.drain(..end);
    while buf.len() < len {
        match s.read(&mut tmp) {
            Ok(0) => return Err(format!("EOF in a body ({} of {len})", buf.len())),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) => return Err(format!("read body: {e}")),
        }
    }
    let body: Vec<u8> = buf.drain(..len).collect();
    Ok((head, body))
}

fn expect_body(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    Err(format!(
        "{what}: body differs at byte {at} (got {}, want {})",
        got.len(),
        want.len()
    ))
}

/// The baseline: a keep-alive plain-HTTP request's syscalls.
fn plain_budget() -> Outcome {
    let mut s = TcpStream::connect(PLAIN).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut buf = Vec::new();
    s.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    read_response(&mut s, &mut buf)?;
    // The connection is registered with epoll after its first answer.
    let a0 = stats()?;
    let deadline = Instant::now() + IO_TIMEOUT;
    let a = loop {
        let a = stats()?;
        if a["epoll_ctl"] > a0["epoll_ctl"] || Instant::now() > deadline {
            break a;
        }
        thread::sleep(Duration::from_millis(20));
    };
    s.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    read_response(&mut s, &mut buf)?;
    let b = stats()?;
    let d = deltas(&a, &b);
    if d != [("read", 1), ("writev", 1), ("requests", 1)] {
        return Err(format!("plain keep-alive request: {d:?}"));
    }
    Ok(format!("plain keep-alive request costs {d:?}"))
}

/// Two GETs queued before the handshake (TLS 1.3: they ride right behind
/// the client's Finished and must reach the kernel, not rustls), small
/// (writev) and big (sendfile); a keep-alive request whose syscalls are
/// counted; `Connection: close` ending in the server's close_notify.
fn serve(env: &Env, cfg: &Arc<ClientConfig>, tls13: bool) -> Outcome {
    let a0 = stats()?;
    let mut t = connect(cfg)?;
    let mut two = request("/small", false);
    two.extend(request("/big", false));
    t.conn.writer().write_all(&two).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let (h, body) = read_response(&mut t, &mut buf)?;
    if !h.starts_with("HTTP/1.1 200 ") {
        return Err(format!("small: {h:?}"));
    }
    expect_body("small (writev)", &body, &env.small)?;
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("big (sendfile)", &body, &env.big)?;
    let a = stats()?;
    let sendfiles = a["sendfile"] - a0["sendfile"];
    if sendfiles == 0 {
        return Err("the big body did not go through sendfile".into());
    }
    if a["tls_handshakes"] - a0["tls_handshakes"] != 1 {
        return Err(format!(
            "tls_handshakes {} -> {}",
            a0["tls_handshakes"], a["tls_handshakes"]
        ));
    }
    // Budget: one keep-alive request on the kTLS socket.
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("small again", &body, &env.small)?;
    let b = stats()?;
    let d = deltas(&a, &b);
    if d != [("writev", 1), ("recvmsg", 1), ("requests", 1)] {
        return Err(format!("keep-alive HTTPS request costs {d:?}, want recvmsg 1 + writev 1 (plain: read 1 + writev 1)"));
    }
    // Connection: close -> the response, then close_notify (a clean EOF
    // for rustls; a bare FIN would be UnexpectedEof).
    t.write_all(&request("/small", true))
        .map_err(|e| e.to_string())?;
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("last", &body, &env.small)?;
    let mut rest = Vec::new();
    t.read_to_end(&mut rest)
        .map_err(|e| format!("after the last response: {e} (no close_notify?)"))?;
    if !rest.is_empty() || !buf.is_empty() {
        return Err(format!(
            "{} stray bytes after the last response",
            rest.len() + buf.len()
        ));
    }
    Ok(format!(
        "{} bodies verified ({} sendfile calls), keep-alive request = {d:?}, clean close_notify EOF{}",
        4,
        sendfiles,
        if tls13 { "; requests rode in the Finished flight" } else { "" }
    ))
}

/// A second connection with the ticket from `serve` (sent before the
/// switch to the kernel) resumes, and is served by the kernel too.
fn resume(env: &Env, cfg: &Arc<ClientConfig>) -> Outcome {
    let mut t = connect(cfg)?;
    t.write_all(&request("/small", true))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("resumed", &body, &env.small)?;
    match t.conn.handshake_kind() {
        Some(HandshakeKind::Resumed) => Ok("resumed session served".into()),
        k => Err(format!("not resumed: {k:?}")),
    }
}

/// The client closes first: the server answers close_notify with its own.
fn client_close(cfg: &Arc<ClientConfig>) -> Outcome {
    let mut t = connect(cfg)?;
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    read_response(&mut t, &mut buf)?;
    t.conn.send_close_notify();
    t.flush().map_err(|e| e.to_string())?;
    while t.conn.wants_write() {
        t.conn.write_tls(&mut t.sock).map_err(|e| e.to_string())?;
    }
    let mut rest = Vec::new();
    t.read_to_end(&mut rest)
        .map_err(|e| format!("server did not answer close_notify: {e}"))?;
    Ok("client close_notify answered by the server's".into())
}

/// A garbage application-data record: EBADMSG in the server, which closes.
fn tamper(cfg: &Arc<ClientConfig>) -> Outcome {
    let mut t = connect(cfg)?;
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    read_response(&mut t, &mut buf)?;
    let a = stats()?;
    let mut garbage = vec![23u8, 3, 3, 0, 48];
    garbage.extend((0..48u8).map(|i| i.wrapping_mul(37) ^ 0x5a));
    t.sock.write_all(&garbage).map_err(|e| e.to_string())?;
    let mut sink = Vec::new();
    let r = t.read_to_end(&mut sink);
    let b = stats()?;
    if b["close"] <= a["close"] {
        return Err("server did not close".into());
    }
    Ok(format!(
        "garbage record -> server closed; client read: {r:?}"
    ))
}

/// KeyUpdate (update_requested) between two requests.
fn key_update(cfg: &Arc<ClientConfig>, rekey: bool) -> Outcome {
    let mut t = connect(cfg)?;
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    read_response(&mut t, &mut buf)?;
    t.conn
        .refresh_traffic_keys()
        .map_err(|e| format!("refresh_traffic_keys: {e}"))?;
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    t.flush().map_err(|e| e.to_string())?;
    if rekey {
        let (h, _) = read_response(&mut t, &mut buf)?;
        // And once more, after the server's own KeyUpdate.
        t.write_all(&request("/small", true))
            .map_err(|e| e.to_string())?;
        read_response(&mut t, &mut buf)?;
        let mut rest = Vec::new();
        t.read_to_end(&mut rest)
            .map_err(|e| format!("after rekey: {e}"))?;
        Ok(format!(
            "rekeyed both ways; answered {:?}",
            h.lines().next()
        ))
    } else {
        let mut rest = Vec::new();
        t.read_to_end(&mut rest)
            .map_err(|e| format!("expected a clean close: {e}"))?;
        if !rest.is_empty() {
            return Err(format!(
                "{} bytes after KeyUpdate on a kernel that cannot rekey",
                rest.len()
            ));
        }
        Ok("kernel cannot rekey: closed cleanly with close_notify".into())
    }
}

/// Half a record, a pause, the rest: the server must not spin (its
/// recvmsg/epoll_wait counters stay small while it waits).
fn half_record(cfg: &Arc<ClientConfig>) -> Outcome {
    let mut t = connect(cfg)?;
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    read_response(&mut t, &mut buf)?;
    let req = request("/small", false);
    t.conn.writer().write_all(&req).map_err(|e| e.to_string())?;
    let mut rec = Vec::new();
    while t.conn.wants_write() {
        t.conn.write_tls(&mut rec).map_err(|e| e.to_string())?;
    }
    let a = stats()?;
    let half = rec.len() / 2;
    t.sock.write_all(&rec[..half]).map_err(|e| e.to_string())?;
    thread::sleep(Duration::from_millis(1500));
    let m = stats()?;
    t.sock.write_all(&rec[half..]).map_err(|e| e.to_string())?;
    read_response(&mut t, &mut buf)?;
    let waits = m["epoll_wait"] - a["epoll_wait"];
    let reads = m["recvmsg"] - a["recvmsg"];
    if waits > 20 || reads > 5 {
        return Err(format!(
            "spin on half a record: {waits} epoll_wait, {reads} recvmsg in 1.5 s"
        ));
    }
    Ok(format!(
        "half a record for 1.5 s: {waits} epoll_wait, {reads} recvmsg"
    ))
}

/// The client sends a fatal alert (handshake_failure, encrypted by hand
/// under its traffic key: rustls has no API for it). The server must take
/// it as the end: close without answering, not even close_notify.
fn fatal_alert(env: &Env, suite: &Suite) -> Outcome {
    let mut cfg = (*client_config(env, suite)).clone();
    cfg.enable_secret_extraction = true;
    cfg.resumption = Resumption::disabled();
    let cfg = Arc::new(cfg);
    let mut t = connect(&cfg)?;
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    read_response(&mut t, &mut buf)?;
    let tls13 = suite.version == &rustls::version::TLS13;
    let StreamOwned { conn, mut sock } = t;
    let secrets = conn
        .dangerous_extract_secrets()
        .map_err(|e| format!("extract: {e}"))?;
    let (seq, secret) = secrets.tx;
    let record = seal_alert(tls13, seq, &secret, [2, 40])?;
    let a = stats()?;
    sock.write_all(&record).map_err(|e| e.to_string())?;
    let mut rest = Vec::new();
    let r = sock.read_to_end(&mut rest);
    let b = stats()?;
    if b["close"] <= a["close"] {
        return Err("server did not close".into());
    }
    if !rest.is_empty() {
        return Err(format!(
            "server answered a fatal alert with {} bytes",
            rest.len()
        ));
    }
    Ok(format!(
        "fatal alert -> server closed without a word ({r:?})"
    ))
}

/// One encrypted alert record (RFC 8446 5.2 for TLS 1.3; RFC 5288 and
/// RFC 7905 for TLS 1.2 AES-GCM and ChaCha20-Poly1305).
fn seal_alert(
    tls13: bool,
    seq: u64,
    secret: &rustls::ConnectionTrafficSecrets,
    alert: [u8; 2],
) -> Result<Vec<u8>, String> {
    use ::ring::aead::{
        Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305,
    };
    use rustls::ConnectionTrafficSecrets as S;
    let (alg, key, iv, gcm) = match secret {
        S::Aes128Gcm { key, iv } | S::Aes256Gcm { key, iv } => {
            let alg = if key.as_ref().len() == 16 {
                &AES_128_GCM
            } else {
                &AES_256_GCM
            };
            (alg, key.as_ref(), iv.as_ref(), true)
        }
        S::Chacha20Poly1305 { key, iv } => (&CHACHA20_POLY1305, key.as_ref(), iv.as_ref(), false),
        _ => return Err("unexpected cipher".into()),
    };
    let key = LessSafeKey::new(UnboundKey::new(alg, key).map_err(|e| format!("{e:?}"))?);
    let xor_nonce = || {
        let mut n = [0u8; 12];
        n.copy_from_slice(iv);
        for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(n)
    };
    if tls13 {
        let mut body = vec![alert[0], alert[1], 21]; // inner content type: alert
        let len = (body.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        key.seal_in_place_append_tag(xor_nonce(), Aad::from(header), &mut body)
            .map_err(|e| format!("{e:?}"))?;
        return Ok([&header[..], &body].concat());
    }
    let mut aad = seq.to_be_bytes().to_vec();
    aad.extend_from_slice(&[21, 3, 3, 0, 2]);
    let mut body = alert.to_vec();
    if gcm {
        // Nonce: the 4-byte salt, then an explicit 8-byte part (the
        // sequence number) that travels in the record.
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&iv[..4]);
        n[4..].copy_from_slice(&seq.to_be_bytes());
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(n), Aad::from(aad), &mut body)
            .map_err(|e| format!("{e:?}"))?;
        let len = (8 + body.len()) as u16;
        let mut rec = vec![21, 3, 3, (len >> 8) as u8, len as u8];
        rec.extend_from_slice(&seq.to_be_bytes());
        rec.extend_from_slice(&body);
        Ok(rec)
    } else {
        key.seal_in_place_append_tag(xor_nonce(), Aad::from(aad), &mut body)
            .map_err(|e| format!("{e:?}"))?;
        let len = body.len() as u16;
        Ok([&[21, 3, 3, (len >> 8) as u8, len as u8][..], &body].concat())
    }
}

/// On the server whose TX keys last 64 records: after the 3 MiB body
/// (about 200 records), the next request is answered under a renewed key
/// (TLS 1.3 on a kernel that can rekey: the server sends a KeyUpdate
/// first), or with `Connection: close` and a clean close_notify.
fn record_limit(env: &Env, cfg: &Arc<ClientConfig>, renew: bool) -> Outcome {
    let mut cfg = (**cfg).clone();
    cfg.resumption = Resumption::disabled();
    let mut t = connect_to(LIMITED_HTTPS, &Arc::new(cfg))?;
    let mut buf = Vec::new();
    t.write_all(&request("/big", false))
        .map_err(|e| e.to_string())?;
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("big", &body, &env.big)?;
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    let (head, body) = read_response(&mut t, &mut buf)?;
    expect_body("after the limit", &body, &env.small)?;
    let closing = head.contains("\r\nConnection: close\r\n");
    if renew {
        if closing {
            return Err("closed instead of renewing the key".into());
        }
        t.write_all(&request("/small", true))
            .map_err(|e| e.to_string())?;
        let (_, body) = read_response(&mut t, &mut buf)?;
        expect_body("under the new key", &body, &env.small)?;
    } else if !closing {
        return Err(format!(
            "no Connection: close at the record limit: {head:?}"
        ));
    }
    let mut rest = Vec::new();
    t.read_to_end(&mut rest)
        .map_err(|e| format!("no clean close: {e}"))?;
    Ok(if renew {
        "TX key renewed by a server KeyUpdate at the limit; served on".into()
    } else {
        "limit reached: Connection: close, then close_notify".into()
    })
}

// --- HTTP/2 ---

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn h2_request(stream: u32, path: &str) -> Vec<u8> {
    let mut block = Vec::new();
    for (n, v) in [
        (":method", "GET"),
        (":scheme", "https"),
        (":path", path),
        (":authority", "localhost"),
    ] {
        tarweb_format::hpack::encode_field(&mut block, n.as_bytes(), v.as_bytes());
    }
    frame(1, 0x5, stream, &block) // END_STREAM | END_HEADERS
}

/// Reads frames until every stream in `want` ended; returns each one's
/// `:status` and body. The server's SETTINGS are acknowledged.
fn h2_read(
    t: &mut Tls,
    buf: &mut Vec<u8>,
    want: &[u32],
) -> Result<HashMap<u32, (String, Vec<u8>)>, String> {
    let mut dec = tarweb_format::hpack::Decoder::new(4096);
    let mut fields = tarweb_format::hpack::Fields::new(65536, 128);
    let mut got: HashMap<u32, (String, Vec<u8>)> = HashMap::new();
    let mut ended = 0;
    let mut tmp = vec![0u8; 64 << 10];
    while ended < want.len() {
        while buf.len() < 9
            || buf.len() < 9 + (u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize)
        {
            match t.read(&mut tmp) {
                Ok(0) => return Err(format!("EOF with {ended} of {} streams ended", want.len())),
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
        let (kind, flags) = (buf[3], buf[4]);
        let stream = u32::from_be_bytes(buf[5..9].try_into().unwrap()) & 0x7fff_ffff;
        let payload: Vec<u8> = buf[9..9 + len].to_vec();
        buf.drain(..9 + len);
        match kind {
            4 if flags & 1 == 0 => t
                .write_all(&frame(4, 1, 0, &[]))
                .map_err(|e| e.to_string())?,
            7 => return Err(format!("GOAWAY {payload:?}")),
            3 => return Err(format!("RST_STREAM on {stream}: {payload:?}")),
            1 => {
                dec.decode(&payload, &mut fields)
                    .map_err(|e| format!("HPACK: {e}"))?;
                let status = fields
                    .get(0)
                    .filter(|(n, _)| *n == b":status")
                    .map(|(_, v)| String::from_utf8_lossy(v).to_string())
                    .ok_or("no :status first")?;
                got.entry(stream).or_default().0 = status;
            }
            0 => got.entry(stream).or_default().1.extend_from_slice(&payload),
            _ => {}
        }
        if (kind == 0 || kind == 1) && flags & 1 != 0 && want.contains(&stream) {
            ended += 1;
        }
    }
    Ok(got)
}

/// HTTP/2 on kernel TLS: ALPN h2, two streams at once (the large body in
/// DATA frames whose payloads go by sendfile, encrypted by the kernel),
/// then a keep-alive request's syscalls: one recvmsg, one writev.
fn h2(env: &Env, suite: &Suite) -> Outcome {
    let provider = Arc::new(CryptoProvider {
        cipher_suites: vec![suite.suite],
        ..ring::default_provider()
    });
    let mut roots = RootCertStore::empty();
    roots.add(env.cert.clone()).unwrap();
    let mut c = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[suite.version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let cfg = Arc::new(c);
    let a0 = stats()?;
    let mut t = connect(&cfg)?;
    // Windows wide open: flow control is tests/h2.rs's business.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(frame(4, 0, 0, &[0, 4, 0x7f, 0xff, 0xff, 0xff]));
    hello.extend(frame(8, 0, 0, &(0x7fff_ffffu32 - 65_535).to_be_bytes()));
    hello.extend(h2_request(1, "/small"));
    hello.extend(h2_request(3, "/big"));
    t.write_all(&hello).map_err(|e| e.to_string())?;
    if t.conn.alpn_protocol() != Some(b"h2") {
        return Err(format!("ALPN chose {:?}", t.conn.alpn_protocol()));
    }
    let mut buf = Vec::new();
    let got = h2_read(&mut t, &mut buf, &[1, 3])?;
    for (id, want) in [(1, &env.small), (3, &env.big)] {
        let (status, body) = &got[&id];
        if status != "200" {
            return Err(format!("stream {id}: status {status}"));
        }
        expect_body(&format!("stream {id}"), body, want)?;
    }
    let a = stats()?;
    let sendfiles = a["sendfile"] - a0["sendfile"];
    if sendfiles == 0 {
        return Err("the big body's DATA did not go through sendfile".into());
    }
    t.write_all(&h2_request(5, "/small"))
        .map_err(|e| e.to_string())?;
    let got = h2_read(&mut t, &mut buf, &[5])?;
    expect_body("stream 5", &got[&5].1, &env.small)?;
    let b = stats()?;
    let d = deltas(&a, &b);
    if d != [("writev", 1), ("recvmsg", 1), ("requests", 1)] {
        return Err(format!(
            "an h2 request on an open connection costs {d:?}, want recvmsg 1 + writev 1"
        ));
    }
    Ok(format!(
        "2 streams verified ({sendfiles} sendfile calls for {} DATA frames), next request = {d:?}",
        BIG_LEN.div_ceil(16384)
    ))
}

/// Plain HTTP sent to the kTLS listener (whose handshake reads one record
/// at a time): a plain-text 400 that says so, then a clean close.
fn plain_http_on_tls_port() -> Outcome {
    let mut s = TcpStream::connect(HTTPS).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .map_err(|e| format!("read: {e} (a reset?)"))?;
    let text = String::from_utf8_lossy(&got);
    if !text.starts_with("HTTP/1.1 400 Bad Request\r\n")
        || !text.contains("plain HTTP request was sent to an HTTPS port")
    {
        return Err(format!("not the plain 400: {text:?}"));
    }
    Ok("plain HTTP on the TLS port: a plain 400, then close".into())
}

/// A server whose kTLS install fails at `step` (`TARWEB_KTLS_FAIL`): the
/// connection goes on with the same keys, in user space (ULP or TLS_TX
/// failed: nothing in the kernel) or half in it (TLS_RX failed: the
/// kernel encrypts, sendfile included, and records are read and decrypted
/// in user space). Two requests queued before the handshake (left in the
/// socket for a kernel that then did not take them), both bodies
/// byte-exact, a keep-alive request's syscalls, a KeyUpdate (TLS 1.3),
/// and a clean close_notify.
fn fallback(
    env: &Env,
    cfg: &Arc<ClientConfig>,
    step: &str,
    https: &str,
    stats_addr: &str,
    tls13: bool,
    rekey: bool,
) -> Outcome {
    let a0 = stats_at(stats_addr)?;
    let mut t = connect_to(https, cfg)?;
    let mut two = request("/small", false);
    two.extend(request("/big", false));
    t.conn.writer().write_all(&two).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("small", &body, &env.small)?;
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("big", &body, &env.big)?;
    let a = stats_at(stats_addr)?;
    let fell = a["ktls_fallbacks"] - a0["ktls_fallbacks"];
    if fell != 1 {
        return Err(format!("ktls_fallbacks moved by {fell}, want 1"));
    }
    let sendfiles = a["sendfile"] - a0["sendfile"];
    match step {
        "rx" if sendfiles == 0 => return Err("kTLS TX, but no sendfile".into()),
        "ulp" | "tx" if sendfiles != 0 => {
            return Err(format!("{sendfiles} sendfile calls in user-space TLS"))
        }
        _ => {}
    }
    t.write_all(&request("/small", false))
        .map_err(|e| e.to_string())?;
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("keep-alive", &body, &env.small)?;
    let b = stats_at(stats_addr)?;
    let d = deltas(&a, &b);
    if d != [("read", 1), ("writev", 1), ("requests", 1)] {
        return Err(format!(
            "keep-alive request costs {d:?}, want read 1 + writev 1"
        ));
    }
    let mut note = format!("fell back at {step}; keep-alive request = {d:?}");
    if tls13 {
        t.conn
            .refresh_traffic_keys()
            .map_err(|e| format!("refresh_traffic_keys: {e}"))?;
        t.write_all(&request("/small", false))
            .map_err(|e| e.to_string())?;
        t.flush().map_err(|e| e.to_string())?;
        if step == "rx" && !rekey {
            // Our KeyUpdate would need a second TLS_TX: a clean close
            // instead, as with both directions in the kernel.
            let mut rest = Vec::new();
            t.read_to_end(&mut rest)
                .map_err(|e| format!("expected a clean close: {e}"))?;
            if !rest.is_empty() {
                return Err(format!("{} bytes after KeyUpdate", rest.len()));
            }
            return Ok(note + "; KeyUpdate: clean close (kernel cannot rekey TX)");
        }
        let (_, body) = read_response(&mut t, &mut buf)?;
        expect_body("after KeyUpdate", &body, &env.small)?;
        note += "; KeyUpdate answered";
    }
    t.write_all(&request("/small", true))
        .map_err(|e| e.to_string())?;
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("last", &body, &env.small)?;
    let mut rest = Vec::new();
    t.read_to_end(&mut rest)
        .map_err(|e| format!("no clean close_notify: {e}"))?;
    Ok(note + "; clean close_notify")
}

/// A real failure to take over: the client sends its Finished and its
/// request, then shuts its side down at once. When the FIN is in before
/// the server attaches the ULP, the socket is no longer ESTABLISHED and
/// `TCP_ULP` fails (ENOTCONN): the request is answered in user space.
/// Either way it is answered.
fn half_close(env: &Env, cfg: &Arc<ClientConfig>) -> Outcome {
    let a = stats()?;
    let mut sock = TcpStream::connect(HTTPS).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut conn = ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
        .map_err(|e| e.to_string())?;
    conn.writer()
        .write_all(&request("/small", true))
        .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
    }
    while conn.wants_write() {
        conn.write_tls(&mut sock).map_err(|e| e.to_string())?;
    }
    sock.shutdown(std::net::Shutdown::Write)
        .map_err(|e| e.to_string())?;
    let mut t = StreamOwned::new(conn, sock);
    let mut buf = Vec::new();
    let (_, body) = read_response(&mut t, &mut buf)?;
    expect_body("half-closed client", &body, &env.small)?;
    let b = stats()?;
    let fell = b["ktls_fallbacks"] - a["ktls_fallbacks"];
    Ok(if fell > 0 {
        "FIN before the ULP: TCP_ULP failed, answered in user-space TLS".into()
    } else {
        "the kernel took the connection before the FIN; answered by kTLS".into()
    })
}
