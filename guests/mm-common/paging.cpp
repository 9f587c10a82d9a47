#include "mm-common/paging.hpp"

#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"

extern "C" const char VIRT_BASE[];  // guest.ld

namespace mm {

namespace {

using xpv::guest::hypercall;
using xpv::guest::panic;

constexpr unsigned kSparePages = 64;
alignas(4096) uint64_t spare_pages[kSparePages][512];
unsigned spare_pages_used = 0;

long reservation_query(unsigned cmd, domid_t domid) {
  return hypercall(__HYPERVISOR_memory_op, cmd, address_of(&domid));
}

}  // namespace

long pt_update(uint64_t table_mfn, unsigned index, uint64_t value, unsigned cmd, domid_t domid) {
  mmu_update_t request{entry_address(table_mfn, index) + cmd, value};
  return hypercall(__HYPERVISOR_mmu_update, address_of(&request), 1, 0, domid);
}

long mmu_update_batch(const mmu_update_t* requests, unsigned count, unsigned* done, domid_t domid) {
  return hypercall(__HYPERVISOR_mmu_update, address_of(requests), count, address_of(done), domid);
}

long machphys_update(uint64_t mfn, uint64_t pfn) {
  mmu_update_t request{(mfn << 12) | MMU_MACHPHYS_UPDATE, pfn};
  return hypercall(__HYPERVISOR_mmu_update, address_of(&request), 1, 0, DOMID_SELF);
}

long mmuext(unsigned cmd, uint64_t arg1, uint64_t arg2, domid_t domid) {
  mmuext_op_t op{};
  op.cmd = cmd;
  op.arg1.mfn = arg1;
  op.arg2.src_mfn = arg2;
  return hypercall(__HYPERVISOR_mmuext_op, address_of(&op), 1, 0, domid);
}

long mmuext_batch(const mmuext_op_t* ops, unsigned count, unsigned* done) {
  return hypercall(__HYPERVISOR_mmuext_op, address_of(ops), count, address_of(done), DOMID_SELF);
}

long update_va_mapping(uint64_t va, uint64_t entry, uint64_t flags) {
  return hypercall(__HYPERVISOR_update_va_mapping, va, entry, flags);
}

long reservation(unsigned cmd, xen_pfn_t* list, unsigned count, unsigned order, domid_t domid) {
  xen_memory_reservation_t r{};
  set_xen_guest_handle(r.extent_start, list);
  r.nr_extents = count;
  r.extent_order = order;
  r.domid = domid;
  return hypercall(__HYPERVISOR_memory_op, cmd, address_of(&r));
}

long current_reservation(domid_t domid) {
  return reservation_query(XENMEM_current_reservation, domid);
}

long maximum_reservation(domid_t domid) {
  return reservation_query(XENMEM_maximum_reservation, domid);
}

const xen_machphys_mapping_t& machphys_mapping() {
  static xen_machphys_mapping_t mapping;
  if (mapping.v_start == 0 &&
      hypercall(__HYPERVISOR_memory_op, XENMEM_machphys_mapping, address_of(&mapping)) != 0)
    panic("XENMEM_machphys_mapping failed");
  return mapping;
}

uint64_t m2p(uint64_t mfn) {
  if (mfn > machphys_mapping().max_mfn) panic("mfn %#lx is past the M2P", mfn);
  return reinterpret_cast<const volatile uint64_t*>(machphys_mapping().v_start)[mfn];
}

xen_pfn_t* p2m() {
  return reinterpret_cast<xen_pfn_t*>(xpv::guest::start_info_page().mfn_list);
}

uint64_t* kernel_va_of_mfn(uint64_t mfn) {
  return reinterpret_cast<uint64_t*>(address_of(VIRT_BASE) + (m2p(mfn) << 12));
}

uint64_t kernel_l4_mfn() {
  return xpv::guest::mfn_of(reinterpret_cast<const void*>(xpv::guest::start_info_page().pt_base));
}

uint64_t kernel_l3_mfn() {
  return frame_of(kernel_va_of_mfn(kernel_l4_mfn())[table_index(address_of(VIRT_BASE), 4)]);
}

uint64_t kernel_l2_mfn() {
  return frame_of(kernel_va_of_mfn(kernel_l3_mfn())[table_index(address_of(VIRT_BASE), 3)]);
}

Page spare_page() {
  if (spare_pages_used == kSparePages) panic("out of spare pages");
  uint64_t* va = spare_pages[spare_pages_used++];
  memset(va, 0, 4096);
  return {va, xpv::guest::pfn_of(va), xpv::guest::mfn_of(va)};
}

long make_read_only(const Page& page) {
  return update_va_mapping(address_of(page.va), entry_of(page.mfn, kKernelRO));
}

long make_writable(const Page& page) {
  return update_va_mapping(address_of(page.va), entry_of(page.mfn, kKernelRW));
}

long balloon_out(Page& page) {
  if (long rc = update_va_mapping(address_of(page.va), 0); rc != 0) return rc;
  xen_pfn_t mfn = page.mfn;
  long done = reservation(XENMEM_decrease_reservation, &mfn, 1);
  if (done == 1) p2m()[page.pfn] = kInvalidM2p;
  return done;
}

long balloon_in(Page& page) {
  xen_pfn_t frame = page.pfn;
  long done = reservation(XENMEM_populate_physmap, &frame, 1);
  if (done != 1) return done;
  page.mfn = frame;
  p2m()[page.pfn] = frame;
  if (make_writable(page) != 0) return 0;
  return done;
}

void ScratchL1::set_up(unsigned l2_slot) {
  page_ = spare_page();
  l2_slot_ = l2_slot;
  if (long rc = make_read_only(page_); rc != 0) panic("scratch L1 read-only: %ld", rc);
  if (long rc = mmuext(MMUEXT_PIN_L1_TABLE, page_.mfn); rc != 0) panic("pin scratch L1: %ld", rc);
  uint64_t l2 = kernel_l2_mfn();
  if ((kernel_va_of_mfn(l2)[l2_slot] & kPresent) != 0) panic("L2 slot %u is in use", l2_slot);
  if (long rc = pt_update(l2, l2_slot, entry_of(page_.mfn, kTableEntry)); rc != 0)
    panic("link scratch L1: %ld", rc);
}

unsigned ScratchL1::fresh_slot() {
  if (next_slot_ == 512) panic("out of scratch L1 slots");
  return next_slot_++;
}

uint64_t ScratchL1::va(unsigned index) const {
  return address_of(VIRT_BASE) + (uint64_t{l2_slot_} << 21) + (uint64_t{index} << 12);
}

}  // namespace mm
