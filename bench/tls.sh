#!/usr/bin/env bash
# HTTPS: tarweb-serve vs nginx with TLS, same bytes, same certificate
# (ECDSA P-256), in the same run. Server pinned to core 0 (one worker),
# wrk on core 1 (-t2). Cases: new connection per request (handshakes/s),
# keep-alive small file, keep-alive 1 MiB. tarweb uses kTLS when this
# kernel has the "tls" ULP (a second tarweb row with --ktls=off is then
# added); otherwise its records are encrypted in user space by rustls.
# ROUNDS x DURATION seconds per (server, case), medians, ratios.
# Needs: nginx, wrk, taskset, openssl, bc. Servers are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
TW_PORT=${TW_PORT:-18443}
TK_PORT=${TK_PORT:-18444}
NG_PORT=${NG_PORT:-18445}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
OUT=$(mktemp -d /tmp/tarweb-bench-tls.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cargo build -q --release -p tarweb-serve -p tarweb-pack
BIN=$CARGO_TARGET_DIR/release/tarweb-serve
mkdir -p "$OUT/root"
{
  echo '<!doctype html><html><head><title>bench</title></head><body>'
  for i in $(seq 0 149); do echo "<p>Paragraph $i: a static site served by counting syscalls.</p>"; done
  echo '</body></html>'
} >"$OUT/root/index.html"
head -c 1048576 /dev/urandom >"$OUT/root/big.bin"
"$CARGO_TARGET_DIR/release/tarweb-pack" -q "$OUT/root" -o "$OUT/site.twb"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  -addext basicConstraints=critical,CA:FALSE \
  -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null

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
    etag on;
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $OUT/cert.pem;
    ssl_certificate_key $OUT/key.pem;
    ssl_session_cache shared:SSL:10m;
    server {
        listen 127.0.0.1:$NG_PORT ssl reuseport;
        root $OUT/root;
        index index.html;
    }
}
NGINX

wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not up" >&2; exit 1; }

start() { # port ktls-mode; fails if the server exits (--ktls=require without kTLS)
    taskset -c 0 "$BIN" "$OUT/site.twb" --listen 127.0.0.1:0 --tls-listen "127.0.0.1:$1" \
      --tls-cert "$OUT/cert.pem" --tls-key "$OUT/key.pem" --threads 1 --ktls "$2" >/dev/null 2>"$OUT/tarweb-$1.err" &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    echo "port $1 not up" >&2; exit 1
}
start "$TW_PORT" off
ktls=no
start "$TK_PORT" require && ktls=yes
taskset -c 0 nginx -c "$OUT/nginx.conf" -p "$OUT" &
PIDS+=("$!"); wait_port "$NG_PORT"

rps() { # url [extra wrk args]
    local url=$1; shift
    timeout $((DURATION + 20)) taskset -c 1 wrk -t2 -c"$CONNS" -d"${DURATION}s" "$@" "$url" | awk '/Requests\/sec/ {print $2}'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # port case-args...
    local port=$1 path=$2; shift 2
    for _ in $(seq "$ROUNDS"); do rps "https://localhost:$port$path" "$@"; done | median
}

echo "kTLS on this kernel: $ktls (tarweb: user-space records$([ "$ktls" = yes ] && echo ", and kTLS"))"
hdr="%-40s %14s %14s %7s"
if [ "$ktls" = yes ]; then
    printf "$hdr %14s %7s\n" "case (median of $ROUNDS x ${DURATION}s)" "tarweb user/s" "nginx/s" "ratio" "tarweb kTLS/s" "ratio"
else
    printf "$hdr\n" "case (median of $ROUNDS x ${DURATION}s)" "tarweb/s" "nginx/s" "ratio"
fi
for case in "handshakes (Connection: close)|/index.html|-H|Connection: close" \
            "keep-alive /index.html (9 KB)|/index.html" \
            "keep-alive /big.bin (1 MiB)|/big.bin"; do
    IFS='|' read -r name path a1 a2 <<<"$case"
    extra=()
    [ -n "${a1:-}" ] && extra=("$a1" "$a2")
    tw=$(measure "$TW_PORT" "$path" "${extra[@]}")
    ng=$(measure "$NG_PORT" "$path" "${extra[@]}")
    line=$(printf "%-40s %14s %14s %7.2f" "$name" "$tw" "$ng" "$(echo "$tw / $ng" | bc -l)")
    if [ "$ktls" = yes ]; then
        tk=$(measure "$TK_PORT" "$path" "${extra[@]}")
        line+=$(printf " %14s %7.2f" "$tk" "$(echo "$tk / $ng" | bc -l)")
    fi
    echo "$line"
done
echo "(wrk resolves localhost; both servers present the same ECDSA P-256 certificate;"
echo " wrk makes a full handshake per connection: no session resumption)"
echo "work dir: $OUT"
