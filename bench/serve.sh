#!/usr/bin/env bash
# tarweb-serve vs nginx, side by side, same bytes.
# Server pinned to core 0 (one worker/thread), wrk pinned to core 1 (-t2).
# 3 rounds of DURATION seconds per (server, URL); medians and ratios; then
# syscalls per request from `strace -c -f` on a short extra run.
# Needs: nginx, wrk, strace, taskset (apt-get install nginx wrk strace util-linux).
# Every step is bounded in time; servers started here are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
TW_PORT=${TW_PORT:-18080}
NG_PORT=${NG_PORT:-18081}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT=$(mktemp -d /tmp/tarweb-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cargo build -q --release -p tarweb-serve -p tarweb-pack
BIN=$CARGO_TARGET_DIR/release/tarweb-serve
# The same files for both servers: a docroot for nginx (with the .gz sibling
# gzip_static wants), packed by tarweb-pack for tarweb, as a deploy would.
mkdir -p "$OUT/root"
{
  echo '<!doctype html><html><head><title>bench</title></head><body>'
  for i in $(seq 0 149); do echo "<p>Paragraph $i: a static site served by counting syscalls.</p>"; done
  echo '</body></html>'
} >"$OUT/root/index.html"
gzip -9 -n -k "$OUT/root/index.html"
head -c 1048576 /dev/urandom >"$OUT/root/big.bin"
"$CARGO_TARGET_DIR/release/tarweb-pack" -q "$OUT/root" -o "$OUT/site.twb"

cat >"$OUT/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
master_process off;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log warn;
events { worker_connections 4096; use epoll; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    open_file_cache max=100 inactive=60s;
    open_file_cache_valid 60s;
    gzip_static on;
    etag on;
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NG_PORT reuseport;
        root $OUT/root;
        index index.html;
    }
}
NGINX

wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }

start_tarweb() {
    taskset -c 0 "$BIN" "$OUT/site.twb" --listen "127.0.0.1:$TW_PORT" --threads 1 >/dev/null &
    TW_PID=$!; PIDS+=("$TW_PID"); wait_port "$TW_PORT"
}
start_nginx() {
    taskset -c 0 nginx -c "$OUT/nginx.conf" -p "$OUT" &
    NG_PID=$!; PIDS+=("$NG_PID"); wait_port "$NG_PORT"
}

rps() { # url [extra wrk args]
    local url=$1; shift
    timeout $((DURATION + 20)) taskset -c 1 wrk -t2 -c"$CONNS" -d"${DURATION}s" "$@" "$url" | awk '/Requests\/sec/ {print $2}'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start_tarweb; start_nginx
printf "%-34s %12s %12s %7s\n" "case (median of $ROUNDS x ${DURATION}s)" "tarweb req/s" "nginx req/s" "ratio"
for case in "/index.html|" "/index.html|-H Accept-Encoding:gzip" "/big.bin|"; do
    path=${case%%|*}; extra=${case#*|}
    tw=$(for _ in $(seq "$ROUNDS"); do rps "http://127.0.0.1:$TW_PORT$path" $extra; done | median)
    ng=$(for _ in $(seq "$ROUNDS"); do rps "http://127.0.0.1:$NG_PORT$path" $extra; done | median)
    printf "%-34s %12s %12s %7.2f\n" "$path ${extra:-}" "$tw" "$ng" "$(echo "$tw / $ng" | bc -l)"
done
kill "$TW_PID" "$NG_PID"; wait "$TW_PID" "$NG_PID" 2>/dev/null || true; PIDS=()

# Syscalls per request: strace -c -f around each server for a short run.
per_req() { # name port startcmd...
    local name=$1 port=$2; shift 2
    timeout 60 strace -c -f -o "$OUT/strace-$name.txt" taskset -c 0 "$@" >/dev/null 2>&1 &
    local sp=$!; PIDS+=("$sp"); wait_port "$port"
    local n
    n=$(timeout 30 taskset -c 1 wrk -t2 -c16 -d2s "http://127.0.0.1:$port/index.html" | awk '/requests in/ {print $1}')
    stop_tree "$sp"
    wait "$sp" 2>/dev/null || true
    local total
    total=$(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" {s += $4} END {print s}' "$OUT/strace-$name.txt")
    printf "%-8s %8s requests, %9s syscalls, %.2f syscalls/request\n" "$name" "$n" "$total" "$(echo "$total / $n" | bc -l)"
    awk '$1 ~ /^[0-9.]+$/ && $NF != "total" {print $4, $NF}' "$OUT/strace-$name.txt" | sort -n -r | head -6 |
        awk -v n="$n" '{printf "         %-14s %9d  (%.2f/request)\n", $2, $1, $1 / n}'
}
# Stop the traced server (strace's child) by its own PID, found from strace's.
stop_tree() { local c; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do stop_tree "$c"; kill -TERM "$c" 2>/dev/null || true; done; }
echo
per_req tarweb "$TW_PORT" "$BIN" "$OUT/site.twb" --listen "127.0.0.1:$TW_PORT" --threads 1
per_req nginx "$NG_PORT" nginx -c "$OUT/nginx.conf" -p "$OUT"
echo "work dir: $OUT"
