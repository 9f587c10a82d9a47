// sched_op: yielding, blocking, polling and shutting the domain down
// (xen/sched.h).
#include <thread>
#include <vector>

#include "hv/handlers.hpp"
#include "hv/hypercall_names.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

vmm::DomainEnd end_for_reason(unsigned reason) {
  switch (reason) {
    case SHUTDOWN_poweroff:
      return vmm::DomainEnd::kPoweroff;
    case SHUTDOWN_reboot:
    case SHUTDOWN_soft_reset:
      return vmm::DomainEnd::kReboot;
    case SHUTDOWN_suspend:
      return vmm::DomainEnd::kSuspend;
    default:  // crash, watchdog, and codes Xen records without knowing them
      return vmm::DomainEnd::kCrash;
  }
}

long shutdown(vmm::Vcpu& vcpu, uint64_t arg) {
  auto request = vcpu.guest_memory().read<sched_shutdown_t>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  // Xen keeps the reason as a byte (domain_shutdown's u8 argument).
  auto reason = static_cast<uint8_t>(request->reason);
  std::string name(shutdown_reason_name(reason));
  if (name.empty() || name == "unknown") name = "unknown reason " + std::to_string(reason);
  vcpu.domain().end(end_for_reason(reason), "guest shutdown: " + name);
  return 0;
}

// Xen's do_poll: the ports are checked as given (a port that is not open
// is -EINVAL), and the vCPU waits only if none is pending already.
long poll(vmm::Vcpu& vcpu, uint64_t arg) {
  constexpr unsigned kMaxPorts = 128;  // Xen's "fairly arbitrary limit"
  auto request = vcpu.guest_memory().read<sched_poll_t>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  if (request->nr_ports > kMaxPorts) return xen::error(XEN_EINVAL);
  std::vector<evtchn_port_t> ports(request->nr_ports);
  if (!vcpu.guest_memory().copy_from(reinterpret_cast<uint64_t>(request->ports.p),
                                     std::span(reinterpret_cast<uint8_t*>(ports.data()),
                                               ports.size() * sizeof(evtchn_port_t))))
    return xen::error(XEN_EFAULT);
  auto& channels = vcpu.domain().event_channels();
  for (evtchn_port_t port : ports)
    if (!channels.is_open(port)) return xen::error(XEN_EINVAL);
  vcpu.poll(ports, request->timeout);
  return 0;
}

}  // namespace

long do_sched_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<int>(args.arg[0]);
  switch (cmd) {
    case SCHEDOP_yield:
      // Linux yields while its console ring is full: drain it here too.
      if (auto* console = vcpu.domain().console_service()) console->poll();
      std::this_thread::yield();
      return 0;
    case SCHEDOP_shutdown:
      return shutdown(vcpu, args.arg[1]);
    case SCHEDOP_block:
      vcpu.block();
      return 0;
    case SCHEDOP_poll:
      return poll(vcpu, args.arg[1]);
    case SCHEDOP_remote_shutdown:
      // Xen reads the request before it checks privilege.
      if (!vcpu.guest_memory().read<sched_remote_shutdown_t>(args.arg[1]))
        return xen::error(XEN_EFAULT);
      return xen::error(XEN_EPERM);  // only a privileged domain may stop another
    default:
      return vcpu.domain().unimplemented().report(args.nr, cmd);
  }
}

}  // namespace xpv::hv
