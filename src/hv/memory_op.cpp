// memory_op: the domain's memory as Xen reports it (xen/memory.h).
#include "hv/handlers.hpp"
#include "hv/memory_reservation.hpp"
#include "monitor/layout.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

// The BIOS E820 entry format XENMEM_memory_map hands out; not a Xen
// structure (Xen's public headers leave it to the guest's own definition).
struct [[gnu::packed]] E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};
constexpr uint32_t kE820Ram = 1;

// memory_op's cmd carries a continuation's start extent above its low 6
// bits (MEMOP_EXTENT_SHIFT, private to Xen: xen/include/xen/hypercall.h).
constexpr unsigned kMemopExtentShift = 6;
constexpr uint64_t kMemopCmdMask = (1ULL << kMemopExtentShift) - 1;

long reservation(vmm::Vcpu& vcpu, uint64_t arg, bool maximum) {
  auto id = vcpu.guest_memory().read<domid_t>(arg);
  if (!id) return xen::error(XEN_EFAULT);
  if (!vcpu.domain().is_self(*id)) return xen::error(XEN_ESRCH);
  return static_cast<long>(maximum ? vcpu.domain().max_pages() : vcpu.domain().nr_pages());
}

// One RAM entry covering the domain's pseudo-physical memory, as libxl
// sets it with xc_domain_set_memmap_limit.
long memory_map(vmm::Vcpu& vcpu, uint64_t arg) {
  auto memory = vcpu.guest_memory();
  auto map = memory.read<xen_memory_map>(arg);
  if (!map) return xen::error(XEN_EFAULT);
  E820Entry ram{0, vcpu.domain().ram().nr_frames() << 12, kE820Ram};
  map->nr_entries = std::min(map->nr_entries, 1U);
  if (map->nr_entries == 1 && !memory.write(reinterpret_cast<uint64_t>(map->buffer.p), ram))
    return xen::error(XEN_EFAULT);
  return memory.write(arg, *map) ? 0 : xen::error(XEN_EFAULT);
}

long machphys_mapping(vmm::Vcpu& vcpu, uint64_t arg) {
  uint64_t entries = vcpu.domain().monitor().m2p().size();
  xen_machphys_mapping_t m{};
  m.v_start = monitor::kM2pVa;
  m.v_end = monitor::kM2pVa + entries * sizeof(uint64_t);
  m.max_mfn = entries - 1;
  return vcpu.guest_memory().write(arg, m) ? 0 : xen::error(XEN_EFAULT);
}

}  // namespace

long do_memory_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<int>(args.arg[0] & kMemopCmdMask);
  uint64_t start_extent = args.arg[0] >> kMemopExtentShift;
  uint64_t arg = args.arg[1];
  switch (cmd) {
    case XENMEM_increase_reservation:
    case XENMEM_decrease_reservation:
    case XENMEM_populate_physmap:
      return memory_reservation_op(vcpu, args, cmd, start_extent);
    // Queries that cannot be continued refuse a start extent (common/memory.c).
    case XENMEM_maximum_ram_page:
      if (start_extent != 0) return xen::error(XEN_EINVAL);
      return static_cast<long>(vcpu.domain().ram().end_mfn() - 1);
    case XENMEM_current_reservation:
    case XENMEM_maximum_reservation:
      if (start_extent != 0) return xen::error(XEN_EINVAL);
      return reservation(vcpu, arg, cmd == XENMEM_maximum_reservation);
    case XENMEM_memory_map:
      return memory_map(vcpu, arg);
    case XENMEM_machphys_mapping:
      return machphys_mapping(vcpu, arg);
    default:
      return vcpu.domain().unimplemented().report(args.nr, cmd);
  }
}

}  // namespace xpv::hv
