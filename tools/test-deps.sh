#!/usr/bin/env bash
# What `make test` needs besides cargo: curl (the real client in tests),
# openssl (throwaway certificates), setpriv (permission tests run as
# nobody), ss (a connection's congestion control), python3 and tar, and
# the load balancers tests/balancers.rs puts in front (haproxy, nginx with
# its stream module), and HTTP/2's real clients: nghttp (nghttp2-client),
# Debian's python3 with the h2 library (python3-h2), headless Chromium,
# and Prometheus (promtool lints the metrics; tests scrape with it once),
# and Pebble, the ACME test CA, with its DNS (pebble, for tests/acme.rs);
# for the packaging test (tests/packaging.sh): systemd-analyze (and
# systemd-socket-activate, also used by tests/hostile.rs) from systemd,
# dpkg-shlibdeps (dpkg-dev) for the package's Depends, man (man-db), and
# the shells whose completions are installed (zsh, fish).
# Installs the missing ones with apt-get when running as root; otherwise
# says what to install.
set -euo pipefail
need=()
for tool in curl tar setpriv python3 openssl ss haproxy nginx nghttp chromium promtool prometheus \
  pebble pebble-challtestsrv systemd-analyze systemd-socket-activate dpkg-deb dpkg-shlibdeps man \
  zsh fish; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(stream)
# tests/h2.rs runs /usr/bin/python3 (a pyenv shim on PATH may be another).
/usr/bin/python3 -c 'import h2, hyperframe, hpack' >/dev/null 2>&1 || need+=(h2)
[ ${#need[@]} -eq 0 ] && exit 0
pkgs=()
for t in "${need[@]}"; do
  case "$t" in
    setpriv) pkgs+=(util-linux) ;;
    ss) pkgs+=(iproute2) ;;
    stream) pkgs+=(libnginx-mod-stream) ;;
    nghttp) pkgs+=(nghttp2-client) ;;
    pebble-challtestsrv) pkgs+=(pebble) ;;
    h2) pkgs+=(python3 python3-h2) ;;
    promtool) pkgs+=(prometheus) ;;
    systemd-analyze | systemd-socket-activate) pkgs+=(systemd) ;;
    dpkg-deb) pkgs+=(dpkg) ;;
    dpkg-shlibdeps) pkgs+=(dpkg-dev) ;;
    man) pkgs+=(man-db) ;;
    *) pkgs+=("$t") ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "make test needs: ${pkgs[*]} (apt-get install ${pkgs[*]})" >&2
  exit 1
fi
echo ">> installing ${pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# haproxy's and nginx's postinst would start system services on ports 80
# and 443: a policy-rc.d that forbids service starts keeps the install inert.
added_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
fi
apt-get update -qq
apt-get install -y -qq "${pkgs[@]}" >/dev/null
if [ $added_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
