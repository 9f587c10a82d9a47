// Segment bases: set_segment_base (xen-x86_64.h SEGBASE_*; Xen's
// do_set_segment_base) and the FS/GS base MSRs a PV kernel reads and
// writes with rdmsr/wrmsr, which the hypervisor emulates
// (linux-pv-guest.md 5.6). The guest is in kernel mode, so the kernel GS
// base is the live one.
#include <initializer_list>

#include "cpu-selftest/traps.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/test.hpp"

namespace {

using namespace cpu_selftest;
using xpv::guest::hypercall;

constexpr uint32_t kMsrFsBase = 0xc0000100;
constexpr uint32_t kMsrGsBase = 0xc0000101;
constexpr uint32_t kMsrShadowGsBase = 0xc0000102;  // the user GS base while in kernel mode
constexpr uint64_t kNonCanonical = 0x8000000000000000;

uint64_t fs_word() {
  uint64_t value;
  asm volatile("mov %%fs:0, %0" : "=r"(value));
  return value;
}

uint64_t gs_word() {
  uint64_t value;
  asm volatile("mov %%gs:0, %0" : "=r"(value));
  return value;
}

long set_segment_base(unsigned which, uint64_t base) {
  return hypercall(__HYPERVISOR_set_segment_base, which, base);
}

uint64_t rdmsr(uint32_t index) {
  uint32_t low, high;
  asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(index));
  return (uint64_t{high} << 32) | low;
}

void wrmsr(uint32_t index, uint64_t value) {
  asm volatile("wrmsr" ::"c"(index), "a"(static_cast<uint32_t>(value)),
               "d"(static_cast<uint32_t>(value >> 32))
               : "memory");
}

// Each base points at one of these words.
uint64_t word_a = 0xaaaa;
uint64_t word_b = 0xbbbb;

struct ResetBases {
  ~ResetBases() {
    set_segment_base(SEGBASE_FS, 0);
    set_segment_base(SEGBASE_GS_KERNEL, 0);
    set_segment_base(SEGBASE_GS_USER, 0);
  }
};

XPV_TEST(FsBaseTakesEffectAtOnce) {
  ResetBases reset;
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_FS, address_of(&word_a)), 0);
  XPV_EXPECT_EQ(fs_word(), word_a);
  XPV_EXPECT_EQ(rdmsr(kMsrFsBase), address_of(&word_a));
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_FS, address_of(&word_b)), 0);
  XPV_EXPECT_EQ(fs_word(), word_b);
}

XPV_TEST(KernelGsBaseTakesEffectAtOnce) {
  ResetBases reset;
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_GS_KERNEL, address_of(&word_a)), 0);
  XPV_EXPECT_EQ(gs_word(), word_a);
  XPV_EXPECT_EQ(rdmsr(kMsrGsBase), address_of(&word_a));
}

XPV_TEST(UserGsBaseIsTheInactiveBase) {
  ResetBases reset;
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_GS_KERNEL, address_of(&word_a)), 0);
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_GS_USER, address_of(&word_b)), 0);
  XPV_EXPECT_EQ(gs_word(), word_a);
  XPV_EXPECT_EQ(rdmsr(kMsrGsBase), address_of(&word_a));
  XPV_EXPECT_EQ(rdmsr(kMsrShadowGsBase), address_of(&word_b));
}

// Loading the null selector into the user GS gives it base 0 (Xen works
// around AMD's NUL-selector behaviour to make it so).
XPV_TEST(UserGsSelectorNullClearsTheUserBase) {
  ResetBases reset;
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_GS_USER, address_of(&word_b)), 0);
  XPV_EXPECT_EQ(set_segment_base(SEGBASE_GS_USER_SEL, 0), 0);
  XPV_EXPECT_EQ(rdmsr(kMsrShadowGsBase), 0u);
}

XPV_TEST(SetSegmentBaseRefusesANonCanonicalBase) {
  ResetBases reset;
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_FS, address_of(&word_a)), 0);
  for (unsigned which : {SEGBASE_FS, SEGBASE_GS_USER, SEGBASE_GS_KERNEL}) {
    XPV_EXPECT_EQ(set_segment_base(which, kNonCanonical), -XEN_EINVAL);
  }
  XPV_EXPECT_EQ(fs_word(), word_a);  // unchanged
}

XPV_TEST(SetSegmentBaseRefusesAnUnknownSegment) {
  XPV_EXPECT_EQ(set_segment_base(4, 0), -XEN_EINVAL);
  XPV_EXPECT_EQ(set_segment_base(99, 0), -XEN_EINVAL);
}

XPV_TEST(WrmsrSetsTheFsAndGsBases) {
  ResetBases reset;
  clear_trap_log();
  wrmsr(kMsrFsBase, address_of(&word_b));
  wrmsr(kMsrGsBase, address_of(&word_a));
  XPV_EXPECT_EQ(trap_count(), 0u);
  XPV_EXPECT_EQ(fs_word(), word_b);
  XPV_EXPECT_EQ(gs_word(), word_a);
  XPV_EXPECT_EQ(rdmsr(kMsrFsBase), address_of(&word_b));
  XPV_EXPECT_EQ(rdmsr(kMsrGsBase), address_of(&word_a));
}

XPV_TEST(WrmsrOfANonCanonicalBaseRaisesGeneralProtection) {
  ResetBases reset;
  XPV_ASSERT_EQ(set_segment_base(SEGBASE_FS, address_of(&word_a)), 0);
  clear_trap_log();
  XPV_EXPECT_EQ(try_run([] { wrmsr(kMsrFsBase, kNonCanonical); }), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, 0u);
  XPV_EXPECT_EQ(fs_word(), word_a);
}

XPV_TEST(RdmsrOfAnUnknownMsrRaisesGeneralProtection) {
  clear_trap_log();
  XPV_EXPECT_EQ(try_run([] { rdmsr(0x12345678); }), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, 0u);
}

}  // namespace
