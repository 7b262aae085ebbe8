#!/usr/bin/env bash
# End to end through both binaries and a real client: tarweb-pack packs
# testdata/, tarweb-serve serves it, curl fetches every file in every coding
# (HTTP/1.1 and HTTP/2, in the clear and over TLS)
# and the bytes are compared with the originals. Prints `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-${CARGO_TARGET_DIR:-target}/debug}
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check NAME WANT GOT
  if [ "$2" = "$3" ]; then ok; else fail "$1: want [$2], got [$3]"; fi
}

"$BIN/tarweb-pack" testdata -q -o "$work/site.twb" || { echo "0 passed, 1 failed"; exit 1; }

# An ephemeral port: let the kernel pick one, then hand it to the server.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
tport=$(free_port)
# HTTPS too: a throwaway certificate for localhost (user-space TLS on kernels
# without kTLS; the kernel path is `make test-ktls`).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  -addext basicConstraints=critical,CA:FALSE \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null || { echo "openssl failed"; echo "0 passed, 1 failed"; exit 1; }
"$BIN/tarweb-serve" "$work/site.twb" --listen "127.0.0.1:$port" --threads 2 --root-header \
  --tls-listen "127.0.0.1:$tport" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -Eq '(^| )ready$' "$work/serve.log" && break
  sleep 0.05
done
grep -Eq '(^| )ready$' "$work/serve.log" || { cat "$work/serve.log"; echo "0 passed, 1 failed"; exit 1; }
base="http://127.0.0.1:$port"

urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

# Every file, identity and each coding the client asks for alone; over
# plain HTTP, then over HTTPS (curl checks the certificate with --cacert).
fetch_all() { # BASE [curl args...]
  local b=$1; shift
  while IFS= read -r -d '' f; do
    rel=${f#testdata/}
    case "$rel" in _headers | _redirects) continue ;; esac
    url="$b/$(urlencode "$rel")"
    for enc in identity gzip br zstd; do
      hdrs="$work/h"
      if [ "$enc" = identity ]; then
        curl -sS "$@" -D "$hdrs" -o "$work/body" "$url"
      else
        curl -sS "$@" -D "$hdrs" -o "$work/body" --compressed -H "Accept-Encoding: $enc" "$url"
      fi
      status=$(head -1 "$hdrs" | tr -d '\r' | cut -d' ' -f2)
      check "$url [$enc] status" 200 "$status"
      if cmp -s "$f" "$work/body"; then ok; else fail "$url [$enc]: body differs from the file"; fi
      ce=$(grep -i '^content-encoding:' "$hdrs" | tr -d '\r' | cut -d' ' -f2)
      case "$ce" in "" | "$enc") ok ;; *) fail "$url [$enc]: Content-Encoding $ce" ;; esac
    done
  done < <(find testdata -type f -print0 | sort -z)
}
# Every file in every coding: HTTP/1.1 and HTTP/2 (prior knowledge) in
# the clear; HTTP/2 (curl's ALPN choice) and HTTP/1.1 over TLS.
fetch_all "$base"
fetch_all "$base" --http2-prior-knowledge
fetch_all "https://localhost:$tport" --cacert "$work/cert.pem" --resolve "localhost:$tport:127.0.0.1"
fetch_all "https://localhost:$tport" --http1.1 --cacert "$work/cert.pem" --resolve "localhost:$tport:127.0.0.1"
check "https ALPN h2" "2" "$(curl -s -o /dev/null -w '%{http_version}' --cacert "$work/cert.pem" --resolve "localhost:$tport:127.0.0.1" "https://localhost:$tport/")"
check "https ALPN http/1.1" "1.1" "$(curl -s -o /dev/null -w '%{http_version}' --http1.1 --cacert "$work/cert.pem" --resolve "localhost:$tport:127.0.0.1" "https://localhost:$tport/")"
check "h2c prior knowledge" "2 200" "$(curl -s -o /dev/null -w '%{http_version} %{http_code}' --http2-prior-knowledge "$base/")"
check "https TLS 1.2" 200 "$(curl -s -o /dev/null -w '%{http_code}' --tlsv1.2 --tls-max 1.2 --cacert "$work/cert.pem" --resolve "localhost:$tport:127.0.0.1" "https://localhost:$tport/")"

# The site's rules, as a browser meets them.
check "dir redirect" "301 $base/docs/" "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$base/docs")"
check "_redirects 308" "308 $base/docs/guide/getting-started/" "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$base/docs/start")"
check "_redirects external" "307 https://example.org/feed.xml" "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$base/feed")"
check "index page" 200 "$(curl -s -o "$work/body" -w '%{http_code}' "$base/docs/")"
cmp -s testdata/docs/index.html "$work/body" && ok || fail "/docs/ body"
check "404 status" 404 "$(curl -s -o "$work/body" -w '%{http_code}' "$base/no/such/page")"
cmp -s testdata/404.html "$work/body" && ok || fail "404 body is not 404.html"
check "404 compressed" 404 "$(curl -s --compressed -o "$work/body" -w '%{http_code}' "$base/nope")"
cmp -s testdata/404.html "$work/body" && ok || fail "compressed 404 body"
check "_headers" "nosniff" "$(curl -sI "$base/css/site.css" | grep -i '^x-content-type-options:' | tr -d '\r' | cut -d' ' -f2)"
check "rules are not served" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$base/_headers")"

# Conditional and range requests against the stored ETag.
etag=$(curl -sI "$base/css/site.css" | grep -i '^etag:' | tr -d '\r' | cut -d' ' -f2)
check "304" 304 "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/css/site.css")"
check "range" "206 $(head -c 100 testdata/css/site.css | md5sum | cut -d' ' -f1)" \
  "$(curl -s -o "$work/body" -w '%{http_code}' -r 0-99 "$base/css/site.css") $(md5sum < "$work/body" | cut -d' ' -f1)"

# A deploy as README.md says it: pack beside the live blob, rename over it.
# The server switches by itself; the Tarweb-Root header names the digest
# that `tarweb-pack verify` prints.
digest() { "$BIN/tarweb-pack" verify "$1" | sed -n 's/.*digest \([0-9a-f]*\).*/\1/p'; }
root_header() { curl -sI "$base/" | grep -i '^tarweb-root:' | tr -d '\r' | cut -d' ' -f2; }
check "root header names the blob" "$(digest "$work/site.twb")" "$(root_header)"
cp -r testdata "$work/site2"
echo "<p>deployed</p>" >"$work/site2/deployed.html"
"$BIN/tarweb-pack" "$work/site2" -q -o "$work/site.twb.new" && mv "$work/site.twb.new" "$work/site.twb"
new_digest=$(digest "$work/site.twb")
for _ in $(seq 100); do
  [ "$(root_header)" = "$new_digest" ] && break
  sleep 0.05
done
check "root header after the deploy" "$new_digest" "$(root_header)"
check "new file after the deploy" "<p>deployed</p>" "$(curl -s "$base/deployed.html")"
# After the timestamp and level every server line starts with.
grep -Eq "(^| )worker 1: generation 2: serving $new_digest" "$work/serve.log" && ok || fail "worker log names the new digest"

# A clean stop: SIGTERM, exit 0.
kill -TERM "$server_pid"
wait "$server_pid"
check "exit status after SIGTERM" 0 "$?"
server_pid=""

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
