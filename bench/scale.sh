#!/usr/bin/env bash
# Scale benchmark (issue 18 §5): tarweb-pack time and peak RSS against the
# number of files, and tarweb-serve's start (process start to first 200)
# and live-swap (rename to first response from the new root) times
# against the blob's size.
#
# Usage (from the repository root):  bash bench/scale.sh [pack|serve|all]
#
# Environment:
#   SCALE_DIR=/var/tmp/tarweb-scale  where sites and blobs go (never the
#                        repository; a disk filesystem, not tmpfs, unless
#                        you mean to measure tmpfs: say which in the results)
#   SCALE_PAGES="10000 100000 300000"  site sizes for the pack curve
#   SCALE_RUNS=3         runs per figure (the median is reported)
#   SCALE_SERVE="20MB 200MB 2GB"  blob sizes for the serve figures
#   SCALE_SERVE_ARGS="--blob-copy copy"  extra tarweb-serve arguments
#                        (e.g. to time the private copy instead of the lease)
#   BENCH_NO_BUILD=1     use target/release binaries as they are
#
# Sites come from bench/gen-site.py (deterministic: same tree, same blob).
# Serve figures: 20 MB (10,000 pages), 200 MB (100,000 pages) and 2 GB
# (10,000 pages + 1,900 files of 1 MiB, .png: never compressed) blobs; the swap replaces a blob by
# one of the same site packed with another --cache-control (same size,
# other digest). Every wait is bounded (bench/first-response.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WHAT=${1:-all}
DIR=${SCALE_DIR:-/var/tmp/tarweb-scale}
PAGES=${SCALE_PAGES:-10000 100000 300000}
RUNS=${SCALE_RUNS:-3}
PACK=target/release/tarweb-pack
SERVE=target/release/tarweb-serve
mkdir -p "$DIR"
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -p tarweb-pack -p tarweb-serve >&2
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "# $(date -u '+%F %T') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(df -T "$DIR" | awk 'NR==2 {print $2}') at $DIR"

site() { # pages [big] -> dir
  local d=$DIR/site-$1-${2:-0}
  [ -e "$d/.done" ] || { rm -rf "$d"; python3 bench/gen-site.py "$d" "$1" "${2:-0}"; touch "$d/.done"; }
  echo "$d"
}

if [ "$WHAT" = pack ] || [ "$WHAT" = all ]; then
  echo "| pages | runs | median wall (s) | median peak RSS (MB) | blob (bytes) |"
  echo "| ---: | ---: | ---: | ---: | ---: |"
  for n in $PAGES; do
    s=$(site "$n")
    ts=(); rs=()
    for _ in $(seq "$RUNS"); do
      /usr/bin/time -f '%e %M' -o "$DIR/time.txt" "$PACK" "$s" -o "$DIR/pack-$n.twb" >/dev/null 2>&1
      read -r t r < "$DIR/time.txt"; ts+=("$t"); rs+=("$r")
    done
    t=$(printf '%s\n' "${ts[@]}" | median); r=$(printf '%s\n' "${rs[@]}" | median)
    echo "| $n | $RUNS | $t | $((r / 1024)) | $(stat -c %s "$DIR/pack-$n.twb") |"
  done
fi

if [ "$WHAT" = serve ] || [ "$WHAT" = all ]; then
  echo "| blob | size (bytes) | runs | median start (ms) | median swap (ms) | of which the rename (ms) | starts | swaps |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
  for spec in "20MB 10000 0" "200MB 100000 0" "2GB 10000 1900"; do
    read -r name n big <<<"$spec"
    [[ " ${SCALE_SERVE:-20MB 200MB 2GB} " == *" $name "* ]] || continue
    s=$(site "$n" "$big")
    a=$DIR/serve-$name-a.twb; b=$DIR/serve-$name-b.twb
    [ -e "$a" ] || "$PACK" "$s" -o "$a" >/dev/null 2>&1
    [ -e "$b" ] || "$PACK" "$s" -o "$b" --cache-control "max-age=60" >/dev/null 2>&1
    starts=(); swaps=(); renames=()
    for _ in $(seq "$RUNS"); do
      # shellcheck disable=SC2086
      out=$(python3 bench/first-response.py "$SERVE" "$a" "$b" -- ${SCALE_SERVE_ARGS:-})
      starts+=("$(sed -n 's/.*start_ms=\([^ ]*\).*/\1/p' <<<"$out")")
      swaps+=("$(sed -n 's/.*swap_ms=\([^ ]*\).*/\1/p' <<<"$out")")
      renames+=("$(sed -n 's/.*rename_ms=\([^ ]*\).*/\1/p' <<<"$out")")
    done
    echo "| $name | $(stat -c %s "$a") | $RUNS | $(printf '%s\n' "${starts[@]}" | median) | $(printf '%s\n' "${swaps[@]}" | median) | $(printf '%s\n' "${renames[@]}" | median) | ${starts[*]} | ${swaps[*]} |"
  done
fi
