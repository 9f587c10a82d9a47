// The other instructions a kernel may execute: hlt, wbinvd, invd,
// xsetbv and rdtsc.
#include "priv-op-selftest/priv_op.hpp"
#include "runtime/test.hpp"

namespace {

using namespace priv_op;

// Xen does not emulate hlt for a PV guest, which blocks with SCHEDOP_block.
XPV_TEST(HltRaisesGpAtTheHlt) {
  Trap trap = try_run([] { priv_probe_hlt(); });
  XPV_EXPECT(trap.taken);
  XPV_EXPECT_EQ(trap.vector, kGeneralProtection);
  XPV_EXPECT_EQ(trap.error_code, 0u);
  XPV_EXPECT_EQ(trap.rip, reinterpret_cast<uintptr_t>(priv_probe_hlt_site));
}

XPV_TEST(WbinvdIsIgnored) {
  XPV_EXPECT(!try_run([] { wbinvd(); }).taken);
}

XPV_TEST(InvdRaisesGp) {
  XPV_EXPECT_EQ(try_run([] { invd(); }).vector, kGeneralProtection);
}

// CPUID hides XSAVE, so the guest cannot have CR4.OSXSAVE: #UD.
XPV_TEST(XsetbvRaisesUd) {
  Trap trap = try_run([] { priv_probe_xsetbv(); });
  XPV_EXPECT(trap.taken);
  XPV_EXPECT_EQ(trap.vector, kInvalidOpcode);
  XPV_EXPECT_EQ(trap.rip, reinterpret_cast<uintptr_t>(priv_probe_xsetbv_site));
}

XPV_TEST(RdtscRunsNatively) {
  uint64_t first = 0, second = 0;
  Trap trap = try_run([&] {
    first = rdtsc();
    second = rdtsc();
  });
  XPV_EXPECT(!trap.taken);
  XPV_EXPECT(second > first);
}

}  // namespace
