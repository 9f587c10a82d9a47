#include "hv/hypercall.hpp"

#include <cinttypes>
#include <cstdio>
#include <string>

#include "hv/handlers.hpp"
#include "hv/hypercall_names.hpp"
#include "hv/physdev_op.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"
#include "xen/abi.hpp"

namespace xpv::hv {

namespace {

struct HandlerEntry {
  uint64_t nr;
  HypercallHandler handler;
};

constexpr HandlerEntry kHandlers[] = {
    {__HYPERVISOR_set_trap_table, do_set_trap_table},
    {__HYPERVISOR_console_io, do_console_io},
    {__HYPERVISOR_sched_op, do_sched_op},
    {__HYPERVISOR_xen_version, do_xen_version},
    {__HYPERVISOR_vm_assist, do_vm_assist},
    {__HYPERVISOR_memory_op, do_memory_op},
    {__HYPERVISOR_iret, do_iret},
    {__HYPERVISOR_callback_op, do_callback_op},
    {__HYPERVISOR_set_callbacks, do_set_callbacks},
    {__HYPERVISOR_set_segment_base, do_set_segment_base},
    {__HYPERVISOR_stack_switch, do_stack_switch},
    {__HYPERVISOR_fpu_taskswitch, do_fpu_taskswitch},
    {__HYPERVISOR_mmu_update, do_mmu_update},
    {__HYPERVISOR_update_va_mapping, do_update_va_mapping},
    {__HYPERVISOR_mmuext_op, do_mmuext_op},
    {__HYPERVISOR_set_gdt, do_set_gdt},
    {__HYPERVISOR_update_descriptor, do_update_descriptor},
    {__HYPERVISOR_vcpu_op, do_vcpu_op},
    {__HYPERVISOR_physdev_op, do_physdev_op},
    {__HYPERVISOR_event_channel_op, do_event_channel_op},
    {__HYPERVISOR_grant_table_op, do_grant_table_op},
    {__HYPERVISOR_set_timer_op, do_set_timer_op},
    {__HYPERVISOR_multicall, do_multicall},
    {__HYPERVISOR_set_debugreg, do_set_debugreg},
    {__HYPERVISOR_get_debugreg, do_get_debugreg},
};

std::string format_call(const HypercallArgs& a, long result) {
  std::string name(hypercall_name(a.nr));
  if (name == "unknown") name = "hypercall#" + std::to_string(a.nr);
  char buf[256];
  std::string_view sub = sub_op_name(a.nr, a.arg[0]);
  if (!sub.empty()) {
    std::snprintf(buf, sizeof buf, "(%.*s, %#" PRIx64 ", %#" PRIx64 ") = %ld",
                  static_cast<int>(sub.size()), sub.data(), a.arg[1], a.arg[2], result);
  } else {
    std::snprintf(buf, sizeof buf, "(%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ") = %ld", a.arg[0],
                  a.arg[1], a.arg[2], result);
  }
  return name + buf;
}

}  // namespace

HypercallHandler find_handler(uint64_t nr) {
  for (const auto& h : kHandlers)
    if (h.nr == nr) return h.handler;
  return nullptr;
}

long continue_hypercall(vmm::Vcpu& vcpu, const HypercallArgs& args,
                        const std::array<uint64_t, 5>& next_args) {
  if (Continuation* c = vcpu.continuation_target(); c != nullptr) {
    c->requested = true;
    c->args = next_args;
    return 0;
  }
  constexpr uint64_t kSyscallLength = 2;
  vcpu.frame().rip -= kSyscallLength;
  kvm_regs& r = vcpu.regs();
  r.rdi = next_args[0];
  r.rsi = next_args[1];
  r.rdx = next_args[2];
  r.r10 = next_args[3];
  r.r8 = next_args[4];
  return static_cast<long>(args.nr);
}

long dispatch_hypercall(vmm::Vcpu& vcpu) {
  const kvm_regs& r = vcpu.regs();
  return dispatch_call(vcpu, HypercallArgs{r.rax, {r.rdi, r.rsi, r.rdx, r.r10, r.r8}});
}

long dispatch_call(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  HypercallHandler handler = find_handler(args.nr);
  long result =
      handler != nullptr ? handler(vcpu, args) : vcpu.domain().unimplemented().report(args.nr);
  std::string line = format_call(args, result);
  if (vcpu.domain().config().trace)
    std::fprintf(stderr, "xpv: vcpu%u %s\n", vcpu.id(), line.c_str());
  vcpu.note_hypercall(std::move(line));
  return result;
}

}  // namespace xpv::hv
