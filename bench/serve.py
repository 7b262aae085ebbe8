#!/usr/bin/env python3
"""tarweb-serve against nginx, side by side, in one run (issue 3's matrix).

Run through `bash bench/serve.sh` (installs nginx, wrk, strace, builds and
packs). Main mode: each server pinned to core 0 with one worker, the load
generator pinned to core 1; ROUNDS rounds of DURATION seconds per case, the
two servers alternating inside every round so drift hits both; medians.

Per case: req/s, p50/p99 latency, server CPU seconds per 100k requests
(utime+stime of every server process from /proc/PID/stat), syscalls per
request (`strace -c -f` attached for a short separate run), and the ratio
tarweb/nginx. Then RSS per idle keep-alive connection at 10,000 connections.
Writes bench/results.md. Every step is bounded in time; only processes
started here are stopped, by PID.
"""

import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ["BENCH_OUT"]  # scratch dir made by serve.sh
TW_BIN = os.environ["TW_BIN"]
BIGGET = os.environ["BIGGET"]  # bench/bigget, the large-file client
TW_SITE = os.environ["TW_SITE"]  # root packed by tarweb-pack
NG_ROOT = os.environ["NG_ROOT"]  # the same files, plus .gz/.br siblings
HTML = os.environ["HTML_PATH"]  # the median-sized real page, /doc/library/queue.html
HTML_LARGE = os.environ.get("HTML_LARGE_PATH")  # a larger one, /doc/tutorial/classes.html


def page_label(path):
    """'HTML 52 KB': the size is in the name so a reader knows which page."""
    return f"HTML {os.path.getsize(NG_ROOT + path) / 1000:.0f} KB"


DURATION = float(os.environ.get("DURATION", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
ONLY = os.environ.get("CASES", "")  # substring filter on case names
IDLE_CONNS = int(os.environ.get("IDLE_CONNS", "10000"))
TW_PORT, NG_PORT = 18080, 18081
SERVER_CPU, CLIENT_CPU = "0", "1"
TICK = os.sysconf("SC_CLK_TCK")
RESULTS = os.path.join(REPO, "bench", "results.md")
CC_SYSCTL = "/proc/sys/net/ipv4/tcp_congestion_control"
with open(CC_SYSCTL) as _f:
    SYSTEM_CC = _f.read().strip()  # restored at exit if a case changed it
# The 16 MiB case also runs without pacing: BBR (a common default, this
# machine's) paces every connection with a kernel timer, which caps a
# loopback transfer at a third of what cubic gets, for both servers.
UNPACED_CC = "cubic"


def log(*a):
    print(">>", *a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------

NGINX_CONF = """\
# As an expert would set nginx up for static files (issue 3's list).
load_module /usr/lib/nginx/modules/ngx_http_brotli_static_module.so;
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid {out}/nginx.pid;
error_log {out}/nginx-error.log warn;
events {{ worker_connections 32768; use epoll; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush {nopush};
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;
    gzip_static on;
    brotli_static on;
    server_tokens off;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        root {root};
        index index.html;
    }}
}}
"""


RUNNING = set()


def stop_all():
    for s in list(RUNNING):
        s.stop()


class Server:
    def __init__(self, name, port, argv):
        self.name, self.port, self.argv = name, port, argv
        self.proc = None

    def start(self, extra=()):
        # A leftover server on the port (SO_REUSEPORT lets both listen)
        # would take half the connections and skew every figure.
        probe = socket.socket()
        # SO_REUSEADDR: TIME_WAIT leftovers are fine, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", self.port))
        except OSError:
            sys.exit(f"port {self.port} is in use: stop what listens there first")
        finally:
            probe.close()
        RUNNING.add(self)
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU] + self.argv + list(extra),
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(OUT, self.name + ".log"), "ab"),
            preexec_fn=raise_nofile,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                time.sleep(0.2)  # let nginx fork its worker
                return
            except OSError:
                if self.proc.poll() is not None:
                    sys.exit(f"{self.name} exited: see {OUT}/{self.name}.log")
                time.sleep(0.05)
        sys.exit(f"{self.name} did not listen on {self.port} within 10 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        RUNNING.discard(self)

    def pids(self):
        """The server's process and its children (nginx's worker)."""
        out = [self.proc.pid]
        for p in out:
            for task in os.listdir(f"/proc/{p}/task"):
                try:
                    with open(f"/proc/{p}/task/{task}/children") as f:
                        out += [int(c) for c in f.read().split()]
                except OSError:
                    pass
        return out

    def cpu_seconds(self):
        total = 0
        for p in self.pids():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except OSError:
                pass
        return total / TICK

    def rss_bytes(self):
        total = 0
        for p in self.pids():
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total


def raise_nofile():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def servers():
    for name, nopush in (("nginx.conf", "on"), ("nginx-nopush-off.conf", "off")):
        with open(os.path.join(OUT, name), "w") as f:
            f.write(NGINX_CONF.format(out=OUT, port=NG_PORT, root=NG_ROOT, nopush=nopush))
    tw = Server(
        "tarweb",
        TW_PORT,
        [TW_BIN, TW_SITE, "--listen", f"127.0.0.1:{TW_PORT}", "--threads", "1",
         # Matches nginx's keepalive_requests above.
         "--max-requests-per-connection", "1000000",
         "--max-connections", "32768"],
    )
    ng = Server("nginx", NG_PORT, ["nginx", "-c", os.path.join(OUT, "nginx.conf"), "-p", OUT])
    # Only for the 16 MiB row that shows what TCP_CORK costs nginx there.
    ng_nocork = Server("nginx", NG_PORT,
                       ["nginx", "-c", os.path.join(OUT, "nginx-nopush-off.conf"), "-p", OUT])
    return tw, ng, ng_nocork


# --------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------


def parse_latency(s):
    m = re.match(r"([\d.]+)(us|ms|s)$", s)
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]  # -> ms


def wrk(port, path, conns, headers, duration):
    """One wrk run: (requests, req/s, p50 ms, p99 ms, errors)."""
    threads = min(2, conns)
    argv = ["taskset", "-c", CLIENT_CPU, "wrk", f"-t{threads}", f"-c{conns}",
            f"-d{int(duration)}s", "--latency", "--timeout", "5s"]
    for h in headers:
        argv += ["-H", h]
    argv.append(f"http://127.0.0.1:{port}{path}")
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True,
                         timeout=duration + 30, preexec_fn=raise_nofile).stdout
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # taskset execs wrk: its CPU is this child's. A share near 1.0 of its
    # one core means the client, not the server, set the req/s.
    client = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / duration
    req = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = parse_latency(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = parse_latency(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return req, rps, p50, p99, errors, client


def big_client(port, path, conns, duration):
    """Keep-alive GETs read with 4 MiB buffers, bodies dropped in the kernel
    (bench/bigget; wrk reads 8 KiB at a time and copies every byte out, so
    from ~50 KB on it, not the server, is the limit).
    Returns (requests, bytes, p50 ms, p99 ms, client CPU share)."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, BIGGET, f"127.0.0.1:{port}", path,
                          str(conns), str(duration)],
                         capture_output=True, text=True, timeout=duration + 30)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit("large-file client failed: " + out.stderr)
    client = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / duration
    req, nbytes, p50, p99 = out.stdout.split()
    return int(req), int(nbytes), float(p50), float(p99), client


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

GZBR = ["Accept-Encoding: gzip, br"]
CLOSE = ["Connection: close"]


def cases():
    out = []
    html = page_label(HTML)
    for label, path, hdr in [("1 KiB", "/1k.html", []), ("64 KiB", "/64k.bin", []),
                             (html, HTML, []), (f"{html} gzip,br", HTML, GZBR)]:
        for c in (1, 50, 500):
            out.append(dict(name=f"{label} c={c}", path=path, conns=c, headers=hdr, kind="wrk"))
    if HTML_LARGE:
        # Upper-quartile page at c=50 only: here wrk's one core reading 8 KiB
        # at a time is the limit for both servers, so req/s cannot separate them.
        big = page_label(HTML_LARGE)
        out.append(dict(name=f"{big} c=50", path=HTML_LARGE, conns=50, headers=[], kind="wrk"))
        out.append(dict(name=f"{big} gzip,br c=50", path=HTML_LARGE, conns=50, headers=GZBR, kind="wrk"))
    # The same pages with a client that is not the limit (bench/bigget):
    # with wrk, both servers sit at wrk's ceiling and req/s says nothing.
    for p in [HTML] + ([HTML_LARGE] if HTML_LARGE else []):
        out.append(dict(name=f"{page_label(p)} c=50, bigget", path=p, conns=50, headers=[],
                        kind="big"))
    out.append(dict(name="1 KiB close c=50", path="/1k.html", conns=50, headers=CLOSE, kind="wrk"))
    out.append(dict(name=f"{html} close c=50", path=HTML, conns=50, headers=CLOSE, kind="wrk"))
    out.append(dict(name="16 MiB c=4", path="/16m.bin", conns=4, headers=[], kind="big"))
    if SYSTEM_CC != UNPACED_CC:
        # Both servers under the same unpaced algorithm (the sysctl, for
        # this case only): the send paths compared without the pacer.
        out.append(dict(name=f"16 MiB c=4, both {UNPACED_CC}", path="/16m.bin", conns=4,
                        headers=[], kind="big", cc=UNPACED_CC))
        # What an operator gets from --tcp-congestion on a loopback listener
        # (nginx has no such setting: it keeps the system's).
        out.append(dict(name=f"16 MiB c=4, tarweb --tcp-congestion {UNPACED_CC}", path="/16m.bin",
                        conns=4, headers=[], kind="big",
                        tw_extra=["--tcp-congestion", UNPACED_CC]))
    # nginx's tcp_nopush (TCP_CORK for the whole body) under a pacing
    # algorithm halves its large-file throughput on loopback; tarweb only
    # sends the head with MSG_MORE. This row shows nginx without the cork.
    out.append(dict(name="16 MiB c=4, nginx tcp_nopush off", path="/16m.bin", conns=4,
                    headers=[], kind="big", nginx_nopush_off=True))
    return [c for c in out if ONLY in c["name"]]


def set_system_cc(name):
    """The system's TCP congestion control (root only; untouched when it
    already is `name`, so cases that keep it need no privilege)."""
    with open(CC_SYSCTL) as f:
        if f.read().strip() == name:
            return
    with open(CC_SYSCTL, "w") as f:
        f.write(name)


def measure(server, case):
    """One round of one case on one server."""
    cpu0 = server.cpu_seconds()
    if case["kind"] == "big":
        req, nbytes, p50, p99, client = big_client(server.port, case["path"], case["conns"],
                                                   DURATION)
        errors = 0
        rps = req / DURATION
        gbps = nbytes / DURATION / 1e9
    else:
        req, rps, p50, p99, errors, client = wrk(server.port, case["path"], case["conns"],
                                                 case["headers"], DURATION)
        gbps = None
    cpu = server.cpu_seconds() - cpu0
    return dict(req=req, rps=rps, p50=p50, p99=p99, errors=errors, gbps=gbps,
                cpu100k=cpu / max(req, 1) * 1e5,
                client=client)


def strace_per_request(server, case):
    """Syscalls per request: strace -c -f attached to the running server
    for a short separate wrk run (tracing slows it, so the count, not the
    speed, is what this run is for)."""
    out = os.path.join(OUT, f"strace-{server.name}.txt")
    argv = ["strace", "-c", "-f", "-o", out]
    for p in server.pids():
        argv += ["-p", str(p)]
    st = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attach
    if case["kind"] == "big":
        req = big_client(server.port, case["path"], case["conns"], 2)[0]
    else:
        req = wrk(server.port, case["path"], min(case["conns"], 50), case["headers"], 2)[0]
    time.sleep(0.2)
    st.send_signal(signal.SIGINT)
    st.wait(timeout=30)
    if not req:
        sys.exit(f"strace run on {server.name} made no request")
    calls, per = 0, {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and re.match(r"^[\d.]+$", parts[0]) and parts[-1] != "total":
                per[parts[-1]] = int(parts[3])
                calls += int(parts[3])
    top = sorted(per.items(), key=lambda kv: -kv[1])[:5]
    return calls / max(req, 1), ", ".join(f"{k} {v / max(req, 1):.2f}" for k, v in top)


IDLE_CLIENT = r"""
import socket, resource, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET /1k.html HTTP/1.1\r\nHost: bench\r\n\r\n"
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    got = b""
    while b"\r\n\r\n" not in got or len(got) < got.find(b"\r\n\r\n") + 4 + 1024:
        k = s.recv(4096)
        if not k:
            raise SystemExit(f"connection {i} closed")
        got += k
    socks.append(s)
print("open", flush=True)
sys.stdin.readline()  # hold them until told
"""


def rss_per_idle_conn(server):
    server.start()
    time.sleep(0.5)
    before = server.rss_bytes()
    cl = subprocess.Popen(["taskset", "-c", CLIENT_CPU, sys.executable, "-c", IDLE_CLIENT,
                           str(server.port), str(IDLE_CONNS)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = cl.stdout.readline()
        if line.strip() != "open":
            sys.exit(f"idle-connection client failed against {server.name}")
        time.sleep(1)
        after = server.rss_bytes()
    finally:
        cl.stdin.close()
        cl.wait(timeout=30)
        server.stop()
    return before, after, (after - before) / IDLE_CONNS


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def med(rows, key):
    vals = [r[key] for r in rows if r[key] is not None]
    return statistics.median(vals) if vals else None


def main():
    tw, ng_default, ng_nocork = servers()
    results = []
    for case in cases():
        log(f"{case['name']}: {ROUNDS} x {DURATION:g} s each")
        ng = ng_nocork if case.get("nginx_nopush_off") else ng_default
        rounds = {"tarweb": [], "nginx": []}
        set_system_cc(case.get("cc", SYSTEM_CC))
        extra = {"tarweb": case.get("tw_extra", []), "nginx": []}
        for r in range(ROUNDS):
            order = (tw, ng) if r % 2 == 0 else (ng, tw)
            for s in order:
                s.start(extra[s.name])
                # Warm-up: page cache, nginx's open_file_cache, TCP.
                if case["kind"] == "wrk":
                    wrk(s.port, case["path"], min(case["conns"], 50), case["headers"], 1)
                else:
                    big_client(s.port, case["path"], case["conns"], 1)
                rounds[s.name].append(measure(s, case))
                s.stop()
        sys_ = {}
        for s in (tw, ng):
            s.start(extra[s.name])
            sys_[s.name] = strace_per_request(s, case)
            s.stop()
        set_system_cc(SYSTEM_CC)
        row = dict(case=case)
        for name in ("tarweb", "nginx"):
            rr = rounds[name]
            row[name] = {k: med(rr, k) for k in ("rps", "p50", "p99", "cpu100k", "gbps", "client")}
            row[name]["errors"] = sum(x["errors"] for x in rr)
            row[name]["syscalls"], row[name]["top"] = sys_[name]
        results.append(row)
        t, n = row["tarweb"], row["nginx"]
        log(f"  req/s {t['rps']:.0f} vs {n['rps']:.0f} ({t['rps'] / n['rps']:.2f}x), "
            f"CPU-s/100k {t['cpu100k']:.2f} vs {n['cpu100k']:.2f}, "
            f"syscalls/req {t['syscalls']:.2f} vs {n['syscalls']:.2f}, "
            f"errors {t['errors']}/{n['errors']}")
    idle = {}
    if IDLE_CONNS and ONLY in "idle RSS":
        for s in (tw, ng_default):
            log(f"RSS with {IDLE_CONNS} idle keep-alive connections: {s.name}")
            idle[s.name] = rss_per_idle_conn(s)
    report(results, idle)


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def report(results, idle):
    by = {r["case"]["name"]: r for r in results}
    lines = []
    w = lines.append
    nginx_v = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    w("# tarweb-serve vs nginx: results")
    w("")
    w(f"Command: `make bench-serve` (= `bash bench/serve.sh`), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
      f"{os.cpu_count()} cores, kernel {os.uname().release}, {nginx_v}, {wrk_v.strip()}.")
    w(f"Each server pinned to core 0 with one worker; load pinned to core 1 (wrk -t2; "
      f"cases marked bigget and the 16 MiB ones use bench/bigget, a client with 4 MiB reads that drops bodies in the kernel). {ROUNDS} rounds of {DURATION:g} s per case, "
      "servers alternating; medians. CPU = server utime+stime per 100k requests. "
      "Syscalls = `strace -c -f` on a separate 2 s run, all syscalls / requests. "
      f"TCP congestion control: the system's ({SYSTEM_CC}) unless a case names another. "
      "Ratios are tarweb / nginx.")
    w("")
    w("| case | req/s tarweb | req/s nginx | ratio | p50 / p99 ms tarweb | p50 / p99 ms nginx | CPU-s/100k tarweb | CPU-s/100k nginx | ratio | syscalls/req tarweb | syscalls/req nginx |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        t, n = r["tarweb"], r["nginx"]
        name = r["case"]["name"]
        rps_t, rps_n = f"{t['rps']:,.0f}", f"{n['rps']:,.0f}"
        if t["gbps"] is not None:
            rps_t += f" ({t['gbps']:.2f} GB/s)"
            rps_n += f" ({n['gbps']:.2f} GB/s)"
        w(f"| {name} | {rps_t} | {rps_n} | {fmt(ratio(t['rps'], n['rps']), '.2f')} "
          f"| {t['p50']:.2f} / {t['p99']:.2f} | {n['p50']:.2f} / {n['p99']:.2f} "
          f"| {t['cpu100k']:.2f} | {n['cpu100k']:.2f} | {fmt(ratio(t['cpu100k'], n['cpu100k']), '.2f')} "
          f"| {t['syscalls']:.2f} | {n['syscalls']:.2f} |")
    errs = [(r["case"]["name"], r["tarweb"]["errors"], r["nginx"]["errors"]) for r in results
            if r["tarweb"]["errors"] or r["nginx"]["errors"]]
    w("")
    w("Load generator CPU (wrk's or bigget's share of its one core, median; near 1.00 the client, "
      "not the server, sets the req/s):")
    w("")
    w("- " + "; ".join(f"{r['case']['name']}: {fmt(r['tarweb']['client'], '.2f')} / "
                      f"{fmt(r['nginx']['client'], '.2f')}"
                      for r in results if r["tarweb"]["client"] is not None) +
      " (tarweb / nginx)")
    w("")
    w("Errors (socket errors + non-2xx/3xx, all rounds): " +
      ("none." if not errs else "; ".join(f"{c}: tarweb {a}, nginx {b}" for c, a, b in errs)))
    w("")
    w("Top syscalls per request (strace run):")
    w("")
    for r in results:
        w(f"- {r['case']['name']}: tarweb {r['tarweb']['top']}; nginx {r['nginx']['top']}")
    if idle:
        w("")
        w(f"RSS per idle keep-alive connection, {IDLE_CONNS:,} connections each having made one request:")
        w("")
        for name, (b, a, per) in idle.items():
            w(f"- {name}: {b / 2**20:.1f} MiB before, {a / 2**20:.1f} MiB after: **{per:,.0f} bytes per connection**")

    # Targets (issue 3), as ratios tarweb/nginx in this run.
    def get(case, server, key):
        r = by.get(case)
        return r[server][key] if r else None

    def rt(case, key):
        return ratio(get(case, "tarweb", key), get(case, "nginx", key))

    html = page_label(HTML)
    checks = [
        ("CPU per request, 1 KiB c=50", rt("1 KiB c=50", "cpu100k"), "<=", 0.6),
        ("CPU per request, 1 KiB c=500", rt("1 KiB c=500", "cpu100k"), "<=", 0.6),
        (f"CPU per request, {html} c=50", rt(f"{html} c=50", "cpu100k"), "<=", 0.75),
        (f"CPU per request, {html} gzip,br c=50", rt(f"{html} gzip,br c=50", "cpu100k"), "<=", 0.75),
        ("req/s, 1 KiB c=50", rt("1 KiB c=50", "rps"), ">=", 1.5),
        (f"req/s, {html} c=50", rt(f"{html} c=50", "rps"), ">=", 1.2),
        (f"req/s, {html} gzip,br c=50", rt(f"{html} gzip,br c=50", "rps"), ">=", 1.2),
        (f"req/s, {html} c=50, bigget", rt(f"{html} c=50, bigget", "rps"), ">=", 1.2),
    ]
    if HTML_LARGE:
        # The same goals on the larger page, reported next to the main ones.
        big = page_label(HTML_LARGE)
        checks += [
            (f"CPU per request, {big} c=50", rt(f"{big} c=50", "cpu100k"), "<=", 0.75),
            (f"CPU per request, {big} gzip,br c=50", rt(f"{big} gzip,br c=50", "cpu100k"), "<=", 0.75),
            (f"req/s, {big} c=50", rt(f"{big} c=50", "rps"), ">=", 1.2),
            (f"req/s, {big} gzip,br c=50", rt(f"{big} gzip,br c=50", "rps"), ">=", 1.2),
            (f"req/s, {big} c=50, bigget", rt(f"{big} c=50, bigget", "rps"), ">=", 1.2),
        ]
    checks += [
        ("req/s, Connection: close 1 KiB c=50", rt("1 KiB close c=50", "rps"), ">=", 1.0),
        ("throughput, 16 MiB", rt("16 MiB c=4", "rps"), ">=", 1.5),
        ("p99, 1 KiB c=500", rt("1 KiB c=500", "p99"), "<=", 1.0),
        ("syscalls per keep-alive request (1 KiB c=50, tarweb)", get("1 KiB c=50", "tarweb", "syscalls"), "<=", 2.1),
        ("syscalls per Connection: close request (1 KiB, tarweb)", get("1 KiB close c=50", "tarweb", "syscalls"), "<=", 6.2),
    ]
    def client_bound(target):
        r = by.get(target.split(", ", 1)[1])
        return bool(r) and all((r[x]["client"] or 0) >= 0.95 for x in ("tarweb", "nginx"))

    w("")
    w("## Targets (issue 3)")
    w("")
    w("| target | measured | goal | |")
    w("|---|---:|---:|---|")
    for name, v, op, goal in checks:
        if v is None:
            w(f"| {name} | not run | {op} {goal} | |")
            continue
        ok = v <= goal if op == "<=" else v >= goal
        verdict = "PASS" if ok else "MISS"
        if not ok and name.startswith("req/s") and client_bound(name):
            verdict += " (the client at its core's limit for both servers)"
        # Three decimals where two would round a miss onto the goal (1.496).
        shown = f"{v:.3f}" if round(v, 2) == goal else f"{v:.2f}"
        w(f"| {name} | {shown} | {op} {goal} | {verdict} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not ONLY:
        with open(RESULTS, "w") as f:
            f.write(text)
        log(f"written: {os.path.relpath(RESULTS, REPO)}")
    else:
        log("CASES filter set: bench/results.md left as it was")


SWEEP_KIB = [8, 16, 32, 48, 64, 128, 256, 512, 1024, 2048]


def threshold_sweep():
    """The same file sizes served all by writev (threshold above them) and
    all by sendfile (threshold 0): server CPU per request and req/s, wrk
    c=50. The default threshold goes where sendfile starts to win."""
    modes = {"writev": str(1 << 40), "sendfile": "0"}
    rows = []
    for kib in SWEEP_KIB:
        path = f"/sweep/{kib}.bin"
        res = {m: [] for m in modes}
        for r in range(ROUNDS):
            for m, thr in (modes.items() if r % 2 == 0 else reversed(modes.items())):
                s = Server("tarweb", TW_PORT,
                           [TW_BIN, TW_SITE, "--listen", f"127.0.0.1:{TW_PORT}", "--threads", "1",
                            "--max-requests-per-connection", "1000000", "--sendfile-threshold", thr])
                s.start()
                wrk(s.port, path, 50, [], 1)
                res[m].append(measure(s, dict(kind="wrk", path=path, conns=50, headers=[])))
                s.stop()
        row = {m: (med(res[m], "rps"), med(res[m], "cpu100k")) for m in modes}
        log(f"{kib} KiB: writev {row['writev'][0]:.0f} req/s {row['writev'][1]:.2f} CPU-s/100k; "
            f"sendfile {row['sendfile'][0]:.0f} req/s {row['sendfile'][1]:.2f} CPU-s/100k")
        rows.append((kib, row))
    lines = ["# writev vs sendfile: where the threshold goes", "",
             f"Command: `bash bench/serve.sh threshold`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
             f"tarweb-serve alone, one thread pinned to core 0, wrk -t2 -c50 pinned to core 1, "
             f"{ROUNDS} rounds of {DURATION:g} s, medians. Random bytes (identity).", "",
             "| body | writev req/s | sendfile req/s | writev CPU-s/100k | sendfile CPU-s/100k | sendfile/writev CPU |",
             "|---:|---:|---:|---:|---:|---:|"]
    for kib, row in rows:
        (wr, wc), (sr, sc) = row["writev"], row["sendfile"]
        lines.append(f"| {kib} KiB | {wr:,.0f} | {sr:,.0f} | {wc:.2f} | {sc:.2f} | {sc / wc:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(REPO, "bench", "threshold.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    try:
        if sys.argv[1:] == ["threshold"]:
            threshold_sweep()
        else:
            main()
    finally:
        stop_all()
        set_system_cc(SYSTEM_CC)
