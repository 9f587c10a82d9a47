// A vCPU's runstate (xen/vcpu.h struct vcpu_runstate_info): the state it is
// in, since when, and the time spent in each, published to the area the
// guest registered (Linux reads steal time from it).
#pragma once

#include <cstdint>

#include "xen/abi.hpp"

namespace xpv::hv {

struct Runstate {
  vcpu_runstate_info_t info{};
  uint64_t area_va = 0;  // 0: not registered

  // Accounts the time since the last change and enters `state`.
  void change(int state, uint64_t now_ns);
  // The info with the time in the current state counted up to `now_ns`
  // (Xen's vcpu_runstate_get, for VCPUOP_get_runstate_info).
  vcpu_runstate_info_t at(uint64_t now_ns) const;
};

}  // namespace xpv::hv
