#!/usr/bin/env bash
# Fetches Debian 12's stock cloud kernel through apt (never a URL) and
# leaves the unmodified image at DEST/vmlinuz. Cached: a second run with
# the image present does nothing.
set -euo pipefail
dest=${1:?usage: fetch-debian-kernel.sh DEST}
mkdir -p "$dest"
[ -s "$dest/vmlinuz" ] && exit 0

cd "$dest"
if ! apt-cache show 'linux-image-6.1.0-*-cloud-amd64' >/dev/null 2>&1; then
  apt-get update -qq
fi
# The newest ABI of the 6.1 cloud flavour, e.g. linux-image-6.1.0-50-cloud-amd64.
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' |
  awk '{print $1}' | sort -V | tail -n 1)
[ -n "$pkg" ] || { echo "fetch-debian-kernel: no linux-image-6.1.0-*-cloud-amd64 in apt" >&2; exit 1; }
rm -f ./*.deb
apt-get download -qq "$pkg"
rm -rf extract && dpkg-deb -x ./*.deb extract
cp extract/boot/vmlinuz-* vmlinuz.tmp && mv vmlinuz.tmp vmlinuz
echo "$pkg" > package
rm -rf extract ./*.deb
