// mmuext_op: pinning page tables, switching roots, TLB maintenance and
// page copies (xen.h MMUEXT_*; Xen's do_mmuext_op in xen/arch/x86/mm.c).
#include <cstring>

#include "hv/batch.hpp"
#include "hv/descriptor_tables.hpp"
#include "hv/handlers.hpp"
#include "hv/mmuext_op.hpp"
#include "hv/tlb.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

constexpr uint32_t kBatchPerPass = 256;

// CLEAR_PAGE and COPY_PAGE write a frame as the guest could: only one that
// may take the writable type (never a page table).
long clear_or_copy(vmm::Vcpu& vcpu, uint64_t dst, const uint64_t* src) {
  vmm::Domain& d = vcpu.domain();
  if (src != nullptr && !d.page_types().owns(*src)) return xen::error(XEN_EINVAL);
  if (long rc = d.page_types().get_type(dst, mm::PageType::kWritable); rc != 0) return rc;
  auto to = d.ram().frame(dst);
  if (src != nullptr)
    std::memcpy(to.data(), d.ram().frame(*src).data(), to.size());
  else
    std::memset(to.data(), 0, to.size());
  d.page_types().put_type(dst);
  return 0;
}

long one_op(vmm::Vcpu& vcpu, const mmuext_op& op, uint64_t nr) {
  auto& types = vcpu.domain().page_types();
  switch (op.cmd) {
    case MMUEXT_PIN_L1_TABLE:
    case MMUEXT_PIN_L2_TABLE:
    case MMUEXT_PIN_L3_TABLE:
    case MMUEXT_PIN_L4_TABLE:
      return types.pin(op.arg1.mfn, op.cmd - MMUEXT_PIN_L1_TABLE + 1);
    case MMUEXT_UNPIN_TABLE:
      return types.unpin(op.arg1.mfn);
    case MMUEXT_NEW_BASEPTR:
      return set_baseptr(vcpu, op.arg1.mfn, false);
    case MMUEXT_NEW_USER_BASEPTR:
      return set_baseptr(vcpu, op.arg1.mfn, true);
    case MMUEXT_TLB_FLUSH_LOCAL:
    case MMUEXT_INVLPG_LOCAL:
      vcpu.request_tlb_flush();
      return 0;
    case MMUEXT_TLB_FLUSH_ALL:
    case MMUEXT_INVLPG_ALL:
      flush_all_vcpus(vcpu);
      return 0;
    case MMUEXT_TLB_FLUSH_MULTI:
    case MMUEXT_INVLPG_MULTI:
      return flush_vcpu_mask(vcpu, reinterpret_cast<uint64_t>(op.arg2.vcpumask.p));
    case MMUEXT_SET_LDT:
      return set_ldt(vcpu, op.arg1.linear_addr, op.arg2.nr_ents);
    case MMUEXT_CLEAR_PAGE:
      return clear_or_copy(vcpu, op.arg1.mfn, nullptr);
    case MMUEXT_COPY_PAGE: {
      uint64_t src = op.arg2.src_mfn;
      return clear_or_copy(vcpu, op.arg1.mfn, &src);
    }
    default:
      return vcpu.domain().unimplemented().report(nr, op.cmd);
  }
}

}  // namespace

long set_baseptr(vmm::Vcpu& vcpu, uint64_t mfn, bool user) {
  auto& types = vcpu.domain().page_types();
  uint64_t old = user ? vcpu.user_root_mfn() : vcpu.kernel_root_mfn();
  if (mfn == old) return 0;
  if (user && mfn == 0) {  // no user root: kernel threads
    vcpu.set_user_root(0);
  } else {
    if (long rc = types.get_type(mfn, mm::PageType::kL4); rc != 0) return rc;
    if (user)
      vcpu.set_user_root(mfn);
    else
      vcpu.set_kernel_root(mfn);
  }
  if (old != 0) types.put_type(old);
  return 0;
}

long do_mmuext_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  if (!vcpu.domain().is_self(static_cast<domid_t>(args.arg[3]))) return xen::error(XEN_ESRCH);
  return run_batch<mmuext_op>(vcpu, args, kBatchPerPass, [&](vmm::Vcpu& v, const mmuext_op& op) {
    return one_op(v, op, args.nr);
  });
}

}  // namespace xpv::hv
