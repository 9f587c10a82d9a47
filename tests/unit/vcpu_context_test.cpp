// VCPUOP_initialise's checks of a context on its own (hv/vcpu_context.cpp),
// as Xen's arch_set_info_guest makes them for a 64-bit PV guest.
#include "hv/vcpu_context.hpp"

#include <gtest/gtest.h>

namespace xpv::hv {
namespace {

constexpr uint64_t kNonCanonical = 0x8000000000000000;

vcpu_guest_context_t kernel_context() {
  vcpu_guest_context_t c{};
  c.flags = VGCF_in_kernel;
  c.user_regs.rip = 0xffffffff80001000;
  c.user_regs.rsp = 0xffffffff80100000;
  c.user_regs.cs = FLAT_KERNEL_CS;
  c.user_regs.ss = FLAT_KERNEL_SS;
  c.kernel_sp = 0xffffffff80100000;
  c.ctrlreg[3] = 0x2000000;
  return c;
}

TEST(VcpuContext, AcceptsAKernelModeContext) {
  EXPECT_EQ(check_vcpu_context(kernel_context()), 0);
}

TEST(VcpuContext, RefusesNonCanonicalAddresses) {
  for (uint64_t vcpu_guest_context_t::*field :
       {&vcpu_guest_context_t::kernel_sp, &vcpu_guest_context_t::fs_base,
        &vcpu_guest_context_t::gs_base_kernel, &vcpu_guest_context_t::gs_base_user,
        &vcpu_guest_context_t::event_callback_eip, &vcpu_guest_context_t::failsafe_callback_eip,
        &vcpu_guest_context_t::syscall_callback_eip}) {
    vcpu_guest_context_t c = kernel_context();
    c.*field = kNonCanonical;
    EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
  }
  vcpu_guest_context_t c = kernel_context();
  c.user_regs.rip = kNonCanonical;
  EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
  c = kernel_context();
  c.trap_ctxt[14].address = kNonCanonical;
  EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
}

TEST(VcpuContext, RefusesBreakpointsTheGuestCannotUse) {
  vcpu_guest_context_t c = kernel_context();
  c.debugreg[2] = HYPERVISOR_VIRT_START;
  EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
  c = kernel_context();
  c.debugreg[6] = 1ULL << 32;
  EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
}

TEST(VcpuContext, RefusesBadLdtAndGdtSizes) {
  vcpu_guest_context_t c = kernel_context();
  c.ldt_base = 0x1008;
  EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
  c = kernel_context();
  c.ldt_ents = 8193;
  EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
  c = kernel_context();
  c.gdt_ents = FIRST_RESERVED_GDT_ENTRY + 1;
  EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
}

TEST(VcpuContext, UserModeNeedsUserPageTables) {
  vcpu_guest_context_t c = kernel_context();
  c.flags = 0;
  EXPECT_EQ(check_vcpu_context(c), -XEN_EINVAL);
  c.ctrlreg[1] = 0x3000000;
  EXPECT_EQ(check_vcpu_context(c), 0);
}

TEST(VcpuContext, AcceptsAnLdtWithEntries) {
  vcpu_guest_context_t c = kernel_context();
  c.ldt_base = 0x10000;
  c.ldt_ents = 16;
  EXPECT_EQ(check_vcpu_context(c), 0);
}

}  // namespace
}  // namespace xpv::hv
