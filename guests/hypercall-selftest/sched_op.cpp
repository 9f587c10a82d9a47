// sched_op (xen/common/sched/core.c do_sched_op). SCHEDOP_shutdown's
// success path ends the domain, so only its refusals are tested here; the
// shutdown guest covers each reason.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/test.hpp"

namespace {

using namespace selftest;
using xpv::guest::hypercall;

long sched_op(int cmd, uint64_t arg) {
  return hypercall(__HYPERVISOR_sched_op, static_cast<uint64_t>(cmd), arg);
}

XPV_TEST(YieldReturnsZero) {
  XPV_EXPECT_EQ(xpv::guest::sched_yield(), 0);
  XPV_EXPECT_EQ(sched_op(SCHEDOP_yield, kUnmappedUserAddress), 0);  // takes no argument
}

// The reason is read first; a bad pointer leaves the domain running.
XPV_TEST(ShutdownWithBadPointerFailsWithEfault) {
  for (uint64_t address : kBadAddresses) {
    XPV_EXPECT_EQ(sched_op(SCHEDOP_shutdown, address), -XEN_EFAULT);
  }
}

// Only a privileged domain may shut another down (XSM_DM_PRIV). Domain 0
// exists on Xen, so the refusal is -EPERM rather than -ESRCH.
XPV_TEST(RemoteShutdownIsRefusedWithEperm) {
  sched_remote_shutdown_t request{};
  request.domain_id = 0;
  request.reason = SHUTDOWN_poweroff;
  XPV_EXPECT_EQ(sched_op(SCHEDOP_remote_shutdown, reinterpret_cast<uintptr_t>(&request)),
                -XEN_EPERM);
}

// Xen copies the request in before it looks the domain up.
XPV_TEST(RemoteShutdownWithBadPointerFailsWithEfault) {
  if (!known_bug_check_enabled("remote-shutdown-efault")) return;
  XPV_EXPECT_EQ(sched_op(SCHEDOP_remote_shutdown, kUnmappedUserAddress), -XEN_EFAULT);
}

XPV_TEST(UnknownSchedOpFailsWithEnosys) {
  XPV_EXPECT_EQ(sched_op(99, 0), -XEN_ENOSYS);
  XPV_EXPECT_EQ(sched_op(-1, 0), -XEN_ENOSYS);
}

}  // namespace
