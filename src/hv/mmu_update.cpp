// mmu_update and update_va_mapping: the guest's writes to its own page
// tables, each entry validated before it is visible (xen.h MMU_*, UVMF_*;
// Xen's do_mmu_update and do_update_va_mapping in xen/arch/x86/mm.c).
#include "base/x86.hpp"
#include "hv/batch.hpp"
#include "hv/handlers.hpp"
#include "hv/tlb.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

constexpr uint32_t kBatchPerPass = 1024;

long apply_one(vmm::Vcpu& vcpu, const mmu_update_t& req) {
  vmm::Domain& d = vcpu.domain();
  uint64_t mfn = req.ptr >> 12;
  switch (req.ptr & 7) {
    case MMU_NORMAL_PT_UPDATE:
    case MMU_PT_UPDATE_PRESERVE_AD:
    case MMU_PT_UPDATE_NO_TRANSLATE:  // a PV guest's frames need no translation
      return d.page_types().update_entry(mfn, static_cast<unsigned>((req.ptr & 0xfff) >> 3),
                                         req.val, (req.ptr & 7) == MMU_PT_UPDATE_PRESERVE_AD);
    case MMU_MACHPHYS_UPDATE:
      // get_page_from_mfn fails for a frame the domain does not own.
      if (!d.page_types().owns(mfn)) return xen::error(XEN_EINVAL);
      d.monitor().m2p()[mfn] = req.val;
      return 0;
    default:
      return xen::error(XEN_ENOSYS);
  }
}

// The L1 entry that maps `va` in the vCPU's kernel root: found through
// validated tables only, so it is an L1 page the guest may update.
std::optional<std::pair<uint64_t, unsigned>> find_l1_entry(vmm::Vcpu& vcpu, uint64_t va) {
  if (!is_canonical(va)) return std::nullopt;
  const auto& ram = vcpu.domain().ram();
  uint64_t table = vcpu.kernel_root_mfn();
  for (unsigned level = 4; level > 1; --level) {
    uint64_t entry = ram.load_entry(table, table_index(va, level));
    if ((entry & pte::kPresent) == 0) return std::nullopt;
    table = (entry & pte::kAddressMask) >> 12;
    if (!ram.owns(table)) return std::nullopt;
  }
  mm::PageInfo info = vcpu.domain().page_types().info(table);
  if (info.type != mm::PageType::kL1 || info.type_count == 0) return std::nullopt;
  return std::make_pair(table, l1_index(va));
}

}  // namespace

long do_mmu_update(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  if (!vcpu.domain().is_self(static_cast<domid_t>(args.arg[3]))) return xen::error(XEN_ESRCH);
  return run_batch<mmu_update_t>(vcpu, args, kBatchPerPass, apply_one);
}

long do_update_va_mapping(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  uint64_t va = args.arg[0], val = args.arg[1], flags = args.arg[2];
  auto slot = find_l1_entry(vcpu, va);
  if (!slot) return xen::error(XEN_EINVAL);
  if (long rc = vcpu.domain().page_types().update_entry(slot->first, slot->second, val, false);
      rc != 0)
    return rc;
  return flush_after_update(vcpu, flags);
}

}  // namespace xpv::hv
