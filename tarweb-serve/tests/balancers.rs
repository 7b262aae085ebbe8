//! Real load balancers in front, passing TCP through to two tarweb-serve
//! instances with a PROXY header, for plain HTTP and for TLS (passthrough:
//! the instances do the TLS): HAProxy with `send-proxy-v2` (Debian's
//! `haproxy`) and nginx's `stream` module with `proxy_protocol on` (v1;
//! Debian's `libnginx-mod-stream`), both installed by tools/test-deps.sh.
//! curl connects from 127.0.0.2; the balancer connects to the instances
//! from 127.0.0.1; the instances' access logs must name 127.0.0.2.
//! HAProxy's own health checks (`check-send-proxy`: a v2 LOCAL header,
//! then an HTTP request) are served with the socket's address. These are
//! the snippets tarweb-serve/README.md shows ("Behind a load balancer").

mod common;
use common::*;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("balancer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A port nobody listens on right now (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl");
    (cert, key)
}

struct Balancer(Child);

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "haproxy never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "10",
            "--interface",
            "127.0.0.2",
            "-w",
            "%{http_code}",
            "-o",
            "-",
        ])
        .args(args)
        .output()
        .unwrap();
    let mut body = out.stdout;
    let code = String::from_utf8(body.split_off(body.len() - 3)).unwrap();
    (code, body)
}

/// Two instances with plain and TLS listeners, `--proxy-protocol`,
/// accepting the balancer only, each with its own access log.
struct Pair {
    dir: PathBuf,
    cert: PathBuf,
    servers: Vec<Server>,
    logs: Vec<PathBuf>,
}

fn pair(name: &str) -> Pair {
    let dir = tmpdir(name);
    let (cert, key) = self_signed(&dir);
    let mut servers = Vec::new();
    let mut logs = Vec::new();
    for i in 0..2 {
        let log = dir.join(format!("access-{i}.log"));
        servers.push(Server::start(&[
            "--threads",
            "1",
            "--proxy-protocol",
            "--proxy-from",
            "127.0.0.1",
            "--access-log",
            log.to_str().unwrap(),
            "--tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]));
        logs.push(log);
    }
    Pair {
        dir,
        cert,
        servers,
        logs,
    }
}

impl Pair {
    /// Four requests of each kind through the balancer's two ports (round
    /// robin: both instances get some), then the instances stop and their
    /// logs are checked; `health`: the balancer's checks appear too.
    fn check(mut self, plain: u16, tls: u16, balancer: Balancer, health: bool) {
        wait_listening(plain);
        wait_listening(tls);
        for _ in 0..4 {
            let (code, body) = curl(&[&format!("http://127.0.0.1:{plain}/style.css")]);
            assert_eq!(code, "200");
            assert_eq!(body, site().files["/style.css"]);
            let (code, body) = curl(&[
                "--cacert",
                self.cert.to_str().unwrap(),
                "--resolve",
                &format!("localhost:{tls}:127.0.0.1"),
                &format!("https://localhost:{tls}/index.html"),
            ]);
            assert_eq!(code, "200");
            assert_eq!(body, site().files["/index.html"]);
        }
        if health {
            // A few health checks (every 200 ms).
            std::thread::sleep(Duration::from_millis(700));
        }
        drop(balancer);
        // The logs are written at exit.
        for s in &mut self.servers {
            assert!(s.terminate().success());
        }
        let mut served = [0, 0];
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap();
            let count = |ip: &str, what: &str| {
                text.lines()
                    .filter(|l| l.starts_with(&format!("{ip} ")) && l.contains(what))
                    .count()
            };
            // Each instance got some of both kinds, all from the client
            // (through TLS passthrough, curl and tarweb agree on h2).
            let kinds = [
                count("127.0.0.2", "\"GET /style.css HTTP/1.1\" 200"),
                count("127.0.0.2", "\"GET /index.html HTTP/2.0\" 200"),
            ];
            assert!(kinds[0] >= 1 && kinds[1] >= 1, "{text}");
            served[0] += kinds[0];
            served[1] += kinds[1];
            if health {
                // LOCAL: the socket's own address.
                assert!(
                    count("127.0.0.1", "\"GET /style.css HTTP/1.1\" 200") >= 1,
                    "{text}"
                );
            }
            let others = text
                .lines()
                .filter(|l| {
                    let from_check = health && l.starts_with("127.0.0.1 ");
                    !(l.starts_with("127.0.0.2 ") || from_check)
                })
                .count();
            assert_eq!(others, 0, "{text}");
        }
        assert_eq!(served, [4, 4]);
    }
}

fn spawn(cmd: &mut Command) -> Balancer {
    Balancer(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn haproxy_send_proxy_v2_plain_and_tls_passthrough() {
    assert!(
        Command::new("haproxy").arg("-v").output().is_ok(),
        "haproxy is not installed (tools/test-deps.sh installs it)"
    );
    let p = pair("haproxy");
    let (plain, tls) = (free_port(), free_port());
    let backend = |name: &str, idx: usize, checks: &str| {
        let mut b = format!("backend {name}\n  balance roundrobin\n");
        if !checks.is_empty() {
            b += "  option httpchk\n  http-check send meth GET uri /style.css ver HTTP/1.1 hdr Host t\n";
        }
        for (i, s) in p.servers.iter().enumerate() {
            let port = s.addrs[idx].port();
            b += &format!("  server s{i} 127.0.0.1:{port} send-proxy-v2 {checks}\n");
        }
        b
    };
    let cfg = format!(
        "global\n  maxconn 100\n\
         defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n\
         frontend plain\n  bind 127.0.0.1:{plain}\n  default_backend web\n\
         frontend tls\n  bind 127.0.0.1:{tls}\n  default_backend webtls\n{}{}",
        backend("web", 0, "check check-send-proxy inter 200ms"),
        backend("webtls", 1, ""),
    );
    let cfg_path = p.dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let b = spawn(Command::new("haproxy").arg("-db").arg("-f").arg(&cfg_path));
    p.check(plain, tls, b, true);
}

#[test]
fn nginx_stream_proxy_protocol_v1() {
    let module = "/usr/lib/nginx/modules/ngx_stream_module.so";
    assert!(
        Path::new(module).exists() && Command::new("nginx").arg("-v").output().is_ok(),
        "nginx's stream module is not installed (tools/test-deps.sh installs it)"
    );
    let p = pair("nginx");
    let (plain, tls) = (free_port(), free_port());
    let upstream = |name: &str, idx: usize| {
        let servers: String = p
            .servers
            .iter()
            .map(|s| format!("server 127.0.0.1:{};", s.addrs[idx].port()))
            .collect();
        format!("upstream {name} {{ {servers} }}\n")
    };
    let d = p.dir.display();
    let cfg = format!(
        "load_module {module};\ndaemon off;\nmaster_process off;\npid {d}/nginx.pid;\n\
         error_log {d}/nginx-error.log;\nevents {{}}\nstream {{\n{}{}\
         server {{ listen 127.0.0.1:{plain}; proxy_pass web; proxy_protocol on; }}\n\
         server {{ listen 127.0.0.1:{tls}; proxy_pass webtls; proxy_protocol on; }}\n}}\n",
        upstream("web", 0),
        upstream("webtls", 1),
    );
    let cfg_path = p.dir.join("nginx.conf");
    std::fs::write(&cfg_path, cfg).unwrap();
    let b = spawn(
        Command::new("nginx")
            .arg("-p")
            .arg(&p.dir)
            .arg("-c")
            .arg(&cfg_path),
    );
    p.check(plain, tls, b, false);
}
