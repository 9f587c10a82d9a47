// set_segment_base and stack_switch: the guest kernel's view of FS, the two
// GS bases swapgs would exchange, and the stack it enters on from user
// mode (xen-x86_64.h SEGBASE_*; Xen's do_set_segment_base).
#include <optional>
#include "base/x86.hpp"

#include "hv/descriptor_tables.hpp"
#include "hv/failsafe.hpp"
#include "hv/handlers.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

uint64_t descriptor_base(uint64_t d) {
  return ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
}

// Xen loads the selector between two swapgs with a fixup that nulls it on
// a fault, and takes the user GS base from what the load left: the
// descriptor's base, 0 for null (do_set_segment_base). Errors are not
// reported: Linux BUG()s if this call fails.
void load_user_gs_selector(vmm::Vcpu& vcpu, uint16_t selector) {
  if (selector > 3) selector |= 3;  // Xen fixes up the RPL of non-null selectors
  std::optional<uint64_t> descriptor;
  if (loadable_data_selector(vcpu, selector)) descriptor = guest_descriptor(vcpu, selector);
  if (!descriptor) selector = 0;
  vcpu.set_user_gs_base(descriptor ? descriptor_base(*descriptor) : 0);
  kvm_sregs s = vcpu.kvm_vcpu().get_sregs();
  s.gs = kvm_segment{};
  s.gs.selector = selector;
  s.gs.unusable = selector == 0 ? 1 : 0;
  if (descriptor) {
    s.gs.type = static_cast<uint8_t>((*descriptor >> 40) & 0xf);
    s.gs.s = 1;
    s.gs.dpl = 3;
    s.gs.present = 1;
    s.gs.limit = 0xffffffff;
    s.gs.g = 1;
  }
  // The live base stays the current mode's.
  s.gs.base = vcpu.in_kernel_mode() ? vcpu.kernel_gs_base() : vcpu.user_gs_base();
  vcpu.kvm_vcpu().set_sregs(s);
}

}  // namespace

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
      load_user_gs_selector(vcpu, static_cast<uint16_t>(base));
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
