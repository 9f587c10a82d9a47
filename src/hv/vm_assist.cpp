// vm_assist: optional hypervisor assists a PV guest turns on (xen.h
// VMASST_*). Xen accepts these types for a 64-bit PV guest
// (VM_ASSIST_VALID in xen/arch/x86/include/asm/config.h).
#include "hv/handlers.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

constexpr uint64_t kValidAssists =
    (1ULL << VMASST_TYPE_4gb_segments) | (1ULL << VMASST_TYPE_4gb_segments_notify) |
    (1ULL << VMASST_TYPE_writable_pagetables) | (1ULL << VMASST_TYPE_pae_extended_cr3) |
    (1ULL << VMASST_TYPE_architectural_iopl) | (1ULL << VMASST_TYPE_runstate_update_flag) |
    (1ULL << VMASST_TYPE_m2p_strict);

}  // namespace

long do_vm_assist(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<uint32_t>(args.arg[0]);
  auto type = static_cast<uint32_t>(args.arg[1]);
  if (type >= 64 || (kValidAssists & (1ULL << type)) == 0) return xen::error(XEN_EINVAL);
  auto& assists = vcpu.domain().vm_assist();
  switch (cmd) {
    case VMASST_CMD_enable:
      assists.fetch_or(1ULL << type);
      return 0;
    case VMASST_CMD_disable:
      assists.fetch_and(~(1ULL << type));
      return 0;
    default:
      return xen::error(XEN_ENOSYS);
  }
}

}  // namespace xpv::hv
