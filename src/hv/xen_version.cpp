// xen_version: what hypervisor the guest runs on (xen/version.h).
#include <cstdio>
#include <cstring>

#include "hv/handlers.hpp"
#include "hv/hypervisor_identity.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

template <typename Text>
long copy_text(vmm::Vcpu& vcpu, uint64_t va, const char* text) {
  Text out{};
  std::strncpy(out, text, sizeof(out) - 1);
  return vcpu.guest_memory().write(va, out) ? 0 : xen::error(XEN_EFAULT);
}

long get_features(vmm::Vcpu& vcpu, uint64_t va) {
  auto memory = vcpu.guest_memory();
  auto info = memory.read<xen_feature_info_t>(va);
  if (!info) return xen::error(XEN_EFAULT);
  if (info->submap_idx != 0) return xen::error(XEN_EINVAL);
  info->submap = kAdvertisedFeatures;
  if ((vcpu.domain().vm_assist().load() & (1ULL << VMASST_TYPE_pae_extended_cr3)) != 0)
    info->submap |= 1U << XENFEAT_pae_pgdir_above_4gb;
  return memory.write(va, *info) ? 0 : xen::error(XEN_EFAULT);
}

long compile_info(vmm::Vcpu& vcpu, uint64_t va) {
  xen_compile_info_t info{};
  std::snprintf(info.compiler, sizeof info.compiler, "gcc %s", __VERSION__);
  std::snprintf(info.compile_by, sizeof info.compile_by, "xpv");
  std::snprintf(info.compile_domain, sizeof info.compile_domain, "xpv");
  std::snprintf(info.compile_date, sizeof info.compile_date, "%s", __DATE__);
  return vcpu.guest_memory().write(va, info) ? 0 : xen::error(XEN_EFAULT);
}

}  // namespace

long do_xen_version(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<int>(args.arg[0]);
  uint64_t arg = args.arg[1];
  switch (cmd) {
    case XENVER_version:
      return (kXenMajor << 16) | kXenMinor;
    case XENVER_extraversion:
      return copy_text<xen_extraversion_t>(vcpu, arg, kXenExtraVersion);
    case XENVER_compile_info:
      return compile_info(vcpu, arg);
    case XENVER_capabilities:
      return copy_text<xen_capabilities_info_t>(vcpu, arg, "xen-3.0-x86_64 ");
    case XENVER_changeset:
      return copy_text<xen_changeset_info_t>(vcpu, arg, "xpv");
    case XENVER_platform_parameters: {
      xen_platform_parameters_t p{HYPERVISOR_VIRT_START};
      return vcpu.guest_memory().write(arg, p) ? 0 : xen::error(XEN_EFAULT);
    }
    case XENVER_get_features:
      return get_features(vcpu, arg);
    case XENVER_pagesize:
      return static_cast<long>(xen::kPageSize);
    case XENVER_guest_handle:
      return vcpu.guest_memory().write(arg, vcpu.domain().handle()) ? 0 : xen::error(XEN_EFAULT);
    case XENVER_commandline:
    case XENVER_build_id:
      return xen::error(XEN_EPERM);  // privileged domains only (Xen's XSM default policy)
    default:
      return vcpu.domain().unimplemented().report(args.nr, cmd);
  }
}

}  // namespace xpv::hv
