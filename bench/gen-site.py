#!/usr/bin/env python3
"""Deterministic synthetic site for bench/scale.sh: N small HTML pages in
100 directories (d00..d99), about 200 bytes each, plus optionally B files
of 1 MiB of seeded pseudo-random bytes (`big/bNNNN.png`, stored as is:
a type never compressed), every mtime the same, so two runs give the same
tree and the same blob.

Usage: gen-site.py DIR PAGES [BIG_FILES]
"""
import random
import os
import sys

def main():
    out, pages = sys.argv[1], int(sys.argv[2])
    dirs = 100
    mtime = 1_700_000_000
    os.makedirs(out, exist_ok=True)
    for d in range(dirs):
        os.makedirs(os.path.join(out, f"d{d:02}"), exist_ok=True)
    for i in range(pages):
        d = i % dirs
        p = os.path.join(out, f"d{d:02}", f"p{i:06}.html")
        # ~200 bytes; a little per-page text so bodies are distinct.
        body = (
            f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Page {i}</title></head>"
            f"<body><h1>Page {i}</h1><p>Directory {d}, page {i}. "
            f"Checksum {(i * 2654435761) % 4294967296:010}.</p>"
            f"<a href=\"/d{(d + 1) % dirs:02}/\">next</a></body></html>\n"
        )
        with open(p, "w") as f:
            f.write(body)
        os.utime(p, (mtime, mtime))
    big = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if big:
        os.makedirs(os.path.join(out, "big"), exist_ok=True)
        rng = random.Random(18)
        for i in range(big):
            p = os.path.join(out, "big", f"b{i:04}.png")
            with open(p, "wb") as f:
                f.write(rng.randbytes(1 << 20))
            os.utime(p, (mtime, mtime))
        os.utime(os.path.join(out, "big"), (mtime, mtime))
    for d in range(dirs):
        os.utime(os.path.join(out, f"d{d:02}"), (mtime, mtime))
    os.utime(out, (mtime, mtime))

main()
