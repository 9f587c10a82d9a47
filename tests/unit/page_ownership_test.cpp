// Ballooning in PageTypes: which frames the domain owns, how a frame it
// gives back leaves it (at once, or with its last reference, as Xen's
// guest_remove_page), the accounting against its maximum, and reuse of
// freed frames, scrubbed.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "base/x86.hpp"
#include "kvm/memory_region.hpp"
#include "mm/guest_ram.hpp"
#include "mm/page_types.hpp"
#include "monitor/layout.hpp"
#include "xen/abi.hpp"

namespace xpv {
namespace {

namespace pte = x86::pte;
using mm::Ownership;

constexpr uint64_t kBaseMfn = monitor::kRamBaseMfn;
constexpr uint64_t kFrames = 32;
constexpr uint64_t kHypervisorMfn = monitor::kHypervisorBaseMfn + 1;
constexpr uint64_t kRO = pte::kPresent;
constexpr uint64_t kRW = pte::kPresent | pte::kWritable;
constexpr long kEinval = xen::error(XEN_EINVAL);

constexpr uint64_t frame(uint64_t n) {
  return kBaseMfn + n;
}
constexpr uint64_t entry(uint64_t mfn, uint64_t flags) {
  return (mfn << 12) | flags;
}

class PageOwnership : public testing::Test {
 protected:
  PageOwnership() {
    types_.set_frame_freed_hook([this](uint64_t mfn) {
      ram_.discard(mfn);
      freed_.push_back(mfn);
    });
    types_.set_hypervisor_frames([](uint64_t mfn) { return mfn == kHypervisorMfn; });
  }

  uint8_t* bytes(uint64_t mfn) { return ram_.frame(mfn).data(); }
  void expect_consistent() { EXPECT_EQ(types_.check_invariants(), ""); }
  bool all_zero(uint64_t mfn) {
    std::vector<uint8_t> zeros(4096, 0);
    return std::memcmp(bytes(mfn), zeros.data(), 4096) == 0;
  }

  kvm::MemoryRegion region_{"page-ownership-test", kFrames * 4096};
  mm::GuestRam ram_{region_, kBaseMfn};
  mm::PageTypes types_{ram_, nullptr, [](uint64_t*) {}};
  std::vector<uint64_t> freed_;
};

TEST_F(PageOwnership, EveryRamFrameStartsOwnedAndCounted) {
  EXPECT_EQ(types_.tot_pages(), kFrames);
  EXPECT_EQ(types_.max_pages(), kFrames);
  EXPECT_TRUE(types_.owns(frame(0)));
  EXPECT_TRUE(types_.owns(frame(kFrames - 1)));
  EXPECT_FALSE(types_.owns(frame(kFrames)));
  EXPECT_FALSE(types_.owns(kBaseMfn - 1));
}

TEST_F(PageOwnership, AnUnusedFrameGivenBackLeavesAtOnceScrubbed) {
  std::memset(bytes(frame(5)), 0xa5, 4096);
  ASSERT_EQ(types_.release(frame(5)), 0);
  EXPECT_FALSE(types_.owns(frame(5)));
  EXPECT_EQ(types_.info(frame(5)).ownership, Ownership::kFree);
  EXPECT_EQ(types_.tot_pages(), kFrames - 1);
  EXPECT_EQ(freed_, std::vector<uint64_t>{frame(5)});
  EXPECT_TRUE(all_zero(frame(5)));
  expect_consistent();
}

// guest_remove_page: -EINVAL when the MFN is not RAM, -ENXIO ("Bad page
// free") when the domain does not own it, e.g. a second time.
TEST_F(PageOwnership, GivingBackAFrameNotOwnedIsRefused) {
  ASSERT_EQ(types_.release(frame(5)), 0);
  EXPECT_EQ(types_.release(frame(5)), xen::error(XEN_ENXIO));
  EXPECT_EQ(types_.release(frame(kFrames)), kEinval);
  EXPECT_EQ(types_.release(kHypervisorMfn), kEinval);
  EXPECT_EQ(types_.tot_pages(), kFrames - 1);
  expect_consistent();
}

// get_page fails on a free frame: an L1 entry is -EBUSY (could_not_pin),
// a table entry or a pin -EINVAL (get_page_and_type_from_mfn), and the
// frame cannot be written as a table either.
TEST_F(PageOwnership, AFreeFrameCanBeNeitherMappedNorTypedNorWritten) {
  const uint64_t l1 = frame(1), l2 = frame(2), gone = frame(9);
  ASSERT_EQ(types_.pin(l1, 1), 0);
  ASSERT_EQ(types_.pin(l2, 2), 0);
  ASSERT_EQ(types_.release(gone), 0);
  EXPECT_EQ(types_.update_entry(l1, 0, entry(gone, kRO), false), xen::error(XEN_EBUSY));
  EXPECT_EQ(types_.update_entry(l1, 0, entry(gone, kRW), false), xen::error(XEN_EBUSY));
  EXPECT_EQ(types_.update_entry(l2, 0, entry(gone, kRW), false), kEinval);
  EXPECT_EQ(types_.pin(gone, 1), kEinval);
  EXPECT_EQ(types_.get_type(gone, mm::PageType::kWritable), kEinval);
  EXPECT_EQ(types_.update_entry(gone, 0, 0x1234, false), kEinval);
  EXPECT_TRUE(all_zero(gone));
  EXPECT_EQ(types_.info(l1).type_count, 1u);
  expect_consistent();
}

// Outside RAM, get_page_from_l1e tells a frame that exists but is another
// owner's (-EBUSY) from one that is no memory (-EPERM, MMIO).
TEST_F(PageOwnership, MappingOtherFramesIsBusyAndNonMemoryIsNotPermitted) {
  const uint64_t l1 = frame(1);
  ASSERT_EQ(types_.pin(l1, 1), 0);
  EXPECT_EQ(types_.update_entry(l1, 0, entry(kHypervisorMfn, kRO), false), xen::error(XEN_EBUSY));
  EXPECT_EQ(types_.update_entry(l1, 0, entry(frame(kFrames), kRO), false), xen::error(XEN_EPERM));
  expect_consistent();
}

// XSA-252: decrease_reservation no longer unpins. The table keeps working
// and stays the domain's until it is unpinned; only then is it freed.
TEST_F(PageOwnership, APinnedTableGivenBackStaysUntilUnpinned) {
  const uint64_t l1 = frame(1), data = frame(10);
  std::memset(bytes(l1), 0, 4096);
  reinterpret_cast<uint64_t*>(bytes(l1))[0] = entry(data, kRW);
  ASSERT_EQ(types_.pin(l1, 1), 0);
  ASSERT_EQ(types_.release(l1), 0);
  EXPECT_TRUE(types_.owns(l1));
  EXPECT_TRUE(types_.info(l1).pinned);
  EXPECT_EQ(types_.info(l1).ownership, Ownership::kReleased);
  EXPECT_EQ(types_.tot_pages(), kFrames);
  EXPECT_TRUE(freed_.empty());
  EXPECT_EQ(types_.pin(l1, 1), kEinval);  // still pinned
  expect_consistent();

  ASSERT_EQ(types_.unpin(l1), 0);
  EXPECT_FALSE(types_.owns(l1));
  EXPECT_EQ(types_.tot_pages(), kFrames - 1);
  EXPECT_EQ(freed_, std::vector<uint64_t>{l1});
  EXPECT_TRUE(all_zero(l1));
  EXPECT_EQ(types_.info(data).type_count, 0u);  // its entries were released
  EXPECT_TRUE(types_.owns(data));
  expect_consistent();
}

TEST_F(PageOwnership, AMappedFrameGivenBackLeavesWithItsLastMapping) {
  const uint64_t l1 = frame(1), data = frame(10);
  ASSERT_EQ(types_.pin(l1, 1), 0);
  ASSERT_EQ(types_.update_entry(l1, 0, entry(data, kRW), false), 0);
  ASSERT_EQ(types_.update_entry(l1, 1, entry(data, kRO), false), 0);
  ASSERT_EQ(types_.release(data), 0);
  EXPECT_TRUE(types_.owns(data));
  EXPECT_EQ(types_.release(data), 0);  // owned still: Xen counts it done again
  ASSERT_EQ(types_.update_entry(l1, 0, 0, false), 0);
  EXPECT_TRUE(types_.owns(data));
  ASSERT_EQ(types_.update_entry(l1, 1, 0, false), 0);
  EXPECT_FALSE(types_.owns(data));
  EXPECT_EQ(freed_, std::vector<uint64_t>{data});
  EXPECT_EQ(types_.update_entry(l1, 1, entry(data, kRO), false), xen::error(XEN_EBUSY));
  expect_consistent();
}

// A backend's writable mapping of a ring page (Domain::hold_for_backend):
// given back, the frame stays the domain's, so the backend never writes a
// freed frame, and it never becomes a page table the backend would then
// write behind validation's back.
TEST_F(PageOwnership, AFrameABackendHoldsStaysOwnedAndNeverATable) {
  const uint64_t ring = frame(6), l2 = frame(2);
  ASSERT_EQ(types_.get_type(ring, mm::PageType::kWritable), 0);
  EXPECT_EQ(types_.pin(ring, 1), kEinval);
  ASSERT_EQ(types_.pin(l2, 2), 0);
  EXPECT_EQ(types_.update_entry(l2, 0, entry(ring, kRW), false), kEinval);
  ASSERT_EQ(types_.release(ring), 0);
  EXPECT_TRUE(types_.owns(ring));
  EXPECT_EQ(types_.tot_pages(), kFrames);
  EXPECT_EQ(types_.allocate(0), std::nullopt);
  EXPECT_EQ(types_.pin(ring, 1), kEinval);
  types_.put_type(ring);  // the backend lets go: only now is it freed
  EXPECT_FALSE(types_.owns(ring));
  EXPECT_EQ(freed_, std::vector<uint64_t>{ring});
  expect_consistent();
}

// alloc_domheap_pages / assign_pages: never past max_pages.
TEST_F(PageOwnership, AllocationStopsAtTheMaximum) {
  EXPECT_EQ(types_.allocate(0), std::nullopt);
  ASSERT_EQ(types_.release(frame(3)), 0);
  ASSERT_EQ(types_.release(frame(4)), 0);
  auto first = types_.allocate(0);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(types_.tot_pages(), kFrames - 1);
  auto second = types_.allocate(0);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*first, *second);
  EXPECT_EQ(types_.tot_pages(), kFrames);
  EXPECT_EQ(types_.allocate(0), std::nullopt);
  expect_consistent();
}

TEST_F(PageOwnership, FreedFramesAreHandedOutLowestFirstWheneverFreed) {
  ASSERT_EQ(types_.release(frame(20)), 0);
  ASSERT_EQ(types_.release(frame(5)), 0);
  EXPECT_EQ(types_.allocate(0), frame(5));
  ASSERT_EQ(types_.release(frame(2)), 0);  // below what was handed out last
  EXPECT_EQ(types_.allocate(0), frame(2));
  EXPECT_EQ(types_.allocate(0), frame(20));
  EXPECT_EQ(types_.allocate(0), std::nullopt);
  expect_consistent();
}

TEST_F(PageOwnership, AFreedFrameComesBackScrubbedAndUsable) {
  std::memset(bytes(frame(7)), 0x5a, 4096);
  ASSERT_EQ(types_.release(frame(7)), 0);
  auto mfn = types_.allocate(0);
  ASSERT_EQ(mfn, frame(7));
  EXPECT_TRUE(types_.owns(frame(7)));
  EXPECT_EQ(types_.info(frame(7)).ownership, Ownership::kAllocated);
  EXPECT_TRUE(all_zero(frame(7)));
  EXPECT_EQ(types_.pin(frame(7), 1), 0);  // usable as any frame of the domain
  expect_consistent();
}

TEST_F(PageOwnership, ExtentsAreContiguousAlignedAndBelowTheAddressLimit) {
  for (uint64_t n = 9; n < 24; ++n)
    ASSERT_EQ(types_.release(frame(n)), 0);
  auto extent = types_.allocate(3);
  ASSERT_TRUE(extent.has_value());
  EXPECT_EQ(*extent, frame(16));  // 9..15 hold no aligned run of 8
  EXPECT_EQ(types_.allocate(0, frame(9)), std::nullopt);
  EXPECT_EQ(types_.allocate(0, frame(10)), frame(9));
  EXPECT_EQ(types_.allocate(4), std::nullopt);
  EXPECT_EQ(types_.tot_pages(), kFrames - 15 + 9);
  expect_consistent();
}

}  // namespace
}  // namespace xpv
