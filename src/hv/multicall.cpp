// multicall: a batch of hypercalls in one entry (xen.h struct
// multicall_entry; Xen's common/multicall.c). Each result is written back
// into its entry. A call that must be continued (a long mmu_update) stops
// the batch: its entry gets the continued arguments, and the multicall
// itself is re-issued from that entry.
#include "hv/handlers.hpp"
#include "hv/hypercall.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

bool allowed_in_batch(uint64_t nr) {
  return nr != __HYPERVISOR_multicall && nr != __HYPERVISOR_iret;
}

}  // namespace

long do_multicall(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  uint64_t list = args.arg[0];
  auto count = static_cast<uint32_t>(args.arg[1]);
  auto memory = vcpu.guest_memory();
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t entry_va = list + i * sizeof(multicall_entry_t);
    auto entry = memory.read<multicall_entry_t>(entry_va);
    if (!entry) return xen::error(XEN_EFAULT);
    HypercallArgs call{
        entry->op,
        {entry->args[0], entry->args[1], entry->args[2], entry->args[3], entry->args[4]}};
    Continuation continuation;
    if (!allowed_in_batch(call.nr)) {
      entry->result = xen::error(XEN_ENOSYS);
    } else {
      vcpu.set_continuation_target(&continuation);
      entry->result = dispatch_call(vcpu, call);
      vcpu.set_continuation_target(nullptr);
    }
    if (continuation.requested) {
      for (unsigned a = 0; a < 5; ++a)
        entry->args[a] = continuation.args[a];
      if (!memory.write(entry_va, *entry)) return xen::error(XEN_EFAULT);
      return continue_hypercall(vcpu, args, {entry_va, count - i, 0, 0, 0});
    }
    if (!memory.write(entry_va, *entry)) return xen::error(XEN_EFAULT);
    if (vcpu.domain().ending()) return 0;  // a call shut the domain down
  }
  return 0;
}

}  // namespace xpv::hv
