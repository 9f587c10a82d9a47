#!/usr/bin/env bash
# Installs every Debian package xpv needs to build, test and run.
# Idempotent: when everything is present it installs nothing and exits 0.
set -euo pipefail

packages=(
  build-essential cmake ninja-build
  libgtest-dev libgmock-dev
  libxen-dev libzydis-dev libcli11-dev
  zlib1g-dev liblzma-dev libzstd-dev liblz4-dev libbz2-dev
  clang-format clang-tidy
  busybox-static cpio
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "xpv: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
