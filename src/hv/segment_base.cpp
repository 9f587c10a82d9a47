// set_segment_base and stack_switch: the guest kernel's view of FS, the two
// GS bases swapgs would exchange, and the stack it enters on from user
// mode (xen-x86_64.h SEGBASE_*; Xen's do_set_segment_base).
#include "base/x86.hpp"
#include "hv/handlers.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

long do_set_segment_base(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto which = static_cast<unsigned>(args.arg[0]);
  uint64_t base = args.arg[1];
  switch (which) {
    case SEGBASE_FS:
    case SEGBASE_GS_USER:
    case SEGBASE_GS_KERNEL:
      if (!x86::is_canonical(base)) return xen::error(XEN_EINVAL);
      if (which == SEGBASE_FS) vcpu.set_fs_base(base);
      if (which == SEGBASE_GS_USER) vcpu.set_user_gs_base(base);
      if (which == SEGBASE_GS_KERNEL) vcpu.set_kernel_gs_base(base);
      return 0;
    case SEGBASE_GS_USER_SEL:
      // Loading a selector sets the user GS base from its descriptor: 0
      // for the null selector and Xen's flat ones, the only ones that
      // exist until the guest installs a GDT.
      vcpu.set_user_gs_base(0);
      return 0;
    default:
      return xen::error(XEN_EINVAL);
  }
}

long do_stack_switch(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  vcpu.kernel_ss = args.arg[0] | 3;  // a PV kernel's stack is at RPL 3
  vcpu.kernel_sp = args.arg[1];
  return 0;
}

// fpu_taskswitch sets or clears the guest's virtual CR0.TS: while set,
// its next FPU instruction raises #NM (do_fpu_taskswitch).
long do_fpu_taskswitch(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  bool set = args.arg[0] != 0;
  vcpu.virtual_ts = set;
  vcpu.set_hardware_ts(set);
  return 0;
}

}  // namespace xpv::hv
