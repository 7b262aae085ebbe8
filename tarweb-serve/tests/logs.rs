//! Logs: the JSON access log (read back with serde_json), rotation by
//! rename + SIGUSR1, a log nobody reads (a FIFO) never blocking the
//! workers, and the server's own lines (level and timestamp, or the
//! journal's `<N>` prefixes under systemd, and one line at shutdown).

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("logs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Waits (bounded) until `path` has at least `n` lines; returns them.
fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = t.lines().map(str::to_string).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} has {} lines, not {n}:\n{t}",
            path.display(),
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn json(l: &str) -> serde_json::Value {
    serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))
}

#[test]
fn json_access_log_fields_and_escaping() {
    let dir = tmpdir("json");
    let log = dir.join("access.log");
    let s = Server::start(&[
        "--threads",
        "1",
        "--access-log",
        log.to_str().unwrap(),
        "--access-log-format",
        "json",
    ]);
    // A user agent with a quote, a backslash, a tab and a byte
    // that is not UTF-8; a referer with UTF-8.
    let mut c = s.client();
    c.send(
        b"GET /style.css?q=1 HTTP/1.1\r\nHost: Example.ORG\r\nAccept-Encoding: gzip\r\n\
          User-Agent: a\"b\\c\td\xffe\r\nReferer: https://r.example/\xc3\xa9\r\n\r\n",
    );
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    let body = r.body.len();
    // HTTP/1.0, HEAD, a 404, and HTTP/2 (curl, prior knowledge).
    c.send(b"HEAD / HTTP/1.0\r\n\r\n");
    assert_eq!(c.read_response(true).unwrap().status, 200);
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--http2-prior-knowledge"])
        .arg(s.url("/nope"))
        .status()
        .unwrap();
    assert!(out.success());
    // A response larger than the socket takes at once: its line was
    // written before its last byte left, so its duration is null.
    let mut big = s.client();
    big.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = big.read_response(false).unwrap();
    assert_eq!(r.body.len(), site().files["/big.bin"].len());
    // A request that cannot be parsed.
    let mut bad = s.client();
    bad.send(b"GARBAGE\r\n\r\n");
    assert_eq!(bad.read_response(false).unwrap().status, 400);

    let lines = wait_lines(&log, 5);
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let v: Vec<serde_json::Value> = lines.iter().map(|l| json(l)).collect();
    let first = &v[0];
    let time = first["time"].as_str().unwrap();
    // 2026-12-07T01:34:02.123Z
    assert_eq!(time.len(), 24, "{time}");
    assert!(time.ends_with('Z') && &time[10..11] == "T" && &time[19..20] == ".");
    assert_eq!(first["client"], "127.0.0.1");
    assert_eq!(first["vhost"], "Example.ORG");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/style.css?q=1");
    assert_eq!(first["protocol"], "HTTP/1.1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["bytes"], body as u64);
    assert_eq!(first["content_coding"], "gzip");
    assert_eq!(first["tls"], serde_json::Value::Null);
    assert_eq!(first["ktls"], false);
    // Sent within the event that answered it: a duration, in seconds.
    assert!(first["duration"].as_f64().is_some(), "{}", lines[0]);
    assert_eq!(first["user_agent"], "a\"b\\c\td\u{ff}e");
    assert_eq!(first["referer"], "https://r.example/é");

    assert_eq!(v[1]["protocol"], "HTTP/1.0");
    assert_eq!(v[1]["method"], "HEAD");
    assert_eq!(v[1]["bytes"], 0);
    assert_eq!(v[1]["vhost"], serde_json::Value::Null);
    let h2 = v.iter().find(|l| l["protocol"] == "HTTP/2.0").unwrap();
    assert_eq!(h2["status"], 404);
    assert_eq!(h2["path"], "/nope");
    let big = v.iter().find(|l| l["path"] == "/big.bin").unwrap();
    assert_eq!(big["duration"], serde_json::Value::Null);
    let bad = v.iter().find(|l| l["status"] == 400).unwrap();
    assert_eq!(bad["method"], serde_json::Value::Null);
}

#[test]
fn json_access_log_says_tls() {
    let dir = tmpdir("tls");
    let log = dir.join("access.log");
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    let s = Server::start(&[
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        dir.join("cert.pem").to_str().unwrap(),
        "--tls-key",
        dir.join("key.pem").to_str().unwrap(),
        "--access-log",
        log.to_str().unwrap(),
        "--access-log-format",
        "json",
    ]);
    let out = Command::new("curl")
        .args(["-s", "-k", "-o", "/dev/null", "--tlsv1.3"])
        .arg(format!("https://127.0.0.1:{}/", s.addrs[1].port()))
        .status()
        .unwrap();
    assert!(out.success());
    let v = json(&wait_lines(&log, 1)[0]);
    assert_eq!(v["tls"], "TLSv1.3");
    // This host has no kTLS (make test-ktls runs the kernel's).
    assert!(v["ktls"].is_boolean());
    assert_eq!(v["status"], 200);
}

/// logrotate's nginx recipe: rename the file, send SIGUSR1; the old file
/// has the lines before, the new one (created by the server) the lines
/// after, none lost, none torn.
#[test]
fn sigusr1_reopens_after_rename() {
    let dir = tmpdir("rotate");
    let log = dir.join("access.log");
    let s = Server::start(&["--threads", "2", "--access-log", log.to_str().unwrap()]);
    let mut c = s.client();
    for _ in 0..5 {
        assert_eq!(c.get("/before", "").status, 404);
    }
    wait_lines(&log, 5);
    let old = dir.join("access.log.1");
    std::fs::rename(&log, &old).unwrap();
    s.signal("USR1");
    s.wait_line("the reopen", |l| l.starts_with("access log reopened"));
    for _ in 0..5 {
        assert_eq!(c.get("/after", "").status, 404);
    }
    let after = wait_lines(&log, 5);
    assert!(
        after
            .iter()
            .all(|l| l.contains("\"GET /after HTTP/1.1\" 404 ")),
        "{after:#?}"
    );
    let before = std::fs::read_to_string(&old).unwrap();
    assert_eq!(before.lines().count(), 5, "{before}");
    assert!(before
        .lines()
        .all(|l| l.contains("\"GET /before HTTP/1.1\" 404 ")));
}

/// The log is a FIFO whose reader reads nothing: the writer thread
/// blocks in write, the workers do not: requests are answered, lines
/// beyond the buffers are dropped and counted; once the reader reads,
/// every line that came is whole.
#[test]
fn a_stuck_log_never_blocks_the_workers() {
    let dir = tmpdir("fifo");
    let fifo = dir.join("access.fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    // Opening the reading end first (non-blocking) lets the server's
    // open for writing go through.
    let reader = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_o_nonblock())
            .open(&fifo)
            .unwrap()
    };
    let s = Server::start(&[
        "--threads",
        "1",
        "--access-log",
        fifo.to_str().unwrap(),
        "--access-log-format",
        "json",
    ]);
    let ua = format!("User-Agent: {}\r\n", "x".repeat(4000));
    let mut c = s.client();
    // ~4 KB lines: the pipe (64 KiB) and both buffers (2 × 256 KiB) hold
    // about 140 of them.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    while s.metric("tarweb_access_log_dropped_lines_total") == 0.0 {
        for _ in 0..50 {
            assert_eq!(c.get("/empty.txt", &ua).status, 200);
            sent += 1;
        }
        // The buffer is handed over once a second: give it the chance.
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            Instant::now() < deadline,
            "{sent} requests, nothing dropped"
        );
    }
    let dropped = s.metric("tarweb_access_log_dropped_lines_total") as usize;
    assert!(dropped > 0 && dropped < sent);
    // Drain the FIFO until the server has written all it kept.
    let mut r = BufReader::new(reader);
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    // A WouldBlock may come in the middle of a line: what was read of it
    // stays in `line` until its newline comes.
    let mut line = Vec::new();
    while got + dropped < sent && Instant::now() < deadline {
        match r.read_until(b'\n', &mut line) {
            Ok(0) => std::thread::sleep(Duration::from_millis(20)),
            Ok(_) if line.ends_with(b"\n") => {
                let v = json(std::str::from_utf8(&line).unwrap());
                assert_eq!(v["status"], 200);
                got += 1;
                line.clear();
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(line.is_empty(), "torn: {}", String::from_utf8_lossy(&line));
    assert_eq!(got + dropped, sent, "lines read + dropped = requests");
    let mut rest = Vec::new();
    let _ = r.get_mut().read_to_end(&mut rest);
}

/// SIGTERM while the log's writer is blocked (a FIFO nobody reads): the
/// server still exits, and says what it could not write.
#[test]
fn a_stuck_log_does_not_hold_the_exit() {
    let dir = tmpdir("fifo-exit");
    let fifo = dir.join("access.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let _reader = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc_o_nonblock())
            .open(&fifo)
            .unwrap()
    };
    let mut s = Server::start(&["--threads", "1", "--access-log", fifo.to_str().unwrap()]);
    let ua = format!("User-Agent: {}\r\n", "x".repeat(4000));
    let mut c = s.client();
    // More than the pipe holds, handed to the writer (once a second).
    for _ in 0..40 {
        assert_eq!(c.get("/empty.txt", &ua).status, 200);
    }
    // Until the writer thread sits in write(2) on the full pipe.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !writer_in_write(s.pid()) {
        assert!(
            Instant::now() < deadline,
            "the access-log thread never blocked in write"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(c);
    let t = Instant::now();
    assert!(s.terminate().success());
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

/// Whether the server's `access-log` thread is inside write(2) now
/// (`/proc/PID/task/TID/syscall` starts with the call's number).
fn writer_in_write(pid: u32) -> bool {
    let nr = if cfg!(target_arch = "aarch64") {
        "64 "
    } else {
        "1 "
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        let p = t.path();
        std::fs::read_to_string(p.join("comm")).is_ok_and(|c| c.trim() == "access-log")
            && std::fs::read_to_string(p.join("syscall")).is_ok_and(|c| c.starts_with(nr))
    })
}

fn libc_o_nonblock() -> i32 {
    0o4000 // O_NONBLOCK on Linux (x86_64, aarch64)
}

/// Runs the server directly (not through `Server`, which strips the
/// prefixes) until `ready`, then SIGTERM; returns (stdout, stderr) lines.
fn raw_run(env: &[(&str, &str)]) -> (Vec<String>, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&site().path)
        .args(["--listen", "127.0.0.1:0", "--threads", "1"])
        .env_remove("JOURNAL_STREAM")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let errs = std::thread::spawn(move || {
        BufReader::new(err)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let mut outs = Vec::new();
    let mut lines = BufReader::new(out).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    for l in lines.by_ref() {
        let l = l.unwrap();
        let ready = l.ends_with("ready");
        outs.push(l);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "not ready: {outs:?}");
    }
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    outs.extend(lines.map_while(Result::ok));
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    (outs, errs.join().unwrap())
}

#[test]
fn server_lines_have_a_level_and_a_time_or_journal_priorities() {
    let (out, err) = raw_run(&[]);
    for l in &out {
        // 2026-12-07T01:34:02.123Z INFO ...
        let b = l.as_bytes();
        assert!(
            b.len() > 30 && b[4] == b'-' && b[10] == b'T' && b[23] == b'Z',
            "{l}"
        );
        assert!(l[25..].starts_with("INFO "), "{l}");
    }
    assert!(out.iter().any(|l| l.ends_with(" INFO ready")), "{out:?}");
    let last = out.last().unwrap();
    assert!(
        last.contains(" INFO stopped (SIGTERM or SIGINT) after "),
        "{out:?}"
    );
    assert_eq!(out.iter().filter(|l| l.contains("stopped")).count(), 1);
    // Warnings, if any (as root without --user there is one), carry
    // their level.
    for l in &err {
        assert!(
            l[25..].starts_with("WARN ") || l[25..].starts_with("ERROR "),
            "{l}"
        );
    }

    let (out, err) = raw_run(&[("JOURNAL_STREAM", "8:12345")]);
    for l in &out {
        assert!(l.starts_with("<6>"), "{l}");
    }
    assert!(out.contains(&"<6>ready".to_string()), "{out:?}");
    assert!(
        out.last()
            .unwrap()
            .starts_with("<6>stopped (SIGTERM or SIGINT) after "),
        "{out:?}"
    );
    for l in &err {
        assert!(l.starts_with("<4>") || l.starts_with("<3>"), "{l}");
    }
}
