// How a domain ended, and the exit status `xpv run` reports for it.
#pragma once

#include <string>

namespace xpv::vmm {

enum class DomainEnd {
  kRunning,
  kPoweroff,    // SHUTDOWN_poweroff
  kReboot,      // SHUTDOWN_reboot or SHUTDOWN_soft_reset: the guest wants to start again
  kSuspend,     // SHUTDOWN_suspend: xpv cannot save a domain yet, so it ends
  kCrash,       // SHUTDOWN_crash, SHUTDOWN_watchdog, or crashed by xpv for a fault
  kDestroyed,   // SIGINT/SIGTERM on the host
  kXpvFailure,  // xpv itself failed while running the domain (a bug in xpv, not the guest)
};

// Exit statuses of `xpv run` (README.md "Exit status").
namespace exit_status {
constexpr int kPoweroff = 0;
constexpr int kXpvError = 1;
constexpr int kCrash = 2;
constexpr int kReboot = 3;
constexpr int kSuspend = 4;
constexpr int kDestroyed = 5;
}  // namespace exit_status

int exit_status_for(DomainEnd end);
const char* describe(DomainEnd end);

}  // namespace xpv::vmm
