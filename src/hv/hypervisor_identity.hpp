// What xpv tells guests about itself.
#pragma once

#include <cstdint>

#include "xen/abi.hpp"

namespace xpv::hv {

// The Xen release whose public headers (Debian's libxen-dev) define the
// ABI xpv implements; the extraversion says it is xpv, not Xen.
constexpr long kXenMajor = 4;
constexpr long kXenMinor = 17;
constexpr const char* kXenExtraVersion = "-xpv";

// XENVER_get_features submap 0: what Xen advertises to a 64-bit PV domU
// (xen/common/kernel.c). Linux panics without the two page-table bits.
constexpr uint32_t kAdvertisedFeatures = (1U << XENFEAT_mmu_pt_update_preserve_ad) |
                                         (1U << XENFEAT_gnttab_map_avail_bits) |
                                         (1U << XENFEAT_highmem_assist);

}  // namespace xpv::hv
