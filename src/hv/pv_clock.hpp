// Time for a PV guest (xen.h struct vcpu_time_info and the wallclock in
// shared_info): system time is nanoseconds since the domain was created,
// published as a (TSC, system time) pair with a scale so that the guest
// reads time from its own TSC without a hypercall, under Xen's version
// protocol (odd while an update is in progress).
#pragma once

#include <chrono>
#include <cstdint>

#include "xen/abi.hpp"

namespace xpv::hv {

// tsc_to_system_mul and tsc_shift for a TSC of `tsc_hz`: with the TSC delta
// shifted by `shift`, ns = delta * mul >> 32.
struct TscScale {
  uint32_t mul;
  int8_t shift;
  static TscScale for_frequency(uint64_t tsc_hz);
  uint64_t to_ns(uint64_t tsc_delta) const;
};

class PvClock {
 public:
  // `guest_tsc_offset`: the guest's TSC minus the host's (KVM's offset).
  PvClock(uint64_t tsc_khz, int64_t guest_tsc_offset);

  uint64_t system_time_ns() const;
  void publish(vcpu_time_info_t& time) const;
  void publish_wallclock(shared_info_t& shared) const;

 private:
  uint64_t guest_tsc() const;

  TscScale scale_;
  int64_t guest_tsc_offset_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::system_clock::time_point start_wallclock_;
};

}  // namespace xpv::hv
