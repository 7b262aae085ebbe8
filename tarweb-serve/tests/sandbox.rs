//! Confinement after start-up (`--sandbox`, `--user`): every feature of a
//! confined server (plain HTTP, sendfile, hot responses, user-space TLS,
//! live swap by symlink flip, `--sites` changes, certificate reload by
//! rename and by SIGHUP, stats, access log, SIGTERM drain), what the
//! kernel says about each of its threads, Landlock refusing a file outside
//! its directories through the server's own reload, and seccomp killing
//! a process that makes a syscall outside the list (a child of this test
//! binary applies the server's own filter, then tries). kTLS is not on
//! this machine's kernel: `make test-ktls` runs the (confined, by
//! default) server with `--ktls=require` under QEMU.

mod common;
use common::*;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sandbox-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// `/proc/PID/task/*/status` of every thread.
fn tasks(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path().join("status")).ok())
        .collect()
}

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
}

fn sandbox_line(s: &Server) -> String {
    s.startup
        .iter()
        .find(|l| l.starts_with("sandbox: "))
        .unwrap_or_else(|| panic!("no sandbox line in {:?}", s.startup))
        .clone()
}

/// Whether this kernel runs Landlock (else `auto` says it is unavailable
/// and the Landlock checks are skipped, loudly).
fn landlock_in(line: &str) -> bool {
    if line.contains("unavailable: landlock") {
        eprintln!("this kernel has no Landlock: {line}");
        return false;
    }
    assert!(line.starts_with("sandbox: landlock ABI "), "{line}");
    true
}

/// Every thread filtered, no_new_privs, no capability.
fn assert_confined(pid: u32, threads_at_least: usize) {
    let all = tasks(pid);
    assert!(all.len() >= threads_at_least, "{} threads", all.len());
    for st in &all {
        let name = field(st, "Name");
        assert_eq!(field(st, "Seccomp"), "2", "{name}");
        assert_eq!(field(st, "Seccomp_filters"), "2", "{name}");
        assert_eq!(field(st, "NoNewPrivs"), "1", "{name}");
        assert_eq!(field(st, "CapEff"), "0000000000000000", "{name}");
        assert_eq!(field(st, "CapPrm"), "0000000000000000", "{name}");
    }
}

/// A small site of its own (different digest from the test site).
fn other_blob(dir: &Path, text: &str) -> (PathBuf, String) {
    let src = dir.join(format!("src-{}", text.len()));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("index.html"), text).unwrap();
    let out = dir.join(format!("other-{}.twb", text.len()));
    let digest = pack(&src, &out);
    (out, digest)
}

/// Certificate and key for localhost, PEM.
fn write_cert(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (c, k) = (
        dir.join(format!("{stem}.crt")),
        dir.join(format!("{stem}.key")),
    );
    std::fs::write(&c, ck.cert.pem()).unwrap();
    std::fs::write(&k, ck.signing_key.serialize_pem()).unwrap();
    (c, k)
}

/// GET over HTTPS with curl, trusting `ca`: (status, body).
fn curl_https(port: u16, ca: &Path, path: &str) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "-m", "10", "-w", "\n%{http_code}", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}{path}"))
        .output()
        .unwrap();
    let mut v = out.stdout;
    let nl = v.iter().rposition(|&b| b == b'\n').unwrap();
    let code = String::from_utf8_lossy(&v[nl + 1..]).into_owned();
    v.truncate(nl);
    (code, v)
}

fn ln_sfn(target: &Path, link: &Path) {
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

#[test]
fn every_feature_works_confined() {
    let dir = tmpdir("all");
    let site_bytes = std::fs::read(&site().path).unwrap();
    for r in ["r1", "r2"] {
        std::fs::create_dir_all(dir.join(r)).unwrap();
    }
    std::fs::write(dir.join("r1/site.twb"), &site_bytes).unwrap();
    let (v2, v2_digest) = other_blob(&dir, "version two\n");
    std::fs::rename(&v2, dir.join("r2/site.twb")).unwrap();
    ln_sfn(Path::new("r1"), &dir.join("current"));
    std::fs::create_dir_all(dir.join("tls")).unwrap();
    let (cert, key) = write_cert(&dir.join("tls"), "live");
    // In a directory of its own: it is the one the server may write in.
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let log = dir.join("logs/access.log");
    // Outside every directory the server may read: Landlock must refuse it.
    let outside = tmpdir("all-outside");
    std::fs::write(outside.join("site.twb"), &site_bytes).unwrap();

    let mut s = Server::start_with(
        &dir.join("current/site.twb"),
        &[
            "--threads",
            "2",
            "--root-header",
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--access-log",
            log.to_str().unwrap(),
        ],
    );
    let line = sandbox_line(&s);
    let landlock = landlock_in(&line);
    assert!(line.contains(", seccomp ("), "{line}");
    assert!(line.contains("others kill the process"), "{line}");
    assert!(line.contains("no_new_privs, no capabilities"), "{line}");
    // main, 2 workers, watch, inotify, stats, reaper.
    assert_confined(s.pid(), 7);

    // Plain HTTP: writev, sendfile, and hot responses (pwritev, one
    // sendfile each).
    let mut c = s.client();
    for p in ["/", "/style.css", "/big.bin", "/nope"] {
        let r = c.get(p, "");
        let want = if p == "/nope" { "404" } else { p };
        assert!(r.body == site().files[want], "{p}");
    }
    let before = s.stats();
    for _ in 0..40 {
        assert!(c.get("/data.bin", "").body == site().files["/data.bin"]);
    }
    assert!(
        delta(&before, &s.stats(), "pwritev") >= 1,
        "no hot response written"
    );

    // HTTP/2 by prior knowledge on the plain listener.
    let out = Command::new("curl")
        .args([
            "-s",
            "--http2-prior-knowledge",
            "-w",
            "%{stderr}%{http_version}",
        ])
        .arg(s.url("/style.css"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "2");
    assert!(out.stdout == site().files["/style.css"]);

    // User-space TLS (HTTP/2 by ALPN: curl prefers it).
    let tls_port = s.addrs[1].port();
    let (code, body) = curl_https(tls_port, &cert, "/about/");
    assert_eq!(code, "200");
    assert!(body == site().files["/about/"]);

    // Live swap by symlink flip: the new file served itself under a read
    // lease (F_SETLEASE, confined), served at once.
    ln_sfn(Path::new("r2"), &dir.join("current"));
    s.wait_line("the new blob loaded", |l| {
        l.contains(&v2_digest) && l.contains("the file itself, leased")
    });
    s.wait_line("published", |l| l.starts_with("published generation"));
    let r = s.client().get("/", "");
    assert_eq!(r.header("Tarweb-Root"), Some(v2_digest.as_str()));
    assert_eq!(r.body, b"version two\n");
    // A writer opens it: the lease breaks, and the confined server moves a
    // sealed memfd copy under the root (memfd_create, seals, mmap
    // MAP_FIXED, dup3) before the writer's open returns; it keeps serving.
    let served = dir.join("r2/site.twb");
    let writer = std::thread::spawn(move || {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&served)
            .unwrap();
        f.set_len(10).unwrap();
    });
    s.wait_line("the lease break", |l| {
        l.contains("a writer opened a served blob: now served from a private copy")
    });
    writer.join().unwrap();
    let r = s.client().get("/", "");
    assert_eq!(r.header("Tarweb-Root"), Some(v2_digest.as_str()));
    assert_eq!(r.body, b"version two\n");
    // The truncated file is refused by the watcher; the copy keeps serving.
    s.wait_line("a refusal of the truncated file", |l| {
        l.contains("refusing")
    });
    let r = s.client().get("/", "");
    assert_eq!(r.body, b"version two\n");

    // Landlock, through the server's own reload: a flip to a directory
    // outside the allowed ones is refused, the current site stays.
    if landlock {
        ln_sfn(&outside, &dir.join("current"));
        let l = s.wait_line("a refusal", |l| l.contains("refusing"));
        assert!(l.contains("Permission denied"), "{l}");
        assert!(l.contains(&format!("still serving {v2_digest}")), "{l}");
    }
    // And back to the first release (it has the large file for the drain).
    ln_sfn(Path::new("r1"), &dir.join("current"));
    s.wait_line("published", |l| l.starts_with("published generation"));

    // Certificate renewal by rename, seen by the watcher.
    let (cert2, key2) = write_cert(&dir.join("tls"), "next");
    std::fs::rename(&key2, &key).unwrap();
    std::fs::rename(&cert2, &cert).unwrap();
    s.wait_line("the reload", |l| {
        l.contains("certificate files changed: 1 certificate(s) reloaded")
    });
    let (code, _) = curl_https(tls_port, &cert, "/");
    assert_eq!(code, "200", "the renewed certificate is served");

    // SIGHUP: re-check and certificate reload.
    s.signal("HUP");
    s.wait_line("SIGHUP's reload", |l| {
        l.contains("SIGHUP: 1 certificate(s) reloaded")
    });

    // Log rotation, logrotate's nginx recipe: rename, then SIGUSR1; the
    // server creates a new file by its path (Landlock: the log's own
    // directory; seccomp: openat to append and create).
    let rotated = dir.join("logs/access.log.1");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let logged = |t: String| {
        [
            "/data.bin HTTP/1.1",
            "/about/ HTTP/2.0",
            "/style.css HTTP/2.0",
        ]
        .iter()
        .all(|w| t.contains(w))
    };
    while !logged(std::fs::read_to_string(&log).unwrap()) {
        assert!(std::time::Instant::now() < deadline, "no access log line");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::rename(&log, &rotated).unwrap();
    s.signal("USR1");
    s.wait_line("the reopen", |l| l.starts_with("access log reopened"));
    assert_eq!(s.client().get("/after-rotation", "").status, 404);

    // SIGTERM while a large response is in flight: it finishes, then exit 0.
    let mut slow = s.client();
    slow.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut first = [0u8; 4096];
    let n = slow.s.read(&mut first).unwrap();
    let pid = s.pid();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
    });
    let mut rest = Vec::new();
    slow.s.read_to_end(&mut rest).unwrap();
    assert!(t.join().unwrap().success());
    let all = [&first[..n], &rest[..]].concat();
    let head_end = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(all.len() - head_end, site().files["/big.bin"].len());
    assert!(s.terminate().success());

    // The access log was written all along (by its writer thread), to
    // the new file after the rotation.
    let text = std::fs::read_to_string(&rotated).unwrap();
    assert!(text.contains("\"GET /data.bin HTTP/1.1\" 200 "), "{text}");
    assert!(text.contains("\"GET /about/ HTTP/2.0\" 200 "), "{text}");
    assert!(text.contains("\"GET /style.css HTTP/2.0\" 200 "), "{text}");
    assert!(!text.contains("/after-rotation"), "{text}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("\"GET /after-rotation HTTP/1.1\" 404 "),
        "{text}"
    );
    assert!(text.contains("\"GET /big.bin HTTP/1.1\" 200 "), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn sites_are_added_replaced_and_removed_confined() {
    let dir = tmpdir("sites");
    let sites = dir.join("sites");
    std::fs::create_dir_all(&sites).unwrap();
    let site_bytes = std::fs::read(&site().path).unwrap();
    std::fs::write(sites.join("a.test.twb"), &site_bytes).unwrap();
    let (other, other_digest) = other_blob(&dir, "b's site\n");
    let outside = tmpdir("sites-outside");
    std::fs::write(outside.join("c.twb"), &site_bytes).unwrap();
    let s = Server::start_sites(&sites, &["--threads", "1", "--watch-interval-ms", "100"]);
    let landlock = landlock_in(&sandbox_line(&s));
    assert_confined(s.pid(), 5);
    let get = |host: &str| {
        let mut c = s.client();
        c.send(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        c.read_response(false).expect("a response")
    };
    assert_eq!(get("a.test").status, 200);
    assert_eq!(get("b.test").status, 421);
    // Added.
    std::fs::copy(&other, sites.join("b.test.twb.new")).unwrap();
    std::fs::rename(sites.join("b.test.twb.new"), sites.join("b.test.twb")).unwrap();
    s.wait_line("b.test loaded", |l| l.contains(&other_digest));
    let published = || s.wait_line("published", |l| l.starts_with("published generation"));
    published();
    assert_eq!(get("b.test").body, b"b's site\n");
    // Replaced.
    std::fs::write(sites.join("b.test.twb.new"), &site_bytes).unwrap();
    std::fs::rename(sites.join("b.test.twb.new"), sites.join("b.test.twb")).unwrap();
    s.wait_line("b.test replaced", |l| {
        l.starts_with("loaded b.test") && !l.contains(&other_digest)
    });
    published();
    assert!(get("b.test").body == site().files["/"]);
    // Removed.
    std::fs::remove_file(sites.join("a.test.twb")).unwrap();
    s.wait_line("a.test removed", |l| l == "removed a.test");
    published();
    assert_eq!(get("a.test").status, 421);
    // A new entry linking outside the directories read at start: Landlock
    // refuses it (the entries that were links at start are allowed).
    if landlock {
        std::os::unix::fs::symlink(outside.join("c.twb"), sites.join("c.test.twb")).unwrap();
        let l = s.wait_line("c.test refused", |l| l.contains("refusing c.test"));
        assert!(l.contains("Permission denied"), "{l}");
        assert_eq!(get("c.test").status, 421);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&outside);
}

/// Run by `seccomp_kills_a_syscall_outside_the_list` in a child process:
/// applies the server's filter to this thread, then does `what`.
#[test]
fn seccomp_child() {
    let Ok(what) = std::env::var("TARWEB_SECCOMP_CHILD") else {
        return; // the ordinary run: nothing to do
    };
    tarweb_serve::sys::install_seccomp(false, false).unwrap();
    match what.as_str() {
        // Allowed: threads, files read, writes to stdout.
        "allowed" => {
            let t = std::thread::spawn(|| {
                std::fs::read(env!("CARGO_MANIFEST_DIR").to_string() + "/Cargo.toml")
            });
            assert!(!t.join().unwrap().unwrap().is_empty());
            println!("still alive");
        }
        // A new socket (all of the server's are made before confinement).
        "socket" => drop(std::net::TcpListener::bind("127.0.0.1:0")),
        // Opening a file for writing (openat with O_WRONLY|O_CREAT).
        "create" => drop(std::fs::File::create(
            std::env::temp_dir().join("tarweb-no"),
        )),
        // A new process (clone without CLONE_THREAD), and exec.
        "spawn" => drop(Command::new("/bin/true").status()),
        other => panic!("unknown {other}"),
    }
    println!("still alive");
}

/// On x86-64 and aarch64.
const SIGSYS: i32 = 31;

#[test]
fn seccomp_kills_a_syscall_outside_the_list() {
    let me = std::env::current_exe().unwrap();
    for (what, killed) in [
        ("allowed", false),
        ("socket", true),
        ("create", true),
        ("spawn", true),
    ] {
        let out = Command::new(&me)
            .args([
                "--exact",
                "seccomp_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("TARWEB_SECCOMP_CHILD", what)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if killed {
            assert_eq!(out.status.signal(), Some(SIGSYS), "{what}: {out:?}");
            assert!(!stdout.contains("still alive"), "{what}");
        } else {
            assert!(out.status.success(), "{what}: {out:?}");
            assert!(stdout.contains("still alive"), "{what}");
        }
    }
}

#[test]
fn user_drops_every_thread_to_the_user() {
    if !is_root() {
        eprintln!("not root: --user cannot be tested");
        return;
    }
    // Readable by nobody: the swap below is loaded as nobody.
    let dir = tmpdir("user");
    let blob = dir.join("site.twb");
    std::fs::copy(&site().path, &blob).unwrap();
    let (other, other_digest) = other_blob(&dir, "as nobody\n");
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&dir)
        .status()
        .unwrap();
    let s = Server::start_with(&blob, &["--threads", "2", "--user", "nobody"]);
    let line = sandbox_line(&s);
    assert!(line.contains("user nobody (uid 65534, gid "), "{line}");
    assert!(
        !s.startup.iter().any(|l| l.contains("without --user")),
        "{:?}",
        s.startup
    );
    assert_confined(s.pid(), 6);
    for st in tasks(s.pid()) {
        let name = field(&st, "Name").to_string();
        for f in field(&st, "Uid").split_whitespace() {
            assert_eq!(f, "65534", "{name}: uid");
        }
        let gid = field(&st, "Gid")
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert_ne!(gid, "0", "{name}");
        for f in field(&st, "Gid").split_whitespace() {
            assert_eq!(f, gid, "{name}: gid");
        }
        assert_eq!(field(&st, "Groups"), "", "{name}: supplementary groups");
        assert_eq!(field(&st, "CapAmb"), "0000000000000000", "{name}");
    }
    assert!(s.client().get("/", "").body == site().files["/"]);
    std::fs::rename(&other, &blob).unwrap();
    s.wait_line("the swap as nobody", |l| l.contains(&other_digest));
    s.wait_line("published", |l| l.starts_with("published generation"));
    assert_eq!(s.client().get("/", "").body, b"as nobody\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn root_without_user_warns_and_keeps_no_capability() {
    let s = Server::start(&["--threads", "1"]);
    let line = sandbox_line(&s);
    if is_root() {
        assert!(line.ends_with(", uid 0 (no --user)"), "{line}");
        let warning = |l: &String| l.contains("running as root without --user");
        let mut warned = s.startup.iter().filter(|l| warning(l)).count();
        if warned == 0 {
            // Printed before `ready`, but on stderr: its reader thread may
            // hand it over after stdout's `ready` (seen on a loaded CI).
            s.wait_line("the --user warning", |l| warning(&l.to_string()));
            warned = 1;
        }
        warned += s.drain_lines().iter().filter(|l| warning(l)).count();
        assert_eq!(warned, 1, "{:?}", s.startup);
    }
    assert_confined(s.pid(), 4);
}

#[test]
fn sandbox_off_and_require() {
    let s = Server::start(&["--threads", "1", "--sandbox", "off"]);
    assert!(sandbox_line(&s).starts_with("sandbox: off, "));
    for st in tasks(s.pid()) {
        assert_eq!(field(&st, "Seccomp"), "0");
    }
    drop(s);
    if !is_root() {
        return;
    }
    // As root, require wants --user too.
    let out = Command::new(env!("CARGO_BIN_EXE_tarweb-serve"))
        .arg(&site().path)
        .args(["--listen", "127.0.0.1:0", "--sandbox", "require"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--sandbox require: missing a user other than root (--user)"),
        "{err}"
    );
    let t0 = Instant::now();
    let s = Server::start(&["--threads", "1", "--sandbox", "require", "--user", "nobody"]);
    let line = sandbox_line(&s);
    assert!(!line.contains("unavailable"), "{line}");
    assert!(s.client().get("/app.js", "").body == site().files["/app.js"]);
    assert!(t0.elapsed() < Duration::from_secs(20));
}
