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
  if (!known_type(reg.type)) return xen::error(XEN_ENOSYS);
  if (!x86::is_canonical(reg.address)) return xen::error(XEN_EINVAL);
  vcpu.callbacks()[reg.type] = {reg.address, (reg.flags & CALLBACKF_mask_events) != 0};
  return 0;
}

// Only the NMI callback can be unregistered (unregister_guest_callback).
long unregister_callback(vmm::Vcpu& vcpu, const callback_unregister& unreg) {
  if (!known_type(unreg.type)) return xen::error(XEN_ENOSYS);
  if (unreg.type != CALLBACKTYPE_nmi) return xen::error(XEN_EINVAL);
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
// without flags; like Xen's do_set_callbacks it registers what it can and
// always succeeds.
long do_set_callbacks(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  const unsigned types[] = {CALLBACKTYPE_event, CALLBACKTYPE_failsafe, CALLBACKTYPE_syscall};
  for (unsigned i = 0; i < 3; ++i) {
    callback_register reg{};
    reg.type = static_cast<uint16_t>(types[i]);
    reg.address = args.arg[i];
    register_callback(vcpu, reg);
  }
  return 0;
}

}  // namespace xpv::hv
