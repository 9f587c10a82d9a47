// start_info as libxc fills it for a 64-bit PV domU (linux-pv-guest.md 2.1
// and 2.3): the fields a Linux kernel reads before it makes any hypercall.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

extern "C" const char _end[];  // guest.ld: the end of the kernel image

namespace {

using namespace selftest;
using xpv::guest::hypercall;
using xpv::guest::pfn_of;
using xpv::guest::start_info_page;

uint64_t start_info_pfn() {
  return pfn_of(&start_info_page());
}

long current_reservation() {
  domid_t self = DOMID_SELF;
  return hypercall(__HYPERVISOR_memory_op, XENMEM_current_reservation,
                   reinterpret_cast<uintptr_t>(&self));
}

XPV_TEST(StartInfoMagicIsXen30X86_64) {
  XPV_EXPECT(equals(start_info_page().magic, "xen-3.0-x86_64"));
}

// The host passes nr_pages=<--memory * 256> so that the count is checked
// against what the user asked for, not only against another hypercall.
XPV_TEST(NrPagesMatchesTheRequestedMemory) {
  const auto& si = start_info_page();
  XPV_EXPECT(si.nr_pages > 0);
  XPV_EXPECT_EQ(current_reservation(), si.nr_pages);
  uint64_t expected = 0;
  if (option_number("nr_pages", &expected)) XPV_EXPECT_EQ(si.nr_pages, expected);
}

XPV_TEST(CommandLineIsNulTerminated) {
  XPV_EXPECT(is_nul_terminated(command_line(), MAX_GUEST_CMDLINE));
}

// shared_info is a machine address (Linux maps it with set_fixmap), and the
// page belongs to the hypervisor: it is in no P2M slot.
XPV_TEST(SharedInfoIsAMachineAddressOutsideGuestRam) {
  const auto& si = start_info_page();
  XPV_EXPECT(si.shared_info != 0);
  XPV_EXPECT_EQ(si.shared_info & 4095, 0);
  uint64_t shared_info_mfn = si.shared_info >> 12;
  long max_ram_mfn = hypercall(__HYPERVISOR_memory_op, XENMEM_maximum_ram_page, 0);
  XPV_EXPECT(shared_info_mfn > static_cast<uint64_t>(max_ram_mfn));
  uint64_t in_p2m = 0;
  for (uint64_t pfn = 0; pfn < si.nr_pages; ++pfn) {
    if (p2m()[pfn] == shared_info_mfn) ++in_p2m;
  }
  XPV_EXPECT_EQ(in_p2m, 0);
}

// No initrd, and a domU is never the initial domain.
XPV_TEST(FlagsAndModuleFieldsAreZeroWithoutARamdisk) {
  const auto& si = start_info_page();
  XPV_EXPECT_EQ(si.flags, 0);
  XPV_EXPECT_EQ(si.mod_start, 0);
  XPV_EXPECT_EQ(si.mod_len, 0);
}

// libxl allocates the xenstore port first, then the console port.
XPV_TEST(EventChannelPortsAreTheLibxlDefaults) {
  XPV_EXPECT_EQ(start_info_page().store_evtchn, 1);
  XPV_EXPECT_EQ(start_info_page().console.domU.evtchn, 2);
}

// libxc allocates start_info, the xenstore page, the console page and the
// bootstrap page tables one after the other (xc_dom_build_image). Linux
// relies on store_mfn and console.domU.mfn being in the M2P.
XPV_TEST(XenstoreConsoleAndPageTablesFollowStartInfo) {
  const auto& si = start_info_page();
  uint64_t pfn = start_info_pfn();
  XPV_EXPECT_EQ(m2p(si.store_mfn), pfn + 1);
  XPV_EXPECT_EQ(m2p(si.console.domU.mfn), pfn + 2);
  XPV_EXPECT_EQ(p2m()[pfn + 1], si.store_mfn);
  XPV_EXPECT_EQ(p2m()[pfn + 2], si.console.domU.mfn);
  XPV_EXPECT_EQ(si.pt_base & 4095, 0);
  XPV_EXPECT_EQ(si.pt_base, kernel_va_of_pfn(pfn + 3));
  XPV_EXPECT(si.nr_pt_frames >= 4);  // at least L4, L3, L2 and one L1
}

// Without an INIT_P2M note the P2M goes inside the kernel mapping, after the
// kernel image and before start_info, and the INIT_P2M fields stay 0.
XPV_TEST(P2mIsInsideTheKernelMappingWithoutInitP2m) {
  const auto& si = start_info_page();
  XPV_EXPECT_EQ(si.mfn_list & 4095, 0);
  XPV_EXPECT(si.mfn_list >= reinterpret_cast<uint64_t>(_end));
  uint64_t p2m_bytes = si.nr_pages * sizeof(xen_pfn_t);
  XPV_EXPECT(si.mfn_list + p2m_bytes <= reinterpret_cast<uint64_t>(&si));
  XPV_EXPECT_EQ(si.first_p2m_pfn, 0);
  XPV_EXPECT_EQ(si.nr_p2m_frames, 0);
}

}  // namespace
