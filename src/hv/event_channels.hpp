// A domain's event channels, 2-level ABI (xen/event_channel.h; Xen's
// common/event_channel.c and event_2l.c are the reference): ports bound to
// VIRQs, IPIs, other ports of the domain, or to xpv's own backends, which
// play the part of dom0's peers. Pending and mask bits live in shared_info
// and vcpu_info exactly where the guest reads them; a notification that
// arrives while its port is masked is held and delivered on unmask.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "xen/abi.hpp"

namespace xpv::vmm {
class Domain;
}

namespace xpv::hv {

class EventChannels {
 public:
  enum class State { kClosed, kUnbound, kInterdomain, kVirq, kIpi };
  struct Port {
    State state = State::kClosed;
    unsigned vcpu = 0;          // the vCPU notified
    domid_t remote_domain = 0;  // unbound/interdomain
    evtchn_port_t remote_port = 0;
    uint32_t virq = 0;
    std::function<void()> host_peer;  // an xpv backend at the other end
  };

  explicit EventChannels(vmm::Domain& domain);

  // Hypercall operations: a port number (>= 0) or a negative Xen errno.
  long alloc_unbound(domid_t remote);
  long bind_interdomain(domid_t remote, evtchn_port_t remote_port);
  long bind_virq(uint32_t virq, unsigned vcpu);
  long bind_ipi(unsigned vcpu);
  long close(evtchn_port_t port);
  long send(evtchn_port_t port);
  long unmask(evtchn_port_t port);
  long bind_vcpu(evtchn_port_t port, unsigned vcpu);
  long status(evtchn_port_t port, evtchn_status_t& out);
  void reset();

  // xpv's side. An unbound port a backend serves: the guest's sends call
  // `on_send`, and the backend raises the port with notify().
  long connect_host_peer(evtchn_port_t port, std::function<void()> on_send);
  void notify(evtchn_port_t port);
  // Raises VIRQ `virq` on `vcpu` if the guest bound it (timer, debug, ...).
  void raise_virq(unsigned vcpu, uint32_t virq);

  // Whether `port`'s pending bit is set in shared_info (SCHEDOP_poll).
  bool pending(evtchn_port_t port);

  static constexpr unsigned kMaxPorts = EVTCHN_2L_NR_CHANNELS;

 private:
  long open_port(Port fresh);  // with mutex_ held
  bool valid(evtchn_port_t port) const { return port < ports_.size(); }
  void set_pending(evtchn_port_t port);  // called with mutex_ held

  vmm::Domain& domain_;
  std::mutex mutex_;
  std::vector<Port> ports_;
  // virq_ports_[vcpu][virq]: the port bound to that VIRQ, or 0.
  std::vector<std::array<evtchn_port_t, NR_VIRQS>> virq_ports_;
};

}  // namespace xpv::hv
