// Registering guest entry points: callback_op and set_callbacks
// (xen/callback.h; Xen's xen/arch/x86/pv/callback.c), and stack_switch.
// Nothing here makes the hypervisor enter a callback: events stay masked
// and this guest never runs in user mode.
#include <initializer_list>

#include "cpu-selftest/options.hpp"
#include "cpu-selftest/traps.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

// clang-format off
#include <xen/callback.h>
// clang-format on

namespace {

using namespace cpu_selftest;
using xpv::guest::hypercall;

constexpr uint64_t kNonCanonical = 0x8000000000000000;
constexpr uint64_t kUnmapped = 0x1000;

void unexpected_callback() {
  xpv::guest::panic("a callback was entered");
}

long register_callback(int type, uint64_t address, unsigned flags = 0) {
  callback_register reg{};
  reg.type = static_cast<uint16_t>(type);
  reg.flags = static_cast<uint16_t>(flags);
  reg.address = address;
  return hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, address_of(&reg));
}

long unregister_callback(int type) {
  callback_unregister unreg{};
  unreg.type = static_cast<uint16_t>(type);
  return hypercall(__HYPERVISOR_callback_op, CALLBACKOP_unregister, address_of(&unreg));
}

uint64_t callback_address() {
  return address_of(reinterpret_cast<const void*>(&unexpected_callback));
}

XPV_TEST(CallbackRegisterAcceptsEveryType) {
  for (int type : {CALLBACKTYPE_event, CALLBACKTYPE_failsafe, CALLBACKTYPE_syscall,
                   CALLBACKTYPE_syscall32, CALLBACKTYPE_sysenter, CALLBACKTYPE_nmi}) {
    XPV_EXPECT_EQ(register_callback(type, callback_address()), 0);
    XPV_EXPECT_EQ(register_callback(type, callback_address(), CALLBACKF_mask_events), 0);
  }
}

XPV_TEST(CallbackRegisterRefusesANonCanonicalAddress) {
  for (int type : {CALLBACKTYPE_event, CALLBACKTYPE_syscall, CALLBACKTYPE_nmi}) {
    XPV_EXPECT_EQ(register_callback(type, kNonCanonical), -XEN_EINVAL);
  }
}

XPV_TEST(CallbackOpWithAnUnreadableArgumentFaults) {
  for (uint64_t bad : {kUnmapped, kNonCanonical, uint64_t{HYPERVISOR_VIRT_START}}) {
    XPV_EXPECT_EQ(hypercall(__HYPERVISOR_callback_op, CALLBACKOP_register, bad), -XEN_EFAULT);
    XPV_EXPECT_EQ(hypercall(__HYPERVISOR_callback_op, CALLBACKOP_unregister, bad), -XEN_EFAULT);
  }
}

XPV_TEST(CallbackOpUnknownCommandIsEnosys) {
  callback_register reg{};
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_callback_op, 2, address_of(&reg)), -XEN_ENOSYS);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_callback_op, 99, address_of(&reg)), -XEN_ENOSYS);
}

// A PV kernel cannot go without its event and failsafe entry points.
XPV_TEST(CallbackUnregisterRefusesEventAndFailsafe) {
  XPV_EXPECT_EQ(unregister_callback(CALLBACKTYPE_event), -XEN_EINVAL);
  XPV_EXPECT_EQ(unregister_callback(CALLBACKTYPE_failsafe), -XEN_EINVAL);
}

XPV_TEST(CallbackUnregisterNmiSucceeds) {
  XPV_EXPECT_EQ(register_callback(CALLBACKTYPE_nmi, callback_address()), 0);
  XPV_EXPECT_EQ(unregister_callback(CALLBACKTYPE_nmi), 0);
}

// Xen's unregister_guest_callback refuses syscall, syscall32 and sysenter
// as it does event and failsafe (-EINVAL); xpv returns 0.
XPV_TEST(CallbackUnregisterRefusesSystemCallEntryPoints) {
  if (!known_bug_check_enabled("callback-unregister")) return;
  for (int type : {CALLBACKTYPE_syscall, CALLBACKTYPE_syscall32, CALLBACKTYPE_sysenter}) {
    XPV_EXPECT_EQ(unregister_callback(type), -XEN_EINVAL);
  }
}

// Xen's register_guest_callback and unregister_guest_callback answer a
// type they do not know (3 is CALLBACKTYPE_sysenter_deprecated, which
// 64-bit Xen does not take) with -ENOSYS; xpv says -EINVAL.
XPV_TEST(CallbackOpUnknownTypeIsEnosys) {
  if (!known_bug_check_enabled("callback-unknown-type")) return;
  for (int type : {3, 6, 99}) {
    XPV_EXPECT_EQ(register_callback(type, callback_address()), -XEN_ENOSYS);
    XPV_EXPECT_EQ(unregister_callback(type), -XEN_ENOSYS);
  }
}

XPV_TEST(SetCallbacksAcceptsThreeEntryPoints) {
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_set_callbacks, callback_address(), callback_address(),
                          callback_address()),
                0);
}

// Xen's do_set_callbacks ignores what register_guest_callback says and
// always returns 0 (a non-canonical address is simply not stored); xpv
// returns -EINVAL.
XPV_TEST(SetCallbacksAlwaysReturnsZero) {
  if (!known_bug_check_enabled("set-callbacks")) return;
  XPV_EXPECT_EQ(
      hypercall(__HYPERVISOR_set_callbacks, kNonCanonical, callback_address(), callback_address()),
      0);
}

XPV_TEST(StackSwitchSucceeds) {
  static uint8_t kernel_stack[256];
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS,
                          address_of(kernel_stack + sizeof kernel_stack)),
                0);
}

}  // namespace
