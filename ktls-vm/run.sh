#!/bin/bash
# Boot each Debian kernel under QEMU (TCG, no KVM) with a busybox initramfs
# running a static test program; report each kernel's result.
#
# Usage: bash ktls-vm/run.sh [FILTER]
#   FILTER          only scenarios whose name contains it
#   KTLS_PROGRAM    probe (default: the raw kTLS probe) or serve (the static
#                   tarweb-serve with --ktls=require, driven by serve-check)
#   KTLS_SUITES     Debian suites to take kernels from (default: bookworm trixie sid)
#   KTLS_TIMEOUT    seconds per VM (default 120)
# Exit status: 0 iff every kernel booted, ran the probe and it passed.
set -euo pipefail
shopt -s nullglob

here=$(cd "$(dirname "$0")" && pwd)
work=$here/work
suites=(${KTLS_SUITES:-bookworm trixie sid})
vm_timeout=${KTLS_TIMEOUT:-120}
filter=${1:-}
program=${KTLS_PROGRAM:-probe}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/work/target}
target=x86_64-unknown-linux-gnu
t_start=$(date +%s.%N)

say() { echo "run.sh: $*" >&2; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- host tools --------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v depmod >/dev/null || need+=(kmod)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v cc >/dev/null || need+=(gcc libc6-dev)   # ring's C/asm parts
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
command -v cargo >/dev/null || { say "cargo not found (needs a Rust toolchain, 1.80+)"; exit 1; }

# --- static probe ------------------------------------------------------------
# glibc with crt-static: no extra rustup target or musl-gcc needed. The probe
# does no name lookups, so static glibc's NSS caveat does not apply.
say "building the static test programs"
t=$(date +%s.%N)
(cd "$here/probe" && RUSTFLAGS='-C target-feature=+crt-static' \
    nice -n 15 cargo build -q --release --locked --target $target)
extras=()
case $program in
    probe) probe=$CARGO_TARGET_DIR/$target/release/ktls-probe ;;
    serve)
        probe=$CARGO_TARGET_DIR/$target/release/serve-check
        # The server itself, the same static glibc build, from the workspace.
        (cd "$here/.." && RUSTFLAGS='-C target-feature=+crt-static' \
            nice -n 15 cargo build -q --release --locked --target $target -p tarweb-serve)
        extras=("$CARGO_TARGET_DIR/$target/release/tarweb-serve")
        ;;
    *) say "KTLS_PROGRAM must be probe or serve"; exit 2 ;;
esac
say "built in $(since "$t")s"

# --- kernels (and busybox) ---------------------------------------------------
t=$(date +%s.%N)
fetched=$(nice -n 15 "$here/fetch-kernels.sh" "${suites[@]}") || { say "fetch-kernels.sh failed"; exit 1; }
mapfile -t kernels <<< "$fetched"
[ ${#kernels[@]} -eq ${#suites[@]} ] && [ -n "${kernels[0]}" ] ||
    { say "expected ${#suites[@]} kernels, got: ${kernels[*]}"; exit 1; }
say "kernels ready in $(since "$t")s"

# --- boot each kernel --------------------------------------------------------
mkdir -p "$work/logs"
summary=()
status=0
for kdir in "${kernels[@]}"; do
    mods=("$kdir"/{usr/,}lib/modules/*/kernel)
    release=$(basename "$(dirname "${mods[0]}")")
    vmlinuz=("$kdir"/boot/vmlinuz-* "$kdir"/{usr/,}lib/modules/*/vmlinuz)
    initrd=$work/initramfs-$program-$release.cpio.gz
    log=$work/logs/$program-$release.log
    "$here/build-initramfs.sh" "$kdir" "$probe" "$initrd" "${extras[@]}"
    say "booting $release"
    t=$(date +%s.%N)
    boot_s=- exit_code= result=
    : > "$log"
    # -smp 1: 6.12 once oopsed at boot with -smp 2 under TCG (text patching).
    while IFS= read -r line; do
        line=${line%$'\r'}
        printf '  %s\n' "$line"
        printf '%s\n' "$line" >> "$log"
        case $line in
            "ktls-probe: kernel "* | "serve-check: kernel "*) boot_s=$(since "$t") ;;
            "KTLS-EXIT "*) exit_code=${line#KTLS-EXIT } ;;
            *" passed, "*" failed") result=$line ;;
        esac
    done < <(timeout --foreground -k 5 "$vm_timeout" nice -n 15 qemu-system-x86_64 \
        -M pc -accel tcg,thread=multi -cpu max -smp 1 -m 1024 \
        -nodefaults -nic none -display none -serial stdio -no-reboot \
        -kernel "${vmlinuz[0]}" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 oops=panic quiet loglevel=3 ktls_filter=$filter" \
        </dev/null 2>&1)
    total_s=$(since "$t")
    if [ -z "$exit_code" ]; then
        result="no KTLS-EXIT line: VM timed out (${vm_timeout}s), panicked or crashed"
        status=1
    elif [ "$exit_code" != 0 ]; then
        status=1
    fi
    summary+=("$release: ${result:-no result line} (exit ${exit_code:--}; probe started ${boot_s}s after boot, VM ${total_s}s)")
done

echo
echo "== kTLS summary ($program) (whole run $(since "$t_start")s) =="
for s in "${summary[@]}"; do echo "$s"; done
exit $status
