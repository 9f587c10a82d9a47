#include "hv/vcpu_timers.hpp"

#include <algorithm>
#include <cstdint>

#include "hv/pv_clock.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

// The longest the timer thread sleeps before looking again. A guest may
// set a deadline anywhere up to 2^64 ns; waiting for that long in one go
// overflows the wait (std::chrono::nanoseconds is signed, and wait_for adds
// it to the current time), which returned at once and left the thread
// spinning with the lock held, starving the vCPUs (found by the
// hypercall-fuzz guest, seed 3).
constexpr uint64_t kLongestWaitNs = 3'600'000'000'000ULL;  // an hour

// now + delta, saturating at the largest time instead of wrapping into
// the past (which would fire the timer on every pass).
uint64_t saturating_add(uint64_t now, uint64_t delta) {
  return delta > UINT64_MAX - now ? UINT64_MAX : now + delta;
}

}  // namespace

VcpuTimers::VcpuTimers(vmm::Domain& domain, const PvClock& clock, unsigned nr_vcpus)
    : domain_(domain), clock_(clock), timers_(nr_vcpus) {}

VcpuTimers::~VcpuTimers() {
  stop();
}

void VcpuTimers::start() {
  thread_ = std::thread([this] { run(); });
}

void VcpuTimers::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void VcpuTimers::set_singleshot(unsigned vcpu, uint64_t deadline_ns) {
  {
    std::lock_guard lock(mutex_);
    timers_.at(vcpu).singleshot = deadline_ns;
  }
  changed_.notify_all();
}

void VcpuTimers::stop_singleshot(unsigned vcpu) {
  std::lock_guard lock(mutex_);
  timers_.at(vcpu).singleshot.reset();
}

void VcpuTimers::set_periodic(unsigned vcpu, uint64_t period_ns) {
  {
    std::lock_guard lock(mutex_);
    Timers& t = timers_.at(vcpu);
    t.period = period_ns;
    t.next_periodic = saturating_add(clock_.system_time_ns(), period_ns);
  }
  changed_.notify_all();
}

std::optional<uint64_t> VcpuTimers::earliest_deadline() const {
  std::optional<uint64_t> earliest;
  for (const Timers& t : timers_) {
    if (t.singleshot && (!earliest || *t.singleshot < *earliest)) earliest = t.singleshot;
    if (t.period != 0 && (!earliest || t.next_periodic < *earliest)) earliest = t.next_periodic;
  }
  return earliest;
}

std::vector<unsigned> VcpuTimers::collect_expired(uint64_t now) {
  std::vector<unsigned> fired;
  for (unsigned v = 0; v < timers_.size(); ++v) {
    Timers& t = timers_[v];
    bool fire = false;
    if (t.singleshot && *t.singleshot <= now) {
      t.singleshot.reset();
      fire = true;
    }
    if (t.period != 0 && t.next_periodic <= now) {
      // Missed periods are not replayed: the next one is in the future.
      t.next_periodic = saturating_add(now, t.period - (now - t.next_periodic) % t.period);
      fire = true;
    }
    if (fire) fired.push_back(v);
  }
  return fired;
}

void VcpuTimers::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    uint64_t now = clock_.system_time_ns();
    std::vector<unsigned> fired = collect_expired(now);
    if (!fired.empty()) {
      lock.unlock();
      for (unsigned v : fired) {
        vmm::Vcpu& vcpu = domain_.vcpu(v);
        clock_.publish(vcpu.vcpu_info().time);  // time moves on with each tick
        domain_.event_channels().raise_virq(v, VIRQ_TIMER);
      }
      lock.lock();
      continue;
    }
    auto deadline = earliest_deadline();
    if (!deadline) {
      changed_.wait(lock);
    } else {
      // Nothing has expired, so the deadline is after `now`.
      const uint64_t wait_ns = std::min(*deadline - now, kLongestWaitNs);
      changed_.wait_for(lock, std::chrono::nanoseconds(static_cast<int64_t>(wait_ns)));
    }
  }
}

}  // namespace xpv::hv
