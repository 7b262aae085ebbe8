#!/usr/bin/env python3
"""HTTP/2 over TLS 1.3: tarweb-serve beside nginx (`ssl http2`) and h2o,
same bytes, same certificate (ECDSA P-256), in one run. Each server has
one worker pinned to core 0; h2load runs on core 1. Rounds rotate the
order of the servers, so the machine's drifts hit all of them alike.

Cases (the issue's): a 1 KiB file with `-c 50 -m 10`, a 51 KB HTML page
with `-c 50 -m 10`, a 16 MiB file with `-c 4 -m 1`. Per server and case:
median req/s and server CPU-seconds per 100k requests (utime+stime of
every thread, from /proc/<pid>/task/*/schedstat), then the ratios of
tarweb to each peer.

Usage (from the repository root):
  python3 bench/h2.py [ROUNDS] [REQUESTS_1K]
Environment: TCP_CC=reno sets net.ipv4.tcp_congestion_control for the run
(restored at exit); KTLS=off adds nothing here (this machine has none).
Needs nginx, h2o, h2load (nghttp2-client), openssl, taskset. Servers are
stopped by PID.
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
PORTS = {"tarweb": 18543, "nginx": 18544, "h2o": 18545}


def cpu_seconds(pid):
    t = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            t += int(f.read().split()[0]) / 1e9
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for c in f.read().split():
            t += cpu_seconds(int(c))
    return t


def site(d):
    root = os.path.join(d, "root")
    os.makedirs(root)
    with open(os.path.join(root, "1k.txt"), "wb") as f:
        f.write((b"tarweb counts every syscall. " * 40)[:1024])
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><html><head><title>bench</title></head><body>\n")
        i = 0
        while f.tell() < 51 * 1024:
            f.write(f"<p>Paragraph {i}: a static site, served by counting syscalls and copies.</p>\n")
            i += 1
        f.write("</body></html>\n")
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(16 << 20))
    return root


def configs(d, root):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 4096; use epoll; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    http2_max_requests 1000000;
    open_file_cache max=100 inactive=60s;
    types {{ text/html html; text/plain txt; application/octet-stream bin; }}
    ssl_protocols TLSv1.3;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    server {{
        listen 127.0.0.1:{PORTS['nginx']} ssl http2 reuseport;
        root {root};
        index index.html;
    }}
}}
""")
    with open(os.path.join(d, "h2o.conf"), "w") as f:
        f.write(f"""num-threads: 1
pid-file: {d}/h2o.pid
error-log: {d}/h2o-error.log
listen:
  host: 127.0.0.1
  port: {PORTS['h2o']}
  ssl:
    certificate-file: {cert}
    key-file: {key}
    minimum-version: TLSv1.2
hosts:
  "localhost:{PORTS['h2o']}":
    paths:
      /:
        file.dir: {root}
""")
    return cert, key


def wait_port(port, proc):
    import socket
    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited: {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened")


def h2load(port, path, n, c, m):
    out = subprocess.run(
        ["taskset", "-c", "1", "h2load", "-n", str(n), "-c", str(c), "-m", str(m), "-t", "1",
         f"https://localhost:{port}{path}"],
        capture_output=True, text=True, timeout=600).stdout
    rate = re.search(r"finished in [\d.]+s, ([\d.]+) req/s", out)
    ok = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded", out)
    proto = re.search(r"Application protocol: (\S+)", out)
    if not rate or not ok or ok.group(1) != ok.group(2) or not proto or proto.group(1) != "h2":
        raise SystemExit(f"h2load against {port}{path} failed:\n{out}")
    return float(rate.group(1))


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n1k = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "tarweb-serve", "-p", "tarweb-pack"],
                   check=True, cwd=ROOT)
    d = tempfile.mkdtemp(prefix="tarweb-bench-h2.")
    root = site(d)
    cert, key = configs(d, root)
    blob = os.path.join(d, "site.twb")
    subprocess.run([os.path.join(TARGET, "release", "tarweb-pack"), "-q", root, "-o", blob], check=True)
    cc_old = None
    # Not CC: cargo's cc-rs takes that for the C compiler.
    cc = os.environ.get("TCP_CC")
    if cc:
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            cc_old = f.read().strip()
        with open("/proc/sys/net/ipv4/tcp_congestion_control", "w") as f:
            f.write(cc)
    cmds = {
        "tarweb": [os.path.join(TARGET, "release", "tarweb-serve"), blob, "--threads", "1",
                   "--listen", "127.0.0.1:0", "--tls-listen", f"127.0.0.1:{PORTS['tarweb']}",
                   "--tls-cert", cert, "--tls-key", key,
                   "--max-requests-per-connection", "100000000"],
        "nginx": ["nginx", "-c", os.path.join(d, "nginx.conf"), "-p", d],
        "h2o": ["h2o", "-c", os.path.join(d, "h2o.conf")],
    }
    procs = {}
    try:
        for name, cmd in cmds.items():
            p = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(d, f"{name}.err"), "w"))
            procs[name] = p
            wait_port(PORTS[name], p)
        cases = [
            ("1 KiB", "/1k.txt", n1k, 50, 10),
            ("51 KB HTML", "/index.html", max(n1k // 5, 1000), 50, 10),
            ("16 MiB", "/big.bin", 40, 4, 1),
        ]
        names = list(cmds)
        results = {(c[0], s): ([], []) for c in cases for s in names}
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for case, path, n, c, m in cases:
                for s in order:
                    h2load(PORTS[s], path, max(n // 10, 10), c, m)  # warm
                    pid = procs[s].pid
                    t0 = cpu_seconds(pid)
                    rate = h2load(PORTS[s], path, n, c, m)
                    cpu = cpu_seconds(pid) - t0
                    results[(case, s)][0].append(rate)
                    results[(case, s)][1].append(cpu / n * 100_000)
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
        print(f"HTTP/2 over TLS 1.3, {rounds} rounds, medians; server on core 0, h2load on core 1"
              + (f", CC={cc}" if cc else ""))
        print(f"{'case':<12} {'server':<8} {'req/s':>10} {'CPU s/100k':>11}")
        for case, *_ in cases:
            med = {s: (statistics.median(results[(case, s)][0]),
                       statistics.median(results[(case, s)][1])) for s in names}
            for s in names:
                print(f"{case:<12} {s:<8} {med[s][0]:>10.0f} {med[s][1]:>11.3f}")
            for peer in names[1:]:
                print(f"{case:<12} tarweb/{peer}: CPU {med['tarweb'][1] / med[peer][1]:.2f}, "
                      f"req/s {med['tarweb'][0] / med[peer][0]:.2f}")
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if cc_old:
            with open("/proc/sys/net/ipv4/tcp_congestion_control", "w") as f:
                f.write(cc_old)


if __name__ == "__main__":
    main()
