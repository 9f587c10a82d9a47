// grant_table_op: the guest's view of its grant table (xen/grant_table.h),
// as Xen's do_grant_table_op (common/grant_table.c) answers a PV domU.
// Each request is copied in, checked, acted on through the domain's
// GrantTable, and its status (GNTST_*) copied out; batches are done in
// passes and continued like Xen's.
//
// Domains: xpv runs one domU (the caller) and plays domain 0 with host-side
// backends, which have no grant table a guest could name. So a request
// about the caller's own table works, one about domain 0 gets what Xen's
// XSM policy answers a domU acting on dom0, and any other domain id does
// not exist.
#include <cstddef>
#include <cstring>

#include "base/x86.hpp"
#include "hv/grant_table.hpp"
#include "hv/handlers.hpp"
#include "hv/l1_entry.hpp"
#include "hv/port_io.hpp"
#include "hv/tlb.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

// The command's upper bits carry a continuation argument, which only
// GNTTABOP_cache_flush uses (GNTTABOP_CONTINUATION_ARG_SHIFT).
constexpr uint32_t kCmdMask = (1U << 12) - 1;
// Requests handled before a batch is continued (Xen: hypercall_preempt_check).
constexpr uint32_t kPerPass = 256;

constexpr long kEfault = xen::error(XEN_EFAULT);

enum class DomainRef { kSelf, kBackends, kNone };

// rcu_lock_domain_by_any_id: DOMID_SELF or the caller's own id.
DomainRef resolve_any(const vmm::Domain& d, domid_t dom) {
  if (d.is_self(dom)) return DomainRef::kSelf;
  return dom == 0 ? DomainRef::kBackends : DomainRef::kNone;
}

// rcu_lock_domain_by_id: DOMID_SELF is no domain id there.
DomainRef resolve_by_id(const vmm::Domain& d, domid_t dom) {
  return dom == d.id() ? DomainRef::kSelf : DomainRef::kNone;
}

// Xen's guest_handle_okay (array_access_ok) for an array of 32-bit count:
// on x86-64 only where the array starts is checked (__addr_ok), so a huge
// count at a kernel address passes here and is refused later as Xen
// refuses it (gnttab_setup_table: nr_frames beyond the limit is
// GNTST_general_error). Each element is still copied through the checked
// path.
bool handle_okay(uint64_t va) {
  return guest_address_ok(va);
}

// Runs `apply` on each T of the array, writes each back with
// `write_back`, and continues after kPerPass requests with the rest.
template <typename T, typename Apply, typename WriteBack>
long for_each_request(vmm::Vcpu& vcpu, const HypercallArgs& args, Apply apply,
                      WriteBack write_back) {
  uint64_t list = args.arg[1];
  auto count = static_cast<uint32_t>(args.arg[2]);
  if (!handle_okay(list)) return kEfault;
  auto memory = vcpu.guest_memory();
  for (uint32_t i = 0; i < count; ++i) {
    if (i == kPerPass)
      return continue_hypercall(vcpu, args, {args.arg[0], list + i * sizeof(T), count - i, 0, 0});
    uint64_t va = list + i * sizeof(T);
    auto op = memory.read<T>(va);
    if (!op) return kEfault;
    apply(*op);
    if (!write_back(memory, va, *op)) return kEfault;
  }
  return 0;
}

template <typename T>
bool write_status(const mm::GuestVirtualMemory& memory, uint64_t va, const T& op) {
  return memory.write(va + offsetof(T, status), op.status);
}

// --- setup_table, query_size, set_version, get_version ----------------------

long setup_table(vmm::Vcpu& vcpu, uint64_t va, uint32_t count) {
  if (count != 1) return xen::error(XEN_EINVAL);
  auto memory = vcpu.guest_memory();
  auto op = memory.read<gnttab_setup_table_t>(va);
  if (!op) return kEfault;
  uint64_t list = reinterpret_cast<uint64_t>(op->frame_list.p);
  if (!handle_okay(list)) return kEfault;
  GrantTable& gt = vcpu.domain().grant_table();
  switch (resolve_any(vcpu.domain(), op->dom)) {
    case DomainRef::kSelf:
      op->status = gt.grow(op->nr_frames);
      break;
    case DomainRef::kBackends:
      op->status = GNTST_permission_denied;  // xsm_grant_setup
      break;
    case DomainRef::kNone:
      op->status = GNTST_bad_domain;
      break;
  }
  for (uint32_t i = 0; op->status == GNTST_okay && i < op->nr_frames; ++i) {
    if (!memory.write<xen_pfn_t>(list + i * sizeof(xen_pfn_t), gt.frame_mfn(i)))
      op->status = GNTST_bad_virt_addr;
  }
  return write_status(memory, va, *op) ? 0 : kEfault;
}

long query_size(vmm::Vcpu& vcpu, uint64_t va, uint32_t count) {
  if (count != 1) return xen::error(XEN_EINVAL);
  auto memory = vcpu.guest_memory();
  auto op = memory.read<gnttab_query_size_t>(va);
  if (!op) return kEfault;
  const GrantTable& gt = vcpu.domain().grant_table();
  switch (resolve_any(vcpu.domain(), op->dom)) {
    case DomainRef::kSelf:
      op->nr_frames = gt.nr_frames();
      op->max_nr_frames = gt.max_frames();
      op->status = GNTST_okay;
      break;
    case DomainRef::kBackends:
      op->status = GNTST_permission_denied;  // xsm_grant_query_size
      break;
    case DomainRef::kNone:
      op->status = GNTST_bad_domain;
      break;
  }
  return memory.write(va, *op) ? 0 : kEfault;
}

// Only version 1 exists here: asking for 2 gets what Xen answers when the
// version is limited to 1 (gnttab_set_version with gnttab=max-ver:1:
// -ENOSYS); anything else -EINVAL. The version in force goes back either way.
long set_version(vmm::Vcpu& vcpu, uint64_t va) {
  auto memory = vcpu.guest_memory();
  auto op = memory.read<gnttab_set_version_t>(va);
  if (!op) return kEfault;
  long rc = 0;
  if (op->version != 1 && op->version != 2) {
    rc = xen::error(XEN_EINVAL);
  } else if (op->version == 2) {
    rc = xen::error(XEN_ENOSYS);
  }
  op->version = vcpu.domain().grant_table().version();
  return memory.write(va, *op) ? rc : kEfault;
}

long get_version(vmm::Vcpu& vcpu, uint64_t va) {
  auto memory = vcpu.guest_memory();
  auto op = memory.read<gnttab_get_version_t>(va);
  if (!op) return kEfault;
  switch (resolve_any(vcpu.domain(), op->dom)) {
    case DomainRef::kSelf:
      break;
    case DomainRef::kBackends:
      return xen::error(XEN_EPERM);  // xsm_grant_query_size
    case DomainRef::kNone:
      return xen::error(XEN_ESRCH);
  }
  op->version = vcpu.domain().grant_table().version();
  return memory.write(va + offsetof(gnttab_get_version_t, version), op->version) ? 0 : kEfault;
}

// --- copy ------------------------------------------------------------------

// The domain one end of a copy names (Xen's gnttab_copy_lock_domain): a
// frame by number only with DOMID_SELF; grants only in the caller's table.
int16_t end_domain_status(const vmm::Domain& d, const gnttab_copy::gnttab_copy_ptr& end,
                          bool is_gref) {
  if (!is_gref && end.domid != DOMID_SELF) return GNTST_permission_denied;
  return resolve_any(d, end.domid) == DomainRef::kSelf ? GNTST_okay : GNTST_bad_domain;
}

// Xen's gnttab_copy_claim_buf: the source is claimed read-only, the
// destination writable.
GrantMapResult claim_end(vmm::Domain& d, const gnttab_copy::gnttab_copy_ptr& end, bool is_gref,
                         bool readonly) {
  if (is_gref) return d.grant_table().map(d.id(), end.u.ref, readonly);
  return d.grant_table().claim_own_frame(end.u.gmfn, readonly);
}

// Both domains first, then both ends, then the bounds (gnttab_copy_one).
int16_t copy_one(vmm::Vcpu& vcpu, const gnttab_copy_t& op) {
  vmm::Domain& d = vcpu.domain();
  bool source_gref = (op.flags & GNTCOPY_source_gref) != 0;
  bool dest_gref = (op.flags & GNTCOPY_dest_gref) != 0;
  if (int16_t rc = end_domain_status(d, op.source, source_gref); rc != GNTST_okay) return rc;
  if (int16_t rc = end_domain_status(d, op.dest, dest_gref); rc != GNTST_okay) return rc;
  GrantMapResult source = claim_end(d, op.source, source_gref, /*readonly=*/true);
  if (source.status != GNTST_okay) return source.status;
  GrantMapResult dest = claim_end(d, op.dest, dest_gref, /*readonly=*/false);
  if (dest.status != GNTST_okay) return dest.status;
  if (op.source.offset + op.len > 4096 || op.dest.offset + op.len > 4096) return GNTST_bad_copy_arg;
  std::memmove(dest.mapping.writable_bytes().data() + op.dest.offset,
               source.mapping.bytes().data() + op.source.offset, op.len);
  return GNTST_okay;
}

// --- map_grant_ref / unmap_grant_ref ---------------------------------------

struct PteSlot {
  uint64_t table_mfn;
  unsigned index;
};

// Where the PTE of a host mapping is: at machine address host_addr with
// GNTMAP_contains_pte, else the L1 entry mapping virtual address host_addr
// (Xen's create_grant_pv_mapping, xen/arch/x86/pv/grant_table.c).
std::optional<PteSlot> pte_slot(vmm::Vcpu& vcpu, uint64_t host_addr, uint32_t flags) {
  if ((flags & GNTMAP_contains_pte) != 0) {
    if ((host_addr & 7) != 0) return std::nullopt;
    return PteSlot{host_addr >> 12, static_cast<unsigned>((host_addr & 0xfff) >> 3)};
  }
  auto slot = find_l1_entry(vcpu, host_addr);
  if (!slot) return std::nullopt;
  return PteSlot{slot->first, slot->second};
}

// Xen's grant_to_pte_flags: never executable, kernel-only unless
// GNTMAP_application_map, writable unless GNTMAP_readonly.
uint64_t grant_pte(uint64_t mfn, uint32_t flags) {
  uint64_t e = (mfn << 12) | pte::kPresent | pte::kAccessed | pte::kDirty | pte::kNx;
  if ((flags & GNTMAP_application_map) != 0) e |= pte::kUser;
  if ((flags & GNTMAP_readonly) == 0) e |= pte::kWritable;
  return e;
}

// Swaps the PTE at `slot` from what `accept` allows to `desired`, through
// PageTypes (which validates it and keeps the references), only in a frame
// that is an L1 table. A guest racing the swap gets a few retries.
int16_t swap_pte(vmm::Vcpu& vcpu, const PteSlot& slot, uint64_t desired,
                 const std::function<bool(uint64_t)>& accept) {
  mm::PageTypes& types = vcpu.domain().page_types();
  const mm::GuestRam& ram = vcpu.domain().ram();
  if (!ram.owns(slot.table_mfn)) return GNTST_general_error;
  uint64_t expected = ram.load_entry(slot.table_mfn, slot.index);
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!accept(expected)) return GNTST_general_error;
    uint64_t actual = 0;
    if (types.cmpxchg_entry(slot.table_mfn, slot.index, expected, desired, &actual,
                            mm::PageType::kL1) != 0)
      return GNTST_general_error;
    if (actual == expected) return GNTST_okay;
    expected = actual;
  }
  return GNTST_general_error;
}

void map_one(vmm::Vcpu& vcpu, gnttab_map_grant_ref_t& op) {
  vmm::Domain& d = vcpu.domain();
  if ((op.flags & (GNTMAP_device_map | GNTMAP_host_map)) == 0) {
    op.status = GNTST_bad_gntref;
    return;
  }
  if (resolve_by_id(d, op.dom) != DomainRef::kSelf) {
    op.status = GNTST_bad_domain;
    return;
  }
  auto install = [&](uint64_t mfn, uint32_t flags) -> int16_t {
    auto slot = pte_slot(vcpu, op.host_addr, flags);
    if (!slot) return GNTST_general_error;
    int16_t rc = swap_pte(vcpu, *slot, grant_pte(mfn, flags), [](uint64_t) { return true; });
    if (rc == GNTST_okay) vcpu.request_tlb_flush();  // the old entry may be cached
    return rc;
  };
  GuestMapResult r = d.grant_table().map_for_guest(d.id(), op.ref, op.flags, install);
  op.status = r.status;
  if (r.status == GNTST_okay) {
    op.handle = r.handle;
    op.dev_bus_addr = r.dev_bus_addr;
  }
}

void unmap_one(vmm::Vcpu& vcpu, gnttab_unmap_grant_ref_t& op) {
  vmm::Domain& d = vcpu.domain();
  auto remove = [&](uint64_t mfn, uint32_t flags) -> int16_t {
    auto slot = pte_slot(vcpu, op.host_addr, flags);
    if (!slot) return GNTST_general_error;
    // replace_grant_pv_mapping: the entry must still map the granted frame,
    // present and as writable as the grant mapping made it.
    auto maps_grant = [mfn, flags](uint64_t e) {
      bool writable = (flags & GNTMAP_readonly) == 0;
      return (e & pte::kPresent) != 0 && ((e & pte::kAddressMask) >> 12) == mfn &&
             ((e & pte::kWritable) != 0) == writable;
    };
    int16_t rc = swap_pte(vcpu, *slot, 0, maps_grant);
    if (rc == GNTST_okay) flush_all_vcpus(vcpu);  // gnttab_flush_tlb
    return rc;
  };
  op.status = d.grant_table().unmap_for_guest(op.handle, op.host_addr, op.dev_bus_addr, remove);
}

}  // namespace

long do_grant_table_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<uint32_t>(args.arg[0]);
  uint64_t uop = args.arg[1];
  auto count = static_cast<uint32_t>(args.arg[2]);
  if (static_cast<int32_t>(count) < 0) return xen::error(XEN_EINVAL);
  uint32_t op = cmd & kCmdMask;
  if (op != GNTTABOP_cache_flush && (cmd & ~kCmdMask) != 0) return xen::error(XEN_EINVAL);
  switch (op) {
    case GNTTABOP_setup_table:
      return setup_table(vcpu, uop, count);
    case GNTTABOP_query_size:
      return query_size(vcpu, uop, count);
    case GNTTABOP_set_version:
      return set_version(vcpu, uop);
    case GNTTABOP_get_version:
      return get_version(vcpu, uop);
    case GNTTABOP_copy:
      return for_each_request<gnttab_copy_t>(
          vcpu, args, [&](gnttab_copy_t& c) { c.status = copy_one(vcpu, c); },
          write_status<gnttab_copy_t>);
    case GNTTABOP_map_grant_ref:
      return for_each_request<gnttab_map_grant_ref_t>(
          vcpu, args, [&](gnttab_map_grant_ref_t& m) { map_one(vcpu, m); },
          [](const mm::GuestVirtualMemory& memory, uint64_t va, const gnttab_map_grant_ref_t& m) {
            return memory.write(va, m);
          });
    case GNTTABOP_unmap_grant_ref:
      return for_each_request<gnttab_unmap_grant_ref_t>(
          vcpu, args, [&](gnttab_unmap_grant_ref_t& u) { unmap_one(vcpu, u); },
          write_status<gnttab_unmap_grant_ref_t>);
    case GNTTABOP_dump_table:
      // Xen's do_grant_table_op has no case for it either: -ENOSYS.
      return xen::error(XEN_ENOSYS);
    default:
      // transfer, unmap_and_replace, swap_grant_ref, get_status_frames
      // (v2 only), cache_flush (Arm).
      return vcpu.domain().unimplemented().report(args.nr, op);
  }
}

}  // namespace xpv::hv
