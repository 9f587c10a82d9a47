// sched_op: yielding, blocking and shutting the domain down (xen/sched.h).
#include <algorithm>
#include <span>
#include <thread>
#include <vector>

#include "hv/event_channels.hpp"
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

// Xen's do_poll (xen/common/sched/core.c): nr_ports above 128 is -EINVAL,
// an unreadable port list -EFAULT, a port beyond the ABI's -EINVAL. It
// returns 0 at once if an event awaits delivery or a listed port is
// pending; otherwise it blocks, events left masked as they are, until one
// of those or the absolute system time `timeout` (0: none).
constexpr uint32_t kMaxPollPorts = 128;

long poll(vmm::Vcpu& vcpu, uint64_t arg) {
  auto request = vcpu.guest_memory().read<sched_poll_t>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  if (request->nr_ports > kMaxPollPorts) return xen::error(XEN_EINVAL);
  std::vector<evtchn_port_t> ports(request->nr_ports);
  auto list = reinterpret_cast<uint64_t>(request->ports.p);
  if (!vcpu.guest_memory().copy_from(
          list, std::span(reinterpret_cast<uint8_t*>(ports.data()), ports.size() * 4)))
    return xen::error(XEN_EFAULT);
  const vcpu_info_t& vi = vcpu.vcpu_info();
  if (vi.evtchn_upcall_pending != 0 && vi.evtchn_upcall_mask == 0) return 0;
  // In list order, as Xen checks them: a pending port before a bad one wins.
  auto& channels = vcpu.domain().event_channels();
  for (evtchn_port_t port : ports) {
    if (port >= EventChannels::kMaxPorts) return xen::error(XEN_EINVAL);
    if (channels.pending(port)) return 0;
  }
  auto any_pending = [&] {
    return std::any_of(ports.begin(), ports.end(), [&](auto p) { return channels.pending(p); });
  };
  vcpu.poll(any_pending, request->timeout);
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
