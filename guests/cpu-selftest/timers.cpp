// SCHEDOP_poll (Xen's do_poll: argument checks, at once for a pending
// port, else a wait until a listed port is pending or the absolute
// timeout) and the timers that wake it: set_timer_op and VCPUOP's
// singleshot and periodic timers raising VIRQ_TIMER, within tolerance.
#include <initializer_list>

#include "cpu-selftest/event_support.hpp"
#include "cpu-selftest/traps.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/test.hpp"

#include <xen/vcpu.h>

namespace {

using namespace cpu_selftest;
using xpv::guest::hypercall;

constexpr uint64_t kMs = 1'000'000;
// How late a wake-up may be on a loaded development machine (six agents
// on two cores): the strict checks are that nothing fires early.
constexpr uint64_t kLateness = 2000 * kMs;
// Xen's timers may fire up to timer_slop (50 us) early.
constexpr uint64_t kSlop = 50'000;
constexpr uint64_t kUnmapped = 0x1000;

long poll(const evtchn_port_t* ports, unsigned nr_ports, uint64_t timeout) {
  sched_poll_t request{};
  set_xen_guest_handle(request.ports, const_cast<evtchn_port_t*>(ports));
  request.nr_ports = nr_ports;
  request.timeout = timeout;
  return hypercall(__HYPERVISOR_sched_op, SCHEDOP_poll, address_of(&request));
}

long vcpu_op(int cmd, void* arg) {
  return hypercall(__HYPERVISOR_vcpu_op, static_cast<uint64_t>(cmd), 0, address_of(arg));
}

long stop_periodic_timer() {
  return vcpu_op(VCPUOP_stop_periodic_timer, nullptr);
}

// A port for the test (an IPI, or VIRQ_TIMER with the periodic timer
// stopped), events masked so nothing is delivered behind the test's back.
struct ScopedPort {
  long port;
  explicit ScopedPort(bool timer) {
    write_upcall_mask(true);
    if (timer) stop_periodic_timer();
    port = timer ? bind_virq(VIRQ_TIMER) : bind_ipi();
    if (port > 0) clear_port(id());
  }
  ~ScopedPort() {
    hypercall(__HYPERVISOR_set_timer_op, 0);
    stop_periodic_timer();
    if (port > 0) close_port(id());
    vcpu0_info().evtchn_upcall_pending = 0;
    vcpu0_info().evtchn_pending_sel = 0;
  }
  evtchn_port_t id() const { return static_cast<evtchn_port_t>(port); }
};

XPV_TEST(PollRefusesBadArguments) {
  ScopedPort p(false);
  XPV_ASSERT(p.port > 0);
  evtchn_port_t ports[129] = {p.id()};
  XPV_EXPECT_EQ(poll(ports, 129, 0), -XEN_EINVAL);  // more than Xen's 128
  XPV_EXPECT_EQ(poll(reinterpret_cast<evtchn_port_t*>(kUnmapped), 1, 0), -XEN_EFAULT);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_sched_op, SCHEDOP_poll, kUnmapped), -XEN_EFAULT);
  for (evtchn_port_t bad : {evtchn_port_t{EVTCHN_2L_NR_CHANNELS}, evtchn_port_t{0xffffffff}}) {
    evtchn_port_t list[2] = {p.id(), bad};
    XPV_EXPECT_EQ(poll(list, 2, 0), -XEN_EINVAL);
  }
}

XPV_TEST(PollReturnsAtOnceForAPendingPort) {
  ScopedPort p(false);
  XPV_ASSERT(p.port > 0);
  XPV_ASSERT_EQ(send(p.id()), 0);
  evtchn_port_t list[2] = {p.id() + 1, p.id()};
  uint64_t start = system_time_ns();
  XPV_EXPECT_EQ(poll(list, 2, start + 10'000 * kMs), 0);
  XPV_EXPECT(system_time_ns() - start < kLateness);
  XPV_EXPECT(port_pending(p.id()));  // poll does not consume the event
}

XPV_TEST(PollTimesOutAtTheAbsoluteTimeout) {
  ScopedPort p(false);
  XPV_ASSERT(p.port > 0);
  evtchn_port_t list[1] = {p.id()};
  uint64_t start = system_time_ns();
  XPV_EXPECT_EQ(poll(list, 1, start + 20 * kMs), 0);
  uint64_t elapsed = system_time_ns() - start;
  XPV_EXPECT(elapsed + kSlop >= 20 * kMs);
  XPV_EXPECT(elapsed < 20 * kMs + kLateness);
  XPV_EXPECT(!port_pending(p.id()));
  // A timeout already past returns at once.
  start = system_time_ns();
  XPV_EXPECT_EQ(poll(list, 1, 1), 0);
  XPV_EXPECT(system_time_ns() - start < kLateness);
}

// Waits on VIRQ_TIMER for a timer armed `after` ns from now by `arm`,
// with a poll timeout well after it, or none; returns how long it took,
// or 0 if the poll ended without it.
template <typename Arm>
uint64_t time_timer(const ScopedPort& p, uint64_t after, Arm arm, bool poll_timeout = true) {
  evtchn_port_t list[1] = {p.id()};
  uint64_t start = system_time_ns();
  if (arm(start + after) != 0) return 0;
  uint64_t timeout = poll_timeout ? start + after + kLateness : 0;
  if (poll(list, 1, timeout) != 0 || !port_pending(p.id())) return 0;
  return system_time_ns() - start;
}

void expect_on_time(uint64_t elapsed, uint64_t after) {
  XPV_EXPECT(elapsed + kSlop >= after);
  XPV_EXPECT(elapsed < after + kLateness);
}

XPV_TEST(SetTimerOpFiresVirqTimerOnTime) {
  ScopedPort p(true);
  XPV_ASSERT(p.port > 0);
  uint64_t elapsed = time_timer(p, 15 * kMs, [](uint64_t deadline) {
    return hypercall(__HYPERVISOR_set_timer_op, deadline);
  });
  XPV_ASSERT(elapsed != 0);
  expect_on_time(elapsed, 15 * kMs);
}

XPV_TEST(SingleshotTimerFiresVirqTimerOnTime) {
  ScopedPort p(true);
  XPV_ASSERT(p.port > 0);
  uint64_t elapsed = time_timer(p, 25 * kMs, [](uint64_t deadline) {
    vcpu_set_singleshot_timer_t timer{deadline, 0};
    return vcpu_op(VCPUOP_set_singleshot_timer, &timer);
  });
  XPV_ASSERT(elapsed != 0);
  expect_on_time(elapsed, 25 * kMs);
}

// Timeout 0 is no timeout: only the timer's port ends this poll.
XPV_TEST(PollWithoutTimeoutWaitsForAListedPort) {
  ScopedPort p(true);
  XPV_ASSERT(p.port > 0);
  auto set_timer = [](uint64_t deadline) { return hypercall(__HYPERVISOR_set_timer_op, deadline); };
  uint64_t elapsed = time_timer(p, 10 * kMs, set_timer, false);
  XPV_ASSERT(elapsed != 0);
  expect_on_time(elapsed, 10 * kMs);
}

XPV_TEST(SetTimerOpZeroCancelsTheTimer) {
  ScopedPort p(true);
  XPV_ASSERT(p.port > 0);
  evtchn_port_t list[1] = {p.id()};
  uint64_t start = system_time_ns();
  XPV_ASSERT_EQ(hypercall(__HYPERVISOR_set_timer_op, start + 5 * kMs), 0);
  XPV_ASSERT_EQ(hypercall(__HYPERVISOR_set_timer_op, 0), 0);
  XPV_EXPECT_EQ(poll(list, 1, start + 40 * kMs), 0);
  XPV_EXPECT(!port_pending(p.id()));
}

XPV_TEST(PeriodicTimerTicksAtItsPeriod) {
  ScopedPort p(true);
  XPV_ASSERT(p.port > 0);
  vcpu_set_periodic_timer_t periodic{5 * kMs};
  XPV_ASSERT_EQ(vcpu_op(VCPUOP_set_periodic_timer, &periodic), 0);
  evtchn_port_t list[1] = {p.id()};
  uint64_t start = system_time_ns(), end = start + 100 * kMs;
  unsigned ticks = 0;
  for (uint64_t now = start; now < end; now = system_time_ns()) {
    XPV_ASSERT_EQ(poll(list, 1, end), 0);
    if (port_pending(p.id())) {
      ++ticks;
      clear_port(p.id());
    }
  }
  // 20 periods; a loaded host may merge some, never add any.
  XPV_EXPECT(ticks >= 3);
  XPV_EXPECT(ticks <= 21);
}

}  // namespace
