// Builds a 64-bit PV domU in a fresh domain: loads the kernel and initrd,
// writes the P2M and M2P, start_info, the bootstrap page tables and the
// hypercall page, and sets vCPU 0 to start at the kernel's entry, exactly
// as Xen's toolstack (libxc/libxl) starts a domU (linux-pv-guest.md §2).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "domain/kernel_image.hpp"
#include "domain/pv_layout.hpp"

namespace xpv::vmm {
class Domain;
}

namespace xpv::domain {

// Event channels libxl allocates for a domU's xenstore and console (the
// lowest free ports, in that order).
constexpr uint32_t kXenstorePort = 1;
constexpr uint32_t kConsolePort = 2;

// Features of the '!' FEATURES syntax that xpv provides to a kernel.
XenFeatureSet features_xpv_provides();

struct BootState {
  PvLayout layout;
  uint64_t entry = 0;
  uint64_t start_info_va = 0;
  uint64_t stack_top = 0;
  uint64_t l4_mfn = 0;
};

// Throws LayoutError / ImageError / Error with a one-line reason.
BootState build_pv_domain(vmm::Domain& domain, const KernelImage& kernel,
                          std::span<const uint8_t> ramdisk, const std::string& cmdline);

}  // namespace xpv::domain
