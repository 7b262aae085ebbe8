#!/usr/bin/env bash
# Packing benchmark: tarweb-pack vs the shell pipeline a CI would run to
# precompress a site for nginx (gzip_static / brotli_static / zstd_static).
#
# Usage (from the repository root):   bash bench/pack.sh
#
# Environment:
#   TARWEB_PACK=path     tarweb-pack binary (default target/release/tarweb-pack)
#   BENCH_NO_BUILD=1     never run cargo; skip the tarweb-pack part if the
#                        binary is missing
#   BENCH_SKIP_PIPELINE=1  reuse the pipeline numbers of the last run
#                        (bench/work/pipeline.env) instead of re-timing it
#
# The site is Debian's python3.11-doc HTML tree (a real Sphinx site nobody
# here wrote), with the two symlinks it ships (_static/jquery.js,
# _static/underscore.js -> /usr/share/javascript/...) resolved from the
# packages it depends on (libjs-jquery, libjs-underscore), as on an
# installed system. The tree is copied with symlinks dereferenced into
# bench/work/site, which both contenders use.
#
# Output: printed, and written to bench/pack-results.md. Targets are
# reported as PASS/FAIL, but the script exits 0 either way: benchmarks
# inform, they do not gate.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
WORK=$REPO/bench/work
RESULTS=$REPO/bench/pack-results.md
TMP_RESULTS=$REPO/bench/results.md.tmp
TARWEB_PACK=${TARWEB_PACK:-target/release/tarweb-pack}
EXTS="html css js txt json svg xml"
TIME_TARGET=0.6
mkdir -p "$WORK"

log() { printf '>> %s\n' "$*" >&2; }
now() { date +%s.%N; }
fsub() { python3 -c "import sys; print('%.2f' % (float(sys.argv[1]) - float(sys.argv[2])))" "$1" "$2"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

# ---------------------------------------------------------------------------
# 1. Tools
# ---------------------------------------------------------------------------
missing=()
command -v gzip    >/dev/null || missing+=(gzip)
command -v brotli  >/dev/null || missing+=(brotli)
command -v zstd    >/dev/null || missing+=(zstd)
command -v python3 >/dev/null || missing+=(python3)
[ -x /usr/bin/time ]          || missing+=(time)
command -v dpkg    >/dev/null || { echo "dpkg not found: this benchmark needs a Debian-like system" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------------------
# 2. The site (fetched and unpacked once, shared with bench/serve.sh)
# ---------------------------------------------------------------------------
SITE=$(bash bench/fetch-site.sh)

# The "text files": regular files whose extension is one of $EXTS.
LIST=$WORK/textfiles.lst   # NUL-separated, paths relative to $SITE
find_args=()
for e in $EXTS; do find_args+=(-o -name "*.$e"); done
(cd "$SITE" && find . -type f \( "${find_args[@]:1}" \) -printf '%P\0' | sort -z) > "$LIST"
read -r NFILES TOTAL_BYTES < <(cd "$SITE" && xargs -0 stat -c %s < "$LIST" | awk '{n++; s+=$1} END {print n+0, s+0}')
SITE_FILES=$(find "$SITE" -type f ! -name .bench-ready | wc -l)
SITE_BYTES=$(find "$SITE" -type f ! -name .bench-ready -printf '%s\n' | awk '{s+=$1} END {print s+0}')
log "site: $SITE_FILES files, $SITE_BYTES bytes in all"
log "text files ($EXTS): $NFILES files, $TOTAL_BYTES bytes (compare: 1,049 files, ~66 MB)"

# ---------------------------------------------------------------------------
# 3. Baseline pipeline, sequential, one tool after another
# ---------------------------------------------------------------------------
PIPE_ENV=$WORK/pipeline.env
if [ "${BENCH_SKIP_PIPELINE:-0}" = 1 ] && [ -f "$PIPE_ENV" ]; then
  log "BENCH_SKIP_PIPELINE=1: reusing pipeline numbers from $PIPE_ENV"
  # shellcheck disable=SC1090
  . "$PIPE_ENV"
else
  SCRATCH=$WORK/pipeline
  rm -rf "$SCRATCH"
  log "copying the text files to a scratch tree"
  mkdir -p "$SCRATCH"
  (cd "$SITE" && xargs -0 cp --parents -t "$SCRATCH" < "$LIST")
  sync
  run_step() {  # name, command...; sets T_<name> (wall) and C_<name> (user+sys)
    local name=$1; shift
    local t0 t1 cpu
    log "pipeline: $* (over $NFILES files, sequential)"
    t0=$(now)
    (cd "$SCRATCH" && /usr/bin/time -f '%U %S' -o "$WORK/step.time" xargs -0 "$@" < "$LIST")
    t1=$(now)
    cpu=$(tail -n1 "$WORK/step.time")
    printf -v "T_$name" '%s' "$(fsub "$t1" "$t0")"
    printf -v "C_$name" '%s' "$(awk '{printf "%.2f", $1 + $2}' <<<"$cpu")"
  }
  # xargs without -P runs one process at a time (batching many files per
  # process, as `find -exec ... {} +` in a CI script would).
  run_step gzip   gzip -9k
  run_step brotli brotli -q 11 -k
  run_step zstd   zstd -19 -q -k
  sum_ext() { (cd "$SCRATCH" && tr '\0' '\n' < "$LIST" | sed "s/\$/.$1/" | tr '\n' '\0' | xargs -0 stat -c %s | awk '{s+=$1} END {print s+0}'); }
  B_gzip=$(sum_ext gz); B_brotli=$(sum_ext br); B_zstd=$(sum_ext zst)
  T_total=$(python3 -c "import sys; print('%.2f' % sum(map(float, sys.argv[1:])))" "$T_gzip" "$T_brotli" "$T_zstd")
  C_total=$(python3 -c "import sys; print('%.2f' % sum(map(float, sys.argv[1:])))" "$C_gzip" "$C_brotli" "$C_zstd")
  B_total=$((B_gzip + B_brotli + B_zstd))
  cat > "$PIPE_ENV" <<EOF
T_gzip=$T_gzip; T_brotli=$T_brotli; T_zstd=$T_zstd; T_total=$T_total
C_gzip=$C_gzip; C_brotli=$C_brotli; C_zstd=$C_zstd; C_total=$C_total
B_gzip=$B_gzip; B_brotli=$B_brotli; B_zstd=$B_zstd; B_total=$B_total
PIPE_WHEN="$(date -u '+%Y-%m-%d %H:%M:%S UTC')"; PIPE_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
EOF
  PIPE_WHEN=$(date -u '+%Y-%m-%d %H:%M:%S UTC'); PIPE_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
  rm -rf "$SCRATCH"
fi
for c in gzip brotli zstd; do
  t=T_$c; b=B_$c; u=C_$c
  log "pipeline $c: ${!t} s wall (${!u} s CPU), ${!b} bytes"
done
log "pipeline total: $T_total s wall, $B_total bytes"

# ---------------------------------------------------------------------------
# 4. tarweb-pack
# ---------------------------------------------------------------------------
TW_STATUS=skipped
TW_REASON=""
# Build before timing anything (a no-op when up to date), so a stale binary
# is never measured.
if [ "${BENCH_NO_BUILD:-0}" != 1 ] && command -v cargo >/dev/null; then
  log "building tarweb-pack (cargo build --release -p tarweb-pack)"
  cargo build --release -p tarweb-pack >&2 || TW_REASON="cargo build failed"
fi
if [ -z "$TW_REASON" ] && [ ! -x "$TARWEB_PACK" ]; then
  TW_REASON="binary $TARWEB_PACK missing (BENCH_NO_BUILD=1 or no cargo)"
fi

TWB=$WORK/py.twb
INSPECT=$WORK/py.inspect.json
if [ -z "$TW_REASON" ]; then
  rm -f "$TWB"
  log "tarweb-pack $SITE -o $TWB"
  t0=$(now)
  if /usr/bin/time -f '%U %S %M' -o "$WORK/tw.time" "$TARWEB_PACK" "$SITE" -o "$TWB" >&2; then
    t1=$(now)
    TW_T=$(fsub "$t1" "$t0")
    read -r u s TW_RSS_KB < "$WORK/tw.time"
    TW_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')
    TW_SIZE=$(stat -c %s "$TWB")
    log "tarweb-pack: $TW_T s wall ($TW_CPU s CPU, max RSS $TW_RSS_KB KiB), blob $TW_SIZE bytes"
    if "$TARWEB_PACK" inspect "$TWB" --json > "$INSPECT" 2> "$WORK/inspect.err"; then
      TW_STATUS=ok
    else
      TW_REASON="'tarweb-pack inspect --json' failed: $(head -c 300 "$WORK/inspect.err")"
    fi
  else
    TW_REASON="tarweb-pack exited non-zero (see output above)"
  fi
fi
[ "$TW_STATUS" = ok ] || log "SKIPPING the tarweb-pack part: $TW_REASON"

# ---------------------------------------------------------------------------
# 4b. Re-pack after one page was edited, with --reuse (issue 18)
# ---------------------------------------------------------------------------
# A copy of the site with one page changed (a paragraph appended to the
# first HTML file), packed with --reuse of the blob above, then packed
# fresh: the two blobs must be the same bytes. Target: at most 2 s or
# 0.05x of a fresh pack, whichever is larger.
RP_STATUS=skipped
if [ "$TW_STATUS" = ok ]; then
  EDITED=$WORK/site-edited
  rm -rf "$EDITED"
  cp -r "$SITE" "$EDITED"
  page=$(tr '\0' '\n' < "$LIST" | grep '\.html$' | head -n1)
  printf '<p>edited for the re-pack benchmark</p>\n' >> "$EDITED/$page"
  log "re-pack: $page edited; tarweb-pack --reuse $TWB"
  t0=$(now)
  "$TARWEB_PACK" "$EDITED" -o "$WORK/py-reuse.twb" --reuse "$TWB" 2> "$WORK/reuse.err"
  t1=$(now)
  RP_T=$(fsub "$t1" "$t0")
  RP_COPIED=$(grep -o '[0-9]* of [0-9]* compressed variants copied' "$WORK/reuse.err" || true)
  log "re-pack with --reuse: $RP_T s ($RP_COPIED)"
  t0=$(now)
  "$TARWEB_PACK" "$EDITED" -o "$WORK/py-fresh.twb" -q
  t1=$(now)
  RP_FRESH_T=$(fsub "$t1" "$t0")
  if cmp -s "$WORK/py-reuse.twb" "$WORK/py-fresh.twb"; then RP_SAME=yes; else RP_SAME=NO; fi
  log "fresh pack of the edited site: $RP_FRESH_T s; same bytes: $RP_SAME"
  RP_PAGE=$page
  RP_STATUS=ok
  rm -rf "$EDITED" "$WORK/py-reuse.twb" "$WORK/py-fresh.twb"
fi

# ---------------------------------------------------------------------------
# 5 + 6. Compare and report
# ---------------------------------------------------------------------------
CMD="bash bench/pack.sh"
[ "${BENCH_SKIP_PIPELINE:-0}" = 1 ] && CMD="BENCH_SKIP_PIPELINE=1 $CMD"
[ "${BENCH_NO_BUILD:-0}" = 1 ] && CMD="BENCH_NO_BUILD=1 $CMD"
[ "$TARWEB_PACK" != target/release/tarweb-pack ] && CMD="TARWEB_PACK=$TARWEB_PACK $CMD"
export LIST SITE INSPECT TW_STATUS TW_REASON NFILES TOTAL_BYTES SITE_FILES SITE_BYTES TIME_TARGET CMD
export T_gzip T_brotli T_zstd T_total C_gzip C_brotli C_zstd C_total B_gzip B_brotli B_zstd B_total PIPE_WHEN PIPE_LOAD
export TW_T="${TW_T:-}" TW_CPU="${TW_CPU:-}" TW_RSS_KB="${TW_RSS_KB:-}" TW_SIZE="${TW_SIZE:-}"
export RP_STATUS RP_T="${RP_T:-}" RP_FRESH_T="${RP_FRESH_T:-}" RP_SAME="${RP_SAME:-}" RP_COPIED="${RP_COPIED:-}" RP_PAGE="${RP_PAGE:-}"
export NPROC=$(nproc) NOW=$(date -u '+%Y-%m-%d %H:%M:%S UTC') LOAD_NOW=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - > "$TMP_RESULTS" <<'EOF'
import json, os, sys

E = os.environ
files = [p for p in open(E["LIST"], "rb").read().decode("utf-8", "surrogateescape").split("\0") if p]
codings = [("gzip", "gzip"), ("brotli", "br"), ("zstd", "zstd")]
pipe_t = {c: float(E["T_" + c]) for c, _ in codings}
pipe_cpu = {c: float(E["C_" + c]) for c, _ in codings}
pipe_b = {c: int(E["B_" + c]) for c, _ in codings}

def fmt(n):
    return f"{n:,}"

out = []
w = out.append
w("# Packing benchmark: tarweb-pack vs gzip/brotli/zstd pipeline")
w("")
w(f"Site: Debian `python3.11-doc` HTML tree (symlinks resolved), {fmt(int(E['SITE_FILES']))} files, "
  f"{fmt(int(E['SITE_BYTES']))} bytes. Compared: the {fmt(int(E['NFILES']))} text files "
  f"(`html css js txt json svg xml`), {fmt(int(E['TOTAL_BYTES']))} bytes "
  f"({int(E['TOTAL_BYTES']) / 1e6:.1f} MB; reference figure: 1,049 files, ~66 MB).")
w("")
w("Pipeline: `gzip -9k`, then `brotli -q 11 -k`, then `zstd -19 -q -k`, each over all text files, "
  "sequentially (`xargs -0` without `-P`), on a scratch copy. Pipeline bytes = sum of the "
  ".gz / .br / .zst files it wrote. tarweb-pack bytes = what a client accepting only that coding "
  "is sent, summed over the same files: the coding's variant `body_len` if kept, else identity's. "
  "Wire bytes add the `Content-Encoding: <coding>` line each encoded response carries (nginx's "
  "`*_static` sends the sibling whenever it exists; tarweb-pack keeps a variant only when it saves "
  "more than its header bytes, as issue 2 asks, so a tiny file may go as identity): the target is "
  "checked on wire bytes, what a client receives.")
w("")

tw = None
if E["TW_STATUS"] == "ok":
    data = json.load(open(E["INSPECT"]))
    routes = {}
    for r in data.get("routes", []):
        if r.get("status", 200) == 200:
            routes.setdefault(r["path"], r)
    served = {c: 0 for c, _ in codings}
    kept = {c: 0 for c, _ in codings}
    nkept = {c: 0 for c, _ in codings}
    identity_total = 0
    missing = []
    for rel in files:
        cands = ["/" + rel]
        if rel == "index.html" or rel.endswith("/index.html"):
            d = "/" + rel[: -len("index.html")]
            cands += [d, d.rstrip("/") or "/"]
        route = next((routes[c] for c in cands if c in routes), None)
        if route is None:
            missing.append(rel)
            continue
        v = {x["coding"]: x["body_len"] for x in route.get("variants", [])}
        if "identity" not in v:
            missing.append(rel)
            continue
        identity_total += v["identity"]
        for c, tok in codings:
            if tok in v or c in v:
                n = v.get(tok, v.get(c))
                served[c] += n
                kept[c] += n
                nkept[c] += 1
            else:
                served[c] += v["identity"]
    tw = dict(served=served, kept=kept, nkept=nkept, missing=missing, identity=identity_total)

def pf(ok):
    return "PASS" if ok else "FAIL"

w("| coding | pipeline time (s) | pipeline bytes | tarweb-pack bytes (served) | body bytes ratio | pipeline wire bytes | tarweb-pack wire bytes | wire bytes ratio |")
w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
verdicts = []
for c, tok in codings:
    line = len(f"Content-Encoding: {tok}\r\n")
    pipe_wire = pipe_b[c] + len(files) * line
    if tw:
        r = tw["served"][c] / pipe_b[c]
        tw_wire = tw["served"][c] + tw["nkept"][c] * line
        rw = tw_wire / pipe_wire
        verdicts.append(f"{c} wire bytes ratio {rw:.5f} <= 1.0: {pf(rw <= 1.0)}")
        w(f"| {c} | {pipe_t[c]:.2f} | {fmt(pipe_b[c])} | {fmt(tw['served'][c])} | {r:.5f} "
          f"| {fmt(pipe_wire)} | {fmt(tw_wire)} | {rw:.5f} |")
    else:
        w(f"| {c} | {pipe_t[c]:.2f} | {fmt(pipe_b[c])} | n/a | n/a | {fmt(pipe_wire)} | n/a | n/a |")
tot_p = sum(pipe_b.values())
if tw:
    tot_t = sum(tw["served"].values())
    w(f"| total | {float(E['T_total']):.2f} | {fmt(tot_p)} | {fmt(tot_t)} | {tot_t / tot_p:.5f} | | | |")
else:
    w(f"| total | {float(E['T_total']):.2f} | {fmt(tot_p)} | n/a | n/a | | | |")
w("")

if tw:
    w("tarweb-pack variants kept (only when a variant is kept does it count here):")
    w("")
    w("| coding | files with variant | sum of kept variant bytes |")
    w("| --- | ---: | ---: |")
    for c, _ in codings:
        w(f"| {c} | {fmt(tw['nkept'][c])} / {fmt(len(files))} | {fmt(tw['kept'][c])} |")
    w("")
    w(f"Identity bytes of the matched files in the blob: {fmt(tw['identity'])}; "
      f"blob size: {fmt(int(E['TW_SIZE']))} bytes.")
    if tw["missing"]:
        w(f"**{len(tw['missing'])} text files had no 200 route in the blob** (not counted), e.g. "
          + ", ".join("`" + m + "`" for m in tw["missing"][:5]) + ".")
    w("")

cpu = ", ".join(f"{c} {pipe_cpu[c]:.2f}" for c, _ in codings)
w(f"CPU time (user+sys) of the pipeline: {float(E['C_total']):.2f} s ({cpu}); it uses one core.")
if tw:
    ratio = float(E["TW_T"]) / float(E["T_total"])
    verdicts.insert(0, f"wall-time ratio {ratio:.3f} <= {E['TIME_TARGET']}: {pf(ratio <= float(E['TIME_TARGET']))}")
    w(f"CPU time (user+sys) of tarweb-pack: {float(E['TW_CPU']):.2f} s; max RSS {int(E['TW_RSS_KB']) // 1024} MiB.")
    w("")
    w(f"**Wall time: pipeline total {float(E['T_total']):.2f} s, tarweb-pack {float(E['TW_T']):.2f} s, "
      f"ratio tarweb/pipeline {ratio:.3f} (target <= {E['TIME_TARGET']}).** "
      f"nproc {E['NPROC']}, {E['NOW']}, load average {E['LOAD_NOW']}; pipeline timed {E['PIPE_WHEN']} "
      f"(load {E['PIPE_LOAD']}). Command: `{E['CMD']}`")
    w("")
    if E["RP_STATUS"] == "ok":
        rp, fresh = float(E["RP_T"]), float(E["RP_FRESH_T"])
        limit = max(2.0, 0.05 * fresh)
        verdicts.append(f"re-pack {rp:.2f} s <= {limit:.2f} s: {pf(rp <= limit)}")
        verdicts.append(f"re-pack byte-identical to a fresh pack: {pf(E['RP_SAME'] == 'yes')}")
        w(f"**Re-pack, one page edited** (`{E['RP_PAGE']}`), `--reuse` of the blob above: "
          f"{rp:.2f} s against {fresh:.2f} s for a fresh pack of the same edited site "
          f"({rp / fresh:.3f}x; target at most 2 s or 0.05x, whichever is larger: {limit:.2f} s); "
          f"{E['RP_COPIED']}; the two blobs are the same bytes: {E['RP_SAME']}.")
        w("")
    w("Targets: " + "; ".join(verdicts) + ".")
else:
    w("")
    w(f"**Wall time: pipeline total {float(E['T_total']):.2f} s, tarweb-pack n/a, ratio n/a "
      f"(target <= {E['TIME_TARGET']}).** nproc {E['NPROC']}, {E['NOW']}; pipeline timed {E['PIPE_WHEN']} "
      f"(load average {E['PIPE_LOAD']}). Command: `{E['CMD']}`")
    w("")
    w(f"tarweb-pack part SKIPPED: {E['TW_REASON']}.")
print("\n".join(out))
EOF
# bench/scale.sh keeps its own section in the same file: carry it over.
if [ -f "$RESULTS" ] && grep -q '^# Scale:' "$RESULTS"; then
  { echo; sed -n '/^# Scale:/,$p' "$RESULTS"; } >> "$TMP_RESULTS"
fi
mv "$TMP_RESULTS" "$RESULTS"
echo
cat "$RESULTS"
echo
log "written: ${RESULTS#"$REPO"/}"
exit 0
