// Single updates and batches: update_va_mapping with its UVMF flags,
// mmu_update's three commands, mmuext_op's page operations, and batches
// long enough to be continued (xen.h MMU_*, UVMF_*, MMUEXT_*).
#include "mm-selftest/selftest.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/test.hpp"

namespace {

using namespace mm;
using mm_selftest::pattern;
using mm_selftest::scratch;

uint64_t read_qword(uint64_t va) {
  return *reinterpret_cast<const volatile uint64_t*>(va);
}

// Every flush type and both scopes a PV kernel passes.
XPV_TEST(UpdateVaMappingMapsWithEveryFlushFlag) {
  const uint64_t flags[] = {UVMF_NONE, UVMF_INVLPG | UVMF_LOCAL, UVMF_TLB_FLUSH | UVMF_LOCAL,
                            UVMF_INVLPG | UVMF_ALL, UVMF_TLB_FLUSH | UVMF_ALL};
  uint64_t n = 10;
  for (uint64_t flag : flags) {
    Page page = spare_page();
    page.va[0] = pattern(n);
    unsigned slot = scratch().fresh_slot();
    XPV_ASSERT_EQ(update_va_mapping(scratch().va(slot), entry_of(page.mfn, kKernelRW), flag), 0);
    XPV_EXPECT_EQ(frame_of(scratch().entry(slot)), page.mfn);
    XPV_EXPECT_EQ(read_qword(scratch().va(slot)), pattern(n));
    ++n;
  }
}

XPV_TEST(UpdateVaMappingUnmaps) {
  Page page = spare_page();
  unsigned slot = scratch().fresh_slot();
  XPV_ASSERT_EQ(update_va_mapping(scratch().va(slot), entry_of(page.mfn, kKernelRO)), 0);
  XPV_EXPECT_EQ(update_va_mapping(scratch().va(slot), 0), 0);
  XPV_EXPECT_EQ(scratch().entry(slot), 0);
}

// MMU_PT_UPDATE_PRESERVE_AD keeps the Accessed/Dirty bits the entry had.
XPV_TEST(PreserveAdKeepsAccessedAndDirty) {
  Page page = spare_page();
  unsigned slot = scratch().fresh_slot();
  XPV_ASSERT_EQ(pt_update(scratch().mfn(), slot, entry_of(page.mfn, kKernelRW)), 0);
  uint64_t without_ad = entry_of(page.mfn, kPresent | kWritable);
  XPV_ASSERT_EQ(pt_update(scratch().mfn(), slot, without_ad, MMU_PT_UPDATE_PRESERVE_AD), 0);
  XPV_EXPECT_EQ(scratch().entry(slot) & (kAccessed | kDirty), kAccessed | kDirty);
  XPV_ASSERT_EQ(pt_update(scratch().mfn(), slot, without_ad), 0);
  XPV_EXPECT_EQ(scratch().entry(slot) & (kAccessed | kDirty), 0);
}

// MMU_PT_UPDATE_NO_TRANSLATE is a normal update for a PV guest, whose
// frame numbers are machine frames already.
XPV_TEST(NoTranslateUpdateIsANormalUpdate) {
  Page page = spare_page();
  unsigned slot = scratch().fresh_slot();
  XPV_ASSERT_EQ(
      pt_update(scratch().mfn(), slot, entry_of(page.mfn, kKernelRO), MMU_PT_UPDATE_NO_TRANSLATE),
      0);
  XPV_EXPECT_EQ(frame_of(scratch().entry(slot)), page.mfn);
  XPV_EXPECT_EQ(pt_update(scratch().mfn(), slot, entry_of(scratch().mfn(), kKernelRW),
                          MMU_PT_UPDATE_NO_TRANSLATE),
                -XEN_EBUSY);
}

// MMU_MACHPHYS_UPDATE writes the M2P, which the guest reads back through
// its read-only mapping.
XPV_TEST(MachphysUpdateSetsTheM2pEntry) {
  Page page = spare_page();
  XPV_ASSERT_EQ(m2p(page.mfn), page.pfn);
  XPV_EXPECT_EQ(machphys_update(page.mfn, 0x12345), 0);
  XPV_EXPECT_EQ(m2p(page.mfn), 0x12345);
  XPV_EXPECT_EQ(machphys_update(page.mfn, page.pfn), 0);
  XPV_EXPECT_EQ(m2p(page.mfn), page.pfn);
}

// More requests than xpv does in one pass: the call is continued, the
// done count spans the passes, and every request takes effect.
XPV_TEST(LongMmuUpdateBatchIsContinuedToTheEnd) {
  constexpr unsigned kPages = 8, kRequests = 2504;  // a multiple of kPages
  static mmu_update_t requests[kRequests];
  Page pages[kPages];
  for (Page& p : pages)
    p = spare_page();
  for (unsigned i = 0; i < kRequests; ++i)
    requests[i] = {(pages[i % kPages].mfn << 12) | MMU_MACHPHYS_UPDATE, 0x40000 + i};
  unsigned done = 0;
  XPV_EXPECT_EQ(mmu_update_batch(requests, kRequests, &done), 0);
  XPV_EXPECT_EQ(done, kRequests);
  for (unsigned i = 0; i < kPages; ++i) {
    XPV_EXPECT_EQ(m2p(pages[i].mfn), 0x40000 + kRequests - kPages + i);
    XPV_EXPECT_EQ(machphys_update(pages[i].mfn, pages[i].pfn), 0);
  }
}

XPV_TEST(LongMmuextBatchIsContinuedToTheEnd) {
  constexpr unsigned kOps = 700;
  static mmuext_op_t ops[kOps];
  for (mmuext_op_t& op : ops)
    op.cmd = MMUEXT_TLB_FLUSH_LOCAL;
  unsigned done = 0;
  XPV_EXPECT_EQ(mmuext_batch(ops, kOps, &done), 0);
  XPV_EXPECT_EQ(done, kOps);
}

// A page table can be mapped and updated in one batch, the way Linux
// links a new L1: the entries take effect in order.
XPV_TEST(MixedBatchAppliesEveryRequestInOrder) {
  Page a = spare_page(), b = spare_page();
  unsigned slot = scratch().fresh_slot();
  mmu_update_t requests[] = {
      {entry_address(scratch().mfn(), slot), entry_of(a.mfn, kKernelRO)},
      {entry_address(scratch().mfn(), slot), entry_of(b.mfn, kKernelRO)},
      {(a.mfn << 12) | MMU_MACHPHYS_UPDATE, a.pfn},
  };
  unsigned done = 0;
  XPV_EXPECT_EQ(mmu_update_batch(requests, 3, &done), 0);
  XPV_EXPECT_EQ(done, 3);
  XPV_EXPECT_EQ(frame_of(scratch().entry(slot)), b.mfn);
}

XPV_TEST(ClearPageAndCopyPageWriteOrdinaryFrames) {
  Page from = spare_page(), to = spare_page();
  from.va[0] = pattern(30);
  from.va[511] = pattern(31);
  to.va[5] = pattern(32);
  XPV_EXPECT_EQ(mmuext(MMUEXT_COPY_PAGE, to.mfn, from.mfn), 0);
  XPV_EXPECT_EQ(to.va[0], pattern(30));
  XPV_EXPECT_EQ(to.va[511], pattern(31));
  XPV_EXPECT_EQ(to.va[5], 0);
  XPV_EXPECT_EQ(mmuext(MMUEXT_CLEAR_PAGE, to.mfn), 0);
  XPV_EXPECT_EQ(to.va[0], 0);
  XPV_EXPECT_EQ(to.va[511], 0);
}

}  // namespace
