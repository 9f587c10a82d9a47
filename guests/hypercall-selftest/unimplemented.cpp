// Hypercall numbers with no handler fail with -ENOSYS, as Xen's dispatch
// does for numbers without an entry in its table. Numbers past the
// hypercall page are issued with a raw `syscall`, which is all a stub does.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/test.hpp"

namespace {

using xpv::guest::hypercall;

// rax is compared in full: no truncation to 32 bits or to a table index.
// The argument registers are clobbered, as hypercall() assumes too.
long raw_hypercall(uint64_t nr) {
  long result;
  asm volatile("syscall"
               : "=a"(result)
               : "a"(nr)
               : "rcx", "r11", "rdi", "rsi", "rdx", "r10", "r8", "r9", "memory", "cc");
  return result;
}

// Numbers Xen leaves unused on x86 (arch_7 is not wired up); the host test
// checks that xpv reports each one once, however often it is called.
XPV_TEST(UnusedHypercallNumbersFailWithEnosys) {
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_arch_7), -XEN_ENOSYS);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_arch_7), -XEN_ENOSYS);
  XPV_EXPECT_EQ(hypercall(43), -XEN_ENOSYS);
  XPV_EXPECT_EQ(hypercall(127), -XEN_ENOSYS);
}

XPV_TEST(NumbersPastTheHypercallPageFailWithEnosys) {
  XPV_EXPECT_EQ(raw_hypercall(128), -XEN_ENOSYS);
  XPV_EXPECT_EQ(raw_hypercall(4096), -XEN_ENOSYS);
  XPV_EXPECT_EQ(raw_hypercall((1ULL << 32) | __HYPERVISOR_sched_op), -XEN_ENOSYS);
  XPV_EXPECT_EQ(raw_hypercall(~0ULL), -XEN_ENOSYS);
}

}  // namespace
