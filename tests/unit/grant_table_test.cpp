// GrantTable against Xen's grant-table v1 rules (common/grant_table.c:
// _set_status_v1, map_grant_ref, acquire_grant_for_copy, unmap_common):
// the guest writes entries into the table's frames as a hostile guest
// would, and a backend (domain 0) or the owner itself asks for access.
#include "hv/grant_table.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "kvm/memory_region.hpp"
#include "mm/guest_ram.hpp"
#include "mm/page_types.hpp"
#include "monitor/hypervisor_frames.hpp"
#include "monitor/layout.hpp"

namespace xpv {
namespace {

using hv::GrantMapResult;
using hv::GrantTable;
using hv::GuestMapResult;

constexpr domid_t kBackend = 0;
constexpr domid_t kGuest = 1;
constexpr uint64_t kBaseMfn = monitor::kRamBaseMfn;
constexpr uint64_t kFrames = 32;
constexpr uint16_t kInUse = GTF_reading | GTF_writing;

struct TestDomain {
  kvm::MemoryRegion region{"grant-test-ram", kFrames * 4096};
  kvm::MemoryRegion hypervisor_region{"grant-test-xen", 80ULL * 4096};
  mm::GuestRam ram{region, kBaseMfn};
  monitor::HypervisorFrames frames{hypervisor_region, monitor::kHypervisorBaseMfn};
  GrantTable* table_for_types = nullptr;
  mm::PageTypes types{ram,
                      [this](uint64_t mfn) {
                        return table_for_types != nullptr && table_for_types->is_table_frame(mfn);
                      },
                      [](uint64_t*) {}};
  GrantTable table{ram, types, [this] { return frames.allocate(); }};

  TestDomain() {
    table_for_types = &table;
    types.set_hypervisor_frames([this](uint64_t mfn) { return frames.contains(mfn); });
  }

  uint64_t frame(unsigned n) const { return kBaseMfn + n; }
  // The guest's view of entry `ref`, written as the guest writes it.
  grant_entry_v1_t* shared(grant_ref_t ref) const {
    auto* base = reinterpret_cast<grant_entry_v1_t*>(
        frames.host_address(table.frame_mfn(ref / GrantTable::kEntriesPerFrame)));
    return base + ref % GrantTable::kEntriesPerFrame;
  }
  void grant(grant_ref_t ref, domid_t to, uint64_t mfn, uint16_t flags = GTF_permit_access) const {
    grant_entry_v1_t* e = shared(ref);
    e->domid = to;
    e->frame = static_cast<uint32_t>(mfn);
    __atomic_store_n(&e->flags, flags, __ATOMIC_RELEASE);
  }
  uint16_t flags(grant_ref_t ref) const {
    return __atomic_load_n(&shared(ref)->flags, __ATOMIC_ACQUIRE);
  }
  uint8_t* bytes(uint64_t mfn) const { return ram.frame(mfn).data(); }
};

// --- Size and frames ----------------------------------------------------------

TEST(GrantTable, StartsWithOneFrameOfXensDefaultSixtyFour) {
  TestDomain d;
  EXPECT_EQ(d.table.version(), 1U);
  EXPECT_EQ(d.table.nr_frames(), 1U);
  EXPECT_EQ(d.table.max_frames(), 64U);
  EXPECT_EQ(d.table.nr_entries(), 512U);
}

TEST(GrantTable, GrowsUpToTheLimitAndNeverShrinks) {
  TestDomain d;
  EXPECT_EQ(d.table.grow(65), GNTST_general_error);
  EXPECT_EQ(d.table.nr_frames(), 1U);
  EXPECT_EQ(d.table.grow(3), GNTST_okay);
  EXPECT_EQ(d.table.nr_frames(), 3U);
  EXPECT_EQ(d.table.grow(2), GNTST_okay);
  EXPECT_EQ(d.table.nr_frames(), 3U);
  EXPECT_EQ(d.table.grow(64), GNTST_okay);
  EXPECT_EQ(d.table.nr_entries(), 64U * 512U);
}

// Only frames setup_table handed out are mappable; none is guest RAM.
TEST(GrantTable, OnlyHandedOutFramesAreMappable) {
  TestDomain d;
  EXPECT_TRUE(d.table.is_table_frame(d.table.frame_mfn(0)));
  EXPECT_FALSE(d.table.is_table_frame(d.table.frame_mfn(1)));
  EXPECT_FALSE(d.ram.owns(d.table.frame_mfn(0)));
  ASSERT_EQ(d.table.grow(2), GNTST_okay);
  EXPECT_TRUE(d.table.is_table_frame(d.table.frame_mfn(1)));
  EXPECT_FALSE(d.table.is_table_frame(d.frame(0)));
}

// A guest L1 may map a table frame writable, as Linux does; a frame not
// yet handed out is refused like any frame that is not the domain's.
TEST(GrantTable, GuestPageTablesMayMapTableFramesOnlyOnceHandedOut) {
  TestDomain d;
  uint64_t l1 = d.frame(5);
  auto* entries = reinterpret_cast<uint64_t*>(d.bytes(l1));
  ASSERT_EQ(d.types.get_type(l1, mm::PageType::kL1), 0);
  EXPECT_EQ(d.types.update_entry(l1, 0, (d.table.frame_mfn(0) << 12) | 3, false), 0);
  EXPECT_EQ(entries[0] >> 12 & 0xffffffffff, d.table.frame_mfn(0));
  EXPECT_EQ(d.types.update_entry(l1, 1, (d.table.frame_mfn(1) << 12) | 3, false),
            xen::error(XEN_EBUSY));
  EXPECT_EQ(entries[1], 0U);
}

// The toolstack's reserved entries are ordinary grants a backend can map.
TEST(GrantTable, SeededEntriesGrantTheirFrameToTheBackend) {
  TestDomain d;
  d.table.seed(GNTTAB_RESERVED_XENSTORE, kBackend, d.frame(2));
  grant_entry_v1_t e = d.table.entry(GNTTAB_RESERVED_XENSTORE);
  EXPECT_EQ(e.flags, GTF_permit_access);
  EXPECT_EQ(e.domid, kBackend);
  EXPECT_EQ(e.frame, d.frame(2));
  GrantMapResult r = d.table.map(kBackend, GNTTAB_RESERVED_XENSTORE, false);
  ASSERT_EQ(r.status, GNTST_okay);
  EXPECT_EQ(r.mapping.mfn(), d.frame(2));
}

// --- Backend mappings ---------------------------------------------------------------

TEST(GrantTable, BackendMapsAReadOnlyGrantAndTheGuestSeesItInUse) {
  TestDomain d;
  d.bytes(d.frame(3))[100] = 0x5a;
  d.grant(7, kBackend, d.frame(3), GTF_permit_access | GTF_readonly);
  GrantMapResult r = d.table.map(kBackend, 7, /*readonly=*/true);
  ASSERT_EQ(r.status, GNTST_okay);
  EXPECT_EQ(r.mapping.mfn(), d.frame(3));
  EXPECT_EQ(r.mapping.bytes()[100], 0x5a);
  EXPECT_TRUE(r.mapping.writable_bytes().empty());
  EXPECT_EQ(d.flags(7), GTF_permit_access | GTF_readonly | GTF_reading);
  r.mapping.reset();
  EXPECT_EQ(d.flags(7), GTF_permit_access | GTF_readonly);
}

TEST(GrantTable, WritableMappingWritesTheGrantedFrameOnly) {
  TestDomain d;
  d.grant(2, kBackend, d.frame(4));
  GrantMapResult r = d.table.map(kBackend, 2, /*readonly=*/false);
  ASSERT_EQ(r.status, GNTST_okay);
  EXPECT_EQ(d.flags(2), GTF_permit_access | GTF_reading | GTF_writing);
  ASSERT_EQ(r.mapping.writable_bytes().size(), 4096U);
  r.mapping.writable_bytes()[0] = 0xab;
  EXPECT_EQ(d.bytes(d.frame(4))[0], 0xab);
  EXPECT_EQ(d.bytes(d.frame(5))[0], 0);
  GrantMapResult moved;
  moved.mapping = std::move(r.mapping);
  EXPECT_FALSE(r.mapping);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(d.flags(2) & kInUse, kInUse);
  moved.mapping.reset();
  EXPECT_EQ(d.flags(2), GTF_permit_access);
}

TEST(GrantTable, RefBeyondTheTableIsBadGntref) {
  TestDomain d;
  EXPECT_EQ(d.table.map(kBackend, 512, true).status, GNTST_bad_gntref);
  EXPECT_EQ(d.table.map(kBackend, 0xffffffff, true).status, GNTST_bad_gntref);
  ASSERT_EQ(d.table.grow(2), GNTST_okay);
  d.grant(512, kBackend, d.frame(1));
  EXPECT_EQ(d.table.map(kBackend, 512, true).status, GNTST_okay);
}

TEST(GrantTable, GrantToAnotherDomainIsRefusedAndLeftUntouched) {
  TestDomain d;
  d.grant(3, kGuest, d.frame(1));
  EXPECT_EQ(d.table.map(kBackend, 3, true).status, GNTST_general_error);
  d.grant(4, 7, d.frame(1));
  EXPECT_EQ(d.table.map(kBackend, 4, false).status, GNTST_general_error);
  EXPECT_EQ(d.flags(3), GTF_permit_access);
  EXPECT_EQ(d.flags(4), GTF_permit_access);
}

TEST(GrantTable, EntriesThatPermitNoAccessAreRefused) {
  TestDomain d;
  for (uint16_t flags :
       {static_cast<uint16_t>(GTF_invalid), static_cast<uint16_t>(GTF_accept_transfer),
        static_cast<uint16_t>(GTF_transitive),
        static_cast<uint16_t>(GTF_permit_access | GTF_sub_page)}) {
    d.grant(9, kBackend, d.frame(1), flags);
    EXPECT_EQ(d.table.map(kBackend, 9, true).status, GNTST_general_error) << flags;
    EXPECT_EQ(d.flags(9), flags);
  }
}

TEST(GrantTable, ReadOnlyGrantCannotBeMappedWritable) {
  TestDomain d;
  d.grant(5, kBackend, d.frame(2), GTF_permit_access | GTF_readonly);
  EXPECT_EQ(d.table.map(kBackend, 5, /*readonly=*/false).status, GNTST_general_error);
  EXPECT_EQ(d.flags(5), GTF_permit_access | GTF_readonly);
  GrantMapResult r = d.table.map(kBackend, 5, true);
  ASSERT_EQ(r.status, GNTST_okay);
  // Pinned read-only, a writable mapping is still checked against the flag.
  EXPECT_EQ(d.table.map(kBackend, 5, false).status, GNTST_general_error);
  EXPECT_EQ(d.flags(5), GTF_permit_access | GTF_readonly | GTF_reading);
}

// Xen's get_paged_frame: the frame must be the granting domain's.
TEST(GrantTable, GrantOfAFrameOutsideRamIsBadPageAndLeavesNoBits) {
  TestDomain d;
  for (uint64_t mfn : {uint64_t{0}, kBaseMfn - 1, kBaseMfn + kFrames, d.table.frame_mfn(0)}) {
    d.grant(6, kBackend, mfn);
    EXPECT_EQ(d.table.map(kBackend, 6, false).status, GNTST_bad_page) << mfn;
    EXPECT_EQ(d.flags(6), GTF_permit_access) << mfn;
  }
}

// Ballooning: a frame the domain gave back is no frame to grant, and a
// frame a grantee holds stays the domain's until the grantee lets go
// (Xen's get_page on the granted frame).
TEST(GrantTable, GrantOfAFrameGivenBackIsBadPage) {
  TestDomain d;
  ASSERT_EQ(d.types.release(d.frame(17)), 0);
  ASSERT_FALSE(d.types.owns(d.frame(17)));
  d.grant(26, kBackend, d.frame(17));
  EXPECT_EQ(d.table.map(kBackend, 26, true).status, GNTST_bad_page);
  EXPECT_EQ(d.flags(26), GTF_permit_access);
  EXPECT_EQ(d.table.claim_own_frame(d.frame(17), true).status, GNTST_bad_page);
}

TEST(GrantTable, AMappedFrameStaysTheDomainsUntilUnmapped) {
  TestDomain d;
  d.grant(27, kBackend, d.frame(18));
  GrantMapResult first = d.table.map(kBackend, 27, true);
  GrantMapResult second = d.table.map(kBackend, 27, true);
  ASSERT_EQ(first.status, GNTST_okay);
  ASSERT_EQ(second.status, GNTST_okay);
  ASSERT_EQ(d.types.release(d.frame(18)), 0);
  EXPECT_TRUE(d.types.owns(d.frame(18)));
  first.mapping.reset();
  EXPECT_TRUE(d.types.owns(d.frame(18)));
  second.mapping.reset();
  EXPECT_FALSE(d.types.owns(d.frame(18)));
  EXPECT_EQ(d.types.check_invariants(), "");
}

TEST(GrantTable, InUseBitsStayUntilTheLastAccessOfTheirKindEnds) {
  TestDomain d;
  d.grant(1, kBackend, d.frame(2));
  GrantMapResult a = d.table.map(kBackend, 1, true);
  GrantMapResult b = d.table.map(kBackend, 1, false);
  GrantMapResult c = d.table.map(kBackend, 1, true);
  ASSERT_EQ(a.status, GNTST_okay);
  ASSERT_EQ(b.status, GNTST_okay);
  ASSERT_EQ(c.status, GNTST_okay);
  EXPECT_EQ(d.flags(1) & kInUse, kInUse);
  b.mapping.reset();
  EXPECT_EQ(d.flags(1) & kInUse, GTF_reading);
  a.mapping.reset();
  EXPECT_EQ(d.flags(1) & kInUse, GTF_reading);
  c.mapping.reset();
  EXPECT_EQ(d.flags(1), GTF_permit_access);
}

// The guest's side of revocation (grant_table.h: "Invalidating an in-use
// GTF_permit_access entry"): it may take the grant back only with a
// compare-and-exchange that finds no in-use bit.
bool guest_revokes(TestDomain& d, grant_ref_t ref) {
  uint16_t flags = d.flags(ref);
  if ((flags & kInUse) != 0) return false;
  return __atomic_compare_exchange_n(&d.shared(ref)->flags, &flags, uint16_t{0}, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

TEST(GrantTable, AGrantInUseCannotBeRevokedSilently) {
  TestDomain d;
  d.grant(8, kBackend, d.frame(6));
  GrantMapResult r = d.table.map(kBackend, 8, false);
  ASSERT_EQ(r.status, GNTST_okay);
  EXPECT_FALSE(guest_revokes(d, 8));
  r.mapping.reset();
  EXPECT_TRUE(guest_revokes(d, 8));
  EXPECT_EQ(d.table.map(kBackend, 8, true).status, GNTST_general_error);
}

// A guest that rewrites a pinned entry cannot move the pinned mapping to
// another frame: the frame is fixed by the first pin (Xen's active entry).
TEST(GrantTable, RewritingAPinnedEntryDoesNotMoveTheMapping) {
  TestDomain d;
  d.grant(10, kBackend, d.frame(3));
  GrantMapResult first = d.table.map(kBackend, 10, true);
  ASSERT_EQ(first.status, GNTST_okay);
  d.shared(10)->frame = static_cast<uint32_t>(d.frame(20));
  GrantMapResult second = d.table.map(kBackend, 10, true);
  ASSERT_EQ(second.status, GNTST_okay);
  EXPECT_EQ(second.mapping.mfn(), d.frame(3));
}

TEST(GrantTable, PinnedGrantRefusesAnotherGrantee) {
  TestDomain d;
  d.grant(11, kBackend, d.frame(3));
  GrantMapResult held = d.table.map(kBackend, 11, true);
  ASSERT_EQ(held.status, GNTST_okay);
  d.grant(11, kGuest, d.frame(3), GTF_permit_access | GTF_reading);
  EXPECT_EQ(d.table.map(kGuest, 11, true).status, GNTST_general_error);
}

// A page table must never be writable outside PageTypes: a writable
// mapping holds the writable type, and a typed frame cannot be mapped so.
TEST(GrantTable, WritableMappingOfAPageTableIsRefused) {
  TestDomain d;
  ASSERT_EQ(d.types.get_type(d.frame(7), mm::PageType::kL1), 0);
  d.grant(12, kBackend, d.frame(7));
  EXPECT_EQ(d.table.map(kBackend, 12, false).status, GNTST_general_error);
  EXPECT_EQ(d.flags(12), GTF_permit_access);
  EXPECT_EQ(d.table.map(kBackend, 12, true).status, GNTST_okay);
}

TEST(GrantTable, WritableMappingKeepsTheFrameFromBecomingAPageTable) {
  TestDomain d;
  d.grant(13, kBackend, d.frame(8));
  GrantMapResult r = d.table.map(kBackend, 13, false);
  ASSERT_EQ(r.status, GNTST_okay);
  EXPECT_EQ(d.types.pin(d.frame(8), 1), xen::error(XEN_EINVAL));
  r.mapping.reset();
  EXPECT_EQ(d.types.pin(d.frame(8), 1), 0);
}

// The guest flips GTF_readonly while the backend maps and unmaps: no
// update of either side is lost (every change is atomic), and no bit is
// left set once the backend is done. The two run side by side until the
// guest has flipped the flag many times during the backend's work.
TEST(GrantTable, RacingGuestFlagChangesAreNeverLost) {
  TestDomain d;
  d.grant(14, kBackend, d.frame(9));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> toggles{0};
  uint64_t lost = 0;  // flips the guest finds undone
  std::thread guest([&] {
    bool readonly = false;  // only the guest changes the flag
    while (!stop.load(std::memory_order_relaxed)) {
      uint16_t old = __atomic_fetch_xor(&d.shared(14)->flags, static_cast<uint16_t>(GTF_readonly),
                                        __ATOMIC_SEQ_CST);
      if (((old & GTF_readonly) != 0) != readonly) ++lost;
      readonly = (old & GTF_readonly) == 0;
      toggles.fetch_add(1, std::memory_order_relaxed);
    }
  });
  while (toggles.load() == 0)
    std::this_thread::yield();
  unsigned mapped = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (int i = 0;
       i < 200000 || (toggles.load() < 1000000 && std::chrono::steady_clock::now() < deadline);
       ++i) {
    GrantMapResult r = d.table.map(kBackend, 14, false);
    ASSERT_TRUE(r.status == GNTST_okay || r.status == GNTST_general_error) << r.status;
    if (r.status == GNTST_okay) {
      ++mapped;
      EXPECT_EQ(d.flags(14) & kInUse, kInUse);
    }
  }
  stop = true;
  guest.join();
  EXPECT_GT(mapped, 0U);
  EXPECT_EQ(lost, 0U);
  EXPECT_EQ(d.flags(14) & ~GTF_readonly, GTF_permit_access);
}

// The guest re-grants the entry to another domain at random: a mapping is
// made only while the entry names the backend.
TEST(GrantTable, RacingDomidChangesNeverLetTheWrongGranteeIn) {
  TestDomain d;
  d.grant(15, kGuest, d.frame(9));
  std::atomic<bool> stop{false};
  auto* word = reinterpret_cast<uint32_t*>(d.shared(15));
  std::thread guest([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      // flags stay; domid alternates between the guest and the backend.
      __atomic_fetch_xor(word, static_cast<uint32_t>(kGuest ^ kBackend) << 16, __ATOMIC_SEQ_CST);
    }
  });
  for (int i = 0; i < 20000; ++i) {
    GrantMapResult r = d.table.map(kBackend, 15, true);
    if (r.status == GNTST_okay) {
      // The pin was taken on an entry naming the backend; the guest may
      // have changed domid since, which Xen also tolerates once pinned.
      EXPECT_EQ(r.mapping.mfn(), d.frame(9));
    } else {
      EXPECT_EQ(r.status, GNTST_general_error);
    }
  }
  stop = true;
  guest.join();
  EXPECT_EQ(d.flags(15) & kInUse, 0);
}

// --- Copies for backends -------------------------------------------------------------

TEST(GrantTable, BackendCopiesToAndFromAGrantWithinItsFrame) {
  TestDomain d;
  d.grant(16, kBackend, d.frame(10));
  std::array<uint8_t, 4> in{1, 2, 3, 4};
  EXPECT_EQ(d.table.copy_to_grant(kBackend, 16, 4092, in), GNTST_okay);
  EXPECT_EQ(std::memcmp(d.bytes(d.frame(10)) + 4092, in.data(), 4), 0);
  std::array<uint8_t, 4> out{};
  EXPECT_EQ(d.table.copy_from_grant(kBackend, 16, 4092, out), GNTST_okay);
  EXPECT_EQ(out, in);
  EXPECT_EQ(d.table.copy_to_grant(kBackend, 16, 4093, in), GNTST_bad_copy_arg);
  EXPECT_EQ(d.table.copy_from_grant(kBackend, 16, 65535, out), GNTST_bad_copy_arg);
  EXPECT_EQ(d.bytes(d.frame(11))[0], 0);
  EXPECT_EQ(d.flags(16), GTF_permit_access);
}

TEST(GrantTable, BackendCannotCopyIntoAReadOnlyGrant) {
  TestDomain d;
  d.grant(17, kBackend, d.frame(10), GTF_permit_access | GTF_readonly);
  std::array<uint8_t, 1> in{9};
  EXPECT_EQ(d.table.copy_to_grant(kBackend, 17, 0, in), GNTST_general_error);
  EXPECT_EQ(d.bytes(d.frame(10))[0], 0);
  std::array<uint8_t, 1> out{};
  EXPECT_EQ(d.table.copy_from_grant(kBackend, 17, 0, out), GNTST_okay);
}

TEST(GrantTable, OwnFrameClaimsAreLimitedToRamAndUntypedFrames) {
  TestDomain d;
  EXPECT_EQ(d.table.claim_own_frame(kBaseMfn + kFrames, true).status, GNTST_bad_page);
  EXPECT_EQ(d.table.claim_own_frame(d.table.frame_mfn(0), true).status, GNTST_bad_page);
  ASSERT_EQ(d.types.get_type(d.frame(12), mm::PageType::kL1), 0);
  EXPECT_EQ(d.table.claim_own_frame(d.frame(12), false).status, GNTST_general_error);
  EXPECT_EQ(d.table.claim_own_frame(d.frame(12), true).status, GNTST_okay);
}

// --- The owner's own mappings (map_grant_ref) --------------------------------------

struct PteLog {
  std::vector<uint64_t> installed, removed;
  int16_t install_result = GNTST_okay;
};

GuestMapResult guest_map(TestDomain& d, PteLog& log, grant_ref_t ref, uint32_t flags) {
  return d.table.map_for_guest(kGuest, ref, flags, [&](uint64_t mfn, uint32_t) {
    if (log.install_result == GNTST_okay) log.installed.push_back(mfn);
    return log.install_result;
  });
}

int16_t guest_unmap(TestDomain& d, PteLog& log, grant_handle_t handle, uint64_t host_addr,
                    uint64_t dev_bus_addr) {
  return d.table.unmap_for_guest(handle, host_addr, dev_bus_addr, [&](uint64_t mfn, uint32_t) {
    log.removed.push_back(mfn);
    return int16_t{GNTST_okay};
  });
}

TEST(GrantTable, OwnerMapsItsOwnGrantAndUnmapsByHandle) {
  TestDomain d;
  PteLog log;
  d.grant(20, kGuest, d.frame(13));
  GuestMapResult r = guest_map(d, log, 20, GNTMAP_host_map);
  ASSERT_EQ(r.status, GNTST_okay);
  EXPECT_EQ(r.dev_bus_addr, d.frame(13) << 12);
  EXPECT_EQ(log.installed, std::vector<uint64_t>{d.frame(13)});
  EXPECT_EQ(d.flags(20) & kInUse, kInUse);
  // Nothing named: nothing unmapped, the handle stays.
  EXPECT_EQ(guest_unmap(d, log, r.handle, 0, 0), GNTST_okay);
  EXPECT_EQ(d.flags(20) & kInUse, kInUse);
  EXPECT_EQ(guest_unmap(d, log, r.handle, 0x1000, 0), GNTST_okay);
  EXPECT_EQ(log.removed, std::vector<uint64_t>{d.frame(13)});
  EXPECT_EQ(d.flags(20), GTF_permit_access);
  EXPECT_EQ(guest_unmap(d, log, r.handle, 0x1000, 0), GNTST_bad_handle);
}

TEST(GrantTable, OwnerMapRequestsAreCheckedAsXenChecksThem) {
  TestDomain d;
  PteLog log;
  d.grant(21, kBackend, d.frame(13));
  EXPECT_EQ(guest_map(d, log, 21, GNTMAP_readonly).status, GNTST_bad_gntref);
  EXPECT_EQ(guest_map(d, log, 21, GNTMAP_host_map).status, GNTST_general_error);  // not ours
  EXPECT_EQ(guest_map(d, log, 4096, GNTMAP_host_map).status, GNTST_bad_gntref);
  d.grant(22, kGuest, d.frame(13), GTF_permit_access | GTF_readonly);
  EXPECT_EQ(guest_map(d, log, 22, GNTMAP_host_map).status, GNTST_general_error);
  EXPECT_TRUE(log.installed.empty());
  EXPECT_EQ(d.flags(21), GTF_permit_access);
  EXPECT_EQ(d.flags(22), GTF_permit_access | GTF_readonly);
}

TEST(GrantTable, FailedPteInstallLeavesTheGrantFree) {
  TestDomain d;
  PteLog log;
  log.install_result = GNTST_general_error;
  d.grant(23, kGuest, d.frame(14));
  EXPECT_EQ(guest_map(d, log, 23, GNTMAP_host_map).status, GNTST_general_error);
  EXPECT_EQ(d.flags(23), GTF_permit_access);
}

TEST(GrantTable, DeviceMappingsCheckTheBusAddressOnUnmap) {
  TestDomain d;
  PteLog log;
  d.grant(24, kGuest, d.frame(15));
  GuestMapResult r = guest_map(d, log, 24, GNTMAP_device_map | GNTMAP_host_map);
  ASSERT_EQ(r.status, GNTST_okay);
  EXPECT_EQ(guest_unmap(d, log, r.handle, 0, (d.frame(16) << 12)), GNTST_bad_dev_addr);
  EXPECT_EQ(d.flags(24) & kInUse, kInUse);
  EXPECT_EQ(guest_unmap(d, log, r.handle, 0, r.dev_bus_addr), GNTST_okay);
  EXPECT_EQ(d.flags(24) & kInUse, kInUse);  // the host mapping remains
  EXPECT_TRUE(log.removed.empty());
  EXPECT_EQ(guest_unmap(d, log, r.handle, 0x2000, 0), GNTST_okay);
  EXPECT_EQ(d.flags(24), GTF_permit_access);
  EXPECT_EQ(d.types.pin(d.frame(15), 1), 0);  // no writable type left behind
}

// unmap_common checks the bus address only of a device mapping: a host
// mapping is unmapped whatever dev_bus_addr says.
TEST(GrantTable, HostOnlyMappingsIgnoreTheBusAddressOnUnmap) {
  TestDomain d;
  PteLog log;
  d.grant(25, kGuest, d.frame(15));
  GuestMapResult r = guest_map(d, log, 25, GNTMAP_host_map);
  ASSERT_EQ(r.status, GNTST_okay);
  EXPECT_EQ(guest_unmap(d, log, r.handle, 0x2000, (d.frame(16) << 12)), GNTST_okay);
  EXPECT_EQ(log.removed, std::vector<uint64_t>{d.frame(15)});
  EXPECT_EQ(d.flags(25), GTF_permit_access);
  EXPECT_EQ(guest_unmap(d, log, r.handle, 0x2000, 0), GNTST_bad_handle);
}

TEST(GrantTable, UnknownHandlesAreBadHandles) {
  TestDomain d;
  PteLog log;
  EXPECT_EQ(guest_unmap(d, log, 0, 0x1000, 0), GNTST_bad_handle);
  EXPECT_EQ(guest_unmap(d, log, 0xffffffff, 0x1000, 0), GNTST_bad_handle);
}

}  // namespace
}  // namespace xpv
