// A hostile guest: issues random hypercalls with arguments drawn from
// values that break careless hypervisors (0, -1, huge counts,
// non-canonical addresses, the hypervisor hole, the guest's own read-only
// image and page tables, unmapped addresses, buffers of garbage), so that
// the host can check that xpv answers each with Xen's error code or a crashed
// domain, never with a crash, a hang or a write outside the guest.
//
// Command line: "<seed> <calls>" in decimal. The run is a function of the
// seed alone (its own PRNG), so a failing seed reproduces.
//
// The guest keeps itself alive where Xen would legitimately end or stop
// it: no SCHEDOP_shutdown/block/poll/watchdog/remote_shutdown, no
// VCPUOP_down, no iret (it changes control flow), and multicall batches
// are built from the same filtered generator. Calls that hurt the guest
// itself (remapping its own pages, garbage trap tables) may crash the
// domain: that is an accepted outcome, reported by xpv with exit status 2.
//
// Output: a progress line every kProgressEvery calls, then
// "hypercall-fuzz: seed S: N calls: ok A, enosys B, efault C, einval D,
// other E".
#include <cstdint>

#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/xen.hpp"

// runtime/xen.hpp has pinned the interface version.
// clang-format off
#include <xen/callback.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/memory.h>
#include <xen/physdev.h>
#include <xen/vcpu.h>
// clang-format on

namespace {

using xpv::guest::printk;

constexpr unsigned kProgressEvery = 1000;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kBufferPages = 4;
constexpr unsigned kMaxMulticallEntries = 8;

// --- PRNG: splitmix64, deterministic from the seed ---------------------------
uint64_t g_state = 0;

uint64_t next_random() {
  g_state += 0x9e3779b97f4a7c15ULL;
  uint64_t z = g_state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t below(uint64_t bound) {
  return bound == 0 ? 0 : next_random() % bound;
}

bool chance(unsigned percent) {
  return below(100) < percent;
}

template <typename T, size_t N>
T pick(const T (&values)[N]) {
  return values[below(N)];
}

// --- Memory the arguments point at -------------------------------------------
// One block, so that its order is known: the multicall list, a page the
// hypervisor may scribble on (it stands for "the guest's own data"), the
// garbage buffers hypercalls read structures from (and may write results
// to), then guard pages that the fuzzer never uses, so that a result
// written past a buffer near its end lands on nothing of value (the
// fuzzer's own state lives outside this block).
constexpr uint64_t kGuardPages = 2;
struct alignas(kPage) Arena {
  multicall_entry_t multicalls[kPage / sizeof(multicall_entry_t)];
  uint8_t victim[kPage];
  uint8_t buffer[kBufferPages * kPage];
  uint8_t guard[kGuardPages * kPage];
};
static_assert(kMaxMulticallEntries <= kPage / sizeof(multicall_entry_t));
Arena g_arena;
auto& g_buffer = g_arena.buffer;
auto& g_victim = g_arena.victim;
auto& g_multicalls = g_arena.multicalls;

// What start_info said at boot: start_info itself is writable guest memory
// that a fuzzed hypercall may overwrite.
struct Layout {
  uint64_t start_info_va = 0;
  uint64_t pt_base = 0;
  uint64_t nr_pages = 0;
  uint64_t mfn_list = 0;
  uint64_t image_end = 0;  // the first VA past the mapped image area
  uint64_t some_mfn = 0;
};
Layout g_layout;

uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

// Fills `bytes` at the start of `buffer` with 64-bit words, each either
// random or one of the interesting values (so structures read from it have
// plausible-looking fields as well as garbage).
uint64_t interesting_scalar();

void fill_garbage(uint8_t* buffer, size_t bytes) {
  auto* words = reinterpret_cast<uint64_t*>(buffer);
  for (size_t i = 0; i < bytes / 8; ++i) {
    words[i] = chance(50) ? next_random() : interesting_scalar();
  }
}

uint64_t garbage_buffer() {
  uint64_t offset = below(sizeof(g_buffer) / 8) * 8;
  if (chance(20)) offset = sizeof(g_buffer) - 8 * (1 + below(8));  // near the end
  fill_garbage(g_buffer, sizeof(g_buffer));
  return address_of(g_buffer + offset);
}

uint64_t hypervisor_hole_address() {
  // L4 slots 256-271: 0xffff800000000000 up to 0xffff880000000000.
  return 0xffff800000000000ULL + below(16ULL << 39);
}

uint64_t non_canonical_address() {
  return 0x0000800000000000ULL + below(0xffff000000000000ULL - 0x0000800000000000ULL);
}

uint64_t own_memory_address() {
  switch (below(7)) {
    case 0:
      return g_layout.start_info_va + below(kPage);
    case 1:
      return g_layout.pt_base + below(kPage);  // the L4, mapped read-only
    case 2:
      // The bootstrap page tables after the L4, also read-only. (The
      // image itself is writable, as Xen's domain builder maps it, so
      // pointing at its text would only be suicide.)
      return g_layout.pt_base + kPage * (1 + below(4)) + below(kPage);
    case 3:
      return address_of(g_victim) + kPage - 8 * below(8);  // straddles the next page
    case 4:
      return g_layout.mfn_list + below(g_layout.nr_pages * 8);
    case 5:
      return address_of(g_victim) + below(kPage);
    default:
      return g_layout.image_end + below(1ULL << 30);  // unmapped
  }
}

// A value that is not a garbage buffer (filling one must not recurse).
uint64_t interesting_scalar() {
  static constexpr uint64_t kFixed[] = {
      0,
      1,
      2,
      3,
      4,
      7,
      8,
      15,
      16,
      31,
      32,
      64,
      255,
      256,
      511,
      512,
      1023,
      4095,
      4096,
      4097,
      0x7fff,
      0x7ff0,  // DOMID_SELF
      0x7ff1,
      0x7ff2,
      0xffff,
      0x10000,
      0x7fffffff,
      0x80000000,
      0xffffffff,
      0x100000000ULL,
      0x7fffffffffffffffULL,
      0x8000000000000000ULL,
      0xfffffffffffff000ULL,
      ~0ULL,
      ~0ULL - 1,
      static_cast<uint64_t>(-22),
      0x00007ffffffff000ULL,
      0x0000800000000000ULL,
      0xffff7fffffffffffULL,
      0xffff800000000000ULL,
      0xffff87ffffffffffULL,
      0xffff880000000000ULL,
      0xffffffff80000000ULL,
  };
  switch (below(9)) {
    case 0:
    case 1:
    case 2:
      return pick(kFixed);
    case 3:
      return below(64);
    case 4:
      return next_random();
    case 5:
      return hypervisor_hole_address();
    case 6:
      return non_canonical_address();
    case 7:
      return own_memory_address();
    default:
      return chance(50) ? g_layout.some_mfn + below(4) : below(g_layout.nr_pages + 16);
  }
}

uint64_t interesting_value() {
  return chance(10) ? garbage_buffer() : interesting_scalar();
}

// An argument that is a pointer most of the time, for calls that take one.
uint64_t pointer_argument() {
  return chance(60) ? garbage_buffer() : interesting_value();
}

// --- One call ------------------------------------------------------------------
struct Call {
  uint64_t nr = 0;
  uint64_t args[5] = {};
};

// A sub-operation: usually one the hypercall knows, sometimes anything.
uint64_t sub_op(unsigned known_count) {
  if (chance(85)) return below(known_count + 1);
  return interesting_value();
}

// The hypercalls that take (cmd, pointer) and how many commands each has
// (the highest defined number, from the Xen headers).
unsigned known_sub_ops(uint64_t nr) {
  switch (nr) {
    case __HYPERVISOR_memory_op:
      return XENMEM_get_vnumainfo + 4;
    case __HYPERVISOR_event_channel_op:
      return EVTCHNOP_set_priority + 1;
    case __HYPERVISOR_grant_table_op:
      return GNTTABOP_cache_flush + 1;
    case __HYPERVISOR_vcpu_op:
      return VCPUOP_register_vcpu_info + 2;
    case __HYPERVISOR_sched_op:
    case __HYPERVISOR_sched_op_compat:
      return SCHEDOP_pin_override + 1;
    case __HYPERVISOR_physdev_op:
      return PHYSDEVOP_prepare_msix + 6;
    case __HYPERVISOR_console_io:
      return CONSOLEIO_read + 1;
    case __HYPERVISOR_xen_version:
      return XENVER_build_id + 4;
    case __HYPERVISOR_callback_op:
      return CALLBACKOP_unregister + 1;
    case __HYPERVISOR_mmuext_op:
      return MMUEXT_MARK_SUPER + 1;
    default:
      return 0;
  }
}

Call random_call() {
  Call call;
  // Mostly the hypercalls a PV guest has, as Xen implements them; the
  // rest of 0..63 (mostly -ENOSYS) and numbers past the table less often.
  static constexpr uint64_t kPvHypercalls[] = {
      __HYPERVISOR_set_trap_table,
      __HYPERVISOR_mmu_update,
      __HYPERVISOR_set_gdt,
      __HYPERVISOR_stack_switch,
      __HYPERVISOR_set_callbacks,
      __HYPERVISOR_fpu_taskswitch,
      __HYPERVISOR_sched_op_compat,
      __HYPERVISOR_platform_op,
      __HYPERVISOR_set_debugreg,
      __HYPERVISOR_get_debugreg,
      __HYPERVISOR_update_descriptor,
      __HYPERVISOR_memory_op,
      __HYPERVISOR_multicall,
      __HYPERVISOR_update_va_mapping,
      __HYPERVISOR_set_timer_op,
      __HYPERVISOR_event_channel_op_compat,
      __HYPERVISOR_xen_version,
      __HYPERVISOR_console_io,
      __HYPERVISOR_physdev_op_compat,
      __HYPERVISOR_grant_table_op,
      __HYPERVISOR_vm_assist,
      __HYPERVISOR_update_va_mapping_otherdomain,
      __HYPERVISOR_vcpu_op,
      __HYPERVISOR_set_segment_base,
      __HYPERVISOR_mmuext_op,
      __HYPERVISOR_nmi_op,
      __HYPERVISOR_sched_op,
      __HYPERVISOR_callback_op,
      __HYPERVISOR_event_channel_op,
      __HYPERVISOR_physdev_op,
      __HYPERVISOR_sysctl,
      __HYPERVISOR_domctl,
  };
  const uint64_t kind = below(100);
  if (kind < 75) {
    call.nr = pick(kPvHypercalls);
  } else if (kind < 95) {
    call.nr = below(64);
  } else {
    // Numbers past Xen's table; the low 32 bits of the wide ones name
    // harmless hypercalls, in case a hypervisor truncates the number.
    static constexpr uint64_t kBeyond[] = {64,
                                           100,
                                           127,
                                           128,
                                           4095,
                                           0xffffffff,
                                           (1ULL << 32) | __HYPERVISOR_xen_version,
                                           (1ULL << 63) | __HYPERVISOR_console_io,
                                           ~0ULL};
    call.nr = pick(kBeyond);
  }
  for (uint64_t& arg : call.args)
    arg = interesting_value();
  const unsigned known = known_sub_ops(call.nr);
  if (known != 0) {
    call.args[0] = sub_op(known);
    call.args[1] = pointer_argument();
  }
  switch (call.nr) {
    case __HYPERVISOR_mmu_update:
    case __HYPERVISOR_mmuext_op:
      // (requests, count, done, domid): mostly a small batch of garbage.
      call.args[0] = pointer_argument();
      if (chance(70)) call.args[1] = below(8);
      break;
    case __HYPERVISOR_grant_table_op:
    case __HYPERVISOR_multicall:
      if (chance(70)) call.args[2 - (call.nr == __HYPERVISOR_multicall ? 1 : 0)] = below(8);
      break;
    case __HYPERVISOR_update_va_mapping:
      // Remapping the guest's own image ends the run at once; keep most
      // attempts elsewhere so that a run lasts.
      if (chance(97) && call.args[0] >= 0xffffffff80000000ULL &&
          call.args[0] < g_layout.image_end) {
        call.args[0] = g_layout.image_end + below(1ULL << 30);
      }
      break;
    case __HYPERVISOR_set_trap_table:
    case __HYPERVISOR_set_gdt:
    case __HYPERVISOR_update_descriptor:
    case __HYPERVISOR_xenoprof_op:
      if (chance(60)) call.args[0] = pointer_argument();
      break;
    default:
      break;
  }
  return call;
}

// Calls that would end or stop the guest on Xen as well, or change its
// control flow. Xen reads the sub-op numbers as int (32 bits).
bool stops_the_guest(const Call& call) {
  const auto cmd = static_cast<uint32_t>(call.args[0]);
  switch (call.nr) {
    case __HYPERVISOR_iret:
      return true;
    case __HYPERVISOR_sched_op:
    case __HYPERVISOR_sched_op_compat:
      return cmd == SCHEDOP_block || cmd == SCHEDOP_shutdown || cmd == SCHEDOP_poll ||
             cmd == SCHEDOP_remote_shutdown || cmd == SCHEDOP_watchdog;
    case __HYPERVISOR_vcpu_op:
      // vcpu_op(cmd, vcpuid, arg): cmd is the first argument.
      return cmd == VCPUOP_down;
    default:
      return false;
  }
}

Call safe_random_call() {
  for (;;) {
    Call call = random_call();
    if (!stops_the_guest(call)) return call;
  }
}

long raw_hypercall(const Call& call) {
  if (call.nr < xpv::guest::kHypercallStubCount) {
    return xpv::guest::hypercall(static_cast<unsigned>(call.nr), call.args[0], call.args[1],
                                 call.args[2], call.args[3], call.args[4]);
  }
  // Past the hypercall page: a guest may still issue syscall with any rax.
  register uint64_t arg4 asm("r10") = call.args[3];
  register uint64_t arg5 asm("r8") = call.args[4];
  uint64_t a1 = call.args[0];
  uint64_t a2 = call.args[1];
  uint64_t a3 = call.args[2];
  long result = 0;
  asm volatile("syscall"
               : "=a"(result), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(arg4), "+r"(arg5)
               : "a"(call.nr)
               : "rcx", "r9", "r11", "memory", "cc");
  return result;
}

// Multicall batches of filtered random calls (an entry with a garbage op
// could otherwise shut the guest down or iret).
void build_multicalls(Call& call) {
  if (!chance(60)) return;
  const auto count = static_cast<unsigned>(1 + below(kMaxMulticallEntries));
  for (unsigned i = 0; i < count; ++i) {
    Call entry = safe_random_call();
    if (entry.nr == __HYPERVISOR_multicall) entry.nr = __HYPERVISOR_xen_version;
    g_multicalls[i].op = entry.nr;
    g_multicalls[i].result = next_random();
    for (unsigned a = 0; a < 5; ++a)
      g_multicalls[i].args[a] = entry.args[a];
    g_multicalls[i].args[5] = interesting_value();
  }
  call.args[0] = address_of(g_multicalls);
  call.args[1] = count;
}

// Puts the guest's trap table back to empty after a fuzzed set_trap_table,
// so a later fault crashes the domain instead of bouncing to a garbage
// handler forever (which would look like a hang).
void reset_trap_table() {
  xpv::guest::hypercall(__HYPERVISOR_set_trap_table, 0);
}

// --- Bookkeeping ---------------------------------------------------------------
struct Tally {
  unsigned ok = 0;
  unsigned enosys = 0;
  unsigned efault = 0;
  unsigned einval = 0;
  unsigned other = 0;
};

void count_result(Tally& tally, long result) {
  if (result >= 0) {
    ++tally.ok;
  } else if (result == -XEN_ENOSYS) {
    ++tally.enosys;
  } else if (result == -XEN_EFAULT) {
    ++tally.efault;
  } else if (result == -XEN_EINVAL) {
    ++tally.einval;
  } else {
    ++tally.other;
  }
}

bool parse_decimal(const char*& text, uint64_t* value) {
  while (*text == ' ')
    ++text;
  if (*text < '0' || *text > '9') return false;
  *value = 0;
  while (*text >= '0' && *text <= '9')
    *value = *value * 10 + static_cast<uint64_t>(*text++ - '0');
  return true;
}

void record_layout() {
  const start_info_t& info = xpv::guest::start_info_page();
  g_layout.start_info_va = address_of(&info);
  g_layout.pt_base = info.pt_base;
  g_layout.nr_pages = info.nr_pages;
  g_layout.mfn_list = info.mfn_list;
  // The domain builder maps the image, start_info, the P2M and the page
  // tables from VIRT_BASE, and at least 512 KiB of padding past them
  // (Xen's start_info contract): 4 MiB past the last of them is unmapped.
  uint64_t last = g_layout.pt_base > g_layout.mfn_list ? g_layout.pt_base : g_layout.mfn_list;
  g_layout.image_end = (last + (8ULL << 20)) & ~((4ULL << 20) - 1);
  g_layout.some_mfn = xpv::guest::mfn_of(g_victim);
}

}  // namespace

int guest_main() {
  const char* text = reinterpret_cast<const char*>(xpv::guest::start_info_page().cmd_line);
  uint64_t seed = 0;
  uint64_t calls = 0;
  if (!parse_decimal(text, &seed) || !parse_decimal(text, &calls)) {
    printk("hypercall-fuzz: usage: --cmdline \"<seed> <calls>\"\n");
    return 1;
  }
  record_layout();
  g_state = seed;
  printk("hypercall-fuzz: seed %lu, %lu calls\n", seed, calls);
  Tally tally;
  for (uint64_t i = 0; i < calls; ++i) {
    Call call = safe_random_call();
    if (call.nr == __HYPERVISOR_multicall) build_multicalls(call);
    const long result = raw_hypercall(call);
    count_result(tally, result);
    if (call.nr == __HYPERVISOR_set_trap_table) reset_trap_table();
    if ((i + 1) % kProgressEvery == 0) printk("hypercall-fuzz: %lu calls\n", i + 1);
  }
  printk("hypercall-fuzz: seed %lu: %lu calls: ok %u, enosys %u, efault %u, einval %u, other %u\n",
         seed, calls, tally.ok, tally.enosys, tally.efault, tally.einval, tally.other);
  return 0;
}
