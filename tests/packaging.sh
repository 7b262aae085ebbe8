#!/usr/bin/env bash
# Packaging, with the real programs:
# - `make install` into a staging tree: the binaries run; man finds and
#   renders the pages, which name every flag of --help; bash, fish and zsh
#   load the completions from where they were installed;
# - `make deb`, installed by dpkg into a throwaway root (its own dpkg
#   database); the unit files there pass `systemd-analyze verify`, and
#   `systemd-analyze security` scores the service (the README's number);
# - the installed binaries pack testdata/ and serve it as tarweb.service
#   would (`--sites`, both ports handed over by socket activation, one of
#   them HTTPS, sd_notify), fetched with curl; SIGHUP and SIGTERM as
#   systemctl reload and stop send them; dpkg then removes the package.
# Uses the debug build (PROFILE=dev) that `make test` has just built.
# Prints `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
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
# wait_for FILE PATTERN: until a line of FILE matches (10 s at most).
wait_for() {
  for _ in $(seq 200); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
}

# --- make install ------------------------------------------------------
if make -s install PROFILE=dev PREFIX=/opt/tw DESTDIR="$work/inst" >"$work/install.log" 2>&1; then
  ok
else
  cat "$work/install.log"
  fail "make install"
  finish
fi
P=$work/inst/opt/tw
for f in bin/tarweb-serve bin/tarweb-pack \
  share/man/man1/tarweb-serve.1 share/man/man1/tarweb-pack.1 \
  share/man/man1/tarweb-pack-inspect.1 share/man/man1/tarweb-pack-verify.1 \
  share/bash-completion/completions/tarweb-serve share/bash-completion/completions/tarweb-pack \
  share/zsh/site-functions/_tarweb-serve share/zsh/site-functions/_tarweb-pack \
  share/fish/vendor_completions.d/tarweb-serve.fish share/fish/vendor_completions.d/tarweb-pack.fish; do
  if [ -f "$P/$f" ]; then ok; else fail "make install: no $f"; fi
done
check "nothing else installed" 12 "$(find "$P" -type f | wc -l)"
check "binaries executable" "755 755" "$(stat -c %a "$P/bin/tarweb-serve" "$P/bin/tarweb-pack" | xargs)"

# man finds the pages where they were put, and each names every flag its
# binary's --help lists (both come from the one clap definition).
for cmd in tarweb-serve tarweb-pack "tarweb-pack inspect" "tarweb-pack verify"; do
  page=${cmd// /-}
  check "man -w $page" "$P/share/man/man1/$page.1" "$(MANPATH="$P/share/man" man -w "$page" 2>&1)"
  text=$(LC_ALL=C MANWIDTH=200 man -P cat -l "$P/share/man/man1/$page.1" 2>"$work/man.err")
  [ -s "$work/man.err" ] && fail "man $page: $(cat "$work/man.err")"
  # shellcheck disable=SC2086 # the subcommand is a word of its own
  flags=$("$P/bin/"$cmd --help | grep -o -- '--[a-z0-9][a-z0-9-]*' | sort -u)
  [ -n "$flags" ] || fail "$cmd --help: no flags"
  for fl in $flags; do
    if grep -q -- "$fl" <<<"$text"; then ok; else fail "man $page lacks $fl"; fi
  done
done

# bash: the completion function offers --tls-listen for `--tls-l`.
got=$(bash -c '
  source "$1"
  COMP_WORDS=(tarweb-serve --tls-l) COMP_CWORD=1 COMP_LINE="tarweb-serve --tls-l" COMP_POINT=20
  fn=$(complete -p tarweb-serve | grep -o -- "-F [^ ]*" | cut -d" " -f2)
  "$fn" tarweb-serve --tls-l tarweb-serve
  printf "%s\n" "${COMPREPLY[@]}"' _ "$P/share/bash-completion/completions/tarweb-serve" 2>&1)
check "bash completes --tls-l" "--tls-listen" "$got"
got=$(bash -c '
  source "$1"
  COMP_WORDS=(tarweb-pack ins) COMP_CWORD=1 COMP_LINE="tarweb-pack ins" COMP_POINT=15
  fn=$(complete -p tarweb-pack | grep -o -- "-F [^ ]*" | cut -d" " -f2)
  "$fn" tarweb-pack ins tarweb-pack
  printf "%s\n" "${COMPREPLY[@]}"' _ "$P/share/bash-completion/completions/tarweb-pack" 2>&1)
check "bash completes tarweb-pack ins" "inspect" "$got"
# fish: found through XDG_DATA_DIRS (PREFIX/share/fish/vendor_completions.d)
# for a command on PATH.
fish_at() { PATH="$P/bin:$PATH" XDG_DATA_DIRS="$P/share" HOME="$work" fish -c "$1" 2>&1; }
got=$(fish_at 'complete -C "tarweb-serve --tls-l"' | cut -f1)
check "fish completes --tls-l" "--tls-listen" "$got"
got=$(fish_at 'complete -C "tarweb-pack ver"' | cut -f1)
check "fish completes tarweb-pack ver" "verify" "$got"
# zsh: the files parse, and compinit binds them from PREFIX/share/zsh/site-functions.
for f in _tarweb-serve _tarweb-pack; do
  if zsh -n "$P/share/zsh/site-functions/$f" 2>"$work/zsh.err"; then ok; else fail "zsh -n $f: $(cat "$work/zsh.err")"; fi
done
got=$(HOME="$work" zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -d "$2"; print -r -- "$_comps[tarweb-serve] $_comps[tarweb-pack]"' \
  _ "$P/share/zsh/site-functions" "$work/zcompdump" 2>&1)
check "zsh compinit" "_tarweb-serve _tarweb-pack" "$got"

# --- make deb, installed by dpkg into a throwaway root -------------------
if make -s deb PROFILE=dev >"$work/deb.log" 2>&1; then ok; else
  cat "$work/deb.log"
  fail "make deb"
  finish
fi
deb=$(ls target/deb/tarweb_*.deb)
check "package name" tarweb "$(dpkg-deb -f "$deb" Package)"
check "package version" "$(sed -n 's/^version = "\(.*\)"/\1/p' tarweb-serve/Cargo.toml | head -n 1)" "$(dpkg-deb -f "$deb" Version)"
case "$(dpkg-deb -f "$deb" Depends)" in libc6*) ok ;; *) fail "Depends: $(dpkg-deb -f "$deb" Depends)" ;; esac
R=$work/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
touch "$R/var/lib/dpkg/status"
# The root's database knows no libc6: --force-depends (the host's libc runs
# the binaries). --path-include: every file, whatever path-exclude a slim
# image's dpkg.cfg.d sets for man pages and docs.
if dpkg --root="$R" --force-depends --path-include='*' -i "$deb" >"$work/dpkg.log" 2>&1; then ok; else
  cat "$work/dpkg.log"
  fail "dpkg -i"
  finish
fi
check "dpkg status" "install ok installed" "$(dpkg-query --root="$R" -W -f='${Status}' tarweb)"
check "conffile" /etc/default/tarweb "$(dpkg-query --root="$R" -W -f='${Conffiles}' tarweb | awk '{print $1}')"
for f in /usr/bin/tarweb-serve /usr/bin/tarweb-pack /lib/systemd/system/tarweb.service \
  /lib/systemd/system/tarweb.socket /etc/default/tarweb /usr/share/man/man1/tarweb-serve.1.gz \
  /usr/share/man/man1/tarweb-pack.1.gz /usr/share/bash-completion/completions/tarweb-serve \
  /usr/share/zsh/site-functions/_tarweb-serve /usr/share/fish/vendor_completions.d/tarweb-serve.fish \
  /usr/share/doc/tarweb/copyright; do
  if dpkg --root="$R" -L tarweb | grep -qx "$f" && [ -f "$R$f" ]; then ok; else fail "package lacks $f"; fi
done
ver=$(sed -n 's/^version = "\(.*\)"/\1/p' tarweb-serve/Cargo.toml | head -n 1)
check "tarweb-serve --version" "tarweb-serve $ver" "$("$R/usr/bin/tarweb-serve" --version)"
check "tarweb-pack --version" "tarweb-pack $ver" "$("$R/usr/bin/tarweb-pack" --version)"
if LC_ALL=C man -P cat -l "$R/usr/share/man/man1/tarweb-serve.1.gz" 2>&1 | grep -q -- --tls-listen; then ok; else
  fail "the package's man page (gzipped) does not render"
fi

# --- the unit files: systemd-analyze in the package's root ---------------
# verify checks every unit a unit names and every program it runs, in the
# root: give it the host's targets and /bin/kill (ExecReload).
mkdir -p "$R/usr/lib/systemd/system" "$R/bin"
cp -a /lib/systemd/system/*.target "$R/usr/lib/systemd/system/"
cp /usr/bin/kill "$R/bin/kill"
units=("$R/lib/systemd/system/tarweb.socket" "$R/lib/systemd/system/tarweb.service")
# It says what it finds (also what it only warns about) and may still exit 0:
# both must be clean.
out=$(MANPATH="$R/usr/share/man" systemd-analyze verify --root="$R" "${units[@]}" 2>&1)
st=$?
check "systemd-analyze verify" "0 []" "$st [$out]"
# The check bites: a unit with a bad value is reported (in the root: with
# --root, a unit is loaded by its name from there).
cp "$R/lib/systemd/system/tarweb.socket" "$work/tarweb.socket"
sed -i 's/^NoDelay=true/NoDelay=maybe/' "$R/lib/systemd/system/tarweb.socket"
out=$(MANPATH="$R/usr/share/man" systemd-analyze verify --root="$R" "${units[@]}" 2>&1)
case "$out" in *"tarweb.socket:"*"maybe"*) ok ;; *) fail "verify missed a bad value: [$out]" ;; esac
cp "$work/tarweb.socket" "$R/lib/systemd/system/tarweb.socket"
# The README's drop-in for a certificate (LoadCredential=, %d).
mkdir -p "$R/etc/systemd/system/tarweb.service.d"
sed -n '/^# BEGIN tls.conf$/,/^# END tls.conf$/p' README.md | sed '1d;$d' \
  >"$R/etc/systemd/system/tarweb.service.d/tls.conf"
grep -q LoadCredential "$R/etc/systemd/system/tarweb.service.d/tls.conf" || fail "README: no tls.conf drop-in"
out=$(MANPATH="$R/usr/share/man" systemd-analyze verify --root="$R" "${units[@]}" 2>&1)
check "systemd-analyze verify with the README's drop-in" "0 []" "$? [$out]"
rm -r "$R/etc/systemd/system/tarweb.service.d"
# systemd-analyze security, offline (systemd >= 250): 0 is best, 10 worst;
# --threshold (x10) fails above 2.0. The README states the score.
out=$(systemd-analyze security --offline=true --root="$R" --threshold=20 "$R/lib/systemd/system/tarweb.service" 2>&1)
st=$?
score=$(grep -o 'Overall exposure level for tarweb.service: [0-9.]*' <<<"$out" | awk '{print $NF}')
echo "systemd-analyze security: tarweb.service exposure $score"
check "systemd-analyze security at most 2.0" 0 "$st"
readme_score=$(grep -o 'exposure level \*\*[0-9.]*' README.md | grep -o '[0-9.]*$')
check "README's security score" "$score" "$readme_score"

# --- the installed binaries, as tarweb.service runs them -----------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
tport=$(free_port)
mkdir -p "$work/srv"
if "$R/usr/bin/tarweb-pack" testdata -q -o "$work/srv/_default.twb"; then ok; else fail "pack"; fi
case "$("$R/usr/bin/tarweb-pack" verify "$work/srv/_default.twb")" in *": OK,"*) ok ;; *) fail "verify" ;; esac
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  -addext basicConstraints=critical,CA:FALSE \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null || fail "openssl"
# sd_notify: a datagram socket, as systemd's, whose messages go one a line.
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
' "$work/notify.sock" >"$work/notify.log" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/notify.sock" ] && break; sleep 0.05; done
# systemd-socket-activate holds both ports, as tarweb.socket holds 80 and
# 443, and execs the server (same PID) on the first connection.
systemd-socket-activate -l "127.0.0.1:$port" -l "127.0.0.1:$tport" -E "NOTIFY_SOCKET=$work/notify.sock" \
  "$R/usr/bin/tarweb-serve" --sites "$work/srv" --threads 2 \
  --tls-listen "127.0.0.1:$tport" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  >"$work/serve.log" 2>&1 &
server=$!
pids+=("$server")
wait_for "$work/serve.log" "Listening on 127.0.0.1:$tport" || fail "systemd-socket-activate did not listen"
curl -sS -m 20 -o "$work/index" "http://127.0.0.1:$port/" || fail "curl http"
if cmp -s testdata/index.html "$work/index"; then ok; else fail "http: index differs"; fi
got=$(curl -sS -m 20 -o "$work/index2" -w '%{http_code} %{http_version}' --cacert "$work/cert.pem" \
  --resolve "localhost:$tport:127.0.0.1" "https://localhost:$tport/")
check "https on the activated socket" "200 2" "$got"
if cmp -s testdata/index.html "$work/index2"; then ok; else fail "https: index differs"; fi
wait_for "$work/serve.log" "listening on 127.0.0.1:$tport (systemd, https" && ok || fail "no https line: $(cat "$work/serve.log")"
wait_for "$work/notify.log" "^READY=1" && ok || fail "no READY=1"
kill -HUP "$server"
wait_for "$work/notify.log" "^RELOADING=1 MONOTONIC_USEC=[0-9]" && ok || fail "no RELOADING=1"
for _ in $(seq 200); do [ "$(grep -c '^READY=1' "$work/notify.log")" -ge 2 ] && break; sleep 0.05; done
check "READY=1 after the reload" 2 "$(grep -c '^READY=1' "$work/notify.log")"
kill -TERM "$server"
for _ in $(seq 400); do kill -0 "$server" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$server" 2>/dev/null; then fail "server still running 20 s after SIGTERM"; else
  wait "$server"
  check "exit status after SIGTERM" 0 "$?"
fi
wait_for "$work/notify.log" "^STOPPING=1" && ok || fail "no STOPPING=1"

# --- removal: the conffile stays until purge -----------------------------
dpkg --root="$R" -r tarweb >"$work/dpkg.log" 2>&1 || fail "dpkg -r: $(cat "$work/dpkg.log")"
if [ ! -e "$R/usr/bin/tarweb-serve" ] && [ -f "$R/etc/default/tarweb" ]; then ok; else fail "dpkg -r left the wrong files"; fi
dpkg --root="$R" -P tarweb >"$work/dpkg.log" 2>&1 || fail "dpkg -P: $(cat "$work/dpkg.log")"
if [ ! -e "$R/etc/default/tarweb" ]; then ok; else fail "dpkg -P kept /etc/default/tarweb"; fi

finish
