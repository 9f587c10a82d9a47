#!/usr/bin/env bash
# xpv's benchmarks, side by side with the platform floor in one run
# (numbers on a shared machine drift; ratios within one run do not).
#
#   bash bench/run.sh [BUILD_DIR [SECTION...]]   (`make bench [BENCH=...]`)
#
# SECTION is any of (default `all` = every one, in this order):
#   startup  `xpv run` of the hello guest to its first exit and to power-off
#   cpu      issue 3: null hypercall, guest system call, exception bounce,
#            event latency (guests/bench-cpu), against the floor
#   mm       issue 4: mmu_update throughput, the writable-pagetable assist,
#            building and pinning a 1 GiB address space (guests/bench-mm)
#   linux    issue 5: Debian's kernel booted to /init and powered off, and
#            ../shared/bench/pvbench.c in that guest versus natively (minutes)
# The floor (../shared/probes/kvm-costs.c: CPL3 -> ring 0 -> CPL3, and one
# exit to the host) is measured in the same run, at the start of the cpu
# and mm sections. bench/README.md says what each figure means.
#
# Environment: RUNS (start-up runs, 15), GUEST_RUNS (runs per guest figure,
# median, 5), CALLS (iterations per run, 2000), EVENTS (timer shots per run,
# 50), MM_ENTRIES (entries per run, 4096), SPACE_RUNS (1 GiB builds, 3),
# PVBENCH_SCALE (pvbench -s, 100), PVBENCH_TESTS (pvbench's tests, the
# seven issue 5 names), LINUX_MEMORY (MiB, 512).
set -euo pipefail
build=${1:-build}
shift || true
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(all)
xpv=$build/xpv
here=$(cd "$(dirname "$0")" && pwd)
repo=$here/..
shared=$repo/../shared
runs=${RUNS:-15}
guest_runs=${GUEST_RUNS:-5}
calls=${CALLS:-2000}
events=${EVENTS:-50}
mm_entries=${MM_ENTRIES:-4096}
space_runs=${SPACE_RUNS:-3}
pvbench_scale=${PVBENCH_SCALE:-100}
linux_memory=${LINUX_MEMORY:-512}
read -r -a pvbench_tests <<<"${PVBENCH_TESTS:-null_syscall fork_exit fork_exec page_fault pipe_pingpong cpu_loop_200M memcpy_bw}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

wanted() { # SECTION: true if it was asked for
  local s
  for s in "${sections[@]}"; do [ "$s" = all ] || [ "$s" = "$1" ] && return 0; done
  return 1
}
for s in "${sections[@]}"; do
  case $s in all | startup | cpu | mm | linux) ;; *) echo "bench/run.sh: unknown section '$s'" >&2; exit 2 ;; esac
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now_ns() { date +%s%N; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b > 0) ? a / b : 0}'; }

echo "== xpv $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo '+changes'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the floor -------------------------------------------------------------
# Measured again at the start of each section that compares with it, so
# that a figure and its floor come from the same minute of a shared machine.
floor_us=0 exit_us=0 pf_floor_us=0 floor_exit_us=0
probe_src=$shared/probes/kvm-costs.c
[ -f "$probe_src" ] && gcc -O2 -o "$work/kvm-costs" "$probe_src"
probe_field() { # PATTERN: the median over five probe runs of that line's figure
  for _ in 1 2 3 4 5; do
    "$work/kvm-costs" 300 | awk -F'  +' -v p="$1" 'index($0, p) == 1 {print $2 + 0}'
  done | median
}
measure_floor() {
  if [ ! -x "$work/kvm-costs" ]; then
    echo "  (../shared/probes/kvm-costs.c not found: no floor, no ratios)"
    return
  fi
  floor_us=$(probe_field 'int3 CPL3 -> ring-0 stub: iretq')
  exit_us=$(probe_field 'out at CPL0 (exit to host process)')
  pf_floor_us=$(probe_field '#PF CPL3 -> ring-0 stub: skip insn, iretq')
  floor_exit_us=$(awk -v a="$floor_us" -v b="$exit_us" 'BEGIN {print a + b}')
  echo "  floor (../shared/probes/kvm-costs.c 300, median of 5, just now):"
  printf '    CPL3 -> ring 0 -> CPL3, no exit (int3/iretq)  %8.2f us\n' "$floor_us"
  printf '    #PF CPL3 -> ring 0 -> CPL3, no exit           %8.2f us\n' "$pf_floor_us"
  printf '    exit to the host process from ring 0 (out)    %8.2f us\n' "$exit_us"
}

# A guest figure (ns) against the floor and floor + one exit.
row_vs_floor() { # LABEL NS
  local us
  us=$(awk -v n="$2" 'BEGIN {print n / 1000}')
  printf '  %-40s %10.2f us %8sx %8sx\n' "$1" "$us" "$(div "$us" "$floor_us")" "$(div "$us" "$floor_exit_us")"
}
floor_header() {
  printf '  %-40s %13s %9s %9s\n' "" "xpv" "/floor" "/(fl+exit)"
}

# Runs a bench guest; its `bench: NAME VALUE UNIT ...` lines go to FILE.
run_bench_guest() { # GUEST CMDLINE FILE
  "$xpv" run --kernel "$build/guests/$1" --cmdline "$2" | grep '^bench: ' >"$3"
}
figure() { awk -v n="$1" '$2 == n {print $3}' "$2"; } # NAME FILE -> VALUE

# --- start-up --------------------------------------------------------------
if wanted startup; then
  stats_field() { # N: the Nth "X ms" figure of --stats (1 built, 2 first exit, 3 ended)
    sed -n 's/.*built \([0-9.]*\) ms, first guest exit \([0-9.]*\) ms, ended \([0-9.]*\) ms.*/\1 \2 \3/p' |
      awk -v f="$1" '{print $f}'
  }
  echo "== start-up: hello guest, median of $runs runs"
  first=() ended=() wall=()
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
fi

# --- cpu (issue 3) ---------------------------------------------------------
if wanted cpu; then
  out=$work/cpu
  run_bench_guest bench-cpu "runs=$guest_runs iterations=$calls events=$events" "$out"
  echo "== cpu: guests/bench-cpu, guest TSC, median of $guest_runs runs x $calls calls ($events timer shots)"
  measure_floor
  floor_header
  row_vs_floor "null hypercall (xen_version)" "$(figure null_hypercall "$out")"
  row_vs_floor "system call, guest user->kernel->user" "$(figure syscall_roundtrip "$out")"
  row_vs_floor "exception bounce, user #UD" "$(figure exception_user_ud "$out")"
  row_vs_floor "exception bounce, kernel #UD" "$(figure exception_kernel_ud "$out")"
  row_vs_floor "exception bounce, user #PF" "$(figure exception_user_pf "$out")"
  printf '  %-40s %13s %8sx  (against the #PF floor)\n' "" "" \
    "$(div "$(awk -v n="$(figure exception_user_pf "$out")" 'BEGIN {print n / 1000}')" "$pf_floor_us")"
  row_vs_floor "event latency, vCPU running" "$(figure event_latency_running "$out")"
  row_vs_floor "event latency, vCPU blocked" "$(figure event_latency_blocked "$out")"

  # The same null hypercall timed from outside, as a check on the guest's
  # clock: (T(N) - T(0)) / N of whole xpv runs of bench-hypercall.
  time_guest() { # N: wall seconds for one run of bench-hypercall with N calls
    local t0 t1
    t0=$(now_ns)
    "$xpv" run --kernel "$build/guests/bench-hypercall" --cmdline "$1" >/dev/null
    t1=$(now_ns)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print (b-a)/1e9}'
  }
  wall_calls=$((calls * 10))
  per_call=()
  for _ in 1 2 3; do
    base=$(time_guest 0)
    full=$(time_guest "$wall_calls")
    per_call+=("$(awk -v b="$base" -v f="$full" -v n="$wall_calls" 'BEGIN {print (f-b)/n*1e9}')")
  done
  row_vs_floor "null hypercall, wall clock (check)" "$(printf '%s\n' "${per_call[@]}" | median)"
fi

# --- mm (issue 4) ----------------------------------------------------------
if wanted mm; then
  out=$work/mm
  run_bench_guest bench-mm "runs=$guest_runs iterations=$mm_entries space_runs=$space_runs" "$out"
  echo "== mm: guests/bench-mm, guest TSC, median of $guest_runs runs x $mm_entries entries ($space_runs builds of the 1 GiB space)"
  measure_floor
  per_second() { awk -v n="$1" 'BEGIN {printf "%.0f", (n > 0) ? 1e9 / n : 0}'; }
  b512=$(figure mmu_update_batch512 "$out") b128=$(figure mmu_update_batch128 "$out")
  b1=$(figure mmu_update_batch1 "$out")
  printf '  mmu_update, batches of 512   %12s entries/s  (%s ns/entry)\n' "$(per_second "$b512")" "$b512"
  printf '  mmu_update, batches of 128   %12s entries/s  (%s ns/entry)\n' "$(per_second "$b128")" "$b128"
  printf '  mmu_update, batches of 1     %12s entries/s  (%s ns/entry)\n' "$(per_second "$b1")" "$b1"
  floor_header
  assist_ns=$(figure wpt_assist_store "$out")
  row_vs_floor "writable-pagetable assist, one store" "$assist_ns"
  printf '  %-40s %13s %8sx  (against the #PF floor)\n' "" "" \
    "$(div "$(awk -v n="$assist_ns" 'BEGIN {print n / 1000}')" "$pf_floor_us")"
  printf '  1 GiB space: 515 tables read-only + pin L4   %10.2f ms\n' \
    "$(awk -v n="$(figure space_1gib_build "$out")" 'BEGIN {print n / 1e6}')"
  printf '  1 GiB space: unpin + tables writable again   %10.2f ms\n' \
    "$(awk -v n="$(figure space_1gib_teardown "$out")" 'BEGIN {print n / 1e6}')"
fi

# --- linux (issue 5) -------------------------------------------------------
if wanted linux; then
  debian=$build/debian
  initramfs=$(bash "$repo/scripts/build-initramfs.sh" "$debian" pvbench)
  tests_csv=$(IFS=,; echo "${pvbench_tests[*]}")
  gcc -O2 -static -o "$work/pvbench" "$shared/bench/pvbench.c"
  gcc -O2 -static -nostdlib -o "$work/pvnull" "$shared/bench/pvnull.c"
  mkdir -p "$work/tmp"
  native_pvbench() { "$work/pvbench" -s "$pvbench_scale" -e "$work/pvnull" -d "$work/tmp" "${pvbench_tests[@]}"; }
  # Natively once before the boot and once after: the machine's load
  # changes over minutes, and the better of the two is the native figure.
  native_pvbench >"$work/native-before.out"
  echo "== linux: Debian $(cat "$debian/package"), --memory $linux_memory, pvbench -s $pvbench_scale"
  # Each console line stamped with ms since xpv started.
  t0=$(now_ns)
  "$xpv" run --memory "$linux_memory" --kernel "$debian/vmlinuz" --ramdisk "$initramfs" \
    --cmdline "console=hvc0 quiet pvbench.scale=$pvbench_scale pvbench.tests=$tests_csv" </dev/null 2>"$work/linux.err" |
    while IFS= read -r line; do echo "$((($(now_ns) - t0) / 1000000)) $line"; done >"$work/linux.out"
  t_end=$((($(now_ns) - t0) / 1000000))
  stamp_of() { awk -v m="XPV-BENCH: $1" 'index($0, m) > 0 {print $1; exit}' "$work/linux.out"; }
  t_init=$(stamp_of init) t_done=$(stamp_of 'done')
  if [ -z "$t_init" ] || [ -z "$t_done" ]; then
    echo "  the guest did not finish; its console:" >&2
    tail -n 30 "$work/linux.out" "$work/linux.err" >&2
    exit 1
  fi
  printf '  xpv start -> first line of /init   %8.2f s\n' "$(awk -v t="$t_init" 'BEGIN {print t / 1000}')"
  printf '  pvbench in the guest               %8.2f s\n' "$(awk -v a="$t_init" -v b="$t_done" 'BEGIN {print (b - a) / 1000}')"
  printf '  /init done -> xpv exits (poweroff) %8.2f s\n' "$(awk -v a="$t_done" -v b="$t_end" 'BEGIN {print (b - a) / 1000}')"

  native_pvbench >"$work/native-after.out"
  printf '  %-14s %14s %14s %-6s %10s\n' test "xpv guest" "native (best)" unit "xpv/native"
  for t in "${pvbench_tests[@]}"; do
    # Console lines are "MS XPV-BENCH: name value unit # n=N".
    value=$(awk -v t="$t" '$3 == t {print $4}' "$work/linux.out")
    unit=$(awk -v t="$t" '$3 == t {print $5}' "$work/linux.out")
    # The better native figure: the higher bandwidth, the shorter time.
    native=$(awk -v t="$t" -v u="$unit" '$1 == t {
        if (best == "" || (u == "GB/s" ? $2 > best : $2 < best)) best = $2
      } END {print best}' "$work/native-before.out" "$work/native-after.out")
    # For a bandwidth, the slowdown is native / guest.
    case $unit in GB/s) ratio=$(div "$native" "${value:-0}") ;; *) ratio=$(div "${value:-0}" "$native") ;; esac
    printf '  %-14s %14s %14s %-6s %9sx\n' "$t" "${value:-?}" "$native" "${unit:-?}" "$ratio"
  done
fi
