// Attacks through the M2P, batches and the reservation: writing the
// read-only M2P, MACHPHYS_UPDATE of frames not owned, a batch that fails
// midway, foreign domains, and growing past the maximum.
#include <initializer_list>

#include "mm-attack/attack.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace mm;
using mm_attack::scratch;

constexpr uint64_t kPfPresent = 1, kPfWrite = 2;
constexpr domid_t kOtherDomain = 7;

// The M2P is mapped read-only: a store is a page fault for the guest,
// and the entry keeps its value.
XPV_TEST(StoringIntoTheM2pIsAPageFault) {
  Page page = spare_page();
  auto* entry = reinterpret_cast<uint64_t*>(machphys_mapping().v_start) + page.mfn;
  unsigned before = mm_attack::faults().count;
  mm_attack::store(entry, 0x4242);
  mm_attack::Fault fault = mm_attack::faults();
  XPV_EXPECT_EQ(fault.count, before + 1);
  XPV_EXPECT_EQ(fault.error_code & (kPfPresent | kPfWrite), kPfPresent | kPfWrite);
  XPV_EXPECT(mm_attack::is_store_site(fault.rip));
  XPV_EXPECT_EQ(m2p(page.mfn), page.pfn);
}

// MMU_MACHPHYS_UPDATE: get_page_from_mfn fails for a frame the domain
// does not own, -EINVAL.
XPV_TEST(MachphysUpdateOfAFrameNotOwnedIsInvalid) {
  uint64_t beyond = mm_attack::end_of_ram_mfn();
  XPV_EXPECT_EQ(machphys_update(beyond, 1), -XEN_EINVAL);
  XPV_EXPECT_EQ(machphys_update(mm_attack::hypervisor_frame(258), 1), -XEN_EINVAL);
  XPV_EXPECT_EQ(machphys_update(0, 1), -XEN_EINVAL);
  Page page = spare_page();
  uint64_t gone = page.mfn;
  XPV_ASSERT_EQ(balloon_out(page), 1);
  XPV_EXPECT_EQ(machphys_update(gone, 1), -XEN_EINVAL);
  XPV_EXPECT_EQ(m2p(gone), kInvalidM2p);
  XPV_EXPECT_EQ(balloon_in(page), 1);
}

// Requests before the bad one take effect, the bad one and those after it
// do not, and *done counts the good ones (do_mmu_update).
XPV_TEST(ABatchStopsAtTheFirstBadRequest) {
  Page a = spare_page(), b = spare_page();
  unsigned first = scratch().fresh_slot(), bad = scratch().fresh_slot(),
           last = scratch().fresh_slot();
  mmu_update_t requests[] = {
      {entry_address(scratch().mfn(), first), entry_of(a.mfn, kKernelRO)},
      {entry_address(scratch().mfn(), bad), entry_of(scratch().mfn(), kKernelRW)},
      {entry_address(scratch().mfn(), last), entry_of(b.mfn, kKernelRO)},
  };
  unsigned done = 99;
  XPV_EXPECT_EQ(mmu_update_batch(requests, 3, &done), -XEN_EBUSY);
  XPV_EXPECT_EQ(done, 1);
  XPV_EXPECT_EQ(frame_of(scratch().entry(first)), a.mfn);
  XPV_EXPECT_EQ(scratch().entry(bad), 0);
  XPV_EXPECT_EQ(scratch().entry(last), 0);

  // The same for mmuext_op: a pin that fails stops the batch.
  Page table = spare_page();
  XPV_ASSERT_EQ(make_read_only(table), 0);
  mmuext_op_t ops[3]{};
  ops[0].cmd = MMUEXT_PIN_L1_TABLE;
  ops[0].arg1.mfn = table.mfn;
  ops[1].cmd = MMUEXT_PIN_L1_TABLE;  // already pinned
  ops[1].arg1.mfn = table.mfn;
  ops[2].cmd = MMUEXT_UNPIN_TABLE;
  ops[2].arg1.mfn = table.mfn;
  done = 99;
  XPV_EXPECT_EQ(mmuext_batch(ops, 3, &done), -XEN_EINVAL);
  XPV_EXPECT_EQ(done, 1);
  XPV_EXPECT_EQ(mmuext(MMUEXT_UNPIN_TABLE, table.mfn), 0);  // the third never ran
}

// The low bits of mmu_update's ptr are the command: a misaligned entry
// address is an unknown command (-ENOSYS); a ptr into a frame the guest
// does not own is -EINVAL.
XPV_TEST(MisalignedOrForeignUpdateAddressesAreRefused) {
  Page page = spare_page();
  unsigned slot = scratch().fresh_slot();
  uint64_t ptr = entry_address(scratch().mfn(), slot);
  for (uint64_t low : {4ULL, 5ULL, 7ULL}) {
    mmu_update_t request{ptr + low, entry_of(page.mfn, kKernelRO)};
    XPV_EXPECT_EQ(
        xpv::guest::hypercall(__HYPERVISOR_mmu_update, address_of(&request), 1, 0, DOMID_SELF),
        -XEN_ENOSYS);
  }
  XPV_EXPECT_EQ(scratch().entry(slot), 0);
  XPV_EXPECT_EQ(pt_update(mm_attack::hypervisor_frame(257), 0, 0), -XEN_EINVAL);
  XPV_EXPECT_EQ(pt_update(mm_attack::end_of_ram_mfn(), 0, 0), -XEN_EINVAL);
}

// A domU acts on its own memory only: get_pg_owner finds no such domain
// (-ESRCH), and the reservation commands do nothing (0 extents).
XPV_TEST(ForeignDomainArgumentsAreRefused) {
  Page page = spare_page();
  unsigned slot = scratch().fresh_slot();
  XPV_EXPECT_EQ(pt_update(scratch().mfn(), slot, entry_of(page.mfn, kKernelRO),
                          MMU_NORMAL_PT_UPDATE, kOtherDomain),
                -XEN_ESRCH);
  XPV_EXPECT_EQ(scratch().entry(slot), 0);
  XPV_EXPECT_EQ(mmuext(MMUEXT_TLB_FLUSH_LOCAL, 0, 0, kOtherDomain), -XEN_ESRCH);
  XPV_EXPECT_EQ(current_reservation(kOtherDomain), -XEN_ESRCH);
  XPV_EXPECT_EQ(maximum_reservation(kOtherDomain), -XEN_ESRCH);
  long before = current_reservation();
  xen_pfn_t frame = page.mfn;
  XPV_EXPECT_EQ(reservation(XENMEM_decrease_reservation, &frame, 1, 0, kOtherDomain), 0);
  XPV_EXPECT_EQ(reservation(XENMEM_increase_reservation, &frame, 1, 0, kOtherDomain), 0);
  XPV_EXPECT_EQ(current_reservation(), before);
  XPV_EXPECT(page.va[0] == 0);  // still mapped, still the guest's
}

// assign_pages refuses to take a domain past max_pages: populate and
// increase do 0 extents, and the count stays.
XPV_TEST(GrowingPastTheMaximumDoesNothing) {
  long before = current_reservation();
  XPV_ASSERT_EQ(before, maximum_reservation());
  xen_pfn_t frames[4] = {0x7000, 0x7001, 0x7002, 0x7003};
  XPV_EXPECT_EQ(reservation(XENMEM_populate_physmap, frames, 4), 0);
  XPV_EXPECT_EQ(frames[0], 0x7000);
  XPV_EXPECT_EQ(reservation(XENMEM_increase_reservation, frames, 4), 0);
  XPV_EXPECT_EQ(reservation(XENMEM_increase_reservation, nullptr, 1), 0);
  XPV_EXPECT_EQ(current_reservation(), before);
  // One frame given back lets exactly one come in.
  Page page = spare_page();
  XPV_ASSERT_EQ(balloon_out(page), 1);
  XPV_EXPECT_EQ(reservation(XENMEM_increase_reservation, nullptr, 2), 1);
  XPV_EXPECT_EQ(current_reservation(), before);
}

// Giving back what is not the guest's: guest_remove_page fails (-EINVAL
// for no RAM, -ENXIO for a frame not owned) and the list stops there.
XPV_TEST(GivingBackFramesNotOwnedDoesNothing) {
  long before = current_reservation();
  xen_pfn_t frames[] = {mm_attack::end_of_ram_mfn(), mm_attack::hypervisor_frame(257), 0};
  for (xen_pfn_t& f : frames)
    XPV_EXPECT_EQ(reservation(XENMEM_decrease_reservation, &f, 1), 0);
  XPV_EXPECT_EQ(current_reservation(), before);
  // Twice the same frame: the second is no longer the domain's.
  Page page = spare_page();
  XPV_ASSERT_EQ(update_va_mapping(address_of(page.va), 0), 0);
  xen_pfn_t twice[] = {page.mfn, page.mfn};
  XPV_EXPECT_EQ(reservation(XENMEM_decrease_reservation, twice, 2), 1);
  XPV_EXPECT_EQ(current_reservation(), before - 1);
  p2m()[page.pfn] = kInvalidM2p;
  XPV_EXPECT_EQ(balloon_in(page), 1);
}

// Extents larger than a domU may ask for (order 9), address limits that
// fit no frame, and populate-on-demand: nothing done.
XPV_TEST(BadReservationParametersDoNothing) {
  Page page = spare_page();
  XPV_ASSERT_EQ(update_va_mapping(address_of(page.va), 0), 0);
  long before = current_reservation();
  xen_memory_reservation_t r{};
  xen_pfn_t frame = page.mfn;
  set_xen_guest_handle(r.extent_start, &frame);
  r.nr_extents = 1;
  r.domid = DOMID_SELF;
  r.extent_order = 10;
  XPV_EXPECT_EQ(
      xpv::guest::hypercall(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, address_of(&r)),
      0);
  r.extent_order = 0;
  r.mem_flags = XENMEMF_address_bits(12);
  XPV_EXPECT_EQ(
      xpv::guest::hypercall(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, address_of(&r)),
      0);
  XPV_EXPECT_EQ(current_reservation(), before);
  r.mem_flags = 0;
  XPV_ASSERT_EQ(
      xpv::guest::hypercall(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, address_of(&r)),
      1);
  frame = page.pfn;
  r.mem_flags = XENMEMF_populate_on_demand;
  XPV_EXPECT_EQ(
      xpv::guest::hypercall(__HYPERVISOR_memory_op, XENMEM_populate_physmap, address_of(&r)), 0);
  XPV_EXPECT_EQ(current_reservation(), before - 1);
  p2m()[page.pfn] = kInvalidM2p;
  XPV_EXPECT_EQ(balloon_in(page), 1);
}

// A list of extents in the hypervisor's addresses or outside the
// canonical range fails guest_handle_subrange_okay before anything is
// done: no frame is allocated that the guest would never learn of.
XPV_TEST(AnExtentListOutsideTheGuestsAddressesDoesNothing) {
  Page page = spare_page();
  XPV_ASSERT_EQ(balloon_out(page), 1);
  long before = current_reservation();
  auto* in_m2p = reinterpret_cast<xen_pfn_t*>(machphys_mapping().v_start);
  auto* in_hole = reinterpret_cast<xen_pfn_t*>(l4_slot_va(256));
  auto* non_canonical = reinterpret_cast<xen_pfn_t*>(0x0000800000000000ULL);
  for (xen_pfn_t* list : {in_m2p, in_hole, non_canonical}) {
    XPV_EXPECT_EQ(reservation(XENMEM_increase_reservation, list, 1), 0);
    XPV_EXPECT_EQ(reservation(XENMEM_populate_physmap, list, 1), 0);
    XPV_EXPECT_EQ(reservation(XENMEM_decrease_reservation, list, 1), 0);
  }
  // A list running from the last canonical page into the gap.
  auto* straddling = reinterpret_cast<xen_pfn_t*>(0x00007ffffffffff8ULL);
  XPV_EXPECT_EQ(reservation(XENMEM_increase_reservation, straddling, 2), 0);
  XPV_EXPECT_EQ(current_reservation(), before);
  XPV_EXPECT_EQ(m2p(page.mfn), kInvalidM2p);
  XPV_EXPECT_EQ(balloon_in(page), 1);
}

// XSA-252: giving back a pinned table does not unpin it. The table stays
// the domain's, pinned and in force, until the guest unpins it; it is
// never handed out while it is a table.
XPV_TEST(GivingBackAPinnedTableInUseKeepsItATable) {
  long before = current_reservation();
  Page table = spare_page();
  Page data = spare_page();
  data.va[0] = 0x6a6a;
  table.va[3] = entry_of(data.mfn, kKernelRO);
  XPV_ASSERT_EQ(make_read_only(table), 0);
  XPV_ASSERT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, table.mfn), 0);
  xen_pfn_t mfn = table.mfn;
  XPV_EXPECT_EQ(reservation(XENMEM_decrease_reservation, &mfn, 1), 1);
  XPV_EXPECT_EQ(current_reservation(), before);
  // Still a pinned L1 of this domain: mappable read-only, never writable.
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, table.mfn), -XEN_EINVAL);
  XPV_EXPECT_EQ(make_writable(table), -XEN_EBUSY);
  XPV_EXPECT_EQ(table.va[3] & kAddressMask, data.mfn << 12);
  // Nothing can be allocated: the frame is not free.
  XPV_EXPECT_EQ(reservation(XENMEM_increase_reservation, nullptr, 1), 0);
  // Unpinned and unmapped, it leaves.
  XPV_EXPECT_EQ(mmuext(MMUEXT_UNPIN_TABLE, table.mfn), 0);
  XPV_EXPECT_EQ(current_reservation(), before);  // the kernel still maps it
  XPV_EXPECT_EQ(update_va_mapping(address_of(table.va), 0), 0);
  XPV_EXPECT_EQ(current_reservation(), before - 1);
  p2m()[table.pfn] = kInvalidM2p;
  XPV_EXPECT_EQ(balloon_in(table), 1);
}

}  // namespace

namespace {

using namespace mm;

// The console ring is mapped by its backend for the domain's life (a
// foreign writable mapping in Xen): given back, it stays the domain's
// while the backend holds it, so the backend never writes a freed frame,
// and it can never become a page table.
XPV_TEST(GivingBackARingPageLeavesItWithItsBackend) {
  uint64_t ring = xpv::guest::start_info_page().console.domU.mfn;
  uint64_t va = address_of(kernel_va_of_mfn(ring));
  long before = current_reservation();
  XPV_ASSERT_EQ(update_va_mapping(va, 0), 0);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, ring), -XEN_EINVAL);
  xen_pfn_t frame = ring;
  XPV_EXPECT_EQ(reservation(XENMEM_decrease_reservation, &frame, 1), 1);
  XPV_EXPECT_EQ(current_reservation(), before);
  XPV_EXPECT_EQ(reservation(XENMEM_increase_reservation, nullptr, 1), 0);
  // Still the domain's while referenced: it maps it back.
  XPV_EXPECT_EQ(update_va_mapping(va, entry_of(ring, kKernelRW)), 0);
}

}  // namespace
