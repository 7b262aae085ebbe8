//! The syscall budget, asserted with deltas of the server's own per-thread
//! counters (read from the stats endpoint, whose syscalls are not counted).

mod common;
use common::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SYSCALLS: [&str; 10] = [
    "accept4",
    "epoll_ctl",
    "read",
    "write",
    "writev",
    "sendmsg",
    "sendfile",
    "close",
    "shutdown",
    "requests",
];

fn deltas(b: &HashMap<String, u64>, a: &HashMap<String, u64>) -> HashMap<&'static str, u64> {
    SYSCALLS.iter().map(|&k| (k, delta(b, a, k))).collect()
}

fn expect(d: &HashMap<&'static str, u64>, want: &[(&str, u64)]) {
    for k in SYSCALLS {
        let w = want.iter().find(|(n, _)| *n == k).map_or(0, |(_, v)| *v);
        assert_eq!(d[k], w, "{k}: all deltas {d:?}");
    }
}

/// Waits until `f(stats)` holds (the server finished some work the client
/// cannot observe directly, e.g. a close after the client's).
fn wait_stats(s: &Server, f: impl Fn(&HashMap<String, u64>) -> bool) -> HashMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = s.stats();
        if f(&st) {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "stats never reached the expected state: {st:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A keep-alive connection, answered once and registered with epoll (the
/// registration follows the first response, so wait for it).
fn warm_client(s: &Server) -> Client {
    let before = s.stats();
    let mut c = s.client();
    assert_eq!(c.get("/empty.txt", "").status, 200);
    wait_stats(s, |st| st["epoll_ctl"] > before["epoll_ctl"]);
    c
}

#[test]
fn keepalive_small_get_is_one_read_one_writev() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = warm_client(&s);
    for (path, ae) in [
        ("/style.css", ""),
        ("/style.css", "Accept-Encoding: gzip\r\n"),
        ("/", "Accept-Encoding: br\r\n"),
        ("/index.html", "Accept-Encoding: zstd\r\n"),
        ("/app.js", ""),
        ("/nope", ""),
        ("/about", ""),
    ] {
        let before = s.stats();
        let r = c.get(path, ae);
        assert!(matches!(r.status, 200 | 301 | 404), "{path}");
        let after = s.stats();
        expect(
            &deltas(&before, &after),
            &[("read", 1), ("writev", 1), ("requests", 1)],
        );
    }
    // HEAD, and an HTTP/1.0 keep-alive request.
    for req in [
        &b"HEAD /style.css HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"GET /style.css HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ] {
        let before = s.stats();
        c.send(req);
        assert_eq!(
            c.read_response(req.starts_with(b"HEAD")).unwrap().status,
            200
        );
        let after = s.stats();
        expect(
            &deltas(&before, &after),
            &[("read", 1), ("writev", 1), ("requests", 1)],
        );
    }
    // 304 and 206 too.
    let etag = c.get("/style.css", "").header("ETag").unwrap().to_string();
    for extra in [
        format!("If-None-Match: {etag}\r\n"),
        "Range: bytes=10-20\r\n".to_string(),
    ] {
        let before = s.stats();
        let r = c.get("/style.css", &extra);
        assert!(matches!(r.status, 304 | 206));
        let after = s.stats();
        expect(
            &deltas(&before, &after),
            &[("read", 1), ("writev", 1), ("requests", 1)],
        );
    }
}

/// No heap allocation on the request path in steady state: the worker's
/// allocation count (from the server's counting allocator) does not move
/// while a warm keep-alive connection gets every kind of response, one by
/// one and pipelined. "Warm": a pooled output buffer grows once to the
/// deepest pipelining it has met (bounded by MAX_SEGS / DYN_CAP), so the
/// first pass may allocate and the second must not.
#[test]
fn keepalive_requests_do_not_allocate() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = warm_client(&s);
    let requests = [
        ("/style.css", ""),
        ("/style.css", "Accept-Encoding: gzip\r\n"),
        ("/", "Accept-Encoding: br;q=0.5, zstd, *;q=0\r\n"),
        ("/mid.txt", "Accept-Encoding: gzip, br\r\n"),
        ("/data.bin", ""),
        ("/big.bin", "Range: bytes=0-99\r\n"),
        ("/style.css", "If-None-Match: \"x\", *\r\n"),
        ("/style.css", "Range: bytes=1-2,4-5\r\n"),
        ("/nope", ""),
        ("/about", ""),
        ("/caf%C3%A9.txt?q=1", ""),
    ];
    let pass = |c: &mut Client| {
        let mut batch = Vec::new();
        for (path, extra) in requests {
            assert!(c.get(path, extra).status < 500, "{path}");
            batch.extend_from_slice(
                format!("GET {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").as_bytes(),
            );
        }
        c.send(&batch);
        for _ in requests {
            c.read_response(false).unwrap();
        }
        // One more: its read publishes anything allocated after the last writev.
        assert_eq!(c.get("/empty.txt", "").status, 200);
    };
    pass(&mut c);
    let before = s.stats();
    pass(&mut c);
    let after = s.stats();
    assert_eq!(
        delta(&before, &after, "requests"),
        2 * requests.len() as u64 + 1
    );
    assert_eq!(
        delta(&before, &after, "allocs"),
        0,
        "allocations on the request path"
    );
}

#[test]
fn pipelined_in_one_read_is_one_writev() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = warm_client(&s);
    let mut batch = Vec::new();
    for i in 0..100 {
        let p = ["/empty.txt", "/app.js", "/about"][i % 3];
        batch.extend_from_slice(format!("GET {p} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    let before = s.stats();
    c.send(&batch);
    for i in 0..100 {
        let r = c.read_response(false).unwrap();
        assert_eq!(r.status, [200, 200, 301][i % 3]);
    }
    let after = s.stats();
    expect(
        &deltas(&before, &after),
        &[("read", 1), ("writev", 1), ("requests", 100)],
    );
}

#[test]
fn hundred_pipelined_requests_all_answered_in_order() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    let paths = [
        "/",
        "/style.css",
        "/data.bin",
        "/nope",
        "/about/",
        "/empty.txt",
        "/mid.txt",
    ];
    let mut batch = Vec::new();
    for i in 0..100 {
        let ae = if i % 2 == 0 {
            "Accept-Encoding: gzip, br\r\n"
        } else {
            ""
        };
        batch.extend_from_slice(
            format!(
                "GET {} HTTP/1.1\r\nHost: t\r\n{ae}\r\n",
                paths[i % paths.len()]
            )
            .as_bytes(),
        );
    }
    c.send(&batch);
    for i in 0..100 {
        let p = paths[i % paths.len()];
        let r = c.read_response(false).unwrap();
        let ce = r.header("Content-Encoding").unwrap_or("").to_string();
        let want = if p == "/nope" {
            &site().files["404"]
        } else {
            &site().files[p]
        };
        assert_eq!(&decompress(&ce, &r.body), want, "response {i} for {p}");
    }
    assert_eq!(c.get("/empty.txt", "").status, 200, "still open");
}

#[test]
fn new_connection_budget() {
    let s = Server::start(&["--threads", "1"]);
    // Warm up (the first accept may find the listener's queue in any state).
    assert_eq!(
        s.client().get("/empty.txt", "Connection: close\r\n").status,
        200
    );
    wait_stats(&s, |st| st["close"] >= 1);
    // Connection: close: accept4 + read + writev + close (never registered
    // with epoll: the request is read and answered right after accept4).
    let before = s.stats();
    let mut c = s.client();
    let r = c.get("/style.css", "Connection: close\r\n");
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(c.is_closed());
    let after = wait_stats(&s, |st| st["close"] > before["close"]);
    expect(
        &deltas(&before, &after),
        &[
            ("accept4", 1),
            ("read", 1),
            ("writev", 1),
            ("close", 1),
            ("requests", 1),
        ],
    );
    // Keep-alive: accept4 + read + writev + epoll_ctl; then the client's
    // close costs read (EOF) + close.
    let before = s.stats();
    let mut c = s.client();
    assert_eq!(c.get("/style.css", "").status, 200);
    let after = wait_stats(&s, |st| st["epoll_ctl"] > before["epoll_ctl"]);
    expect(
        &deltas(&before, &after),
        &[
            ("accept4", 1),
            ("epoll_ctl", 1),
            ("read", 1),
            ("writev", 1),
            ("requests", 1),
        ],
    );
    drop(c);
    let end = wait_stats(&s, |st| st["close"] > after["close"]);
    expect(&deltas(&after, &end), &[("read", 1), ("close", 1)]);
}

#[test]
fn large_file_uses_sendfile() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = warm_client(&s);
    let before = s.stats();
    let r = c.get("/big.bin", "");
    assert_eq!(r.body.len(), BIG_LEN);
    assert!(r.body == site().files["/big.bin"]);
    let after = s.stats();
    let d = deltas(&before, &after);
    assert_eq!(d["read"], 1, "{d:?}");
    assert_eq!(d["writev"], 0, "{d:?}");
    assert_eq!(d["sendmsg"], 1, "head with MSG_MORE: {d:?}");
    let chunks = (BIG_LEN as u64).div_ceil(2 * 1024 * 1024);
    assert!(d["sendfile"] >= chunks, "{d:?}");
    eprintln!("17 MiB file: {d:?}");
    // A 206 of a large range takes the same path.
    let before = s.stats();
    let r = c.get("/big.bin", "Range: bytes=1000000-\r\n");
    assert_eq!(r.status, 206);
    assert!(r.body == site().files["/big.bin"][1_000_000..]);
    let d = deltas(&before, &s.stats());
    assert_eq!((d["read"], d["writev"], d["sendmsg"]), (1, 0, 1), "{d:?}");
}

/// Above the default threshold (48 KiB, bench/threshold.md) a body goes by
/// sendfile after its head, even on a keep-alive connection.
#[test]
fn mid_size_body_is_head_then_sendfile() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = warm_client(&s);
    let before = s.stats();
    let r = c.get("/data.bin", ""); // 100,000 bytes
    assert!(r.body == site().files["/data.bin"]);
    let d = deltas(&before, &s.stats());
    expect(
        &d,
        &[
            ("read", 1),
            ("sendmsg", 1),
            ("sendfile", 1),
            ("requests", 1),
        ],
    );
}

#[test]
fn sendfile_threshold_moves_the_split() {
    // Threshold 0: even a small body goes by sendfile, after its head.
    let s = Server::start(&["--threads", "1", "--sendfile-threshold", "0"]);
    let mut c = warm_client(&s);
    let before = s.stats();
    let r = c.get("/data.bin", "");
    assert!(r.body == site().files["/data.bin"]);
    let d = deltas(&before, &s.stats());
    assert_eq!(
        (d["read"], d["writev"], d["sendmsg"], d["sendfile"]),
        (1, 0, 1, 1),
        "{d:?}"
    );
    // Threshold above the largest body: the 17 MiB file goes by writev.
    let s = Server::start(&["--threads", "1", "--sendfile-threshold", "1000000000"]);
    let mut c = warm_client(&s);
    let before = s.stats();
    let r = c.get("/big.bin", "");
    assert!(r.body == site().files["/big.bin"]);
    let d = deltas(&before, &s.stats());
    assert_eq!((d["sendmsg"], d["sendfile"]), (0, 0), "{d:?}");
    assert!(d["writev"] >= 1, "{d:?}");
}

#[test]
fn head_and_get_heads_are_identical() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    for path in [
        "/",
        "/style.css",
        "/big.bin",
        "/empty.txt",
        "/nope",
        "/about",
        "/mid.txt",
    ] {
        for ae in [
            "",
            "Accept-Encoding: gzip\r\n",
            "Accept-Encoding: br;q=0.5, zstd\r\n",
        ] {
            let get = c.get(path, ae);
            c.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n{ae}\r\n").as_bytes());
            let head = c.read_response(true).unwrap();
            assert_eq!(
                get.head_without_date(),
                head.head_without_date(),
                "{path} {ae}"
            );
        }
    }
}
