#!/usr/bin/env bash
# tarweb-serve vs nginx, side by side, same bytes, in one run: installs the
# tools, builds, lays out one docroot, packs it for tarweb, and hands over to
# bench/serve.py (the matrix, medians, ratios, bench/results.md).
#
# Usage (from the repository root):   bash bench/serve.sh
#   bash bench/serve.sh threshold   sweeps the writev/sendfile threshold
#                                   instead (writes bench/threshold.md)
# Environment: DURATION (s per round, default 5), ROUNDS (default 3),
#   CASES (substring filter on case names, e.g. CASES='1 KiB'; a filtered
#   run does not overwrite bench/results.md), IDLE_CONNS (default 10000),
#   PEER_ROUNDS (rounds of the issue-14 cases, default 5), LWAN (path to an
#   lwan binary built elsewhere from lwan's source: adds lwan to those cases;
#   unset, they run without it and the report says so).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
log() { printf '>> %s\n' "$*" >&2; }

# 1. Tools. nginx's postinst would start a system nginx on port 80: a
# policy-rc.d that forbids service starts keeps the install inert.
pkgs=()
command -v nginx >/dev/null || pkgs+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ] || pkgs+=(libnginx-mod-http-brotli-static)
for t in wrk strace brotli taskset python3; do
  command -v "$t" >/dev/null || case $t in taskset) pkgs+=(util-linux) ;; *) pkgs+=("$t") ;; esac
done
if [ ${#pkgs[@]} -gt 0 ]; then
  log "installing: ${pkgs[*]}"
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
  [ $added_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# 2. Build.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
cargo build -q --release -p tarweb-serve -p tarweb-pack
cargo build -q --release --manifest-path bench/bigget/Cargo.toml
cargo build -q --release --manifest-path bench/floor/Cargo.toml
BIN=$CARGO_TARGET_DIR/release

# 3. One docroot for both: 1 KiB of HTML, 64 KiB and 16 MiB of random
# bytes, and two real pages of a site nobody here wrote, python3.11-doc:
# library/queue.html (51.5 KB, the size of the site's median page, 54 KB,
# and of the 51 KB page the figures in issue 3 were measured on) and
# tutorial/classes.html (~100 KB, the upper quartile), each with the .gz/.br
# siblings nginx's gzip_static/brotli_static serve. tarweb-pack adopts those
# same siblings, so both servers send identical bytes for every case.
SITE=$(bash bench/fetch-site.sh)
OUT=$(mktemp -d /tmp/tarweb-bench.XXXXXX)
ROOT=$OUT/root
mkdir -p "$ROOT/doc/tutorial" "$ROOT/doc/library"
python3 - "$ROOT/1k.html" <<'EOF'
import sys
body = "<!doctype html><html><head><title>1 KiB</title></head><body>\n"
while len(body) < 1024 - 15:
    body += "<p>static bytes</p>\n"
body = (body + "</body></html>\n")[:1024 - 15] + "</body></html>\n"
open(sys.argv[1], "w").write(body)
EOF
head -c 65536 /dev/urandom >"$ROOT/64k.bin"
head -c $((16 << 20)) /dev/urandom >"$ROOT/16m.bin"
# For the writev/sendfile threshold sweep (`bench/serve.sh threshold`).
mkdir -p "$ROOT/sweep"
for k in 8 16 32 48 64 128 256 512 1024 2048; do head -c $((k << 10)) /dev/urandom >"$ROOT/sweep/$k.bin"; done
for page in library/queue.html tutorial/classes.html; do
  cp "$SITE/$page" "$ROOT/doc/$page"
  gzip -9 -n -k "$ROOT/doc/$page"
  brotli -q 11 -k "$ROOT/doc/$page"
done
chmod -R a+rX "$OUT"  # nginx's worker runs as www-data
"$BIN/tarweb-pack" -q "$ROOT" -o "$OUT/site.twb"

# 4. The matrix.
[ -n "${LWAN:-}" ] || log "LWAN is not set: the lwan column will be left out"
BENCH_OUT=$OUT TW_BIN=$BIN/tarweb-serve BIGGET=$BIN/bigget FLOOR=$BIN/floor TW_SITE=$OUT/site.twb NG_ROOT=$ROOT \
  HTML_PATH=/doc/library/queue.html HTML_LARGE_PATH=/doc/tutorial/classes.html python3 bench/serve.py "$@"
log "work dir: $OUT"
