#include "domain/pv_layout.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "base/x86.hpp"

namespace xpv::domain {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kLinuxVirtBase = 0xffffffff80000000ULL;
constexpr uint64_t kInitP2m = 0x8000000000ULL;  // L4 slot 1, Linux 6.1's INIT_P2M note
constexpr uint64_t kSpareMappedPages = 128;     // libxc's 512 KiB of slack

// The worked example of linux-pv-guest.md §2.1: 512 MiB, a kernel at PFN
// 0x1000-0x3dff, a 20 MiB initrd, INIT_P2M and MOD_START_PFN honoured.
LayoutRequest worked_example() {
  LayoutRequest rq{};
  rq.nr_pages = 0x20000;
  rq.virt_base = kLinuxVirtBase;
  rq.virt_kstart = 0xffffffff81000000ULL;
  rq.virt_kend = 0xffffffff83e00000ULL;
  rq.initrd_bytes = 20 * kMiB;
  rq.initrd_unmapped = true;
  rq.init_p2m_va = kInitP2m;
  return rq;
}

LayoutRequest without_init_p2m() {
  LayoutRequest rq = worked_example();
  rq.init_p2m_va.reset();
  return rq;
}

void expect_table_counts(const PageTableSet& actual, const PageTableSet& expected) {
  EXPECT_EQ(actual.nr_l4, expected.nr_l4);
  EXPECT_EQ(actual.nr_l3, expected.nr_l3);
  EXPECT_EQ(actual.nr_l2, expected.nr_l2);
  EXPECT_EQ(actual.nr_l1, expected.nr_l1);
  EXPECT_EQ(actual.frames.count, expected.frames.count);
}

// Every PFN range the plan hands out, with a name for failure messages.
std::vector<std::pair<std::string, PfnRange>> placed_ranges(const PvLayout& l) {
  std::vector<std::pair<std::string, PfnRange>> ranges = {
      {"kernel", l.kernel},
      {"p2m", l.p2m},
      {"start_info", {l.start_info_pfn, 1}},
      {"xenstore", {l.xenstore_pfn, 1}},
      {"console", {l.console_pfn, 1}},
      {"boot page tables", l.boot_tables.frames},
      {"boot stack", {l.boot_stack_pfn, 1}},
  };
  if (l.initrd) ranges.emplace_back("initrd", *l.initrd);
  if (l.p2m_separate) ranges.emplace_back("p2m page tables", l.p2m_tables.frames);
  return ranges;
}

// --- count_page_tables ------------------------------------------------------

TEST(PvLayout, CountsOneTablePerLevelAndOneL1Per2MiB) {
  PageTableSet set = count_page_tables(kLinuxVirtBase, 0xffffffff84000000ULL, true);
  expect_table_counts(set, PageTableSet{{0, 35}, 1, 1, 1, 32});
}

TEST(PvLayout, CountsNoL4WhenAskedForASecondaryMapping) {
  PageTableSet set = count_page_tables(kInitP2m, kInitP2m + kMiB, false);
  expect_table_counts(set, PageTableSet{{0, 3}, 0, 1, 1, 1});
}

TEST(PvLayout, CountsTablesForEveryBoundaryARangeCrosses) {
  // 4 KiB either side of a 1 GiB boundary: two L2s and two L1s, one L3.
  expect_table_counts(count_page_tables(0x3ffff000, 0x40001000, false),
                      PageTableSet{{0, 5}, 0, 1, 2, 2});
  // Either side of a 512 GiB boundary: every level doubles.
  expect_table_counts(count_page_tables(0x7ffffff000, 0x8000001000, false),
                      PageTableSet{{0, 6}, 0, 2, 2, 2});
  // A single unaligned page still needs one table at each level.
  expect_table_counts(count_page_tables(0x1234000, 0x1235000, true),
                      PageTableSet{{0, 4}, 1, 1, 1, 1});
}

// --- The worked example -----------------------------------------------------

TEST(PvLayout, PlacesTheKernelAtItsLinkAddress) {
  PvLayout l = plan_pv_layout(worked_example());
  EXPECT_EQ(l.virt_base, kLinuxVirtBase);
  EXPECT_EQ(l.nr_pages, 0x20000u);
  EXPECT_EQ(l.kernel.first, 0x1000u);
  EXPECT_EQ(l.kernel.end(), 0x3e00u);
}

TEST(PvLayout, WorkedExamplePlacesMagicPagesAfterTheKernel) {
  PvLayout l = plan_pv_layout(worked_example());
  EXPECT_EQ(l.start_info_pfn, 0x3e00u);
  EXPECT_EQ(l.va(l.start_info_pfn), 0xffffffff83e00000ULL);  // rsi
  EXPECT_EQ(l.xenstore_pfn, 0x3e01u);
  EXPECT_EQ(l.console_pfn, 0x3e02u);
}

TEST(PvLayout, WorkedExampleHas35BootstrapTablesThenTheBootStack) {
  PvLayout l = plan_pv_layout(worked_example());
  EXPECT_EQ(l.boot_tables.frames.first, 0x3e03u);
  EXPECT_EQ(l.boot_tables.frames.count, 35u);
  EXPECT_EQ(l.boot_tables.frames.end() - 1, 0x3e25u);
  EXPECT_EQ(l.boot_tables.nr_l4, 1u);
  EXPECT_EQ(l.boot_tables.nr_l3, 1u);
  EXPECT_EQ(l.boot_tables.nr_l2, 1u);
  EXPECT_EQ(l.boot_tables.nr_l1, 32u);
  EXPECT_EQ(l.boot_stack_pfn, 0x3e26u);
  EXPECT_EQ(l.va(l.boot_stack_pfn + 1), 0xffffffff83e27000ULL);  // rsp
}

TEST(PvLayout, WorkedExampleMappingEndsAt84000000) {
  PvLayout l = plan_pv_layout(worked_example());
  EXPECT_EQ(l.mapped_end_va, 0xffffffff84000000ULL);
  EXPECT_EQ(l.mapped_pages(), 0x4000u);
}

TEST(PvLayout, WorkedExamplePutsTheUnmappedInitrdRightAfterTheMapping) {
  PvLayout l = plan_pv_layout(worked_example());
  ASSERT_TRUE(l.initrd.has_value());
  EXPECT_FALSE(l.initrd_mapped);
  EXPECT_EQ(l.initrd->first, 0x4000u);  // mod_start
  EXPECT_EQ(l.initrd->end() - 1, 0x53ffu);
}

TEST(PvLayout, WorkedExamplePutsInitP2mDataThenItsTablesLast) {
  PvLayout l = plan_pv_layout(worked_example());
  EXPECT_TRUE(l.p2m_separate);
  EXPECT_EQ(l.p2m_va, kInitP2m);  // mfn_list
  EXPECT_EQ(l.p2m.first, 0x5400u);
  EXPECT_EQ(l.p2m.count, 0x100u);  // 0x20000 entries of 8 bytes
  // The P2M's L3, L2 and L1; the L4 is the bootstrap one.
  EXPECT_EQ(l.p2m_tables.frames.first, 0x5500u);
  EXPECT_EQ(l.p2m_tables.nr_l4, 0u);
  EXPECT_EQ(l.p2m_tables.nr_l3, 1u);
  EXPECT_EQ(l.p2m_tables.nr_l2, 1u);
  EXPECT_EQ(l.p2m_tables.nr_l1, 1u);
  // first_p2m_pfn .. first_p2m_pfn + nr_p2m_frames - 1 = 0x5400-0x5502.
  EXPECT_EQ(l.p2m_tables.frames.end() - 1, 0x5502u);
  EXPECT_EQ(l.pages_used, 0x5503u);
}

// --- Without INIT_P2M or MOD_START_PFN --------------------------------------

TEST(PvLayout, PutsP2mInsideTheMappingRightAfterTheKernelWithoutInitP2m) {
  PvLayout l = plan_pv_layout(without_init_p2m());
  EXPECT_FALSE(l.p2m_separate);
  EXPECT_EQ(l.p2m.first, l.kernel.end());
  EXPECT_EQ(l.p2m.count, 0x100u);
  EXPECT_EQ(l.p2m_va, l.va(l.p2m.first));
  EXPECT_EQ(l.start_info_pfn, l.p2m.end());
  EXPECT_LE(l.p2m.end(), l.mapped_pages());
  EXPECT_EQ(l.p2m_tables.frames.count, 0u);
  // The unmapped initrd still follows the mapping.
  ASSERT_TRUE(l.initrd.has_value());
  EXPECT_EQ(l.initrd->first, l.mapped_pages());
  EXPECT_EQ(l.pages_used, l.initrd->end());
}

TEST(PvLayout, MapsInitrdAfterTheKernelAndP2mAfterItWithoutModStartPfn) {
  LayoutRequest rq = without_init_p2m();
  rq.initrd_unmapped = false;
  PvLayout l = plan_pv_layout(rq);
  ASSERT_TRUE(l.initrd.has_value());
  EXPECT_TRUE(l.initrd_mapped);
  EXPECT_EQ(l.initrd->first, l.kernel.end());
  EXPECT_EQ(l.initrd->count, 20 * kMiB / kPage);
  EXPECT_EQ(l.p2m.first, l.initrd->end());
  EXPECT_EQ(l.start_info_pfn, l.p2m.end());
  // Kernel, initrd and P2M take 0x1000-0x52ff; the mapping must grow to
  // the next 4 MiB boundary after the tables, stack and slack.
  EXPECT_EQ(l.start_info_pfn, 0x5300u);
  EXPECT_EQ(l.mapped_end_va, 0xffffffff85400000ULL);
  EXPECT_EQ(l.boot_tables.nr_l1, 0x5400u / 512);
  EXPECT_EQ(l.pages_used, l.mapped_pages());
}

TEST(PvLayout, MapsInitrdAndSeparatesP2mWithInitP2mButNoModStartPfn) {
  LayoutRequest rq = worked_example();
  rq.initrd_unmapped = false;
  PvLayout l = plan_pv_layout(rq);
  EXPECT_TRUE(l.initrd_mapped);
  EXPECT_EQ(l.initrd->first, l.kernel.end());
  EXPECT_EQ(l.start_info_pfn, l.initrd->end());
  EXPECT_TRUE(l.p2m_separate);
  EXPECT_EQ(l.p2m.first, l.mapped_pages());
}

TEST(PvLayout, OmitsTheInitrdWhenThereIsNone) {
  LayoutRequest rq = worked_example();
  rq.initrd_bytes = 0;
  PvLayout l = plan_pv_layout(rq);
  EXPECT_FALSE(l.initrd.has_value());
  EXPECT_EQ(l.p2m.first, l.mapped_pages());
}

TEST(PvLayout, RoundsInitrdAndP2mUpToWholePages) {
  LayoutRequest rq = worked_example();
  rq.initrd_bytes = 20 * kMiB + 1;
  rq.nr_pages = 0x20001;  // one entry past a whole page of P2M
  PvLayout l = plan_pv_layout(rq);
  EXPECT_EQ(l.initrd->count, 20 * kMiB / kPage + 1);
  EXPECT_EQ(l.p2m.count, 0x101u);
}

TEST(PvLayout, RoundsAnUnalignedKernelEndUpToAWholePage) {
  LayoutRequest rq = worked_example();
  rq.virt_kend = 0xffffffff83dff001ULL;
  PvLayout l = plan_pv_layout(rq);
  EXPECT_EQ(l.kernel.end(), 0x3e00u);
}

// --- Mapping size ---------------------------------------------------------

TEST(PvLayout, GrowsTheMappingByFourMiBWhenSlackWouldNotFit) {
  // A kernel ending 127 pages before a 4 MiB boundary leaves no room for
  // the magic pages, tables, stack and 512 KiB of slack below it.
  LayoutRequest rq = worked_example();
  rq.virt_kend = 0xffffffff84000000ULL - 127 * kPage;
  PvLayout l = plan_pv_layout(rq);
  EXPECT_EQ(l.mapped_end_va, 0xffffffff84400000ULL);
  EXPECT_EQ(l.boot_tables.nr_l1, 34u);
  EXPECT_GE(l.mapped_pages(), l.boot_stack_pfn + 1 + kSpareMappedPages);
}

TEST(PvLayout, KeepsTheMappingWhenSlackFitsExactly) {
  // start_info, xenstore, console, 35 tables, the stack and 128 spare
  // pages: 167 pages after the kernel fill the mapping exactly.
  LayoutRequest rq = worked_example();
  rq.virt_kend = 0xffffffff84000000ULL - 167 * kPage;
  PvLayout l = plan_pv_layout(rq);
  EXPECT_EQ(l.mapped_end_va, 0xffffffff84000000ULL);
  EXPECT_EQ(l.mapped_pages(), l.boot_stack_pfn + 1 + kSpareMappedPages);

  rq.virt_kend += kPage;
  EXPECT_EQ(plan_pv_layout(rq).mapped_end_va, 0xffffffff84400000ULL);
}

// libxc rounds the absolute virt_pgtab_end to 4 MiB (alloc_pgtables:
// round_up(virt_alloc_end + ..., bits_to_mask(22))), not the distance from
// VIRT_BASE; the two differ for a VIRT_BASE that is not 4 MiB aligned.
TEST(PvLayout, EndsTheMappingOnAnAbsoluteFourMiBBoundary) {
  LayoutRequest rq{};
  rq.nr_pages = 0x8000;
  rq.virt_base = 0xffffffff80200000ULL;  // 2 MiB aligned only
  rq.virt_kstart = rq.virt_base;
  rq.virt_kend = rq.virt_base + kMiB;
  PvLayout l = plan_pv_layout(rq);
  EXPECT_EQ(l.mapped_end_va % (4 * kMiB), 0u) << std::hex << l.mapped_end_va;
  EXPECT_EQ(l.mapped_end_va, 0xffffffff80400000ULL);
}

// --- Not enough memory ------------------------------------------------------

TEST(PvLayout, RefusesADomainTooSmallForItsBootDataNamingMiB) {
  LayoutRequest rq = worked_example();
  rq.nr_pages = 0x5000;  // 80 MiB: the initrd ends at 84 MiB
  try {
    plan_pv_layout(rq);
    FAIL() << "expected LayoutError";
  } catch (const LayoutError& e) {
    EXPECT_THAT(e.what(), HasSubstr("MiB"));
    EXPECT_THAT(e.what(), HasSubstr("80 MiB"));
  }
}

TEST(PvLayout, FitsExactlyWhenEveryPageIsUsed) {
  LayoutRequest rq = without_init_p2m();
  rq.initrd_bytes = 0;
  rq.nr_pages = 0x4000;  // exactly the 64 MiB mapping
  PvLayout l = plan_pv_layout(rq);
  EXPECT_EQ(l.pages_used, 0x4000u);

  rq.nr_pages = 0x3fff;
  EXPECT_THROW(plan_pv_layout(rq), LayoutError);
}

// --- Unusable kernel addresses ----------------------------------------------

TEST(PvLayout, RefusesVirtBaseNotPageAligned) {
  LayoutRequest rq = worked_example();
  rq.virt_base += 0x800;
  EXPECT_THROW(plan_pv_layout(rq), LayoutError);
}

TEST(PvLayout, RefusesKernelStartBelowVirtBase) {
  LayoutRequest rq = worked_example();
  rq.virt_kstart = rq.virt_base - kPage;
  EXPECT_THROW(plan_pv_layout(rq), LayoutError);
}

TEST(PvLayout, RefusesKernelEndNotAfterKernelStart) {
  LayoutRequest rq = worked_example();
  rq.virt_kend = rq.virt_kstart;
  EXPECT_THROW(plan_pv_layout(rq), LayoutError);
  rq.virt_kend = rq.virt_kstart - 1;
  EXPECT_THROW(plan_pv_layout(rq), LayoutError);
}

LayoutRequest kernel_at(uint64_t virt_base) {
  LayoutRequest rq{};
  rq.nr_pages = 0x20000;
  rq.virt_base = virt_base;
  rq.virt_kstart = virt_base;
  rq.virt_kend = virt_base + 16 * kMiB;
  return rq;
}

TEST(PvLayout, RefusesAMappingAtTheStartOfTheHypervisorHole) {
  try {
    plan_pv_layout(kernel_at(0xffff800000000000ULL));
    FAIL() << "expected LayoutError";
  } catch (const LayoutError& e) {
    EXPECT_THAT(e.what(), HasSubstr("hole"));
  }
}

TEST(PvLayout, RefusesAMappingInsideTheHypervisorHole) {
  EXPECT_THROW(plan_pv_layout(kernel_at(0xffff848000000000ULL)), LayoutError);  // slot 265
  EXPECT_THROW(plan_pv_layout(kernel_at(0xffff87ffff000000ULL)), LayoutError);  // end of 271
}

TEST(PvLayout, AcceptsAMappingRightAfterTheHypervisorHole) {
  PvLayout l = plan_pv_layout(kernel_at(0xffff880000000000ULL));  // slot 272
  EXPECT_EQ(l.kernel.first, 0u);
}

TEST(PvLayout, RefusesAMappingThatLeavesTheCanonicalLowerHalf) {
  // 16 MiB of kernel from 8 MiB below 2^47.
  EXPECT_THROW(plan_pv_layout(kernel_at(0x00007fffff800000ULL)), LayoutError);
  EXPECT_THROW(plan_pv_layout(kernel_at(0x0000800000000000ULL)), LayoutError);
}

TEST(PvLayout, RefusesAMappingThatWrapsPastTheTopOfTheAddressSpace) {
  // The kernel itself fits below 2^64; its tables and slack would not.
  LayoutRequest rq = kernel_at(0xffffffffff000000ULL);
  rq.virt_kend = 0xfffffffffffff000ULL;
  EXPECT_THROW(plan_pv_layout(rq), LayoutError);
}

TEST(PvLayout, RefusesInitP2mInTheKernelMappingsL4Slot) {
  LayoutRequest rq = worked_example();
  rq.init_p2m_va = 0xffffff8000000000ULL;  // slot 511, below VIRT_BASE
  try {
    plan_pv_layout(rq);
    FAIL() << "expected LayoutError";
  } catch (const LayoutError& e) {
    EXPECT_THAT(e.what(), HasSubstr("L4 slot"));
  }
}

TEST(PvLayout, RefusesInitP2mInTheHypervisorHole) {
  LayoutRequest rq = worked_example();
  rq.init_p2m_va = 0xffff808000000000ULL;  // slot 257
  EXPECT_THROW(plan_pv_layout(rq), LayoutError);
}

// libxc refuses any INIT_P2M range that overlaps the kernel mapping
// (count_pgtables: "overlapping mappings"), including one that starts below
// a VIRT_BASE near the end of an L4 slot and runs past that slot's end.
TEST(PvLayout, RefusesInitP2mOverlappingAKernelMappingAcrossAnL4Boundary) {
  LayoutRequest rq{};
  rq.nr_pages = 0x100000;                // 4 GiB: an 8 MiB P2M
  rq.virt_base = 0xffffff7fffc00000ULL;  // 4 MiB below the end of slot 510
  rq.virt_kstart = rq.virt_base;
  rq.virt_kend = rq.virt_base + 2 * kMiB;
  rq.init_p2m_va = rq.virt_base - kPage;  // runs to 0xffffff80003ff000, in slot 511
  EXPECT_THROW(
      {
        PvLayout l = plan_pv_layout(rq);
        ADD_FAILURE() << "P2M [" << std::hex << l.p2m_va << ", " << l.p2m_va + l.p2m.count * kPage
                      << ") overlaps the mapping [" << l.virt_base << ", " << l.mapped_end_va
                      << ")";
      },
      LayoutError);
}

TEST(PvLayout, IgnoresInitP2mNotBelowVirtBase) {
  LayoutRequest rq = worked_example();
  rq.init_p2m_va = 0xffffffffc0000000ULL;
  PvLayout l = plan_pv_layout(rq);
  EXPECT_FALSE(l.p2m_separate);
  EXPECT_EQ(l.p2m.first, l.kernel.end());
  EXPECT_EQ(l.p2m_va, l.va(l.p2m.first));

  rq.init_p2m_va = rq.virt_base;
  EXPECT_FALSE(plan_pv_layout(rq).p2m_separate);
}

TEST(PvLayout, IgnoresInitP2mNotPageAligned) {
  LayoutRequest rq = worked_example();
  rq.init_p2m_va = kInitP2m + 8;
  PvLayout l = plan_pv_layout(rq);
  EXPECT_FALSE(l.p2m_separate);
  EXPECT_EQ(l.p2m_va, l.va(l.kernel.end()));
}

// --- Properties over many domains -------------------------------------------

std::string describe(const LayoutRequest& rq) {
  std::ostringstream out;
  out << std::hex << std::showbase << "nr_pages=" << rq.nr_pages << " virt_base=" << rq.virt_base
      << " kstart=" << rq.virt_kstart << " kend=" << rq.virt_kend << " initrd=" << rq.initrd_bytes
      << " unmapped=" << rq.initrd_unmapped << " init_p2m=" << rq.init_p2m_va.value_or(0);
  return out.str();
}

LayoutRequest random_request(std::mt19937_64& rng) {
  static constexpr uint64_t kBases[] = {kLinuxVirtBase, 0xffff880000000000ULL,
                                        0xffffc90000000000ULL, 0x400000ULL};
  auto uniform = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  LayoutRequest rq{};
  rq.nr_pages = uniform(0x800, 0x400000);  // 8 MiB to 16 GiB
  rq.virt_base = kBases[uniform(0, std::size(kBases) - 1)];
  rq.virt_kstart = rq.virt_base + uniform(0, 0x2000) * kPage;
  rq.virt_kend = rq.virt_kstart + uniform(1, 0x4000 * kPage);
  rq.initrd_bytes = uniform(0, 3) == 0 ? 0 : uniform(1, 64 * kMiB);
  rq.initrd_unmapped = uniform(0, 1) == 1;
  if (uniform(0, 1) == 1) rq.init_p2m_va = kInitP2m;
  return rq;
}

void check_layout(const LayoutRequest& rq, const PvLayout& l) {
  auto ranges = placed_ranges(l);
  for (size_t i = 0; i < ranges.size(); ++i) {
    const auto& [name, range] = ranges[i];
    EXPECT_LE(range.end(), l.pages_used) << name;
    for (size_t j = i + 1; j < ranges.size(); ++j) {
      const auto& [other_name, other] = ranges[j];
      bool disjoint = range.count == 0 || other.count == 0 || range.end() <= other.first ||
                      other.end() <= range.first;
      EXPECT_TRUE(disjoint) << name << " overlaps " << other_name;
    }
  }
  EXPECT_LE(l.pages_used, rq.nr_pages);

  EXPECT_EQ(l.kernel.first, (rq.virt_kstart - rq.virt_base) / kPage);
  EXPECT_EQ(l.p2m.count, (rq.nr_pages * 8 + kPage - 1) / kPage);

  // The mapping: 4 MiB long multiples, holding its own tables, the boot
  // stack and the slack, counted by count_page_tables.
  EXPECT_EQ((l.mapped_end_va - l.virt_base) % (4 * kMiB), 0u);
  EXPECT_GE(l.mapped_pages(), l.boot_stack_pfn + 1 + kSpareMappedPages);
  EXPECT_LE(l.mapped_pages(), l.pages_used);
  expect_table_counts(l.boot_tables, count_page_tables(l.virt_base, l.mapped_end_va, true));
  EXPECT_EQ(l.boot_tables.frames.first, l.console_pfn + 1);
  EXPECT_EQ(l.boot_stack_pfn, l.boot_tables.frames.end());

  if (l.initrd) {
    EXPECT_EQ(l.initrd->count, (rq.initrd_bytes + kPage - 1) / kPage);
    if (l.initrd_mapped)
      EXPECT_LE(l.initrd->end(), l.start_info_pfn);
    else
      EXPECT_EQ(l.initrd->first, l.mapped_pages());
  }
  if (l.p2m_separate) {
    EXPECT_EQ(l.p2m_va, *rq.init_p2m_va);
    EXPECT_GE(l.p2m.first, l.mapped_pages());
    expect_table_counts(l.p2m_tables,
                        count_page_tables(l.p2m_va, l.p2m_va + l.p2m.count * kPage, false));
    EXPECT_EQ(l.p2m_tables.frames.first, l.p2m.end());
    EXPECT_EQ(l.pages_used, l.p2m_tables.frames.end());
  } else {
    EXPECT_EQ(l.p2m_va, l.va(l.p2m.first));
    EXPECT_EQ(l.p2m.end(), l.start_info_pfn);
    EXPECT_EQ(l.p2m_tables.frames.count, 0u);
  }
}

TEST(PvLayout, RandomDomainsGetDisjointRangesWithinTheirMemory) {
  std::mt19937_64 rng(20240601);
  int planned = 0, refused = 0;
  for (int i = 0; i < 5000; ++i) {
    LayoutRequest rq = random_request(rng);
    SCOPED_TRACE(describe(rq));
    try {
      PvLayout l = plan_pv_layout(rq);
      ++planned;
      check_layout(rq, l);
    } catch (const LayoutError& e) {
      // Every request is well formed, so the only refusal is lack of room.
      ++refused;
      EXPECT_THAT(e.what(), HasSubstr("MiB"));
      LayoutRequest bigger = rq;
      bigger.nr_pages = 0x1000000;  // 64 GiB always fits
      EXPECT_NO_THROW(plan_pv_layout(bigger));
    }
    if (HasFailure()) break;
  }
  EXPECT_GT(planned, 2500);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace xpv::domain
