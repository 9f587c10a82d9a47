// memory_op (xen/common/memory.c do_memory_op, x86 arch_memory_op): what
// the domain learns about its memory. The low 6 bits of cmd are the command;
// the bits above carry a continuation's start extent.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

namespace {

using namespace selftest;
using xpv::guest::hypercall;
using xpv::guest::start_info_page;

// One BIOS E820 entry, the format of XENMEM_memory_map's buffer. Xen's
// public headers leave this structure to the guest.
struct [[gnu::packed]] E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};
static_assert(sizeof(E820Entry) == 20);
constexpr uint32_t kE820Ram = 1;

constexpr uint64_t kMemopExtentShift = 6;  // MEMOP_EXTENT_SHIFT (xen/hypercall.h)

long memory_op(uint64_t cmd, uint64_t arg) {
  return hypercall(__HYPERVISOR_memory_op, cmd, arg);
}

long memory_op(uint64_t cmd, const void* arg) {
  return memory_op(cmd, reinterpret_cast<uintptr_t>(arg));
}

uint64_t highest_p2m_mfn() {
  uint64_t highest = 0;
  for (uint64_t pfn = 0; pfn < start_info_page().nr_pages; ++pfn) {
    if (p2m()[pfn] > highest) highest = p2m()[pfn];
  }
  return highest;
}

long memory_map(unsigned nr_entries, void* buffer, unsigned* nr_entries_out) {
  xen_memory_map_t map{};
  map.nr_entries = nr_entries;
  set_xen_guest_handle(map.buffer, buffer);
  long rc = memory_op(XENMEM_memory_map, &map);
  *nr_entries_out = map.nr_entries;
  return rc;
}

// The domain is all the RAM this machine has, so its highest MFN is the
// highest RAM page.
XPV_TEST(MaximumRamPageIsTheHighestRamMfn) {
  XPV_EXPECT_EQ(memory_op(XENMEM_maximum_ram_page, uint64_t{0}), highest_p2m_mfn());
}

XPV_TEST(ReservationsOfSelfAreNrPages) {
  domid_t self = DOMID_SELF;
  XPV_EXPECT_EQ(memory_op(XENMEM_current_reservation, &self), start_info_page().nr_pages);
  XPV_EXPECT_EQ(memory_op(XENMEM_maximum_reservation, &self), start_info_page().nr_pages);
}

// Domain 0 is left out: it exists on Xen, where the answer is -EPERM.
XPV_TEST(ReservationsOfAnotherDomainFailWithEsrch) {
  constexpr domid_t kOtherDomains[] = {1234, 0x7fef, DOMID_IO};
  for (domid_t other : kOtherDomains) {
    XPV_EXPECT_EQ(memory_op(XENMEM_current_reservation, &other), -XEN_ESRCH);
    XPV_EXPECT_EQ(memory_op(XENMEM_maximum_reservation, &other), -XEN_ESRCH);
  }
}

XPV_TEST(ReservationsWithBadPointerFailWithEfault) {
  for (uint64_t address : kBadAddresses) {
    XPV_EXPECT_EQ(memory_op(XENMEM_current_reservation, address), -XEN_EFAULT);
    XPV_EXPECT_EQ(memory_op(XENMEM_maximum_reservation, address), -XEN_EFAULT);
  }
}

// These commands are never continued, so Xen refuses a start extent.
XPV_TEST(StartExtentOnANonContinuableCommandFailsWithEinval) {
  if (!known_bug_check_enabled("memop-start-extent")) return;
  domid_t self = DOMID_SELF;
  constexpr uint64_t kExtent = 1ULL << kMemopExtentShift;
  XPV_EXPECT_EQ(memory_op(kExtent | XENMEM_maximum_ram_page, uint64_t{0}), -XEN_EINVAL);
  XPV_EXPECT_EQ(memory_op(kExtent | XENMEM_current_reservation, &self), -XEN_EINVAL);
  XPV_EXPECT_EQ(memory_op(kExtent | XENMEM_maximum_reservation, &self), -XEN_EINVAL);
}

// libxl's map: one RAM entry from 0 covering the domain's pages.
XPV_TEST(MemoryMapIsOneRamEntryCoveringAllPages) {
  E820Entry entries[4];
  memset(entries, 0xaa, sizeof entries);
  unsigned returned = 0;
  XPV_ASSERT_EQ(memory_map(4, entries, &returned), 0);
  XPV_ASSERT_EQ(returned, 1);
  XPV_EXPECT_EQ(entries[0].addr, 0);
  XPV_EXPECT_EQ(entries[0].size, start_info_page().nr_pages * 4096);
  XPV_EXPECT_EQ(entries[0].type, kE820Ram);
  XPV_EXPECT_EQ(entries[1].type, 0xaaaaaaaa);  // untouched
}

// nr_entries = min(requested, entries in the map): asking for none copies
// nothing, so even a bad buffer is never touched.
XPV_TEST(MemoryMapWithRoomForNoEntriesCopiesNothing) {
  for (uint64_t address : kBadAddresses) {
    unsigned returned = 99;
    XPV_EXPECT_EQ(memory_map(0, reinterpret_cast<void*>(address), &returned), 0);
    XPV_EXPECT_EQ(returned, 0);
  }
}

XPV_TEST(MemoryMapWithBadPointersFailsWithEfault) {
  unsigned returned = 0;
  for (uint64_t address : kBadAddresses) {
    XPV_EXPECT_EQ(memory_map(1, reinterpret_cast<void*>(address), &returned), -XEN_EFAULT);
    XPV_EXPECT_EQ(memory_op(XENMEM_memory_map, address), -XEN_EFAULT);
  }
}

// The M2P sits in the hypervisor hole and covers every machine frame of
// the domain.
XPV_TEST(MachphysMappingDescribesAnM2pInTheHole) {
  xen_machphys_mapping_t mapping{};
  XPV_ASSERT_EQ(memory_op(XENMEM_machphys_mapping, &mapping), 0);
  XPV_EXPECT(mapping.v_start >= HYPERVISOR_VIRT_START);
  XPV_EXPECT(mapping.v_end <= HYPERVISOR_VIRT_END);
  XPV_EXPECT_EQ(mapping.v_start & 4095, 0);
  XPV_EXPECT(mapping.v_end > mapping.v_start);
  XPV_EXPECT((mapping.v_end - mapping.v_start) / 8 >= mapping.max_mfn + 1);
  XPV_EXPECT(mapping.max_mfn >= highest_p2m_mfn());
}

XPV_TEST(MachphysMappingWithBadPointerFailsWithEfault) {
  for (uint64_t address : kBadAddresses) {
    XPV_EXPECT_EQ(memory_op(XENMEM_machphys_mapping, address), -XEN_EFAULT);
  }
}

// The guest reads the M2P directly; it must invert the P2M. Machine frames
// need not equal pseudo-physical ones (on xpv they never do).
XPV_TEST(M2pInvertsTheP2mForEveryPfn) {
  uint64_t nr_pages = start_info_page().nr_pages;
  uint64_t mismatches = 0;
  uint64_t identity = 0;
  for (uint64_t pfn = 0; pfn < nr_pages; ++pfn) {
    uint64_t mfn = p2m()[pfn];
    if (m2p(mfn) != pfn) {
      if (mismatches++ < 4)
        xpv::guest::printk("  pfn %#lx -> mfn %#lx -> %#lx\n", pfn, mfn, m2p(mfn));
    }
    if (mfn == pfn) ++identity;
  }
  XPV_EXPECT_EQ(mismatches, 0);
  xpv::guest::printk("  %lu pfns, %lu with mfn == pfn\n", nr_pages, identity);
}

XPV_TEST(UnknownCommandFailsWithEnosys) {
  XPV_EXPECT_EQ(memory_op(60, uint64_t{0}), -XEN_ENOSYS);
  XPV_EXPECT_EQ(memory_op(63, uint64_t{0}), -XEN_ENOSYS);
}

}  // namespace
