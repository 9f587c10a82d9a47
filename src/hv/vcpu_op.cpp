// vcpu_op: the guest's own vCPUs (xen/vcpu.h; Xen's common/domain.c
// do_vcpu_op). Bringing vCPUs up with a new context arrives with SMP.
#include "hv/handlers.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

long vcpu_down(vmm::Vcpu& caller, vmm::Vcpu& target) {
  target.take_offline();
  vmm::Domain& d = caller.domain();
  for (unsigned i = 0; i < d.nr_vcpus(); ++i)
    if (d.vcpu(i).online()) return 0;
  // No vCPU is left to bring another up: the guest has halted for good
  // (Linux does this at the end of its panic and BUG paths).
  caller.crash("every vCPU is down (VCPUOP_down): the guest halted");
  return 0;
}

}  // namespace

long do_vcpu_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<int>(args.arg[0]);
  auto id = static_cast<unsigned>(args.arg[1]);
  vmm::Domain& d = vcpu.domain();
  if (id >= d.nr_vcpus()) return xen::error(XEN_ENOENT);
  switch (cmd) {
    case VCPUOP_is_up:
      return d.vcpu(id).online() ? 1 : 0;
    case VCPUOP_down:
      return vcpu_down(vcpu, d.vcpu(id));
    default:
      return d.unimplemented().report(args.nr, cmd);
  }
}

}  // namespace xpv::hv
