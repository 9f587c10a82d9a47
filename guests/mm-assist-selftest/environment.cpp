#include "mm-assist-selftest/assist.hpp"
#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/traps.hpp"

// runtime/xen.hpp has pinned the interface version.
// clang-format off
#include <xen/memory.h>
// clang-format on

extern "C" const char VIRT_BASE[];  // guest.ld
extern "C" const char mm_probes_start[], mm_probes_end[];

namespace mm_assist {

namespace {

using xpv::guest::hypercall;
using xpv::guest::panic;

// The L2 slot the test L1 goes into: the last one of the kernel's L2,
// far above anything the bootstrap tables map.
constexpr unsigned kTestL2Slot = 511;

alignas(4096) uint64_t the_test_l1[512];
uint64_t* the_kernel_l2 = nullptr;
const shared_info_t* the_shared_info = nullptr;

PageFault the_last_fault{};
unsigned faults = 0;

uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

unsigned table_index(uint64_t va, unsigned level) {
  return (va >> (12 + 9 * (level - 1))) & 511;
}

uint64_t frame_of(uint64_t entry) {
  return (entry & kAddressMask) >> 12;
}

long install_page_fault_handler() {
  constexpr unsigned kPageFault = 14;
  trap_info_t table[2] = {xpv::guest::trap_info_for(kPageFault), {}};
  return xpv::guest::set_trap_table(table);
}

long mmuext(unsigned cmd, uint64_t arg1) {
  mmuext_op_t op{};
  op.cmd = cmd;
  op.arg1.mfn = arg1;
  return hypercall(__HYPERVISOR_mmuext_op, address_of(&op), 1, 0, DOMID_SELF);
}

// The test L1 is a page of this image: made read-only in its one mapping
// (the kernel's), pinned, then linked into the kernel's L2, as Linux's
// xen_alloc_pte_init and set_pmd do it.
void build_test_l1() {
  uint64_t va = address_of(the_test_l1);
  uint64_t mfn = test_l1_mfn();
  long rc = hypercall(__HYPERVISOR_update_va_mapping, va, (mfn << 12) | kKernelRO,
                      UVMF_INVLPG | UVMF_LOCAL);
  if (rc != 0) panic("update_va_mapping(test L1 read-only) failed: %ld", rc);
  if ((rc = mmuext(MMUEXT_PIN_L1_TABLE, mfn)) != 0) panic("MMUEXT_PIN_L1_TABLE failed: %ld", rc);

  uint64_t* l4 = reinterpret_cast<uint64_t*>(xpv::guest::start_info_page().pt_base);
  uint64_t l3_mfn = frame_of(l4[table_index(address_of(VIRT_BASE), 4)]);
  uint64_t l2_mfn = frame_of(kernel_va_of_mfn(l3_mfn)[table_index(address_of(VIRT_BASE), 3)]);
  the_kernel_l2 = kernel_va_of_mfn(l2_mfn);
  if ((the_kernel_l2[kTestL2Slot] & kPresent) != 0) panic("L2 slot %u is in use", kTestL2Slot);
  mmu_update_t update{(l2_mfn << 12) + kTestL2Slot * 8 + MMU_NORMAL_PT_UPDATE,
                      (mfn << 12) | kKernelRW | kUser};
  if ((rc = hypercall(__HYPERVISOR_mmu_update, address_of(&update), 1, 0, DOMID_SELF)) != 0)
    panic("mmu_update(L2 slot) failed: %ld", rc);
}

void map_shared_info() {
  uint64_t va = mapped_va(kSharedInfoSlot);
  uint64_t maddr = xpv::guest::start_info_page().shared_info;
  long rc =
      hypercall(__HYPERVISOR_update_va_mapping, va, maddr | kKernelRW, UVMF_INVLPG | UVMF_LOCAL);
  if (rc != 0) panic("update_va_mapping(shared_info) failed: %ld", rc);
  the_shared_info = reinterpret_cast<const shared_info_t*>(va);
}

}  // namespace

void set_up() {
  long rc = install_page_fault_handler();
  if (rc != 0) panic("set_trap_table failed: %ld", rc);
  if ((rc = vm_assist_writable_pagetables(true)) != 0) panic("vm_assist failed: %ld", rc);
  build_test_l1();
  map_shared_info();
}

uint64_t* test_l1() {
  return the_test_l1;
}

uint64_t test_l1_mfn() {
  return xpv::guest::mfn_of(the_test_l1);
}

uint64_t l1_entry(unsigned index) {
  return __atomic_load_n(&the_test_l1[index], __ATOMIC_RELAXED);
}

uint64_t mapped_va(unsigned index) {
  return address_of(VIRT_BASE) + (uint64_t{kTestL2Slot} << 21) + (uint64_t{index} << 12);
}

uint64_t* kernel_l2() {
  return the_kernel_l2;
}

uint64_t* bootstrap_l1_entry(const void* kernel_address) {
  uint64_t va = address_of(kernel_address);
  uint64_t* l1 = kernel_va_of_mfn(frame_of(the_kernel_l2[table_index(va, 2)]));
  return &l1[table_index(va, 1)];
}

uint64_t* kernel_va_of_mfn(uint64_t mfn) {
  static xen_machphys_mapping_t m2p;
  if (m2p.v_start == 0 &&
      hypercall(__HYPERVISOR_memory_op, XENMEM_machphys_mapping, address_of(&m2p)) != 0)
    panic("XENMEM_machphys_mapping failed");
  if (mfn > m2p.max_mfn) panic("mfn %#lx is past the M2P", mfn);
  uint64_t pfn = reinterpret_cast<const volatile uint64_t*>(m2p.v_start)[mfn];
  return reinterpret_cast<uint64_t*>(address_of(VIRT_BASE) + (pfn << 12));
}

uint64_t entry_for(const void* page, uint64_t flags) {
  return (xpv::guest::mfn_of(page) << 12) | flags;
}

long vm_assist_writable_pagetables(bool on) {
  return hypercall(__HYPERVISOR_vm_assist, on ? VMASST_CMD_enable : VMASST_CMD_disable,
                   VMASST_TYPE_writable_pagetables);
}

long invlpg(uint64_t va) {
  return mmuext(MMUEXT_INVLPG_LOCAL, va);
}

bool known_bug_check_enabled(const char* name) {
  const char* word = reinterpret_cast<const char*>(xpv::guest::start_info_page().cmd_line);
  size_t length = strlen(name);
  while (*word != '\0') {
    while (*word == ' ')
      ++word;
    if (memcmp(word, "check=", 6) == 0 && memcmp(word + 6, name, length) == 0 &&
        (word[6 + length] == ' ' || word[6 + length] == '\0'))
      return true;
    while (*word != ' ' && *word != '\0')
      ++word;
  }
  xpv::guest::printk("  (skipped: known xpv divergence; run with check=%s)\n", name);
  return false;
}

unsigned fault_count() {
  return faults;
}

const PageFault& last_fault() {
  return the_last_fault;
}

}  // namespace mm_assist

// Called by the runtime's #PF entry (runtime/traps.S), the one vector
// with a handler.
extern "C" void xpv_trap_dispatch(xpv::guest::TrapFrame& frame) {
  using namespace mm_assist;
  if (frame.rip < address_of(mm_probes_start) || frame.rip >= address_of(mm_probes_end)) {
    panic("page fault outside the probes: error code %#lx at rip %#lx", frame.error_code,
          frame.rip);
  }
  the_last_fault = {frame.error_code, frame.rip,
                    the_shared_info != nullptr ? the_shared_info->vcpu_info[0].arch.cr2 : 0};
  ++faults;
  // Return from the probe: its return address is on top of its stack.
  frame.rip = *reinterpret_cast<const uint64_t*>(frame.rsp);
  frame.rsp += 8;
  frame.error_code = 0;  // iret_context.flags
  // xpv's iret refuses the saved upcall mask in CS bits 32-39, which Xen
  // ignores (see cpu-selftest's trap dispatcher).
  frame.cs &= 0xffff;
}
