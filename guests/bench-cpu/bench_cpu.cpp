// bench-cpu: what issue 3's trap, system-call and event model costs, timed
// inside the guest with its own TSC (bench-common). Each figure is the
// median over `runs=` runs of the mean over `iterations=` iterations, but
// the event latencies: the median of every shot (`events=` per run).
//
//   null_hypercall        xen_version from guest kernel mode
//   syscall_roundtrip     guest user `syscall` -> xpv -> the guest kernel's
//                         syscall callback -> iret hypercall -> guest user
//   exception_user_ud     user `ud2` -> #UD bounced to the guest kernel's
//                         handler -> iret hypercall -> user
//   exception_kernel_ud   the same from guest kernel mode
//   exception_user_pf     a user load from an unmapped page -> #PF bounced
//                         to the guest kernel's handler (CR2 in vcpu_info)
//                         -> iret hypercall past the load -> user
//   event_latency_running VIRQ_TIMER from a singleshot timer: its deadline
//                         to the event callback's first instruction, while
//                         the vCPU spins in the guest with events unmasked
//   event_latency_blocked the same with the vCPU in SCHEDOP_block
//
// bench/run.sh sets `runs=` and `iterations=`; the event figures take at
// most `events=` shots per run.
#include "bench-common/bench.hpp"
#include "mm-common/pte.hpp"
#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/traps.hpp"

// clang-format off
#include <xen/callback.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
// clang-format on

extern "C" {
void bench_syscall_entry();
void bench_invalid_opcode_entry();
void bench_page_fault_entry();
void bench_event_entry();
void bench_run_in_user_mode(void (*fn)(void*), void* arg, void* user_stack);
uint64_t bench_loop_syscall(uint64_t n);
uint64_t bench_loop_ud2(uint64_t n);
uint64_t bench_loop_hypercall(uint64_t n);
uint64_t bench_loop_page_fault(uint64_t n);
extern uint64_t bench_event_tsc;
}

namespace {

using xpv::guest::hypercall;
using xpv::guest::panic;

using guest_pte::kKernelRO;
constexpr unsigned kHoleFirstSlot = 256, kHoleLastSlot = 271;  // xen-x86_64.h, the hypervisor's
constexpr uint64_t kEventDelayNs = 1'000'000;  // far enough for the setup hypercalls
constexpr uint64_t kUnmapped = 0x1000;         // entry.S's BENCH_UNMAPPED

alignas(4096) uint64_t user_l4[512];
alignas(16) uint8_t kernel_stack[16384];
alignas(16) uint8_t user_stack[16384];

evtchn_port_t timer_port;
uint64_t timer_events = 0;  // written by the event callback: __atomic

uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

void check(long rc, const char* what) {
  if (rc != 0) panic("%s failed: %ld", what, rc);
}

long mmuext(unsigned cmd, uint64_t mfn) {
  mmuext_op_t op{};
  op.cmd = cmd;
  op.arg1.mfn = mfn;
  return hypercall(__HYPERVISOR_mmuext_op, address_of(&op), 1, 0, DOMID_SELF);
}

long register_callback(int type, void (*entry)()) {
  callback_register reg{};
  reg.type = static_cast<uint16_t>(type);
  reg.address = address_of(reinterpret_cast<const void*>(entry));
  return hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, address_of(&reg));
}

// User mode gets its own root, as a PV kernel's processes do: a copy of
// the kernel's L4 (so the image's code and data are reachable; the
// hypervisor's slots are its own to fill), read-only and pinned.
void set_up_user_mode() {
  const auto* kernel_l4 = reinterpret_cast<const uint64_t*>(xpv::guest::start_info_page().pt_base);
  for (unsigned slot = 0; slot < 512; ++slot)
    if (slot < kHoleFirstSlot || slot > kHoleLastSlot) user_l4[slot] = kernel_l4[slot];
  uint64_t mfn = xpv::guest::mfn_of(user_l4);
  check(hypercall(__HYPERVISOR_update_va_mapping, address_of(user_l4), (mfn << 12) | kKernelRO,
                  UVMF_INVLPG | UVMF_LOCAL),
        "update_va_mapping(user L4 read-only)");
  check(mmuext(MMUEXT_PIN_L4_TABLE, mfn), "MMUEXT_PIN_L4_TABLE");
  check(mmuext(MMUEXT_NEW_USER_BASEPTR, mfn), "MMUEXT_NEW_USER_BASEPTR");
  check(hypercall(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS,
                  address_of(kernel_stack + sizeof kernel_stack)),
        "stack_switch");
  check(register_callback(CALLBACKTYPE_syscall, bench_syscall_entry), "register syscall callback");
}

trap_info_t trap(uint8_t vector, void (*entry)()) {
  trap_info_t t{};
  t.vector = vector;
  t.cs = FLAT_KERNEL_CS;
  t.address = address_of(reinterpret_cast<const void*>(entry));
  return t;
}

void set_up_traps() {
  trap_info_t table[3] = {
      trap(6, bench_invalid_opcode_entry), trap(14, bench_page_fault_entry), {}};
  check(hypercall(__HYPERVISOR_set_trap_table, address_of(table)), "set_trap_table");
}

// VIRQ_TIMER bound and unmasked, the default periodic timer stopped so
// that only the singleshot fires it.
void set_up_events() {
  check(register_callback(CALLBACKTYPE_event, bench_event_entry), "register event callback");
  evtchn_bind_virq_t bind{};
  bind.virq = VIRQ_TIMER;
  bind.vcpu = 0;
  check(hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, address_of(&bind)),
        "EVTCHNOP_bind_virq");
  timer_port = bind.port;
  check(hypercall(__HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0),
        "VCPUOP_stop_periodic_timer");
  __atomic_and_fetch(&bench::shared_info().evtchn_mask[timer_port / 64],
                     ~(1ULL << (timer_port % 64)), __ATOMIC_SEQ_CST);
}

// --- the figures ---

struct UserLoop {
  uint64_t (*loop)(uint64_t);
  uint64_t iterations;
  uint64_t ticks;
};

uint64_t timed_in_user_mode(uint64_t (*loop)(uint64_t), uint64_t iterations) {
  static UserLoop job;
  job = {loop, iterations, 0};
  bench_run_in_user_mode(
      [](void* arg) {
        auto* j = static_cast<UserLoop*>(arg);
        j->ticks = j->loop(j->iterations);
      },
      &job, user_stack + sizeof user_stack);
  return bench::tsc_delta_ns(job.ticks);
}

void report_loop(const char* name, uint64_t (*loop)(uint64_t), bool user, const bench::Plan& plan) {
  uint64_t ns = bench::median_ns_per_iteration(plan, [&](uint64_t n) {
    return user ? timed_in_user_mode(loop, n) : bench::tsc_delta_ns(loop(n));
  });
  bench::report(name, ns, "ns", plan);
}

long set_singleshot(uint64_t deadline) {
  vcpu_set_singleshot_timer_t timer{};
  timer.timeout_abs_ns = deadline;
  return hypercall(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, address_of(&timer));
}

vcpu_info_t& vcpu0() {
  return bench::shared_info().vcpu_info[0];
}

// One timer shot: ns from its deadline to the event callback's entry.
uint64_t one_event(bool block) {
  uint64_t before = __atomic_load_n(&timer_events, __ATOMIC_SEQ_CST);
  uint64_t deadline = bench::system_time_ns() + kEventDelayNs;
  check(set_singleshot(deadline), "VCPUOP_set_singleshot_timer");
  if (block) {
    check(hypercall(__HYPERVISOR_sched_op, SCHEDOP_block, 0), "SCHEDOP_block");
  } else {
    __atomic_store_n(&vcpu0().evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);
    // Pending already: only a trap into the hypervisor delivers it.
    if (__atomic_load_n(&vcpu0().evtchn_upcall_pending, __ATOMIC_SEQ_CST) != 0)
      xpv::guest::xen_version(XENVER_version, nullptr);
  }
  while (__atomic_load_n(&timer_events, __ATOMIC_SEQ_CST) == before) {
    asm volatile("pause");
  }
  __atomic_store_n(&vcpu0().evtchn_upcall_mask, 1, __ATOMIC_SEQ_CST);
  uint64_t entered = bench::system_time_at(bench_event_tsc);
  return entered > deadline ? entered - deadline : 0;
}

// The median of every shot of every run: one late wake-up of a host
// thread on a busy machine says little about the path.
void report_event_latency(const char* name, bool block, const bench::Plan& plan) {
  constexpr unsigned kMaxShots = 1024;
  static uint64_t shots[kMaxShots];
  unsigned count = 0;
  for (uint64_t r = 0; r < plan.runs; ++r) {
    for (uint64_t i = 0; i < plan.iterations && count < kMaxShots; ++i)
      shots[count++] = one_event(block);
  }
  bench::report(name, bench::median(shots, count), "ns", plan);
}

}  // namespace

// Called through the runtime's event entry (bench_event_entry jumps to it)
// with events masked: acknowledges every pending port as a PV kernel's
// upcall does (xen.h, "event channel upcall"), counting timer events.
// Nothing else takes the runtime's entry.
extern "C" void xpv_trap_dispatch(xpv::guest::TrapFrame& frame) {
  if (frame.vector != xpv::guest::kEventUpcallVector)
    panic("unexpected trap %lu at rip %#lx", frame.vector, frame.rip);
  shared_info_t& shared = bench::shared_info();
  __atomic_store_n(&vcpu0().evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
  uint64_t words = __atomic_exchange_n(&vcpu0().evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
  for (unsigned w = 0; w < 64; ++w) {
    if ((words & (1ULL << w)) == 0) continue;
    uint64_t ports = __atomic_exchange_n(&shared.evtchn_pending[w], 0, __ATOMIC_SEQ_CST);
    if (w == timer_port / 64 && (ports & (1ULL << (timer_port % 64))) != 0)
      __atomic_add_fetch(&timer_events, 1, __ATOMIC_SEQ_CST);
  }
}

int guest_main() {
  bench::map_shared_info();
  set_up_traps();
  set_up_user_mode();
  set_up_events();

  bench::Plan calls = bench::plan(5, 2000);
  report_loop("null_hypercall", bench_loop_hypercall, false, calls);
  report_loop("syscall_roundtrip", bench_loop_syscall, true, calls);
  report_loop("exception_user_ud", bench_loop_ud2, true, calls);
  report_loop("exception_kernel_ud", bench_loop_ud2, false, calls);
  report_loop("exception_user_pf", bench_loop_page_fault, true, calls);
  // The faults were the loads the loop made (entry.S's BENCH_UNMAPPED).
  if (vcpu0().arch.cr2 != kUnmapped) panic("#PF reported CR2 %#lx", vcpu0().arch.cr2);

  bench::Plan events = calls;
  events.iterations = bench::parameter("events", 50);
  if (events.iterations == 0) events.iterations = 1;
  report_event_latency("event_latency_running", false, events);
  report_event_latency("event_latency_blocked", true, events);
  return 0;
}
