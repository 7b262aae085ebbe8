#!/usr/bin/env bash
# Fetches Debian's python3.11-doc HTML (a real Sphinx site nobody here
# wrote) into bench/work/site, once, and prints that path. Used by
# bench/pack.sh and bench/serve.sh. Not committed: bench/work is ignored.
#
# The two symlinks the package ships (_static/jquery.js,
# _static/underscore.js -> /usr/share/javascript/...) are resolved from the
# packages it depends on (libjs-jquery, libjs-underscore), as on an
# installed system, and the tree is copied with symlinks dereferenced.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORK=$(pwd)/bench/work
mkdir -p "$WORK"
log() { printf '>> %s\n' "$*" >&2; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; return 1; fi
}
command -v dpkg >/dev/null || { echo "dpkg not found: this benchmark needs a Debian-like system" >&2; exit 1; }

SITE=$WORK/site
if [ -f "$SITE/.bench-ready" ]; then
  log "reusing ${SITE#"$WORK"/}"
else
  rm -rf "$SITE" "$WORK/root"
  mkdir -p "$WORK/debs" "$WORK/root"
  (
    cd "$WORK/debs"
    pkgs=(python3.11-doc libjs-jquery libjs-underscore)
    if ! ls python3.11-doc_*.deb >/dev/null 2>&1; then
      # apt-get download needs package lists; refresh them only if it fails.
      # Its progress goes to stderr: stdout is the path the callers capture.
      apt-get download "${pkgs[@]}" >&2 2>/dev/null || { as_root apt-get update -qq && apt-get download "${pkgs[@]}" >&2; }
    fi
  )
  for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$WORK/root"; done
  # Find where the HTML really is: the doc dir may be a symlink
  # (e.g. python3.11-doc/html -> ../python3.11/html).
  html=""
  for cand in usr/share/doc/python3.11/html usr/share/doc/python3.11-doc/html; do
    if [ -e "$WORK/root/$cand/index.html" ]; then html=$(readlink -f "$WORK/root/$cand"); break; fi
  done
  if [ -z "$html" ]; then
    html=$(dirname "$(find "$WORK/root" -path '*/html/index.html' -print -quit)")
  fi
  case "$html" in "$WORK/root"/*) ;; *) echo "HTML tree not found inside the package: '$html'" >&2; exit 1;; esac
  log "HTML tree: ${html#"$WORK"/}"
  # Dereference symlinks (they resolve inside $WORK/root thanks to the
  # libjs-* packages); drop any that still dangle, and say so.
  python3 - "$html" "$SITE" <<'EOF'
import os, shutil, sys
src, dst = sys.argv[1:3]
dangling = []
def ignore(dirpath, names):
    # Not copytree's ignore_dangling_symlinks: it checks a relative link
    # target against the CWD instead of the link's directory.
    bad = [n for n in names if os.path.islink(os.path.join(dirpath, n))
           and not os.path.exists(os.path.join(dirpath, n))]
    dangling.extend(os.path.relpath(os.path.join(dirpath, n), src) for n in bad)
    return bad
shutil.copytree(src, dst, symlinks=False, ignore=ignore)
for d in dangling:
    print(">> dropped dangling symlink: " + d, file=sys.stderr)
EOF
  touch "$SITE/.bench-ready"
fi

echo "$SITE"
