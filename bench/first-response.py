#!/usr/bin/env python3
"""Time from starting tarweb-serve to its first 200 response, and of a live
swap (rename of a new blob over the served one -> first response carrying
the new root's digest). Loopback only; every wait bounded.

Usage: first-response.py SERVE_BIN BLOB [SWAP_BLOB] [-- extra serve args]
Prints: start_ms=... [swap_ms=... rename_ms=...]
"""
import os, socket, subprocess, sys, time

def get(port, path=b"/"):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    except OSError:
        return None
    try:
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            c = s.recv(65536)
            if not c:
                break
            data += c
        return data
    except OSError:
        return None
    finally:
        s.close()

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--"); extra = args[i + 1:]; args = args[:i]
    serve, blob = args[0], args[1]
    swap = args[2] if len(args) > 2 else None
    port = free_port()
    served = blob + ".served"
    subprocess.run(["cp", "--reflink=auto", blob, served], check=True)
    t0 = time.monotonic()
    p = subprocess.Popen([serve, "--listen", f"127.0.0.1:{port}", "--root-header", *extra, served],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = None
        while time.monotonic() - t0 < 60:
            r = get(port, b"/d00/p000000.html")
            if r and r.startswith(b"HTTP/1.1 "):
                first = time.monotonic(); break
            time.sleep(0.001)
        out = f"start_ms={(first - t0) * 1000:.1f}" if first else "start_ms=timeout"
        if swap and first:
            old = [l for l in r.split(b"\r\n") if l.lower().startswith(b"tarweb-root:")]
            subprocess.run(["cp", "--reflink=auto", swap, served + ".new"], check=True)
            t1 = time.monotonic()
            os.rename(served + ".new", served)
            # The rename alone: on ext4, renaming over a file starts the
            # writeback of the new one's fresh blocks (auto_da_alloc) in
            # the rename itself, which a 2 GB blob just copied pays here.
            renamed = time.monotonic()
            done = None
            while time.monotonic() - t1 < 60:
                r = get(port, b"/d00/p000000.html")
                if r:
                    cur = [l for l in r.split(b"\r\n") if l.lower().startswith(b"tarweb-root:")]
                    if cur and cur != old:
                        done = time.monotonic(); break
                time.sleep(0.001)
            out += f" swap_ms={(done - t1) * 1000:.1f}" if done else " swap_ms=timeout"
            out += f" rename_ms={(renamed - t1) * 1000:.1f}"
        print(out, flush=True)
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
        for f in (served, served + ".new"):
            try: os.unlink(f)
            except OSError: pass

main()
