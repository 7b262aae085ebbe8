#!/bin/bash
# Download Debian cloud kernels (and busybox-static) into ktls-vm/work/ and
# unpack them with dpkg -x. Idempotent: a kernel already unpacked is skipped.
#
# Usage: fetch-kernels.sh [SUITE...]       (default: bookworm trixie sid)
# Prints one unpacked kernel directory per line on stdout (logs go to stderr).
#
# The system's apt sources are never touched: each suite gets a private apt
# configuration (sources list, lists, cache) under work/apt/SUITE/.
set -euo pipefail
shopt -s nullglob

here=$(cd "$(dirname "$0")" && pwd)
work=$here/work
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie sid)

log() { echo "fetch-kernels: $*" >&2; }

# apt-get/apt-cache ($1) with a private configuration for one suite ($2).
papt() {
    local tool=$1 suite=$2; shift 2
    local d=$work/apt/$suite
    "$tool" -q \
        -o Dir::Etc::SourceList="$d/sources.list" \
        -o Dir::Etc::SourceParts="$d/sources.list.d" \
        -o Dir::State::Lists="$d/lists" \
        -o Dir::Cache="$d/cache" \
        -o Dir::State::status="$d/status" \
        -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root \
        "$@"
}

setup_suite() {
    local suite=$1 d=$work/apt/$1
    mkdir -p "$d/sources.list.d" "$d/lists/partial" "$d/cache/archives/partial"
    : > "$d/status"
    echo "deb $mirror $suite main" > "$d/sources.list"
    # Refresh the index at most once a day.
    if [ -z "$(find "$d/lists" -maxdepth 1 -name '*_InRelease' -mtime -1 2>/dev/null)" ]; then
        log "apt-get update ($suite)"
        papt apt-get "$suite" update >&2
    fi
}

# Download package $2 from suite $1 into work/debs/ (once); print the .deb path.
download() {
    local suite=$1 pkg=$2 deb
    mkdir -p "$work/debs"
    local ver
    ver=$(papt apt-cache "$suite" show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
    [ -n "$ver" ] || { log "package $pkg not found in $suite"; return 1; }
    # (apt writes an epoch's ':' as %3a in file names)
    local found=("$work/debs/${pkg}_${ver//:/%3a}_"*.deb)
    if [ ${#found[@]} -eq 0 ]; then
        log "downloading $pkg $ver ($suite)"
        (cd "$work/debs" && papt apt-get "$suite" download "$pkg=$ver" >&2)
        found=("$work/debs/${pkg}_${ver//:/%3a}_"*.deb)
        [ ${#found[@]} -gt 0 ] || { log "download of $pkg failed"; return 1; }
    fi
    echo "${found[0]}"
}

# The linux-* packages a .deb depends on (kernel image -> binary/modules split).
kernel_deps() {
    dpkg-deb -f "$1" Depends 2>/dev/null | tr ',|' '\n\n' | sed 's/(.*//; s/ //g' |
        grep -E '^linux-(image|binary|modules)-[0-9]' || true
}

fetch_kernel() {
    local suite=$1
    setup_suite "$suite"
    # Resolve the cloud-amd64 metapackage to the concrete packages.
    local queue=(linux-image-cloud-amd64) seen=" " debs=()
    while [ ${#queue[@]} -gt 0 ]; do
        local p=${queue[0]}; queue=("${queue[@]:1}")
        case "$seen" in *" $p "*) continue ;; esac
        seen="$seen$p "
        local deb; deb=$(download "$suite" "$p") || return 1
        debs+=("$deb")
        for dep in $(kernel_deps "$deb"); do queue+=("$dep"); done
    done
    # Name the directory after the kernel release found in /boot.
    local tmp=$work/kernels/.tmp-$suite
    rm -rf "$tmp"; mkdir -p "$tmp"
    local stamp=$work/kernels/.$suite.debs want
    want=$(printf '%s\n' "${debs[@]}" | xargs -n1 basename | sort)
    # Re-extract only if the set of .debs changed.
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$(sed -n 1p "$stamp.dir" 2>/dev/null)" ]; then
        rm -rf "$tmp"
        sed -n 1p "$stamp.dir"
        return
    fi
    for deb in "${debs[@]}"; do dpkg -x "$deb" "$tmp"; done
    # Layouts: /boot/vmlinuz-REL (6.x) or /usr/lib/modules/REL/vmlinuz (7.x split).
    local found mods
    found=("$tmp"/boot/vmlinuz-* "$tmp"/{usr/,}lib/modules/*/vmlinuz)
    mods=("$tmp"/{usr/,}lib/modules/*/kernel)
    [ ${#found[@]} -gt 0 ] && [ ${#mods[@]} -gt 0 ] || { log "no vmlinuz/modules in $suite packages"; return 1; }
    local release
    release=$(basename "$(dirname "${mods[0]}")")
    local dir=$work/kernels/$release
    rm -rf "$dir"; mv "$tmp" "$dir"
    echo "$want" > "$stamp"; echo "$dir" > "$stamp.dir"
    log "$suite: kernel $release in $dir"
    echo "$dir"
}

fetch_busybox() {
    [ -x "$work/busybox/bin/busybox" ] && return
    setup_suite bookworm
    local deb; deb=$(download bookworm busybox-static) || return 1
    rm -rf "$work/busybox"; dpkg -x "$deb" "$work/busybox"
}

fetch_busybox
for s in "${suites[@]}"; do fetch_kernel "$s"; done
