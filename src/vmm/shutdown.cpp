#include "vmm/shutdown.hpp"

namespace xpv::vmm {

int exit_status_for(DomainEnd end) {
  switch (end) {
    case DomainEnd::kPoweroff:
      return exit_status::kPoweroff;
    case DomainEnd::kReboot:
      return exit_status::kReboot;
    case DomainEnd::kSuspend:
      return exit_status::kSuspend;
    case DomainEnd::kCrash:
      return exit_status::kCrash;
    case DomainEnd::kDestroyed:
      return exit_status::kDestroyed;
    case DomainEnd::kXpvFailure:
    case DomainEnd::kRunning:
      break;
  }
  return exit_status::kXpvError;
}

const char* describe(DomainEnd end) {
  switch (end) {
    case DomainEnd::kRunning:
      return "running";
    case DomainEnd::kPoweroff:
      return "powered off";
    case DomainEnd::kReboot:
      return "asked to reboot";
    case DomainEnd::kSuspend:
      return "suspended (saving is not supported: domain ended)";
    case DomainEnd::kCrash:
      return "crashed";
    case DomainEnd::kDestroyed:
      return "destroyed";
    case DomainEnd::kXpvFailure:
      return "stopped by an xpv internal error";
  }
  return "?";
}

}  // namespace xpv::vmm
