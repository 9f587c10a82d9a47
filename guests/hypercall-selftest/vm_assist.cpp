// vm_assist (xen/common/domain.c vm_assist): the type is checked against
// VM_ASSIST_VALID before the command, and both are `unsigned int`. Every test
// leaves all assists off again.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/test.hpp"

namespace {

using xpv::guest::hypercall;

// The assists Xen accepts from a 64-bit PV guest (VM_ASSIST_VALID,
// xen/arch/x86/include/asm/config.h).
constexpr unsigned kValidTypes[] = {
    VMASST_TYPE_4gb_segments,     VMASST_TYPE_4gb_segments_notify, VMASST_TYPE_writable_pagetables,
    VMASST_TYPE_pae_extended_cr3, VMASST_TYPE_architectural_iopl,  VMASST_TYPE_runstate_update_flag,
    VMASST_TYPE_m2p_strict,
};
constexpr unsigned kInvalidTypes[] = {6, 7, 31, 33, 63, 64, 0xffffffff};

long vm_assist(uint64_t cmd, uint64_t type) {
  return hypercall(__HYPERVISOR_vm_assist, cmd, type);
}

XPV_TEST(EnableAndDisableEveryValidTypeSucceed) {
  for (unsigned type : kValidTypes) {
    XPV_EXPECT_EQ(vm_assist(VMASST_CMD_enable, type), 0);
    XPV_EXPECT_EQ(vm_assist(VMASST_CMD_disable, type), 0);
  }
}

XPV_TEST(InvalidTypeFailsWithEinval) {
  for (unsigned type : kInvalidTypes) {
    XPV_EXPECT_EQ(vm_assist(VMASST_CMD_enable, type), -XEN_EINVAL);
    XPV_EXPECT_EQ(vm_assist(VMASST_CMD_disable, type), -XEN_EINVAL);
  }
}

XPV_TEST(UnknownCommandWithValidTypeFailsWithEnosys) {
  XPV_EXPECT_EQ(vm_assist(2, VMASST_TYPE_writable_pagetables), -XEN_ENOSYS);
  XPV_EXPECT_EQ(vm_assist(0xffffffff, VMASST_TYPE_writable_pagetables), -XEN_ENOSYS);
}

XPV_TEST(InvalidTypeIsReportedBeforeUnknownCommand) {
  XPV_EXPECT_EQ(vm_assist(2, 6), -XEN_EINVAL);
}

// The upper halves of both registers are ignored.
XPV_TEST(CommandAndTypeAre32Bits) {
  constexpr uint64_t kHigh32 = 1ULL << 32;
  XPV_EXPECT_EQ(vm_assist(kHigh32 | VMASST_CMD_enable, kHigh32 | VMASST_TYPE_writable_pagetables),
                0);
  XPV_EXPECT_EQ(vm_assist(kHigh32 | VMASST_CMD_disable, kHigh32 | VMASST_TYPE_writable_pagetables),
                0);
}

}  // namespace
