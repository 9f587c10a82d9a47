#include "mm/guest_virtual_memory.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "base/x86.hpp"
#include "kvm/memory_region.hpp"
#include "mm/guest_ram.hpp"
#include "monitor/layout.hpp"

namespace xpv::mm {
namespace {

namespace pte = x86::pte;

constexpr uint64_t kBaseMfn = monitor::kRamBaseMfn;
constexpr uint64_t kFrames = 64;
constexpr uint64_t kTableFlags = pte::kPresent | pte::kWritable | pte::kUser | pte::kAccessed;
constexpr uint64_t kLeafFlags = kTableFlags | pte::kDirty;
constexpr uint64_t kKernelVa = 0xffffffff80200000ULL;  // L4 511, L3 510, L2 1
constexpr uint64_t kUserVa = 0x0000000000400000ULL;

// A small domain whose page tables the test writes by hand, as a guest
// would: frames are handed out from the bottom of its RAM, the root first.
class GuestVirtualMemoryTest : public ::testing::Test {
 protected:
  // The entries a walk of one VA goes through: walk[4] is the L4 entry,
  // walk[1] the L1 entry.
  struct Walk {
    std::array<uint64_t*, 5> entry{};
    uint64_t& at(unsigned level) { return *entry[level]; }
  };

  uint64_t allocate() {
    if (next_mfn_ == ram_.end_mfn()) throw std::runtime_error("test domain out of frames");
    return next_mfn_++;
  }
  uint8_t* bytes(uint64_t mfn) { return ram_.frame(mfn).data(); }
  uint64_t* table(uint64_t mfn) { return reinterpret_cast<uint64_t*>(bytes(mfn)); }

  // Maps `va` to `mfn` with P|RW|U at every level, reusing tables already
  // present on the way.
  Walk map(uint64_t va, uint64_t mfn) {
    Walk walk;
    uint64_t table_mfn = root_;
    for (unsigned level = 4; level > 1; --level) {
      uint64_t& e = table(table_mfn)[x86::table_index(va, level)];
      if ((e & pte::kPresent) == 0) e = (allocate() << 12) | kTableFlags;
      walk.entry[level] = &e;
      table_mfn = (e & pte::kAddressMask) >> 12;
    }
    uint64_t& leaf = table(table_mfn)[x86::l1_index(va)];
    leaf = (mfn << 12) | kLeafFlags;
    walk.entry[1] = &leaf;
    return walk;
  }
  // Maps `va` to a fresh frame and returns that frame.
  uint64_t map_new(uint64_t va) {
    uint64_t mfn = allocate();
    map(va, mfn);
    return mfn;
  }

  std::vector<uint8_t> read_bytes(uint64_t va, size_t n) {
    std::vector<uint8_t> out(n);
    EXPECT_TRUE(gvm_.copy_from(va, out));
    return out;
  }

  kvm::MemoryRegion region_{"guest-virtual-memory-test", kFrames * 4096};
  GuestRam ram_{region_, kBaseMfn};
  uint64_t next_mfn_ = kBaseMfn;
  uint64_t root_ = allocate();
  GuestVirtualMemory gvm_{ram_, root_};
};

// --- Successful accesses --------------------------------------------------

TEST_F(GuestVirtualMemoryTest, TranslatesAMappedPageToItsFrame) {
  uint64_t mfn = map_new(kKernelVa);
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), mfn);
  EXPECT_EQ(gvm_.translate(kKernelVa + 0xfff, Access::kWrite), mfn);
}

TEST_F(GuestVirtualMemoryTest, TranslatesUserHalfAddressesToo) {
  uint64_t mfn = map_new(kUserVa);
  EXPECT_EQ(gvm_.translate(kUserVa + 0x10, Access::kWrite), mfn);
}

TEST_F(GuestVirtualMemoryTest, ReadsWhatIsInTheBackingFrame) {
  uint64_t mfn = map_new(kKernelVa);
  uint64_t value = 0x1122334455667788ULL;
  std::memcpy(bytes(mfn) + 0x120, &value, sizeof value);
  EXPECT_EQ(gvm_.read<uint64_t>(kKernelVa + 0x120), value);
}

TEST_F(GuestVirtualMemoryTest, WritesLandInTheBackingFrame) {
  uint64_t mfn = map_new(kKernelVa);
  ASSERT_TRUE(gvm_.write<uint32_t>(kKernelVa + 0x44, 0xcafef00d));
  uint32_t value = 0;
  std::memcpy(&value, bytes(mfn) + 0x44, sizeof value);
  EXPECT_EQ(value, 0xcafef00du);
}

TEST_F(GuestVirtualMemoryTest, CopiesAcrossAPageBoundaryIntoUnrelatedFrames) {
  // The second page's frame comes before the first's.
  uint64_t second = allocate();
  uint64_t first = allocate();
  map(kKernelVa, first);
  map(kKernelVa + 4096, second);

  std::array<uint8_t, 16> data;
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<uint8_t>(0xa0 + i);
  ASSERT_TRUE(gvm_.copy_to(kKernelVa + 4096 - 6, data));
  EXPECT_EQ(std::memcmp(bytes(first) + 4096 - 6, data.data(), 6), 0);
  EXPECT_EQ(std::memcmp(bytes(second), data.data() + 6, 10), 0);

  auto back = read_bytes(kKernelVa + 4096 - 6, data.size());
  EXPECT_TRUE(std::equal(back.begin(), back.end(), data.begin()));
}

TEST_F(GuestVirtualMemoryTest, CopiesSeveralWholePages) {
  std::vector<uint64_t> mfns;
  for (unsigned p = 0; p < 3; ++p)
    mfns.push_back(map_new(kKernelVa + p * 4096ULL));
  std::vector<uint8_t> data(3 * 4096);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(gvm_.copy_to(kKernelVa, data));
  for (unsigned p = 0; p < 3; ++p)
    EXPECT_EQ(std::memcmp(bytes(mfns[p]), data.data() + p * 4096, 4096), 0) << "page " << p;
  EXPECT_EQ(read_bytes(kKernelVa, data.size()), data);
}

TEST_F(GuestVirtualMemoryTest, FollowsTheTablesAsTheyAreNow) {
  uint64_t old_mfn = map_new(kKernelVa);
  uint64_t new_mfn = allocate();
  bytes(old_mfn)[0] = 1;
  bytes(new_mfn)[0] = 2;
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa), 1);
  map(kKernelVa, new_mfn);
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa), 2);
}

TEST_F(GuestVirtualMemoryTest, AcceptsTheLastFrameOfTheDomain) {
  uint64_t last = ram_.end_mfn() - 1;
  map(kKernelVa, last);
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kWrite), last);
  EXPECT_TRUE(gvm_.write<uint64_t>(kKernelVa + 4088, 42));
}

TEST_F(GuestVirtualMemoryTest, CopiesNothingSuccessfullyWhereNothingIsMapped) {
  std::vector<uint8_t> none;
  EXPECT_TRUE(gvm_.copy_from(kKernelVa, none));
  EXPECT_TRUE(gvm_.copy_to(kKernelVa, none));
}

TEST_F(GuestVirtualMemoryTest, CopiesUpToTheVeryLastByteOfTheAddressSpace) {
  map_new(0xfffffffffffff000ULL);
  EXPECT_TRUE(gvm_.write<uint64_t>(0xfffffffffffffff8ULL, 7));
  EXPECT_EQ(gvm_.read<uint64_t>(0xfffffffffffffff8ULL), 7u);
}

// --- Refusals that do not depend on a level ---------------------------------

TEST_F(GuestVirtualMemoryTest, RefusesAnUnmappedAddress) {
  map_new(kKernelVa);
  EXPECT_EQ(gvm_.translate(kKernelVa + 4096, Access::kRead), std::nullopt);
  EXPECT_EQ(gvm_.read<uint8_t>(kUserVa), std::nullopt);
  EXPECT_FALSE(gvm_.write<uint8_t>(kUserVa, 1));
}

TEST_F(GuestVirtualMemoryTest, RefusesTheHypervisorHoleEvenWhenTheGuestMapsIt) {
  for (unsigned slot : {256u, 257u, 264u, 271u}) {
    uint64_t va = monitor::l4_slot_va(slot) + 0x5000;
    map_new(va);
    EXPECT_EQ(gvm_.translate(va, Access::kRead), std::nullopt) << "slot " << slot;
    EXPECT_EQ(gvm_.read<uint8_t>(va), std::nullopt) << "slot " << slot;
    EXPECT_FALSE(gvm_.write<uint8_t>(va, 1)) << "slot " << slot;
  }
}

TEST_F(GuestVirtualMemoryTest, AcceptsTheSlotsEitherSideOfTheHole) {
  for (unsigned slot : {255u, 272u}) {
    uint64_t va = monitor::l4_slot_va(slot) + 0x5000;
    uint64_t mfn = map_new(va);
    EXPECT_EQ(gvm_.translate(va, Access::kWrite), mfn) << "slot " << slot;
  }
}

TEST_F(GuestVirtualMemoryTest, RefusesACopyThatStartsInTheHoleAndEndsOutside) {
  uint64_t slot272 = monitor::l4_slot_va(272);
  map_new(slot272 - 4096);  // the last page of slot 271
  map_new(slot272);
  EXPECT_TRUE(gvm_.read<uint64_t>(slot272).has_value());
  EXPECT_EQ(gvm_.read<uint64_t>(slot272 - 4), std::nullopt);
}

TEST_F(GuestVirtualMemoryTest, RefusesACopyThatRunsOffTheTopOfTheLowerHalf) {
  constexpr uint64_t kLastLowerPage = 0x00007ffffffff000ULL;
  map_new(kLastLowerPage);
  // What would follow if addresses did not sign-extend: slot 256's first
  // page, mapped by the guest.
  map_new(monitor::l4_slot_va(256));
  EXPECT_TRUE(gvm_.read<uint64_t>(kLastLowerPage + 4088).has_value());
  EXPECT_EQ(gvm_.read<uint64_t>(kLastLowerPage + 4092), std::nullopt);
  EXPECT_FALSE(gvm_.write<uint64_t>(kLastLowerPage + 4092, 0));
}

TEST_F(GuestVirtualMemoryTest, RefusesNonCanonicalAddresses) {
  uint64_t mfn = map_new(kKernelVa);
  ASSERT_EQ(gvm_.translate(kKernelVa, Access::kRead), mfn);
  // Same table indices as kKernelVa, but bits 63:48 do not copy bit 47.
  for (uint64_t va : {kKernelVa & ~(1ULL << 63), kKernelVa & 0x0000ffffffffffffULL}) {
    EXPECT_EQ(gvm_.translate(va, Access::kRead), std::nullopt) << std::hex << va;
    EXPECT_EQ(gvm_.read<uint8_t>(va), std::nullopt) << std::hex << va;
  }
}

TEST_F(GuestVirtualMemoryTest, RefusesARangeThatWrapsPastTwoToThe64) {
  map_new(0xfffffffffffff000ULL);
  map_new(0);
  std::array<uint8_t, 16> buf{};
  EXPECT_FALSE(gvm_.copy_from(0xfffffffffffffff8ULL, buf));
  EXPECT_FALSE(gvm_.copy_to(0xfffffffffffffff8ULL, buf));
  EXPECT_EQ(gvm_.read<uint64_t>(0xfffffffffffffffcULL), std::nullopt);
}

TEST_F(GuestVirtualMemoryTest, RefusesARootOutsideTheDomain) {
  map_new(kKernelVa);
  for (uint64_t root : {kBaseMfn - 1, ram_.end_mfn(), uint64_t{0}, uint64_t{1} << 40}) {
    GuestVirtualMemory outside(ram_, root);
    EXPECT_EQ(outside.translate(kKernelVa, Access::kRead), std::nullopt) << std::hex << root;
    EXPECT_EQ(outside.read<uint8_t>(kKernelVa), std::nullopt) << std::hex << root;
  }
}

// --- copy_to is all or nothing ----------------------------------------------

TEST_F(GuestVirtualMemoryTest, FailedWriteLeavesTheWritablePageUntouched) {
  uint64_t first = map_new(kKernelVa);
  Walk second_walk = map(kKernelVa + 4096, allocate());
  uint64_t second = (second_walk.at(1) & pte::kAddressMask) >> 12;
  second_walk.at(1) &= ~pte::kWritable;
  std::memset(bytes(first), 0x11, 4096);
  std::memset(bytes(second), 0x22, 4096);

  std::vector<uint8_t> data(8192, 0xee);
  EXPECT_FALSE(gvm_.copy_to(kKernelVa, data));
  EXPECT_FALSE(gvm_.copy_to(kKernelVa + 4000, std::span<const uint8_t>(data).first(200)));
  EXPECT_FALSE(gvm_.write<uint64_t>(kKernelVa + 4092, ~0ULL));
  EXPECT_TRUE(std::all_of(bytes(first), bytes(first) + 4096, [](uint8_t b) { return b == 0x11; }));
  EXPECT_TRUE(
      std::all_of(bytes(second), bytes(second) + 4096, [](uint8_t b) { return b == 0x22; }));
  // Reading through the read-only page is still allowed.
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa + 4096), 0x22);
}

TEST_F(GuestVirtualMemoryTest, FailedWriteLeavesEarlierPagesUntouchedWhenALaterOneIsUnmapped) {
  uint64_t first = map_new(kKernelVa);
  uint64_t second = map_new(kKernelVa + 4096);
  std::memset(bytes(first), 0x11, 4096);
  std::memset(bytes(second), 0x22, 4096);
  // Page three is not mapped at all.
  std::vector<uint8_t> data(3 * 4096, 0xee);
  EXPECT_FALSE(gvm_.copy_to(kKernelVa + 8, data));
  EXPECT_TRUE(std::all_of(bytes(first), bytes(first) + 4096, [](uint8_t b) { return b == 0x11; }));
  EXPECT_TRUE(
      std::all_of(bytes(second), bytes(second) + 4096, [](uint8_t b) { return b == 0x22; }));
}

TEST_F(GuestVirtualMemoryTest, FailedReadReportsFailureForAPartlyMappedRange) {
  map_new(kKernelVa);
  std::vector<uint8_t> out(8192);
  EXPECT_FALSE(gvm_.copy_from(kKernelVa, out));
  EXPECT_EQ(gvm_.read<uint64_t>(kKernelVa + 4092), std::nullopt);
}

// --- Refusals at each level of the walk -------------------------------------

class GuestVirtualMemoryLevelTest : public GuestVirtualMemoryTest,
                                    public ::testing::WithParamInterface<unsigned> {
 protected:
  unsigned level() const { return GetParam(); }
};

std::string level_name(const ::testing::TestParamInfo<unsigned>& info) {
  return "L" + std::to_string(info.param);
}

TEST_P(GuestVirtualMemoryLevelTest, RefusesAccessWithoutPresent) {
  Walk walk = map(kKernelVa, allocate());
  walk.at(level()) &= ~pte::kPresent;
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), std::nullopt);
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa), std::nullopt);
  EXPECT_FALSE(gvm_.write<uint8_t>(kKernelVa, 1));
}

TEST_P(GuestVirtualMemoryLevelTest, RefusesAccessWithoutUser) {
  // The guest kernel runs at CPL3: a supervisor-only mapping is Xen's own.
  Walk walk = map(kKernelVa, allocate());
  walk.at(level()) &= ~pte::kUser;
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), std::nullopt);
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa), std::nullopt);
  EXPECT_FALSE(gvm_.write<uint8_t>(kKernelVa, 1));
}

TEST_P(GuestVirtualMemoryLevelTest, RefusesWriteThroughReadOnlyEntryButAllowsRead) {
  uint64_t mfn = allocate();
  Walk walk = map(kKernelVa, mfn);
  walk.at(level()) &= ~pte::kWritable;
  bytes(mfn)[0] = 0x5a;
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kWrite), std::nullopt);
  EXPECT_FALSE(gvm_.write<uint8_t>(kKernelVa, 1));
  EXPECT_EQ(bytes(mfn)[0], 0x5a);
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), mfn);
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa), 0x5a);
}

TEST_P(GuestVirtualMemoryLevelTest, RefusesATableOrFrameBelowTheDomainsRam) {
  Walk walk = map(kKernelVa, allocate());
  uint64_t& e = walk.at(level());
  e = (e & ~pte::kAddressMask) | ((kBaseMfn - 1) << 12);
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), std::nullopt);
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa), std::nullopt);
}

TEST_P(GuestVirtualMemoryLevelTest, RefusesATableOrFramePastTheEndOfTheDomainsRam) {
  Walk walk = map(kKernelVa, allocate());
  uint64_t& e = walk.at(level());
  e = (e & ~pte::kAddressMask) | (ram_.end_mfn() << 12);
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), std::nullopt);
  EXPECT_FALSE(gvm_.write<uint8_t>(kKernelVa, 1));
}

TEST_P(GuestVirtualMemoryLevelTest, RefusesATableOrFrameWithAHugeMfn) {
  Walk walk = map(kKernelVa, allocate());
  uint64_t& e = walk.at(level());
  e |= pte::kAddressMask;  // MFN 0xffffffffff, the largest an entry holds
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), std::nullopt);
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa), std::nullopt);
}

TEST_P(GuestVirtualMemoryLevelTest, IgnoresAvailableAndNxBitsInTheFrameNumber) {
  // Bits 52-62 and NX are not part of the address: the walk must mask them.
  uint64_t mfn = allocate();
  Walk walk = map(kKernelVa, mfn);
  walk.at(level()) |= pte::kNx | (0x7ffULL << 52);
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), mfn);
}

INSTANTIATE_TEST_SUITE_P(EveryLevel, GuestVirtualMemoryLevelTest, ::testing::Values(4u, 3u, 2u, 1u),
                         level_name);

// PV guests have no superpages (Xen refuses PSE in L2/L3 of a PV guest);
// bit 7 of an L4 entry is reserved.
class GuestVirtualMemoryTableLevelTest : public GuestVirtualMemoryLevelTest {};

TEST_P(GuestVirtualMemoryTableLevelTest, RefusesASuperpageBit) {
  Walk walk = map(kKernelVa, allocate());
  walk.at(level()) |= pte::kPse;
  EXPECT_EQ(gvm_.translate(kKernelVa, Access::kRead), std::nullopt);
  EXPECT_EQ(gvm_.read<uint8_t>(kKernelVa), std::nullopt);
  EXPECT_FALSE(gvm_.write<uint8_t>(kKernelVa, 1));
}

INSTANTIATE_TEST_SUITE_P(EveryTableLevel, GuestVirtualMemoryTableLevelTest,
                         ::testing::Values(4u, 3u, 2u), level_name);

}  // namespace
}  // namespace xpv::mm
