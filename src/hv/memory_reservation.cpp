#include "hv/memory_reservation.hpp"

#include <climits>

#include "base/x86.hpp"
#include "monitor/layout.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"
#include "xen/abi.hpp"

namespace xpv::hv {

namespace {

// Xen's private memop encoding (xen/include/xen/hypercall.h).
constexpr unsigned kMemopExtentShift = 6;
// CONFIG_DOMU_MAX_ORDER: the largest extent a domU may ask for (2 MiB).
constexpr unsigned kDomuMaxOrder = 9;
// Extents done before the call is continued (Xen: hypercall_preempt_check).
constexpr uint64_t kExtentsPerPass = 256;

struct Request {
  xen_memory_reservation reservation;
  uint64_t below_mfn;  // from XENMEMF_address_bits
};

uint64_t extent_address(const Request& r, uint64_t i) {
  return reinterpret_cast<uint64_t>(r.reservation.extent_start.p) + i * sizeof(xen_pfn_t);
}

// guest_handle_subrange_okay: the part of the list still to do lies in
// the guest's own addresses (canonical, one half, outside the hypervisor's
// slots); checked before anything is done, so a bad list does nothing.
bool list_in_guest_addresses(const Request& r, uint64_t first) {
  uint64_t begin = extent_address(r, first);
  uint64_t bytes = (r.reservation.nr_extents - first) * sizeof(xen_pfn_t);
  if (begin + bytes < begin) return false;
  uint64_t last = begin + bytes - 1;
  bool same_half = (begin >> 63) == (last >> 63);
  return x86::is_canonical(begin) && x86::is_canonical(last) && same_half &&
         !monitor::in_hole(begin) && !monitor::in_hole(last);
}

// increase_reservation: new frames, their MFNs written to the list when
// there is one; their M2P entries stay for the guest to set.
bool increase_one(vmm::Vcpu& vcpu, const Request& r, uint64_t i) {
  auto mfn = vcpu.domain().page_types().allocate(r.reservation.extent_order, r.below_mfn);
  if (!mfn) return false;
  if (r.reservation.extent_start.p == nullptr) return true;
  return vcpu.guest_memory().write<xen_pfn_t>(extent_address(r, i), *mfn);
}

// populate_physmap: a PV guest names the pseudo-physical frame, xpv fills
// in the M2P and returns the MFN in its place.
bool populate_one(vmm::Vcpu& vcpu, const Request& r, uint64_t i) {
  auto memory = vcpu.guest_memory();
  auto gpfn = memory.read<xen_pfn_t>(extent_address(r, i));
  if (!gpfn) return false;
  auto mfn = vcpu.domain().page_types().allocate(r.reservation.extent_order, r.below_mfn);
  if (!mfn) return false;
  auto m2p = vcpu.domain().monitor().m2p();
  for (uint64_t j = 0; j < (uint64_t{1} << r.reservation.extent_order); ++j)
    m2p[*mfn + j] = *gpfn + j;
  return memory.write<xen_pfn_t>(extent_address(r, i), *mfn);
}

// decrease_reservation: a PV guest's gmfn is the MFN. Stops at the first
// frame it does not own (guest_remove_page's -EINVAL / -ENXIO).
bool decrease_one(vmm::Vcpu& vcpu, const Request& r, uint64_t i) {
  auto gmfn = vcpu.guest_memory().read<xen_pfn_t>(extent_address(r, i));
  if (!gmfn) return false;
  for (uint64_t j = 0; j < (uint64_t{1} << r.reservation.extent_order); ++j)
    if (vcpu.domain().page_types().release(*gmfn + j) != 0) return false;
  return true;
}

// construct_memop_from_reservation: address_bits restricts where frames
// come from; 12 bits or fewer cannot hold a frame.
std::optional<uint64_t> frames_below(uint32_t mem_flags) {
  unsigned bits = XENMEMF_get_address_bits(mem_flags);
  if (bits == 0 || bits >= 64) return UINT64_MAX;
  if (bits <= 12) return std::nullopt;
  return uint64_t{1} << (bits - 12);
}

}  // namespace

long memory_reservation_op(vmm::Vcpu& vcpu, const HypercallArgs& args, int cmd,
                           uint64_t start_extent) {
  auto start = static_cast<long>(start_extent);
  auto reservation = vcpu.guest_memory().read<xen_memory_reservation>(args.arg[1]);
  // Every early refusal returns the extents done so far (do_memory_op).
  if (!reservation || reservation->nr_extents > (UINT_MAX >> kMemopExtentShift) ||
      start_extent >= reservation->nr_extents)
    return start;
  // A domU may adjust only its own reservation (xsm_memory_adjust_reservation).
  if (!vcpu.domain().is_self(reservation->domid)) return start;
  auto below = frames_below(reservation->mem_flags);
  if (!below || reservation->extent_order > kDomuMaxOrder) return start;
  // Populate-on-demand is for HVM guests and never on oneself.
  if (cmd == XENMEM_populate_physmap && (reservation->mem_flags & XENMEMF_populate_on_demand) != 0)
    return start;

  Request request{*reservation, *below};
  if (!list_in_guest_addresses(request, start_extent)) return start;
  auto one = cmd == XENMEM_increase_reservation   ? increase_one
             : cmd == XENMEM_decrease_reservation ? decrease_one
                                                  : populate_one;
  uint64_t i = start_extent;
  for (; i < reservation->nr_extents; ++i) {
    if (i != start_extent && (i - start_extent) % kExtentsPerPass == 0) {
      uint64_t next_cmd = static_cast<uint64_t>(cmd) | (i << kMemopExtentShift);
      return continue_hypercall(vcpu, args, {next_cmd, args.arg[1], 0, 0, 0});
    }
    if (!one(vcpu, request, i)) break;
  }
  return static_cast<long>(i);
}

}  // namespace xpv::hv
