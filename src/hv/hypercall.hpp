// Hypercall entry: Xen's x86-64 PV calling convention (number in rax,
// arguments in rdi, rsi, rdx, r10, r8; result in rax as a negative Xen
// errno on failure), dispatch by Xen's hypercall numbers, and tracing.
#pragma once

#include <array>
#include <cstdint>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

struct HypercallArgs {
  uint64_t nr;
  std::array<uint64_t, 5> arg;
};

using HypercallHandler = long (*)(vmm::Vcpu& vcpu, const HypercallArgs& args);

// Where a call inside a multicall leaves its request to be continued,
// instead of rewinding the guest (see multicall.cpp).
struct Continuation {
  bool requested = false;
  std::array<uint64_t, 5> args{};
};

// Runs one call (from a guest `syscall` or a multicall entry) and traces it.
long dispatch_call(vmm::Vcpu& vcpu, const HypercallArgs& args);

// Reads the call from the vCPU's registers, runs it, traces it; returns
// the value for the guest's rax.
long dispatch_hypercall(vmm::Vcpu& vcpu);

// Makes the guest re-issue this hypercall with `next_args` when it resumes
// (Xen's hypercall_create_continuation): its rip goes back to the
// `syscall`. Returns the value for rax, the hypercall number.
long continue_hypercall(vmm::Vcpu& vcpu, const HypercallArgs& args,
                        const std::array<uint64_t, 5>& next_args);

// The handler for a hypercall number, or nullptr if xpv lacks it.
HypercallHandler find_handler(uint64_t nr);

}  // namespace xpv::hv
