// Each vCPU's two Xen timers — a singleshot one at an absolute system time
// and a periodic one (10 ms from the start, as Xen gives PV vCPUs) — fire
// VIRQ_TIMER on their vCPU from one timer thread per domain
// (VCPUOP_set_singleshot_timer, set_periodic_timer, set_timer_op).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace xpv::vmm {
class Domain;
}

namespace xpv::hv {

class PvClock;

class VcpuTimers {
 public:
  static constexpr uint64_t kDefaultPeriodNs = 10'000'000;

  VcpuTimers(vmm::Domain& domain, const PvClock& clock, unsigned nr_vcpus);
  VcpuTimers(const VcpuTimers&) = delete;
  VcpuTimers& operator=(const VcpuTimers&) = delete;
  ~VcpuTimers();

  void start();
  void stop();
  void set_singleshot(unsigned vcpu, uint64_t deadline_ns);
  void stop_singleshot(unsigned vcpu);
  void set_periodic(unsigned vcpu, uint64_t period_ns);  // 0 stops it

 private:
  struct Timers {
    std::optional<uint64_t> singleshot;
    uint64_t period = kDefaultPeriodNs;
    uint64_t next_periodic = kDefaultPeriodNs;
  };

  void run();
  std::optional<uint64_t> earliest_deadline() const;
  std::vector<unsigned> collect_expired(uint64_t now);

  vmm::Domain& domain_;
  const PvClock& clock_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Timers> timers_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace xpv::hv
