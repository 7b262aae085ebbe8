//! `--metrics-listen`: the Prometheus text at `/metrics`, linted by
//! `promtool check metrics` and scraped once by a real Prometheus;
//! requests made with curl (HTTP/1.0, 1.1, 2 and HTTPS).

mod common;
use common::*;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("metrics-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `promtool check metrics` on `text`: the exposition format and the
/// naming conventions (suffixes, HELP, TYPE).
fn promtool(text: &str) {
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus; tools/test-deps.sh)");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(args)
        .output()
        .expect("curl");
    String::from_utf8(out.stdout).unwrap()
}

/// A self-signed certificate for 127.0.0.1, as PEM files.
fn cert(dir: &std::path::Path) -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, ck.cert.pem()).unwrap();
    std::fs::write(&k, ck.signing_key.serialize_pem()).unwrap();
    (
        c.to_str().unwrap().to_string(),
        k.to_str().unwrap().to_string(),
    )
}

/// Waits (bounded) until `f` holds of the metrics text; returns it.
fn wait_metrics(s: &Server, f: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = s.metrics();
        if f(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "metrics never got there:\n{t}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn requests_by_label_tls_and_promtool() {
    let dir = tmpdir("labels");
    let (c, k) = cert(&dir);
    let s = Server::start(&[
        "--threads",
        "2",
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        &c,
        "--tls-key",
        &k,
    ]);
    // Before any request: every family is there, and lints clean.
    promtool(&s.metrics());
    let https = format!("https://127.0.0.1:{}/", s.addrs[1].port());
    let plain = s.url("/");
    assert_eq!(curl(&[&plain]), "200");
    assert_eq!(curl(&[&plain]), "200");
    assert_eq!(curl(&["-I", &plain]), "200");
    assert_eq!(curl(&["-0", &plain]), "200");
    assert_eq!(curl(&["--http2-prior-knowledge", &plain]), "200");
    assert_eq!(curl(&[&s.url("/nope")]), "404");
    assert_eq!(curl(&["-X", "DELETE", &plain]), "405");
    assert_eq!(curl(&["-k", "--http1.1", &https]), "200");
    // Plain HTTP on the TLS port: a 400 and a handshake failure.
    let on_tls_port = format!("http://127.0.0.1:{}/", s.addrs[1].port());
    assert_eq!(curl(&[&on_tls_port]), "400");
    // Not TLS at all: garbage where a ClientHello belongs.
    {
        let mut t = std::net::TcpStream::connect(s.addrs[1]).unwrap();
        t.write_all(&[0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5])
            .unwrap();
        let _ = t.set_read_timeout(Some(Duration::from_secs(5)));
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut t, &mut sink);
    }

    let t = wait_metrics(&s, |t| {
        metric_in(t, "tarweb_request_duration_seconds_count") >= 8.0
            && metric_in(
                t,
                r#"tarweb_tls_handshake_failures_total{reason="protocol"}"#,
            ) >= 1.0
    });
    promtool(&t);
    let m = |series: &str| metric_in(&t, series);
    let r = |code: &str, method: &str, proto: &str| {
        m(&format!(
            r#"tarweb_requests_total{{code="{code}",method="{method}",protocol="{proto}",vhost="_default"}}"#
        ))
    };
    // Two plain GETs and the HTTPS one.
    assert_eq!(r("2xx", "GET", "1.1"), 3.0, "{t}");
    assert_eq!(r("2xx", "HEAD", "1.1"), 1.0, "{t}");
    assert_eq!(r("2xx", "GET", "1.0"), 1.0, "{t}");
    assert_eq!(r("2xx", "GET", "2"), 1.0, "{t}");
    assert_eq!(r("4xx", "GET", "1.1"), 1.0, "{t}");
    assert_eq!(r("4xx", "other", "1.1"), 1.0, "{t}");
    // The 400 on the TLS port is no request of HTTP's.
    assert_eq!(m("tarweb_request_duration_seconds_count"), 8.0, "{t}");
    assert_eq!(
        m(r#"tarweb_request_duration_seconds_bucket{le="+Inf"}"#),
        8.0
    );
    assert!(m(r#"tarweb_response_body_bytes_total{vhost="_default"}"#) > 0.0);
    assert_eq!(m("tarweb_tls_handshakes_total"), 1.0, "{t}");
    // This host has no kTLS: user-space records (make test-ktls covers
    // the kernel's).
    assert_eq!(
        m(r#"tarweb_tls_connections_total{records="kernel"}"#)
            + m(r#"tarweb_tls_connections_total{records="user"}"#),
        1.0,
        "{t}"
    );
    assert_eq!(
        m(r#"tarweb_tls_handshake_failures_total{reason="plain_http"}"#),
        1.0,
        "{t}"
    );
    assert_eq!(
        m(r#"tarweb_tls_handshake_failures_total{reason="protocol"}"#),
        1.0,
        "{t}"
    );
    assert_eq!(m("tarweb_connections_accepted_total"), 10.0, "{t}");
    assert!(m(r#"tarweb_syscalls_total{call="accept4"}"#) >= 10.0, "{t}");
    assert_eq!(m("tarweb_workers"), 2.0);
    assert!(
        t.contains("tarweb_root_info{vhost=\"_default\",digest=\""),
        "{t}"
    );
    // `/` keeps the old lines, and they agree.
    assert_eq!(s.stats()["requests"], 8);
}

#[test]
fn connections_by_state() {
    let s = Server::start(&["--threads", "1"]);
    let mut c = s.client();
    assert_eq!(c.get("/empty.txt", "").status, 200);
    wait_metrics(&s, |t| {
        metric_in(t, r#"tarweb_connections{state="idle"}"#) == 1.0
    });
    // Half a head: reading.
    let mut half = s.client();
    half.send(b"GET / HTTP/1.1\r\n");
    wait_metrics(&s, |t| {
        metric_in(t, r#"tarweb_connections{state="reading"}"#) == 1.0
    });
    // A large response to a client that does not read: writing.
    let mut stalled = s.client();
    stalled.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_metrics(&s, |t| {
        metric_in(t, r#"tarweb_connections{state="writing"}"#) == 1.0
    });
    drop(c);
    drop(half);
    drop(stalled);
    let t = wait_metrics(&s, |t| {
        ["idle", "reading", "writing", "closing"]
            .iter()
            .all(|st| metric_in(t, &format!(r#"tarweb_connections{{state="{st}"}}"#)) == 0.0)
    });
    promtool(&t);
}

#[test]
fn vhosts_swaps_and_refused_blobs() {
    let dir = tmpdir("vhosts");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("index.html"), "one").unwrap();
    let sites = dir.join("sites");
    std::fs::create_dir_all(&sites).unwrap();
    let a = pack(&src, &sites.join("a.example.twb"));
    std::fs::write(src.join("index.html"), "two").unwrap();
    let b = pack(&src, &sites.join("b.example.twb"));
    let s = Server::start_sites(
        &sites,
        &[
            "--threads",
            "1",
            "--watch",
            "poll",
            "--watch-interval-ms",
            "50",
        ],
    );
    for (host, code) in [
        ("a.example", "200"),
        ("b.example", "200"),
        ("c.example", "421"),
    ] {
        let h = format!("Host: {host}");
        assert_eq!(curl(&["-H", &h, &s.url("/")]), code, "{host}");
    }
    let t = wait_metrics(&s, |t| {
        metric_in(t, "tarweb_request_duration_seconds_count") == 3.0
    });
    promtool(&t);
    for (vhost, code) in [("a.example", "2xx"), ("b.example", "2xx"), ("_none", "4xx")] {
        let series = format!(
            r#"tarweb_requests_total{{code="{code}",method="GET",protocol="1.1",vhost="{vhost}"}}"#
        );
        assert_eq!(metric_in(&t, &series), 1.0, "{series}\n{t}");
    }
    for (vhost, digest) in [("a.example", &a), ("b.example", &b)] {
        let series = format!(r#"tarweb_root_info{{vhost="{vhost}",digest="{digest}"}}"#);
        assert_eq!(metric_in(&t, &series), 1.0, "{series}\n{t}");
    }
    assert_eq!(metric_in(&t, "tarweb_root_swaps_total"), 0.0, "{t}");
    // A new site is a swap; a file that is no blob is refused.
    std::fs::write(src.join("index.html"), "three").unwrap();
    let tmp = dir.join("c.tmp");
    pack(&src, &tmp);
    std::fs::rename(&tmp, sites.join("c.example.twb")).unwrap();
    std::fs::write(dir.join("d.tmp"), "not a blob").unwrap();
    std::fs::rename(dir.join("d.tmp"), sites.join("d.example.twb")).unwrap();
    // The watcher may take the two in separate polls: wait for both.
    let t = wait_metrics(&s, |t| {
        metric_in(t, "tarweb_root_swaps_total") >= 1.0
            && metric_in(t, "tarweb_blobs_refused_total") >= 1.0
            && t.contains(r#"tarweb_root_info{vhost="c.example","#)
    });
    assert!(!t.contains(r#"vhost="d.example""#), "{t}");
    promtool(&t);
}

/// A free loopback port (bound and released: Prometheus takes no port 0).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real Prometheus scrapes the endpoint; its own view of the target
/// (up, and a counter's value) is asked through its HTTP API.
#[test]
fn prometheus_scrapes_it() {
    let s = Server::start(&["--threads", "1"]);
    for _ in 0..3 {
        assert_eq!(curl(&[&s.url("/")]), "200");
    }
    let dir = tmpdir("prometheus");
    let port = free_port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: tarweb\n    static_configs:\n      - targets: ['{}']\n",
            s.stats
        ),
    )
    .unwrap();
    let mut p = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (apt-get install prometheus; tools/test-deps.sh)");
    let query = |q: &str| -> Option<String> {
        let out = Command::new("curl")
            .args(["-s", "--max-time", "5", "-G"])
            .arg(format!("http://127.0.0.1:{port}/api/v1/query"))
            .args(["--data-urlencode", &format!("query={q}")])
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let r = v["data"]["result"].as_array()?.first()?.clone();
        Some(r["value"][1].as_str()?.to_string())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = (None, None);
    while Instant::now() < deadline {
        got = (
            query("up{job=\"tarweb\"}"),
            query("sum(tarweb_requests_total{job=\"tarweb\",code=\"2xx\"})"),
        );
        if got.0.as_deref() == Some("1") && got.1.as_deref() == Some("3") {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = p.kill();
    let _ = p.wait();
    assert_eq!(got.0.as_deref(), Some("1"), "up: {got:?}");
    assert_eq!(got.1.as_deref(), Some("3"), "requests: {got:?}");
}
