#!/usr/bin/env bash
# Fetches Debian 12's stock cloud kernel through apt (never a URL) and
# leaves the unmodified image at DEST/vmlinuz, and the same package's
# /lib/modules/<version>/ tree at DEST/modules/<version>/ (for
# scripts/build-initramfs.sh). Cached: a second run with both present does
# nothing.
set -euo pipefail
dest=${1:?usage: fetch-debian-kernel.sh DEST}
mkdir -p "$dest"
# Modules only load into the kernel they were built with, so a cache whose
# modules tree is missing or from another package is fetched again.
[ -s "$dest/vmlinuz" ] && [ -s "$dest/package" ] &&
  [ -s "$dest/modules/$(sed 's/^linux-image-//' "$dest/package")/modules.dep" ] && exit 0

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
# The package has no modules.dep (its postinst runs depmod); make it as that
# would, with busybox's depmod (busybox-static is a dependency; kmod need not be).
ver=${pkg#linux-image-}
/bin/busybox depmod -b extract "$ver"
rm -rf modules && mkdir modules && mv "extract/lib/modules/$ver" modules/
cp extract/boot/vmlinuz-* vmlinuz.tmp && mv vmlinuz.tmp vmlinuz
echo "$pkg" > package
rm -rf extract ./*.deb
