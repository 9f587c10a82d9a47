#!/usr/bin/env bash
# xpv's foundation benchmarks, side by side with the platform floor in one
# run (numbers on a shared machine drift; ratios within one run do not).
#
#   bash bench/run.sh [BUILD_DIR]        (`make bench` does this)
#
# 1. Start-up of the hello guest: `xpv run` to the guest's first exit into
#    the monitor (its first instruction runs microseconds before that), and
#    to power-off; xpv's own --stats timestamps, median of RUNS.
# 2. Null hypercall round trip: guest -> monitor -> host -> guest, timed as
#    (T(N) - T(0)) / N with the bench-hypercall guest.
# 3. The floor, from ../shared/probes/kvm-costs.c: a CPL3 -> ring-0 -> CPL3
#    round trip with no host exit, and one exit to the host from ring 0.
set -euo pipefail
build=${1:-build}
xpv=$build/xpv
runs=${RUNS:-15}
calls=${CALLS:-20000}
here=$(cd "$(dirname "$0")" && pwd)
probe_src=$here/../../shared/probes/kvm-costs.c

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now_ns() { date +%s%N; }

stats_field() {  # stats_field N: the Nth "X ms" figure of --stats (1 built, 2 first exit, 3 ended)
  sed -n 's/.*built \([0-9.]*\) ms, first guest exit \([0-9.]*\) ms, ended \([0-9.]*\) ms.*/\1 \2 \3/p' |
    awk -v f="$1" '{print $f}'
}

echo "== start-up: hello guest, median of $runs runs"
first=(); ended=(); wall=()
for _ in $(seq "$runs"); do
  t0=$(now_ns)
  line=$("$xpv" run --stats --kernel "$build/guests/hello" 2>&1 >/dev/null | grep 'stats:')
  t1=$(now_ns)
  first+=("$(echo "$line" | stats_field 2)")
  ended+=("$(echo "$line" | stats_field 3)")
  wall+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b-a)/1e6}')")
done
printf '  xpv run -> first guest exit   %8.2f ms\n' "$(printf '%s\n' "${first[@]}" | median)"
printf '  xpv run -> power-off          %8.2f ms\n' "$(printf '%s\n' "${ended[@]}" | median)"
printf '  whole process (fork to exit)  %8.2f ms\n' "$(printf '%s\n' "${wall[@]}" | median)"

time_guest() {  # wall seconds for one run of bench-hypercall with N calls
  local t0 t1
  t0=$(now_ns)
  "$xpv" run --kernel "$build/guests/bench-hypercall" --cmdline "$1" >/dev/null
  t1=$(now_ns)
  awk -v a="$t0" -v b="$t1" 'BEGIN {print (b-a)/1e9}'
}

echo "== null hypercall (xen_version), $calls calls, median of 5"
per_call=()
for _ in 1 2 3 4 5; do
  base=$(time_guest 0)
  full=$(time_guest "$calls")
  per_call+=("$(awk -v b="$base" -v f="$full" -v n="$calls" 'BEGIN {print (f-b)/n*1e6}')")
done
hypercall_us=$(printf '%s\n' "${per_call[@]}" | median)
printf '  xpv null hypercall round trip %8.2f us\n' "$hypercall_us"

if [ -f "$probe_src" ]; then
  probe=$(mktemp -d)/kvm-costs
  gcc -O2 -o "$probe" "$probe_src"
  out=$("$probe" 300)
  floor=$(echo "$out" | awk -F'  +' '/int3 CPL3 -> ring-0 stub: iretq/ {print $2+0}')
  exit_cost=$(echo "$out" | awk -F'  +' '/out at CPL0 \(exit to host process\)/ {print $2+0}')
  echo "== platform floor (kvm-costs, same run)"
  printf '  CPL3 -> ring 0 -> CPL3, no exit %6.2f us\n' "$floor"
  printf '  exit to host from ring 0        %6.2f us\n' "$exit_cost"
  printf '  ratio: null hypercall / CPL3-ring0-CPL3 floor = %.1fx\n' \
    "$(awk -v a="$hypercall_us" -v b="$floor" 'BEGIN {print a/b}')"
  printf '  ratio: null hypercall / (floor + one host exit) = %.1fx\n' \
    "$(awk -v a="$hypercall_us" -v b="$floor" -v c="$exit_cost" 'BEGIN {print a/(b+c)}')"
else
  echo "(../shared/probes/kvm-costs.c not found: platform floor not measured)"
fi
