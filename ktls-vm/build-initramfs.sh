#!/bin/bash
# Build a busybox initramfs that loads tls.ko and runs one static test binary.
#
# Usage: build-initramfs.sh KERNEL_DIR TEST_BINARY OUT.cpio.gz [EXTRA...]
#   KERNEL_DIR   a kernel unpacked by fetch-kernels.sh (has {usr/,}lib/modules/REL)
#   TEST_BINARY  a static executable; it becomes /probe in the VM
#   EXTRA        more static executables, each installed as /NAME (e.g. the
#                tarweb-serve that serve-check drives)
#
# The VM's /init mounts proc/sys/devtmpfs/tmpfs, brings lo up, points
# /proc/sys/kernel/modprobe at busybox modprobe (the kernel then loads gcm,
# ghash, chacha20poly1305... on its own when a key is installed), loads tls,
# runs /probe, prints "KTLS-EXIT <code>" on the console and powers off.
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 KERNEL_DIR TEST_BINARY OUT.cpio.gz [EXTRA...]" >&2; exit 2; }
kdir=$(cd "$1" && pwd)
probe=$2
out=$3
shift 3
extras=("$@")
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-$here/work/busybox/bin/busybox}
[ -x "$busybox" ] || busybox=$(command -v busybox)
command -v depmod >/dev/null || { echo "depmod missing (apt-get install kmod)" >&2; exit 1; }

shopt -s nullglob
mods=("$kdir"/{usr/,}lib/modules/*/kernel)
[ ${#mods[@]} -gt 0 ] || { echo "no lib/modules/*/kernel in $kdir" >&2; exit 1; }
moddir=$(dirname "${mods[0]}")
release=$(basename "$moddir")

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/modules/"$release"}
cp "$busybox" "$root/bin/busybox"
for app in sh mount mkdir ip modprobe insmod cat echo poweroff sleep ls; do
    ln -s busybox "$root/bin/$app"
done
install -m 755 "$probe" "$root/probe"
for x in "${extras[@]}"; do install -m 755 "$x" "$root/$(basename "$x")"; done

# Only the modules kTLS can need: tls itself and the AEAD/hash implementations
# the kernel requests when a key is installed. Decompressed, so that busybox
# modprobe needs no xz/zstd support.
for sub in net/tls crypto arch/x86/crypto lib/crypto; do
    [ -d "$moddir/kernel/$sub" ] || continue
    (cd "$moddir" && find "kernel/$sub" -name '*.ko*') | while read -r ko; do
        dst=$root/lib/modules/$release/${ko%.xz}
        dst=${dst%.zst}
        mkdir -p "$(dirname "$dst")"
        case "$ko" in
            *.ko.xz) xz -dc "$moddir/$ko" > "$dst" ;;
            *.ko.zst) zstd -qdc "$moddir/$ko" > "$dst" ;;
            *) cp "$moddir/$ko" "$dst" ;;
        esac
    done
done
cp "$moddir"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$release/" 2>/dev/null || true
depmod -b "$root" "$release"

cat > "$root/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
ip link set lo up
echo /bin/modprobe > /proc/sys/kernel/modprobe
echo "kernel $(cat /proc/sys/kernel/osrelease)"
modprobe tls || echo "modprobe tls failed"
# ktls_filter=... on the kernel command line reaches us as an environment variable.
/probe ${ktls_filter:+"$ktls_filter"}
code=$?
echo "KTLS-EXIT $code"
poweroff -f
INIT
chmod 755 "$root/init"

(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 > "$out"
