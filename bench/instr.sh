#!/usr/bin/env bash
# User-space instructions per request of one tarweb-serve worker, counted
# by callgrind: a count, not a time, so it is the same on a busy or a quiet
# machine, and two builds compare exactly. Kernel work (most of a request)
# is not in it: bench/serve.sh measures that side by side with nginx.
#
# Usage (from the repository root):
#   bash bench/instr.sh BLOB PATH [BINARY...]
# e.g. bash bench/instr.sh /tmp/site.twb /1k.html target/release/tarweb-serve old/tarweb-serve
# Environment: SECONDS_LOAD (default 4), CONNS (default 50), TOP (functions listed, default 12).
# Needs valgrind and wrk (apt-get install valgrind wrk).
set -euo pipefail
blob=$1 path=$2
shift 2
[ $# -gt 0 ] || set -- target/release/tarweb-serve
secs=${SECONDS_LOAD:-4} conns=${CONNS:-50} top=${TOP:-12}
port=18391 stats=18392
work=$(mktemp -d /tmp/tarweb-instr.XXXXXX)
for bin in "$@"; do
  out=$work/cg.%p
  # valgrind makes its own syscalls in the process (executable mappings
  # for its translations among them): the seccomp filter would kill it.
  # Builds from before --sandbox have no filter and no flag.
  nosandbox=()
  "$bin" --help | grep -q -- --sandbox && nosandbox=(--sandbox off)
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out" \
    "$bin" "$blob" "${nosandbox[@]}" --threads 1 --max-requests-per-connection 1000000 --hot-responses 0 \
    --listen 127.0.0.1:$port --stats-listen 127.0.0.1:$stats >"$work/server.log" 2>&1 &
  vpid=$!
  for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port$path" && break
    sleep 0.2
  done
  before=$(curl -s "http://127.0.0.1:$stats/" | awk '$1=="requests"{print $2}')
  wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port$path" >"$work/wrk.txt"
  after=$(curl -s "http://127.0.0.1:$stats/" | awk '$1=="requests"{print $2}')
  kill -TERM $vpid
  wait $vpid || true
  # The worker is the thread with the most instructions.
  worker=$(for f in "$work"/cg.$vpid-*; do
    printf '%s %s\n' "$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')" "$f"
  done | sort -n | tail -1 | cut -d' ' -f2)
  reqs=$((after - before))
  echo "== $bin: $reqs requests measured"
  callgrind_annotate --tree=none --auto=no --threshold=100 "$worker" 2>/dev/null | python3 -c '
import re, sys, collections
reqs = float(sys.argv[1]); top = int(sys.argv[2])
c = collections.Counter(); total = 0
for l in sys.stdin:
    m = re.match(r"\s*([\d,]+)\s+\(100.0%\)\s+PROGRAM TOTALS", l)
    if m:
        total = int(m.group(1).replace(",", ""))
        continue
    m = re.match(r"\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*?):(\S.*?)(\s+\[.*\])?$", l)
    if m:
        c[m.group(3)] += int(m.group(1).replace(",", ""))
print(f"{total / reqs:.0f} instructions per request (worker thread, {total:,} in all)")
for fn, v in c.most_common(top):
    print(f"  {v / reqs:7.0f}  {fn[:90]}")
' "$reqs" "$top"
done
rm -rf "$work"
