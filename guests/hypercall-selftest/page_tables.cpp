// The bootstrap page tables (linux-pv-guest.md 2.2), read through the
// guest's own mapping of them. Writing to them would fault and crash the
// domain, so their protection is checked by reading their L1 entries.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

extern "C" const char _end[];

namespace {

using namespace selftest;
using xpv::guest::pfn_of;
using xpv::guest::start_info_page;

constexpr uint64_t k2MiB = 2ULL << 20;
constexpr uint64_t k4MiB = 4ULL << 20;

uint64_t pt_base_pfn() {
  return pfn_of(reinterpret_cast<const void*>(start_info_page().pt_base));
}

// The kernel is mapped at VIRT_BASE + paddr: every page of the initial
// mapping maps the frame the P2M gives for its pfn, from pfn 0 up.
XPV_TEST(KernelMappingIsVirtBasePlusPseudoPhysical) {
  uint64_t end = kernel_mapping_end();
  XPV_ASSERT(end > reinterpret_cast<uint64_t>(_end));
  uint64_t mismatches = 0;
  for (uint64_t va = virt_base(); va < end; va += 4096) {
    uint64_t pfn = (va - virt_base()) >> 12;
    if (walk(va).mfn() != p2m()[pfn] || m2p(p2m()[pfn]) != pfn) ++mismatches;
  }
  XPV_EXPECT_EQ(mismatches, 0);
  XPV_EXPECT_EQ(walk(reinterpret_cast<uint64_t>(&xpv::guest::hypercall_page)).mfn(),
                xpv::guest::mfn_of(&xpv::guest::hypercall_page));
}

// libxc's shape: L4[511] -> L3, L3[510] -> L2, L2[0..] -> L1s, in the frame
// order L4, L3, L2, L1... (Linux's check_pt_base frees the first three).
XPV_TEST(BootstrapTablesAreL4ThenL3ThenL2ThenL1s) {
  const auto& si = start_info_page();
  uint64_t first = pt_base_pfn();
  const uint64_t* l4 = reinterpret_cast<const uint64_t*>(si.pt_base);
  XPV_EXPECT_EQ((l4[511] & Walk::kAddressMask) >> 12, p2m()[first + 1]);
  const uint64_t* l3 = table_of(p2m()[first + 1]);
  XPV_ASSERT(l3 != nullptr);
  XPV_EXPECT_EQ((l3[510] & Walk::kAddressMask) >> 12, p2m()[first + 2]);
  const uint64_t* l2 = table_of(p2m()[first + 2]);
  XPV_ASSERT(l2 != nullptr);
  uint64_t nr_l1 = si.nr_pt_frames - 3;
  for (uint64_t i = 0; i < nr_l1; ++i) {
    XPV_EXPECT_EQ((l2[i] & Walk::kAddressMask) >> 12, p2m()[first + 3 + i]);
  }
  XPV_EXPECT_EQ(l2[nr_l1] & Walk::kPresent, 0);
  XPV_EXPECT_EQ(nr_l1, (kernel_mapping_end() - virt_base()) / k2MiB);
}

// Apart from the kernel mapping, only the hypervisor's own slots may be in
// the guest's L4 (no INIT_P2M here, so the user half is empty).
XPV_TEST(L4HoldsOnlyTheKernelMappingAndTheHole) {
  const uint64_t* l4 = reinterpret_cast<const uint64_t*>(start_info_page().pt_base);
  for (unsigned slot = 0; slot < 511; ++slot) {
    bool in_hole = slot >= 256 && slot <= 271;
    if (!in_hole) XPV_EXPECT_EQ(l4[slot] & Walk::kPresent, 0);
  }
  XPV_EXPECT((l4[511] & Walk::kPresent) != 0);
}

// The mapping ends on a 4 MiB boundary and leaves room after the page tables
// for the boot stack and 128 spare pages (alloc_pgtables_pv).
XPV_TEST(KernelMappingEndsOn4MiBWithSparePages) {
  uint64_t end = kernel_mapping_end();
  XPV_EXPECT_EQ(end % k4MiB, 0);
  uint64_t tables_end = start_info_page().pt_base + start_info_page().nr_pt_frames * 4096;
  XPV_EXPECT(end >= tables_end + 4096 + 128 * 4096);
}

// Xen never lets a PV guest write a page-table frame directly: the
// bootstrap tables are mapped read-only, everything else read-write.
XPV_TEST(PageTableFramesAreMappedReadOnly) {
  const auto& si = start_info_page();
  Walk pt_base = walk(si.pt_base);
  XPV_ASSERT(pt_base.mapped());
  XPV_EXPECT_EQ(pt_base.l1() & Walk::kWritable, 0);
  for (uint64_t i = 0; i < si.nr_pt_frames; ++i) {
    Walk frame = walk(si.pt_base + i * 4096);
    XPV_EXPECT(frame.mapped());
    XPV_EXPECT_EQ(frame.l1() & Walk::kWritable, 0);
  }
}

XPV_TEST(OtherKernelPagesAreMappedWritable) {
  static int data_variable = 1;
  const uint64_t addresses[] = {
      reinterpret_cast<uint64_t>(&data_variable), reinterpret_cast<uint64_t>(&start_info_page()),
      start_info_page().mfn_list,
      start_info_page().pt_base + start_info_page().nr_pt_frames * 4096,  // boot stack
  };
  for (uint64_t va : addresses) {
    Walk w = walk(va);
    XPV_EXPECT(w.mapped());
    XPV_EXPECT((w.l1() & Walk::kWritable) != 0);
  }
}

// A hypercall's output goes through the same protection: Xen refuses to
// write into a read-only page-table frame or into the hypervisor hole, and
// neither changes.
XPV_TEST(HypercallsCannotWriteThePageTablesOrTheHole) {
  const auto& si = start_info_page();
  uint64_t l4_before[4];
  memcpy(l4_before, reinterpret_cast<const void*>(si.pt_base), sizeof l4_before);
  XPV_EXPECT_EQ(xpv::guest::xen_version(XENVER_extraversion, reinterpret_cast<void*>(si.pt_base)),
                -XEN_EFAULT);
  XPV_EXPECT_EQ(memcmp(l4_before, reinterpret_cast<const void*>(si.pt_base), sizeof l4_before), 0);

  uint64_t m2p_start = machphys_mapping().v_start;
  uint64_t m2p_before = m2p(0);
  XPV_EXPECT_EQ(xpv::guest::xen_version(XENVER_extraversion, reinterpret_cast<void*>(m2p_start)),
                -XEN_EFAULT);
  XPV_EXPECT_EQ(m2p(0), m2p_before);
  XPV_EXPECT_EQ(xpv::guest::xen_version(XENVER_extraversion, reinterpret_cast<void*>(kHoleAddress)),
                -XEN_EFAULT);
}

// The M2P is guest-readable by loads, but Xen's guest-copy routines refuse
// every address in the hypervisor range, readable or not.
XPV_TEST(HypercallsCannotReadFromTheHole) {
  uint64_t m2p_start = machphys_mapping().v_start;
  XPV_EXPECT_EQ(xpv::guest::console_write(reinterpret_cast<const char*>(m2p_start), 8),
                -XEN_EFAULT);
  XPV_EXPECT_EQ(xpv::guest::console_write(reinterpret_cast<const char*>(kHoleAddress), 8),
                -XEN_EFAULT);
}

}  // namespace
