// Whole address spaces: an L4 -> L3 -> L2 -> L1 tree built from free
// frames, pinned, switched to with MMUEXT_NEW_BASEPTR and back, then
// unpinned, torn down and its frames used as ordinary memory again
// (Xen's do_mmuext_op, xen/arch/x86/mm.c).
#include <initializer_list>

#include "mm-selftest/selftest.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

namespace {

using namespace mm;

// The user half slot and indices the new space maps its data page at:
// nothing else in this guest maps that half.
constexpr unsigned kL4Slot = 1, kL3Slot = 2, kL2Slot = 3, kL1Slot = 4;
constexpr uint64_t kDataVa = (uint64_t{kL4Slot} << 39) | (uint64_t{kL3Slot} << 30) |
                             (uint64_t{kL2Slot} << 21) | (uint64_t{kL1Slot} << 12);

struct AddressSpace {
  Page l4, l3, l2, l1, data;
};

uint64_t read_qword(uint64_t va) {
  return *reinterpret_cast<const volatile uint64_t*>(va);
}

// The tree, written while its pages are still ordinary writable memory,
// then made read-only as Xen requires before a frame becomes a table.
// L4[511] shares the kernel's L3, so the kernel stays mapped after the
// switch.
AddressSpace build(uint64_t data_value) {
  AddressSpace s{spare_page(), spare_page(), spare_page(), spare_page(), spare_page()};
  s.data.va[0] = data_value;
  s.l4.va[kL4Slot] = entry_of(s.l3.mfn, kTableEntry);
  s.l4.va[511] = entry_of(kernel_l3_mfn(), kTableEntry);
  s.l3.va[kL3Slot] = entry_of(s.l2.mfn, kTableEntry);
  s.l2.va[kL2Slot] = entry_of(s.l1.mfn, kTableEntry);
  s.l1.va[kL1Slot] = entry_of(s.data.mfn, kKernelRW);
  return s;
}

long make_tables_read_only(const AddressSpace& s) {
  for (const Page* p : {&s.l4, &s.l3, &s.l2, &s.l1})
    if (long rc = make_read_only(*p); rc != 0) return rc;
  return 0;
}

AddressSpace the_space;

XPV_TEST(PinningAnL4ValidatesTheWholeTree) {
  the_space = build(mm_selftest::pattern(1));
  XPV_ASSERT_EQ(make_tables_read_only(the_space), 0);
  XPV_ASSERT_EQ(mmuext(MMUEXT_PIN_L4_TABLE, the_space.l4.mfn), 0);
  // Xen filled in the hypervisor's slots; the guest's entries gained only
  // what validation adds.
  XPV_EXPECT((the_space.l4.va[257] & kPresent) != 0);
  XPV_EXPECT((the_space.l4.va[258] & kPresent) != 0);
  XPV_EXPECT_EQ(frame_of(the_space.l4.va[kL4Slot]), the_space.l3.mfn);
  XPV_EXPECT_EQ(frame_of(the_space.l1.va[kL1Slot]), the_space.data.mfn);
  // Every table is typed now: none may be mapped writable.
  XPV_EXPECT_EQ(make_writable(the_space.l2), -XEN_EBUSY);
  XPV_EXPECT_EQ(make_writable(the_space.l1), -XEN_EBUSY);
}

XPV_TEST(NewBaseptrSwitchesToThePinnedSpaceAndBack) {
  XPV_ASSERT_EQ(mmuext(MMUEXT_NEW_BASEPTR, the_space.l4.mfn), 0);
  // Running here at all proves the kernel is mapped; the data page is
  // reachable only in the new space.
  uint64_t seen = read_qword(kDataVa);
  XPV_EXPECT_EQ(mmuext(MMUEXT_NEW_BASEPTR, kernel_l4_mfn()), 0);
  XPV_EXPECT_EQ(seen, mm_selftest::pattern(1));
}

XPV_TEST(MmuUpdateMapsAndUnmapsInTheNewSpace) {
  Page other = spare_page();
  other.va[0] = mm_selftest::pattern(2);
  XPV_ASSERT_EQ(pt_update(the_space.l1.mfn, kL1Slot + 1, entry_of(other.mfn, kKernelRO)), 0);
  XPV_EXPECT_EQ(frame_of(the_space.l1.va[kL1Slot + 1]), other.mfn);
  XPV_ASSERT_EQ(mmuext(MMUEXT_NEW_BASEPTR, the_space.l4.mfn), 0);
  uint64_t seen = read_qword(kDataVa + 4096);
  XPV_EXPECT_EQ(mmuext(MMUEXT_NEW_BASEPTR, kernel_l4_mfn()), 0);
  XPV_EXPECT_EQ(seen, mm_selftest::pattern(2));
  XPV_EXPECT_EQ(pt_update(the_space.l1.mfn, kL1Slot + 1, 0), 0);
  XPV_EXPECT_EQ(the_space.l1.va[kL1Slot + 1], 0);
}

// A read-only L4 entry that points at the L4 itself is Xen's linear page
// table: the tables become readable at fixed addresses.
XPV_TEST(ReadOnlySelfReferenceGivesALinearMapping) {
  constexpr unsigned kSelf = 3;
  XPV_ASSERT_EQ(pt_update(the_space.l4.mfn, kSelf, entry_of(the_space.l4.mfn, kPresent)), 0);
  uint64_t self = l4_slot_va(kSelf);
  uint64_t l4_through_itself =
      self | (uint64_t{kSelf} << 30) | (uint64_t{kSelf} << 21) | (uint64_t{kSelf} << 12);
  uint64_t l1_of_data =
      self | (uint64_t{kL4Slot} << 30) | (uint64_t{kL3Slot} << 21) | (uint64_t{kL2Slot} << 12);
  XPV_ASSERT_EQ(mmuext(MMUEXT_NEW_BASEPTR, the_space.l4.mfn), 0);
  uint64_t l4_entry = read_qword(l4_through_itself + uint64_t{kL4Slot} * 8);
  uint64_t l1_entry = read_qword(l1_of_data + uint64_t{kL1Slot} * 8);
  XPV_EXPECT_EQ(mmuext(MMUEXT_NEW_BASEPTR, kernel_l4_mfn()), 0);
  XPV_EXPECT_EQ(l4_entry, the_space.l4.va[kL4Slot]);
  XPV_EXPECT_EQ(l1_entry, the_space.l1.va[kL1Slot]);
  XPV_EXPECT_EQ(pt_update(the_space.l4.mfn, kSelf, 0), 0);
}

// Unpinned and no longer a root, the tree loses its types: its frames are
// ordinary memory that the guest may map writable and reuse.
XPV_TEST(UnpinnedTablesBecomeOrdinaryWritableMemory) {
  XPV_ASSERT_EQ(mmuext(MMUEXT_UNPIN_TABLE, the_space.l4.mfn), 0);
  for (Page* p : {&the_space.l4, &the_space.l3, &the_space.l2, &the_space.l1}) {
    XPV_ASSERT_EQ(make_writable(*p), 0);
    p->va[7] = mm_selftest::pattern(7);
    XPV_EXPECT_EQ(p->va[7], mm_selftest::pattern(7));
  }
  // And the same frames can be a tree again, at other levels.
  XPV_ASSERT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, the_space.l4.mfn), -XEN_EINVAL);  // writable now
  // Its old entries would map the kernel's L3 writable as an L1: clear it.
  memset(the_space.l4.va, 0, 4096);
  XPV_ASSERT_EQ(make_read_only(the_space.l4), 0);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, the_space.l4.mfn), 0);
  XPV_EXPECT_EQ(mmuext(MMUEXT_UNPIN_TABLE, the_space.l4.mfn), 0);
  XPV_EXPECT_EQ(make_writable(the_space.l4), 0);
}

}  // namespace
