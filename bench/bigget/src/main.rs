//! Keep-alive GETs of one file on N connections for D seconds, a thread per
//! connection. Prints `requests bytes p50_ms p99_ms`.
//!
//! wrk reads 8 KiB at a time and copies every byte out: from a ~50 KB body
//! on, it and not the server is the limit. Here the head is peeked and the
//! whole response then discarded in the kernel (`recv(MSG_TRUNC)` on TCP
//! drops up to 4 MiB per call without copying it out), so the client's
//! cost per response is small and the same for every server.
//! Usage: bigget HOST:PORT PATH CONNECTIONS SECONDS

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        eprintln!("usage: bigget HOST:PORT PATH CONNECTIONS SECONDS");
        std::process::exit(2);
    }
    let (addr, path) = (a[1].clone(), a[2].clone());
    let conns: usize = a[3].parse().expect("CONNECTIONS");
    let secs: f64 = a[4].parse().expect("SECONDS");
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (addr, path) = (addr.clone(), path.clone());
            std::thread::spawn(move || run(&addr, &path, stop))
        })
        .collect();
    let (mut lat, mut bytes) = (Vec::new(), 0u64);
    for t in threads {
        let (l, b) = t.join().expect("client thread");
        lat.extend(l);
        bytes += b;
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0.0);
    println!("{} {} {:.3} {:.3}", lat.len(), bytes, pct(0.5), pct(0.99));
}

/// Larger than any head the servers under test send.
const HEAD_MAX: usize = 8192;

fn run(addr: &str, path: &str, stop: Instant) -> (Vec<f64>, u64) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let mut buf = vec![0u8; 4 << 20];
    let (mut lat, mut bytes) = (Vec::new(), 0u64);
    while Instant::now() < stop {
        let t = Instant::now();
        s.write_all(req.as_bytes()).expect("send");
        // The head is peeked (left queued) and then dropped with the body,
        // so no body byte is ever copied out, however the server's segments
        // split the response: the client's cost per response is the same
        // for every server.
        let head_end = loop {
            let n = s.peek(&mut buf[..HEAD_MAX]).expect("peek head");
            assert!(n > 0, "server closed before the head");
            if let Some(i) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(n < HEAD_MAX, "no end of head in {HEAD_MAX} bytes");
            std::thread::yield_now(); // the rest of the head is on its way
        };
        let head = std::str::from_utf8(&buf[..head_end]).expect("ASCII head");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let len: u64 = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().expect("length")))
            .expect("Content-Length");
        let mut left = head_end as u64 + len;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            // SAFETY: a valid socket fd; with MSG_TRUNC TCP writes nothing to
            // the buffer, which is large enough anyway.
            let n = unsafe {
                libc::recv(s.as_raw_fd(), buf.as_mut_ptr().cast(), want, libc::MSG_TRUNC)
            };
            assert!(n > 0, "read body: {}", std::io::Error::last_os_error());
            left -= n as u64;
        }
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        bytes += len;
    }
    (lat, bytes)
}
