#!/usr/bin/env python3
"""Alternating A/B of server variants on one wrk case: each variant runs
pinned to core 0, wrk -t2 pinned to core 1; every round runs every variant
once in turn (the order rotated every round), so slow drifts of this
noisy machine hit all of them alike.
Prints per variant the median req/s and server CPU-s per 100k requests
(from /proc/<pid>/task/*/schedstat, children included, so nginx's worker
counts), each round's CPU, and the ratio to the first variant.

Usage (from the repository root, on a work dir `bench/serve.sh` left, which
holds site.twb, root/ and nginx.conf on port 18081):
  python3 bench/ab.py PATH CONNS ROUNDS SECONDS NAME=PORT:COMMAND...
  e.g. D=/tmp/tarweb-bench.XXXX; TW="target/release/tarweb-serve $D/site.twb \\
         --threads 1 --max-requests-per-connection 1000000"
  python3 bench/ab.py /doc/library/queue.html 50 8 4 \\
    "nohot=18080:$TW --hot-responses 0 --listen 127.0.0.1:18080" \\
    "hot=18082:$TW --listen 127.0.0.1:18082" \\
    "nginx=18081:nginx -c $D/nginx.conf -p $D"
Environment: HDR, one extra request header for wrk (e.g. 'Accept-Encoding: gzip, br');
CC, a TCP congestion control for the run (e.g. CC=reno, as bench/serve.py's
issue-14 cases use: the sysctl, restored at exit). Besides CPU it prints the
voluntary context switches per request (the worker going to sleep in
epoll_wait), which the load from other processes moves much less than time.
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def cpu_seconds(pid):
    """utime+stime of every thread of `pid` and of its children, in seconds."""
    t = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            t += int(f.read().split()[0]) / 1e9
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for c in f.read().split():
            t += cpu_seconds(int(c))
    return t


def switches(pid):
    """Voluntary context switches of every thread of `pid` and its children."""
    n = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    n += int(line.split()[1])
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for c in f.read().split():
            n += switches(int(c))
    return n


CC_SYSCTL = "/proc/sys/net/ipv4/tcp_congestion_control"


def main():
    cc = os.environ.get("CC")
    if cc:
        with open(CC_SYSCTL) as f:
            system_cc = f.read().strip()
        with open(CC_SYSCTL, "w") as f:
            f.write(cc)
        try:
            run()
        finally:
            with open(CC_SYSCTL, "w") as f:
                f.write(system_cc)
    else:
        run()


def run():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    path, conns, rounds, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    hdr = os.environ.get("HDR", "")
    logs = tempfile.mkdtemp(prefix="tarweb-ab.")
    variants = []
    for spec in sys.argv[5:]:
        name, rest = spec.split("=", 1)
        port, cmd = rest.split(":", 1)
        p = subprocess.Popen(["taskset", "-c", "0", "sh", "-c", "exec " + cmd],
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(logs, name + ".log"), "w"))
        variants.append((name, int(port), p))
    time.sleep(3)
    res = {name: [] for name, _, _ in variants}
    try:
        for r in range(rounds):
            k = r % len(variants)  # rotated, so no variant always runs first
            for name, port, p in variants[k:] + variants[:k]:
                if p.poll() is not None:
                    sys.exit(f"{name} exited; see {logs}/{name}.log")
                argv = ["taskset", "-c", "1", "wrk", "-t2", f"-c{conns}", f"-d{secs}s"]
                if hdr:
                    argv += ["-H", hdr]
                argv.append(f"http://127.0.0.1:{port}{path}")
                c0, v0 = cpu_seconds(p.pid), switches(p.pid)
                out = subprocess.run(argv, capture_output=True, text=True,
                                     timeout=secs + 30).stdout
                c1, v1 = cpu_seconds(p.pid), switches(p.pid)
                m = re.search(r"(\d+) requests in", out)
                if not m:
                    sys.exit(f"{name}: wrk said: {out}")
                req = int(m.group(1))
                res[name].append((req / secs, (c1 - c0) / max(req, 1) * 1e5,
                                  (v1 - v0) / max(req, 1)))
    finally:
        for _, _, p in variants:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
    base = None
    for name, _, _ in variants:
        rps = statistics.median(x[0] for x in res[name])
        cpu = statistics.median(x[1] for x in res[name])
        vcs = statistics.median(x[2] for x in res[name])
        base = base or cpu
        rounds_cpu = " ".join(f"{x[1]:.3f}" for x in res[name])
        print(f"{name:10s} req/s {rps:9.0f}  CPU-s/100k {cpu:6.3f}  "
              f"ratio to first {cpu / base:.3f}  sleeps/req {vcs:.3f}  rounds: {rounds_cpu}")


if __name__ == "__main__":
    main()
