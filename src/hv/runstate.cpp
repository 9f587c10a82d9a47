#include "hv/runstate.hpp"

namespace xpv::hv {

void Runstate::change(int state, uint64_t now_ns) {
  if (info.state >= 0 && info.state < 4 && now_ns > info.state_entry_time)
    info.time[info.state] += now_ns - info.state_entry_time;
  info.state = state;
  info.state_entry_time = now_ns;
}

}  // namespace xpv::hv
