// L1 entries that would give the guest memory that is not its own, or
// write access to its own page tables. Xen's get_page_from_l1e refuses a
// frame of another owner or of a type that forbids writing with -EBUSY
// (could_not_pin), a frame that is no memory with -EPERM (the MMIO check),
// and flags a domU may not use with -EINVAL (mod_l1_entry's
// l1_disallow_mask).
#include <initializer_list>

#include "mm-attack/attack.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace mm;
using mm_attack::scratch;

// Tries `entry` in a fresh slot of the scratch L1 by mmu_update and by
// update_va_mapping; both must fail with `error` and leave the slot empty.
void expect_refused(uint64_t entry, long error) {
  unsigned slot = scratch().fresh_slot();
  XPV_EXPECT_EQ(pt_update(scratch().mfn(), slot, entry), error);
  XPV_EXPECT_EQ(scratch().entry(slot), 0);
  XPV_EXPECT_EQ(update_va_mapping(scratch().va(slot), entry), error);
  XPV_EXPECT_EQ(scratch().entry(slot), 0);
}

XPV_TEST(MappingItsOwnL1WritableIsBusy) {
  expect_refused(entry_of(scratch().mfn(), kKernelRW), -XEN_EBUSY);
  // Nor may its read-only kernel mapping become writable.
  XPV_EXPECT_EQ(make_writable(scratch().page()), -XEN_EBUSY);
}

XPV_TEST(MappingTheKernelPageTablesWritableIsBusy) {
  for (uint64_t table : {kernel_l4_mfn(), kernel_l3_mfn(), kernel_l2_mfn()})
    expect_refused(entry_of(table, kKernelRW), -XEN_EBUSY);
  // Their read-only mappings stay read-only.
  XPV_EXPECT_EQ(update_va_mapping(xpv::guest::start_info_page().pt_base,
                                  entry_of(kernel_l4_mfn(), kKernelRW)),
                -XEN_EBUSY);
}

XPV_TEST(MappingAFrameBeyondItsRamIsNotPermitted) {
  uint64_t beyond = mm_attack::end_of_ram_mfn();
  expect_refused(entry_of(beyond, kKernelRO), -XEN_EPERM);
  expect_refused(entry_of(beyond + 0x100000, kKernelRW), -XEN_EPERM);
  expect_refused(entry_of(kAddressMask >> 12, kKernelRO), -XEN_EPERM);
}

// The frames behind the hypervisor's L4 slots exist but are Xen's.
XPV_TEST(MappingTheMonitorIsBusy) {
  uint64_t monitor = mm_attack::hypervisor_frame(257);
  XPV_ASSERT(monitor != 0);
  expect_refused(entry_of(monitor, kKernelRO), -XEN_EBUSY);
  expect_refused(entry_of(monitor, kKernelRW), -XEN_EBUSY);
}

XPV_TEST(MappingTheM2pTablesIsBusy) {
  uint64_t m2p_table = mm_attack::hypervisor_frame(258);
  XPV_ASSERT(m2p_table != 0);
  expect_refused(entry_of(m2p_table, kKernelRW), -XEN_EBUSY);
  expect_refused(entry_of(m2p_table, kKernelRO), -XEN_EBUSY);
}

XPV_TEST(CachingAttributesAreRefused) {
  Page page = spare_page();
  for (uint64_t bit : {kPcd, kPwt, kPat, kPcd | kPwt})
    expect_refused(entry_of(page.mfn, kKernelRW | bit), -XEN_EINVAL);
}

// Ballooned out, a frame is nobody's until handed out again.
XPV_TEST(MappingABalloonedOutFrameIsBusy) {
  Page page = spare_page();
  uint64_t gone = page.mfn;
  long before = current_reservation();
  XPV_ASSERT_EQ(balloon_out(page), 1);
  expect_refused(entry_of(gone, kKernelRO), -XEN_EBUSY);
  expect_refused(entry_of(gone, kKernelRW), -XEN_EBUSY);
  XPV_EXPECT_EQ(update_va_mapping(mm::address_of(page.va), entry_of(gone, kKernelRW)), -XEN_EBUSY);
  XPV_EXPECT_EQ(current_reservation(), before - 1);
  XPV_EXPECT_EQ(balloon_in(page), 1);
}

// Through a read-only self-reference of the L4, an address's "L1" can be
// the L4 itself: update_va_mapping must not write an upper table with an
// L1 entry's rules (Xen's mod_l1_entry path checks PGT_l1_page_table).
XPV_TEST(UpdateVaMappingThroughALinearMappingCannotWriteAnUpperTable) {
  constexpr unsigned kSelf = 9, kTarget = 10;
  uint64_t l4 = kernel_l4_mfn();
  XPV_ASSERT_EQ(pt_update(l4, kSelf, entry_of(l4, kPresent)), 0);
  uint64_t va = l4_slot_va(kSelf) | (uint64_t{kSelf} << 30) | (uint64_t{kSelf} << 21) |
                (uint64_t{kTarget} << 12);
  Page page = spare_page();
  XPV_EXPECT_EQ(update_va_mapping(va, entry_of(page.mfn, kKernelRW)), -XEN_EINVAL);
  XPV_EXPECT_EQ(update_va_mapping(va, entry_of(l4, kKernelRW)), -XEN_EINVAL);
  XPV_EXPECT_EQ(kernel_va_of_mfn(l4)[kTarget], 0);
  XPV_EXPECT_EQ(pt_update(l4, kSelf, 0), 0);
}

// update_va_mapping finds the L1 through the guest's tables: an address in
// the hypervisor's slots or outside the canonical range has none.
XPV_TEST(UpdateVaMappingOutsideTheGuestsAddressesIsInvalid) {
  Page page = spare_page();
  const uint64_t addresses[] = {l4_slot_va(256),       l4_slot_va(257),
                                l4_slot_va(258),       l4_slot_va(271) + 0x1000,
                                0x0000800000000000ULL, 0x8000000000000000ULL};
  for (uint64_t va : addresses)
    XPV_EXPECT_EQ(update_va_mapping(va, entry_of(page.mfn, kKernelRW)), -XEN_EINVAL);
  // An address the guest never mapped has no L1 either.
  XPV_EXPECT_EQ(update_va_mapping(0x1000, entry_of(page.mfn, kKernelRW)), -XEN_EINVAL);
}

}  // namespace
