// bench-mm: what issue 4's validated direct paging costs, timed inside the
// guest with its own TSC (bench-common):
//
//   mmu_update_batch512   ns per entry, mmu_update batches of 512 entries
//                         of a live L1 (pinned, linked into the kernel's
//                         L2), each changing the entry
//   mmu_update_batch128   the same in batches of 128: under the 256
//                         entries past which xpv resyncs KVM's whole
//                         shadow instead of touching each entry
//                         (docs/monitor.md)
//   mmu_update_batch1     the same, one entry per hypercall
//   wpt_assist_store      one `mov` to an entry of that L1 through its
//                         read-only mapping, emulated by xpv (the
//                         writable-pagetable assist), ns per store
//   space_1gib_build      a 1 GiB address space (512 L1s mapping 4 KiB
//                         pages, an L2, L3 and L4): its 515 page-table
//                         pages made read-only in one mmu_update batch and
//                         the L4 pinned (which validates the tree), ns
//   space_1gib_teardown   unpinning it and making the pages writable again
//
// `runs=` and `iterations=` (entries or stores per run) on the command
// line; the address space is built `space_runs=` times.
#include "bench-common/bench.hpp"
#include "mm-common/pte.hpp"
#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"

// clang-format off
#include <xen/memory.h>
// clang-format on

extern "C" const char VIRT_BASE[];  // guest.ld

namespace {

using xpv::guest::hypercall;
using xpv::guest::mfn_of;
using xpv::guest::panic;

// Page-table entry bits (Intel SDM vol. 3, 4.5).
using namespace guest_pte;
constexpr uint64_t kUserData = kKernelRW | kUser;

constexpr unsigned kEntries = 512;
constexpr unsigned kPoolPages = 16;
// The live L1 goes into the last slot of the kernel's L2, far above the
// image and its bootstrap tables.
constexpr unsigned kLiveL2Slot = 511;

alignas(4096) uint8_t pool[kPoolPages][4096];  // the frames the L1s map
alignas(4096) uint64_t live_l1[kEntries];

// The 1 GiB address space: L1s first, then L2, L3, L4.
constexpr unsigned kSpaceL1s = 512;
constexpr unsigned kSpacePages = kSpaceL1s + 3;
alignas(4096) uint64_t space[kSpacePages][kEntries];
uint64_t* const space_l2 = space[kSpaceL1s];
uint64_t* const space_l3 = space[kSpaceL1s + 1];
uint64_t* const space_l4 = space[kSpaceL1s + 2];

mmu_update_t updates[kSpacePages];

uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

uint64_t maddr_of(const void* page) {
  return mfn_of(page) << 12;
}

void check(long rc, const char* what) {
  if (rc != 0) panic("%s failed: %ld", what, rc);
}

long mmu_update(const mmu_update_t* list, unsigned count) {
  return hypercall(__HYPERVISOR_mmu_update, address_of(list), count, 0, DOMID_SELF);
}

long mmuext(unsigned cmd, uint64_t mfn) {
  mmuext_op_t op{};
  op.cmd = cmd;
  op.arg1.mfn = mfn;
  return hypercall(__HYPERVISOR_mmuext_op, address_of(&op), 1, 0, DOMID_SELF);
}

// --- the kernel's own page tables, read through their read-only mappings ---

unsigned table_index(uint64_t va, unsigned level) {
  return (va >> (12 + 9 * (level - 1))) & 511;
}

uint64_t* kernel_va_of_mfn(uint64_t mfn) {
  static xen_machphys_mapping_t m2p;
  if (m2p.v_start == 0) {
    check(hypercall(__HYPERVISOR_memory_op, XENMEM_machphys_mapping, address_of(&m2p)),
          "XENMEM_machphys_mapping");
    if (m2p.v_start == 0) panic("XENMEM_machphys_mapping gave no M2P");
  }
  uint64_t pfn = reinterpret_cast<const volatile uint64_t*>(m2p.v_start)[mfn];
  return reinterpret_cast<uint64_t*>(address_of(VIRT_BASE) + (pfn << 12));
}

// The table one level down from `entry`.
uint64_t* next_table(uint64_t entry) {
  return kernel_va_of_mfn((entry & kAddressMask) >> 12);
}

// The kernel's L2 that maps the image.
uint64_t* kernel_l2() {
  auto* l4 = reinterpret_cast<uint64_t*>(xpv::guest::start_info_page().pt_base);
  uint64_t va = address_of(VIRT_BASE);
  return next_table(next_table(l4[table_index(va, 4)])[table_index(va, 3)]);
}

// The machine address of the bootstrap L1 entry that maps kernel page `va`.
uint64_t kernel_pte_maddr(const void* page) {
  uint64_t va = address_of(page);
  uint64_t* l1 = next_table(kernel_l2()[table_index(va, 2)]);
  return maddr_of(l1) + uint64_t{table_index(va, 1)} * 8;
}

// --- the live L1 ---

// Made read-only, pinned and linked into the kernel's L2, as Linux's
// xen_alloc_pte and set_pmd do it.
void set_up_live_l1() {
  uint64_t mfn = mfn_of(live_l1);
  check(hypercall(__HYPERVISOR_update_va_mapping, address_of(live_l1), (mfn << 12) | kKernelRO,
                  UVMF_INVLPG | UVMF_LOCAL),
        "update_va_mapping(live L1 read-only)");
  check(mmuext(MMUEXT_PIN_L1_TABLE, mfn), "MMUEXT_PIN_L1_TABLE");
  uint64_t* l2 = kernel_l2();
  if ((l2[kLiveL2Slot] & kPresent) != 0) panic("L2 slot %u is in use", kLiveL2Slot);
  mmu_update_t link{maddr_of(l2) + uint64_t{kLiveL2Slot} * 8 + MMU_NORMAL_PT_UPDATE,
                    (mfn << 12) | kTable};
  check(mmu_update(&link, 1), "mmu_update(link the live L1)");
  check(hypercall(__HYPERVISOR_vm_assist, VMASST_CMD_enable, VMASST_TYPE_writable_pagetables),
        "vm_assist(writable_pagetables)");
}

// Entry `i` of the live L1 in round `round`: a pool page that differs from
// the last round's, so every update changes the entry.
uint64_t live_entry(uint64_t i, uint64_t round) {
  return maddr_of(pool[(i + round) % kPoolPages]) | kUserData;
}

uint64_t time_mmu_update(uint64_t entries, unsigned batch) {
  static uint64_t round = 0;
  ++round;
  uint64_t ticks = 0;
  for (uint64_t done = 0; done < entries; done += batch) {
    unsigned n = entries - done < batch ? static_cast<unsigned>(entries - done) : batch;
    for (unsigned k = 0; k < n; ++k) {
      uint64_t slot = (done + k) % kEntries;
      updates[k] = {maddr_of(live_l1) + slot * 8 + MMU_NORMAL_PT_UPDATE, live_entry(slot, round)};
    }
    uint64_t t0 = bench::rdtsc();
    check(mmu_update(updates, n), "mmu_update(live L1)");
    ticks += bench::rdtsc() - t0;
  }
  return bench::tsc_delta_ns(ticks);
}

void store_entry(uint64_t* entry, uint64_t value) {
  asm volatile("mov %1, %0" : "=m"(*entry) : "r"(value) : "memory");
}

uint64_t time_assist(uint64_t stores) {
  static uint64_t round = 0;
  ++round;
  uint64_t t0 = bench::rdtsc();
  for (uint64_t i = 0; i < stores; ++i)
    store_entry(&live_l1[i % kEntries], live_entry(i % kEntries, round));
  uint64_t ticks = bench::rdtsc() - t0;
  if (live_l1[(stores - 1) % kEntries] != live_entry((stores - 1) % kEntries, round))
    panic("the assisted store did not reach the page table");
  return bench::tsc_delta_ns(ticks);
}

// --- the 1 GiB address space ---

void fill_space() {
  for (unsigned i = 0; i < kSpaceL1s; ++i) {
    for (unsigned j = 0; j < kEntries; ++j)
      space[i][j] = maddr_of(pool[(i * kEntries + j) % kPoolPages]) | kUserData;
  }
  for (unsigned i = 0; i < kSpaceL1s; ++i)
    space_l2[i] = maddr_of(space[i]) | kTable;
  space_l3[0] = maddr_of(space_l2) | kTable;
  space_l4[0] = maddr_of(space_l3) | kTable;
}

// Every page of the space mapped with `flags` in the kernel's mapping, in
// one batch.
void remap_space(uint64_t flags) {
  for (unsigned p = 0; p < kSpacePages; ++p)
    updates[p] = {kernel_pte_maddr(space[p]) + MMU_NORMAL_PT_UPDATE, maddr_of(space[p]) | flags};
  check(mmu_update(updates, kSpacePages), "mmu_update(the space's mappings)");
  check(mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0), "MMUEXT_TLB_FLUSH_LOCAL");
}

// The pin really validated the tree: its L1s are page tables now, which
// the guest may not map writable (Xen's -EINVAL from the L1 validation).
void refuse_writable_table() {
  mmu_update_t writable{kernel_pte_maddr(space[0]) + MMU_NORMAL_PT_UPDATE,
                        maddr_of(space[0]) | kKernelRW};
  if (mmu_update(&writable, 1) == 0) panic("a pinned L1 of the 1 GiB space was mapped writable");
}

struct SpaceTimes {
  uint64_t build_ns, teardown_ns;
};

SpaceTimes time_space() {
  fill_space();
  uint64_t t0 = bench::rdtsc();
  remap_space(kKernelRO);
  check(mmuext(MMUEXT_PIN_L4_TABLE, mfn_of(space_l4)), "MMUEXT_PIN_L4_TABLE(1 GiB space)");
  uint64_t t1 = bench::rdtsc();
  refuse_writable_table();
  check(mmuext(MMUEXT_UNPIN_TABLE, mfn_of(space_l4)), "MMUEXT_UNPIN_TABLE(1 GiB space)");
  remap_space(kKernelRW);
  uint64_t t2 = bench::rdtsc();
  return {bench::tsc_delta_ns(t1 - t0), bench::tsc_delta_ns(t2 - t1)};
}

void report_space(const bench::Plan& plan) {
  uint64_t build[bench::kMaxRuns], teardown[bench::kMaxRuns];
  auto runs = static_cast<unsigned>(plan.runs);
  for (unsigned r = 0; r < runs; ++r) {
    SpaceTimes t = time_space();
    build[r] = t.build_ns;
    teardown[r] = t.teardown_ns;
  }
  bench::Plan once{plan.runs, 1};
  bench::report("space_1gib_build", bench::median(build, runs), "ns", once);
  bench::report("space_1gib_teardown", bench::median(teardown, runs), "ns", once);
}

}  // namespace

int guest_main() {
  bench::map_shared_info();
  set_up_live_l1();

  bench::Plan entries = bench::plan(5, 4096);
  uint64_t ns = bench::median_ns_per_iteration(
      entries, [](uint64_t n) { return time_mmu_update(n, kEntries); });
  bench::report("mmu_update_batch512", ns, "ns", entries);
  ns = bench::median_ns_per_iteration(entries, [](uint64_t n) { return time_mmu_update(n, 128); });
  bench::report("mmu_update_batch128", ns, "ns", entries);
  ns = bench::median_ns_per_iteration(entries, [](uint64_t n) { return time_mmu_update(n, 1); });
  bench::report("mmu_update_batch1", ns, "ns", entries);
  ns = bench::median_ns_per_iteration(entries, time_assist);
  bench::report("wpt_assist_store", ns, "ns", entries);

  bench::Plan builds{bench::parameter("space_runs", 3), 1};
  if (builds.runs == 0 || builds.runs > bench::kMaxRuns) builds.runs = 3;
  report_space(builds);
  return 0;
}
