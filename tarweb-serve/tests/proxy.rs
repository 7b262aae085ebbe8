//! `--proxy-protocol` and `--proxy-from` over real sockets: v1 and v2
//! headers, whole, split byte by byte, followed by the request in the same
//! write; v2 LOCAL; the header's address in the access log; connections
//! without a header, with a malformed one, or one that never finishes are
//! closed with no answer; peers outside `--proxy-from` are closed at
//! accept. (Through a real HAProxy: tests/haproxy.rs. On a TLS listener:
//! tests/tls.rs.)

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const V2_SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 PROXY header for TCP over IPv4 from `src`:`port`.
fn v2_proxy(src: [u8; 4], port: u16) -> Vec<u8> {
    let mut v = V2_SIG.to_vec();
    v.extend([0x21, 0x11, 0, 12]);
    v.extend(src);
    v.extend([127, 0, 0, 1]);
    v.extend(port.to_be_bytes());
    v.extend(80u16.to_be_bytes());
    v
}

fn v2_local() -> Vec<u8> {
    [V2_SIG, &[0x20, 0x00, 0, 0]].concat()
}

fn log_path(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("proxy-{name}-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn start(log: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--threads",
        "1",
        "--proxy-protocol",
        "--access-log",
        log.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Sends `bytes` in pieces of `step` bytes, a moment apart, then reads one
/// response.
fn exchange(s: &Server, bytes: &[u8], step: usize) -> Option<Response> {
    let sock = TcpStream::connect(s.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.set_nodelay(true).unwrap();
    let mut c = Client::over(sock);
    for piece in bytes.chunks(step) {
        c.send(piece);
        if step < bytes.len() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    c.read_response(false)
}

const GET: &[u8] = b"GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n";

#[test]
fn the_header_names_the_client_in_the_log() {
    let log = log_path("names");
    let mut s = start(&log, &[]);
    let v1 = [&b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 80\r\n"[..], GET].concat();
    let v1_6 = [&b"PROXY TCP6 2001:db8::9 ::1 40002 80\r\n"[..], GET].concat();
    let v2 = [&v2_proxy([198, 51, 100, 4], 40003)[..], GET].concat();
    let local = [&v2_local()[..], GET].concat();
    for (bytes, step) in [
        (&v1, v1.len()),
        (&v1_6, v1_6.len()),
        (&v2, v2.len()),
        (&local, local.len()),
        // Split anywhere, even byte by byte: assembled.
        (&v1, 1),
        (&v2, 1),
        (&v2, 7),
    ] {
        let r = exchange(&s, bytes, step).expect("a response");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, site().files["/style.css"]);
    }
    // Keep-alive after the header: more requests on the same connection.
    let sock = TcpStream::connect(s.addr).unwrap();
    let mut c = Client::over(sock);
    c.send(&v2_proxy([203, 0, 113, 5], 40004));
    for _ in 0..3 {
        assert_eq!(c.get("/index.html", "").status, 200);
    }
    drop(c);
    assert!(s.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let clients: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        clients,
        [
            "192.0.2.7",
            "2001:db8::9",
            "198.51.100.4",
            "127.0.0.1", // LOCAL: the socket's own peer
            "192.0.2.7",
            "198.51.100.4",
            "198.51.100.4",
            "203.0.113.5",
            "203.0.113.5",
            "203.0.113.5",
        ],
        "{text}"
    );
}

/// The server closed without sending a byte.
fn closed_silently(mut sock: TcpStream) {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    match sock.read_to_end(&mut got) {
        Ok(_) => assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got)),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}

#[test]
fn no_header_a_bad_one_or_a_late_one_closes_without_an_answer() {
    let log = log_path("bad");
    let mut s = start(&log, &["--header-timeout-ms", "300"]);
    for bytes in [
        GET.to_vec(),
        b"PROXY TCP4 192.0.2.7 127.0.0.1 40001\r\n".to_vec(),
        b"PROXY TCP4 300.0.2.7 127.0.0.1 40001 80\r\nGET / HTTP/1.1\r\n".to_vec(),
        [V2_SIG, &[0x21, 0x11, 0xff, 0xff], &[0u8; 64]].concat(),
        [&b"PROXY UNKNOWN "[..], &[b'x'; 120][..]].concat(),
    ] {
        let mut sock = TcpStream::connect(s.addr).unwrap();
        sock.write_all(&bytes).unwrap();
        closed_silently(sock);
    }
    // Cut short, then silence: closed at the head timeout, with no 408.
    let start = Instant::now();
    let mut sock = TcpStream::connect(s.addr).unwrap();
    sock.write_all(&v2_proxy([192, 0, 2, 1], 1)[..20]).unwrap();
    closed_silently(sock);
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    let st = s.stats();
    assert_eq!(st["proxy_failures"], 6, "{st:?}");
    assert_eq!(st["requests"], 0, "{st:?}");
    assert!(s.terminate().success());
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "");
}

#[test]
fn peers_outside_proxy_from_are_closed_at_accept() {
    let log = log_path("from");
    let s = start(
        &log,
        &["--proxy-from", "192.0.2.0/24", "--proxy-from", "::2"],
    );
    let mut sock = TcpStream::connect(s.addr).unwrap();
    sock.write_all(&[&v2_proxy([192, 0, 2, 1], 1)[..], GET].concat())
        .unwrap();
    closed_silently(sock);
    assert_eq!(s.stats()["proxy_refused"], 1);
    // 127.0.0.1 allowed: served.
    let s = start(
        &log_path("from2"),
        &["--proxy-from", "127.0.0.0/8", "--proxy-from", "::1"],
    );
    let bytes = [&v2_proxy([192, 0, 2, 1], 1)[..], GET].concat();
    assert_eq!(exchange(&s, &bytes, bytes.len()).unwrap().status, 200);
    assert_eq!(s.stats()["proxy_refused"], 0);
}

#[test]
fn proxy_from_needs_a_network() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .args(["x.twb", "--proxy-from", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--proxy-from"));
}
