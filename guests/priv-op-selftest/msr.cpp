// rdmsr and wrmsr: the MSRs Xen emulates for a PV kernel, and #GP for
// the rest.
#include "priv-op-selftest/priv_op.hpp"
#include "runtime/test.hpp"

namespace {

using namespace priv_op;

constexpr uint32_t kTsc = 0x10, kApicBase = 0x1b, kMiscEnable = 0x1a0, kPat = 0x277,
                   kPerfCapabilities = 0x345, kEfer = 0xc0000080, kStar = 0xc0000081,
                   kLstar = 0xc0000082, kFsBase = 0xc0000100, kGsBase = 0xc0000101,
                   kShadowGsBase = 0xc0000102;

long set_segment_base(unsigned which, uint64_t base) {
  return xpv::guest::hypercall(__HYPERVISOR_set_segment_base, which, base);
}

XPV_TEST(RefusedRdmsrReadsZeroBeforeTheGuestHasAGpHandler) {
  XPV_EXPECT_EQ(early_lstar, 0u);
}

XPV_TEST(FsBaseReadsWhatSetSegmentBaseSet) {
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_FS, 0x12345000), 0);
  XPV_EXPECT_EQ(rdmsr(kFsBase), 0x12345000u);
  Trap trap = try_run([] { wrmsr(kFsBase, 0x23456000); });
  XPV_EXPECT(!trap.taken);
  XPV_EXPECT_EQ(rdmsr(kFsBase), 0x23456000u);
  // It reaches the CPU: %fs-relative loads use it.
  static const uint64_t marker = 0x1122334455667788;
  wrmsr(kFsBase, reinterpret_cast<uintptr_t>(&marker));
  uint64_t loaded;
  asm volatile("mov %%fs:0, %0" : "=r"(loaded));
  XPV_EXPECT_EQ(loaded, marker);
  wrmsr(kFsBase, 0);
  XPV_EXPECT_EQ(rdmsr(kFsBase), 0u);
}

XPV_TEST(GsBaseIsTheKernelsAndShadowGsBaseTheUsers) {
  uint64_t kernel = rdmsr(kGsBase);
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_GS_USER, 0x5000), 0);
  XPV_EXPECT_EQ(rdmsr(kShadowGsBase), 0x5000u);
  wrmsr(kShadowGsBase, 0x6000);
  XPV_EXPECT_EQ(rdmsr(kShadowGsBase), 0x6000u);
  XPV_EXPECT_EQ(rdmsr(kGsBase), kernel);
  wrmsr(kGsBase, 0x7000);
  XPV_EXPECT_EQ(rdmsr(kGsBase), 0x7000u);
  XPV_EXPECT_EQ(rdmsr(kShadowGsBase), 0x6000u);
  wrmsr(kGsBase, kernel);
  wrmsr(kShadowGsBase, 0);
}

XPV_TEST(NonCanonicalSegmentBaseRaisesGp) {
  Trap trap = try_run([] { wrmsr(kFsBase, 0x0000800000000000); });
  XPV_EXPECT(trap.taken);
  XPV_EXPECT_EQ(trap.vector, kGeneralProtection);
  XPV_EXPECT_EQ(trap.error_code, 0u);
  XPV_EXPECT_EQ(rdmsr(kFsBase), 0u);
}

XPV_TEST(EferShowsLongModeSyscallAndNx) {
  XPV_EXPECT_EQ(rdmsr(kEfer), 0xd01u);  // SCE | LME | LMA | NXE
}

XPV_TEST(EferTakesBackOnlyTheValueItShows) {
  uint64_t efer = rdmsr(kEfer);
  XPV_EXPECT(!try_run([efer] { wrmsr(kEfer, efer); }).taken);
  Trap trap = try_run([efer] { wrmsr(kEfer, efer & ~1ULL); });
  XPV_EXPECT_EQ(trap.vector, kGeneralProtection);
  XPV_EXPECT_EQ(rdmsr(kEfer), efer);
}

XPV_TEST(ApicBaseShowsAnEnabledBootProcessor) {
  XPV_EXPECT_EQ(rdmsr(kApicBase), 0xfee00900u);
}

XPV_TEST(PatIsXensFixedValue) {
  XPV_EXPECT_EQ(rdmsr(kPat), 0x0000050100070406u);
}

XPV_TEST(PerfCapabilitiesReadZero) {
  XPV_EXPECT_EQ(rdmsr(kPerfCapabilities), 0u);
}

XPV_TEST(MiscEnableIsMaskedOnIntelAndRaisesGpElsewhere) {
  uint64_t value = 0;
  Trap trap = try_run([&value] { value = rdmsr(kMiscEnable); });
  if (!cpu_is_intel()) {
    XPV_EXPECT_EQ(trap.vector, kGeneralProtection);
    return;
  }
  XPV_ASSERT(!trap.taken);
  constexpr uint64_t kShown = (1ULL << 11) | (1ULL << 12) | (1ULL << 23);  // BTS, PEBS, xTPR
  constexpr uint64_t kHidden = (1ULL << 7) | (1ULL << 18);                 // perfmon, MONITOR
  XPV_EXPECT_EQ(value & kShown, kShown);
  XPV_EXPECT_EQ(value & kHidden, 0u);
  XPV_EXPECT(!try_run([] { wrmsr(kMiscEnable, 0); }).taken);  // dropped
  XPV_EXPECT_EQ(rdmsr(kMiscEnable), value);
}

XPV_TEST(TscMsrLiesBetweenTwoRdtscs) {
  uint64_t before = rdtsc();
  uint64_t msr = rdmsr(kTsc);
  uint64_t after = rdtsc();
  XPV_EXPECT(before <= msr);
  XPV_EXPECT(msr <= after);
}

XPV_TEST(UnknownMsrRaisesGpAtTheRdmsr) {
  Trap trap = try_run([] { priv_probe_rdmsr(kLstar); });
  XPV_EXPECT(trap.taken);
  XPV_EXPECT_EQ(trap.vector, kGeneralProtection);
  XPV_EXPECT_EQ(trap.error_code, 0u);
  XPV_EXPECT_EQ(trap.rip, reinterpret_cast<uintptr_t>(priv_probe_rdmsr_site));
  XPV_EXPECT_EQ(try_run([] { priv_probe_rdmsr(0x40000000); }).vector, kGeneralProtection);
}

XPV_TEST(WritesToSyscallMsrsRaiseGp) {
  XPV_EXPECT_EQ(try_run([] { wrmsr(kLstar, 0); }).vector, kGeneralProtection);
  XPV_EXPECT_EQ(try_run([] { wrmsr(kStar, 0); }).vector, kGeneralProtection);
  XPV_EXPECT_EQ(try_run([] { wrmsr(kPat, 0x0007040600070406); }).vector, kGeneralProtection);
}

}  // namespace
