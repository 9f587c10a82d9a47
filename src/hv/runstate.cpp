#include "hv/runstate.hpp"

namespace xpv::hv {

namespace {

// Adds the time spent in the current state up to `now_ns`.
void account(vcpu_runstate_info_t& info, uint64_t now_ns) {
  if (info.state >= 0 && info.state < 4 && now_ns > info.state_entry_time)
    info.time[info.state] += now_ns - info.state_entry_time;
}

}  // namespace

void Runstate::change(int state, uint64_t now_ns) {
  account(info, now_ns);
  info.state = state;
  info.state_entry_time = now_ns;
}

vcpu_runstate_info_t Runstate::at(uint64_t now_ns) const {
  vcpu_runstate_info_t now = info;
  account(now, now_ns);
  return now;
}

}  // namespace xpv::hv
