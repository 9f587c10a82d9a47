// Ballooning (xen/memory.h, xen/common/memory.c): frames given back with
// XENMEM_decrease_reservation leave the domain, and populate_physmap or
// increase_reservation bring frames back, scrubbed, within the maximum.
#include "mm-selftest/selftest.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace mm;
using mm_selftest::pattern;

bool all_zero(const uint64_t* page) {
  for (unsigned i = 0; i < 512; ++i)
    if (page[i] != 0) return false;
  return true;
}

XPV_TEST(ReservationStartsAtTheMaximum) {
  long current = current_reservation();
  XPV_EXPECT(current > 0);
  XPV_EXPECT_EQ(current, maximum_reservation());
  XPV_EXPECT_EQ(current, static_cast<long>(xpv::guest::start_info_page().nr_pages));
}

XPV_TEST(AFrameBalloonsOutAndBackIn) {
  long before = current_reservation();
  Page page = spare_page();
  page.va[0] = pattern(40);
  uint64_t old_mfn = page.mfn;
  XPV_ASSERT_EQ(balloon_out(page), 1);
  XPV_EXPECT_EQ(current_reservation(), before - 1);
  XPV_EXPECT_EQ(m2p(old_mfn), kInvalidM2p);

  XPV_ASSERT_EQ(balloon_in(page), 1);
  XPV_EXPECT_EQ(current_reservation(), before);
  XPV_EXPECT_EQ(m2p(page.mfn), page.pfn);
  XPV_EXPECT(all_zero(page.va));  // scrubbed, whichever frame it is
  page.va[0] = pattern(41);
  XPV_EXPECT_EQ(page.va[0], pattern(41));
}

// increase_reservation returns machine frames; the guest enters them in
// the M2P itself.
XPV_TEST(IncreaseReservationHandsOutFramesTheGuestCanUse) {
  long before = current_reservation();
  Page a = spare_page(), b = spare_page();
  XPV_ASSERT_EQ(balloon_out(a), 1);
  XPV_ASSERT_EQ(balloon_out(b), 1);
  XPV_EXPECT_EQ(current_reservation(), before - 2);
  xen_pfn_t frames[2] = {};
  XPV_ASSERT_EQ(reservation(XENMEM_increase_reservation, frames, 2), 2);
  XPV_EXPECT_EQ(current_reservation(), before);
  Page* pages[] = {&a, &b};
  for (unsigned i = 0; i < 2; ++i) {
    pages[i]->mfn = frames[i];
    p2m()[pages[i]->pfn] = frames[i];
    XPV_EXPECT_EQ(machphys_update(frames[i], pages[i]->pfn), 0);
    XPV_ASSERT_EQ(make_writable(*pages[i]), 0);
    XPV_EXPECT(all_zero(pages[i]->va));
  }
}

// A pinned table given back stays the domain's while pinned (XSA-252: no
// implicit unpin) and leaves once unpinned.
XPV_TEST(APinnedTableGivenBackLeavesWhenUnpinned) {
  long before = current_reservation();
  Page table = spare_page();
  XPV_ASSERT_EQ(make_read_only(table), 0);
  XPV_ASSERT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, table.mfn), 0);
  XPV_ASSERT_EQ(update_va_mapping(address_of(table.va), 0), 0);
  xen_pfn_t mfn = table.mfn;
  XPV_EXPECT_EQ(reservation(XENMEM_decrease_reservation, &mfn, 1), 1);
  XPV_EXPECT_EQ(current_reservation(), before);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, table.mfn), -XEN_EINVAL);  // still pinned
  XPV_EXPECT_EQ(mmuext(MMUEXT_UNPIN_TABLE, table.mfn), 0);
  XPV_EXPECT_EQ(current_reservation(), before - 1);
  p2m()[table.pfn] = kInvalidM2p;
  XPV_EXPECT_EQ(balloon_in(table), 1);
  XPV_EXPECT_EQ(current_reservation(), before);
}

// A long list is done in passes; the count covers them all. The frames
// are the top of the domain's RAM, which nothing maps.
XPV_TEST(ALongReservationListIsContinued) {
  constexpr unsigned kFrames = 300;
  static xen_pfn_t frames[kFrames];
  long before = current_reservation();
  uint64_t top_pfn = xpv::guest::start_info_page().nr_pages - 1;
  for (unsigned i = 0; i < kFrames; ++i)
    frames[i] = p2m()[top_pfn - i];
  XPV_ASSERT_EQ(reservation(XENMEM_decrease_reservation, frames, kFrames), kFrames);
  XPV_EXPECT_EQ(current_reservation(), before - kFrames);
  for (unsigned i = 0; i < kFrames; ++i) {
    p2m()[top_pfn - i] = kInvalidM2p;
    frames[i] = top_pfn - i;
  }
  XPV_ASSERT_EQ(reservation(XENMEM_populate_physmap, frames, kFrames), kFrames);
  XPV_EXPECT_EQ(current_reservation(), before);
  unsigned wrong = 0;
  for (unsigned i = 0; i < kFrames; ++i) {
    p2m()[top_pfn - i] = frames[i];
    if (m2p(frames[i]) != top_pfn - i) ++wrong;
  }
  XPV_EXPECT_EQ(wrong, 0);
}

}  // namespace
