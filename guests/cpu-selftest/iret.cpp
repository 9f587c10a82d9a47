// The iret hypercall (linux-pv-guest.md 5.2; xen-x86_64.h struct
// iret_context; Xen's do_iret). Every trap in this guest already returns
// through it; these tests build the frame by hand to reach its corners.
// Returns to user mode (cs & 3 == 3) need user page tables, which this
// guest does not have, so none is made.
#include "cpu-selftest/options.hpp"
#include "cpu-selftest/traps.hpp"
#include "runtime/test.hpp"

namespace {

using namespace cpu_selftest;

alignas(16) uint8_t other_stack[4096];

uint64_t current_rflags() {
  uint64_t value;
  asm volatile("pushfq; pop %0" : "=r"(value));
  return value;
}

// A return to xpv_probe_iret's resume label on the same stack, in kernel
// mode, keeping events masked.
iret_context kernel_return() {
  iret_context c{};
  c.rax = 0xaaaa0000aaaa;
  c.r11 = 0x1111000011110000;
  c.rcx = 0xcccc0000cccc;
  c.flags = 0;
  c.rip = 0;  // the resume label
  c.cs = kKernelModeCs;
  c.rflags = current_rflags() & ~rflags::kIf;
  c.rsp = 0;  // the probe's own stack
  c.ss = FLAT_KERNEL_SS;
  return c;
}

XPV_TEST(IretRestoresRaxRcxAndR11FromTheFrame) {
  iret_context c = kernel_return();
  IretResult r{};
  xpv_probe_iret(&c, &r);
  XPV_EXPECT_EQ(r.rax, c.rax);
  XPV_EXPECT_EQ(r.rcx, c.rcx);
  XPV_EXPECT_EQ(r.r11, c.r11);
}

// xpv_probe_iret executes int3 after the return: that frame shows the CS
// and SS it loaded (CS with the RPL cleared again, as for any trap from
// kernel mode).
XPV_TEST(IretLoadsRipRspAndTheSelectors) {
  iret_context c = kernel_return();
  c.rsp = address_of(other_stack + sizeof other_stack) - 64;
  IretResult r{};
  clear_trap_log();
  xpv_probe_iret(&c, &r);
  XPV_EXPECT_EQ(r.rsp, c.rsp);
  XPV_ASSERT_EQ(trap_count(), 1u);
  XPV_EXPECT_EQ(last_trap().cs, kKernelModeCs | (1ULL << 32));
  XPV_EXPECT_EQ(last_trap().ss, FLAT_KERNEL_SS);
  XPV_EXPECT_EQ(last_trap().rsp, c.rsp);
}

// A bounce frame's CS carries the saved upcall mask in bits 32-39, and a
// PV kernel hands that frame back to iret unchanged: only the selector
// counts (Xen's cpu_user_regs.cs is 16 bits).
XPV_TEST(IretIgnoresCsAboveBit15) {
  iret_context c = kernel_return();
  c.cs = kKernelModeCs | (1ULL << 32);
  IretResult r{};
  clear_trap_log();
  xpv_probe_iret(&c, &r);
  XPV_EXPECT_EQ(r.rax, c.rax);
  XPV_ASSERT_EQ(trap_count(), 1u);  // the probe's own int3, not a #GP
  XPV_EXPECT_EQ(last_trap().vector, 3u);
  XPV_EXPECT_EQ(last_trap().cs & 0xffff, kKernelModeCs & 0xffff);
}

XPV_TEST(IretLoadsRflagsWithoutIoplAndWithTheHardwareIfOn) {
  iret_context c = kernel_return();
  c.rflags |= rflags::kCf | rflags::kDf | rflags::kIopl;
  IretResult r{};
  xpv_probe_iret(&c, &r);
  asm volatile("cld");  // C++ code assumes DF is clear
  XPV_EXPECT_EQ(r.rflags & rflags::kCf, rflags::kCf);
  XPV_EXPECT_EQ(r.rflags & rflags::kDf, rflags::kDf);
  XPV_EXPECT_EQ(r.rflags & rflags::kIopl, 0u);
  XPV_EXPECT_EQ(r.rflags & rflags::kIf, rflags::kIf);
}

XPV_TEST(IretInSyscallModeDiscardsRcxAndR11) {
  iret_context c = kernel_return();
  c.flags = VGCF_in_syscall;
  IretResult r{};
  xpv_probe_iret(&c, &r);
  XPV_EXPECT_EQ(r.rax, c.rax);
  XPV_EXPECT(r.rcx != c.rcx);
  XPV_EXPECT(r.r11 != c.r11);
}

XPV_TEST(IretFromATrapInSyscallModeDiscardsRcxAndR11) {
  ScopedTrapHandler handler(kBreakpoint, [](TrapFrame& f) {
    f.rcx = 0xdead;
    f.r11 = 0xbeef;
    set_next_iret_flags(VGCF_in_syscall);
  });
  uint64_t in[15] = {}, out[15] = {};
  in[2] = 0x1234;
  in[10] = 0x5678;
  xpv_probe_registers(in, out);
  XPV_EXPECT(out[2] != 0xdead);
  XPV_EXPECT(out[10] != 0xbeef);
}

XPV_TEST(IretSetsTheUpcallMaskToTheInverseOfRflagsIf) {
  iret_context c = kernel_return();
  c.rflags |= rflags::kIf;
  IretResult r{};
  xpv_probe_iret(&c, &r);
  XPV_EXPECT_EQ(upcall_mask(), 0u);
  c.rflags &= ~rflags::kIf;
  xpv_probe_iret(&c, &r);
  XPV_EXPECT_EQ(upcall_mask(), 1u);
}

// The CPU's iretq would refuse these frames, so the guest gets #GP.
long iret_fault(const iret_context& c) {
  static const iret_context* context;
  context = &c;
  clear_trap_log();
  return try_run([] {
    IretResult r{};
    xpv_probe_iret(context, &r);
  });
}

XPV_TEST(IretWithABadCodeSelectorRaisesGeneralProtection) {
  iret_context c = kernel_return();
  c.cs = 0x10;
  XPV_ASSERT_EQ(iret_fault(c), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, 0x10u);
  XPV_EXPECT_EQ(last_trap().cs, kKernelModeCs | (1ULL << 32));
}

XPV_TEST(IretWithABadStackSelectorRaisesGeneralProtection) {
  iret_context c = kernel_return();
  c.ss = 0x18;
  XPV_ASSERT_EQ(iret_fault(c), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, 0x18u);
}

XPV_TEST(IretToANonCanonicalRipRaisesGeneralProtection) {
  iret_context c = kernel_return();
  c.rip = 0x0000800000000000;
  XPV_ASSERT_EQ(iret_fault(c), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, 0u);
}

}  // namespace
