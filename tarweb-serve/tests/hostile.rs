//! Hostile clients and resources: slowloris, idle and stalled connections,
//! 10,000 concurrent connections without fd leaks, SIGTERM draining,
//! a blob rewritten under the server, bad blobs, sd_notify, access log.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tarweb_format::layout;

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn slowloris_is_cut_off_by_the_head_timeout() {
    let s = Server::start(&["--threads", "1", "--header-timeout-ms", "400"]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut sent = 0;
    // Trickle a header line every 50 ms: the timeout counts from the first
    // byte, so trickling must not extend it.
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "slowloris never cut off"
        );
        if c.write_all(format!("X-{sent}: y\r\n").as_bytes()).is_err() {
            break;
        }
        sent += 1;
        let mut buf = [0u8; 1024];
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    if !got.is_empty() {
        assert!(
            got.starts_with(b"HTTP/1.1 408 "),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
    }
    // Cut off after about 400 ms of trickling (~8 lines), far below the
    // 160 lines 8 s would take.
    assert!(sent < 100, "sent {sent} lines before the close");
}

#[test]
fn idle_keepalive_connection_is_closed() {
    let s = Server::start(&["--threads", "1", "--idle-timeout-ms", "300"]);
    let mut c = s.client();
    assert_eq!(c.get("/empty.txt", "").status, 200);
    assert!(
        c.is_closed(),
        "closed by the idle timeout (read timeout is 10 s)"
    );
}

#[test]
fn stalled_reader_is_closed() {
    let s = Server::start(&["--threads", "1", "--send-timeout-ms", "300"]);
    let before = s.stats();
    let mut c = s.client();
    c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    // Never read: the socket fills, the send timer fires, the server closes.
    wait_until(
        "close of the stalled connection",
        Duration::from_secs(10),
        || s.stats()["close"] > before["close"],
    );
}

#[test]
fn ten_thousand_connections_and_no_fd_leak() {
    let limit = tarweb_serve::sys::raise_nofile_limit().unwrap();
    assert!(
        limit >= 10_100,
        "RLIMIT_NOFILE hard limit {limit} is too low for this test"
    );
    let s = Server::start(&["--threads", "2", "--max-connections", "12000"]);
    let base = s.fd_count();
    let before = s.stats();
    let start = Instant::now();
    let mut conns = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.write_all(b"GET /empty.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        conns.push(c);
        if i % 1000 == 999 {
            assert!(start.elapsed() < Duration::from_secs(60), "too slow");
        }
    }
    for c in conns.iter_mut() {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 512];
        let mut got = 0;
        while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
            let n = c.read(&mut buf[got..]).unwrap();
            assert!(n > 0, "closed early");
            got += n;
        }
        assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
    // All 10,000 open at once on the server side.
    wait_until("10,000 server fds", Duration::from_secs(20), || {
        s.fd_count() >= base + 10_000
    });
    let after = s.stats();
    assert_eq!(delta(&before, &after, "connections"), 10_000);
    assert_eq!(delta(&before, &after, "requests"), 10_000);
    // Still serving.
    assert_eq!(
        s.client().get("/style.css", "Connection: close\r\n").status,
        200
    );
    drop(conns);
    wait_until("fds back to the baseline", Duration::from_secs(30), || {
        s.fd_count() == base
    });
    eprintln!("10,000 connections in {:?}", start.elapsed());
}

#[test]
fn sigterm_finishes_in_flight_responses_and_exits_zero() {
    let mut s = Server::start(&["--threads", "1"]);
    let mut idle = s.client();
    assert_eq!(idle.get("/empty.txt", "").status, 200);
    let mut c = s.client();
    c.s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut first = [0u8; 1000];
    c.s.read_exact(&mut first).unwrap();
    let pid = s.pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // The big response still arrives whole, then the connection closes.
    let mut rest = Vec::new();
    c.s.read_to_end(&mut rest).unwrap();
    let mut all = first.to_vec();
    all.extend_from_slice(&rest);
    let head_end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(all.len() - head_end, BIG_LEN);
    assert!(idle.is_closed());
    let st = s.terminate();
    assert!(st.success(), "{st:?}");
}

#[test]
fn blob_rewritten_under_the_server_is_still_served_intact() {
    // The default (the file itself under a read lease: the writer's open
    // waits while the server moves a sealed memfd copy under its mapping
    // and descriptor), and both kinds of private copy made at load: a
    // nameless file next to the blob, and the sealed memfd.
    for (mode, want) in [
        ("auto", "memfd:tarweb-blob"),
        ("copy", "/#"),
        ("memfd", "memfd:tarweb-blob"),
    ] {
        let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("rewrite-{}-{mode}.twb", std::process::id()));
        std::fs::copy(&site().path, &path).unwrap();
        let s = Server::start_with(&path, &["--threads", "1", "--blob-copy", mode]);
        let mut c = s.client();
        if mode == "auto" {
            let copies = s.blob_copies();
            assert!(
                copies.len() == 1 && copies[0].ends_with(".twb"),
                "served from the leased file itself: {copies:?}"
            );
            // A response under way from the file when the writer comes.
            let r = c.get("/big.bin", "");
            assert!(r.body == site().files["/big.bin"]);
        }
        // Overwrite in place, then truncate: no SIGBUS, no torn bytes.
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all(&vec![0x55u8; len])
            .unwrap();
        let r = c.get("/big.bin", "");
        assert!(r.body == site().files["/big.bin"], "{mode}");
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        for p in ["/big.bin", "/", "/mid.txt", "/data.bin"] {
            let r = c.get(p, "");
            assert!(r.body == site().files[p], "{mode} {p}");
        }
        let copies = s.blob_copies();
        assert!(
            copies.len() == 1 && copies[0].contains(want),
            "{mode}: {copies:?}"
        );
        if mode == "auto" {
            s.wait_line("the lease break", |l| {
                l.contains("a writer opened a served blob: now served from a private copy")
            });
        }
        let _ = std::fs::remove_file(&path);
    }
}

/// A file someone has open for writing cannot be leased (it may be half
/// written): the server copies it, and the digest of the copy decides.
#[test]
fn blob_open_for_writing_is_copied_not_leased() {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("writer-open-{}.twb", std::process::id()));
    std::fs::copy(&site().path, &path).unwrap();
    let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let s = Server::start_with(&path, &["--threads", "1"]);
    assert!(
        s.startup
            .iter()
            .any(|l| l.starts_with("loaded") && l.contains("file copy")),
        "{:?}",
        s.startup
    );
    let r = s.client().get("/mid.txt", "");
    assert!(r.body == site().files["/mid.txt"]);
    let copies = s.blob_copies();
    assert!(copies.len() == 1 && copies[0].contains("/#"), "{copies:?}");
    drop(writer);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn blob_on_tmpfs_is_leased_or_copied_into_a_sealed_memfd() {
    // On tmpfs a file copy would be shmem like a memfd, without the seals;
    // by default the file itself is served under a lease (no second copy
    // in RAM at all).
    let dir = std::path::Path::new("/dev/shm");
    let magic = std::process::Command::new("stat")
        .args(["-f", "-c", "%T", "/dev/shm"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&magic.stdout).trim(), "tmpfs");
    let path = dir.join(format!("tarweb-test-{}.twb", std::process::id()));
    std::fs::copy(&site().path, &path).unwrap();
    for (mode, want) in [("auto", ".twb"), ("copy", "memfd:tarweb-blob")] {
        let s = Server::start_with(&path, &["--threads", "1", "--blob-copy", mode]);
        let r = s.client().get("/mid.txt", "");
        assert!(r.body == site().files["/mid.txt"]);
        let copies = s.blob_copies();
        assert!(
            copies.len() == 1 && copies[0].contains(want),
            "{mode}: {copies:?}"
        );
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_blob_exits_nonzero_with_the_format_error() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bad = dir.join(format!("bad-{}.twb", std::process::id()));
    let mut bytes = std::fs::read(&site().path).unwrap();
    // A byte of the index (the route table): the index digest, checked
    // at load, refuses the blob.
    bytes[layout::HEADER_SIZE + 20] ^= 1;
    std::fs::write(&bad, &bytes).unwrap();
    for (path, want) in [
        (bad.clone(), "index digest mismatch"),
        (dir.join("does-not-exist.twb"), "open"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
            .arg(&path)
            .args(["--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{err}");
    }
    std::fs::write(&bad, b"short").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid blob"));
    let _ = std::fs::remove_file(&bad);
}

/// A byte of a response damaged after packing: the blob still loads (its
/// index is intact; the load checks only the index), that response is
/// answered 500 and logged once, never sent, and every other is served.
#[test]
fn a_damaged_response_is_answered_500_and_the_rest_served() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bad = dir.join(format!("damaged-{}.twb", std::process::id()));
    let mut bytes = std::fs::read(&site().path).unwrap();
    let body = {
        let blob = tarweb_format::Blob::parse(&bytes).unwrap();
        let v = blob.lookup(b"/mid.txt").unwrap().variants().identity();
        (v.body_off() + v.body_len() / 2) as usize
    };
    bytes[body] ^= 1;
    std::fs::write(&bad, &bytes).unwrap();
    let s = Server::start_with(&bad, &["--threads", "1"]);
    let mut c = s.client();
    for _ in 0..3 {
        assert_eq!(c.get("/mid.txt", "").status, 500);
    }
    let r = c.get("/style.css", "");
    assert_eq!(r.status, 200);
    assert!(r.body == site().files["/style.css"]);
    let line = s.wait_line("about the damaged variant", |l| {
        l.contains("fails its check")
    });
    assert!(
        line.contains("/mid.txt") && line.contains("corrupt"),
        "{line}"
    );
    // Logged once, not per request.
    assert_eq!(c.get("/app.js", "").status, 200);
    assert!(!s
        .drain_lines()
        .iter()
        .any(|l| l.contains("fails its check")));
    drop(s);
    let _ = std::fs::remove_file(&bad);
}

#[test]
fn sd_notify_ready_reloading_stopping() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let sock_path = dir.join(format!("notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock_path);
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tarweb-serve"));
    cmd.env("NOTIFY_SOCKET", &sock_path);
    let mut s = Server::start_cmd(cmd, &site().path, &["--threads", "1"]);
    let mut buf = [0u8; 64];
    let mut next = || {
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(next(), "READY=1");
    // SIGHUP (systemd's ExecReload): RELOADING=1 with the monotonic clock
    // (systemd 253+ wants it), then READY=1 again.
    s.signal("HUP");
    let reloading = next();
    let usec = reloading
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .unwrap_or_else(|| panic!("{reloading:?}"));
    assert!(usec.parse::<u64>().is_ok_and(|u| u > 0), "{reloading:?}");
    assert_eq!(next(), "READY=1");
    assert!(s.terminate().success());
    assert_eq!(next(), "STOPPING=1");
    let _ = std::fs::remove_file(&sock_path);
}

#[test]
fn access_log_combined_format() {
    let log = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("access-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut s = Server::start(&["--threads", "1", "--access-log", log.to_str().unwrap()]);
    let mut c = s.client();
    c.get("/style.css", "User-Agent: t\"est\r\nReferer: http://r/\r\n");
    c.get("/nope", "");
    drop(c);
    assert!(s.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("127.0.0.1 - - ["), "{text}");
    assert!(
        lines[0].contains("\"GET /style.css HTTP/1.1\" 200 "),
        "{text}"
    );
    assert!(lines[0].ends_with("\"http://r/\" \"t\\x22est\""), "{text}");
    assert!(lines[1].contains("\"GET /nope HTTP/1.1\" 404 "), "{text}");
    let _ = std::fs::remove_file(&log);
}

#[test]
fn out_of_fds_does_not_spin() {
    // The server may open 64 descriptors: accepts soon fail with EMFILE.
    let mut cmd = std::process::Command::new("prlimit");
    cmd.args(["--nofile=64:64", env!("CARGO_BIN_EXE_tarweb-serve")]);
    let s = Server::start_cmd(cmd, &site().path, &["--threads", "1"]);
    // Counters are read while descriptors are free (the stats thread
    // needs one too).
    let before = s.stats();
    let start = Instant::now();
    let mut conns = Vec::new();
    for _ in 0..100 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.write_all(b"GET /empty.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        conns.push(c);
    }
    wait_until("fd limit reached", Duration::from_secs(10), || {
        s.fd_count() >= 60
    });
    std::thread::sleep(Duration::from_millis(500));
    drop(conns);
    wait_until("fds released", Duration::from_secs(20), || {
        s.fd_count() < 30
    });
    let mut c = s.client();
    assert_eq!(c.get("/empty.txt", "Connection: close\r\n").status, 200);
    let after = s.stats();
    let secs = start.elapsed().as_secs() + 1;
    // 100 connections, plus one failed accept per 100 ms pause: a busy
    // loop would make these counts explode.
    let waits = delta(&before, &after, "epoll_wait");
    let accepts = delta(&before, &after, "accept4");
    eprintln!("EMFILE episode of {secs} s: epoll_wait {waits}, accept4 {accepts}");
    assert!(accepts <= 101 + 15 * secs, "accept4 {accepts}");
    assert!(waits <= 500 + 15 * secs, "epoll_wait {waits}");
    // Said, once per episode (rate-limited), not once per failed accept.
    let said: Vec<String> = s
        .drain_lines()
        .into_iter()
        .filter(|l| l.contains("out of file descriptors"))
        .collect();
    assert!(
        !said.is_empty() && said.len() as u64 <= 1 + secs / 10,
        "{said:?}"
    );
    assert!(said[0].contains("accept"), "{said:?}");
}

#[test]
fn systemd_socket_activation() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = std::process::Command::new("systemd-socket-activate");
    cmd.args([
        "-l",
        &format!("127.0.0.1:{port}"),
        env!("CARGO_BIN_EXE_tarweb-serve"),
    ]);
    // systemd-socket-activate starts the server on the first connection.
    let first = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut c = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(c) => break c,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("connect: {e}"),
            }
        };
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(b"GET /empty.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut v = Vec::new();
        c.read_to_end(&mut v).unwrap();
        v
    });
    let s = Server::start_cmd(cmd, &site().path, &["--threads", "2"]);
    assert!(first.join().unwrap().starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(s.addr.port(), port, "served on the inherited socket");
    // The --listen the harness adds is said to be ignored (on stderr: it
    // may reach the harness after stdout's `ready`).
    if !s.startup.iter().any(|l| l.contains("--listen ignored")) {
        s.wait_line("--listen ignored", |l| l.contains("--listen ignored"));
    }
    for _ in 0..4 {
        assert_eq!(
            s.client().get("/style.css", "Connection: close\r\n").status,
            200
        );
    }
}

/// `--tcp-congestion` reaches the accepted connections (the kernel copies
/// a listener's algorithm into its children), as `ss` reports them; a name
/// the kernel lacks stops the start with the names it has.
#[test]
fn tcp_congestion_reaches_accepted_connections() {
    let system = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control").unwrap();
    // Not the system's, so a listener left alone would not pass.
    let want = if system.trim() == "reno" {
        "cubic"
    } else {
        "reno"
    };
    let algo_of = |s: &Server| {
        let mut c = s.client();
        assert_eq!(c.get("/index.html", "").status, 200);
        let port = s.addr.port();
        let out = std::process::Command::new("ss")
            .args(["-tinH", "state", "established"])
            .arg(format!("( sport = :{port} )"))
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        // The info line starts with the algorithm's name.
        let algo = out.lines().nth(1).and_then(|l| l.split_whitespace().next());
        algo.unwrap_or_else(|| panic!("ss: {out}")).to_string()
    };
    let s = Server::start(&["--threads", "1", "--tcp-congestion", want]);
    assert_eq!(algo_of(&s), want);
    drop(s);
    let s = Server::start(&["--threads", "1"]);
    assert_eq!(algo_of(&s), system.trim());
    drop(s);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&site().path)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--tcp-congestion",
            "no-such-algo",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--tcp-congestion no-such-algo on 127.0.0.1:0"),
        "{err}"
    );
    assert!(err.contains("this kernel has: "), "{err}");
}

#[test]
fn error_response_survives_a_client_still_sending() {
    // 413 while the client is still uploading: the lingering close keeps
    // the unread body from turning the close into a reset.
    let s = Server::start(&["--threads", "1"]);
    for _ in 0..5 {
        let mut c = s.client();
        let mut w = c.s.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 4000000\r\n\r\n");
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..60 {
                if w.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let r = c.read_response(false).expect("a 413, not a reset");
        assert_eq!(r.status, 413);
        assert!(c.is_closed());
        writer.join().unwrap();
    }
}

#[test]
fn connection_cap_defers_new_connections() {
    let s = Server::start(&["--threads", "1", "--max-connections", "2", "--mlock"]);
    let mut a = s.client();
    let mut b = s.client();
    assert_eq!(a.get("/empty.txt", "").status, 200);
    assert_eq!(b.get("/empty.txt", "").status, 200);
    let mut c = s.client();
    c.send(b"GET /empty.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    // At the cap the listener is out of epoll: c is not accepted...
    let before = s.stats();
    c.s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(c.s.read(&mut buf).is_err(), "served beyond the cap");
    assert_eq!(delta(&before, &s.stats(), "accept4"), 0);
    // ...until a slot frees.
    drop(a);
    c.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(b.get("/empty.txt", "").status, 200);
}

/// A request, head and body, has one deadline from its first byte; the
/// body may extend it only at a minimum rate (the largest head per head
/// timeout). A body trickled a byte at a time cannot keep the connection
/// (issue 15: it used to be re-armed on every read, forever).
#[test]
fn a_trickled_body_does_not_keep_the_connection() {
    let s = Server::start(&["--threads", "1", "--header-timeout-ms", "500"]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    c.write_all(b"GET /empty.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 60000\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut closed = false;
    while start.elapsed() < Duration::from_secs(8) {
        if c.write_all(b"x").is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 1024];
        match c.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a body trickled for 8 s kept its connection");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    // The request itself was answered, once, and no 408 followed it.
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
}

/// Empty lines before a request line are ignored (RFC 9112 §2.2), a
/// head's worth of them: 64 KiB of CRLF gets a 400, not a reset (issue 15:
/// the input buffer filled up and the read of 0 bytes looked like EOF).
#[test]
fn a_flood_of_empty_lines_gets_a_400() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    c.send(b"\r\n\r\nGET /empty.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response(false).unwrap().status, 200);
    let mut c = s.client();
    let flood = b"\r\n".repeat(36 * 1024);
    for piece in flood.chunks(8 * 1024) {
        c.send(piece);
    }
    c.send(b"GET /empty.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response(false).expect("an answer, not a reset");
    assert_eq!(r.status, 400);
    assert!(c.is_closed());
}

/// A second server on a port this one holds would get half of its
/// connections (SO_REUSEPORT): refused at start, as is a port another
/// program listens on. This server's own workers still share theirs.
#[test]
fn a_port_someone_else_listens_on_is_refused() {
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = other.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&site().path)
        .args(["--listen", &taken, "--threads", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another process already listens there"),
        "{err}"
    );
    drop(other);
    // Free now: two workers share it; a second server is refused.
    let s = Server::start(&["--threads", "2", "--listen", &taken]);
    assert_eq!(s.addrs.len(), 2);
    assert_eq!(s.addrs[1].to_string(), taken);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&site().path)
        .args(["--listen", &taken])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already listens"));
    assert_eq!(
        s.client().get("/style.css", "Connection: close\r\n").status,
        200
    );
}
