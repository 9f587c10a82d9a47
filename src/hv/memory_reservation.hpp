// Ballooning: XENMEM_increase_reservation, XENMEM_decrease_reservation and
// XENMEM_populate_physmap (xen/memory.h, struct xen_memory_reservation;
// Xen's xen/common/memory.c).
#pragma once

#include <cstdint>

#include "hv/hypercall.hpp"

namespace xpv::hv {

// The M2P entry of a frame no pseudo-physical page maps to (Xen's private
// INVALID_M2P_ENTRY, asm-x86/mm.h).
constexpr uint64_t kInvalidM2pEntry = ~uint64_t{0};

// One of the three reservation commands of memory_op. As in Xen the result
// is the number of extents done; a refusal (foreign domain, bad order,
// over the maximum) is a short count, never an error code.
long memory_reservation_op(vmm::Vcpu& vcpu, const HypercallArgs& args, int cmd,
                           uint64_t start_extent);

}  // namespace xpv::hv
