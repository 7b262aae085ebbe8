#!/usr/bin/env bash
# What `make test` needs besides cargo: curl (the real client in tests),
# openssl (throwaway certificates), setpriv (permission tests run as
# nobody), ss (a connection's congestion control), python3 and tar. Installs the missing ones with apt-get when
# running as root; otherwise says what to install.
set -euo pipefail
need=()
for tool in curl tar setpriv python3 openssl ss; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ ${#need[@]} -eq 0 ] && exit 0
pkgs=()
for t in "${need[@]}"; do
  case "$t" in
    setpriv) pkgs+=(util-linux) ;;
    ss) pkgs+=(iproute2) ;;
    *) pkgs+=("$t") ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "make test needs: ${pkgs[*]} (apt-get install ${pkgs[*]})" >&2
  exit 1
fi
echo ">> installing ${pkgs[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${pkgs[@]}" >/dev/null
