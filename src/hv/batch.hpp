// The batch hypercalls (mmu_update, mmuext_op) share Xen's shape: an
// array of requests in guest memory, a count, an optional `pdone` where
// the number done is written, and a domain. A long batch is done in
// passes; the rest is re-issued as a continuation whose count carries a
// "preempted" mark, the done count travelling in *pdone (Xen's private
// MMU_UPDATE_PREEMPTED).
#pragma once

#include <cstdint>

#include "hv/hypercall.hpp"
#include "vmm/vcpu.hpp"
#include "xen/abi.hpp"

namespace xpv::hv {

constexpr uint32_t kBatchPreempted = 1U << 31;

// Runs `apply(vcpu, request)` for each request of type T, at most
// `per_pass` of them before continuing; stops at the first error.
template <typename T, typename Apply>
long run_batch(vmm::Vcpu& vcpu, const HypercallArgs& args, uint32_t per_pass, Apply apply) {
  uint64_t list = args.arg[0];
  auto count = static_cast<uint32_t>(args.arg[1]);
  uint64_t pdone = args.arg[2];
  auto memory = vcpu.guest_memory();
  uint32_t done = 0;
  if ((count & kBatchPreempted) != 0) {
    count &= ~kBatchPreempted;
    if (pdone != 0) done = memory.read<uint32_t>(pdone).value_or(0);
  }
  long rc = 0;
  uint32_t i = 0;
  for (; i < count && i < per_pass; ++i) {
    auto request = memory.read<T>(list + i * sizeof(T));
    if (!request) {
      rc = xen::error(XEN_EFAULT);
      break;
    }
    if ((rc = apply(vcpu, *request)) != 0) break;
  }
  done += i;
  if (pdone != 0 && !memory.write<uint32_t>(pdone, done)) return xen::error(XEN_EFAULT);
  if (rc == 0 && i < count)
    return continue_hypercall(
        vcpu, args, {list + i * sizeof(T), (count - i) | kBatchPreempted, pdone, args.arg[3], 0});
  return rc;
}

}  // namespace xpv::hv
