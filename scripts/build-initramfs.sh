#!/usr/bin/env bash
# Builds an initramfs for Debian's cloud kernel booted as a Xen PV domU under
# xpv, from Debian packages only: busybox from busybox-static, and the
# kernel's own xen-blkfront and xen-netfront modules (with whatever they
# depend on) from the same linux-image package as the kernel that
# scripts/fetch-debian-kernel.sh fetched.
#
#   build-initramfs.sh DEST_DIR KIND [KERNEL_DIR]
#
# KIND is `shell` (an interactive shell on the console, for `make run`),
# `boottest` (prints `XPV-TEST: ...` markers and powers off, for CTest) or
# `pvbench` (runs ../shared/bench/pvbench.c's workloads, prints each result
# as `XPV-BENCH: ...` and powers off, for bench/run.sh).
# KERNEL_DIR is fetch-debian-kernel.sh's cache (default DEST_DIR); it is
# fetched if missing. Writes DEST_DIR/initramfs-KIND.cpio.gz and prints its
# path. Cached: when the kind, the kernel package, the modules, busybox and
# this script (which holds /init) are unchanged, the image is left as it is.
set -euo pipefail

usage="usage: build-initramfs.sh DEST_DIR shell|boottest|pvbench [KERNEL_DIR]"
dest=${1:?$usage}
kind=${2:?$usage}
kernel_dir=${3:-$dest}
case $kind in
  shell | boottest | pvbench) ;;
  *) echo "build-initramfs: unknown KIND '$kind'; $usage" >&2; exit 2 ;;
esac
script=$(readlink -f "${BASH_SOURCE[0]}")
# Modes in the archive must not depend on the caller's umask: /init has to be
# executable by root in the guest whatever the host's umask is.
umask 022
mkdir -p "$dest" "$kernel_dir"
image=$dest/initramfs-$kind.cpio.gz
stamp=$dest/initramfs-$kind.stamp

# Several builds (the unit tests run in parallel) may share one kernel cache;
# the lock keeps them from downloading into it at the same time.
flock "$kernel_dir/.fetch.lock" bash "$(dirname "$script")/fetch-debian-kernel.sh" "$kernel_dir" >&2
pkg=$(cat "$kernel_dir/package")
ver=${pkg#linux-image-}
moddir=$kernel_dir/modules/$ver
[ -s "$moddir/modules.dep" ] || {
  echo "build-initramfs: no $moddir/modules.dep; rerun scripts/fetch-debian-kernel.sh" >&2
  exit 1
}

# The image runs before any library exists, so busybox must be the static
# one; the dynamic `busybox` package also installs /bin/busybox.
busybox=/bin/busybox
owner=$(dpkg-query -S "$busybox" 2>/dev/null || true)
[ "${owner%%:*}" = busybox-static ] || {
  echo "build-initramfs: $busybox is not from busybox-static; run scripts/install-deps.sh" >&2
  exit 1
}

# Modules to load, each after what it depends on (modules.dep lists, for
# every module, its dependencies as paths relative to $moddir).
wanted=(xen-blkfront xen-netfront)
declare -A deps_of=()
while IFS= read -r line; do
  deps_of[${line%%:*}]=${line#*:}
done <"$moddir/modules.dep"
module_path() { # NAME -> its path in modules.dep; `-` and `_` are the same in module names
  local m base
  for m in "${!deps_of[@]}"; do
    base=${m##*/}
    base=${base%%.ko*}
    if [ "${base//_/-}" = "${1//_/-}" ]; then
      echo "$m"
      return 0
    fi
  done
  return 1
}
declare -A seen=()
order=()
add_module() { # PATH: its dependencies first, then itself
  local d
  [ -n "${seen[$1]:-}" ] && return 0
  seen[$1]=1
  for d in ${deps_of[$1]}; do add_module "$d"; done
  order+=("$1")
}
for name in "${wanted[@]}"; do
  path=$(module_path "$name") || {
    echo "build-initramfs: $name is not in $moddir/modules.dep ($pkg)" >&2
    exit 1
  }
  add_module "$path"
done

# pvbench: the workload binary peers were measured with (PLATFORM.md), built
# here as they built it, static so that it needs nothing from the image.
bench_src=$(dirname "$script")/../../shared/bench
extra_inputs=()
if [ "$kind" = pvbench ]; then
  for f in pvbench.c pvnull.c; do
    [ -f "$bench_src/$f" ] || {
      echo "build-initramfs: $bench_src/$f not found (the shared bench sources)" >&2
      exit 1
    }
    extra_inputs+=("$bench_src/$f")
  done
fi

# Everything the image is made from, by content and not by path (the same
# cache reached by another path is the same input); a different hash means
# a rebuild.
inputs=$(
  {
    echo "$kind $pkg ${order[*]}"
    for f in "$script" "$busybox" "${order[@]/#/$moddir/}" ${extra_inputs[@]+"${extra_inputs[@]}"}; do
      sha256sum <"$f"
    done
  } | sha256sum | cut -d' ' -f1
)
if [ -s "$image" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  echo "$image"
  exit 0
fi

# Built beside the image and renamed over it, so a reader (or a concurrent
# build of the same image) never sees half an archive.
work=$(mktemp -d "$dest/.initramfs-$kind.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,root,lib/modules/"$ver"} "$root/usr"
# /sbin/modprobe is where the kernel's request_module() looks; scripts expect /usr/bin.
ln -s bin "$root/sbin"
ln -s ../bin "$root/usr/bin"
ln -s ../bin "$root/usr/sbin"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done

if [ "$kind" = pvbench ]; then
  gcc -O2 -static -o "$root/bin/pvbench" "$bench_src/pvbench.c"
  gcc -O2 -static -nostdlib -o "$root/pvnull" "$bench_src/pvnull.c"
fi

# The guest's busybox insmod reads plain .ko files only, so compressed
# modules are stored decompressed; the image's own modules.dep (for modprobe
# in the shell) names them as stored.
strip_ext() { # PATH.ko[.xz|.gz|.zst] -> PATH.ko
  local p=$1
  p=${p%.xz}
  p=${p%.gz}
  p=${p%.zst}
  echo "$p"
}
: >"$root/etc/xpv-modules"
: >"$root/lib/modules/$ver/modules.dep"
for m in "${order[@]}"; do
  out=$(strip_ext "$m")
  mkdir -p "$root/lib/modules/$ver/$(dirname "$out")"
  case $m in
    *.ko) cp "$moddir/$m" "$root/lib/modules/$ver/$out" ;;
    *.ko.xz) xz -dc "$moddir/$m" >"$root/lib/modules/$ver/$out" ;;
    *.ko.gz) gzip -dc "$moddir/$m" >"$root/lib/modules/$ver/$out" ;;
    *.ko.zst) zstd -qdc "$moddir/$m" >"$root/lib/modules/$ver/$out" ;;
    *) echo "build-initramfs: cannot store module $m" >&2; exit 1 ;;
  esac
  deps=
  for d in ${deps_of[$m]}; do deps+=" $(strip_ext "$d")"; done
  echo "$out:$deps" >>"$root/lib/modules/$ver/modules.dep"
  # /init loads these in this order: dependencies before their users.
  echo "/lib/modules/$ver/$out" >>"$root/etc/xpv-modules"
done

printf '#!/bin/sh\nsync\nexec poweroff -f\n' >"$root/bin/xpv-poweroff"
chmod 0755 "$root/bin/xpv-poweroff"

# /init: a common start, then the kind's own part. Quoted here-documents:
# nothing in them is expanded now, all of it when the guest runs it.
{
  cat <<'EOF'
#!/bin/sh
# /init of an xpv initramfs, written by scripts/build-initramfs.sh.
# No `set -e`: every step must report, and PID 1 must not exit (Linux
# panics when init exits).
export PATH=/bin HOME=/root TERM=linux
mount -t devtmpfs devtmpfs /dev
# Linux opened /dev/console for init only if its own built-in initramfs had
# one; reopen it from devtmpfs, and only if it opens (a failed redirection
# on exec would end this shell).
if (: </dev/console) 2>/dev/null; then exec </dev/console >/dev/console 2>&1; fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# A host-side shutdown request (control/shutdown in xenstore, which SIGTERM
# to xpv writes, as `xl shutdown` does) makes the kernel run poweroff_cmd.
# busybox's own poweroff would signal init, and init is this script.
echo /bin/xpv-poweroff >/proc/sys/kernel/poweroff_cmd

# Prints "NAME ok" or "NAME fail: WHY" through $1 for each module in
# /etc/xpv-modules, which lists dependencies before their users.
load_modules() {
  while read -r ko; do
    name=${ko##*/}
    name=${name%.ko}
    if why=$(insmod "$ko" 2>&1); then
      "$1" "$name" ok
    else
      "$1" "$name" "fail: $why"
    fi
  done </etc/xpv-modules
}
EOF
  case $kind in
    shell)
      cat <<'EOF'

echo "xpv: Debian $(uname -r) initramfs shell; 'poweroff -f' or exiting the shell powers off"
say_module() { echo "xpv: insmod $1: $2"; }
load_modules say_module
mount -t tmpfs tmpfs /tmp

# The shell gets the console's own tty (the last of the active consoles is
# /dev/console's), not /dev/console, which cannot be a controlling terminal:
# with a controlling terminal, Ctrl-C and job control work. It runs as a
# new session's leader so that opening the tty makes it its controlling
# terminal. In the foreground: init's child is no process group leader, so
# setsid neither forks nor returns early, and init waits for the shell; in
# the background the shell would start with SIGINT ignored, for good.
tty=hvc0
if read -r active </sys/class/tty/console/active 2>/dev/null; then tty=${active##* }; fi
[ -c "/dev/$tty" ] || tty=console
export PS1='xpv:\w# '
setsid sh -c "exec sh -i </dev/$tty >/dev/$tty 2>&1"
echo "xpv: the shell exited; powering off"
poweroff -f
echo "xpv: poweroff -f failed"
EOF
      ;;
    boottest)
      cat <<'EOF'

# Every marker is a line of its own starting `XPV-TEST: `, and every step
# prints its marker whether it worked or not.
mark() { echo "XPV-TEST: $*"; }
or_fail() { if [ -n "$1" ]; then echo "$1"; else echo fail; fi; }

# Milliseconds on the guest's clock. busybox's date may lack %N; then
# /proc/uptime, which counts in hundredths of a second, rather than
# `date +%s`, whose whole seconds cannot time `sleep 1`.
case $(date +%N 2>/dev/null) in
  '' | *[!0-9]*) clock=uptime ;;
  *) clock="date" ;;
esac
# Sets the variable named $1; no command substitution, so on the uptime
# clock no fork lands inside a measured interval.
now_ms() {
  if [ "$clock" = date ]; then
    ns=$(date +%s%N)
    ms=$((ns / 1000000))
  else
    # An arithmetic error would end this shell, and with it init.
    read -r up _ </proc/uptime 2>/dev/null || up=0.00
    case $up in *[0-9].[0-9][0-9]) ;; *) up=0.00 ;; esac
    cs=${up#*.}
    cs=${cs#0} # two digits; a leading 0 would read as octal
    ms=$((${up%.*} * 1000 + cs * 10))
  fi
  eval "$1=\$ms"
}
mark "clock $clock"

mark "uname-r $(or_fail "$(uname -r 2>/dev/null)")"
n=$(grep -c '^processor' /proc/cpuinfo 2>/dev/null)
[ "${n:-0}" -gt 0 ] 2>/dev/null || n=$(nproc 2>/dev/null)
mark "cpus $(or_fail "$n")"
mark "memtotal-kib $(or_fail "$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo 2>/dev/null)")"

mark_module() { mark "insmod $1 $2"; }
load_modules mark_module

# 1000 fork+exec+wait cycles: /bin/true by path is a real execve of busybox
# (`true` alone would be the shell's builtin, with no fork at all).
now_ms t0
i=0
failed=0
while [ $i -lt 1000 ]; do
  /bin/true || failed=$((failed + 1))
  i=$((i + 1))
done
now_ms t1
if [ $failed -eq 0 ]; then mark "fork-exec 1000 ok"; else mark "fork-exec 1000 fail ($failed failed)"; fi
mark "fork-exec-ms $((t1 - t0))"

# 100 MiB held in memory: a file on tmpfs is page cache with no disk
# behind it; reading it back checks what was written is still there.
alloc=fail
if mount -t tmpfs -o size=128m tmpfs /tmp &&
  head -c 104857600 /dev/zero >/tmp/big &&
  [ "$(stat -c %s /tmp/big)" = 104857600 ]; then
  sum=$(md5sum </tmp/big)
  [ "${sum%% *}" = 2f282b84e7e608d5852449ed940bfc51 ] && alloc=ok
fi
rm -f /tmp/big
mark "alloc-100mib $alloc"

mark "sleep-begin"
now_ms t0
if sleep 1; then
  now_ms t1
  mark "sleep-1s-ms $((t1 - t0))"
else
  mark "sleep-1s-ms fail"
fi

# Last, so that it covers everything above. The patterns are the kernel's
# own headers for an oops (`Oops: `, and `[#N]` which every die() prints,
# general protection faults included), BUG() and BUG: reports, WARN() and
# any stack dump; bare "BUG" and "WARNING" would also match harmless lines
# such as "DEBUGCTL" and the SRSO advice "Speculative Return Stack
# Overflow: WARNING: See ...".
if log=$(dmesg 2>&1); then
  bad=$(echo "$log" | grep -E 'Oops|BUG:|kernel BUG|WARNING: CPU|Call Trace:| \[#[0-9]+\]')
  if [ -z "$bad" ]; then
    mark "dmesg-clean yes"
  else
    mark "dmesg-clean no"
    echo "$bad" | head -n 20 | while IFS= read -r line; do mark "dmesg-match $line"; done
  fi
else
  mark "dmesg-clean no"
  mark "dmesg-match (dmesg failed)"
fi

mark "done"
poweroff -f
mark "poweroff-failed"
EOF
      ;;
    pvbench)
      cat <<'EOF'

# The first line bench/run.sh times (xpv start -> /init runs).
echo "XPV-BENCH: init"
mount -t tmpfs tmpfs /tmp
# pvbench.scale=N and pvbench.tests=a,b,c on the kernel command line
# (Linux ignores unknown parameters with a dot and keeps them in
# /proc/cmdline): the iteration divisor and the tests to run.
scale=1
tests=
for word in $(cat /proc/cmdline); do
  case $word in
    pvbench.scale=*) scale=${word#*=} ;;
    pvbench.tests=*) tests=$(echo "${word#*=}" | tr , ' ') ;;
  esac
done
# shellcheck disable=SC2086 # $tests is a list of words
pvbench -s "$scale" -e /pvnull -d /tmp $tests 2>&1 | while IFS= read -r line; do
  echo "XPV-BENCH: $line"
done
echo "XPV-BENCH: done"
poweroff -f
echo "XPV-BENCH: poweroff-failed"
EOF
      ;;
  esac
} >"$root/init"
chmod 0755 "$root/init"

# newc is the cpio format Linux unpacks; gzip because every kernel in question
# has CONFIG_RD_GZIP. Sorted, owned by root and without gzip's timestamp, so
# equal inputs give equal file lists and ownership.
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) >"$work/image"
mv "$work/image" "$image"
echo "$inputs" >"$work/stamp"
mv "$work/stamp" "$stamp"
echo "$image"
