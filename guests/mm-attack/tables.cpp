// Attacks on page tables themselves: the hypervisor's L4 slots, linear
// mappings with write access, tables of the wrong level, superpages,
// pinning and unpinning, and roots that are not L4s. Xen refuses each in
// xen/arch/x86/mm.c with -EINVAL: mod_l4_entry ("Illegal L4 update attempt
// in Xen-private area"), get_lN_linear_pagetable (no write permission, no
// chains: XSA-240), get_page_and_type_from_mfn (wrong type or owner), the
// L2/L3 disallow masks (PSE), do_mmuext_op ("already pinned", "not
// pinned") and new_guest_cr3 ("Error while installing new baseptr").
#include <initializer_list>

#include "mm-attack/attack.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace mm;

// An L1 entry mapping `mfn` writable is refused (-EBUSY) and not written.
void expect_no_writable_mapping(uint64_t mfn) {
  unsigned slot = mm_attack::scratch().fresh_slot();
  XPV_EXPECT_EQ(pt_update(mm_attack::scratch().mfn(), slot, entry_of(mfn, kKernelRW)), -XEN_EBUSY);
  XPV_EXPECT_EQ(mm_attack::scratch().entry(slot), 0);
}

// A page made a table of `level` and pinned; its kernel mapping read-only.
Page pinned_table(unsigned level) {
  Page page = spare_page();
  if (make_read_only(page) != 0) xpv::guest::panic("read-only table");
  if (mmuext(MMUEXT_PIN_L1_TABLE + level - 1, page.mfn) != 0) xpv::guest::panic("pin L%u", level);
  return page;
}

XPV_TEST(WritingTheHypervisorSlotsOfAnL4IsInvalid) {
  uint64_t l4 = kernel_l4_mfn();
  const uint64_t* entries = kernel_va_of_mfn(l4);
  Page l3 = pinned_table(3);
  for (unsigned slot : {256u, 257u, 258u, 264u, 271u}) {
    uint64_t before = entries[slot];
    XPV_EXPECT_EQ(pt_update(l4, slot, entry_of(l3.mfn, kTableEntry)), -XEN_EINVAL);
    XPV_EXPECT_EQ(pt_update(l4, slot, 0), -XEN_EINVAL);
    XPV_EXPECT_EQ(entries[slot], before);
  }
}

// A guest slot of the L4 cannot point at the monitor's or the M2P's tables.
XPV_TEST(PointingAGuestL4SlotAtTheHypervisorsTablesIsInvalid) {
  uint64_t l4 = kernel_l4_mfn();
  for (unsigned hypervisor_slot : {257u, 258u}) {
    uint64_t table = mm_attack::hypervisor_frame(hypervisor_slot);
    XPV_EXPECT_EQ(pt_update(l4, 5, entry_of(table, kTableEntry)), -XEN_EINVAL);
    XPV_EXPECT_EQ(pt_update(l4, 5, entry_of(table, kPresent | kUser)), -XEN_EINVAL);
    XPV_EXPECT_EQ(kernel_va_of_mfn(l4)[5], 0);
  }
}

XPV_TEST(WritableSelfReferenceOfAnL4IsInvalid) {
  uint64_t l4 = kernel_l4_mfn();
  XPV_EXPECT_EQ(pt_update(l4, 6, entry_of(l4, kPresent | kWritable)), -XEN_EINVAL);
  XPV_EXPECT_EQ(kernel_va_of_mfn(l4)[6], 0);
  // An L4 whose own entry would do it cannot even be pinned.
  Page fake = spare_page();
  fake.va[6] = entry_of(fake.mfn, kPresent | kWritable);
  XPV_ASSERT_EQ(make_read_only(fake), 0);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L4_TABLE, fake.mfn), -XEN_EINVAL);
  XPV_EXPECT_EQ(make_writable(fake), 0);  // still an ordinary frame
}

// Linear mappings of other tables of the same level: read-only only, and
// no chains (a table holding one may not itself be mapped so).
XPV_TEST(LinearL2MappingsWithWriteOrChainsAreInvalid) {
  Page a = pinned_table(2), b = pinned_table(2), c = pinned_table(2);
  XPV_EXPECT_EQ(pt_update(b.mfn, 0, entry_of(a.mfn, kPresent | kWritable)), -XEN_EINVAL);
  XPV_ASSERT_EQ(pt_update(b.mfn, 0, entry_of(a.mfn, kPresent)), 0);            // Xen allows this
  XPV_EXPECT_EQ(pt_update(c.mfn, 0, entry_of(b.mfn, kPresent)), -XEN_EINVAL);  // chain
  XPV_EXPECT_EQ(pt_update(a.mfn, 0, entry_of(c.mfn, kPresent)), -XEN_EINVAL);  // chain
  XPV_EXPECT_EQ(c.va[0], 0);
  XPV_EXPECT_EQ(a.va[0], 0);
  XPV_EXPECT_EQ(pt_update(b.mfn, 0, 0), 0);
}

// A frame has one type at a time: an L1 is not an L2, an L2 is not an L1.
XPV_TEST(PinningATableAsAnotherLevelIsInvalid) {
  Page l1 = pinned_table(1), l2 = pinned_table(2);
  for (unsigned level = 2; level <= 4; ++level)
    XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE + level - 1, l1.mfn), -XEN_EINVAL);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, l2.mfn), -XEN_EINVAL);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L4_TABLE, l2.mfn), -XEN_EINVAL);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, l1.mfn), -XEN_EINVAL);  // already pinned
}

// An entry must point at a table of the level below.
XPV_TEST(UsingATableAtTheWrongLevelIsInvalid) {
  Page l1 = pinned_table(1), l2 = pinned_table(2), l3 = pinned_table(3);
  XPV_EXPECT_EQ(pt_update(l3.mfn, 0, entry_of(l1.mfn, kTableEntry)), -XEN_EINVAL);  // L1 as L2
  XPV_EXPECT_EQ(pt_update(l2.mfn, 0, entry_of(l3.mfn, kTableEntry)), -XEN_EINVAL);  // L3 as L1
  XPV_EXPECT_EQ(pt_update(kernel_l4_mfn(), 7, entry_of(l2.mfn, kTableEntry)), -XEN_EINVAL);
  XPV_EXPECT_EQ(l3.va[0], 0);
  XPV_EXPECT_EQ(l2.va[0], 0);
  // And a data page mapped writable is no table at all.
  Page data = spare_page();
  XPV_EXPECT_EQ(pt_update(l2.mfn, 1, entry_of(data.mfn, kTableEntry)), -XEN_EINVAL);
}

// PV guests get no superpages: PSE is in Xen's L2 and L3 disallow masks.
XPV_TEST(SuperpageEntriesAreInvalid) {
  Page l2 = pinned_table(2), l3 = pinned_table(3);
  Page data = spare_page();
  XPV_EXPECT_EQ(pt_update(l2.mfn, 0, entry_of(data.mfn, kTableEntry | kPse)), -XEN_EINVAL);
  XPV_EXPECT_EQ(pt_update(l3.mfn, 0, entry_of(data.mfn, kTableEntry | kPse)), -XEN_EINVAL);
  // A 2 MiB superpage over frame 0 of RAM would map the kernel writable.
  XPV_EXPECT_EQ(pt_update(l2.mfn, 1, entry_of(kernel_l4_mfn() & ~511ULL, kTableEntry | kPse)),
                -XEN_EINVAL);
  XPV_EXPECT_EQ(l2.va[0], 0);
  XPV_EXPECT_EQ(l3.va[0], 0);
}

// Unpinning the L4 in use is allowed and changes nothing: the root still
// holds its type. Unpinning what is not pinned is refused.
XPV_TEST(UnpinningATableInUseLeavesItATable) {
  uint64_t l4 = kernel_l4_mfn();
  XPV_ASSERT_EQ(mmuext(MMUEXT_UNPIN_TABLE, l4), 0);
  XPV_EXPECT_EQ(update_va_mapping(xpv::guest::start_info_page().pt_base, entry_of(l4, kKernelRW)),
                -XEN_EBUSY);
  XPV_EXPECT_EQ(mmuext(MMUEXT_UNPIN_TABLE, l4), -XEN_EINVAL);  // not pinned now
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L4_TABLE, l4), 0);
  // The scratch L1 is in use by the kernel's L2: unpinned it stays an L1.
  XPV_ASSERT_EQ(mmuext(MMUEXT_UNPIN_TABLE, mm_attack::scratch().mfn()), 0);
  XPV_EXPECT_EQ(make_writable(mm_attack::scratch().page()), -XEN_EBUSY);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, mm_attack::scratch().mfn()), 0);
  Page plain = spare_page();
  XPV_EXPECT_EQ(mmuext(MMUEXT_UNPIN_TABLE, plain.mfn), -XEN_EINVAL);
  XPV_EXPECT_EQ(mmuext(MMUEXT_UNPIN_TABLE, mm_attack::end_of_ram_mfn()), -XEN_EINVAL);
}

XPV_TEST(NewBaseptrToAFrameThatIsNoL4IsInvalid) {
  Page l1 = pinned_table(1), l3 = pinned_table(3), data = spare_page();
  for (uint64_t mfn :
       {l1.mfn, l3.mfn, data.mfn, mm_attack::hypervisor_frame(257), mm_attack::end_of_ram_mfn()}) {
    XPV_EXPECT_EQ(mmuext(MMUEXT_NEW_BASEPTR, mfn), -XEN_EINVAL);
    XPV_EXPECT_EQ(mmuext(MMUEXT_NEW_USER_BASEPTR, mfn), -XEN_EINVAL);
  }
  // Still running on the kernel's L4: its mapping of this page works.
  XPV_EXPECT_EQ(data.va[0], 0);
}

// CLEAR_PAGE, COPY_PAGE and update_descriptor write only frames the guest
// could write itself ("Error clearing mfn", do_update_descriptor).
XPV_TEST(HypercallsThatWriteFramesCannotWriteATable) {
  Page l1 = pinned_table(1), data = spare_page();
  data.va[0] = entry_of(data.mfn, kKernelRW);
  uint64_t l4 = kernel_l4_mfn();
  uint64_t l4_slot_511 = kernel_va_of_mfn(l4)[511];
  XPV_EXPECT_EQ(mmuext(MMUEXT_CLEAR_PAGE, l4), -XEN_EINVAL);
  XPV_EXPECT_EQ(mmuext(MMUEXT_COPY_PAGE, l1.mfn, data.mfn), -XEN_EINVAL);
  XPV_EXPECT_EQ(mmuext(MMUEXT_COPY_PAGE, data.mfn, mm_attack::hypervisor_frame(257)), -XEN_EINVAL);
  XPV_EXPECT_EQ(xpv::guest::hypercall(__HYPERVISOR_update_descriptor, l1.mfn << 12, 0),
                -XEN_EINVAL);
  XPV_EXPECT_EQ(kernel_va_of_mfn(l4)[511], l4_slot_511);
  XPV_EXPECT_EQ(l1.va[0], 0);
}

// A GDT frame is a segment-descriptor page (set_gdt, Xen's
// pv/descriptor-tables.c): never while mapped writable, never writable
// while in use, and written only through update_descriptor, which refuses
// system descriptors (check_descriptor) such as a TSS or an LDT.
XPV_TEST(GdtFramesAreNeverWritableAndHoldNoSystemDescriptors) {
  Page gdt = spare_page();
  uint64_t frames[1] = {gdt.mfn};
  auto set_gdt = [&](unsigned entries) {
    return xpv::guest::hypercall(__HYPERVISOR_set_gdt, address_of(frames), entries);
  };
  XPV_EXPECT_EQ(set_gdt(16), -XEN_EINVAL);  // still mapped writable
  XPV_ASSERT_EQ(make_read_only(gdt), 0);
  XPV_ASSERT_EQ(set_gdt(16), 0);
  XPV_EXPECT_EQ(make_writable(gdt), -XEN_EBUSY);
  expect_no_writable_mapping(gdt.mfn);
  constexpr uint64_t kTss64 = (1ULL << 47) | (9ULL << 40) | 0x67;  // present, type 9
  constexpr uint64_t kLdt = (1ULL << 47) | (2ULL << 40) | 0xfff;
  for (uint64_t system : {kTss64, kLdt}) {
    XPV_EXPECT_EQ(
        xpv::guest::hypercall(__HYPERVISOR_update_descriptor, (gdt.mfn << 12) + 8, system),
        -XEN_EINVAL);
  }
  XPV_EXPECT_EQ(gdt.va[1], 0);
  XPV_EXPECT_EQ(pt_update(gdt.mfn, 1, 0x1234), -XEN_EINVAL);  // no plain write either
  XPV_EXPECT_EQ(set_gdt(0), 0);
  XPV_EXPECT_EQ(make_writable(gdt), 0);
}

}  // namespace
