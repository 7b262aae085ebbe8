#!/usr/bin/env python3
"""An HTTP/2 peer for tests/h2.rs: Python's h2 library as a well-behaved
client, and hyperframe/hpack (h2's own framing and header coding) for the
frames a well-behaved client would never send.

    peer.py SCENARIO PORT [--tls] [ARGS...]

Each scenario prints one JSON object: what the server did (the statuses,
bodies' digests, the GOAWAY code, how many bytes the attack got out before
the server stopped it). tests/h2.rs decides what is right; this script
only reports.
"""
import hashlib
import json
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ERRORS = {
    0: "NO_ERROR",
    1: "PROTOCOL_ERROR",
    2: "INTERNAL_ERROR",
    3: "FLOW_CONTROL_ERROR",
    4: "SETTINGS_TIMEOUT",
    5: "STREAM_CLOSED",
    6: "FRAME_SIZE_ERROR",
    7: "REFUSED_STREAM",
    8: "CANCEL",
    9: "COMPRESSION_ERROR",
    11: "ENHANCE_YOUR_CALM",
}


def connect(port, tls):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        s = ctx.wrap_socket(s, server_hostname="localhost")
        if s.selected_alpn_protocol() != "h2":
            raise SystemExit(f"ALPN chose {s.selected_alpn_protocol()!r}")
    return s


class Raw:
    """Frames by hand; answers the server's SETTINGS unless told not to."""

    def __init__(self, port, tls, settings=None, ack=True, preface=True):
        self.s = connect(port, tls)
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.buf = b""
        self.sent = 0
        self.ack = ack
        self.closed = False
        if preface:
            self.send(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())

    def send(self, b):
        try:
            self.s.sendall(b)
            self.sent += len(b)
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.closed = True
            return False

    def frames(self, *fs):
        return self.send(b"".join(f.serialize() for f in fs))

    def block(self, fields):
        return self.enc.encode(fields)

    def request(self, sid, path, end_stream=True, extra=(), method="GET"):
        fields = [
            (":method", method),
            (":scheme", "https"),
            (":path", path),
            (":authority", "localhost"),
        ] + list(extra)
        flags = ["END_HEADERS"] + (["END_STREAM"] if end_stream else [])
        return self.frames(HeadersFrame(sid, data=self.block(fields), flags=flags))

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.s.settimeout(left)
            try:
                b = self.s.recv(65536)
            except (socket.timeout, TimeoutError):
                return False
            except (ConnectionResetError, ssl.SSLError, OSError):
                b = b""
            if not b:
                self.closed = True
                return False
            self.buf += b
        return True

    def frame(self, timeout=5.0):
        """The next frame, or None (closed, or nothing for `timeout`)."""
        deadline = time.monotonic() + timeout
        if not self._fill(9, deadline):
            return None
        f, length = Frame.parse_frame_header(memoryview(self.buf[:9]))
        if not self._fill(9 + length, deadline):
            return None
        f.parse_body(memoryview(self.buf[9 : 9 + length]))
        self.buf = self.buf[9 + length :]
        if isinstance(f, SettingsFrame) and "ACK" not in f.flags and self.ack:
            self.frames(SettingsFrame(0, flags=["ACK"]))
        return f

    def goaway(self, timeout=10.0):
        """Reads until GOAWAY or the close: (code name or None, closed)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                return None, self.closed
            if isinstance(f, GoAwayFrame):
                return ERRORS.get(f.error_code, f.error_code), self.closed

    def response(self, sid, timeout=10.0):
        """Reads until stream `sid` ends: {status, headers, len, sha256} or
        {reset: code}. Other frames are noted in `other`."""
        deadline = time.monotonic() + timeout
        out = {"headers": {}, "len": 0, "other": []}
        body = hashlib.sha256()
        while True:
            f = self.frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                out["closed"] = True
                return out
            if isinstance(f, GoAwayFrame):
                out["goaway"] = ERRORS.get(f.error_code, f.error_code)
                continue
            if f.stream_id != sid:
                out["other"].append(type(f).__name__)
                continue
            if isinstance(f, RstStreamFrame):
                out["reset"] = ERRORS.get(f.error_code, f.error_code)
                return out
            if isinstance(f, (HeadersFrame, ContinuationFrame)):
                for k, v in self.dec.decode(f.data):
                    if k == ":status":
                        out["status"] = int(v)
                    else:
                        out["headers"][k] = v
            if isinstance(f, DataFrame):
                out["len"] += len(f.data)
                body.update(f.data)
                if f.data:
                    self.frames(
                        WindowUpdateFrame(0, window_increment=len(f.data)),
                        WindowUpdateFrame(sid, window_increment=len(f.data)),
                    )
            if "END_STREAM" in f.flags:
                out["sha256"] = body.hexdigest()
                return out


def with_library(port, tls, paths, window):
    """Python's h2 as the client: every path requested at once on one
    connection, streams read as they interleave."""
    s = connect(port, tls)
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    c = h2.connection.H2Connection(config=cfg)
    c.initiate_connection()
    if window is not None:
        c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
    s.sendall(c.data_to_send())
    streams = {}
    for p in paths:
        sid = c.get_next_available_stream_id()
        c.send_headers(
            sid,
            [(":method", "GET"), (":scheme", "https" if tls else "http"), (":path", p),
             (":authority", "localhost"), ("accept-encoding", "identity")],
            end_stream=True,
        )
        streams[sid] = {"path": p, "headers": {}, "body": hashlib.sha256(), "len": 0,
                        "order": None}
    s.sendall(c.data_to_send())
    done, first_data = 0, 0
    deadline = time.monotonic() + 60
    while done < len(streams) and time.monotonic() < deadline:
        b = s.recv(65536)
        if not b:
            break
        for e in c.receive_data(b):
            if isinstance(e, h2.events.ResponseReceived):
                st = streams[e.stream_id]
                st["headers"] = dict(e.headers)
            elif isinstance(e, h2.events.DataReceived):
                st = streams[e.stream_id]
                if st["order"] is None:
                    st["order"] = first_data
                    first_data += 1
                st["body"].update(e.data)
                st["len"] += len(e.data)
                c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            elif isinstance(e, h2.events.StreamEnded):
                done += 1
                # How far the first stream (the large one) had come.
                streams[e.stream_id]["big_when_done"] = streams[1]["len"]
            elif isinstance(e, h2.events.StreamReset):
                streams[e.stream_id]["reset"] = ERRORS.get(e.error_code, e.error_code)
                done += 1
        s.sendall(c.data_to_send())
    out = []
    for sid in sorted(streams):
        st = streams[sid]
        out.append({
            "path": st["path"], "status": int(st["headers"].get(":status", 0)),
            "len": st["len"], "sha256": st["body"].hexdigest(), "order": st["order"],
            "reset": st.get("reset"), "big_when_done": st.get("big_when_done"),
            "headers": {k: v for k, v in st["headers"].items() if not k.startswith(":")},
        })
    c.close_connection()
    s.sendall(c.data_to_send())
    return {"streams": out}


def flood(p, make, n, batch=100):
    """Sends `n` frames from `make(i)` in batches; stops when the server
    closes. Returns the GOAWAY and how many bytes it took."""
    for i in range(0, n, batch):
        if not p.send(b"".join(make(j).serialize() for j in range(i, min(n, i + batch)))):
            break
        # Keep reading so our receive buffer never stops the server.
        while True:
            f = p.frame(0.001)
            if f is None:
                break
            if isinstance(f, GoAwayFrame):
                return {"goaway": ERRORS.get(f.error_code), "sent": p.sent}
    code, _ = p.goaway(10)
    return {"goaway": code, "sent": p.sent, "closed": p.closed}


def main():
    scenario, port = sys.argv[1], int(sys.argv[2])
    tls = "--tls" in sys.argv
    args = [a for a in sys.argv[3:] if a != "--tls"]
    r = None
    if scenario == "get":
        window = None
        if args and args[0].startswith("--window="):
            window = int(args.pop(0).split("=")[1])
        r = with_library(port, tls, args, window)
    elif scenario == "rapid-reset":
        p = Raw(port, tls)
        p.frame()

        def make(i):
            sid = 1 + 2 * (i // 2)
            if i % 2 == 0:
                return HeadersFrame(sid, data=p.block([(":method", "GET"), (":scheme", "https"), (":path", "/big.bin"), (":authority", "localhost")]), flags=["END_HEADERS", "END_STREAM"])
            return RstStreamFrame(sid, error_code=8)

        r = flood(p, make, 20000)
    elif scenario == "continuation-flood":
        p = Raw(port, tls)
        p.frame()
        first = HeadersFrame(1, data=p.block([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "localhost")]), flags=[])
        p.frames(first)
        r = flood(p, lambda i: ContinuationFrame(1, data=b"\x40\x01x\x01y" * 2000), 2000, batch=4)
    elif scenario in ("settings-flood", "ping-flood", "window-flood", "empty-data-flood", "priority-flood"):
        p = Raw(port, tls)
        p.frame()
        if scenario == "empty-data-flood":
            p.request(1, "/", end_stream=False, method="POST")
        make = {
            "settings-flood": lambda i: SettingsFrame(0, settings={4: 65535}),
            "ping-flood": lambda i: PingFrame(0, opaque_data=i.to_bytes(8, "big")),
            "window-flood": lambda i: WindowUpdateFrame(0, window_increment=1),
            "empty-data-flood": lambda i: DataFrame(1, data=b""),
            "priority-flood": lambda i: PriorityFrame(1, depends_on=0, stream_weight=16),
        }[scenario]
        r = flood(p, make, 20000)
    elif scenario == "hpack-bomb":
        # One 4 KiB value in the dynamic table, then referenced a few
        # thousand times by one byte each: a small block, a huge list.
        p = Raw(port, tls)
        p.frame()
        big = "x" * 4000
        block = p.block([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "localhost"), ("bomb", big)])
        idx = bytes([0x80 | 62])  # the newest dynamic entry
        p.frames(HeadersFrame(1, data=block + idx * 3000, flags=["END_HEADERS", "END_STREAM"]))
        first = p.response(1)
        p.request(3, "/about/")
        after = p.response(3)
        r = {"bomb": first, "after": after, "sent": p.sent}
    elif scenario == "table-size-abuse":
        # A dynamic table size update above our SETTINGS_HEADER_TABLE_SIZE
        # (4096): a COMPRESSION_ERROR.
        p = Raw(port, tls)
        p.frame()
        block = b"\x3f\xe1\x7f" + p.block([(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "localhost")])
        p.frames(HeadersFrame(1, data=block, flags=["END_HEADERS", "END_STREAM"]))
        code, closed = p.goaway()
        r = {"goaway": code, "closed": closed}
    elif scenario == "zero-window":
        # A stream window of 0: the headers come, no DATA; the window opens
        # after `hold` seconds and the whole body follows.
        hold = float(args[0]) if args else 1.0
        p = Raw(port, tls, settings={4: 0})
        p.frame()
        p.request(1, args[1] if len(args) > 1 else "/big.bin")
        seen = []
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            f = p.frame(max(0.0, deadline - time.monotonic()))
            if f is None:
                break
            seen.append(type(f).__name__ + ("" if not isinstance(f, GoAwayFrame) else ":" + ERRORS.get(f.error_code, "?")))
        r = {"held": seen, "closed": p.closed}
        if not p.closed:
            p.frames(SettingsFrame(0, settings={4: 65535}), WindowUpdateFrame(0, window_increment=2**31 - 1 - 65535))
            r["after"] = p.response(1, timeout=60)
    elif scenario == "stream-reuse":
        p = Raw(port, tls)
        p.frame()
        p.request(5, "/about/")
        first = p.response(5)
        p.request(3, "/about/")  # going backwards
        code, closed = p.goaway()
        r = {"first": first.get("status"), "goaway": code, "closed": closed}
    elif scenario == "closed-stream":
        p = Raw(port, tls)
        p.frame()
        p.request(1, "/about/")
        first = p.response(1)
        p.frames(DataFrame(1, data=b"late", flags=["END_STREAM"]))
        late = p.response(1, timeout=3)
        p.request(3, "/about/")
        after = p.response(3)
        r = {"first": first.get("status"), "late": late, "after": after.get("status")}
    elif scenario == "oversized-frame":
        p = Raw(port, tls)
        p.frame()
        p.send(b"\x00\x50\x00\x06\x00\x00\x00\x00\x00" + b"\x00" * 0x5000)
        code, closed = p.goaway()
        r = {"goaway": code, "closed": closed}
    elif scenario == "no-ack":
        p = Raw(port, tls, ack=False)
        t = time.monotonic()
        code, closed = p.goaway(20)
        r = {"goaway": code, "closed": closed, "after": round(time.monotonic() - t, 2)}
    elif scenario == "no-preface":
        p = Raw(port, tls, preface=False)
        t = time.monotonic()
        f = p.frame(20)
        r = {"frame": type(f).__name__ if f else None, "closed": p.closed,
             "after": round(time.monotonic() - t, 2)}
    elif scenario == "malformed":
        # Each request breaks one rule of RFC 9113 §8; each stream gets its
        # error and the connection stays up.
        p = Raw(port, tls)
        p.frame()
        base = [(":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "localhost")]
        cases = {
            "upper-case name": base + [("Accept", "*/*")],
            "no :path": base[:2] + base[3:],
            "pseudo after regular": base[:3] + [("accept", "*/*"), (":authority", "localhost")],
            "connection field": base + [("connection", "keep-alive")],
            "te gzip": base + [("te", "gzip")],
            "unknown pseudo": base + [(":protocol", "websocket")],
            "two :path": base + [(":path", "/x")],
            "empty :path": base[:2] + [(":path", "")] + base[3:],
        }
        r = {}
        sid = 1
        for name, fields in cases.items():
            # Not through p.block: hpack would lower-case nothing, but keep
            # the table in step by encoding with the same encoder.
            p.frames(HeadersFrame(sid, data=p.enc.encode(fields), flags=["END_HEADERS", "END_STREAM"]))
            got = p.response(sid, timeout=5)
            r[name] = got.get("reset") or got.get("status") or got.get("goaway")
            sid += 2
        # content-length that the DATA contradicts, while the response
        # (a large one, held by the window) is still going out.
        p.request(sid, "/big.bin", end_stream=False, extra=[("content-length", "10")])
        p.frames(DataFrame(sid, data=b"12345", flags=["END_STREAM"]))
        got = p.response(sid, timeout=5)
        r["content-length mismatch"] = got.get("reset") or got.get("status")
        sid += 2
        # content-length on a request that has no body.
        p.request(sid, "/", extra=[("content-length", "5")])
        got = p.response(sid, timeout=5)
        r["content-length without body"] = got.get("reset") or got.get("status")
        sid += 2
        p.request(sid, "/about/")
        r["after"] = p.response(sid).get("status")
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
