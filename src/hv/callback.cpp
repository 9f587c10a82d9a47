// Registering guest entry points (xen/callback.h; Xen's
// xen/arch/x86/pv/callback.c): where events, failsafe returns and system
// calls from guest user mode enter the guest kernel.
#include "base/x86.hpp"
#include "hv/handlers.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

bool known_type(unsigned type) {
  switch (type) {
    case CALLBACKTYPE_event:
    case CALLBACKTYPE_failsafe:
    case CALLBACKTYPE_syscall:
    case CALLBACKTYPE_syscall32:
    case CALLBACKTYPE_sysenter:
    case CALLBACKTYPE_nmi:
      return true;
    default:
      return false;
  }
}

long register_callback(vmm::Vcpu& vcpu, const callback_register& reg) {
  if (!known_type(reg.type) || !x86::is_canonical(reg.address)) return xen::error(XEN_EINVAL);
  vcpu.callbacks()[reg.type] = {reg.address, (reg.flags & CALLBACKF_mask_events) != 0};
  return 0;
}

long unregister_callback(vmm::Vcpu& vcpu, const callback_unregister& unreg) {
  // The event and failsafe callbacks are not optional for a PV kernel.
  if (!known_type(unreg.type) || unreg.type == CALLBACKTYPE_event ||
      unreg.type == CALLBACKTYPE_failsafe)
    return xen::error(XEN_EINVAL);
  vcpu.callbacks()[unreg.type] = {};
  return 0;
}

}  // namespace

long do_callback_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<int>(args.arg[0]);
  auto memory = vcpu.guest_memory();
  switch (cmd) {
    case CALLBACKOP_register: {
      auto reg = memory.read<callback_register>(args.arg[1]);
      return reg ? register_callback(vcpu, *reg) : xen::error(XEN_EFAULT);
    }
    case CALLBACKOP_unregister: {
      auto unreg = memory.read<callback_unregister>(args.arg[1]);
      return unreg ? unregister_callback(vcpu, *unreg) : xen::error(XEN_EFAULT);
    }
    default:
      return vcpu.domain().unimplemented().report(args.nr, cmd);
  }
}

// The older interface: event, failsafe and syscall entry points at once,
// the last two masking events (do_set_callbacks).
long do_set_callbacks(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  for (uint64_t address : {args.arg[0], args.arg[1], args.arg[2]})
    if (!x86::is_canonical(address)) return xen::error(XEN_EINVAL);
  vcpu.callbacks()[CALLBACKTYPE_event] = {args.arg[0], false};
  vcpu.callbacks()[CALLBACKTYPE_failsafe] = {args.arg[1], true};
  vcpu.callbacks()[CALLBACKTYPE_syscall] = {args.arg[2], true};
  return 0;
}

}  // namespace xpv::hv
