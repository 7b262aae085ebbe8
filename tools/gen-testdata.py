#!/usr/bin/env python3
"""Regenerate the generated files of testdata/ deterministically.

Usage (from the repository root):  python3 tools/gen-testdata.py [--check]

Python 3 standard library only. The hand-written files of testdata/ (HTML,
CSS, JS, _headers, _redirects, ...) are not touched. This script writes:

  img/photo.png            64x64 RGB gradient PNG (zlib + struct)
  favicon.ico              16x16 32-bit BMP-in-ICO
  fonts/inter.woff2        "wOF2" + 24 KiB of seeded pseudo-random bytes
  data/search-index.json   ~2 MiB JSON array of {url,title,words,...}
  empty.txt                0 bytes
  js/vendor.js.{gz,br,zst} precompressed siblings of js/vendor.js, made by
                           the gzip, brotli and zstd command-line tools
  js/app.latest.js         relative symlink -> app.js

The PRNG is our own splitmix64 so the output does not depend on the
Python version's `random` module. The exact bytes of the .gz/.br/.zst
siblings depend on the CLI tool versions, but they always decompress to
js/vendor.js (the script checks this).

--check regenerates into a temporary copy and exits 1 if anything differs
from what is in testdata/ (useful in CI).
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata")
ROOT = os.path.normpath(ROOT)


class SplitMix64:
    """Tiny deterministic PRNG (splitmix64), independent of Python's random."""

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.state = seed & self.MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next_u64() % n

    def bytes(self, n):
        out = bytearray()
        while len(out) < n:
            out += struct.pack("<Q", self.next_u64())
        return bytes(out[:n])

    def zipf_index(self, n):
        # Cheap Zipf-like skew: the min of three uniform draws favours low
        # indices, the way word frequencies do in real text.
        a = self.below(n)
        b = self.below(n)
        c = self.below(n)
        return min(a, b, c)


# --------------------------------------------------------------------------
# PNG
# --------------------------------------------------------------------------

def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def make_png(width=64, height=64):
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type: None
        for x in range(width):
            r = (x * 255) // (width - 1)
            g = (y * 255) // (height - 1)
            b = ((x + y) * 255) // (width + height - 2)
            raw += bytes((r, g, 255 - b))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + png_chunk(b"IEND", b""))


# --------------------------------------------------------------------------
# ICO (one 16x16 32bpp BMP image)
# --------------------------------------------------------------------------

def make_ico(size=16):
    pixels = bytearray()
    # BMP rows are stored bottom-up, pixels as BGRA.
    for y in reversed(range(size)):
        for x in range(size):
            inside = (x - 7.5) ** 2 + (y - 7.5) ** 2 <= 7.5 ** 2
            if inside:
                pixels += bytes((0x0C, 0x41, 0xC2, 0xFF))  # #c2410c
            else:
                pixels += bytes((0, 0, 0, 0))
    and_mask = bytes(((size + 31) // 32) * 4 * size)  # all zero: use alpha
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0,
                         len(pixels) + len(and_mask), 0, 0, 0, 0)
    image = header + bytes(pixels) + and_mask
    icondir = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(image), 6 + 16)
    return icondir + entry + image


# --------------------------------------------------------------------------
# WOFF2-like font blob
# --------------------------------------------------------------------------

def make_woff2():
    rng = SplitMix64(0x1E7E2_F0E7)
    return b"wOF2" + rng.bytes(24 * 1024)


# --------------------------------------------------------------------------
# Search index (~2 MiB of realistic, compressible JSON)
# --------------------------------------------------------------------------

VOCAB = """
the a of to and in is for on with that by this be it as are from or at an
task tasks build cache input inputs output outputs file files run runs runner
kestrel shell script hash hashes stale fresh parallel order graph dependency
dependencies target targets rule rules environment variable variables path
paths directory directories remote local server http request response key
keys value values config configuration option options flag flags command
commands install installation upgrade release version versions changelog
linux macos freebsd windows wsl container docker image images layer layers
watch mode incremental clean rebuild timestamp content blake3 digest checksum
error errors warning warnings log logs output verbose quiet exit status code
test tests testing benchmark benchmarks performance fast slow memory cpu core
cores thread threads job jobs queue scheduler schedule retry timeout signal
plugin plugins template templates include includes glob globs pattern patterns
artifact artifacts upload download mirror proxy token secret secrets ci
pipeline pipelines stage stages step steps matrix workflow workflows trigger
example examples tutorial guide reference faq troubleshooting migration
make ninja just bazel gradle npm cargo go python rust javascript typescript
css html markdown site static deploy deployment production staging preview
compress gzip brotli zstd archive tarball checksum signature verify verified
""".split()

SECTIONS = ["docs/reference", "docs/guide", "docs/recipes", "blog", "docs/cli",
            "docs/config", "docs/internals", "changelog"]

ACCENTED = ["café", "naïve", "Zürich", "résumé", "façade", "déjà-vu", "Ærø",
            "São-Paulo", "Kraków", "東京", "München", "coöperate"]


def make_search_index(target_bytes=int(2.05 * 1024 * 1024)):
    rng = SplitMix64(20260125)
    entries = []
    size = 2  # "[" + "]"
    i = 0
    while size < target_bytes:
        section = SECTIONS[rng.zipf_index(len(SECTIONS))]
        title_words = [VOCAB[rng.zipf_index(len(VOCAB))] for _ in range(2 + rng.below(5))]
        title = " ".join(title_words).capitalize()
        slug = "-".join(title_words)
        n_words = 30 + rng.below(90)
        words = []
        for _ in range(n_words):
            if rng.below(200) == 0:
                words.append(ACCENTED[rng.below(len(ACCENTED))])
            else:
                words.append(VOCAB[rng.zipf_index(len(VOCAB))])
        entry = {
            "id": i,
            "url": "/%s/%s-%d/" % (section, slug, i),
            "title": title,
            "section": section.split("/")[-1],
            "words": words,
            "updated": "2026-%02d-%02d" % (1 + rng.below(12), 1 + rng.below(28)),
        }
        text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        size += len(text.encode("utf-8")) + (1 if entries else 0) + 1  # ",\n"
        entries.append(text)
        i += 1
    # One entry per line: the shape many static-site generators emit.
    return ("[\n" + ",\n".join(entries) + "\n]\n").encode("utf-8")


# --------------------------------------------------------------------------
# Precompressed siblings via the CLI tools
# --------------------------------------------------------------------------

def need(tool, package):
    if shutil.which(tool) is None:
        sys.exit("gen-testdata: `%s` not found; install it with: apt-get install -y %s"
                 % (tool, package))


def make_siblings(root):
    src = os.path.join(root, "js", "vendor.js")
    need("gzip", "gzip")
    need("brotli", "brotli")
    need("zstd", "zstd")
    for ext in (".gz", ".br", ".zst"):
        if os.path.exists(src + ext):
            os.remove(src + ext)
    # -n: no name/timestamp in the gzip header, so output is reproducible.
    subprocess.run(["gzip", "-9", "-n", "-k", src], check=True)
    subprocess.run(["brotli", "-q", "11", "-k", "-n", "-o", src + ".br", src], check=True)
    os.chmod(src + ".br", 0o644)  # brotli -n creates the file 0600
    subprocess.run(["zstd", "-19", "-q", "-k", "--no-progress", src, "-o", src + ".zst"],
                   check=True)
    original = open(src, "rb").read()
    for cmd, ext in ((["gzip", "-dc"], ".gz"), (["brotli", "-dc"], ".br"),
                     (["zstd", "-dcq"], ".zst")):
        out = subprocess.run(cmd + [src + ext], check=True, stdout=subprocess.PIPE).stdout
        if out != original:
            sys.exit("gen-testdata: %s%s does not decompress to vendor.js" % (src, ext))


# --------------------------------------------------------------------------

def write(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def generate(root):
    write(root, "img/photo.png", make_png())
    write(root, "favicon.ico", make_ico())
    write(root, "fonts/inter.woff2", make_woff2())
    write(root, "data/search-index.json", make_search_index())
    write(root, "empty.txt", b"")
    make_siblings(root)
    link = os.path.join(root, "js", "app.latest.js")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("app.js", link)


GENERATED = ["img/photo.png", "favicon.ico", "fonts/inter.woff2",
             "data/search-index.json", "empty.txt", "js/vendor.js.gz",
             "js/vendor.js.br", "js/vendor.js.zst"]


def main():
    if "--check" in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "testdata")
            shutil.copytree(ROOT, copy, symlinks=True)
            generate(copy)
            bad = [rel for rel in GENERATED
                   if open(os.path.join(copy, rel), "rb").read()
                   != open(os.path.join(ROOT, rel), "rb").read()]
            if os.readlink(os.path.join(ROOT, "js", "app.latest.js")) != "app.js":
                bad.append("js/app.latest.js")
            if bad:
                print("gen-testdata: out of date: " + ", ".join(bad))
                sys.exit(1)
            print("gen-testdata: generated files are up to date")
        return
    generate(ROOT)
    for rel in GENERATED:
        print("%9d  %s" % (os.path.getsize(os.path.join(ROOT, rel)), rel))
    print("%9s  js/app.latest.js -> app.js" % "symlink")


if __name__ == "__main__":
    main()
