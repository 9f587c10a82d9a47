// set_trap_table: the guest kernel's exception handlers (xen.h trap_info).
// Stored per vCPU; exceptions are delivered through it by the trap model.
#include "base/x86.hpp"
#include "hv/handlers.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

// Xen handles a long table in pieces, restarting the hypercall where it
// stopped; so does xpv, so no guest can hold a vCPU in one call.
constexpr unsigned kEntriesPerPass = 256;

}  // namespace

long do_set_trap_table(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  uint64_t va = args.arg[0];
  auto& table = vcpu.trap_table();
  if (va == 0) {
    table.fill(trap_info_t{});
    return 0;
  }
  auto memory = vcpu.guest_memory();
  for (unsigned i = 0; i < kEntriesPerPass; ++i, va += sizeof(trap_info_t)) {
    auto entry = memory.read<trap_info_t>(va);
    if (!entry) return xen::error(XEN_EFAULT);
    if (entry->address == 0) return 0;
    if (!x86::is_canonical(entry->address)) return xen::error(XEN_EINVAL);
    entry->cs |= 3;  // a PV kernel's code runs in ring 3 (fixup_guest_code_selector)
    table[entry->vector] = *entry;
  }
  return continue_hypercall(vcpu, args, {va, 0, 0, 0, 0});
}

}  // namespace xpv::hv
