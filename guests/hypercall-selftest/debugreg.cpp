// set_debugreg and get_debugreg (Xen's set_debugreg,
// xen/arch/x86/pv/misc-hypercalls.c): DR6 and DR7 are 32-bit registers, so
// a value with any of bits 32-63 set is refused with -EINVAL and leaves
// the register as it was. (Found by the hypercall-fuzz guest: xpv passed
// such a DR6 to KVM, which refused it, and xpv failed itself.)
#include "hypercall-selftest/selftest.hpp"
#include "runtime/test.hpp"

namespace {

using xpv::guest::hypercall;

long set_debugreg(unsigned reg, uint64_t value) {
  return hypercall(__HYPERVISOR_set_debugreg, reg, value);
}

long get_debugreg(unsigned reg) {
  return hypercall(__HYPERVISOR_get_debugreg, reg);
}

XPV_TEST(Dr6WithHighBitsFailsWithEinvalAndKeepsTheRegister) {
  const long before = get_debugreg(6);
  XPV_EXPECT_EQ(set_debugreg(6, 0x100000000ULL), -XEN_EINVAL);
  XPV_EXPECT_EQ(set_debugreg(6, ~0ULL), -XEN_EINVAL);
  XPV_EXPECT_EQ(get_debugreg(6), before);
}

XPV_TEST(Dr7WithHighBitsFailsWithEinvalAndKeepsTheRegister) {
  const long before = get_debugreg(7);
  XPV_EXPECT_EQ(set_debugreg(7, 0x8000000000000000ULL), -XEN_EINVAL);
  XPV_EXPECT_EQ(get_debugreg(7), before);
}

XPV_TEST(Dr6With32BitValueIsAccepted) {
  XPV_EXPECT_EQ(set_debugreg(6, 0), 0);
  // Xen forces DR6's reserved-one bits on.
  XPV_EXPECT_EQ(get_debugreg(6) & 0xffff0ff0, 0xffff0ff0);
}

}  // namespace
